//! What a durable store needs to continue an execution after a restart.
//!
//! The engine writes a [`Checkpoint`] (through [`HistorySink::checkpoint`]) each
//! time a top-level state is entered, *before* that state's `…StateEntered`
//! event. [`Engine::resume`] restarts the state of the latest checkpoint with
//! its recorded input and variables: a Task in flight runs again
//! (at-least-once, as AWS documents for Lambda), a Map or Parallel restarts as
//! a whole, Retry counters start over, and a Wait keeps its original due time
//! (computed from the checkpoint's entry time). Event ids continue after the
//! last recorded one.
//!
//! [`HistorySink::checkpoint`]: crate::HistorySink::checkpoint
//! [`Engine::resume`]: crate::Engine::resume

use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};

use crate::exec::ExecutionOutcome;

/// The resumable position of an execution: a top-level state about to run.
#[derive(Debug, Clone, PartialEq)]
pub struct Checkpoint {
    pub state: String,
    /// The state's raw input.
    pub input: Value,
    /// Workflow variables visible on entry.
    pub variables: Map<String, Value>,
    /// The id its `…StateEntered` event gets.
    pub entered_event_id: u64,
    pub entered_at: DateTime<Utc>,
}

impl Checkpoint {
    pub fn to_json(&self) -> Value {
        json!({
            "state": self.state,
            "input": self.input,
            "variables": self.variables,
            "enteredEventId": self.entered_event_id,
            "enteredAt": self.entered_at.to_rfc3339_opts(SecondsFormat::Nanos, true),
        })
    }

    pub fn from_json(v: &Value) -> Option<Checkpoint> {
        Some(Checkpoint {
            state: v.get("state")?.as_str()?.to_string(),
            input: v.get("input")?.clone(),
            variables: v.get("variables")?.as_object()?.clone(),
            entered_event_id: v.get("enteredEventId")?.as_u64()?,
            entered_at: DateTime::parse_from_rfc3339(v.get("enteredAt")?.as_str()?)
                .ok()?
                .with_timezone(&Utc),
        })
    }
}

/// Everything [`Engine::resume`](crate::Engine::resume) needs besides the
/// definition and the [`ExecutionOptions`](crate::ExecutionOptions).
#[derive(Debug, Clone)]
pub struct Resume {
    /// The execution's original input (`$$.Execution.Input`).
    pub input: Value,
    pub start_date: DateTime<Utc>,
    /// The latest checkpoint; `None` when the execution died before its first
    /// state was checkpointed (it then starts at `StartAt`).
    pub checkpoint: Option<Checkpoint>,
    /// The largest event id recorded so far (new events continue after it).
    pub last_event_id: u64,
}

/// Where a durable run stopped.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    Finished(ExecutionOutcome),
    /// A long top-level Wait: the caller persists nothing more (the checkpoint
    /// is recorded) and calls [`Engine::resume`](crate::Engine::resume) at `until`.
    Suspended {
        until: DateTime<Utc>,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoint_round_trips_through_json() {
        let cp = Checkpoint {
            state: "Wait here".into(),
            input: json!({"a": [1, 2.5, "x"]}),
            variables: json!({"v": {"n": null}})
                .as_object()
                .cloned()
                .unwrap_or_default(),
            entered_event_id: 7,
            entered_at: DateTime::parse_from_rfc3339("2026-01-02T03:04:05.123456789Z")
                .map(|t| t.with_timezone(&Utc))
                .expect("time"),
        };
        assert_eq!(Checkpoint::from_json(&cp.to_json()), Some(cp));
        assert_eq!(Checkpoint::from_json(&json!({"state": "x"})), None);
    }
}
