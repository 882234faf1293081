//! A distributed Map run's children as executions of their own, started by
//! the [`MapRuns`](crate::map_runs::MapRuns) service: runner tasks share a
//! queue of children, runner `k` taking one only while `k` is below the
//! run's current MaxConcurrency (UpdateMapRun may raise or lower it).

use super::failure::Failure;
use super::running::Exec;
use super::fanout::{FanResults, Span};
use super::parts::{self, PartLog};
use super::values::Values;
use crate::clock::Clock;
use crate::execution::ExecutionStatus;
use crate::map_runs::{Continues, MAX_CHILDREN_AT_ONCE, child_name, MapChild, MapRun, MapRunLimits, MapRunStart, MapRunStatus, MapRuns};
use crate::services::ChildOutcome;
use serde_json::Value;
use std::sync::atomic::{AtomicBool, Ordering};
use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use stepbox_asl::MapSpec;

/// The children of one map run.
pub(super) struct ChildFan {
    pub(super) run: Arc<dyn MapRun>,
    pub(super) clock: Arc<dyn Clock>,
    /// The children to run, in index order.
    queue: Mutex<ToRun>,
    /// Every child's input, by index, as text: a child's own is parsed when
    /// it starts (the result files read them too).
    inputs: Arc<Values>,
    run_arn: String,
    /// The inputs are ItemBatcher batches.
    batched: bool,
    pub(super) total: usize,
    /// Where finished children are recorded (EXPRESS children of a durable
    /// top-level Map: nothing else keeps their outcome across a restart).
    parts: Option<PartLog>,
    /// Runners at once when MaxConcurrency is 0.
    pub(super) default_bound: usize,
    /// What the children came to, each recorded as it ends (a run's
    /// results are held once, not also by the runners until the last ends).
    out: Mutex<FanResults>,
    /// The failures exceed what the run tolerates.
    stop: AtomicBool,
    /// Every child is taken.
    drained: AtomicBool,
    /// Wakes the runners waiting for their turn when either turns true.
    stopped: tokio::sync::Notify,
}

/// Children running at once under `limits`.
pub(super) fn concurrency(limits: &MapRunLimits, default_bound: usize) -> usize {
    match limits.max_concurrency {
        0 => default_bound,
        n => n.min(MAX_CHILDREN_AT_ONCE) as usize,
    }
    .max(1)
}

/// Whether `failed` of `total` children exceed `limits`' tolerance (none
/// tolerated: any failure does).
pub(super) fn exceeds(limits: &MapRunLimits, failed: usize, total: usize) -> bool {
    let (count, pct) = (limits.tolerated_failure_count, limits.tolerated_failure_percentage);
    if failed == 0 {
        return false;
    }
    let over_count = count.is_some_and(|c| failed as f64 > c);
    let over_pct = pct.is_some_and(|p| failed as f64 * 100.0 / total.max(1) as f64 > p);
    match (count, pct) {
        (None, None) => true,
        (Some(_), Some(_)) => over_count && over_pct,
        _ => over_count || over_pct,
    }
}

/// A child's outcome as the Map sees it: its output, or its error and cause.
fn result_of(o: ChildOutcome) -> Result<Value, Failure> {
    match o.status {
        ExecutionStatus::Succeeded => Ok(o.output.unwrap_or(Value::Null)),
        status => Err(Failure {
            error: o.error.or_else(|| (status == ExecutionStatus::TimedOut).then(|| "States.Timeout".into())),
            cause: o.cause,
            nulls: false,
        }),
    }
}

impl ChildFan {
    /// The children of `to_run`, the others having finished before a
    /// restart (in `out`).
    fn new(run: Arc<dyn MapRun>, clock: Arc<dyn Clock>, to_run: ToRun, set: ChildSet, default_bound: usize, parts: Option<PartLog>, out: FanResults) -> Self {
        ChildFan {
            run,
            clock,
            total: set.inputs.len(),
            queue: Mutex::new(to_run),
            inputs: set.inputs,
            run_arn: set.run_arn,
            batched: set.batched,
            default_bound,
            parts,
            out: Mutex::new(out),
            stop: AtomicBool::new(false),
            drained: AtomicBool::new(false),
            stopped: tokio::sync::Notify::new(),
        }
    }

    fn next_child(&self) -> Option<(usize, MapChild)> {
        let index = self.queue.lock().unwrap_or_else(|e| e.into_inner()).next()?;
        let input = self.inputs.get(index).into_owned();
        let items = if self.batched { batch_size(&input) } else { 1 };
        Some((index, MapChild { name: child_name(&self.run_arn, index), input, items }))
    }

    /// Waits until runner `k` may take a child; `false` once the run stops
    /// or every child is taken.
    async fn admitted(&self, k: usize, limits: &mut tokio::sync::watch::Receiver<MapRunLimits>) -> bool {
        loop {
            // Enabled before the flags are read: a wake-up between the two is kept.
            let notified = self.stopped.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if self.stop.load(Ordering::Acquire) || self.drained.load(Ordering::Acquire) {
                return false;
            }
            if k < concurrency(&limits.borrow_and_update(), self.default_bound) {
                return true;
            }
            tokio::select! {
                changed = limits.changed() => if changed.is_err() { return true },
                _ = notified => {}
            }
        }
    }

    /// Ends the waits of the runners above the limit.
    fn halt(&self, flag: &AtomicBool) {
        flag.store(true, Ordering::Release);
        self.stopped.notify_waiters();
    }

    async fn runner(self: Arc<Self>, k: usize) {
        let mut limits = self.run.limits();
        while self.admitted(k, &mut limits).await {
            let Some((index, child)) = self.next_child() else {
                self.halt(&self.drained);
                break;
            };
            let start = self.clock.now();
            let result = result_of(self.run.run_child(child).await);
            let span = Span { start, stop: self.clock.now() };
            if let Some(log) = &self.parts {
                log.record(index, result.as_ref(), span);
            }
            let failed_now = result.is_err();
            let failed = {
                let mut out = self.out.lock().unwrap_or_else(|e| e.into_inner());
                out.take(index, (result, span));
                out.failed
            };
            if failed_now && exceeds(&limits.borrow(), failed, self.total) {
                self.halt(&self.stop);
            }
        }
    }

    /// Runs the children until all have ended or the failures exceed what
    /// the run tolerates (the running ones are then aborted).
    async fn run(self) -> FanResults {
        let n = self.total;
        let failed = self.out.lock().unwrap_or_else(|e| e.into_inner()).failed;
        if exceeds(&self.run.limits().borrow(), failed, n) {
            return self.out.into_inner().unwrap_or_else(|e| e.into_inner());
        }
        let this = Arc::new(self);
        let mut set = tokio::task::JoinSet::new();
        for k in 0..n.min(MAX_CHILDREN_AT_ONCE as usize) {
            set.spawn(this.clone().runner(k));
        }
        while let Some(j) = set.join_next().await {
            match j {
                Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                _ => {}
            }
            if this.stop.load(Ordering::Acquire) {
                set.abort_all();
            }
        }
        let mut out = this.out.lock().unwrap_or_else(|e| e.into_inner());
        std::mem::replace(&mut *out, FanResults::empty())
    }
}

/// Ends the map run as ABORTED unless it was ended otherwise (the parent
/// stopped while its children ran).
pub(super) struct RunGuard {
    pub(super) run: Arc<dyn MapRun>,
    ended: bool,
}

impl RunGuard {
    pub(super) fn new(run: Arc<dyn MapRun>) -> Self {
        RunGuard { run, ended: false }
    }
    pub(super) fn end(mut self, status: MapRunStatus) {
        self.ended = true;
        self.run.end(status);
    }
}

impl Drop for RunGuard {
    fn drop(&mut self) {
        if !self.ended {
            self.run.end(MapRunStatus::Aborted);
        }
    }
}

/// What a map run's children came to, and the run (to end).
pub(super) struct Children {
    pub(super) fan: FanResults,
    pub(super) guard: RunGuard,
}

/// The indexes of a map run's children still to run: all from `next` on but
/// those that finished before a restart (no list of a million indexes).
struct ToRun {
    next: usize,
    total: usize,
    finished: BTreeSet<usize>,
}

impl Iterator for ToRun {
    type Item = usize;
    fn next(&mut self) -> Option<usize> {
        while self.next < self.total {
            let i = self.next;
            self.next += 1;
            if !self.finished.contains(&i) {
                return Some(i);
            }
        }
        None
    }
}

/// The children of a map run: their inputs and how they are named.
struct ChildSet {
    inputs: Arc<Values>,
    run_arn: String,
    batched: bool,
}

/// The items child `i` takes: its batch's size, else 1.
fn items_of(inputs: &Values, i: usize, batched: bool) -> usize {
    if batched { batch_size(&inputs.get(i)) } else { 1 }
}

fn batch_size(batch: &Value) -> usize {
    batch.get("Items").and_then(Value::as_array).map_or(0, Vec::len)
}

/// What a map run's attempt starts from: its ARN, limits, whether it
/// continues one recorded before, and the children a restart found finished.
pub(super) struct RunAttempt<'a> {
    pub(super) run_arn: &'a str,
    pub(super) limits: MapRunLimits,
    pub(super) continues: Continues,
    pub(super) base_prev: u64,
    /// By index: the child's outcome recorded before a restart.
    pub(super) done: parts::Finished,
    /// Where EXPRESS children's outcomes are recorded (a durable top-level Map).
    pub(super) parts: Option<PartLog>,
}

/// The status a recorded child's outcome stands for.
fn recorded_status(r: &Result<Value, Failure>) -> ExecutionStatus {
    match r {
        Ok(_) => ExecutionStatus::Succeeded,
        Err(f) if f.error.as_deref() == Some("States.Timeout") => ExecutionStatus::TimedOut,
        Err(_) => ExecutionStatus::Failed,
    }
}

/// Starts the map run `run_arn` on `runs` and runs its children (one per
/// input, named by [`child_name`]) to their end.
pub(super) async fn run_children(
    ex: &Arc<Exec>,
    spec: &MapSpec,
    runs: &Arc<dyn MapRuns>,
    inputs: Arc<Values>,
    at: RunAttempt<'_>,
) -> Children {
    let (run_arn, limits, continues) = (at.run_arn, at.limits, at.continues);
    let batched = spec.item_batcher.is_some();
    let n = inputs.len();
    let start = MapRunStart {
        map_run_arn: run_arn.to_string(),
        execution_arn: ex.arn.clone(),
        child_state_machine_arn: child_state_machine_arn(run_arn),
        express: spec.execution_type.as_deref() == Some("EXPRESS"),
        processor: spec.processor.clone(),
        processor_definition: spec.processor_definition.clone().unwrap_or_else(|| Arc::from("{}")),
        limits,
        executions: n,
        items: (0..n).map(|i| items_of(&inputs, i, batched)).sum(),
        continues,
        writes_results: spec.result_writer.as_ref().is_some_and(|w| w.get("Resource").is_some()),
        start_date: ex.clock.now(),
    };
    let run = runs.begin(start);
    let guard = RunGuard::new(run.clone());
    let mut out = FanResults::new(n, true, at.base_prev);
    let mut to_run = ToRun { next: 0, total: n, finished: BTreeSet::new() };
    for (i, p) in at.done {
        let (result, span) = parts::outcome(p);
        run.finished_before(items_of(&inputs, i, batched), recorded_status(&result));
        out.take(i, (result, span));
        to_run.finished.insert(i);
    }
    let set = ChildSet { inputs, run_arn: run_arn.to_string(), batched };
    let fan = ChildFan::new(run, ex.clock.clone(), to_run, set, ex.config.max_map_concurrency, at.parts, out);
    Children { fan: fan.run().await, guard }
}

/// A map run's children's state machine: `arn:…:stateMachine:MACHINE/LABEL`
/// of `arn:…:mapRun:MACHINE/LABEL:ID`.
pub(super) fn child_state_machine_arn(run_arn: &str) -> String {
    run_arn
        .replacen(":mapRun:", ":stateMachine:", 1)
        .rsplit_once(':')
        .map(|(a, _)| a.to_string())
        .unwrap_or_default()
}
