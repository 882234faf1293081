//! Distributed Map runs: the engine's [`MapRuns`] service. Each child of a
//! map run is an execution of the run's state machine
//! (`stateMachine:MACHINE/LABEL`): a STANDARD child is recorded and run as
//! any Standard execution (its own history, listed by ListExecutions with
//! `mapRunArn`, resumed after a restart), an EXPRESS child runs on the
//! engine unrecorded. The table keeps every map run of this server's life
//! with its limits (UpdateMapRun) and its item and execution counts
//! (DescribeMapRun), and records each in the store ([`MapRunRecord`]) when
//! it starts, when its limits change and when it ends: after a restart
//! DescribeMapRun and ListMapRuns answer from there, and a continued run
//! keeps its start date and redrive count.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, Weak};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use stepbox_engine::{
    BoxFuture, ChildOutcome, Continues, ExecutionOptions, ExecutionOutcome, MapChild, MapRun, MapRunLimits, MapRunStart,
    MapRunStatus, MapRuns, NullSink,
};
use stepbox_store::{ExecutionRecord, MapRunRecord};
use stepbox_types::{ExecutionArn, ExecutionStatus};
use tokio::sync::watch;

use crate::AppState;
use crate::nested::ServerExecutions;

/// How often a child that may have been stopped while suspended is looked up.
const CHILD_RECHECK: Duration = Duration::from_secs(10);

/// Children or items by status.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(crate) struct Counts {
    pub running: u64,
    pub succeeded: u64,
    pub failed: u64,
    pub timed_out: u64,
    pub aborted: u64,
    pub total: u64,
    pub results_written: u64,
}

impl Counts {
    fn close(&mut self, status: ExecutionStatus, n: u64) {
        self.running -= n;
        match status {
            ExecutionStatus::Succeeded => self.succeeded += n,
            ExecutionStatus::TimedOut => self.timed_out += n,
            ExecutionStatus::Aborted => self.aborted += n,
            _ => self.failed += n,
        }
    }

    /// As DescribeMapRun answers them.
    pub(crate) fn to_json(self) -> Value {
        let closed = self.running + self.succeeded + self.failed + self.timed_out + self.aborted;
        json!({
            "pending": self.total.saturating_sub(closed),
            "running": self.running,
            "succeeded": self.succeeded,
            "failed": self.failed,
            "timedOut": self.timed_out,
            "aborted": self.aborted,
            "total": self.total,
            "resultsWritten": self.results_written,
            "failuresNotRedrivable": 0,
            "pendingRedrive": 0,
        })
    }
}

/// What changes while a map run goes on.
#[derive(Debug, Clone)]
pub(crate) struct Progress {
    pub status: MapRunStatus,
    pub stop_date: Option<DateTime<Utc>>,
    pub executions: Counts,
    pub items: Counts,
}

/// One map run.
pub(crate) struct Entry {
    pub arn: String,
    pub execution_arn: String,
    pub child_state_machine_arn: String,
    pub start_date: DateTime<Utc>,
    pub limits: watch::Sender<MapRunLimits>,
    pub progress: Mutex<Progress>,
    /// Times the run was redriven (with its execution), and when last.
    pub redrive_count: u32,
    pub redrive_date: Option<DateTime<Utc>>,
    start: MapRunStart,
    /// Where its children's state comes from (weakly: the table is the
    /// engine's, and a state holds the engine).
    executions: Weak<ServerExecutions>,
    recorder: Arc<Recorder>,
}

impl Entry {
    /// The state its children run with: the parent's account's.
    fn app(&self) -> Option<AppState> {
        let state = self.executions.upgrade()?.state()?;
        match state.config.tenants.is_some().then(|| stepbox_store::arn_account(&self.execution_arn)).flatten() {
            Some(account) => Some(state.for_account(account)),
            None => Some(state),
        }
    }

    pub(crate) fn progress(&self) -> Progress {
        self.progress.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }
    fn update(&self, f: impl FnOnce(&mut Progress)) {
        f(&mut self.progress.lock().unwrap_or_else(|e| e.into_inner()))
    }

    /// The run as it is now, as the store keeps it.
    pub(crate) fn record(&self) -> MapRunRecord {
        let (p, l) = (self.progress(), *self.limits.borrow());
        MapRunRecord {
            arn: self.arn.clone(),
            execution_arn: self.execution_arn.clone(),
            state_machine_arn: self.child_state_machine_arn.clone(),
            start_date: self.start_date,
            stop_date: p.stop_date,
            status: p.status.as_str().to_string(),
            redrive_count: self.redrive_count,
            redrive_date: self.redrive_date,
            described: json!({
                "maxConcurrency": l.max_concurrency,
                "toleratedFailurePercentage": l.tolerated_failure_percentage.unwrap_or(0.0),
                "toleratedFailureCount": l.tolerated_failure_count.unwrap_or(0.0) as u64,
                "itemCounts": p.items.to_json(),
                "executionCounts": p.executions.to_json(),
            }),
        }
    }

    /// Records the run as it is now in the store.
    pub(crate) fn persist(&self) {
        self.recorder.record(&self.executions, self.record());
    }
}

/// Writes map run records to the store in the order they were made (one
/// task, started on first use).
#[derive(Default)]
pub(crate) struct Recorder {
    queue: Mutex<Option<tokio::sync::mpsc::UnboundedSender<MapRunRecord>>>,
}

impl Recorder {
    fn record(&self, executions: &Weak<ServerExecutions>, record: MapRunRecord) {
        let mut queue = self.queue.lock().unwrap_or_else(|e| e.into_inner());
        if queue.is_none() {
            let Some(state) = executions.upgrade().and_then(|e| e.state()) else { return };
            let Ok(runtime) = tokio::runtime::Handle::try_current() else { return };
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<MapRunRecord>();
            runtime.spawn(async move {
                while let Some(r) = rx.recv().await {
                    if let Err(e) = state.store.put_map_run(&r).await {
                        tracing::warn!(map_run = %r.arn, error = %e, "cannot record a map run");
                    }
                }
            });
            *queue = Some(tx);
        }
        if let Some(tx) = queue.as_ref() {
            let _ = tx.send(record);
        }
    }
}

/// The result of a future that is ready at once (the store's reads answer
/// without waiting), else None.
fn ready<T>(f: impl std::future::Future<Output = T>) -> Option<T> {
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    match std::pin::pin!(f).poll(&mut cx) {
        std::task::Poll::Ready(v) => Some(v),
        std::task::Poll::Pending => None,
    }
}

/// The map runs of this server.
pub(crate) struct MapRunTable {
    executions: Weak<ServerExecutions>,
    recorder: Arc<Recorder>,
    runs: Mutex<HashMap<String, Arc<Entry>>>,
    /// Map run ARNs by parent execution, in start order.
    by_execution: Mutex<BTreeMap<String, Vec<String>>>,
}

impl MapRunTable {
    pub(crate) fn new(executions: Arc<ServerExecutions>) -> Self {
        MapRunTable {
            executions: Arc::downgrade(&executions),
            recorder: Arc::default(),
            runs: Mutex::default(),
            by_execution: Mutex::default(),
        }
    }

    /// The record a run continued after a restart left in the store.
    fn stored(&self, arn: &str) -> Option<MapRunRecord> {
        let state = self.executions.upgrade()?.state()?;
        ready(state.store.get_map_run(arn))?.ok().flatten()
    }

    pub(crate) fn get(&self, arn: &str) -> Option<Arc<Entry>> {
        self.runs.lock().unwrap_or_else(|e| e.into_inner()).get(arn).cloned()
    }

    /// The map runs an execution started, oldest first.
    pub(crate) fn of_execution(&self, execution_arn: &str) -> Vec<Arc<Entry>> {
        let arns = self.by_execution.lock().unwrap_or_else(|e| e.into_inner()).get(execution_arn).cloned().unwrap_or_default();
        arns.iter().filter_map(|a| self.get(a)).collect()
    }
}

impl MapRuns for MapRunTable {
    fn begin(&self, start: MapRunStart) -> Arc<dyn MapRun> {
        // A continued run (resumed or redriven) keeps its ARN, start date and
        // place in ListMapRuns.
        let before = self.get(&start.map_run_arn);
        let redriven = start.continues == Continues::Redriven;
        let stored = match (&before, start.continues) {
            (None, Continues::Resumed | Continues::Redriven) => self.stored(&start.map_run_arn),
            _ => None,
        };
        let (start_date, redrives, redrive_date) = match (&before, &stored) {
            (Some(b), _) => (b.start_date, b.redrive_count, b.redrive_date),
            (None, Some(s)) => (s.start_date, s.redrive_count, s.redrive_date),
            (None, None) => (start.start_date, 0, None),
        };
        let entry = Arc::new(Entry {
            arn: start.map_run_arn.clone(),
            execution_arn: start.execution_arn.clone(),
            child_state_machine_arn: start.child_state_machine_arn.clone(),
            start_date,
            limits: watch::channel(start.limits).0,
            progress: Mutex::new(Progress {
                status: MapRunStatus::Running,
                stop_date: None,
                executions: Counts { total: start.executions as u64, ..Counts::default() },
                items: Counts { total: start.items as u64, ..Counts::default() },
            }),
            redrive_count: redrives + u32::from(redriven),
            redrive_date: if redriven { Some(Utc::now()) } else { redrive_date },
            executions: self.executions.clone(),
            recorder: self.recorder.clone(),
            start,
        });
        entry.persist();
        self.runs.lock().unwrap_or_else(|e| e.into_inner()).insert(entry.arn.clone(), entry.clone());
        let mut by = self.by_execution.lock().unwrap_or_else(|e| e.into_inner());
        let listed = by.entry(entry.execution_arn.clone()).or_default();
        if !listed.contains(&entry.arn) {
            listed.push(entry.arn.clone());
        }
        Arc::new(Handle(entry))
    }
}

/// The engine's side of one map run.
struct Handle(Arc<Entry>);

impl MapRun for Handle {
    fn limits(&self) -> watch::Receiver<MapRunLimits> {
        self.0.limits.subscribe()
    }

    fn run_child(&self, child: MapChild) -> BoxFuture<'static, ChildOutcome> {
        let entry = self.0.clone();
        let items = child.items as u64;
        entry.update(|p| {
            p.executions.running += 1;
            p.items.running += items;
        });
        Box::pin(async move {
            let mut counted = Counted { entry: entry.clone(), items, closed: false };
            let outcome = match entry.app() {
                None => not_ready(),
                Some(app) if entry.start.express => run_express(&app, &entry, child).await,
                Some(app) => run_standard(&app, &entry, child).await,
            };
            counted.close(outcome.status);
            outcome
        })
    }

    fn finished_before(&self, items: usize, status: ExecutionStatus) {
        let items = items as u64;
        self.0.update(|p| {
            p.executions.running += 1;
            p.items.running += items;
            p.executions.close(status, 1);
            p.items.close(status, items);
        });
    }

    fn end(&self, status: MapRunStatus) {
        let writes = self.0.start.writes_results;
        self.0.update(|p| {
            p.status = status;
            p.stop_date = Some(Utc::now());
            if writes && status != MapRunStatus::Aborted {
                for c in [&mut p.executions, &mut p.items] {
                    c.results_written = c.total;
                }
            }
        });
        self.0.persist();
    }
}

/// A child counted as running until it closes (as ABORTED when its future
/// is dropped first).
struct Counted {
    entry: Arc<Entry>,
    items: u64,
    closed: bool,
}

impl Counted {
    fn close(&mut self, status: ExecutionStatus) {
        if !std::mem::replace(&mut self.closed, true) {
            let n = self.items;
            self.entry.update(|p| {
                p.executions.close(status, 1);
                p.items.close(status, n);
            });
        }
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.close(ExecutionStatus::Aborted);
    }
}

fn not_ready() -> ChildOutcome {
    failed_outcome("States.Runtime", "the server is not ready")
}

fn failed_outcome(error: &str, cause: &str) -> ChildOutcome {
    ChildOutcome {
        status: ExecutionStatus::Failed,
        output: None,
        error: Some(error.into()),
        cause: Some(cause.into()),
        stop_date: Utc::now(),
    }
}

fn outcome_of(o: ExecutionOutcome) -> ChildOutcome {
    ChildOutcome { status: o.status, output: o.output, error: o.error, cause: o.cause, stop_date: o.stop_date }
}

/// The children's state machine's name: `MACHINE/LABEL`.
fn machine_name(entry: &Entry) -> String {
    entry.child_state_machine_arn.split_once(":stateMachine:").map(|(_, n)| n.to_string()).unwrap_or_default()
}

fn child_options(entry: &Entry, name: &str, arn: &str) -> ExecutionOptions {
    ExecutionOptions {
        name: name.to_string(),
        execution_arn: Some(arn.to_string()),
        state_machine_name: machine_name(entry),
        state_machine_arn: Some(entry.child_state_machine_arn.clone()),
        ..Default::default()
    }
}

/// An EXPRESS child: run on the engine, unrecorded (dropping it stops it).
async fn run_express(app: &AppState, entry: &Entry, child: MapChild) -> ChildOutcome {
    let arn = ExecutionArn::express(&app.config.identity, &machine_name(entry), &child.name, &stepbox_asl::uuid_v4()).to_string();
    let opts = child_options(entry, &child.name, &arn);
    outcome_of(app.engine.start(entry.start.processor.clone(), child.input, opts, Arc::new(NullSink)).await)
}

/// A STANDARD child: a recorded execution of its own, aborted if the map
/// run stops waiting for it.
async fn run_standard(app: &AppState, entry: &Entry, child: MapChild) -> ChildOutcome {
    let arn = ExecutionArn::new(&app.config.identity, &machine_name(entry), &child.name).to_string();
    let mut record = ExecutionRecord::started(
        arn.clone(),
        child.name.clone(),
        entry.child_state_machine_arn.clone(),
        stepbox_asl::compact(&child.input),
        entry.start.processor_definition.to_string(),
    );
    record.extra.insert("mapRunArn".into(), json!(entry.arn));
    let done = app.running.watch(&arn);
    if entry.start.continues != Continues::New {
        match continued(app, entry, &arn).await {
            Continued::Closed(outcome) => {
                app.running.unwatch(&arn);
                return outcome;
            }
            Continued::Running(record) => return follow(app, record, done).await,
            Continued::Absent => {}
        }
    }
    let opts = child_options(entry, &child.name, &arn);
    let started = crate::durable::start(app, &app.durability, entry.start.processor.clone(), child.input, opts, record.clone());
    match started.await {
        Ok(Ok(())) => {}
        Ok(Err(_)) => {
            app.running.unwatch(&arn);
            return failed_outcome("States.Runtime", &format!("Execution Already Exists: '{arn}'"));
        }
        Err(e) => {
            app.running.unwatch(&arn);
            return failed_outcome("States.Runtime", &format!("the store could not record the child execution: {e}"));
        }
    }
    follow(app, record, done).await
}

/// Waits for a STANDARD child, stopping it if the map run stops waiting.
async fn follow(app: &AppState, record: ExecutionRecord, done: tokio::sync::oneshot::Receiver<ExecutionOutcome>) -> ChildOutcome {
    let arn = record.arn.clone();
    let mut stop = StopGuard { app: Some(app.clone()), record: Some(record) };
    let outcome = wait_for(app, &arn, done).await;
    stop.app = None;
    outcome
}

/// What a continued map run finds of a child it started before.
enum Continued {
    /// Finished and not to run again: its outcome.
    Closed(ChildOutcome),
    /// Running (resumed after a restart, or just redriven): follow it.
    Running(ExecutionRecord),
    /// Never started: start it.
    Absent,
}

/// A continued run's child: after a restart every finished child keeps its
/// outcome; after a redrive a failed, timed-out or aborted one is redriven.
async fn continued(app: &AppState, entry: &Entry, arn: &str) -> Continued {
    let record = match app.store.get_execution(arn).await {
        Ok(Some(r)) => r,
        Ok(None) => return Continued::Absent,
        Err(e) => return Continued::Closed(failed_outcome("States.Runtime", &format!("the store could not be read: {e}"))),
    };
    if record.is_running() {
        return Continued::Running(record);
    }
    let outcome = closed_outcome(&record);
    let rerun = entry.start.continues == Continues::Redriven && outcome.status != ExecutionStatus::Succeeded;
    if !rerun {
        return Continued::Closed(outcome);
    }
    match crate::sfn::redrive(app, &record).await {
        Ok(_) => Continued::Running(record),
        Err(e) => Continued::Closed(failed_outcome("States.Runtime", &format!("the child could not be redriven: {}", e.message))),
    }
}

/// The outcome a closed child's record shows.
fn closed_outcome(r: &ExecutionRecord) -> ChildOutcome {
    ChildOutcome {
        status: r.status.parse().unwrap_or(ExecutionStatus::Failed),
        output: r.output.as_deref().and_then(|o| serde_json::from_str(o).ok()),
        error: r.error.clone(),
        cause: r.cause.clone(),
        stop_date: r.stop_date.unwrap_or_else(Utc::now),
    }
}

/// Waits for a child's end: its run's outcome, or its record closed (it was
/// stopped while suspended, or it ran on after a restart).
async fn wait_for(app: &AppState, arn: &str, mut done: tokio::sync::oneshot::Receiver<ExecutionOutcome>) -> ChildOutcome {
    loop {
        tokio::select! {
            o = &mut done => match o {
                Ok(o) => return outcome_of(o),
                Err(_) => done = app.running.watch(arn),
            },
            _ = tokio::time::sleep(CHILD_RECHECK) => {}
        }
        if let Ok(Some(r)) = app.store.get_execution(arn).await
            && !r.is_running()
        {
            app.running.unwatch(arn);
            return closed_outcome(&r);
        }
    }
}

/// Stops a STANDARD child whose map run no longer waits for it (the run
/// failed or the parent stopped).
struct StopGuard {
    app: Option<AppState>,
    record: Option<ExecutionRecord>,
}

impl Drop for StopGuard {
    fn drop(&mut self) {
        let (Some(app), Some(record)) = (self.app.take(), self.record.take()) else { return };
        app.running.unwatch(&record.arn);
        if let Ok(runtime) = tokio::runtime::Handle::try_current() {
            runtime.spawn(async move {
                if let Err(e) = crate::sfn::stop_here(&app, &record.arn, None, None).await {
                    tracing::warn!(execution = %record.arn, error = %e.message, "cannot stop a map run's child");
                }
            });
        }
    }
}
