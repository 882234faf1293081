//! What a top-level Map or Parallel of a durable run checkpoints while it
//! runs: its Retry counters (a resume continues them) and, for a distributed
//! Map run by the [`MapRuns`](crate::map_runs::MapRuns) service, its map run
//! (a resume or a redrive continues it instead of starting every child
//! again). Its finished iterations and branches are recorded apart
//! ([`super::parts`]).

use super::step::Step;
use super::variables::Variables;
use crate::durable::{Checkpoint, StateProgress};
use crate::map_runs::Continues;
use crate::clock::Clock;
use crate::history::HistorySink;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::sync::Arc;
use std::time::Duration;

pub(super) struct FanProgress {
    /// The state's checkpoint (top-level states of durable runs only).
    base: Option<Checkpoint>,
    /// Attempts used per retrier.
    pub(super) counts: Vec<u32>,
    /// The map run recorded before a restart or redrive, for the first attempt.
    continued: Option<(String, Continues)>,
    /// The execution's redrive count.
    redrives: u32,
    /// A back-off the run was in when it stopped: the first attempt after
    /// the resume waits until then.
    retry_at: Option<DateTime<Utc>>,
    sink: Arc<dyn HistorySink>,
    clock: Arc<dyn Clock>,
}

impl FanProgress {
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
        let base = (entry.top && (runs || !st.retry.is_empty()))
            .then(|| Checkpoint::entered(&st.name, &input, vars.values().clone(), entry.id, entry.at));
        let retry_at = progress.retry_at;
        FanProgress { base, counts, continued, redrives, retry_at, sink: ex.sink.clone(), clock: ex.clock.clone() }
    }

    /// The attempt's map run: the one recorded before (the first attempt of
    /// a resumed or redriven state) or a new one.
    pub(super) fn next_run(&mut self, new: impl FnOnce() -> String) -> (String, Continues) {
        self.continued.take().unwrap_or_else(|| (new(), Continues::New))
    }

    pub(super) fn redrives(&self) -> u32 {
        self.redrives
    }

    /// The attempt about to run: the retries before it.
    pub(super) fn attempt(&self) -> u32 {
        self.counts.iter().sum()
    }

    /// Checkpoints the counters and the attempt's map run (when the service runs it).
    pub(super) fn save(&self, run: Option<&str>) {
        self.save_with(run, None)
    }

    fn save_with(&self, run: Option<&str>, retry_at: Option<DateTime<Utc>>) {
        if let Some(b) = &self.base {
            let mut cp = b.clone();
            cp.progress = StateProgress {
                retry_counts: self.counts.clone(),
                retries: self.counts.iter().sum(),
                retry_at,
                map_run: run.map(str::to_string),
                map_run_redrives: self.redrives,
                ..StateProgress::default()
            };
            self.sink.checkpoint(&cp);
        }
    }

    /// Checkpoints the counters and the back-off's end, and waits for it.
    pub(super) async fn back_off(&self, d: Duration) {
        let until = chrono::Duration::from_std(d).ok().map(|d| self.clock.now() + d);
        self.save_with(None, until);
        self.clock.sleep(d).await;
    }

    /// Waits out the back-off the run was in when it stopped (first call only).
    pub(super) async fn resumed_back_off(&mut self) {
        if let Some(at) = self.retry_at.take() {
            self.clock.sleep_until(at).await;
        }
    }
}
