//! The interpreter.

use crate::clock::{BoxFuture, Clock};
use crate::durable::{Checkpoint, Progress, Resume, StateProgress};
use crate::services::Services;

mod integration;
use crate::history::{Details, EventType, HistoryEvent, HistorySink};
use crate::task::{
    Target, TaskContext, TaskInvoker, TaskRequest, lambda_invoke_result,
    split_function_name,
};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::{
    Jitter, MapMode, MapSpec, NumSpec, RuntimeError, Scope, State, StateKind, StateMachine,
    StrSpec, WaitSpec, compact, error_matches, errors, io, path::Cow as PathCow,
};
use stepbox_types::{ExecutionArn, Identity, StateMachineArn};

mod jsonata;
mod variables;
use variables::{Budget, Variables};

/// Engine-wide settings.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// The region and account of the ARNs the engine makes.
    pub identity: Identity,
    /// Upper bound on concurrently running Map iterations when MaxConcurrency is 0.
    pub max_map_concurrency: usize,
    /// Maximum size in bytes of a state result (AWS: 256 KiB).
    pub payload_limit: usize,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            identity: Identity::default(),
            max_map_concurrency: 1000,
            payload_limit: 256 * 1024,
        }
    }
}

/// Why an execution is stopped: StopExecution's optional `error` and
/// `cause`, recorded in its ExecutionAborted event.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct StopRequest {
    pub error: Option<String>,
    pub cause: Option<String>,
}

impl StopRequest {
    /// `executionAbortedEventDetails`: the error and cause given, if any.
    pub fn details(&self) -> Value {
        let mut d = serde_json::Map::new();
        if let Some(e) = &self.error {
            d.insert("error".into(), json!(e));
        }
        if let Some(c) = &self.cause {
            d.insert("cause".into(), json!(c));
        }
        Value::Object(d)
    }
}

/// Per-execution options.
#[derive(Debug, Clone, Default)]
pub struct ExecutionOptions {
    pub name: String,
    /// Defaults to `arn:aws:states:REGION:ACCOUNT:execution:SM_NAME:NAME`.
    pub execution_arn: Option<String>,
    pub state_machine_name: String,
    /// Defaults to `arn:aws:states:REGION:ACCOUNT:stateMachine:SM_NAME`.
    pub state_machine_arn: Option<String>,
    pub role_arn: Option<String>,
    pub redrive_count: u32,
    /// Send `Some(StopRequest)` to abort the execution (StopExecution).
    pub abort: Option<tokio::sync::watch::Receiver<Option<StopRequest>>>,
    /// Durable runs only ([`Engine::start_durable`], [`Engine::resume`]): a
    /// checkpointed top-level Wait longer than this suspends the run
    /// ([`Progress::Suspended`]) instead of parking a task for its duration.
    pub suspend_waits_over: Option<Duration>,
    /// Variables in scope from the start (TestState's `variables`).
    pub variables: Option<Map<String, Value>>,
}

/// An outcome's status is a closed one: Succeeded, Failed, TimedOut or Aborted.
pub use stepbox_types::ExecutionStatus;

/// How an execution ended.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionOutcome {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub execution_arn: String,
    pub start_date: DateTime<Utc>,
    pub stop_date: DateTime<Utc>,
}

/// The interpreter: runs executions against a task invoker and a clock.
#[derive(Clone)]
pub struct Engine {
    tasks: Arc<dyn TaskInvoker>,
    clock: Arc<dyn Clock>,
    config: Arc<EngineConfig>,
    services: Services,
}

#[derive(Debug, Clone, PartialEq, Default)]
pub(crate) struct Failure {
    error: Option<String>,
    cause: Option<String>,
    /// A Catch result shows absent fields as `null` (a SendTaskFailure
    /// without error or cause) instead of leaving them out.
    nulls: bool,
}

impl Failure {
    fn new(error: impl Into<String>, cause: impl Into<String>) -> Self {
        Failure {
            error: Some(error.into()),
            cause: Some(cause.into()),
            nulls: false,
        }
    }
    fn error_name(&self) -> &str {
        self.error.as_deref().unwrap_or("")
    }
    /// `{"Error", "Cause"}` as a Catch result carries it.
    fn as_output(&self) -> Value {
        let mut v = self.to_object("Error", "Cause");
        if self.nulls {
            for k in ["Error", "Cause"] {
                v.as_object_mut().map(|m| m.entry(k).or_insert(Value::Null));
            }
        }
        v
    }
    /// `{"error", "cause"}` as history details carry it.
    fn as_output_lower(&self) -> Value {
        self.to_object("error", "cause")
    }
    fn to_object(&self, error_key: &str, cause_key: &str) -> Value {
        let mut m = Map::new();
        if let Some(e) = &self.error {
            m.insert(error_key.into(), Value::String(e.clone()));
        }
        if let Some(c) = &self.cause {
            m.insert(cause_key.into(), Value::String(c.clone()));
        }
        Value::Object(m)
    }
}

struct Exec {
    tasks: Arc<dyn TaskInvoker>,
    clock: Arc<dyn Clock>,
    config: Arc<EngineConfig>,
    services: Services,
    sink: Arc<dyn HistorySink>,
    /// Whether the sink wants events at all / with details.
    events: bool,
    details: bool,
    next_id: AtomicU64,
    name: String,
    arn: String,
    /// `$$.Execution` and `$$.StateMachine`.
    ctx_execution: Value,
    ctx_state_machine: Value,
    /// The top-level machine: only its states are checkpointed.
    root: Arc<StateMachine>,
    checkpoints: bool,
    /// Where a resumed run starts (taken by the first top-level state).
    resume_from: Mutex<Option<Checkpoint>>,
    suspend_over: Option<Duration>,
    /// When the execution times out (`TimeoutSeconds`): a suspended run wakes by then.
    deadline: Option<DateTime<Utc>>,
    /// Set by a Wait that suspends the run; `suspend_signal` wakes the driver.
    suspended_until: Mutex<Option<DateTime<Utc>>>,
    suspend_signal: tokio::sync::Notify,
    /// Bytes of variables the execution's scopes hold (AWS caps it at 10 MiB).
    var_budget: Budget,
}

#[derive(Clone)]
struct Frame {
    prev: u64,
    /// Workflow variables visible here.
    vars: Variables,
    /// Child executions of a distributed Map don't record into this history.
    silent: bool,
}

static NULL: Value = Value::Null;

fn ts(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

fn events_for(kind: &StateKind) -> (EventType, Option<EventType>) {
    match kind {
        StateKind::Pass { .. } => (
            EventType::PassStateEntered,
            Some(EventType::PassStateExited),
        ),
        StateKind::Task { .. } => (
            EventType::TaskStateEntered,
            Some(EventType::TaskStateExited),
        ),
        StateKind::Choice { .. } => (
            EventType::ChoiceStateEntered,
            Some(EventType::ChoiceStateExited),
        ),
        StateKind::Wait(_) => (
            EventType::WaitStateEntered,
            Some(EventType::WaitStateExited),
        ),
        StateKind::Succeed => (
            EventType::SucceedStateEntered,
            Some(EventType::SucceedStateExited),
        ),
        StateKind::Fail { .. } => (EventType::FailStateEntered, None),
        StateKind::Parallel { .. } => (
            EventType::ParallelStateEntered,
            Some(EventType::ParallelStateExited),
        ),
        StateKind::Map(_) => (EventType::MapStateEntered, Some(EventType::MapStateExited)),
    }
}

/// Counts the bytes written to it.
struct ByteCount(usize);

impl std::fmt::Write for ByteCount {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        self.0 += s.len();
        Ok(())
    }
}

/// Serialised size of a JSON value without allocating the text.
fn json_size(v: &Value, limit: usize) -> usize {
    fn go(v: &Value, acc: &mut usize, limit: usize) {
        if *acc > limit {
            return;
        }
        match v {
            Value::Null => *acc += 4,
            Value::Bool(b) => *acc += if *b { 4 } else { 5 },
            Value::Number(n) => {
                // Counted through a writer: no string per number.
                let mut w = ByteCount(0);
                let _ = std::fmt::Write::write_fmt(&mut w, format_args!("{n}"));
                *acc += w.0
            }
            Value::String(s) => {
                *acc += s.len()
                    + 2
                    + s.bytes()
                        .filter(|b| *b == b'"' || *b == b'\\' || *b < 0x20)
                        .count()
            }
            Value::Array(a) => {
                *acc += 2 + a.len().saturating_sub(1);
                for x in a {
                    go(x, acc, limit)
                }
            }
            Value::Object(o) => {
                *acc += 2 + o.len().saturating_sub(1);
                for (k, x) in o {
                    *acc += k.len() + 3;
                    go(x, acc, limit)
                }
            }
        }
    }
    let mut acc = 0;
    go(v, &mut acc, limit);
    acc
}

impl Exec {
    fn emit(
        &self,
        frame: &mut Frame,
        ty: EventType,
        details: impl FnOnce() -> Option<Value>,
    ) -> u64 {
        self.emit_with(frame, ty, || match details() {
            Some(v) => Details::Json(v),
            None => Details::None,
        })
    }

    /// A state's `…StateExited` (when its type has one), with the variables
    /// it assigned; their record is cleared either way.
    fn emit_exited(&self, frame: &mut Frame, exited_ty: Option<EventType>, st: &State, out: &Value) {
        let assigned = frame.vars.take_assigned();
        if let Some(t) = exited_ty {
            self.emit_with(frame, t, || Details::StateExited {
                name: st.name.clone(),
                output: compact(out),
                assigned,
            });
        }
    }

    fn emit_with(
        &self,
        frame: &mut Frame,
        ty: EventType,
        details: impl FnOnce() -> Details,
    ) -> u64 {
        if frame.silent {
            return frame.prev;
        }
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        if !self.events {
            frame.prev = id;
            return id;
        }
        let d = if self.details {
            details()
        } else {
            Details::None
        };
        self.sink.record(HistoryEvent {
            id,
            previous_event_id: frame.prev,
            timestamp: self.clock.now(),
            event_type: ty,
            details: d,
        });
        frame.prev = id;
        id
    }

    fn context(
        &self,
        st: &State,
        entered: &str,
        retry: u32,
        map_item: Option<(usize, &Value)>,
        token: Option<&str>,
    ) -> Value {
        let mut m = Map::with_capacity(5);
        m.insert("Execution".into(), self.ctx_execution.clone());
        if matches!(
            st.kind,
            StateKind::Task { .. } | StateKind::Parallel { .. } | StateKind::Map(_)
        ) {
            m.insert(
                "State".into(),
                json!({"EnteredTime": entered, "Name": st.name, "RetryCount": retry}),
            );
        } else {
            m.insert(
                "State".into(),
                json!({"EnteredTime": entered, "Name": st.name}),
            );
        }
        m.insert("StateMachine".into(), self.ctx_state_machine.clone());
        if let Some(t) = token {
            m.insert("Task".into(), json!({"Token": t}));
        }
        if let Some((i, v)) = map_item {
            m.insert("Map".into(), json!({"Item": {"Index": i, "Value": v}}));
        }
        Value::Object(m)
    }

    fn runtime(&self, st: &State, entered_id: u64, e: RuntimeError) -> Failure {
        if e.error == errors::NO_CHOICE_MATCHED || e.error == errors::DATA_LIMIT_EXCEEDED {
            return Failure::new(e.error, e.cause);
        }
        Failure::new(
            e.error,
            format!(
                "An error occurred while executing the state '{}' (entered at the event id #{}). {}",
                st.name, entered_id, e.cause
            ),
        )
    }

    /// Hands the run back to the driver as [`Progress::Suspended`]; never returns
    /// (the driver drops this future).
    async fn suspend(&self, until: DateTime<Utc>) {
        *self.suspended_until.lock().expect("suspend") = Some(until);
        self.suspend_signal.notify_one();
        std::future::pending::<()>().await
    }

    fn retry_delay(&self, st: &State, f: &Failure, counts: &mut [u32]) -> Option<Duration> {
        let (i, r) = st
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, f.error_name()))?;
        if counts[i] >= r.max_attempts {
            return None;
        }
        let mut secs = r.interval_seconds * r.backoff_rate.powi(counts[i] as i32);
        if let Some(m) = r.max_delay_seconds {
            secs = secs.min(m);
        }
        if r.jitter == Jitter::Full {
            secs *= rand::random::<f64>();
        }
        counts[i] += 1;
        if !secs.is_finite() {
            secs = 1.0e9;
        }
        Some(Duration::from_secs_f64(secs.clamp(0.0, 1.0e9)))
    }
}

impl Engine {
    pub fn new(tasks: Arc<dyn TaskInvoker>, clock: Arc<dyn Clock>) -> Self {
        Engine {
            tasks,
            clock,
            config: Arc::new(EngineConfig::default()),
            services: Services::default(),
        }
    }
    pub fn with_config(
        tasks: Arc<dyn TaskInvoker>,
        clock: Arc<dyn Clock>,
        config: EngineConfig,
    ) -> Self {
        Engine {
            tasks,
            clock,
            config: Arc::new(config),
            services: Services::default(),
        }
    }
    /// Replaces the callback, activity and nested-execution services.
    pub fn with_services(mut self, services: Services) -> Self {
        self.services = services;
        self
    }
    pub fn services(&self) -> &Services {
        &self.services
    }
    pub fn clock(&self) -> &Arc<dyn Clock> {
        &self.clock
    }
    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Runs one execution to completion.
    pub async fn start(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        mut opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> ExecutionOutcome {
        opts.suspend_waits_over = None;
        match self.drive(sm, input, opts, sink, None).await {
            Progress::Finished(outcome) => outcome,
            Progress::Suspended { .. } => unreachable!("suspension is off"),
        }
    }

    /// Runs a new execution until it finishes or suspends in a long Wait
    /// (see [`ExecutionOptions::suspend_waits_over`]). A sink that
    /// [wants checkpoints](HistorySink::wants_checkpoints) gets one per
    /// top-level state, so the run can be [resumed](Self::resume).
    pub async fn start_durable(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> Progress {
        self.drive(sm, input, opts, sink, None).await
    }

    /// Continues a RUNNING execution from its recorded state (see
    /// [`crate::durable`]): no `ExecutionStarted` again, event ids continue,
    /// the execution timeout still counts from the original start.
    pub async fn resume(
        &self,
        sm: Arc<StateMachine>,
        from: Resume,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> Progress {
        let input = from.input.clone();
        self.drive(sm, input, opts, sink, Some(from)).await
    }

    async fn drive(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
        resume: Option<Resume>,
    ) -> Progress {
        let cfg = &self.config;
        let sm_arn = opts.state_machine_arn.clone().unwrap_or_else(|| {
            StateMachineArn::new(&cfg.identity, &opts.state_machine_name).into()
        });
        let arn = opts.execution_arn.clone().unwrap_or_else(|| {
            ExecutionArn::new(&cfg.identity, &opts.state_machine_name, &opts.name).into()
        });
        let role = opts
            .role_arn
            .clone()
            .unwrap_or_else(|| format!("arn:aws:iam::{}:role/stepbox", cfg.identity.account));
        let start = resume
            .as_ref()
            .map_or_else(|| self.clock.now(), |r| r.start_date);
        let details = sink.wants_details();
        let events = sink.wants_events();
        let checkpoints = sink.wants_checkpoints();
        let exec = Arc::new(Exec {
            tasks: self.tasks.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            services: self.services.clone(),
            sink,
            events,
            details,
            next_id: AtomicU64::new(resume.as_ref().map_or(0, |r| r.last_event_id)),
            name: opts.name.clone(),
            arn: arn.clone(),
            // The context object is only built for machines that read `$$`.
            ctx_execution: if sm.uses_context() {
                json!({
                    "Id": arn, "Input": input, "Name": opts.name, "RoleArn": role, "StartTime": ts(start), "RedriveCount": opts.redrive_count
                })
            } else {
                Value::Null
            },
            ctx_state_machine: if sm.uses_context() {
                json!({"Id": sm_arn, "Name": opts.state_machine_name})
            } else {
                Value::Null
            },
            root: sm.clone(),
            checkpoints,
            resume_from: Mutex::new(resume.as_ref().and_then(|r| r.checkpoint.clone())),
            suspend_over: opts.suspend_waits_over,
            deadline: sm
                .timeout_seconds
                .map(|s| start + chrono::Duration::seconds(s as i64)),
            suspended_until: Mutex::new(None),
            suspend_signal: tokio::sync::Notify::new(),
            var_budget: Budget::default(),
        });
        let mut frame = Frame {
            prev: resume.as_ref().map_or(0, |r| r.last_event_id),
            silent: false,
            vars: match &opts.variables {
                Some(v) => Variables::restore(v.clone(), exec.var_budget.clone()),
                None => Variables::new(exec.var_budget.clone()),
            },
        };
        // A run that died before recording anything starts afresh.
        if resume.as_ref().is_none_or(|r| r.last_event_id == 0) {
            exec.emit(&mut frame, EventType::ExecutionStarted, || {
                Some(json!({"input": compact(&input), "inputDetails": {"truncated": false}, "roleArn": role}))
            });
        }
        let run = run_machine(exec.clone(), sm.clone(), input, frame.clone());
        // The execution timeout counts from the original start, across resumes.
        let timeout = sm.timeout_seconds.map(|s| {
            self.clock
                .sleep_until(start + chrono::Duration::seconds(s as i64))
        });
        let suspend_fut = {
            let exec = exec.clone();
            async move {
                loop {
                    let signal = exec.suspend_signal.notified();
                    if let Some(until) = *exec.suspended_until.lock().expect("suspend") {
                        return until;
                    }
                    signal.await;
                }
            }
        };
        let mut abort = opts.abort.clone();
        let abort_fut = async move {
            match abort.as_mut() {
                Some(rx) => loop {
                    if let Some(stop) = rx.borrow().clone() {
                        return stop;
                    }
                    if rx.changed().await.is_err() {
                        std::future::pending::<()>().await;
                    }
                },
                None => std::future::pending::<StopRequest>().await,
            }
        };
        let timeout_fut = async move {
            match timeout {
                Some(t) => t.await,
                None => std::future::pending::<()>().await,
            }
        };
        enum End {
            Done(Result<Value, Failure>, Frame),
            TimedOut,
            Aborted(StopRequest),
            Suspended(DateTime<Utc>),
        }
        let end = tokio::select! {
            (r, f) = run => End::Done(r, f),
            _ = timeout_fut => End::TimedOut,
            stop = abort_fut => End::Aborted(stop),
            until = suspend_fut => End::Suspended(until),
        };
        if let End::Suspended(until) = end {
            return Progress::Suspended { until };
        }
        let mut outcome = ExecutionOutcome {
            status: ExecutionStatus::Succeeded,
            output: None,
            error: None,
            cause: None,
            execution_arn: arn,
            start_date: start,
            stop_date: start,
        };
        // The terminal event chains to the last event recorded.
        let mut last = Frame {
            prev: exec.next_id.load(Ordering::Relaxed),
            silent: false,
            vars: Variables::new(exec.var_budget.clone()),
        };
        match end {
            End::Done(Ok(out), f) => {
                last.prev = f.prev.max(last.prev);
                exec.emit(&mut last, EventType::ExecutionSucceeded, || {
                    Some(json!({"output": compact(&out), "outputDetails": {"truncated": false}}))
                });
                outcome.output = Some(out);
            }
            End::Done(Err(fail), f) => {
                last.prev = f.prev.max(last.prev);
                exec.emit(&mut last, EventType::ExecutionFailed, || {
                    Some(fail.as_output_lower())
                });
                outcome.status = ExecutionStatus::Failed;
                outcome.error = fail.error;
                outcome.cause = fail.cause;
            }
            End::TimedOut => {
                exec.emit(&mut last, EventType::ExecutionTimedOut, || Some(json!({})));
                outcome.status = ExecutionStatus::TimedOut;
            }
            End::Aborted(stop) => {
                exec.emit(&mut last, EventType::ExecutionAborted, || Some(stop.details()));
                outcome.status = ExecutionStatus::Aborted;
                outcome.error = stop.error;
                outcome.cause = stop.cause;
            }
            End::Suspended(_) => unreachable!("returned above"),
        }
        outcome.stop_date = self.clock.now();
        Progress::Finished(outcome)
    }
}

/// Whether a top-level state can wait (on a timer, the outside world, a
/// retry's back-off, or branches and iterations): a durable run checkpoints
/// before such states, and before the state after one of them or a Task.
fn can_wait(st: &State) -> bool {
    match &st.kind {
        StateKind::Wait(_) | StateKind::Map(_) | StateKind::Parallel { .. } => true,
        StateKind::Task { resource, .. } => {
            let (base, pattern) = integration::split_pattern(resource);
            !st.retry.is_empty() || integration::Kind::of(base, pattern).waits_outside()
        }
        _ => false,
    }
}

/// Whether the state after this one needs a checkpoint: a restart must not
/// wait (or hand out a token) again, nor run again a Task that has finished.
/// Only states without effects (Pass, Choice) re-run after a restart.
fn checkpoint_after(st: &State) -> bool {
    can_wait(st) || matches!(st.kind, StateKind::Task { .. })
}

fn run_machine(
    ex: Arc<Exec>,
    sm: Arc<StateMachine>,
    input: Value,
    frame: Frame,
) -> BoxFuture<'static, (Result<Value, Failure>, Frame)> {
    Box::pin(async move {
        let mut frame = frame;
        let mut input = input;
        let mut idx = sm.start_at;
        let top = Arc::ptr_eq(&sm, &ex.root);
        let mut resumed = if top {
            ex.resume_from.lock().expect("resume").take()
        } else {
            None
        };
        if let Some(cp) = &resumed {
            match sm.index_of(&cp.state) {
                Some(i) => {
                    idx = i;
                    input = cp.input.clone();
                    frame.vars = Variables::restore(cp.variables.clone(), ex.var_budget.clone());
                }
                None => resumed = None,
            }
        }
        // Set after a state whose successor needs its own checkpoint.
        let mut after_effect = false;
        loop {
            let st = sm.state(idx);
            let (entered_ty, exited_ty) = events_for(&st.kind);
            let last_recorded = ex.next_id.load(Ordering::Relaxed);
            let mut progress = None;
            let mut started_recorded = None;
            let (checkpointed_at, recorded_entry) = match resumed.take() {
                // A state that cannot wait re-runs whole after a restart; its
                // entry event is reused only when nothing after it was recorded.
                Some(cp) if !can_wait(st) => {
                    if cp.entered_event_id == last_recorded {
                        (Some(cp.entered_at), Some(cp.entered_event_id))
                    } else {
                        (Some(ex.clock.now()), None)
                    }
                }
                // The entry event made it to the history: don't repeat it.
                Some(cp) if cp.entered_event_id <= last_recorded => {
                    progress = Some(cp.progress);
                    // A Map or Parallel records its …StateStarted right after entering.
                    if matches!(st.kind, StateKind::Map(_) | StateKind::Parallel { .. })
                        && cp.entered_event_id < last_recorded
                    {
                        started_recorded = Some(cp.entered_event_id + 1);
                    }
                    (Some(cp.entered_at), Some(cp.entered_event_id))
                }
                Some(cp) => (Some(cp.entered_at), None),
                // Only before a state that can wait, or right after one or a
                // Task: a chain of Pass and Choice states re-runs from the last
                // checkpoint after a restart; a Task in flight re-runs too
                // (at-least-once, as AWS runs Tasks), a finished one never.
                None if top && ex.checkpoints && !frame.silent && (after_effect || can_wait(st)) => {
                    let at = ex.clock.now();
                    ex.sink.checkpoint(&Checkpoint {
                        state: st.name.clone(),
                        input: input.clone(),
                        variables: frame.vars.values().clone(),
                        entered_event_id: last_recorded + 1,
                        entered_at: at,
                        progress: Default::default(),
                    });
                    (Some(at), None)
                }
                None => (None, None),
            };
            // (Only durable runs look: in memory this is the hot path.)
            after_effect = top && ex.checkpoints && checkpoint_after(st);
            let entered_id = match recorded_entry {
                Some(id) => id,
                None => ex.emit_with(&mut frame, entered_ty, || Details::StateEntered {
                    name: st.name.clone(),
                    input: compact(&input),
                }),
            };
            let raw = if st.catch.is_empty() {
                None
            } else {
                Some(input.clone())
            };
            let entry = Entry {
                id: entered_id,
                at: match checkpointed_at {
                    Some(at) => at,
                    None if st.uses_context => ex.clock.now(),
                    None => DateTime::<Utc>::MIN_UTC,
                },
                checkpointed: checkpointed_at.is_some(),
                top: top && ex.checkpoints && !frame.silent && checkpointed_at.is_some(),
                token: match &st.kind {
                    // `.sync` tasks have a token too: SendTaskSuccess/Failure
                    // with it ends the Task before its job does (as AWS does).
                    StateKind::Task { resource, .. }
                        if resource.ends_with(".waitForTaskToken")
                            || resource.ends_with(".sync")
                            || resource.ends_with(".sync:2") =>
                    {
                        // A resumed Task keeps the token it handed out.
                        Some(
                            progress
                                .as_ref()
                                .and_then(|p| p.token.clone())
                                .unwrap_or_else(|| crate::callback::TaskToken::new(&ex.arn, &st.name)),
                        )
                    }
                    _ => None,
                },
                resumed: progress,
                started: started_recorded,
            };
            let result = match unsupported(st) {
                Some(what) => Err(ex.runtime(
                    st,
                    entered_id,
                    RuntimeError::new(errors::QUERY_EVALUATION_ERROR, what),
                )),
                None => {
                    let mut vars = std::mem::replace(&mut frame.vars, Variables::new(ex.var_budget.clone()));
                    let r = run_state(&ex, st, input, &mut frame, &entry, &mut vars).await;
                    frame.vars = vars;
                    r
                }
            };
            if let Err(f) = &result
                && f.error.as_deref() == Some(errors::QUERY_EVALUATION_ERROR)
            {
                ex.emit(&mut frame, EventType::EvaluationFailed, || {
                    let mut d = f.as_output_lower();
                    d["state"] = json!(st.name);
                    Some(d)
                });
            }
            match result {
                Ok((out, next)) => {
                    ex.emit_exited(&mut frame, exited_ty, st, &out);
                    match next {
                        Some(n) => {
                            idx = n;
                            input = out;
                        }
                        None => return (Ok(out), frame),
                    }
                }
                Err(fail) => {
                    // A failed state assigns nothing; a catcher may.
                    frame.vars.clear_assigned();
                    let caught = st
                        .catch
                        .iter()
                        .position(|c| error_matches(&c.error_equals, fail.error_name()));
                    let jsonata_catch = caught.and_then(|i| Some(&st.jsonata.as_deref()?.catchers[i]));
                    let caught = caught.map(|i| &st.catch[i]);
                    let (Some(c), Some(raw)) = (caught, raw) else {
                        return (Err(fail), frame);
                    };
                    let err_out = fail.as_output();
                    // The catcher's Assign and Output (JSONata) or Assign and ResultPath (JSONPath).
                    let caught_output = match jsonata_catch {
                        Some(k) => {
                            let mut ctx_slot = Value::Null;
                            let ctx = ctx_for(&ex, st, &entry, 0, &mut ctx_slot);
                            let res = err_out.clone();
                            jsonata::finish(k.assign.as_ref(), k.output.as_ref(), &raw, res, false, Some(&err_out), ctx, &mut frame.vars)
                        }
                        None => eval_assign(&c.assign_template, &err_out, &NULL, &frame.vars)
                            .and_then(|p| apply_assign(&mut frame.vars, p))
                            .and_then(|()| io::apply_result_path(&c.result_path, raw, err_out)),
                    };
                    match caught_output {
                        Ok(out) => {
                            ex.emit_exited(&mut frame, exited_ty, st, &out);
                            input = out;
                            idx = c.next;
                        }
                        Err(e) => return (Err(ex.runtime(st, entered_id, e)), frame),
                    }
                }
            }
        }
    })
}

/// Features the definition may carry that this engine does not evaluate yet:
/// failing loudly beats silently ignoring them.
fn unsupported(st: &State) -> Option<&'static str> {
    if st.jsonata.is_some() {
        return None;
    }
    if st.assign.is_some() && st.assign_template.is_none() {
        return Some("JSONata Assign is not supported by this engine yet.");
    }
    if st.query_language == stepbox_asl::QueryLanguage::Jsonata
        && (st.output.is_some() || st.arguments.is_some())
    {
        return Some("JSONata expressions are not supported by this engine yet.");
    }
    None
}

/// When and where the current state was entered.
struct Entry {
    id: u64,
    at: DateTime<Utc>,
    /// A top-level state of a durable run: a Wait counts from `at` (its
    /// original entry, also after a resume) and may suspend the run.
    checkpointed: bool,
    /// A checkpointed top-level state: it may checkpoint its progress.
    top: bool,
    token: Option<String>,
    /// The progress recorded before a restart (a resumed run's first state).
    resumed: Option<StateProgress>,
    /// A resumed Map/Parallel whose `…StateStarted` event is recorded: its id.
    started: Option<u64>,
}

/// The `…StateStarted` event of a Map/Parallel attempt; a resumed state's
/// first attempt reuses the one recorded before the restart.
fn state_started(
    ex: &Exec,
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
        None => ex.emit(frame, ty, details),
    }
}

fn ctx_for<'a>(ex: &Exec, st: &State, entry: &Entry, retry: u32, slot: &'a mut Value) -> &'a Value {
    if st.uses_context {
        *slot = ex.context(st, &ts(entry.at), retry, None, entry.token.as_deref());
        slot
    } else {
        &NULL
    }
}

fn scope<'a>(input: &'a Value, context: &'a Value, vars: &'a Map<String, Value>) -> Scope<'a> {
    Scope {
        input,
        context,
        variables: Some(vars),
    }
}

/// The input a Task, Parallel or Map works on: InputPath and Parameters in
/// JSONPath, `Arguments` (default: the state input) in JSONata.
fn state_input(st: &State, input: &Value, ctx: &Value, vars: &Map<String, Value>) -> Result<Value, RuntimeError> {
    match st.jsonata.as_deref() {
        Some(f) => jsonata::arguments(f, input, ctx, vars),
        None => st.effective_input(input, ctx, Some(vars)),
    }
}

/// Assign, then the state output: ResultPath and OutputPath in JSONPath,
/// `Output` (default: the result) in JSONata.
fn finish_state(st: &State, input: Value, res: Value, ctx: &Value, vars: &mut Variables) -> Result<Value, RuntimeError> {
    if let Some(f) = st.jsonata.as_deref() {
        return jsonata::finish(f.assign.as_ref(), f.output.as_ref(), &input, res, true, None, ctx, vars);
    }
    let pending = eval_assign(&st.assign_template, &res, ctx, vars)?;
    let out = st.output(input, res, ctx, Some(vars.values()))?;
    apply_assign(vars, pending)?;
    Ok(out)
}

/// Evaluates an `Assign` template against `value`; the caller applies the
/// returned bindings once the state's output is computed.
fn eval_assign(
    t: &Option<stepbox_asl::Template>,
    value: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Option<Map<String, Value>>, RuntimeError> {
    match t {
        None => Ok(None),
        Some(t) => match t.eval(&scope(value, ctx, vars))? {
            Value::Object(m) => Ok(Some(m)),
            _ => Ok(None),
        },
    }
}

fn apply_assign(vars: &mut Variables, pending: Option<Map<String, Value>>) -> Result<(), RuntimeError> {
    match pending {
        Some(m) => vars.assign(m),
        None => Ok(()),
    }
}

fn resolve_num(
    spec: &NumSpec,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Value, String> {
    match spec {
        NumSpec::Value(x) => Ok(json!(x)),
        NumSpec::Path(p) => scope(input, ctx, vars)
            .resolve(p)
            .map(|c| c.into_owned())
            .ok_or_else(|| {
                format!(
                    "Invalid path '{}' : No results for path: {}",
                    p.as_str(),
                    p.canonical()
                )
            }),
        NumSpec::Raw(v) => Err(compact(v)),
    }
}

fn data_limit(ex: &Exec, who: &str, v: &Value) -> Result<(), Failure> {
    if json_size(v, ex.config.payload_limit) > ex.config.payload_limit {
        return Err(Failure::new(
            errors::DATA_LIMIT_EXCEEDED,
            format!(
                "The state/task '{who}' returned a result with a size exceeding the maximum number of bytes service limit."
            ),
        ));
    }
    Ok(())
}

async fn run_state(
    ex: &Arc<Exec>,
    st: &State,
    input: Value,
    frame: &mut Frame,
    entry: &Entry,
    vars: &mut Variables,
) -> Result<(Value, Option<usize>), Failure> {
    let entered_id = entry.id;
    let rt = |e: RuntimeError| ex.runtime(st, entered_id, e);
    let mut ctx_slot = Value::Null;
    if let Some(f) = st.jsonata.as_deref()
        && matches!(
            st.kind,
            StateKind::Pass { .. } | StateKind::Succeed | StateKind::Fail { .. } | StateKind::Choice { .. } | StateKind::Wait(_)
        )
    {
        return jsonata::run_simple(ex, st, f, input, entry, vars).await;
    }
    match &st.kind {
        StateKind::Pass { result } => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let res = match result {
                Some(r) => {
                    data_limit(ex, &st.name, r)?;
                    r.clone()
                }
                None => st.effective_input(&input, ctx, Some(vars.values())).map_err(rt)?,
            };
            let pending = eval_assign(&st.assign_template, &res, ctx, vars).map_err(rt)?;
            let out = st.output(input, res, ctx, Some(vars.values())).map_err(rt)?;
            apply_assign(vars, pending).map_err(rt)?;
            Ok((out, st.next))
        }
        StateKind::Succeed => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let sel = io::select(&st.input_path, &input, ctx, Some(vars.values()))
                .map_err(rt)?
                .into_owned();
            let out = io::select_owned(&st.output_path, sel, ctx, Some(vars.values())).map_err(rt)?;
            Ok((out, None))
        }
        StateKind::Fail { error, cause } => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let eval = |s: &Option<StrSpec>, field: &str| -> Result<Option<String>, Failure> {
                Ok(match s {
                    None => None,
                    Some(StrSpec::Value(v)) => Some(v.clone()),
                    Some(StrSpec::Path(p)) => {
                        let v = scope(&input, ctx, vars).resolve(p).ok_or_else(|| {
                            rt(stepbox_asl::template::path_not_found(p, field, &input))
                        })?;
                        Some(match v.as_value() {
                            Value::String(s) => s.clone(),
                            other => compact(other),
                        })
                    }
                    Some(StrSpec::Call(c)) => {
                        let v = c.evaluate(&scope(&input, ctx, vars)).map_err(rt)?;
                        Some(match v {
                            Value::String(s) => s,
                            other => compact(&other),
                        })
                    }
                })
            };
            let error = eval(error, "ErrorPath")?;
            let cause = eval(cause, "CausePath")?;
            Err(Failure { error, cause, nulls: false })
        }
        StateKind::Choice { choices, default } => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let eff = io::select(&st.input_path, &input, ctx, Some(vars.values())).map_err(rt)?;
            let scope = scope(eff.as_value(), ctx, vars);
            let mut next = None;
            let mut assign_t = &st.assign_template;
            for (rule, target) in choices {
                if rule.rule.eval(&scope).map_err(rt)? {
                    next = Some(*target);
                    // A matched rule uses its own Assign; the state-level
                    // Assign only applies when the Default is taken.
                    assign_t = &rule.assign_template;
                    break;
                }
            }
            let next = match next.or(*default) {
                Some(n) => n,
                None => return Err(Failure::new(errors::NO_CHOICE_MATCHED, "No Matches!")),
            };
            let eff = eff.into_owned();
            let pending = eval_assign(assign_t, &eff, ctx, vars).map_err(rt)?;
            let out = io::select_owned(&st.output_path, eff, ctx, Some(vars.values())).map_err(rt)?;
            apply_assign(vars, pending).map_err(rt)?;
            Ok((out, Some(next)))
        }
        StateKind::Wait(spec) => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let eff = io::select(&st.input_path, &input, ctx, Some(vars.values()))
                .map_err(rt)?
                .into_owned();
            let now = if entry.checkpointed {
                entry.at
            } else {
                ex.clock.now()
            };
            let too_long = || rt(RuntimeError::runtime("Wait state delay is too long."));
            let until: DateTime<Utc> = match spec {
                WaitSpec::Seconds(s) => {
                    if *s > i32::MAX as f64 {
                        return Err(too_long());
                    }
                    now + chrono::Duration::milliseconds((*s * 1000.0) as i64)
                }
                WaitSpec::Timestamp(t) => t.with_timezone(&Utc),
                WaitSpec::SecondsPath(p) => {
                    let v = scope(&eff, ctx, vars).resolve(p).ok_or_else(|| {
                        rt(stepbox_asl::template::path_not_found(
                            p,
                            "SecondsPath",
                            &eff,
                        ))
                    })?;
                    match v.as_value().as_i64() {
                        Some(n) if n >= 0 => {
                            if n > i32::MAX as i64 {
                                return Err(too_long());
                            }
                            now + chrono::Duration::seconds(n)
                        }
                        _ => {
                            return Err(rt(RuntimeError::runtime(format!(
                                "The SecondsPath parameter does not reference a valid non-negative integer: {} == {}",
                                p.as_str(),
                                compact(v.as_value())
                            ))));
                        }
                    }
                }
                WaitSpec::TimestampPath(p) => {
                    let v = scope(&eff, ctx, vars).resolve(p).ok_or_else(|| {
                        rt(stepbox_asl::template::path_not_found(
                            p,
                            "TimestampPath",
                            &eff,
                        ))
                    })?;
                    match v.as_value().as_str().and_then(stepbox_asl::parse_timestamp) {
                        Some(t) => t.with_timezone(&Utc),
                        None => {
                            return Err(rt(RuntimeError::runtime(format!(
                                "The TimestampPath parameter does not reference a valid ISO-8601 extended offset date-time format string: {} == {}",
                                p.as_str(),
                                match v.as_value() {
                                    Value::String(s) => s.clone(),
                                    other => compact(other),
                                }
                            ))));
                        }
                    }
                }
                WaitSpec::Raw(v) => {
                    return Err(rt(RuntimeError::new(
                        errors::QUERY_EVALUATION_ERROR,
                        format!("JSONata is not supported: {}", compact(v)),
                    )));
                }
            };
            if (until - now).num_seconds() > i32::MAX as i64 {
                return Err(too_long());
            }
            let wake = ex.deadline.map_or(until, |d| d.min(until));
            if entry.checkpointed
                && let Some(limit) = ex.suspend_over
                && (wake - ex.clock.now())
                    .to_std()
                    .is_ok_and(|left| left > limit)
            {
                ex.suspend(wake).await;
            }
            ex.clock.sleep_until(until).await;
            let pending = eval_assign(&st.assign_template, &eff, ctx, vars).map_err(rt)?;
            let out = io::select_owned(&st.output_path, eff, ctx, Some(vars.values())).map_err(rt)?;
            apply_assign(vars, pending).map_err(rt)?;
            Ok((out, st.next))
        }
        StateKind::Task {
            resource,
            timeout,
            heartbeat,
            ..
        } => {
            run_task(
                ex, st, resource, timeout, heartbeat, input, frame, entry, vars,
            )
            .await
        }
        StateKind::Parallel { branches } => {
            let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
            let eff = state_input(st, &input, ctx, vars).map_err(rt)?;
            let mut counts = vec![0u32; st.retry.len()];
            let mut recorded = entry.started;
            loop {
                let started = state_started(ex, frame, &mut recorded, EventType::ParallelStateStarted, || None);
                let mut set = tokio::task::JoinSet::new();
                for (i, b) in branches.iter().enumerate() {
                    let f = Frame {
                        prev: started,
                        silent: frame.silent,
                        vars: vars.inner(),
                    };
                    let fut = run_machine(ex.clone(), b.clone(), eff.clone(), f);
                    set.spawn(async move { (i, fut.await) });
                }
                let mut results: Vec<Option<Value>> = vec![None; branches.len()];
                let mut failure: Option<Failure> = None;
                let mut last_prev = started;
                while let Some(j) = set.join_next().await {
                    let (i, (r, f)) = match j {
                        Ok(x) => x,
                        Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
                        Err(_) => continue,
                    };
                    last_prev = last_prev.max(f.prev);
                    match r {
                        Ok(v) => results[i] = Some(v),
                        Err(e) => {
                            failure = Some(e);
                            set.abort_all();
                            break;
                        }
                    }
                }
                frame.prev = last_prev.max(frame.prev);
                match failure {
                    None => {
                        // AWS records no ParallelStateSucceeded event.
                        let arr = Value::Array(
                            results
                                .into_iter()
                                .map(|v| v.unwrap_or(Value::Null))
                                .collect(),
                        );
                        let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
                        let res = st.select_result(arr, ctx, Some(vars.values())).map_err(rt)?;
                        let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                        return Ok((out, st.next));
                    }
                    Some(f) => match ex.retry_delay(st, &f, &mut counts) {
                        // Only the final failure is recorded.
                        Some(d) => ex.clock.sleep(d).await,
                        None => {
                            ex.emit(frame, EventType::ParallelStateFailed, || None);
                            return Err(f);
                        }
                    },
                }
            }
        }
        StateKind::Map(spec) => run_map(ex, st, spec, input, frame, entry, vars).await,
    }
}

#[allow(clippy::too_many_arguments)]
async fn run_task(
    ex: &Arc<Exec>,
    st: &State,
    resource: &str,
    timeout: &Option<NumSpec>,
    heartbeat: &Option<NumSpec>,
    input: Value,
    frame: &mut Frame,
    entry: &Entry,
    vars: &mut Variables,
) -> Result<(Value, Option<usize>), Failure> {
    let entered_id = entry.id;
    let rt = |e: RuntimeError| ex.runtime(st, entered_id, e);
    let (base, pattern) = integration::split_pattern(resource);
    let target = Target::parse(base);
    let kind = integration::Kind::of(base, pattern);
    let mut ctx_slot = Value::Null;
    let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
    let eff = state_input(st, &input, ctx, vars).map_err(rt)?;
    let secs = |spec: &Option<NumSpec>, field: &str| -> Result<Option<u64>, Failure> {
        let expression = st.jsonata.as_deref().and_then(|f| match field {
            "TimeoutSecondsPath" => f.timeout_seconds.as_ref(),
            _ => f.heartbeat_seconds.as_ref(),
        });
        if let Some(t) = expression {
            let field = field.trim_end_matches("Path");
            let x = jsonata::number(t, field, &jsonata::bindings(&input, None, None, ctx, vars)).map_err(rt)?;
            return if x >= 1.0 && x.fract() == 0.0 {
                Ok(Some(x as u64))
            } else {
                Err(rt(RuntimeError::runtime(format!("The {field} value must be a positive integer: {x}"))))
            };
        }
        match spec {
            None => Ok(None),
            Some(s) => match resolve_num(s, &input, ctx, vars) {
                Ok(v) => match v.as_f64() {
                    Some(x) if x >= 1.0 => Ok(Some(x as u64)),
                    _ => Err(rt(RuntimeError::runtime(format!(
                        "The {field} value must be a positive integer: {}",
                        compact(&v)
                    )))),
                },
                Err(msg) => Err(rt(RuntimeError::runtime(msg))),
            },
        }
    };
    let timeout_s = secs(timeout, "TimeoutSecondsPath")?;
    let heartbeat_s = secs(heartbeat, "HeartbeatSecondsPath")?;
    let (function_name, qualifier, payload, who, family) = match &target {
        Target::LambdaFunction {
            name, qualifier, ..
        } => (
            name.clone(),
            qualifier.clone(),
            eff.clone(),
            resource.to_string(),
            integration::Family::Lambda,
        ),
        Target::LambdaInvoke => {
            let fname = eff
                .get("FunctionName")
                .and_then(|v| v.as_str())
                .unwrap_or_default();
            let (n, mut q) = split_function_name(fname);
            if let Some(Value::String(qq)) = eff.get("Qualifier") {
                q = Some(qq.clone());
            }
            // A string payload is sent as raw bytes: JSON text becomes its value.
            let payload = match eff.get("Payload") {
                None | Some(Value::Null) => json!({}),
                Some(Value::String(s)) => {
                    serde_json::from_str::<Value>(s).unwrap_or_else(|_| Value::String(s.clone()))
                }
                Some(v) => v.clone(),
            };
            (n, q, payload, "lambda".to_string(), integration::Family::Task)
        }
        Target::Other => (
            resource.to_string(),
            None,
            eff.clone(),
            resource.to_string(),
            if matches!(kind, integration::Kind::Activity) {
                integration::Family::Activity
            } else {
                integration::Family::Task
            },
        ),
    };
    let (res_type, res_name) = integration::resource_names(base, pattern, &target);
    let is_lambda_fn = family == integration::Family::Lambda;
    // What a restart left of this state (durable top-level states only).
    let mut progress = entry.resumed.clone().unwrap_or_default();
    let mut counts = if progress.retry_counts.len() == st.retry.len() {
        progress.retry_counts.clone()
    } else {
        vec![0u32; st.retry.len()]
    };
    let mut retry_count = progress.retries;
    let base = (entry.top && (kind.waits_outside() || !st.retry.is_empty())).then(|| Checkpoint {
        state: st.name.clone(),
        input: input.clone(),
        variables: vars.values().clone(),
        entered_event_id: entry.id,
        entered_at: entry.at,
        progress: StateProgress::default(),
    });
    let save = |p: &StateProgress| {
        if let Some(b) = &base {
            let mut cp = b.clone();
            cp.progress = p.clone();
            ex.sink.checkpoint(&cp);
        }
    };
    // The attempt in flight at a restart continues rather than starting over.
    let mut resumed = progress.scheduled_at.is_some();
    loop {
        if let Some(at) = progress.retry_at.take() {
            ex.clock.sleep_until(at).await;
        }
        let scheduled_at = match progress.scheduled_at {
            Some(t) if resumed => t,
            _ => ex.clock.now(),
        };
        // TimeoutSeconds runs from scheduling to the end of the attempt.
        let mut total = timeout_s.map(|t| {
            if resumed {
                ex.clock.sleep_until(scheduled_at + chrono::Duration::seconds(t as i64))
            } else {
                ex.clock.sleep(Duration::from_secs(t))
            }
        });
        let token = match kind {
            integration::Kind::Activity => Some(
                progress
                    .token
                    .clone()
                    .filter(|_| resumed)
                    .unwrap_or_else(|| crate::callback::TaskToken::new(&ex.arn, &st.name)),
            ),
            _ => entry.token.clone(),
        };
        if base.is_some() && kind.waits_outside() && !resumed {
            let child_name = match kind {
                integration::Kind::StartExecution(_) => Some(
                    eff.get("Name")
                        .and_then(Value::as_str)
                        .map_or_else(stepbox_asl::uuid_v4, str::to_string),
                ),
                _ => None,
            };
            progress = StateProgress {
                retry_counts: counts.clone(),
                retries: retry_count,
                scheduled_at: Some(scheduled_at),
                token: token.clone(),
                child_name,
                ..StateProgress::default()
            };
            save(&progress);
        }
        // Handed out before the restart: its scheduling events are recorded.
        let handed_out = resumed && progress.submitted.is_some();
        match family {
            _ if handed_out => {}
            integration::Family::Lambda => {
                ex.emit(frame, EventType::LambdaFunctionScheduled, || {
                    let mut d = json!({"resource": resource, "input": compact(&payload), "inputDetails": {"truncated": false}});
                    if let Some(t) = timeout_s {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    Some(d)
                });
                ex.emit(frame, EventType::LambdaFunctionStarted, || None);
            }
            integration::Family::Task => {
                ex.emit(frame, EventType::TaskScheduled, || {
                    let mut d = json!({"resourceType": res_type, "resource": if res_name.is_empty() { resource } else { &res_name },
                        "region": ex.config.identity.region, "parameters": compact(&eff)});
                    if let Some(t) = timeout_s {
                        d["timeoutInSeconds"] = json!(t);
                    }
                    if let Some(h) = heartbeat_s {
                        d["heartbeatInSeconds"] = json!(h);
                    }
                    Some(d)
                });
                ex.emit(frame, EventType::TaskStarted, || {
                    Some(json!({"resourceType": res_type, "resource": res_name}))
                });
            }
            // Scheduled once the activity is known to exist; started when a worker takes it.
            integration::Family::Activity => {}
        }
        let request_id = stepbox_asl::uuid_v4();
        let req = TaskRequest {
            function_name: function_name.clone(),
            qualifier: qualifier.clone(),
            resource: resource.to_string(),
            input: payload.clone(),
            context: TaskContext {
                execution_name: ex.name.clone(),
                execution_arn: ex.arn.clone(),
                state_name: st.name.clone(),
                retry_count,
                remaining_time: timeout_s.map(Duration::from_secs),
                task_token: entry.token.clone(),
                request_id: request_id.clone(),
            },
            heartbeat: None,
        };
        let lambda_timeout = |name: &str| {
            if is_lambda_fn {
                Failure { error: Some(name.to_string()), cause: None, nulls: false }
            } else {
                Failure::new(name, "")
            }
        };
        let call = integration::Call {
            ex,
            frame: &mut *frame,
            resource,
            res_type: &res_type,
            res_name: &res_name,
            params: &eff,
            timeout_s,
            heartbeat_s,
            progress: &mut progress,
            save: &save,
            handed_out,
            resumed,
        };
        let result: Result<Value, (Failure, bool)> = match kind {
            integration::Kind::Invoke => {
                match integration::invoke(ex, req, &mut total, heartbeat_s).await {
                    Ok(v) => Ok(wrap_invoke_result(ex, &target, &eff, &request_id, v)),
                    Err(integration::Stop::Failed(f)) => Err((f, false)),
                    Err(integration::Stop::TimedOut(name)) => Err((lambda_timeout(name), true)),
                }
            }
            integration::Kind::WaitForTaskToken => {
                let token = token.unwrap_or_default();
                call.wait_for_token(req, &token, &mut total, |v| wrap_invoke_result(ex, &target, &eff, &request_id, v))
                    .await
            }
            integration::Kind::Activity => match call.activity(&payload, &token.unwrap_or_default(), &mut total).await {
                Ok(r) => r,
                Err(integration::NoActivity(msg)) => return Err(rt(RuntimeError::runtime(msg))),
            },
            integration::Kind::StartExecution(p) => {
                call.start_execution(p, token.as_deref(), &mut total).await
            }
            integration::Kind::SendTaskOutcome(what) => call.send_task_outcome(what),
        };
        let result = match result {
            Ok(v) => match data_limit(ex, &who, &v) {
                Ok(()) => Ok(v),
                Err(f) => Err((f, false)),
            },
            Err(e) => Err(e),
        };
        match result {
            Ok(v) => {
                match family {
                    integration::Family::Lambda => {
                        ex.emit(frame, EventType::LambdaFunctionSucceeded, || {
                            Some(json!({"output": compact(&v), "outputDetails": {"truncated": false}}))
                        });
                    }
                    integration::Family::Task => {
                        ex.emit(frame, EventType::TaskSucceeded, || {
                            Some(json!({"resourceType": res_type, "resource": res_name, "output": compact(&v), "outputDetails": {"truncated": false}}))
                        });
                    }
                    integration::Family::Activity => {
                        ex.emit(frame, EventType::ActivitySucceeded, || {
                            Some(json!({"output": compact(&v), "outputDetails": {"truncated": false}}))
                        });
                    }
                }
                let ctx = ctx_for(ex, st, entry, retry_count, &mut ctx_slot);
                let res = st.select_result(v, ctx, Some(vars.values())).map_err(rt)?;
                let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                return Ok((out, st.next));
            }
            Err((f, timed_out)) => {
                let ty = match (family, timed_out) {
                    (integration::Family::Lambda, true) => EventType::LambdaFunctionTimedOut,
                    (integration::Family::Lambda, false) => EventType::LambdaFunctionFailed,
                    (integration::Family::Task, true) => EventType::TaskTimedOut,
                    (integration::Family::Task, false) => EventType::TaskFailed,
                    (integration::Family::Activity, true) => EventType::ActivityTimedOut,
                    (integration::Family::Activity, false) => EventType::ActivityFailed,
                };
                ex.emit(frame, ty, || {
                    let mut d = f.as_output_lower();
                    if family == integration::Family::Task {
                        d["resourceType"] = json!(res_type);
                        d["resource"] = json!(res_name);
                    }
                    Some(d)
                });
                match ex.retry_delay(st, &f, &mut counts) {
                    Some(d) => {
                        retry_count += 1;
                        resumed = false;
                        // Counted before the back-off: a restart keeps both.
                        progress = StateProgress {
                            retry_counts: counts.clone(),
                            retries: retry_count,
                            retry_at: chrono::Duration::from_std(d).ok().map(|d| ex.clock.now() + d),
                            ..StateProgress::default()
                        };
                        save(&progress);
                        progress.retry_at = None;
                        ex.clock.sleep(d).await;
                    }
                    None => return Err(f),
                }
            }
        }
    }
}

/// The `lambda:invoke` integration wraps the function's output as AWS does;
/// other resources return it as is.
fn wrap_invoke_result(ex: &Exec, target: &Target, eff: &Value, rid: &str, v: Value) -> Value {
    if *target != Target::LambdaInvoke {
        return v;
    }
    let date = ex
        .clock
        .now()
        .format("%a, %d %b %Y %H:%M:%S GMT")
        .to_string();
    let mut r = lambda_invoke_result(v, rid, &date);
    if eff.get("LogType").and_then(|l| l.as_str()) == Some("Tail") {
        let log = format!(
            "START RequestId: {rid} Version: $LATEST\nEND RequestId: {rid}\nREPORT RequestId: {rid}\n"
        );
        let b = stepbox_asl::base64::encode(log.as_bytes());
        r["SdkHttpMetadata"]["AllHttpHeaders"]["X-Amz-Log-Result"] = json!([b]);
        r["SdkHttpMetadata"]["HttpHeaders"]["X-Amz-Log-Result"] = json!(b);
        if let Value::Object(m) = &mut r {
            // keep AWS's key order: ExecutedVersion, LogResult, Payload, ...
            let rest: Vec<(String, Value)> = std::mem::take(m).into_iter().collect();
            for (k, v) in rest {
                m.insert(k.clone(), v);
                if k == "ExecutedVersion" {
                    m.insert("LogResult".into(), json!(b));
                }
            }
        }
    }
    r
}

/// Groups Map items per `ItemBatcher`: `{"BatchInput": …, "Items": [...]}`.
fn batch_items(
    cfg: &Value,
    items: Vec<Value>,
    input: &Value,
    ctx: &Value,
    vars: &Map<String, Value>,
) -> Result<Vec<Value>, RuntimeError> {
    let limit = |field: &str| -> Result<Option<f64>, RuntimeError> {
        if let Some(v) = cfg.get(field) {
            return to_count(v, field, field);
        }
        let pf = format!("{field}Path");
        match cfg.get(&pf).and_then(|v| v.as_str()) {
            None => Ok(None),
            Some(p) => {
                let path =
                    stepbox_asl::JsonPath::parse(p).map_err(|e| RuntimeError::runtime(e.0))?;
                let v = scope(input, ctx, vars).resolve(&path).ok_or_else(|| {
                    RuntimeError::runtime(format!(
                        "Invalid path '{}' : No results for path: {}",
                        path.as_str(),
                        path.canonical()
                    ))
                })?;
                to_count(v.as_value(), field, p)
            }
        }
    };
    let max_items = limit("MaxItemsPerBatch")?
        .map(|x| x.max(1.0) as usize)
        .unwrap_or(usize::MAX);
    let max_bytes = limit("MaxInputBytesPerBatch")?
        .map(|x| x.max(1.0) as usize)
        .unwrap_or(256 * 1024);
    let batch_input = match cfg.get("BatchInput") {
        None => None,
        Some(t) => {
            let t =
                stepbox_asl::Template::compile(t).map_err(|e| RuntimeError::runtime(e.message))?;
            Some(t.eval(&scope(input, ctx, vars))?)
        }
    };
    let wrap = |batch: Vec<Value>| {
        let mut m = Map::new();
        if let Some(b) = &batch_input {
            m.insert("BatchInput".into(), b.clone());
        }
        m.insert("Items".into(), Value::Array(batch));
        Value::Object(m)
    };
    let mut out = Vec::new();
    let mut cur: Vec<Value> = Vec::new();
    let mut bytes = 0usize;
    for it in items {
        let sz = json_size(&it, max_bytes) + 1;
        if !cur.is_empty() && (cur.len() >= max_items || bytes + sz > max_bytes) {
            out.push(wrap(std::mem::take(&mut cur)));
            bytes = 0;
        }
        bytes += sz;
        cur.push(it);
    }
    if !cur.is_empty() {
        out.push(wrap(cur));
    }
    Ok(out)
}

fn to_count(v: &Value, field: &str, path: &str) -> Result<Option<f64>, RuntimeError> {
    let parsed = match v {
        Value::Number(n) => n.as_f64(),
        // AWS accepts integers given as strings ("1").
        Value::String(s) => s.trim().parse::<i64>().ok().map(|i| i as f64),
        _ => None,
    };
    match parsed {
        Some(x) => Ok(Some(x)),
        _ => Err(RuntimeError::runtime(format!(
            "The {field}Path field refers to value \"{}\" which is not a valid integer: {path}",
            match v {
                Value::String(s) => s.clone(),
                other => compact(other),
            }
        ))),
    }
}

async fn run_map(
    ex: &Arc<Exec>,
    st: &State,
    spec: &MapSpec,
    input: Value,
    frame: &mut Frame,
    entry: &Entry,
    vars: &mut Variables,
) -> Result<(Value, Option<usize>), Failure> {
    let entered_id = entry.id;
    let rt = |e: RuntimeError| ex.runtime(st, entered_id, e);
    let mut ctx_slot = Value::Null;
    let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
    let jsonata_fields = st.jsonata.as_deref();
    // The effective input and the items stay borrowed from the state's input
    // where they can: each item is copied once, into its iteration's input,
    // not three times (input, items array, item) on the one task that runs
    // before and after the fan-out.
    let eff = match jsonata_fields {
        Some(f) => PathCow::Owned(jsonata::arguments(f, &input, ctx, vars).map_err(rt)?),
        None => io::select(&st.input_path, &input, ctx, Some(vars.values())).map_err(rt)?,
    };
    let eff_value = eff.as_value();
    let items_found = match &spec.items_path {
        _ if jsonata_fields.is_some() => None,
        None => Some(PathCow::Borrowed(eff_value)),
        Some(p) => Some(scope(eff_value, ctx, vars).resolve(p).ok_or_else(|| {
            rt(RuntimeError::runtime(format!(
                "Invalid path '{}' : No results for path: {}",
                p.as_str(),
                p.canonical()
            )))
        })?),
    };
    if spec.item_reader.is_some() {
        return Err(rt(RuntimeError::runtime("ItemReader is not supported")));
    }
    let items: std::borrow::Cow<'_, [Value]> = match (jsonata_fields, items_found) {
        (Some(f), _) => jsonata::items(f, &jsonata::bindings(&input, None, None, ctx, vars))
            .map_err(rt)?
            .into(),
        (None, Some(PathCow::Borrowed(Value::Array(a)))) => a.as_slice().into(),
        (None, Some(PathCow::Owned(Value::Array(a)))) => a.into(),
        (None, Some(other)) => {
            return Err(rt(RuntimeError::runtime(format!(
                "Map state input must be an array but was: {}",
                compact(other.as_value())
            ))));
        }
        (None, None) => unreachable!("a JSONPath Map's items are always looked up"),
    };
    let distributed = spec.mode == MapMode::Distributed;
    let mut counts = vec![0u32; st.retry.len()];
    let mut recorded = entry.started;
    loop {
        state_started(ex, frame, &mut recorded, EventType::MapStateStarted, || {
            Some(json!({"length": items.len()}))
        });
        // Resolve limits.
        let num = |s: &NumSpec, field: &str| -> Result<Option<f64>, Failure> {
            let expression = jsonata_fields.and_then(|f| match field {
                "MaxConcurrency" => f.max_concurrency.as_ref(),
                "ToleratedFailureCount" => f.tolerated_failure_count.as_ref(),
                _ => f.tolerated_failure_percentage.as_ref(),
            });
            if let Some(t) = expression {
                let b = jsonata::bindings(&input, None, None, ctx, vars);
                return jsonata::number(t, field, &b).map(Some).map_err(rt);
            }
            match s {
                NumSpec::Value(x) => Ok(Some(*x)),
                NumSpec::Path(p) => match scope(eff_value, ctx, vars).resolve(p) {
                    Some(v) => to_count(v.as_value(), field, p.as_str()).map_err(rt),
                    None => Err(rt(RuntimeError::runtime(format!(
                        "The JSONPath '{}' specified for the field '{field}Path' could not be found in the input '{}'",
                        p.as_str(),
                        compact(eff_value)
                    )))),
                },
                NumSpec::Raw(_) => Err(rt(RuntimeError::new(
                    errors::QUERY_EVALUATION_ERROR,
                    "JSONata is not supported",
                ))),
            }
        };
        let tol_count = match &spec.tolerated_failure_count {
            Some(s) => num(s, "ToleratedFailureCount")?,
            None => None,
        };
        if tol_count.is_some_and(|c| c < 0.0) {
            return Err(rt(RuntimeError::runtime(
                "ToleratedFailureCount cannot be negative.",
            )));
        }
        let tol_pct = match &spec.tolerated_failure_percentage {
            Some(s) => num(s, "ToleratedFailurePercentage")?,
            None => None,
        };
        if tol_pct.is_some_and(|c| !(0.0..=100.0).contains(&c)) {
            return Err(rt(RuntimeError::runtime(
                "ToleratedFailurePercentage must be between 0 and 100.",
            )));
        }
        let mc = num(&spec.max_concurrency, "MaxConcurrency")?.unwrap_or(0.0);
        if mc < 0.0 {
            return Err(rt(RuntimeError::runtime(
                "MaxConcurrency cannot be negative.",
            )));
        }
        let limit = if mc >= 1.0 {
            (mc as usize).min(ex.config.max_map_concurrency)
        } else {
            ex.config.max_map_concurrency
        }
        .max(1);
        let tolerant = tol_count.is_some() || tol_pct.is_some();
        if distributed {
            let run_arn = format!(
                "{}/{}:{}",
                ex.arn.replace(":execution:", ":mapRun:"),
                st.name,
                stepbox_asl::uuid_v4()
            );
            ex.emit(frame, EventType::MapRunStarted, || {
                Some(json!({"mapRunArn": run_arn}))
            });
        }
        // Item inputs.
        let mut inputs = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let jsonata_selector = jsonata_fields.and_then(|f| f.item_selector.as_ref());
            let v = match &spec.item_selector {
                _ if let Some(t) = jsonata_selector => {
                    let c = ex.context(st, &ts(ex.clock.now()), 0, Some((i, item)), None);
                    t.evaluate(&jsonata::bindings(&input, None, None, &c, vars)).map_err(rt)?
                }
                None => item.clone(),
                Some(t) => {
                    let c = if t.uses_context() {
                        ex.context(st, &ts(ex.clock.now()), 0, Some((i, item)), None)
                    } else {
                        Value::Null
                    };
                    t.eval(&scope(eff_value, &c, vars)).map_err(rt)?
                }
            };
            inputs.push(v);
        }
        if let Some(b) = &spec.item_batcher {
            inputs = batch_items(b, inputs, eff_value, &NULL, vars).map_err(rt)?;
        }
        let n = inputs.len();
        let fan = MapFanOut {
            ex: ex.clone(),
            processor: spec.processor.clone(),
            name: st.name.clone(),
            silent: frame.silent || distributed,
            vars: vars.inner(),
            base_prev: frame.prev,
            queue: std::sync::Mutex::new(inputs.into_iter().enumerate()),
            stop_on_failure: !tolerant,
        };
        let (results, failed, first_failure, last_prev) = fan.run(limit.min(n), n).await;
        frame.prev = last_prev.max(frame.prev);
        let exceeded = if failed == 0 {
            None
        } else if !tolerant {
            first_failure
        } else {
            let over_count = tol_count.is_some_and(|c| failed as f64 > c);
            let over_pct = tol_pct.is_some_and(|p| (failed as f64) * 100.0 / (n.max(1) as f64) > p);
            let both = tol_count.is_some() && tol_pct.is_some();
            let over = if both {
                over_count && over_pct
            } else {
                over_count || over_pct
            };
            if over {
                Some(Failure::new(
                    errors::EXCEED_TOLERATED_FAILURE_THRESHOLD,
                    "The specified tolerated failure threshold was exceeded",
                ))
            } else {
                None
            }
        };
        match exceeded {
            None => {
                if distributed {
                    ex.emit(frame, EventType::MapRunSucceeded, || None);
                }
                ex.emit(frame, EventType::MapStateSucceeded, || None);
                let ctx = ctx_for(ex, st, entry, 0, &mut ctx_slot);
                let res = st
                    .select_result(Value::Array(results), ctx, Some(vars.values()))
                    .map_err(rt)?;
                let out = finish_state(st, input, res, ctx, vars).map_err(rt)?;
                return Ok((out, st.next));
            }
            Some(f) => {
                if distributed {
                    ex.emit(frame, EventType::MapRunFailed, || Some(f.as_output_lower()));
                }
                match ex.retry_delay(st, &f, &mut counts) {
                    // Only the final failure is recorded.
                    Some(d) => ex.clock.sleep(d).await,
                    None => {
                        ex.emit(frame, EventType::MapStateFailed, || None);
                        return Err(f);
                    }
                }
            }
        }
    }
}

/// The iterations of one Map run: at most `limit` runner tasks, each taking
/// the next item (in index order) from a shared queue until it is empty.
/// Spawning a task per item behind a semaphore cost a task allocation, a
/// semaphore wait and a join per item and kept both workers from running
/// items back to back; runners make an item's cost its own iteration.
struct MapFanOut {
    ex: Arc<Exec>,
    processor: Arc<StateMachine>,
    name: String,
    silent: bool,
    /// The Map state's scope; each iteration reads it through its own inner one.
    vars: Variables,
    base_prev: u64,
    queue: std::sync::Mutex<std::iter::Enumerate<std::vec::IntoIter<Value>>>,
    /// Without a tolerated failure threshold the first failure ends the run.
    stop_on_failure: bool,
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
    async fn run(self, runners: usize, n: usize) -> (Vec<Value>, usize, Option<Failure>, u64) {
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

#[cfg(test)]
mod size_tests {
    use super::json_size;
    use serde_json::json;

    #[test]
    fn json_size_is_the_compact_text_length() {
        for v in [
            json!(null),
            json!(true),
            json!(-12.5e-7),
            json!(18446744073709551615u64),
            json!("a\"b\\c\nd"),
            json!({"k": [1, 2.5, "x", {"n": null}], "é": false}),
        ] {
            assert_eq!(json_size(&v, usize::MAX), serde_json::to_string(&v).unwrap().len(), "{v}");
        }
    }
}
