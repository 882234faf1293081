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

#[cfg(test)]
mod tests {
    use super::*;
    use stepbox_guest::json;

    fn ctx() -> Context {
        Context { remaining_time_ms: 1000, request_id: "r".into(), ..Context::default() }
    }

    #[test]
    fn raises_the_named_error() {
        let e = handle(json!({"error": "MyError", "cause": "why"}), &ctx()).unwrap_err();
        assert_eq!(e, TaskError::new("MyError", "why"));
        assert_eq!(handle(json!({"error": "E"}), &ctx()).unwrap_err(), TaskError::new("E", ""));
        assert_eq!(handle(json!({"ok": 1}), &ctx()).unwrap(), json!({"ok": 1}));
        assert_eq!(handle(json!({"error": 5}), &ctx()).unwrap(), json!({"error": 5}));
    }
}
