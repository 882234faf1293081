//! A Map run's iterations: a few runner tasks sharing a queue of items.

use super::running::{Exec, Frame};
use super::failure::Failure;
use super::machine::run_machine;
use super::variables::Variables;
use crate::history::EventType;
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
    pub(super) queue: std::sync::Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>,
    /// Without a tolerated failure threshold the first failure ends the run.
    pub(super) stop_on_failure: bool,
}

/// One runner's iterations: (index, result, last event id).
type Iterations = Vec<(usize, Result<Value, Failure>, u64)>;

impl MapFanOut {
    fn next_item(&self) -> Option<(usize, Value)> {
        self.queue.lock().unwrap_or_else(|e| e.into_inner()).next()
    }

    async fn iteration(&self, i: usize, input: Value) -> (Result<Value, Failure>, u64) {
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
        (r, f.prev)
    }

    /// Runs items until the queue is empty (or, when failures are not
    /// tolerated, until one fails: that runner returns at once so the others
    /// can be aborted).
    async fn runner(self: Arc<Self>) -> Iterations {
        let mut done = Vec::new();
        while let Some((i, input)) = self.next_item() {
            let (r, prev) = self.iteration(i, input).await;
            let stop = r.is_err() && self.stop_on_failure;
            done.push((i, r, prev));
            if stop {
                break;
            }
            // An item that never waits would otherwise hold this worker
            // thread for the whole run.
            tokio::task::yield_now().await;
        }
        done
    }

    /// Results by index, failure count, first failure, last event id.
    pub(super) async fn run(self, runners: usize, n: usize) -> (Vec<Value>, usize, Option<Failure>, u64) {
        let this = Arc::new(self);
        let mut set = tokio::task::JoinSet::new();
        for _ in 0..runners {
            set.spawn(this.clone().runner());
        }
        let mut results: Vec<Value> = vec![Value::Null; n];
        let mut failed = 0usize;
        let mut first_failure: Option<Failure> = None;
        let mut last_prev = this.base_prev;
        'join: while let Some(j) = set.join_next().await {
            let done = match j {
                Ok(x) => x,
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                Err(_) => continue,
            };
            for (i, r, p) in done {
                last_prev = last_prev.max(p);
                match r {
                    Ok(v) => results[i] = v,
                    Err(f) => {
                        failed += 1;
                        results[i] = f.as_output();
                        if first_failure.is_none() {
                            first_failure = Some(f);
                        }
                        if this.stop_on_failure {
                            set.abort_all();
                            break 'join;
                        }
                    }
                }
            }
        }
        (results, failed, first_failure, last_prev)
    }
}
