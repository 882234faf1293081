//! The stepbox guest SDK: write a Task function as one Rust function.
//!
//! ```ignore
//! use stepbox_guest::{Context, TaskError, Value, json};
//!
//! fn handle(input: Value, ctx: &Context) -> Result<Value, TaskError> {
//!     stepbox_guest::log::info(&format!("hello from {}", ctx.state_name));
//!     Ok(json!({ "echo": input }))
//! }
//!
//! stepbox_guest::export_task!(handle);
//! ```
//!
//! Build it with `cargo build --target wasm32-wasip2 --release`; the `.wasm`
//! file is a component of the `stepbox:task@0.2.0` world (see `wit/task.wit`).
//! For a lean build (no WASI imports, a cheaper fresh instance) build for
//! `wasm32-unknown-unknown` and wrap the module with `wasm-tools component new`;
//! see the README.

pub use serde_json::{self, Value, json};

#[doc(hidden)]
pub mod bindings {
    wit_bindgen::generate!({
        path: "../wit",
        world: "task",
        pub_export_macro: true,
        export_macro_name: "__export_task_world",
        default_bindings_module: "stepbox_guest::bindings",
    });
}

use bindings::stepbox::task::types;

#[cfg(all(target_family = "wasm", target_os = "unknown"))]
mod lean;

/// What the host tells the task about this invocation. `Default` gives an
/// empty context, handy in a handler's native unit tests.
#[derive(Debug, Clone, Default)]
pub struct Context {
    /// Name of the execution running the Task state (empty when invoked directly).
    pub execution_name: String,
    /// ARN of that execution (empty when invoked directly).
    pub execution_arn: String,
    /// Name of the Task state (empty when invoked directly).
    pub state_name: String,
    /// Number of retries before this attempt.
    pub retry_count: u32,
    /// Milliseconds left before the step's deadline.
    pub remaining_time_ms: u64,
    /// The task token, when the state waits for one (`.waitForTaskToken`).
    pub task_token: Option<String>,
    /// An id unique to this invocation.
    pub request_id: String,
}

impl From<types::Context> for Context {
    fn from(c: types::Context) -> Self {
        Context {
            execution_name: c.execution_name,
            execution_arn: c.execution_arn,
            state_name: c.state_name,
            retry_count: c.retry_count,
            remaining_time_ms: c.remaining_time_ms,
            task_token: c.task_token,
            request_id: c.request_id,
        }
    }
}

/// A failure reported on purpose. `error` is the name ASL `Retry`/`Catch`
/// `ErrorEquals` match, like a Lambda `errorType`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaskError {
    pub error: String,
    pub cause: String,
    /// Lines for the Lambda error envelope's `stackTrace` (empty by default).
    pub stack_trace: Vec<String>,
}

impl TaskError {
    pub fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        TaskError { error: error.into(), cause: cause.into(), stack_trace: Vec::new() }
    }

    /// Report these stack-trace lines with the error, as a Lambda runtime
    /// reports the frames of an uncaught exception.
    pub fn with_stack_trace(mut self, lines: impl IntoIterator<Item = impl Into<String>>) -> Self {
        self.stack_trace = lines.into_iter().map(Into::into).collect();
        self
    }
}

impl std::fmt::Display for TaskError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.error, self.cause)
    }
}

impl std::error::Error for TaskError {}

/// Structured log lines, captured per invocation (the invocation's log tail).
pub mod log {
    use crate::bindings::stepbox::task::host::{self, LogLevel};

    pub fn debug(message: &str) {
        host::log(LogLevel::Debug, message)
    }
    pub fn info(message: &str) {
        host::log(LogLevel::Info, message)
    }
    pub fn warn(message: &str) {
        host::log(LogLevel::Warn, message)
    }
    pub fn error(message: &str) {
        host::log(LogLevel::Error, message)
    }
}

/// Tell the host the task is still alive (resets the state's HeartbeatSeconds timer).
pub fn heartbeat() {
    bindings::stepbox::task::host::heartbeat()
}

/// Glue used by [`export_task!`]: parse the input, run the handler, serialise the output.
#[doc(hidden)]
pub fn __run(
    input: String,
    ctx: types::Context,
    handler: impl FnOnce(Value, &Context) -> Result<Value, TaskError>,
) -> Result<String, types::TaskError> {
    #[cfg(all(target_family = "wasm", target_os = "unknown"))]
    lean::install_panic_hook();
    let to_wit = |e: TaskError| types::TaskError { error: e.error, cause: e.cause, stack_trace: e.stack_trace };
    let input: Value = serde_json::from_str(&input)
        .map_err(|e| to_wit(TaskError::new("InvalidInput", format!("input is not JSON: {e}"))))?;
    let output = handler(input, &Context::from(ctx)).map_err(to_wit)?;
    Ok(output.to_string())
}

/// Export `handler: fn(Value, &Context) -> Result<Value, TaskError>` as this
/// component's task entry point.
#[macro_export]
macro_rules! export_task {
    ($handler:path) => {
        struct __StepboxTask;
        impl $crate::bindings::Guest for __StepboxTask {
            fn handle(
                input: ::std::string::String,
                ctx: $crate::bindings::stepbox::task::types::Context,
            ) -> ::std::result::Result<
                ::std::string::String,
                $crate::bindings::stepbox::task::types::TaskError,
            > {
                $crate::__run(input, ctx, $handler)
            }
        }
        $crate::bindings::__export_task_world!(__StepboxTask with_types_in $crate::bindings);
    };
}
