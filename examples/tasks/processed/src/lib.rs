//! processed: returns its input object with `"processed": true` added.
//!
//! `{"id": 7}` → `{"id": 7, "processed": true}` (an existing `processed` field is
//! overwritten). This is the task function of the benchmarks. Input that is not
//! a JSON object fails with `InvalidInput`.
use stepbox_guest::{Context, TaskError, Value};

fn handle(input: Value, _ctx: &Context) -> Result<Value, TaskError> {
    match input {
        Value::Object(mut object) => {
            object.insert("processed".into(), Value::Bool(true));
            Ok(Value::Object(object))
        }
        other => Err(TaskError::new(
            "InvalidInput",
            format!("expected a JSON object, got {}", kind(&other)),
        )),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
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
    fn adds_processed() {
        assert_eq!(handle(json!({"id": 7}), &ctx()).unwrap(), json!({"id": 7, "processed": true}));
        assert_eq!(handle(json!([1]), &ctx()).unwrap_err().error, "InvalidInput");
    }
}
