//! Standard executions, event-sourced into the store (redb with `--data
//! DIR`, or memory with `--in-memory`).
//!
//! * Standard executions record their events and the engine's checkpoints
//!   through the store's [`Journal`] (for redb, its group-committing
//!   writer) in order; the final status is committed after the terminal
//!   event. Express executions are never recorded.
//! * A top-level Wait longer than [`DurableConfig::suspend_waits_over`]
//!   suspends the run: the task ends, a [`Timers`] entry (ARN + due time)
//!   resumes it from the store at the due time.
//! * [`recover`] at start-up of a persistent store: every RUNNING Standard
//!   execution resumes (or is closed from its recorded terminal event), so
//!   none stays stuck RUNNING.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use chrono::{DateTime, Utc};
use serde_json::Value;
use stepbox_asl::StateMachine;
use stepbox_engine::{
    Details, EventType, ExecutionOptions, ExecutionOutcome, HistoryEvent, HistorySink, Progress, Resume,
    StopRequest,
};
use stepbox_store::{Begun, ExecutionRecord, Journal, StoreError, Stores};
use stepbox_types::{ExecutionStatus, StateMachineArn};
use tokio::sync::{Notify, watch};

use crate::AppState;

/// Durability settings of a server.
#[derive(Debug, Clone)]
pub struct DurableConfig {
    /// Top-level Waits longer than this become timers instead of tasks.
    pub suspend_waits_over: Duration,
    /// Closed executions older than this are deleted (AWS keeps 90 days).
    pub retention: Duration,
}

impl Default for DurableConfig {
    fn default() -> Self {
        DurableConfig {
            suspend_waits_over: Duration::from_secs(5),
            retention: Duration::from_secs(90 * 24 * 3600),
        }
    }
}

/// The execution side of a server: the store, its settings and the timers.
pub struct Durability {
    pub store: Arc<dyn Stores>,
    pub config: DurableConfig,
    timers: Timers,
    /// Turns true when the server stops: the timer and retention tasks end
    /// (and with them their handles on the store).
    stopped: watch::Sender<bool>,
    /// The timer and retention tasks run (started once).
    running: AtomicBool,
    /// Task token answers kept for tasks that do not wait yet (a database
    /// several hosts share; see [`crate::answers`]).
    pub(crate) answers: Arc<crate::answers::Answers>,
}

/// A durable server keeps its functions' precompiled artifacts in its store,
/// beside their wasm (keyed by the wasm's hash and the engine's), so a
/// restart compiles nothing, whatever happened to the cache directory.
/// (The sandbox asks for them synchronously, so this holds the redb store
/// itself, whose reads never wait.)
pub struct StoredArtifacts(stepbox_store::Store);

impl StoredArtifacts {
    pub fn new(store: stepbox_store::Store) -> Arc<Self> {
        Arc::new(StoredArtifacts(store))
    }
}

impl stepbox_sandbox::ArtifactStore for StoredArtifacts {
    fn load(&self, key: &str) -> Option<Vec<u8>> {
        self.0.artifact(key).unwrap_or_else(|e| {
            tracing::warn!(key, error = %e, "cannot read a stored artifact; compiling instead");
            None
        })
    }
    fn save(&self, key: &str, artifact: &[u8]) {
        // Not awaited: an artifact lost to a crash is compiled again.
        drop(self.0.put_artifact(key, Arc::from(artifact)));
    }
}

impl Durability {
    pub fn new(store: Arc<dyn Stores>, config: DurableConfig) -> Arc<Self> {
        Arc::new(Durability {
            store,
            config,
            timers: Timers::default(),
            stopped: watch::channel(false).0,
            running: AtomicBool::new(false),
            answers: Arc::default(),
        })
    }

    /// Ends the background tasks (the server's shutdown calls this).
    pub fn stop(&self) {
        self.stopped.send_replace(true);
    }

    pub(crate) async fn until_stopped(&self) {
        let mut rx = self.stopped.subscribe();
        let _ = rx.wait_for(|s| *s).await;
    }

    /// Executions waiting on a timer.
    pub fn waiting(&self) -> usize {
        self.timers.len()
    }

    /// Starts the timer and retention tasks, unless they run already.
    pub(crate) fn run_background(self: &Arc<Self>, state: &AppState) {
        if self.running.swap(true, Ordering::AcqRel) {
            return;
        }
        tokio::spawn(run_timers(state.clone(), self.clone()));
        tokio::spawn(sweep(self.clone()));
        tokio::spawn(sweep_left(self.clone()));
        if let Some(lease) = self.store.lease() {
            tokio::spawn(keep_leases(state.clone(), self.clone(), lease));
            tokio::spawn(crate::routing::serve_requests(state.clone(), self.clone()));
            tokio::spawn(crate::lambda::watch_shared(state.clone(), self.clone()));
        }
    }
}

/// Due times of suspended executions; one task sleeps until the earliest.
#[derive(Default)]
struct Timers {
    due: Mutex<BTreeSet<(DateTime<Utc>, String)>>,
    changed: Notify,
}

impl Timers {
    fn add(&self, at: DateTime<Utc>, arn: String) {
        self.due
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert((at, arn));
        self.changed.notify_one();
    }
    fn len(&self) -> usize {
        self.due.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
    /// Removes and returns the entries due by `now`, or the next due time.
    fn take_due(&self, now: DateTime<Utc>) -> (Vec<String>, Option<DateTime<Utc>>) {
        let mut due = self.due.lock().unwrap_or_else(|e| e.into_inner());
        let mut ready = Vec::new();
        while let Some(first) = due.first() {
            if first.0 > now {
                return (ready, Some(first.0));
            }
            if let Some((_, arn)) = due.pop_first() {
                ready.push(arn);
            }
        }
        (ready, None)
    }
}

/// How a durable run begins.
pub(crate) enum Started {
    /// A new execution, just inserted as this record (its close then needs
    /// no read of the store).
    New(ExecutionRecord),
    /// A new execution its journal records with its first write (see
    /// [`stepbox_store::ExecutionJournal::begin`]).
    Recording(Arc<dyn Journal>),
    /// A recorded execution continuing after a restart or a suspension.
    Resumed(Resume),
}

/// Starts a new Standard execution: runs it at once; the returned commit
/// resolves once its record is durable (StartExecution's answer), or with the
/// stored record when its ARN is taken.
pub(crate) fn start(
    state: &AppState,
    durability: &Arc<Durability>,
    sm: Arc<StateMachine>,
    input: Value,
    options: ExecutionOptions,
    record: ExecutionRecord,
) -> stepbox_store::Commit<Result<(), ExecutionRecord>> {
    match durability.store.begin(record.clone()) {
        Err(e) => Box::pin(async move { Err(e) }),
        Ok(Begun::Exists(stored)) => Box::pin(async move { Ok(Err(stored)) }),
        Ok(Begun::Recording { journal, recorded }) => {
            spawn_run(state.clone(), durability.clone(), sm, input, options, Started::Recording(journal));
            recorded
        }
        Ok(Begun::Behind(inserted)) => {
            let (state, durability) = (state.clone(), durability.clone());
            Box::pin(async move {
                let inserted = inserted.await?;
                if inserted.is_ok() {
                    spawn_run(state, durability, sm, input, options, Started::New(record));
                }
                Ok(inserted)
            })
        }
    }
}

/// Runs (or resumes) a Standard execution durably on its own task.
pub(crate) fn spawn_run(
    state: AppState,
    durability: Arc<Durability>,
    sm: Arc<StateMachine>,
    input: Value,
    mut options: ExecutionOptions,
    started: Started,
) {
    let arn = options.execution_arn.clone().unwrap_or_default();
    let (tx, rx) = watch::channel(None);
    state.running.insert(&arn, tx);
    // Open until it finishes (already counted when started or redriven).
    state.accounts.open_executions.admit(&arn, None);
    let account = crate::tenants::quota::account_of(&arn);
    options.transitions = Some(state.accounts.metrics.transitions(account));
    options.abort = Some(rx);
    options.suspend_waits_over = Some(durability.config.suspend_waits_over);
    tokio::spawn(async move {
        let (progress, sink) = match started {
            Started::New(record) => {
                let sink = durability.store.journal(&arn, Some(record));
                let history: Arc<dyn HistorySink> = sink.clone();
                (state.engine.start_durable(sm, input, options, history).await, sink)
            }
            Started::Recording(sink) => {
                let history: Arc<dyn HistorySink> = sink.clone();
                (state.engine.start_durable(sm, input, options, history).await, sink)
            }
            Started::Resumed(from) => {
                let sink = durability.store.journal(&arn, None);
                let history: Arc<dyn HistorySink> = sink.clone();
                (state.engine.resume(sm, from, options, history).await, sink)
            }
        };
        state.running.remove(&arn);
        // A later run of it loads the answers recorded for its tasks again.
        durability.answers.forget(&arn);
        match progress {
            Progress::Finished(outcome) => {
                closed(&state, &arn, outcome.status.as_str());
                tracing::info!(execution = %arn, status = outcome.status.as_str(), "execution finished");
                state.running.finished(&arn, &outcome);
                // The last events and the status in one write (with the
                // record itself when that is still to be inserted); the
                // writer logs a failure, so the task need not wait. If the
                // store could not write this run's history (a full disk),
                // the execution is resumed from what it did commit once
                // the store writes again, as a restart would.
                let retry = (durability.clone(), tokio::runtime::Handle::current());
                sink.close_or_else(
                    Box::new(move |r| close(r, &outcome)),
                    Box::new(move |_| {
                        let (durability, runtime) = retry;
                        runtime.spawn(resume_once_writable(durability, arn));
                    }),
                );
            }
            Progress::Suspended { until } => {
                tracing::debug!(execution = %arn, %until, "execution suspended");
                drop(sink.close(Box::new(move |r| r.wake_at = Some(until))));
                durability.timers.add(until, arn);
            }
        }
    });
}

fn close(record: &mut ExecutionRecord, outcome: &ExecutionOutcome) {
    record.wake_at = None;
    if !record.is_running() {
        return; // stopped by StopExecution meanwhile
    }
    record.status = outcome.status.as_str().into();
    record.output = outcome.output.as_ref().map(|o| o.to_string());
    record.error = outcome.error.clone();
    record.cause = outcome.cause.clone();
    record.stop_date = Some(outcome.stop_date);
}

/// Continues a RUNNING execution from what the store recorded.
async fn wake(state: &AppState, durability: &Arc<Durability>, arn: &str) -> Result<(), StoreError> {
    let store = &durability.store;
    if !store.holds(arn) {
        // Another host owns it now (its lease was taken over).
        return Ok(());
    }
    let Some(record) = store.get_execution(arn).await? else {
        return Ok(());
    };
    if !record.is_running() || state.running.contains(arn) {
        return Ok(());
    }
    if store.shared() {
        // Answers to its tasks' tokens another host (or this one) recorded
        // before it moved here: handed to the tasks as they wait again.
        for (token, signal) in crate::routing::recorded_answers(state, arn).await? {
            if let Err(e) = durability.answers.deliver_or_keep(&state.callbacks, &token, signal, true) {
                tracing::debug!(execution = %arn, error = %e, "a recorded answer's task is over");
            }
        }
        durability.answers.restarted(arn);
    }
    // Died after recording the terminal event but before the status: close it from the event.
    if let Some(last) = store.last_event(arn).await?
        && let Some((close, status)) = closing(&last)
    {
        store.update_execution(arn, close).await?;
        closed(state, arn, status);
        return Ok(());
    }
    run_from_store(state, durability, record, None).await
}

/// Runs a redriven execution (its record RUNNING again, its
/// ExecutionRedriven event recorded) from its last checkpoint: the
/// checkpointed state is entered anew, its Retry counters start over, and
/// TimeoutSeconds runs from the redrive.
pub(crate) async fn redrive(state: &AppState, durability: &Arc<Durability>, arn: &str, at: DateTime<Utc>) -> Result<(), StoreError> {
    let Some(record) = durability.store.get_execution(arn).await? else {
        return Ok(());
    };
    run_from_store(state, durability, record, Some(at)).await
}

/// Continues `record` from what the store recorded (`redriven`: anew from
/// its last checkpoint, redriven then).
async fn run_from_store(
    state: &AppState,
    durability: &Arc<Durability>,
    record: ExecutionRecord,
    redriven: Option<DateTime<Utc>>,
) -> Result<(), StoreError> {
    let (store, arn) = (&durability.store, record.arn.as_str());
    let sm = match StateMachine::parse(&record.definition) {
        Ok(sm) => Arc::new(sm),
        Err(_) => return fail_unresumable(state, durability, &record, "its recorded definition does not parse").await,
    };
    let input: Value = serde_json::from_str(&record.input).unwrap_or(Value::Null);
    let last_event_id = store.last_event_id(arn).await?;
    let mut checkpoint = store.checkpoint(arn).await?;
    if let Some(at) = redriven
        && let Some(cp) = checkpoint.take()
    {
        // Retry counters start over; a distributed Map's map run goes on
        // (its failed and pending children run again, not all), and so do
        // an inline Map's or a Parallel's succeeded iterations or branches.
        // Stored first, so that a restart in the redriven run keeps them.
        let cp = cp.redriven(last_event_id + 1, at);
        store.save_checkpoint(arn, &cp).await?;
        checkpoint = Some(cp);
    }
    let resume = Resume { input: input.clone(), start_date: redriven.unwrap_or(record.start_date), checkpoint, last_event_id };
    let sm_name = StateMachineArn::parse(&record.state_machine_arn)
        .map(|a| a.name().to_string())
        .unwrap_or_default();
    let role_arn = store.get_state_machine(&record.state_machine_arn).await?.map(|s| s.role_arn);
    let case = crate::sfn::test_case::recorded(&record.extra);
    let mocks = match crate::sfn::test_case::mocks(state, &sm_name, case, &sm) {
        Ok(m) => m,
        Err(e) => return fail_unresumable(state, durability, &record, &format!("its test case is gone: {}", e.message)).await,
    };
    let options = ExecutionOptions {
        mocks,
        name: record.name.clone(),
        execution_arn: Some(record.arn.clone()),
        state_machine_name: sm_name,
        state_machine_arn: Some(record.state_machine_arn.clone()),
        role_arn,
        redrive_count: crate::sfn::redrive_count(&record) as u32,
        ..Default::default()
    };
    spawn_run(
        state.clone(),
        durability.clone(),
        sm,
        input,
        options,
        Started::Resumed(resume),
    );
    Ok(())
}

async fn fail_unresumable(
    state: &AppState,
    durability: &Durability,
    record: &ExecutionRecord,
    why: &str,
) -> Result<(), StoreError> {
    tracing::error!(execution = %record.arn, "cannot resume: {why}");
    closed(state, &record.arn, ExecutionStatus::Failed.as_str());
    let cause = format!("stepbox could not resume the execution after a restart: {why}");
    let failed = Box::new(move |r: &mut ExecutionRecord| {
        r.status = ExecutionStatus::Failed.as_str().into();
        r.error = Some("States.Runtime".into());
        r.cause = Some(cause);
        r.stop_date = Some(Utc::now());
    });
    durability.store.update_execution(&record.arn, failed).await?;
    Ok(())
}

/// Execution `arn` closed with `status`: no longer open, and counted closed
/// (once, however many of its closes are seen).
pub(crate) fn closed(state: &AppState, arn: &str, status: &str) {
    if state.accounts.open_executions.close(arn) {
        state.accounts.metrics.closed(arn, status);
    }
}

/// The record change a terminal event implies, and the status it closes with.
fn closing(last: &HistoryEvent) -> Option<(stepbox_store::Change, &'static str)> {
    let status = match last.event_type {
        EventType::ExecutionSucceeded => ExecutionStatus::Succeeded,
        EventType::ExecutionFailed => ExecutionStatus::Failed,
        EventType::ExecutionTimedOut => ExecutionStatus::TimedOut,
        EventType::ExecutionAborted => ExecutionStatus::Aborted,
        _ => return None,
    }
    .as_str();
    let details = last.details.to_json().unwrap_or(Value::Null);
    let field = |k: &str| details.get(k).and_then(Value::as_str).map(str::to_string);
    let (output, error, cause) = (field("output"), field("error"), field("cause"));
    let stop = last.timestamp;
    let change: stepbox_store::Change = Box::new(move |r: &mut ExecutionRecord| {
        r.status = status.into();
        r.output = output;
        r.error = error;
        r.cause = cause;
        r.stop_date = Some(stop);
        r.wake_at = None;
    });
    Some((change, status))
}

/// StopExecution of an execution that has no task (suspended on a timer):
/// records its ExecutionAborted event.
pub(crate) async fn abort_suspended(durability: &Durability, arn: &str, stop: &StopRequest) -> Result<(), StoreError> {
    let last = durability.store.last_event_id(arn).await?;
    let event = HistoryEvent {
        id: last + 1,
        previous_event_id: last,
        timestamp: Utc::now(),
        event_type: EventType::ExecutionAborted,
        details: Details::Json(stop.details()),
    };
    durability.store.append_event(arn, &event).await
}

/// Start-up of a persistent store: registers its functions again, resumes
/// every RUNNING Standard execution (due ones now, suspended ones on their
/// timer), then runs the timers and the retention sweep.
pub(crate) async fn recover(state: &AppState, durability: &Arc<Durability>) -> Result<usize, StoreError> {
    let store = &durability.store;
    crate::lambda::note_revisions(state).await?;
    let functions = crate::lambda::restore_functions(state, store.as_ref()).await?;
    if functions > 0 {
        tracing::info!(functions, "restored stored functions");
    }
    let versions = crate::lambda::restore_versions(state, store.as_ref()).await?;
    if versions > 0 {
        tracing::info!(versions, "restored published function versions");
    }
    // Artifacts no registered function uses (deleted or updated since, or
    // compiled by another engine build) go; not from a database other hosts
    // share (their engine builds may differ, and they may not have
    // registered every function yet).
    let (keep, unused) = (state.registry.artifact_keys(), store.clone());
    let purge = !store.shared();
    tokio::spawn(async move {
        if !purge {
            return;
        }
        match unused.delete_artifacts_except(keep).await {
            Ok(0) => {}
            Ok(deleted) => tracing::info!(deleted, "deleted stored artifacts no function uses"),
            Err(e) => tracing::warn!(error = %e, "cannot delete unused stored artifacts"),
        }
    });
    for a in store.list_activities().await? {
        state.activities.create(&a.arn, &a.name, a.creation_date);
    }
    // On a database several hosts share, this host resumes the executions
    // whose owner's lease expired (now, and as leases expire later on).
    if store.lease().is_some() {
        let taken = store.take_over().await?;
        let count = taken.len();
        resume_taken(state, durability, taken);
        durability.run_background(state);
        return Ok(count);
    }
    let running = store.running_executions().await?;
    let count = running.len();
    resume_all(state, durability, running).await?;
    durability.run_background(state);
    Ok(count)
}

/// Resumes running executions: due ones now, suspended ones on their timer.
async fn resume_all(state: &AppState, durability: &Arc<Durability>, running: Vec<ExecutionRecord>) -> Result<(), StoreError> {
    let now = Utc::now();
    for record in running {
        state.accounts.open_executions.admit(&record.arn, None);
        match record.wake_at {
            Some(at) if at > now => durability.timers.add(at, record.arn),
            _ => wake(state, durability, &record.arn).await?,
        }
    }
    Ok(())
}

/// On a database several hosts share, a few times per lease period:
/// forgets (and stops) the runs of executions another host took over, and
/// takes over the executions of hosts whose leases expired (a host killed:
/// its executions resume here from their last checkpoint, as after a
/// crash). This host's own liveness is renewed by a thread of the store,
/// so nothing here (a long resumption, a busy runtime) can starve it.
async fn keep_leases(state: AppState, durability: Arc<Durability>, lease: Duration) {
    let every = (lease / 3).max(Duration::from_millis(100));
    let Some(wake) = durability.store.wakeups() else { return };
    loop {
        // A host that gives a lease up notifies: taken over at once.
        tokio::select! {
            _ = wake.lease_given_up(every) => {}
            _ = durability.until_stopped() => return,
        }
        match durability.store.check_leases().await {
            // Its writes are refused already; stopped, it closes its tokens
            // (their answers go to the new owner) and stops working for nothing.
            Ok(lost) => lost.iter().for_each(|arn| {
                state.running.abort(arn, StopRequest::default());
            }),
            Err(e) => tracing::warn!(error = %e, "cannot check this host's leases"),
        }
        match durability.store.take_over().await {
            Ok(taken) if taken.is_empty() => {}
            Ok(taken) => {
                tracing::info!(executions = taken.len(), "took over executions whose host's lease expired");
                resume_taken(&state, &durability, taken);
            }
            Err(e) => tracing::warn!(error = %e, "cannot take over expired leases"),
        }
    }
}

/// Resumes executions taken over, through the timers (which try again
/// while the store cannot be read): due ones now, suspended ones when due.
/// A run of one still going on here is of an earlier lease this host lost
/// meanwhile: it is stopped (it can write nothing), and once it ended, its
/// failed close resumes the execution anew.
fn resume_taken(state: &AppState, durability: &Arc<Durability>, taken: Vec<ExecutionRecord>) {
    let now = Utc::now();
    for record in taken {
        if state.running.contains(&record.arn) {
            durability.answers.restart(&record.arn);
            state.running.abort(&record.arn, StopRequest::default());
        }
        durability.timers.add(record.wake_at.filter(|at| *at > now).unwrap_or(now), record.arn);
    }
}

async fn run_timers(state: AppState, durability: Arc<Durability>) {
    loop {
        let changed = durability.timers.changed.notified();
        let (ready, next) = durability.timers.take_due(Utc::now());
        for arn in ready {
            match wake(&state, &durability, &arn).await {
                Ok(()) => {}
                // The store cannot be read now (a full disk, say): try again.
                Err(e @ StoreError::Database(_)) => {
                    tracing::warn!(execution = %arn, error = %e, "cannot resume an execution yet; trying again shortly");
                    let retry = chrono::Duration::from_std(STORE_RETRY).unwrap_or_default();
                    durability.timers.add(Utc::now() + retry, arn);
                }
                Err(e) => tracing::error!(execution = %arn, error = %e, "cannot resume a suspended execution"),
            }
        }
        let sleep = next.map_or(Duration::from_secs(3600), |t| {
            (t - Utc::now()).to_std().unwrap_or(Duration::ZERO)
        });
        tokio::select! {
            _ = changed => {}
            _ = tokio::time::sleep(sleep) => {}
            _ = durability.until_stopped() => return,
        }
    }
}

/// How often an execution whose writes the store failed (or whose
/// resumption could not read the store) tries again.
const STORE_RETRY: Duration = Duration::from_secs(2);

/// An execution whose last writes the store failed (a full disk) is resumed
/// from what it committed, as after a crash, but only once a write succeeds
/// again: resuming it sooner would run its Task again every time only to
/// lose the result again.
async fn resume_once_writable(durability: Arc<Durability>, arn: String) {
    loop {
        tokio::select! {
            _ = tokio::time::sleep(STORE_RETRY) => {}
            _ = durability.until_stopped() => return,
        }
        if durability.store.check_writable().await.is_ok() {
            break;
        }
    }
    tracing::info!(execution = %arn, "the store writes again: resuming the execution");
    durability.timers.add(Utc::now(), arn);
}

/// Deletes, soon after, what writes left to delete in writes of their own (a
/// big Map's finished parts once its execution closes or moves on; see
/// `Store::sweep_marked`), and at start-up what they left before a stop.
async fn sweep_left(durability: Arc<Durability>) {
    loop {
        if let Err(e) = durability.store.sweep_marked().await {
            tracing::warn!(error = %e, "cannot delete the finished parts of a closed execution");
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = durability.until_stopped() => return,
        }
    }
}

/// Deletes closed executions older than the retention period, hourly.
async fn sweep(durability: Arc<Durability>) {
    loop {
        let cutoff = chrono::Duration::from_std(durability.config.retention)
            .ok()
            .and_then(|age| Utc::now().checked_sub_signed(age))
            .unwrap_or(DateTime::<Utc>::MIN_UTC);
        match durability.store.purge_closed_before(cutoff).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "retention: deleted closed executions"),
            Err(e) => tracing::error!(error = %e, "retention sweep failed"),
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(3600)) => {}
            _ = durability.until_stopped() => return,
        }
    }
}
