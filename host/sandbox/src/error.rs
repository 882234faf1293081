//! Errors callers match on: registration refusals and invocation failures.

use std::time::Duration;

/// Why a component was refused at registration.
#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("not a WebAssembly component: {0}")]
    NotAComponent(String),
    #[error("component does not fit the stepbox:task@0.2.0 world: {0}")]
    WrongWorld(String),
    #[error("compiling the component failed: {0:#}")]
    Compile(anyhow::Error),
    #[error("artifact cache: {0:#}")]
    Cache(anyhow::Error),
}

/// Why an invocation failed. [`InvokeError::error_name`] is the name ASL
/// `Retry`/`Catch` match, [`InvokeError::cause`] the human-readable cause.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvokeError {
    /// The task returned a named error on purpose.
    #[error("{error}: {cause}")]
    Task { error: String, cause: String, stack_trace: Vec<String> },
    #[error("task timed out after {:.3} seconds", .limit.as_secs_f64())]
    Timeout { limit: Duration },
    #[error("task exceeded its memory limit of {limit} bytes")]
    OutOfMemory { limit: u64 },
    #[error("task exhausted its fuel budget of {budget} units")]
    OutOfFuel { budget: u64 },
    #[error("{message}")]
    Trap { message: String },
    #[error("task output of {size} bytes exceeds the maximum of {limit} bytes")]
    OutputTooLarge { size: usize, limit: usize },
    #[error("no function named `{0}` is registered")]
    FunctionNotFound(String),
    /// The sandbox itself could not run the task (pool exhausted, WASI setup…).
    #[error("{0}")]
    Internal(String),
}

impl InvokeError {
    /// The error name, as Lambda and Step Functions name it.
    pub fn error_name(&self) -> &str {
        match self {
            InvokeError::Task { error, .. } => error,
            InvokeError::Timeout { .. } => "Sandbox.Timedout",
            InvokeError::OutOfMemory { .. } => "Sandbox.OutOfMemory",
            InvokeError::OutOfFuel { .. } => "Sandbox.OutOfFuel",
            InvokeError::Trap { .. } => "Sandbox.Trap",
            InvokeError::OutputTooLarge { .. } => "States.DataLimitExceeded",
            InvokeError::FunctionNotFound(_) => "Lambda.ResourceNotFoundException",
            InvokeError::Internal(_) => "Lambda.ServiceException",
        }
    }

    /// The stack trace the task reported with its error (empty otherwise).
    pub fn stack_trace(&self) -> &[String] {
        match self {
            InvokeError::Task { stack_trace, .. } => stack_trace,
            _ => &[],
        }
    }

    /// The cause text: the task's own cause, or a sentence saying what happened.
    pub fn cause(&self) -> String {
        match self {
            InvokeError::Task { cause, .. } => cause.clone(),
            other => other.to_string(),
        }
    }
}
