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
use stepbox_guest::{Context, TaskError, Value};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Err(TaskError::new("Exception", "Some exception was raised."))
}

stepbox_guest::export_task!(handle);
