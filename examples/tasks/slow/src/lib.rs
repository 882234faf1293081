//! slow: sleeps for `input.ms` milliseconds, then returns `{"slept_ms": ms}`.
//!
//! The sleep is `std::thread::sleep`, i.e. a WASI monotonic-clock wait, so the
//! host's deadline (TimeoutSeconds) and cancellation apply to it. Input without
//! a non-negative integer `ms` fails with `InvalidInput`.
use std::time::Duration;
use stepbox_guest::{Context, TaskError, Value, json};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    let ms = input
        .get("ms")
        .and_then(Value::as_u64)
        .ok_or_else(|| TaskError::new("InvalidInput", "expected {\"ms\": <non-negative integer>}"))?;
    std::thread::sleep(Duration::from_millis(ms));
    Ok(json!({ "slept_ms": ms }))
}

stepbox_guest::export_task!(handle);

#[cfg(test)]
mod tests {
    use super::*;

    fn ctx() -> Context {
        Context { remaining_time_ms: 1000, request_id: "r".into(), ..Context::default() }
    }

    #[test]
    fn sleeps() {
        let start = std::time::Instant::now();
        assert_eq!(handle(json!({"ms": 30}), &ctx()).unwrap(), json!({"slept_ms": 30}));
        assert!(start.elapsed() >= Duration::from_millis(30));
        assert_eq!(handle(json!({}), &ctx()).unwrap_err().error, "InvalidInput");
    }
}
