//! Mocked Task responses: what replaces a Task state's call in a test run
//! (a test case of a mock configuration file, TestState's `mock`). The
//! engine only asks; whoever starts the execution supplies the answers
//! through [`ExecutionOptions::mocks`](crate::ExecutionOptions::mocks).

use serde_json::Value;
use std::sync::Arc;

/// What a mocked Task attempt answers instead of calling its resource.
#[derive(Debug, Clone, PartialEq)]
pub enum MockedResponse {
    /// The task's result (what the integration would have returned).
    Return(Value),
    /// The task fails with this error and cause (Retry and Catch see them).
    Throw { error: String, cause: String },
}

/// Answers for the Task states of one execution.
pub trait TaskMocks: Send + Sync {
    /// The response for attempt `attempt` (0 first, then one per retry) of
    /// Task state `state`: `None` when the state is not mocked (its task
    /// runs), `Some(Err(why))` when it is but has no response for this attempt
    /// (the state then fails with `States.Runtime` and `why` as the cause).
    fn response(&self, state: &str, attempt: u32) -> Option<Result<MockedResponse, String>>;
}

/// The mocks an execution runs with (a handle: cheap to clone).
#[derive(Clone)]
pub struct Mocks(pub Arc<dyn TaskMocks>);

impl std::fmt::Debug for Mocks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Mocks")
    }
}

/// The same response for every attempt of one state (TestState's `mock`).
pub struct OneState {
    pub state: String,
    pub response: MockedResponse,
}

impl TaskMocks for OneState {
    fn response(&self, state: &str, _attempt: u32) -> Option<Result<MockedResponse, String>> {
        (state == self.state).then(|| Ok(self.response.clone()))
    }
}
