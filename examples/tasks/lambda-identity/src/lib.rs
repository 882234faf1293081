//! lambda-identity: the conformance corpus Lambda `id_function.py`.
//!
//! ```python
//! def handler(event, context):
//!     return event
//! ```
//!
//! Returns its input unchanged.
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(input)
}

stepbox_guest::export_task!(handle);
