//! Connects the interpreter to the sandbox: a Task state's function name
//! (from a Lambda ARN or `lambda:invoke`'s `FunctionName`) resolves to the
//! component registered under that name, which runs in a fresh instance
//! under the function's limits. Sandbox failures keep the names Lambda uses
//! (`Sandbox.Timedout`…); the engine wraps them as AWS wraps a failing Lambda.

use std::sync::Arc;

mod http;
pub use http::{HTTP_INVOKE, HttpPolicy};

use stepbox_engine::{BoxFuture, Pattern, Target, TaskFailure, TaskInvoker, TaskRequest};
use stepbox_sandbox::{Registry, Request, TaskContext};
use stepbox_types::{Arn, Identity};

/// Runs Task states as registered components.
#[derive(Clone)]
pub struct SandboxInvoker {
    registry: Registry,
    /// The region and account of function ARNs in error messages.
    identity: Arc<Identity>,
    /// Hosts HTTP Tasks may reach.
    http: Arc<HttpPolicy>,
}

impl SandboxInvoker {
    pub fn new(registry: Registry) -> Self {
        SandboxInvoker {
            registry,
            identity: Arc::new(Identity::default()),
            http: Arc::new(HttpPolicy::default()),
        }
    }

    /// Hosts `arn:aws:states:::http:invoke` Tasks may reach besides loopback.
    pub fn with_http_policy(mut self, policy: HttpPolicy) -> Self {
        self.http = Arc::new(policy);
        self
    }

    /// Region and account used in error messages' function ARNs.
    pub fn with_identity(mut self, identity: Identity) -> Self {
        self.identity = Arc::new(identity);
        self
    }

    pub fn registry(&self) -> &Registry {
        &self.registry
    }
}

impl TaskInvoker for SandboxInvoker {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<serde_json::Value, TaskFailure>> {
        if req.resource.target == Target::HttpInvoke && req.resource.pattern == Pattern::RequestResponse {
            let policy = self.http.clone();
            return Box::pin(async move { http::invoke(&req.input, &policy).await });
        }
        let registry = self.registry.clone();
        let identity = self.identity.clone();
        Box::pin(async move {
            // A version or alias runs what the function API registered as `NAME:QUALIFIER`.
            let function = match req.qualifier.as_deref() {
                None | Some("$LATEST") => registry.get(&req.function_name),
                Some(q) => registry.get(&format!("{}:{q}", req.function_name)),
            };
            let Some(function) = function else {
                let function_arn = Arn::new("lambda", &identity, &format!("function:{}", req.function_name));
                let qualifier = req.qualifier.as_deref().unwrap_or("$LATEST");
                return Err(TaskFailure::new(
                    "Lambda.ResourceNotFoundException",
                    format!(
                        "Function not found: {function_arn}:{qualifier} (Service: AWSLambda; Status Code: 404; \
                         Error Code: ResourceNotFoundException; Request ID: {}; Proxy: null)",
                        stepbox_asl::uuid_v4()
                    ),
                ));
            };
            let input = req.input.to_string();
            let context = TaskContext {
                execution_name: req.context.execution_name,
                execution_arn: req.context.execution_arn,
                state_name: req.context.state_name,
                retry_count: req.context.retry_count,
                task_token: req.context.task_token,
                request_id: req.context.request_id,
            };
            let invocation = registry
                .sandbox()
                .invoke(
                    &function.function,
                    Request { input: &input, context, limits: &function.limits, on_heartbeat: req.heartbeat.map(|h| h.0) },
                )
                .await;
            match invocation.result {
                Ok(text) => serde_json::from_str(&text).map_err(|e| {
                    TaskFailure::new("Lambda.Unknown", format!("The function returned output that is not JSON: {e}"))
                }),
                Err(e) => Err(TaskFailure {
                    stack_trace: e.stack_trace().to_vec(),
                    ..TaskFailure::new(e.error_name(), e.cause())
                }),
            }
        })
    }
}
