//! Driving one execution: its names and context object, its
//! `ExecutionStarted` event, the run raced against the execution timeout,
//! StopExecution and a suspending Wait, and the terminal event.

use super::running::{Exec, Frame, ts};
use super::failure::Failure;
use super::machine::run_machine;
use super::variables::{Budget, Variables};
use super::{Engine, EngineConfig};
use crate::execution::{ExecutionOptions, ExecutionOutcome, ExecutionStatus, StopRequest};
use crate::clock::BoxFuture;
use crate::durable::{Progress, Resume};
use crate::history::{EventType, HistorySink};
use chrono::{DateTime, Utc};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use stepbox_asl::{StateMachine, compact};
use stepbox_types::{ExecutionArn, StateMachineArn};

/// The ARNs an execution goes by.
struct Names {
    arn: String,
    sm_arn: String,
    role: String,
}

impl Names {
    fn of(cfg: &EngineConfig, opts: &ExecutionOptions) -> Names {
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
        Names { arn, sm_arn, role }
    }
}

/// What an execution starts from.
struct Launch<'a> {
    sm: &'a Arc<StateMachine>,
    input: &'a Value,
    opts: &'a ExecutionOptions,
    start: DateTime<Utc>,
    resume: Option<&'a Resume>,
}

/// How the race of a run ended (one per execution, on the stack: boxing
/// the frame would cost an allocation per execution).
#[allow(clippy::large_enum_variant)]
enum End {
    Done(Result<Value, Failure>, Frame),
    TimedOut,
    Aborted(StopRequest),
    Suspended(DateTime<Utc>),
}

impl Engine {
    pub(super) async fn drive(
        &self,
        sm: Arc<StateMachine>,
        input: Value,
        opts: ExecutionOptions,
        sink: Arc<dyn HistorySink>,
        resume: Option<Resume>,
    ) -> Progress {
        let start = resume
            .as_ref()
            .map_or_else(|| self.clock.now(), |r| r.start_date);
        let names = Names::of(&self.config, &opts);
        let launch = Launch { sm: &sm, input: &input, opts: &opts, start, resume: resume.as_ref() };
        let exec = Arc::new(self.exec(&launch, &names, sink));
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
            let role = &names.role;
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
        let end = tokio::select! {
            (r, f) = run => End::Done(r, f),
            _ = timed_out(timeout) => End::TimedOut,
            stop = stopped(opts.abort.clone()) => End::Aborted(stop),
            until = suspended(exec.clone()) => End::Suspended(until),
        };
        if let End::Suspended(until) = end {
            return Progress::Suspended { until };
        }
        let mut outcome = ExecutionOutcome {
            status: ExecutionStatus::Succeeded,
            output: None,
            error: None,
            cause: None,
            execution_arn: names.arn,
            start_date: start,
            stop_date: start,
        };
        record_end(&exec, end, &mut outcome);
        outcome.stop_date = self.clock.now();
        Progress::Finished(outcome)
    }

    /// The execution's [`Exec`]; its context object is only built for
    /// machines that read `$$`.
    fn exec(&self, launch: &Launch<'_>, names: &Names, sink: Arc<dyn HistorySink>) -> Exec {
        let Launch { sm, input, opts, start, resume } = *launch;
        let ctx = sm.uses_context();
        Exec {
            tasks: self.tasks.clone(),
            clock: self.clock.clone(),
            config: self.config.clone(),
            services: self.services.clone(),
            random: self.random.clone(),
            events: sink.wants_events(),
            details: sink.wants_details(),
            checkpoints: sink.wants_checkpoints(),
            sink,
            next_id: AtomicU64::new(resume.map_or(0, |r| r.last_event_id)),
            name: opts.name.clone(),
            arn: names.arn.clone(),
            sm_arn: names.sm_arn.clone(),
            ctx_execution: if ctx {
                seeded(opts, "Execution", json!({
                    "Id": names.arn, "Input": input, "Name": opts.name, "RoleArn": names.role, "StartTime": ts(start), "RedriveCount": opts.redrive_count
                }))
            } else {
                Value::Null
            },
            ctx_state_machine: if ctx {
                seeded(opts, "StateMachine", json!({"Id": names.sm_arn, "Name": opts.state_machine_name}))
            } else {
                Value::Null
            },
            ctx_given: given_context(opts),
            root: sm.clone(),
            resume_from: Mutex::new(resume.and_then(|r| r.checkpoint.clone())),
            suspend_over: opts.suspend_waits_over,
            transitions: opts.transitions.clone(),
            deadline: sm
                .timeout_seconds
                .map(|s| start + chrono::Duration::seconds(s as i64)),
            suspended_until: Mutex::new(None),
            suspend_signal: tokio::sync::Notify::new(),
            var_budget: Budget::default(),
            mocks: opts.mocks.as_ref().map(|m| m.0.clone()),
        }
    }
}

/// `made`, with the members of the given context object's `member` in its place.
fn seeded(opts: &ExecutionOptions, member: &str, mut made: Value) -> Value {
    if let (Some(Value::Object(given)), Value::Object(m)) = (opts.context.as_ref().and_then(|c| c.get(member)), &mut made) {
        m.extend(given.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    made
}

/// The given context object's members other than `Execution` and
/// `StateMachine` (those are [`seeded`] once), if any.
fn given_context(opts: &ExecutionOptions) -> Option<serde_json::Map<String, Value>> {
    let given: serde_json::Map<String, Value> = opts
        .context
        .as_ref()?
        .iter()
        .filter(|(k, _)| !matches!(k.as_str(), "Execution" | "StateMachine"))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    (!given.is_empty()).then_some(given)
}

/// The terminal event, chained to the last event recorded, and the outcome's status.
fn record_end(exec: &Exec, end: End, outcome: &mut ExecutionOutcome) {
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
        End::Suspended(_) => unreachable!("a suspended run records no end"),
    }
}

/// Resolves when a Wait suspends the run: the time it wakes.
async fn suspended(exec: Arc<Exec>) -> DateTime<Utc> {
    loop {
        let signal = exec.suspend_signal.notified();
        if let Some(until) = *exec.suspended_until.lock().expect("suspend") {
            return until;
        }
        signal.await;
    }
}

/// Resolves when StopExecution asks to stop the run; never without a channel.
async fn stopped(mut abort: Option<tokio::sync::watch::Receiver<Option<StopRequest>>>) -> StopRequest {
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
}

/// Resolves when the execution timeout fires; never without one.
async fn timed_out(timeout: Option<BoxFuture<'static, ()>>) {
    match timeout {
        Some(t) => t.await,
        None => std::future::pending::<()>().await,
    }
}
