//! A top-level Map's iterations and a top-level Parallel's branches in a
//! durable run: each is recorded as a [`Part`] when it finishes, and the
//! attempt a restart resumes takes the recorded ones instead of running
//! them again (so a finished iteration or branch runs once).

use super::failure::Failure;
use super::fanout::Span;
use super::step::Step;
use crate::durable::Part;
use crate::history::HistorySink;
use serde_json::Value;
use std::sync::Arc;

/// Where an attempt's finished iterations or branches are recorded.
#[derive(Clone)]
pub(super) struct PartLog {
    sink: Arc<dyn HistorySink>,
    entered: u64,
    attempt: u32,
}

impl PartLog {
    /// Attempt `attempt`'s log, when the state is a checkpointed top-level one.
    pub(super) fn of(s: &Step<'_>, attempt: u32) -> Option<PartLog> {
        s.entry.top.then(|| PartLog { sink: s.ex.sink.clone(), entered: s.entry.id, attempt })
    }

    /// Records iteration or branch `index` (after its last event).
    pub(super) fn record(&self, index: usize, outcome: Result<&Value, &Failure>, span: Span) {
        self.sink.part(&Part {
            entered_event_id: self.entered,
            attempt: self.attempt,
            index: index as u32,
            outcome: outcome.map(Value::clone).map_err(Failure::as_output),
            started_at: span.start,
            stopped_at: span.stop,
        });
    }
}

/// What a restart left of the state's entry: its finished iterations or
/// branches, for the first attempt run after the restart only.
pub(super) struct Resumed(Vec<Part>);

/// An attempt's parts a restart found finished, by index (as many as were
/// recorded: a map run of a million children that had not started costs
/// nothing here).
pub(super) type Finished = std::collections::BTreeMap<usize, Part>;

impl Resumed {
    pub(super) fn new(s: &Step<'_>) -> Self {
        Resumed(s.entry.parts.clone())
    }

    /// The parts of `attempt`, by index (those below `n`); none after the
    /// first call.
    pub(super) fn take(&mut self, attempt: u32, n: usize) -> Finished {
        std::mem::take(&mut self.0)
            .into_iter()
            .filter(|p| p.attempt == attempt && (p.index as usize) < n)
            .map(|p| (p.index as usize, p))
            .collect()
    }
}

/// A recorded part's outcome as the state sees it, and when it ran.
pub(super) fn outcome(p: Part) -> (Result<Value, Failure>, Span) {
    let span = Span { start: p.started_at, stop: p.stopped_at };
    (p.outcome.map_err(|v| Failure::from_output(&v)), span)
}
