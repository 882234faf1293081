//! Task tokens, heartbeats, activities and nested executions, on virtual time.

use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::StateMachine;
use stepbox_engine::{
    BoxFuture, CallbackError, Callbacks, Clock, Engine, ExecutionOptions, ExecutionOutcome,
    ExecutionStatus, LocalExecutions, ManualClock, MemoryActivities, MemoryCallbacks, Services,
    Signal, TaskFailure, TaskInvoker, TaskRequest, VecSink,
};

/// What the fake outside world does with a task.
#[derive(Clone)]
enum World {
    /// Answer the token after `after` with this signal (after heartbeats every `beat`).
    Answer { after: u64, beat: Option<u64>, signal: Signal },
    /// Never answer.
    Silent,
    /// A normal task that runs `secs` seconds, heartbeating every `beat`.
    Run { secs: u64, beat: Option<u64> },
}

struct Fake {
    clock: Arc<ManualClock>,
    callbacks: Arc<MemoryCallbacks>,
    world: World,
    tokens: Mutex<Vec<String>>,
}

impl TaskInvoker for Fake {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        let clock = self.clock.clone();
        let callbacks = self.callbacks.clone();
        let world = self.world.clone();
        if let Some(t) = &req.context.task_token {
            self.tokens.lock().unwrap().push(t.clone());
        }
        Box::pin(async move {
            match world {
                World::Answer { after, beat, signal } => {
                    let token = req.context.task_token.clone().expect("a task token");
                    tokio::spawn(async move {
                        let mut waited = 0;
                        if let Some(b) = beat {
                            while waited + b < after {
                                clock.sleep(Duration::from_secs(b)).await;
                                waited += b;
                                callbacks.signal(&token, Signal::Heartbeat).unwrap();
                            }
                        }
                        clock.sleep(Duration::from_secs(after - waited)).await;
                        callbacks.signal(&token, signal).unwrap();
                    });
                    Ok(json!({"MessageId": "m-1"}))
                }
                World::Silent => Ok(json!({"MessageId": "m-1"})),
                World::Run { secs, beat } => {
                    let mut left = secs;
                    while left > 0 {
                        let step = beat.unwrap_or(left).min(left);
                        clock.sleep(Duration::from_secs(step)).await;
                        left -= step;
                        if beat.is_some() {
                            req.heartbeat.as_ref().expect("heartbeat line").beat();
                        }
                    }
                    Ok(json!({"ran": secs}))
                }
            }
        })
    }
}

struct Run {
    outcome: ExecutionOutcome,
    types: Vec<&'static str>,
    callbacks: Arc<MemoryCallbacks>,
    tokens: Vec<String>,
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 1, 0, 0, 0).unwrap()
}

async fn run(def: Value, input: Value, world: World, extra: impl FnOnce(&mut Services)) -> Run {
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let clock = ManualClock::auto(t0());
    let callbacks = Arc::new(MemoryCallbacks::new());
    let fake = Arc::new(Fake { clock: clock.clone(), callbacks: callbacks.clone(), world, tokens: Mutex::default() });
    let mut services = Services { callbacks: callbacks.clone(), ..Default::default() };
    extra(&mut services);
    let engine = Engine::new(fake.clone(), clock.clone()).with_services(services);
    let sink = Arc::new(VecSink::new());
    let opts = ExecutionOptions { name: "ex1".into(), state_machine_name: "sm1".into(), ..Default::default() };
    let outcome = engine.start(sm, input, opts, sink.clone()).await;
    let tokens = fake.tokens.lock().unwrap().clone();
    Run { outcome, types: sink.types(), callbacks, tokens }
}

fn wait_for_token(extra: Value) -> Value {
    let mut task = json!({
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
        "End": true
    });
    for (k, v) in extra.as_object().unwrap() {
        task[k] = v.clone();
    }
    json!({"StartAt": "Wait", "States": {"Wait": task}})
}

#[tokio::test(flavor = "current_thread")]
async fn a_callback_success_is_the_task_result() {
    let world = World::Answer { after: 30, beat: None, signal: Signal::Succeeded(json!({"approved": true})) };
    let r = run(wait_for_token(json!({})), json!({}), world, |_| {}).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded, "{:?}", r.outcome);
    assert_eq!(r.outcome.output, Some(json!({"approved": true})));
    assert_eq!(
        r.types,
        [
            "ExecutionStarted", "TaskStateEntered", "TaskScheduled", "TaskStarted", "TaskSubmitted",
            "TaskSucceeded", "TaskStateExited", "ExecutionSucceeded"
        ]
    );
    // The token is spent: a second answer is refused as AWS does.
    assert_eq!(
        r.callbacks.signal(&r.tokens[0], Signal::Succeeded(json!(1))),
        Err(CallbackError::TaskTimedOut)
    );
}

#[tokio::test(flavor = "current_thread")]
async fn an_unanswered_token_times_out() {
    let r = run(wait_for_token(json!({"TimeoutSeconds": 5})), json!({}), World::Silent, |_| {}).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    assert!(r.types.contains(&"TaskTimedOut"), "{:?}", r.types);
    assert_eq!(r.callbacks.signal(&r.tokens[0], Signal::Heartbeat), Err(CallbackError::TaskTimedOut));
    assert_eq!(r.callbacks.waiting(), 0);
}

#[tokio::test(flavor = "current_thread")]
async fn heartbeats_keep_a_callback_alive_and_their_absence_ends_it() {
    let def = wait_for_token(json!({"TimeoutSeconds": 600, "HeartbeatSeconds": 5}));
    let alive = World::Answer { after: 20, beat: Some(3), signal: Signal::Succeeded(json!("done")) };
    let r = run(def.clone(), json!({}), alive, |_| {}).await;
    assert_eq!(r.outcome.output, Some(json!("done")), "{:?}", r.outcome);
    let late = World::Answer { after: 20, beat: None, signal: Signal::Succeeded(json!("late")) };
    let r = run(def, json!({}), late, |_| {}).await;
    // AWS reports an expired callback heartbeat as States.Timeout (corpus: test_heartbeat_timeout).
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    assert!(r.types.contains(&"TaskTimedOut"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_failure_without_error_or_cause_is_caught_with_nulls() {
    let mut def = wait_for_token(json!({
        "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "Caught"}]
    }));
    def["States"]["Wait"].as_object_mut().unwrap().remove("End");
    def["States"]["Wait"]["Next"] = json!("Caught");
    def["States"]["Caught"] = json!({"Type": "Pass", "End": true});
    let world = World::Answer { after: 1, beat: None, signal: Signal::Failed { error: None, cause: None } };
    let r = run(def, json!({"a": 1}), world, |_| {}).await;
    assert_eq!(r.outcome.output, Some(json!({"a": 1, "err": {"Error": null, "Cause": null}})));
    assert!(r.types.contains(&"TaskFailed"));
}

#[tokio::test(flavor = "current_thread")]
async fn task_heartbeats_reset_heartbeat_seconds() {
    let def = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:work", "HeartbeatSeconds": 2, "End": true}}});
    let r = run(def.clone(), json!({}), World::Run { secs: 10, beat: Some(1) }, |_| {}).await;
    assert_eq!(r.outcome.output, Some(json!({"ran": 10})), "{:?}", r.outcome);
    let r = run(def, json!({}), World::Run { secs: 10, beat: None }, |_| {}).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.HeartbeatTimeout"));
}

const ACTIVITY: &str = "arn:aws:states:us-east-1:111111111111:activity:approve";

#[tokio::test(flavor = "current_thread")]
async fn an_activity_worker_answers_through_the_token() {
    let activities = Arc::new(MemoryActivities::new());
    activities.create(ACTIVITY, "approve", t0());
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ACTIVITY, "End": true}}});
    let worker_side = activities.clone();
    let callbacks = Arc::new(MemoryCallbacks::new());
    let cb = callbacks.clone();
    let worker = tokio::spawn(async move {
        let task = worker_side.poll(ACTIVITY, Duration::from_secs(5)).await.expect("a task");
        cb.signal(&task.token, Signal::Started { worker_name: Some("w1".into()) }).unwrap();
        let input: Value = serde_json::from_str(&task.input).unwrap();
        cb.signal(&task.token, Signal::Succeeded(json!({"seen": input}))).unwrap();
    });
    let acts = activities.clone();
    let r = run(def, json!({"order": 7}), World::Silent, |s| {
        s.callbacks = callbacks.clone();
        s.activities = Some(acts);
    })
    .await;
    worker.await.unwrap();
    assert_eq!(r.outcome.output, Some(json!({"seen": {"order": 7}})), "{:?}", r.outcome);
    assert_eq!(
        r.types,
        [
            "ExecutionStarted", "TaskStateEntered", "ActivityScheduled", "ActivityStarted",
            "ActivitySucceeded", "TaskStateExited", "ExecutionSucceeded"
        ]
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_missing_activity_is_a_runtime_error_and_an_idle_one_times_out() {
    let activities = Arc::new(MemoryActivities::new());
    let def = json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": ACTIVITY, "TimeoutSeconds": 5, "End": true}}});
    let acts = activities.clone();
    let r = run(def.clone(), json!({}), World::Silent, |s| s.activities = Some(acts)).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some(format!("An error occurred while executing the state 'A' (entered at the event id #2). The activity {ACTIVITY} does not exist.").as_str())
    );
    activities.create(ACTIVITY, "approve", t0());
    let acts = activities.clone();
    let r = run(def, json!({}), World::Silent, |s| s.activities = Some(acts)).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(r.types[2..5], ["ActivityScheduled", "ActivityTimedOut", "ExecutionFailed"]);
    // The timed-out task left the queue.
    assert!(activities.poll(ACTIVITY, Duration::ZERO).await.is_none());
}

const CHILD: &str = "arn:aws:states:us-east-1:111111111111:stateMachine:child";

fn children() -> Arc<LocalExecutions> {
    let ex = Arc::new(LocalExecutions::new());
    let ok = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"Arg1": "argument1"}, "End": true}}});
    ex.insert(CHILD, Arc::new(StateMachine::from_value(&ok).unwrap()));
    let bad = json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "Error": "SomeFailure", "Cause": "boom"}}});
    ex.insert(&format!("{CHILD}-fails"), Arc::new(StateMachine::from_value(&bad).unwrap()));
    ex
}

fn start_execution(resource: &str) -> Value {
    json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": resource,
        "Parameters": {"StateMachineArn.$": "$.Arn", "Input.$": "$.Input", "Name": "kid"}, "End": true}}})
}

#[tokio::test(flavor = "current_thread")]
async fn nested_executions_sync_and_sync2() {
    let with = |s: &mut Services| s.executions = Some(children());
    let r = run(start_execution("arn:aws:states:::states:startExecution.sync"), json!({"Arn": CHILD, "Input": null}), World::Silent, with).await;
    let out = r.outcome.output.expect("output");
    assert_eq!(out["Output"], json!("{\"Arg1\":\"argument1\"}"));
    assert_eq!(out["Input"], json!("{}"));
    assert_eq!(out["Status"], "SUCCEEDED");
    assert_eq!(out["ExecutionArn"], "arn:aws:states:us-east-1:111111111111:execution:child:kid");
    assert_eq!(r.types[2..6], ["TaskScheduled", "TaskStarted", "TaskSubmitted", "TaskSucceeded"]);

    let r = run(start_execution("arn:aws:states:::states:startExecution.sync:2"), json!({"Arn": CHILD, "Input": {"x": 1}}), World::Silent, with).await;
    let out = r.outcome.output.expect("output");
    assert_eq!(out["Output"], json!({"Arg1": "argument1"}));
    assert_eq!(out["Input"], json!({"x": 1}));

    let r = run(start_execution("arn:aws:states:::states:startExecution"), json!({"Arn": CHILD, "Input": "{}"}), World::Silent, with).await;
    let out = r.outcome.output.expect("output");
    assert_eq!(out.as_object().unwrap().keys().collect::<Vec<_>>(), ["ExecutionArn", "StartDate"]);
    assert!(!r.types.contains(&"TaskSubmitted"));
}

#[tokio::test(flavor = "current_thread")]
async fn nested_execution_failures() {
    let with = |s: &mut Services| s.executions = Some(children());
    let def = start_execution("arn:aws:states:::states:startExecution.sync");
    let r = run(def.clone(), json!({"Arn": format!("{CHILD}-fails"), "Input": null}), World::Silent, with).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.TaskFailed"));
    let cause: Value = serde_json::from_str(r.outcome.cause.as_deref().unwrap()).unwrap();
    assert_eq!((&cause["Error"], &cause["Cause"], &cause["Status"]), (&json!("SomeFailure"), &json!("boom"), &json!("FAILED")));
    let r = run(def, json!({"Arn": format!("{CHILD}-nope"), "Input": null}), World::Silent, with).await;
    assert_eq!(r.outcome.error.as_deref(), Some("StepFunctions.StateMachineDoesNotExistException"));
    assert!(r.outcome.cause.unwrap().starts_with(&format!("State Machine Does Not Exist: '{CHILD}-nope'")));
}

#[tokio::test(flavor = "current_thread")]
async fn sdk_send_task_success_with_an_unknown_token() {
    let def = json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:sfn:sendTaskSuccess",
        "Parameters": {"Output": "{}", "TaskToken.$": "$.TaskToken"}, "End": true}}});
    let r = run(def, json!({"TaskToken": "NoSuchTaskToken"}), World::Silent, |_| {}).await;
    assert_eq!(r.outcome.error.as_deref(), Some("Sfn.InvalidTokenException"));
    assert!(r.outcome.cause.unwrap().starts_with("Invalid Token: 'Invalid token' (Service: Sfn, Status Code: 400"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_clock_is_used_for_child_dates() {
    // Child start and stop dates come from the engine clock (virtual here).
    let with = |s: &mut Services| s.executions = Some(children());
    let r = run(start_execution("arn:aws:states:::states:startExecution.sync"), json!({"Arn": CHILD, "Input": null}), World::Silent, with).await;
    let out = r.outcome.output.unwrap();
    assert_eq!(out["StartDate"], json!("2026-01-01T00:00:00.000Z"));
}
