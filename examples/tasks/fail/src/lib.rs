//! fail: raises the named error its input asks for, otherwise succeeds.
//!
//! Input `{"error": "MyError", "cause": "why"}` → task error `MyError` with cause
//! `why` (`cause` is optional, default empty). Any input without a string
//! `error` field is returned unchanged. Use it to exercise `Retry` and `Catch`.
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    match input.get("error") {
        Some(Value::String(error)) => {
            let cause = match input.get("cause") {
                None | Some(Value::Null) => String::new(),
                Some(Value::String(s)) => s.clone(),
                Some(other) => other.to_string(),
            };
            Err(TaskError::new(error.clone(), cause))
        }
        _ => Ok(input),
    }
}

stepbox_guest::export_task!(handle);
