//! What an execution is started with ([`ExecutionOptions`]), how it is
//! stopped ([`StopRequest`]) and how it ends ([`ExecutionOutcome`]).

use chrono::{DateTime, Utc};
use serde_json::{Map, Value, json};
use std::time::Duration;

/// Why an execution is stopped: StopExecution's optional `error` and
/// `cause`, recorded in its ExecutionAborted event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StopRequest {
    /// `executionAbortedEventDetails`: the error and cause given, if any.
    pub fn details(&self) -> Value {
        let mut d = serde_json::Map::new();
        if let Some(e) = &self.error {
            d.insert("error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            d.insert("cause".into(), json!(c));
        }
        Value::Object(d)
    }
}

/// Per-execution options.
#[derive(Debug, Clone, Default)]
pub struct ExecutionOptions {
    pub name: String,
    /// Defaults to `arn:aws:states:REGION:ACCOUNT:execution:SM_NAME:NAME`.
    pub execution_arn: Option<String>,
    pub state_machine_name: String,
    /// Defaults to `arn:aws:states:REGION:ACCOUNT:stateMachine:SM_NAME`.
    pub state_machine_arn: Option<String>,
    pub role_arn: Option<String>,
    pub redrive_count: u32,
    /// Send `Some(StopRequest)` to abort the execution (StopExecution).
    pub abort: Option<tokio::sync::watch::Receiver<Option<StopRequest>>>,
    /// Durable runs only ([`Engine::start_durable`](crate::Engine::start_durable), [`Engine::resume`](crate::Engine::resume)): a
    /// checkpointed top-level Wait longer than this suspends the run
    /// ([`Progress::Suspended`](crate::Progress::Suspended)) instead of parking a task for its duration.
    pub suspend_waits_over: Option<Duration>,
    /// Variables in scope from the start (TestState's `variables`).
    pub variables: Option<Map<String, Value>>,
    /// Mocked responses that replace Task states' calls (a test case).
    pub mocks: Option<crate::mock::Mocks>,
    /// A context object to start from (TestState's `context`): the members
    /// of its `Execution`, `StateMachine`, `State`, `Task` and `Map` objects
    /// replace those of `$$` (in every state: a TestState run has one).
    pub context: Option<Map<String, Value>>,
    /// Counts the states the execution enters (state transitions), nested ones included.
    pub transitions: Option<std::sync::Arc<std::sync::atomic::AtomicU64>>,
}

/// An outcome's status is a closed one: Succeeded, Failed, TimedOut or Aborted.
pub use stepbox_types::ExecutionStatus;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOutcome {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub execution_arn: String,
    pub start_date: DateTime<Utc>,
    pub stop_date: DateTime<Utc>,
}
