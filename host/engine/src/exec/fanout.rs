//! A Map run's iterations: a few runner tasks sharing a queue of items.

use super::running::{Exec, Frame};
use super::failure::Failure;
use super::machine::run_machine;
use super::parts::{self, Finished, PartLog};
use super::values::Values;
use super::variables::Variables;
use crate::history::EventType;
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::Arc;
use stepbox_asl::StateMachine;

/// The iterations of one Map run: at most `limit` runner tasks, each taking
/// the next item (in index order) from a shared queue until it is empty.
/// Spawning a task per item behind a semaphore cost a task allocation, a
/// semaphore wait and a join per item and kept both workers from running
/// items back to back; runners make an item's cost its own iteration.
pub(super) struct MapFanOut {
    pub(super) ex: Arc<Exec>,
    pub(super) processor: Arc<StateMachine>,
    pub(super) name: String,
    pub(super) silent: bool,
    /// The Map state's scope; each iteration reads it through its own inner one.
    pub(super) vars: Variables,
    pub(super) base_prev: u64,
    /// The items to run, with their indexes.
    pub(super) queue: std::sync::Mutex<std::vec::IntoIter<(usize, Value)>>,
    /// Without a tolerated failure threshold the first failure ends the run.
    pub(super) stop_on_failure: bool,
    /// Where finished iterations are recorded (a durable top-level Map).
    pub(super) parts: Option<PartLog>,
}

/// One finished iteration.
struct Iteration {
    index: usize,
    result: Result<Value, Failure>,
    /// Its last event id.
    prev: u64,
    span: Span,
}

/// When an iteration started and stopped.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Span {
    pub(super) start: DateTime<Utc>,
    pub(super) stop: DateTime<Utc>,
}

/// Whether an iteration ended and succeeded, and its start and stop to the
/// millisecond (as the result files show them): 16 bytes, kept for each of
/// a map run's up to millions of children.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct Ran {
    /// `i64::MIN`: it never finished.
    start_ms: i64,
    /// The stop's milliseconds times two, plus one when it succeeded.
    stop_ok: i64,
}

impl Ran {
    pub(super) const NEVER: Ran = Ran { start_ms: i64::MIN, stop_ok: 0 };

    fn new(ok: bool, span: Span) -> Ran {
        Ran { start_ms: span.start.timestamp_millis(), stop_ok: span.stop.timestamp_millis() * 2 + i64::from(ok) }
    }

    /// Whether it succeeded, and when it ran; none if it never finished.
    pub(super) fn get(self) -> Option<(bool, Span)> {
        if self.start_ms == i64::MIN {
            return None;
        }
        let at = |ms| DateTime::from_timestamp_millis(ms).unwrap_or_default();
        Some((self.stop_ok & 1 == 1, Span { start: at(self.start_ms), stop: at(self.stop_ok >> 1) }))
    }
}

/// What a run's iterations came to.
pub(super) struct FanResults {
    /// By index: the output, or the failure's `{"Error", "Cause"}`.
    pub(super) results: Values,
    /// By index: whether it ran and succeeded, and when.
    pub(super) runs: Vec<Ran>,
    pub(super) failed: usize,
    pub(super) first_failure: Option<Failure>,
    pub(super) last_prev: u64,
}

impl MapFanOut {
    fn next_item(&self) -> Option<(usize, Value)> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).next()
    }

    async fn iteration(&self, i: usize, input: Value) -> Iteration {
        let start = self.ex.clock.now();
        let mut f = Frame {
            prev: self.base_prev,
            silent: self.silent,
            vars: self.vars.inner(),
        };
        self.ex.emit(&mut f, EventType::MapIterationStarted, || {
            Some(json!({"name": self.name, "index": i}))
        });
        let (r, mut f) = run_machine(self.ex.clone(), self.processor.clone(), input, f).await;
        let ty = if r.is_ok() {
            EventType::MapIterationSucceeded
        } else {
            EventType::MapIterationFailed
        };
        self.ex
            .emit(&mut f, ty, || Some(json!({"name": self.name, "index": i})));
        let span = Span { start, stop: self.ex.clock.now() };
        if let Some(log) = &self.parts {
            log.record(i, r.as_ref(), span);
        }
        Iteration { index: i, result: r, prev: f.prev, span }
    }

    /// Runs items until the queue is empty (or, when failures are not
    /// tolerated, until one fails: that runner returns at once so the others
    /// can be aborted).
    async fn runner(self: Arc<Self>) -> Vec<Iteration> {
        let mut done = Vec::new();
        while let Some((i, input)) = self.next_item() {
            let it = self.iteration(i, input).await;
            let stop = it.result.is_err() && self.stop_on_failure;
            done.push(it);
            if stop {
                break;
            }
            // An item that never waits would otherwise hold this worker
            // thread for the whole run.
            tokio::task::yield_now().await;
        }
        done
    }

    /// The iterations' results (at most `runners` at once), those of `done`
    /// (finished before a restart) as recorded.
    pub(super) async fn run(self, runners: usize, n: usize, done: Finished) -> FanResults {
        let mut out = FanResults::new(n, false, self.base_prev);
        for (i, p) in done {
            out.take(i, parts::outcome(p));
        }
        if self.stop_on_failure && out.failed > 0 {
            return out;
        }
        let this = Arc::new(self);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..runners {
            set.spawn(this.clone().runner());
        }
        'join: while let Some(j) = set.join_next().await {
            let done = match j {
                Ok(x) => x,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => continue,
            };
            for it in done {
                out.last_prev = out.last_prev.max(it.prev);
                let failed = it.result.is_err();
                out.take(it.index, (it.result, it.span));
                if failed && this.stop_on_failure {
                    set.abort_all();
                    break 'join;
                }
            }
        }
        out
    }
}

impl FanResults {
    /// `n` results yet to come (`compact`: kept as text).
    pub(super) fn new(n: usize, compact: bool, last_prev: u64) -> Self {
        FanResults { results: Values::nulls(n, compact), runs: vec![Ran::NEVER; n], failed: 0, first_failure: None, last_prev }
    }

    pub(super) fn empty() -> Self {
        FanResults::new(0, false, 0)
    }

    /// Iteration `index` ended with `result`.
    pub(super) fn take(&mut self, index: usize, (result, span): (Result<Value, Failure>, Span)) {
        self.runs[index] = Ran::new(result.is_ok(), span);
        match result {
            Ok(v) => self.results.set(index, v),
            Err(f) => {
                self.failed += 1;
                self.results.set(index, f.as_output());
                self.first_failure.get_or_insert(f);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ran_keeps_its_outcome_and_times_to_the_millisecond() {
        let at = |ms: i64, ns: u32| DateTime::from_timestamp_millis(ms).unwrap() + chrono::Duration::nanoseconds(i64::from(ns));
        assert_eq!(Ran::NEVER.get(), None);
        for (start, stop) in [(1_765_000_000_123, 1_765_000_009_456), (-3, 5), (0, 0)] {
            for ok in [true, false] {
                let span = Span { start: at(start, 999_999), stop: at(stop, 1) };
                let (kept_ok, kept) = Ran::new(ok, span).get().unwrap();
                assert_eq!(kept_ok, ok);
                assert_eq!((kept.start.timestamp_millis(), kept.stop.timestamp_millis()), (start, stop));
            }
        }
        assert_eq!(std::mem::size_of::<Ran>(), 16);
    }
}
