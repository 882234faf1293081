//! What a top-level Map of a durable run checkpoints while it runs: its
//! Retry counters (a resume continues them) and, for a distributed Map run
//! by the [`MapRuns`](crate::map_runs::MapRuns) service, its map run (a
//! resume or a redrive continues it instead of starting every child again).

use super::step::Step;
use super::variables::Variables;
use crate::durable::{Checkpoint, StateProgress};
use crate::map_runs::Continues;
use crate::history::HistorySink;
use serde_json::Value;
use std::sync::Arc;

pub(super) struct MapProgress {
    /// The state's checkpoint (top-level states of durable runs only).
    base: Option<Checkpoint>,
    /// Attempts used per retrier.
    pub(super) counts: Vec<u32>,
    /// The map run recorded before a restart or redrive, for the first attempt.
    continued: Option<(String, Continues)>,
    /// The execution's redrive count.
    redrives: u32,
    sink: Arc<dyn HistorySink>,
}

impl MapProgress {
    /// `runs`: the Map's children run as map run children (a continued run
    /// is looked for).
    pub(super) fn new(s: &Step<'_>, input: &Value, vars: &Variables, runs: bool) -> Self {
        let (ex, st, entry) = (s.ex, s.st, s.entry);
        let progress = entry.resumed.clone().unwrap_or_default();
        let counts = if progress.retry_counts.len() == st.retry.len() {
            progress.retry_counts.clone()
        } else {
            vec![0u32; st.retry.len()]
        };
        let redrives = ex.ctx_execution.get("RedriveCount").and_then(Value::as_u64).unwrap_or(0) as u32;
        let continued = progress.map_run.clone().filter(|_| runs).map(|arn| {
            let how = if redrives > progress.map_run_redrives { Continues::Redriven } else { Continues::Resumed };
            (arn, how)
        });
        let base = (entry.top && (runs || !st.retry.is_empty())).then(|| Checkpoint {
            state: st.name.clone(),
            input: input.clone(),
            variables: vars.values().clone(),
            entered_event_id: entry.id,
            entered_at: entry.at,
            progress: StateProgress::default(),
        });
        MapProgress { base, counts, continued, redrives, sink: ex.sink.clone() }
    }

    /// The attempt's map run: the one recorded before (the first attempt of
    /// a resumed or redriven state) or a new one.
    pub(super) fn next_run(&mut self, new: impl FnOnce() -> String) -> (String, Continues) {
        self.continued.take().unwrap_or_else(|| (new(), Continues::New))
    }

    pub(super) fn redrives(&self) -> u32 {
        self.redrives
    }

    /// Checkpoints the counters and the attempt's map run (when the service runs it).
    pub(super) fn save(&self, run: Option<&str>) {
        if let Some(b) = &self.base {
            let mut cp = b.clone();
            cp.progress = StateProgress {
                retry_counts: self.counts.clone(),
                retries: self.counts.iter().sum(),
                map_run: run.map(str::to_string),
                map_run_redrives: self.redrives,
                ..StateProgress::default()
            };
            self.sink.checkpoint(&cp);
        }
    }
}
