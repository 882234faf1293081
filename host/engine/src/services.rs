//! Services the interpreter reaches beyond task invocation: task-token
//! callbacks, activity queues and nested executions. Each is a trait so the
//! server (and a durable store) can supply its own; in-memory versions live here.

use crate::callback::{Callbacks, MemoryCallbacks};
use crate::clock::{BoxFuture, Clock, TokioClock};
use crate::execution::{ExecutionOptions, ExecutionOutcome, ExecutionStatus};
use crate::history::{HistorySink, NullSink};
use crate::task::TaskFailure;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::collections::{BTreeMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::StateMachine;
use stepbox_types::StateMachineArn;

/// What the engine uses besides tasks and the clock.
#[derive(Clone)]
pub struct Services {
    pub callbacks: Arc<dyn Callbacks>,
    /// Activity queues (`arn:aws:states:R:A:activity:NAME` resources); none: such states fail.
    pub activities: Option<Arc<dyn Activities>>,
    /// Nested executions (`arn:aws:states:::states:startExecution`); none: such states fail.
    pub executions: Option<Arc<dyn Executions>>,
    /// Buckets a Map's ItemReader reads and its ResultWriter writes; none: such Maps fail.
    pub objects: Option<Arc<dyn crate::objects::Objects>>,
    /// A DISTRIBUTED Map's children as executions of their own; none: they
    /// run inside the parent, as an INLINE Map's iterations.
    pub map_runs: Option<Arc<dyn crate::map_runs::MapRuns>>,
}

impl Default for Services {
    fn default() -> Self {
        Services { callbacks: Arc::new(MemoryCallbacks::new()), activities: None, executions: None, objects: None, map_runs: None }
    }
}

/// One activity task waiting for a worker.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityTask {
    pub token: String,
    /// The task input as JSON text (what GetActivityTask returns).
    pub input: String,
}

/// Activity queues as the engine sees them.
pub trait Activities: Send + Sync {
    /// Queues `task` for workers of `activity_arn`; resolves to `false` if
    /// no such activity exists. (In memory it is ready at once; a store
    /// several hosts share may have to look the activity up.)
    fn schedule(&self, activity_arn: &str, task: ActivityTask) -> BoxFuture<'static, bool>;
    /// Takes back a task no worker picked up yet (it timed out or was aborted).
    fn withdraw(&self, activity_arn: &str, token: &str);
}

/// A registered activity.
#[derive(Debug, Clone, PartialEq)]
pub struct ActivityRecord {
    pub arn: String,
    pub name: String,
    pub creation_date: DateTime<Utc>,
}

struct Queue {
    record: ActivityRecord,
    tasks: VecDeque<ActivityTask>,
    ready: Arc<tokio::sync::Notify>,
}

/// In-memory activities: definitions plus their task queues.
pub struct MemoryActivities {
    queues: Mutex<BTreeMap<String, Queue>>,
    /// What a [poll](Self::poll)'s wait is timed on.
    clock: Arc<dyn Clock>,
}

impl Default for MemoryActivities {
    fn default() -> Self {
        Self::with_clock(Arc::new(TokioClock))
    }
}

impl MemoryActivities {
    /// Activities whose polls wait on real time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Activities whose polls wait on `clock`.
    pub fn with_clock(clock: Arc<dyn Clock>) -> Self {
        MemoryActivities { queues: Mutex::default(), clock }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<String, Queue>> {
        self.queues.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Creates the activity (idempotent, as CreateActivity) and returns its record.
    pub fn create(&self, arn: &str, name: &str, now: DateTime<Utc>) -> ActivityRecord {
        self.lock()
            .entry(arn.to_string())
            .or_insert_with(|| Queue {
                record: ActivityRecord { arn: arn.into(), name: name.into(), creation_date: now },
                tasks: VecDeque::new(),
                ready: Arc::new(tokio::sync::Notify::new()),
            })
            .record
            .clone()
    }

    pub fn describe(&self, arn: &str) -> Option<ActivityRecord> {
        self.lock().get(arn).map(|q| q.record.clone())
    }

    /// Deletes the activity; queued tasks stay unanswered (their states time out, as in AWS).
    pub fn delete(&self, arn: &str) {
        if let Some(q) = self.lock().remove(arn) {
            q.ready.notify_waiters();
        }
    }

    pub fn list(&self) -> Vec<ActivityRecord> {
        self.lock().values().map(|q| q.record.clone()).collect()
    }

    /// Queues `task` for workers of `activity_arn`; `false` if no such activity exists.
    pub fn queue(&self, activity_arn: &str, task: ActivityTask) -> bool {
        let mut g = self.lock();
        let Some(q) = g.get_mut(activity_arn) else { return false };
        q.tasks.push_back(task);
        q.ready.notify_one();
        true
    }

    /// Takes the oldest task of `arn`, waiting up to `wait` for one.
    /// `None` when the wait ends empty-handed or the activity does not exist.
    pub async fn poll(&self, arn: &str, wait: Duration) -> Option<ActivityTask> {
        let mut deadline = self.clock.sleep(wait);
        loop {
            let ready = {
                let mut g = self.lock();
                let q = g.get_mut(arn)?;
                if let Some(t) = q.tasks.pop_front() {
                    return Some(t);
                }
                q.ready.clone()
            };
            let notified = ready.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            // A task may have arrived between the check and enabling the wake-up.
            if self.lock().get(arn).is_some_and(|q| !q.tasks.is_empty()) {
                continue;
            }
            tokio::select! {
                biased;
                _ = notified => {}
                _ = &mut deadline => return None,
            }
        }
    }
}

impl Activities for MemoryActivities {
    fn schedule(&self, activity_arn: &str, task: ActivityTask) -> BoxFuture<'static, bool> {
        let queued = self.queue(activity_arn, task);
        Box::pin(std::future::ready(queued))
    }

    fn withdraw(&self, activity_arn: &str, token: &str) {
        if let Some(q) = self.lock().get_mut(activity_arn) {
            q.tasks.retain(|t| t.token != token);
        }
    }
}

/// A child execution a Task state asks for.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildRequest {
    pub state_machine_arn: String,
    /// Execution name; a UUID when absent.
    pub name: Option<String>,
    pub input: Value,
    /// The execution whose Task state starts the child.
    pub parent_execution_arn: String,
    /// The parent resumed after a restart: an execution of this name, if
    /// there is one, is the child it started before (attach to it).
    pub reattach: bool,
}

/// How a child execution ended: the DescribeExecution fields `.sync` reports.
#[derive(Debug, Clone, PartialEq)]
pub struct ChildOutcome {
    pub status: ExecutionStatus,
    pub output: Option<Value>,
    pub error: Option<String>,
    pub cause: Option<String>,
    pub stop_date: DateTime<Utc>,
}

/// A started child execution.
pub struct StartedChild {
    pub execution_arn: String,
    pub state_machine_arn: String,
    pub name: String,
    pub start_date: DateTime<Utc>,
    /// Resolves when the child ends.
    pub finished: BoxFuture<'static, ChildOutcome>,
}

/// Starts nested executions (`states:startExecution`).
pub trait Executions: Send + Sync {
    /// Starts `req`, a child of an execution `runner` runs. Failures use the
    /// names the integration reports, e.g.
    /// `StepFunctions.StateMachineDoesNotExistException`. Resolves once the
    /// child is started (a durable start: recorded).
    fn start(&self, runner: &dyn ChildRunner, req: ChildRequest) -> BoxFuture<'static, Result<StartedChild, TaskFailure>>;
}

/// What [`Executions::start`] gets of the engine running the parent
/// (implemented by [`Engine`](crate::Engine)): its clock, and a way to run
/// a child execution on it.
pub trait ChildRunner: Send + Sync {
    fn clock(&self) -> &Arc<dyn Clock>;
    /// Runs `sm` on `input` to its end (in memory: no checkpoints).
    fn run(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
    ) -> BoxFuture<'static, ExecutionOutcome>;
}

/// The failure AWS reports for an unknown state machine ARN.
pub fn state_machine_does_not_exist(arn: &str) -> TaskFailure {
    TaskFailure::new(
        "StepFunctions.StateMachineDoesNotExistException",
        format!(
            "State Machine Does Not Exist: '{arn}' (Service: AWSStepFunctions; Status Code: 400; \
             Error Code: StateMachineDoesNotExist; Request ID: {}; Proxy: null)",
            stepbox_asl::uuid_v4()
        ),
    )
}

/// Nested executions over a fixed set of state machines, run on the
/// parent's engine without recording history (for `stepbox run` and tests).
#[derive(Default)]
pub struct LocalExecutions {
    machines: Mutex<BTreeMap<String, Arc<StateMachine>>>,
}

impl LocalExecutions {
    pub fn new() -> Self {
        Self::default()
    }

    /// Makes `sm` startable as `arn` (`arn:aws:states:R:A:stateMachine:NAME`).
    pub fn insert(&self, arn: &str, sm: Arc<StateMachine>) {
        self.machines.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.to_string(), sm);
    }
}

impl Executions for LocalExecutions {
    fn start(&self, runner: &dyn ChildRunner, req: ChildRequest) -> BoxFuture<'static, Result<StartedChild, TaskFailure>> {
        Box::pin(std::future::ready(self.start_now(runner, req)))
    }
}

impl LocalExecutions {
    fn start_now(&self, runner: &dyn ChildRunner, req: ChildRequest) -> Result<StartedChild, TaskFailure> {
        let sm = self
            .machines
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&req.state_machine_arn)
            .cloned()
            .ok_or_else(|| state_machine_does_not_exist(&req.state_machine_arn))?;
        let sm_arn = StateMachineArn::parse(&req.state_machine_arn)
            .map_err(|_| state_machine_does_not_exist(&req.state_machine_arn))?;
        let sm_name = sm_arn.name().to_string();
        let name = req.name.clone().unwrap_or_else(stepbox_asl::uuid_v4);
        let arn = sm_arn.execution(&name).to_string();
        let clock = runner.clock().clone();
        let start_date = clock.now();
        let opts = ExecutionOptions {
            name: name.clone(),
            execution_arn: Some(arn.clone()),
            state_machine_name: sm_name,
            state_machine_arn: Some(req.state_machine_arn.clone()),
            ..Default::default()
        };
        let run = runner.run(sm, req.input, opts, Arc::new(NullSink));
        let (tx, rx) = tokio::sync::oneshot::channel();
        tokio::spawn(async move {
            let o = run.await;
            let _ = tx.send(ChildOutcome {
                status: o.status,
                output: o.output,
                error: o.error,
                cause: o.cause,
                stop_date: o.stop_date,
            });
        });
        Ok(StartedChild {
            execution_arn: arn,
            state_machine_arn: req.state_machine_arn,
            name,
            start_date,
            finished: Box::pin(async move {
                rx.await.unwrap_or_else(|_| ChildOutcome {
                    status: ExecutionStatus::Aborted,
                    output: None,
                    error: None,
                    cause: None,
                    stop_date: clock.now(),
                })
            }),
        })
    }
}
