//! Shared test helpers: a fake task invoker re-implementing the corpus Lambdas.

#![allow(dead_code)]

use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_engine::{BoxFuture, Clock, TaskFailure, TaskInvoker, TaskRequest};

/// Python's `str()` of a JSON-decoded value.
pub fn py_str(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::Bool(b) => if *b { "True" } else { "False" }.into(),
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => py_repr(v),
    }
}

pub fn py_repr(v: &Value) -> String {
    match v {
        Value::String(s) => format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'")),
        Value::Array(a) => format!("[{}]", a.iter().map(py_repr).collect::<Vec<_>>().join(", ")),
        Value::Object(o) => format!(
            "{{{}}}",
            o.iter()
                .map(|(k, v)| format!("'{k}': {}", py_repr(v)))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        other => py_str(other),
    }
}

/// Runs corpus Lambda handlers by handler file name.
pub struct CorpusLambdas {
    pub clock: Arc<dyn Clock>,
    /// function name -> handler file
    pub handlers: Mutex<std::collections::HashMap<String, String>>,
    pub calls: Mutex<Vec<TaskRequest>>,
}

impl CorpusLambdas {
    pub fn new(clock: Arc<dyn Clock>, lambdas: &Value) -> Arc<Self> {
        let mut h = std::collections::HashMap::new();
        if let Some(o) = lambdas.as_object() {
            for (name, l) in o {
                h.insert(
                    name.clone(),
                    l["handler_file"].as_str().unwrap_or_default().to_string(),
                );
            }
        }
        Arc::new(CorpusLambdas {
            clock,
            handlers: Mutex::new(h),
            calls: Mutex::new(Vec::new()),
        })
    }
}

impl TaskInvoker for CorpusLambdas {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        self.calls.lock().unwrap().push(req.clone());
        let handler = self
            .handlers
            .lock()
            .unwrap()
            .get(&req.function_name)
            .cloned();
        let clock = self.clock.clone();
        Box::pin(async move {
            let Some(h) = handler else {
                return Err(TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    format!(
                        "Function not found: arn:aws:lambda:us-east-1:111111111111:function:{}:$LATEST (Service: AWSLambda; Status Code: 404; Error Code: ResourceNotFoundException; Request ID: 00000000-0000-0000-0000-000000000000; Proxy: null)",
                        req.function_name
                    ),
                ));
            };
            let file = h.rsplit('/').next().unwrap_or_default().to_string();
            match file.as_str() {
                "id_function.py" => Ok(req.input),
                "echo_function.py" => Ok(json!({"Return": "HelloWorld"})),
                "return_bytes_str.py" => Ok(json!("HelloWorld!")),
                "large_output_string.py" => Ok(Value::String("a".repeat(257 * 1024))),
                "return_decorated_input.py" => Ok(Value::String(format!("input-event-{}", py_str(&req.input)))),
                "wait_60_seconds.py" => {
                    clock.sleep(Duration::from_secs(60)).await;
                    Ok(req.input)
                }
                "raise_exception.py" => Err(TaskFailure {
                    error: "Exception".into(),
                    cause: "Some exception was raised.".into(),
                    stack_trace: vec!["  File \"/var/task/handler.py\", line 2, in handler\n    raise Exception(\"Some exception was raised.\")\n".into()],
                }),
                "raise_custom_exception.py" => Err(TaskFailure {
                    error: "CustomException".into(),
                    cause: "".into(),
                    stack_trace: vec!["  File \"/var/task/handler.py\", line 9, in handler\n    raise CustomException()\n".into()],
                }),
                other => Err(TaskFailure::new("Runtime.HandlerNotFound", format!("unknown handler {other}"))),
            }
        })
    }
}
