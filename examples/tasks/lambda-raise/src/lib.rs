//! lambda-raise: the conformance corpus Lambda `raise_exception.py`.
//!
//! ```python
//! def handler(event, context):
//!     raise Exception("Some exception was raised.")
//! ```
//!
//! Always fails with error `Exception` (the Python exception type name) and
//! cause `Some exception was raised.` (its message). The host wraps these the
//! way Lambda does: `{"errorMessage": …, "errorType": …, "requestId": …, "stackTrace": […]}`.
//! The stack trace is the frame Python's runtime reports for the handler
//! above (deployed as `/var/task/handler.py`): this component re-implements
//! that function, so it reports that function's traceback.
use stepbox_guest::{Context, TaskError, Value};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Err(TaskError::new("Exception", "Some exception was raised.").with_stack_trace([
        "  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n",
    ]))
}

stepbox_guest::export_task!(handle);
