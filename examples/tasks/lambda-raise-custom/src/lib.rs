//! lambda-raise-custom: the conformance corpus Lambda `raise_custom_exception.py`.
//!
//! ```python
//! class CustomException(Exception):
//!     message: str
//!
//!     def __init__(self):
//!         self.message = "CustomException message"
//!
//! def handler(event, context):
//!     raise CustomException()
//! ```
//!
//! Always fails with error `CustomException` and an **empty** cause: the
//! exception never passes its message to `Exception.__init__`, so `str(e)`,
//! which Lambda reports as `errorMessage`, is `""` (AWS recorded exactly that).
//! Like `lambda-raise`, it reports the traceback frame of the Python handler it
//! re-implements (line 9 of `/var/task/handler.py`).
use stepbox_guest::{Context, TaskError, Value};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Err(TaskError::new("CustomException", "").with_stack_trace([
        "  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n",
    ]))
}

stepbox_guest::export_task!(handle);
