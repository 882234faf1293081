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
use stepbox_guest::{Context, TaskError, Value};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Err(TaskError::new("CustomException", ""))
}

stepbox_guest::export_task!(handle);
