//! Service integration patterns of Task states: request-response invocation
//! (with HeartbeatSeconds fed by the task's heartbeats), `.waitForTaskToken`
//! callbacks, activities, nested executions (`states:startExecution`,
//! `.sync`, `.sync:2`) and the `aws-sdk:sfn` callback calls.

use super::ProgressLog;
use crate::exec::Engine;
use crate::exec::running::{Exec, Frame};
use crate::exec::failure::Failure;
use crate::callback::{Callbacks, CallbackWaiter, Signal};
use crate::clock::BoxFuture;
use crate::durable::StateProgress;
use crate::execution::ExecutionStatus;
use crate::history::EventType;
use crate::services::{ActivityTask, ChildOutcome, ChildRequest, StartedChild};
use crate::task::{Heartbeat, TaskRequest};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Map, Value, json};
use std::sync::Arc;
use std::time::Duration;
use stepbox_asl::resource::{Pattern, Resource, Target, TaskOutcome};
use stepbox_asl::{compact, errors};

/// What kind of work a Task resource asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::exec) enum Kind {
    /// Run the task through the invoker and take its result.
    Invoke,
    /// Run the task through the invoker, then wait for a task token callback.
    WaitForTaskToken,
    /// Queue the input for an activity worker and wait for its answer.
    Activity,
    /// Start a child execution (`states:startExecution` / `aws-sdk:sfn:startExecution`).
    StartExecution(Pattern),
    /// `aws-sdk:sfn:sendTaskSuccess|sendTaskFailure|sendTaskHeartbeat`.
    SendTaskOutcome(TaskOutcome),
}

impl Kind {
    /// Waits on the outside world (a token, a worker, a child execution):
    /// such a Task checkpoints its progress in a durable run.
    pub(in crate::exec) fn waits_outside(self) -> bool {
        matches!(self, Kind::WaitForTaskToken | Kind::Activity | Kind::StartExecution(_))
    }

    pub(in crate::exec) fn of(r: &Resource) -> Kind {
        match r.target {
            Target::Activity => Kind::Activity,
            // `aws-sdk:sfn:startExecution` only starts the child.
            Target::StartExecution if r.service == "states" => Kind::StartExecution(r.pattern),
            Target::StartExecution => Kind::StartExecution(Pattern::RequestResponse),
            Target::SendTask(what) => Kind::SendTaskOutcome(what),
            _ if r.pattern == Pattern::WaitForTaskToken => Kind::WaitForTaskToken,
            _ => Kind::Invoke,
        }
    }
}

/// Which history events a Task state records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(in crate::exec) enum Family {
    /// `LambdaFunction*` (a Lambda function ARN resource).
    Lambda,
    /// `Task*` (service integrations).
    Task,
    /// `Activity*`.
    Activity,
}

/// How an invocation stopped short of a result.
pub(in crate::exec) enum Stop {
    Failed(Failure),
    /// The named timeout (`States.Timeout`, `States.HeartbeatTimeout`) fired.
    TimedOut(&'static str),
}

/// The task's next heartbeat; never resolves without a heartbeat channel.
async fn next_beat(beats: &mut Option<tokio::sync::mpsc::UnboundedReceiver<()>>) -> Option<()> {
    match beats {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Waits for an optional timer; never resolves without one.
async fn until(timer: &mut Option<BoxFuture<'static, ()>>) {
    match timer {
        Some(t) => t.await,
        None => std::future::pending().await,
    }
}

fn sleep_secs(ex: &Exec, secs: Option<u64>) -> Option<BoxFuture<'static, ()>> {
    secs.map(|s| ex.clock.sleep(Duration::from_secs(s)))
}

/// Runs a task through the invoker under TimeoutSeconds (`total`) and
/// HeartbeatSeconds, which the task's own heartbeats reset.
pub(in crate::exec) async fn invoke(
    ex: &Exec,
    mut req: TaskRequest,
    total: &mut Option<BoxFuture<'static, ()>>,
    heartbeat_s: Option<u64>,
) -> Result<Value, Stop> {
    // The channel only where HeartbeatSeconds asks for one (most Tasks have none).
    let mut beats = None;
    if heartbeat_s.is_some() {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<()>();
        req.heartbeat = Some(Heartbeat(Arc::new(move || {
            let _ = tx.send(());
        })));
        beats = Some(rx);
    }
    let request_id = req.context.request_id.clone();
    // A service integration's failure is the service's own, not a Lambda envelope.
    let verbatim = req.resource.target == Target::Service;
    let mut call = ex.tasks.invoke(req);
    let mut hb = sleep_secs(ex, heartbeat_s);
    loop {
        tokio::select! {
            r = &mut call => {
                return r.map_err(|f| {
                    let cause = if verbatim { f.cause.clone() } else { f.aws_cause(&request_id) };
                    Stop::Failed(Failure::new(f.error.clone(), cause))
                });
            }
            _ = until(total) => return Err(Stop::TimedOut(errors::TIMEOUT)),
            _ = until(&mut hb) => return Err(Stop::TimedOut(errors::HEARTBEAT_TIMEOUT)),
            Some(()) = next_beat(&mut beats) => hb = sleep_secs(ex, heartbeat_s),
        }
    }
}

/// Closes a task token however its wait ends (result, timeout, abort).
struct TokenGuard {
    callbacks: Arc<dyn Callbacks>,
    token: String,
    /// The activity whose queue may still hold the task.
    activity: Option<String>,
    activities: Option<Arc<dyn crate::services::Activities>>,
}

impl Drop for TokenGuard {
    fn drop(&mut self) {
        self.callbacks.close(&self.token);
        if let (Some(arn), Some(a)) = (&self.activity, &self.activities) {
            a.withdraw(arn, &self.token);
        }
    }
}

/// The activity named by a Task resource does not exist (a States.Runtime error).
pub(in crate::exec) struct NoActivity(pub String);

fn iso(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::Millis, true)
}

/// One attempt of a Task state using a callback-style integration.
pub(in crate::exec) struct Call<'a> {
    pub ex: &'a Arc<Exec>,
    pub frame: &'a mut Frame,
    pub resource: &'a str,
    pub res_type: &'a str,
    pub res_name: &'a str,
    /// The effective parameters.
    pub params: &'a Value,
    pub timeout_s: Option<u64>,
    pub heartbeat_s: Option<u64>,
    /// The state's progress and where to checkpoint it.
    pub progress: &'a mut StateProgress,
    pub log: &'a ProgressLog<'a>,
    /// Resumed after a restart with the attempt already handed out
    /// (`progress.submitted`): wait for its answer, don't run it again.
    pub handed_out: bool,
    /// Resumed after a restart (handed out or not).
    pub resumed: bool,
}

impl Call<'_> {
    /// The task was handed out: a restart waits for its answer.
    fn handed(&mut self, submitted: Value) {
        self.progress.submitted = Some(submitted);
        self.progress.alive_at = Some(self.ex.clock.now());
        self.log.save(self.progress);
    }

    /// A heartbeat or a worker's pick-up: HeartbeatSeconds starts again.
    fn alive(&mut self) -> Option<BoxFuture<'static, ()>> {
        self.progress.alive_at = Some(self.ex.clock.now());
        self.log.save(self.progress);
        sleep_secs(self.ex, self.heartbeat_s)
    }

    /// HeartbeatSeconds of a resumed wait, from the last sign of life before the restart.
    fn resumed_heartbeat(&self) -> Option<BoxFuture<'static, ()>> {
        let h = self.heartbeat_s?;
        let from = self.progress.alive_at.unwrap_or_else(|| self.ex.clock.now());
        Some(self.ex.clock.sleep_until(from + chrono::Duration::seconds(h as i64)))
    }

    fn guard(&self, token: &str) -> TokenGuard {
        TokenGuard {
            callbacks: self.ex.services.callbacks.clone(),
            token: token.to_string(),
            activity: None,
            activities: None,
        }
    }

    fn submitted(&mut self, output: &Value) {
        let (t, r) = (self.res_type, self.res_name);
        self.ex.emit(self.frame, EventType::TaskSubmitted, || {
            Some(json!({"resourceType": t, "resource": r, "output": compact(output), "outputDetails": {"truncated": false}}))
        });
    }

    /// `.waitForTaskToken`: run the task (it hands the token on), record
    /// TaskSubmitted, then wait for SendTaskSuccess/Failure.
    pub(in crate::exec) async fn wait_for_token(
        mut self,
        req: TaskRequest,
        token: &str,
        total: &mut Option<BoxFuture<'static, ()>>,
        wrap: impl FnOnce(Value) -> Value,
    ) -> Result<Value, (Failure, bool)> {
        // Registered first: the outside world may answer before the task returns.
        let mut waiter = self.ex.services.callbacks.register(token, &self.ex.arn);
        let _guard = self.guard(token);
        if self.handed_out {
            let hb = self.resumed_heartbeat();
            return self.await_signal(&mut waiter, total, hb).await;
        }
        let out = match invoke(self.ex, req, total, None).await {
            Ok(v) => wrap(v),
            Err(Stop::Failed(f)) => return Err((f, false)),
            Err(Stop::TimedOut(name)) => return Err((Failure::new(name, ""), true)),
        };
        self.submitted(&out);
        self.handed(out);
        let hb = sleep_secs(self.ex, self.heartbeat_s);
        self.await_signal(&mut waiter, total, hb).await
    }

    /// Waits for the token's answer under TimeoutSeconds and HeartbeatSeconds.
    /// An expired heartbeat is reported as `States.Timeout`, as AWS records it
    /// for callback tasks.
    async fn await_signal(
        &mut self,
        waiter: &mut CallbackWaiter,
        total: &mut Option<BoxFuture<'static, ()>>,
        mut hb: Option<BoxFuture<'static, ()>>,
    ) -> Result<Value, (Failure, bool)> {
        loop {
            tokio::select! {
                s = waiter.next() => match s {
                    Some(Signal::Succeeded(v)) => return Ok(v),
                    Some(Signal::Failed { error, cause }) => {
                        return Err((Failure { error, cause, nulls: true }, false));
                    }
                    Some(Signal::Heartbeat) => hb = self.alive(),
                    Some(Signal::Started { worker_name }) => {
                        self.progress.picked_up = true;
                        self.ex.emit(self.frame, EventType::ActivityStarted, || {
                            Some(match worker_name {
                                Some(w) => json!({"workerName": w}),
                                None => json!({}),
                            })
                        });
                        hb = self.alive();
                    }
                    // The registry forgot the token: only a timeout can end the wait.
                    None => {
                        tokio::select! {
                            _ = until(total) => {}
                            _ = until(&mut hb) => {}
                        }
                        return Err((Failure::new(errors::TIMEOUT, ""), true));
                    }
                },
                _ = until(total) => return Err((Failure::new(errors::TIMEOUT, ""), true)),
                _ = until(&mut hb) => return Err((Failure::new(errors::TIMEOUT, ""), true)),
            }
        }
    }

    /// An activity task: queue it for a worker (ActivityScheduled), record
    /// ActivityStarted when one takes it, and wait for its answer.
    ///
    /// Resumed after a restart, the task is offered again unless a worker
    /// had taken it (that worker may still answer with its token).
    pub(in crate::exec) async fn activity(
        mut self,
        input: &Value,
        token: &str,
        total: &mut Option<BoxFuture<'static, ()>>,
    ) -> Result<Result<Value, (Failure, bool)>, NoActivity> {
        let missing = || NoActivity(format!("The activity {} does not exist.", self.resource));
        let Some(activities) = self.ex.services.activities.clone() else {
            return Err(missing());
        };
        let mut waiter = self.ex.services.callbacks.register(token, &self.ex.arn);
        let mut guard = self.guard(token);
        let task = ActivityTask { token: token.to_string(), input: compact(input) };
        let offer = !(self.handed_out && self.progress.picked_up);
        if offer && !activities.schedule(self.resource, task).await {
            return Err(missing());
        }
        guard.activity = Some(self.resource.to_string());
        guard.activities = Some(activities);
        if self.handed_out {
            let hb = if self.progress.picked_up { self.resumed_heartbeat() } else { None };
            return Ok(self.await_signal(&mut waiter, total, hb).await);
        }
        let (resource, timeout_s, heartbeat_s) = (self.resource, self.timeout_s, self.heartbeat_s);
        self.ex.emit(self.frame, EventType::ActivityScheduled, || {
            let mut d = json!({"resource": resource, "input": compact(input), "inputDetails": {"truncated": false}});
            if let Some(t) = timeout_s {
                d["timeoutInSeconds"] = json!(t);
            }
            if let Some(h) = heartbeat_s {
                d["heartbeatInSeconds"] = json!(h);
            }
            Some(d)
        });
        self.handed(json!({}));
        // The heartbeat clock starts when a worker takes the task.
        Ok(self.await_signal(&mut waiter, total, None).await)
    }

    /// `states:startExecution[.sync|.sync:2|.waitForTaskToken]` and `aws-sdk:sfn:startExecution`.
    pub(in crate::exec) async fn start_execution(
        mut self,
        pattern: Pattern,
        token: Option<&str>,
        total: &mut Option<BoxFuture<'static, ()>>,
    ) -> Result<Value, (Failure, bool)> {
        let (executions, req) = self.child_request()?;
        let mut waiter = match (pattern, token) {
            (Pattern::RequestResponse, _) | (_, None) => None,
            (_, Some(t)) => Some((self.ex.services.callbacks.register(t, &self.ex.arn), self.guard(t))),
        };
        if self.handed_out && pattern == Pattern::WaitForTaskToken {
            // The child runs on its own; only its answer is awaited.
            let hb = self.resumed_heartbeat();
            return self.await_child_token(waiter.as_mut().map(|(w, _)| w), total, hb).await;
        }
        let engine = Engine {
            tasks: self.ex.tasks.clone(),
            clock: self.ex.clock.clone(),
            config: self.ex.config.clone(),
            services: self.ex.services.clone(),
            random: self.ex.random.clone(),
        };
        let input = req.input.clone();
        let child = executions.start(&engine, req).await.map_err(service_failure)?;
        let started = json!({"ExecutionArn": child.execution_arn, "StartDate": iso(child.start_date)});
        match pattern {
            Pattern::RequestResponse => return Ok(started),
            Pattern::WaitForTaskToken => {
                self.submitted(&started);
                self.handed(started);
                let hb = sleep_secs(self.ex, self.heartbeat_s);
                return self.await_child_token(waiter.as_mut().map(|(w, _)| w), total, hb).await;
            }
            Pattern::Sync | Pattern::Sync2 if self.handed_out => {}
            Pattern::Sync | Pattern::Sync2 => {
                self.submitted(&started);
                self.handed(started);
            }
        }
        let StartedChild { execution_arn, state_machine_arn, name, start_date, finished } = child;
        // SendTaskSuccess/Failure with the Task's token ends it before the
        // child does (the child runs on).
        let outcome: ChildOutcome = tokio::select! {
            o = finished => o,
            r = answered(waiter.as_mut().map(|(w, _)| w)) => return r,
            _ = until(total) => return Err((Failure::new(errors::TIMEOUT, ""), true)),
        };
        let child = Child { execution_arn, state_machine_arn, name, start_date, input };
        let d = child.describe(&outcome, pattern == Pattern::Sync2);
        match outcome.status {
            ExecutionStatus::Succeeded => Ok(d),
            _ => Err((Failure::new(errors::TASK_FAILED, compact(&d)), false)),
        }
    }

    /// The nested-execution service and the child to start: `StateMachineArn`,
    /// `Input` (absent or null is `{}`; a string is JSON text, as
    /// StartExecution's input) and `Name` (chosen beforehand in a durable
    /// run, so a restart finds the same child).
    fn child_request(&self) -> Result<(Arc<dyn crate::services::Executions>, ChildRequest), (Failure, bool)> {
        let Some(sm_arn) = self.params.get("StateMachineArn").and_then(Value::as_str) else {
            return Err((
                Failure::new(
                    errors::RUNTIME,
                    "The field 'StateMachineArn' is required to start an execution.",
                ),
                false,
            ));
        };
        let Some(executions) = self.ex.services.executions.clone() else {
            return Err(service_failure(crate::services::state_machine_does_not_exist(sm_arn)));
        };
        let input = match self.params.get("Input") {
            None | Some(Value::Null) => json!({}),
            Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
            Some(v) => v.clone(),
        };
        let req = ChildRequest {
            state_machine_arn: sm_arn.to_string(),
            name: self
                .progress
                .child_name
                .clone()
                .or_else(|| self.params.get("Name").and_then(Value::as_str).map(str::to_string)),
            input,
            parent_execution_arn: self.ex.arn.clone(),
            reattach: self.resumed,
        };
        Ok((executions, req))
    }

    /// `.waitForTaskToken` on a child: the answer to the Task's token.
    async fn await_child_token(
        &mut self,
        waiter: Option<&mut CallbackWaiter>,
        total: &mut Option<BoxFuture<'static, ()>>,
        hb: Option<BoxFuture<'static, ()>>,
    ) -> Result<Value, (Failure, bool)> {
        match waiter {
            Some(w) => self.await_signal(w, total, hb).await,
            None => Err((Failure::new(errors::RUNTIME, "No task token for the callback."), false)),
        }
    }

    /// `aws-sdk:sfn:sendTaskSuccess|Failure|Heartbeat` from inside a workflow.
    pub(in crate::exec) fn send_task_outcome(self, what: TaskOutcome) -> Result<Value, (Failure, bool)> {
        let field = |k: &str| self.params.get(k).and_then(Value::as_str).map(str::to_string);
        let token = field("TaskToken").unwrap_or_default();
        let signal = match what {
            TaskOutcome::Success => {
                let out = match self.params.get("Output") {
                    Some(Value::String(s)) => serde_json::from_str(s).unwrap_or_else(|_| Value::String(s.clone())),
                    Some(v) => v.clone(),
                    None => Value::Null,
                };
                Signal::Succeeded(out)
            }
            TaskOutcome::Failure => Signal::Failed { error: field("Error"), cause: field("Cause") },
            TaskOutcome::Heartbeat => Signal::Heartbeat,
        };
        match self.ex.services.callbacks.signal(&token, signal) {
            Ok(()) => Ok(json!({})),
            Err(e) => Err((
                Failure::new(
                    format!("Sfn.{}Exception", e.api_name()),
                    format!(
                        "{e} (Service: Sfn, Status Code: 400, Request ID: {}) (SDK Attempt Count: 1)",
                        stepbox_asl::uuid_v4()
                    ),
                ),
                false,
            )),
        }
    }
}

/// A service error keeps its cause as is (no Lambda envelope).
fn service_failure(f: crate::task::TaskFailure) -> (Failure, bool) {
    (Failure::new(f.error, f.cause), false)
}

/// Resolves with SendTaskSuccess/Failure on the Task's token; never without one.
async fn answered(waiter: Option<&mut CallbackWaiter>) -> Result<Value, (Failure, bool)> {
    let Some(w) = waiter else {
        return std::future::pending::<Result<Value, (Failure, bool)>>().await;
    };
    loop {
        match w.next().await {
            Some(Signal::Succeeded(v)) => return Ok(v),
            Some(Signal::Failed { error, cause }) => return Err((Failure { error, cause, nulls: true }, false)),
            Some(Signal::Heartbeat | Signal::Started { .. }) => {}
            None => std::future::pending::<()>().await,
        }
    }
}

/// A finished child execution, as `.sync` reports it.
struct Child {
    execution_arn: String,
    state_machine_arn: String,
    name: String,
    start_date: DateTime<Utc>,
    input: Value,
}

impl Child {
    /// DescribeExecution's fields in AWS's (alphabetical) order; input and
    /// output as JSON (`.sync:2`) or JSON text (`.sync`).
    fn describe(self, outcome: &ChildOutcome, as_json: bool) -> Value {
        let mut d = Map::new();
        if outcome.status != ExecutionStatus::Succeeded {
            // An empty cause (a timeout) is left out, as AWS does.
            if let Some(c) = outcome.cause.as_ref().filter(|c| !c.is_empty()) {
                d.insert("Cause".into(), json!(c));
            }
            if let Some(e) = &outcome.error {
                d.insert("Error".into(), json!(e));
            }
        }
        d.insert("ExecutionArn".into(), json!(self.execution_arn));
        d.insert("Input".into(), if as_json { self.input } else { json!(compact(&self.input)) });
        d.insert("InputDetails".into(), json!({"Included": true}));
        d.insert("Name".into(), json!(self.name));
        if let (ExecutionStatus::Succeeded, Some(out)) = (outcome.status, &outcome.output) {
            d.insert("Output".into(), if as_json { out.clone() } else { json!(compact(out)) });
            d.insert("OutputDetails".into(), json!({"Included": true}));
        }
        d.insert("StartDate".into(), json!(iso(self.start_date)));
        d.insert("StateMachineArn".into(), json!(self.state_machine_arn));
        d.insert("Status".into(), json!(outcome.status.as_str()));
        d.insert("StopDate".into(), json!(iso(outcome.stop_date)));
        Value::Object(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(arn: &str) -> Kind {
        Kind::of(&Resource::parse(arn).expect("a resource"))
    }

    #[test]
    fn kinds() {
        assert_eq!(kind("arn:aws:states:::sqs:sendMessage.waitForTaskToken"), Kind::WaitForTaskToken);
        assert_eq!(kind("arn:aws:states:::sqs:sendMessage"), Kind::Invoke);
        assert_eq!(kind("arn:aws:states:::states:startExecution.sync:2"), Kind::StartExecution(Pattern::Sync2));
        assert_eq!(kind("arn:aws:states:::aws-sdk:sfn:startExecution"), Kind::StartExecution(Pattern::RequestResponse));
        assert_eq!(kind("arn:aws:states:::lambda:invoke"), Kind::Invoke);
        assert_eq!(kind("arn:aws:states:us-east-1:111111111111:activity:a"), Kind::Activity);
        assert_eq!(kind("arn:aws:states:::aws-sdk:sfn:sendTaskSuccess"), Kind::SendTaskOutcome(TaskOutcome::Success));
        assert_eq!(kind("arn:aws:lambda:us-east-1:111111111111:function:f"), Kind::Invoke);
    }
}
