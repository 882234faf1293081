//! The task interface: how the engine runs Task states.

use crate::clock::BoxFuture;
use serde_json::{Value, json};
use std::sync::Arc;
use stepbox_asl::Resource;
use std::time::Duration;

/// What the invoker gets for one Task attempt.
#[derive(Debug, Clone, PartialEq)]
pub struct TaskRequest {
    /// The function to run (a Lambda function name for Lambda resources,
    /// otherwise the resource string itself).
    pub function_name: String,
    pub qualifier: Option<String>,
    /// The state's Resource, parsed when its definition loaded (`arn`: as written).
    pub resource: Arc<Resource>,
    pub input: Value,
    /// The state is JSONata: `input` is its `Arguments` (else its `Parameters`).
    pub jsonata: bool,
    pub context: TaskContext,
    /// Call on each heartbeat from the task (resets HeartbeatSeconds); set
    /// when the state has HeartbeatSeconds.
    pub heartbeat: Option<Heartbeat>,
}

/// A task's heartbeat line back to the engine.
#[derive(Clone)]
pub struct Heartbeat(pub Arc<dyn Fn() + Send + Sync>);

impl Heartbeat {
    pub fn beat(&self) {
        (self.0)()
    }
}

impl std::fmt::Debug for Heartbeat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Heartbeat")
    }
}

/// Requests compare equal whatever their heartbeat callbacks.
impl PartialEq for Heartbeat {
    fn eq(&self, _: &Self) -> bool {
        true
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct TaskContext {
    pub execution_name: String,
    pub execution_arn: String,
    pub state_name: String,
    pub retry_count: u32,
    /// Time left before the state's TimeoutSeconds fires.
    pub remaining_time: Option<Duration>,
    pub task_token: Option<String>,
    /// This invocation's id: the component sees it, and AWS reports it in a
    /// Lambda failure's Cause and in `lambda:invoke`'s response metadata.
    pub request_id: String,
}

/// A failed task. For functions, `error` is the errorType and `cause` the
/// errorMessage: the engine wraps them in Lambda's JSON error envelope
/// (`{"errorMessage","errorType","requestId","stackTrace"}`) unless `cause`
/// already is a JSON object text or the error is a `States.*`/`Lambda.*`
/// service error, which are passed on verbatim.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {cause}")]
pub struct TaskFailure {
    pub error: String,
    pub cause: String,
    /// Stack trace lines for the envelope (may be empty).
    pub stack_trace: Vec<String>,
}

impl TaskFailure {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskFailure {
            error: error.into(),
            cause: cause.into(),
            stack_trace: Vec::new(),
        }
    }

    /// The Cause text AWS reports for this failure of invocation `request_id`.
    pub fn aws_cause(&self, request_id: &str) -> String {
        if self.error.starts_with("States.") || self.error.starts_with("Lambda.") {
            return self.cause.clone();
        }
        let t = self.cause.trim_start();
        if t.starts_with('{') && serde_json::from_str::<Value>(t).is_ok_and(|v| v.is_object()) {
            return self.cause.clone();
        }
        let v = json!({
            "errorMessage": self.cause,
            "errorType": self.error,
            "requestId": request_id,
            "stackTrace": self.stack_trace,
        });
        serde_json::to_string(&v).unwrap_or_default()
    }
}

/// Runs tasks. Implemented over the wasm sandbox elsewhere; a fake in tests.
pub trait TaskInvoker: Send + Sync {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>>;
}

/// Splits Lambda's FunctionName forms: `name`, `name:qual`,
/// `ACCOUNT:function:name[:qual]`, `arn:aws:lambda:R:A:function:name[:qual]`.
pub fn split_function_name(s: &str) -> (String, Option<String>) {
    let parts: Vec<&str> = s.split(':').collect();
    match parts.as_slice() {
        [name] => (name.to_string(), None),
        [name, q] => (name.to_string(), Some(q.to_string())),
        [_, "function", name] => (name.to_string(), None),
        [_, "function", name, q] => (name.to_string(), Some(q.to_string())),
        ["arn", _, "lambda", _, _, "function", name] => (name.to_string(), None),
        ["arn", _, "lambda", _, _, "function", name, q] => (name.to_string(), Some(q.to_string())),
        _ => (s.to_string(), None),
    }
}

/// The `lambda:invoke` integration result AWS returns around a payload.
pub fn lambda_invoke_result(payload: Value, request_id: &str, date: &str) -> Value {
    let len = serde_json::to_string(&payload)
        .map(|s| s.len())
        .unwrap_or(0)
        .to_string();
    json!({
        "ExecutedVersion": "$LATEST",
        "Payload": payload,
        "SdkHttpMetadata": {
            "AllHttpHeaders": {
                "X-Amz-Executed-Version": ["$LATEST"],
                "x-amzn-Remapped-Content-Length": ["0"],
                "Connection": ["keep-alive"],
                "x-amzn-RequestId": [request_id],
                "Content-Length": [len],
                "Date": [date],
                "X-Amzn-Trace-Id": [format!("Root=1-{}", &request_id[..8.min(request_id.len())])],
                "Content-Type": ["application/json"]
            },
            "HttpHeaders": {
                "Connection": "keep-alive",
                "Content-Length": len,
                "Content-Type": "application/json",
                "Date": date,
                "X-Amz-Executed-Version": "$LATEST",
                "x-amzn-Remapped-Content-Length": "0",
                "x-amzn-RequestId": request_id,
                "X-Amzn-Trace-Id": format!("Root=1-{}", &request_id[..8.min(request_id.len())])
            },
            "HttpStatusCode": 200
        },
        "SdkResponseMetadata": {"RequestId": request_id},
        "StatusCode": 200
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn function_names() {
        assert_eq!(split_function_name("f"), ("f".into(), None));
        assert_eq!(split_function_name("f:1"), ("f".into(), Some("1".into())));
        assert_eq!(split_function_name("111:function:f"), ("f".into(), None));
        assert_eq!(
            split_function_name("arn:aws:lambda:r:1:function:f:q"),
            ("f".into(), Some("q".into()))
        );
    }

    #[test]
    fn failure_envelope() {
        let f = TaskFailure::new("Exception", "boom");
        let v: Value = serde_json::from_str(&f.aws_cause("req-1")).unwrap();
        assert_eq!(v["errorMessage"], "boom");
        assert_eq!(v["errorType"], "Exception");
        assert_eq!(v["requestId"], "req-1");
        assert_eq!(TaskFailure::new("States.Timeout", "").aws_cause("req-1"), "");
        assert_eq!(TaskFailure::new("X", "{\"a\":1}").aws_cause("req-1"), "{\"a\":1}");
    }
}
