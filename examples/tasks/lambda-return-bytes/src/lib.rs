//! lambda-return-bytes: the conformance corpus Lambda `return_bytes_str.py`.
//!
//! ```python
//! def handler(event, context):
//!     return b'"HelloWorld!"'
//! ```
//!
//! The Python runtime passes the returned bytes through as the raw payload,
//! `"HelloWorld!"`, which is JSON text for the string `HelloWorld!`. This
//! component returns that same JSON text, ignoring its input.
use stepbox_guest::{Context, TaskError, Value};

fn handle(_input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    Ok(Value::String("HelloWorld!".into()))
}

stepbox_guest::export_task!(handle);
