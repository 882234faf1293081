//! The state being run: when and where it was entered ([`Entry`]), and the
//! handle each kind of state runs with ([`Step`]).

use super::running::{Exec, Frame, NULL, ts};
use super::failure::Failure;
use crate::durable::{Part, StateProgress};
use crate::history::EventType;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use stepbox_asl::{RuntimeError, State};

/// When and where the current state was entered.
pub(super) struct Entry {
    pub(super) id: u64,
    pub(super) at: DateTime<Utc>,
    /// A top-level state of a durable run: a Wait counts from `at` (its
    /// original entry, also after a resume) and may suspend the run.
    pub(super) checkpointed: bool,
    /// A checkpointed top-level state: it may checkpoint its progress.
    pub(super) top: bool,
    pub(super) token: Option<String>,
    /// The progress recorded before a restart (a resumed run's first state).
    pub(super) resumed: Option<StateProgress>,
    /// A resumed Map/Parallel whose `…StateStarted` event is recorded: its id.
    pub(super) started: Option<u64>,
    /// A resumed Map's or Parallel's iterations or branches that had finished.
    pub(super) parts: Vec<Part>,
}

/// The context object (`$$`) when the state reads it, else `null`
/// (built in `slot`).
pub(super) fn ctx_for<'a>(ex: &Exec, st: &State, entry: &Entry, retry: u32, slot: &'a mut Value) -> &'a Value {
    if st.uses_context {
        *slot = ex.context(st, &ts(entry.at), retry, None, entry.token.as_deref());
        slot
    } else {
        &NULL
    }
}

/// A state being run: what each kind of state works with.
pub(super) struct Step<'a> {
    pub(super) ex: &'a Arc<Exec>,
    pub(super) st: &'a State,
    pub(super) entry: &'a Entry,
}

/// What a state ends with: its output and the next state (none: the end).
pub(super) type StateResult = Result<(Value, Option<usize>), Failure>;

impl Step<'_> {
    /// A data-flow error of this state (`States.Runtime` & co.).
    pub(super) fn rt(&self, e: RuntimeError) -> Failure {
        self.ex.runtime(self.st, self.entry.id, e)
    }

    /// The context object for attempt `retry`, when the state reads it.
    pub(super) fn ctx<'s>(&self, retry: u32, slot: &'s mut Value) -> &'s Value {
        ctx_for(self.ex, self.st, self.entry, retry, slot)
    }

    /// The `…StateStarted` event of a Map/Parallel attempt; a resumed state's
    /// first attempt reuses the one recorded before the restart.
    pub(super) fn state_started(
        &self,
        frame: &mut Frame,
        recorded: &mut Option<u64>,
        ty: EventType,
        details: impl FnOnce() -> Option<Value>,
    ) -> u64 {
        match recorded.take() {
            Some(id) => {
                frame.prev = id;
                id
            }
            None => self.ex.emit(frame, ty, details),
        }
    }
}
