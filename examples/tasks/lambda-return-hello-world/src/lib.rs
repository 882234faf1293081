//! lambda-return-hello-world: the conformance corpus Lambda `echo_function.py`.
//!
//! ```python
//! def handler(event, ctx):
//!     return {"Return": "HelloWorld"}
//! ```
//!
//! Ignores its input and returns `{"Return": "HelloWorld"}` (despite the Python
//! file's name it does not echo anything; see the `echo` example for that).
use stepbox_guest::{Context, TaskError, Value, json};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(json!({ "Return": "HelloWorld" }))
}

stepbox_guest::export_task!(handle);
