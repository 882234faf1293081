//! In-crate tests with a scripted task invoker and the virtual clock.

use crate::*;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::StateMachine;

#[derive(Clone)]
enum Behaviour {
    Echo,
    /// Fails the first `n` calls with `error`, then echoes.
    FailTimes(usize, &'static str),
    Fail(&'static str, &'static str),
    /// Sleeps (virtual) then echoes.
    Sleep(u64),
    /// Fails when the input equals this value, echoes otherwise.
    FailOn(Value),
}

struct Fake {
    clock: Arc<dyn Clock>,
    behaviours: HashMap<String, Behaviour>,
    calls: Mutex<Vec<TaskRequest>>,
    counts: Mutex<HashMap<String, usize>>,
    in_flight: Arc<AtomicUsize>,
    max_in_flight: Arc<AtomicUsize>,
}

impl Fake {
    fn new(clock: Arc<dyn Clock>, b: &[(&str, Behaviour)]) -> Arc<Self> {
        Arc::new(Fake {
            clock,
            behaviours: b.iter().map(|(k, v)| (k.to_string(), v.clone())).collect(),
            calls: Mutex::new(Vec::new()),
            counts: Mutex::new(HashMap::new()),
            in_flight: Arc::new(AtomicUsize::new(0)),
            max_in_flight: Arc::new(AtomicUsize::new(0)),
        })
    }
}

impl TaskInvoker for Fake {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        self.calls.lock().unwrap().push(req.clone());
        let n = {
            let mut c = self.counts.lock().unwrap();
            let e = c.entry(req.function_name.clone()).or_insert(0);
            *e += 1;
            *e
        };
        let b = self
            .behaviours
            .get(&req.function_name)
            .cloned()
            .unwrap_or(Behaviour::Echo);
        let clock = self.clock.clone();
        let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
        self.max_in_flight.fetch_max(now, Ordering::SeqCst);
        let in_flight = self.in_flight.clone();
        Box::pin(async move {
            let r = match b {
                Behaviour::Echo => Ok(req.input),
                Behaviour::FailTimes(k, e) if n <= k => {
                    Err(TaskFailure::new(e, "failing on purpose"))
                }
                Behaviour::FailTimes(..) => Ok(req.input),
                Behaviour::Fail(e, c) => Err(TaskFailure::new(e, c)),
                Behaviour::Sleep(s) => {
                    clock.sleep(Duration::from_secs(s)).await;
                    Ok(req.input)
                }
                Behaviour::FailOn(v) => {
                    clock.sleep(Duration::from_secs(1)).await;
                    if req.input == v {
                        Err(TaskFailure::new("ItemError", "bad item"))
                    } else {
                        Ok(req.input)
                    }
                }
            };
            in_flight.fetch_sub(1, Ordering::SeqCst);
            r
        })
    }
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn lambda(name: &str) -> String {
    format!("arn:aws:lambda:us-east-1:111111111111:function:{name}")
}

struct Run {
    outcome: ExecutionOutcome,
    sink: Arc<VecSink>,
    clock: Arc<ManualClock>,
    fake: Arc<Fake>,
}

async fn run_with(def: Value, input: Value, b: &[(&str, Behaviour)]) -> Run {
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let clock = ManualClock::auto(t0());
    let fake = Fake::new(clock.clone(), b);
    let engine = Engine::new(fake.clone(), clock.clone());
    let sink = Arc::new(VecSink::new());
    let opts = ExecutionOptions {
        name: "ex1".into(),
        state_machine_name: "sm1".into(),
        ..Default::default()
    };
    let outcome = engine.start(sm, input, opts, sink.clone()).await;
    Run {
        outcome,
        sink,
        clock,
        fake,
    }
}

fn check_chain(sink: &VecSink) {
    let ev = sink.events();
    assert!(!ev.is_empty());
    for (i, e) in ev.iter().enumerate() {
        assert_eq!(e.id, i as u64 + 1);
        assert!(e.previous_event_id < e.id);
    }
}

#[tokio::test]
async fn pass_choice_succeed_and_history() {
    let r = run_with(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "name.$": "$$.Execution.Name"}, "ResultPath": "$.r", "Next": "C"},
            "C": {"Type": "Choice", "Choices": [{"Variable": "$.r.n", "NumericEquals": 2, "Next": "S"}], "Default": "F"},
            "S": {"Type": "Succeed", "OutputPath": "$.r"},
            "F": {"Type": "Fail", "Error": "E"}
        }}),
        json!({"n": 1}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(r.outcome.output, Some(json!({"n": 2, "name": "ex1"})));
    assert_eq!(
        r.sink.types(),
        vec![
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "ChoiceStateEntered",
            "ChoiceStateExited",
            "SucceedStateEntered",
            "SucceedStateExited",
            "ExecutionSucceeded"
        ]
    );
    check_chain(&r.sink);
    let ev = r.sink.events();
    assert_eq!(ev[1].previous_event_id, 1);
    let j = ev[1].to_aws_json();
    assert_eq!(j["stateEnteredEventDetails"]["name"], "P");
    assert_eq!(j["stateEnteredEventDetails"]["input"], "{\"n\":1}");
    assert_eq!(
        ev.last().unwrap().to_aws_json()["executionSucceededEventDetails"]["output"],
        "{\"n\":2,\"name\":\"ex1\"}"
    );
}

#[tokio::test]
async fn fail_state_and_no_choice() {
    let r = run_with(json!({"StartAt": "F", "States": {"F": {"Type": "Fail", "ErrorPath": "$.e", "Cause": "c"}}}), json!({"e": "Boom"}), &[]).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(r.outcome.error.as_deref(), Some("Boom"));
    assert_eq!(r.outcome.cause.as_deref(), Some("c"));
    let r = run_with(
        json!({"StartAt": "C", "States": {"C": {"Type": "Choice", "Choices": [{"Variable": "$.x", "IsNull": true, "Next": "S"}]}, "S": {"Type": "Succeed"}}}),
        json!({"x": 1}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.NoChoiceMatched"));
}

#[tokio::test]
async fn lambda_function_task() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": format!("{}:live", lambda("f")), "Parameters": {"a.$": "$.x"},
            "ResultSelector": {"got.$": "$.a"}, "ResultPath": "$.res", "End": true}}}),
        json!({"x": 5}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.output, Some(json!({"x": 5, "res": {"got": 5}})));
    let calls = r.fake.calls.lock().unwrap().clone();
    assert_eq!(calls[0].function_name, "f");
    assert_eq!(calls[0].qualifier.as_deref(), Some("live"));
    assert_eq!(calls[0].context.execution_name, "ex1");
    assert_eq!(
        r.sink.types(),
        vec![
            "ExecutionStarted",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
}

#[tokio::test]
async fn lambda_invoke_integration_and_failure_envelope() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": "arn:aws:lambda:us-east-1:111111111111:function:g", "Payload": {"k.$": "$.k"}}, "End": true}}}),
        json!({"k": [1]}),
        &[],
    )
    .await;
    let out = r.outcome.output.unwrap();
    assert_eq!(out["Payload"], json!({"k": [1]}));
    assert_eq!(out["StatusCode"], 200);
    assert_eq!(out["ExecutedVersion"], "$LATEST");
    assert!(out["SdkResponseMetadata"]["RequestId"].is_string());
    assert!(r.sink.types().contains(&"TaskScheduled"));

    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("bad"), "End": true}}}),
        json!({}),
        &[("bad", Behaviour::Fail("ValueError", "nope"))],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("ValueError"));
    let cause: Value = serde_json::from_str(r.outcome.cause.as_deref().unwrap()).unwrap();
    assert_eq!(cause["errorMessage"], "nope");
    assert_eq!(cause["errorType"], "ValueError");
    assert!(r.sink.types().contains(&"LambdaFunctionFailed"));
}

#[tokio::test]
async fn retry_backoff_timing_then_catch() {
    let r = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": lambda("flaky"), "End": true,
                  "Retry": [{"ErrorEquals": ["Other"], "MaxAttempts": 5},
                            {"ErrorEquals": ["States.TaskFailed"], "IntervalSeconds": 2, "BackoffRate": 3.0, "MaxAttempts": 3, "MaxDelaySeconds": 10}],
                  "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.err", "Next": "H"}]},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({"a": 1}),
        &[("flaky", Behaviour::FailTimes(10, "Flaky"))],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let out = r.outcome.output.unwrap();
    assert_eq!(out["a"], 1);
    assert_eq!(out["err"]["Error"], "Flaky");
    assert_eq!(
        r.clock.sleeps(),
        vec![
            Duration::from_secs(2),
            Duration::from_secs(6),
            Duration::from_secs(10)
        ]
    );
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(18));
    let calls = r.fake.calls.lock().unwrap().clone();
    assert_eq!(calls.len(), 4);
    assert_eq!(
        calls
            .iter()
            .map(|c| c.context.retry_count)
            .collect::<Vec<_>>(),
        vec![0, 1, 2, 3]
    );
    check_chain(&r.sink);
}

#[tokio::test]
async fn retry_succeeds_and_max_attempts_zero() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("flaky"), "End": true,
            "Retry": [{"ErrorEquals": ["Flaky"], "IntervalSeconds": 1, "JitterStrategy": "FULL", "MaxAttempts": 3}]}}}),
        json!({"v": 1}),
        &[("flaky", Behaviour::FailTimes(2, "Flaky"))],
    )
    .await;
    assert_eq!(r.outcome.output, Some(json!({"v": 1})));
    let s = r.clock.sleeps();
    assert_eq!(s.len(), 2);
    assert!(s[0] <= Duration::from_secs(1) && s[1] <= Duration::from_secs(2));

    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("flaky"), "End": true,
            "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 0}]}}}),
        json!({}),
        &[("flaky", Behaviour::FailTimes(1, "Flaky"))],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert!(r.clock.sleeps().is_empty());
}

#[tokio::test]
async fn task_timeout_and_runtime_errors_not_caught_by_all() {
    let r = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": lambda("slow"), "TimeoutSeconds": 5, "Next": "X",
                  "Catch": [{"ErrorEquals": ["States.Timeout"], "Next": "H"}]},
            "X": {"Type": "Succeed"},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({}),
        &[("slow", Behaviour::Sleep(60))],
    )
    .await;
    assert_eq!(r.outcome.output, Some(json!({"Error": "States.Timeout"})));
    assert!(r.sink.types().contains(&"LambdaFunctionTimedOut"));
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(5));

    let r = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": lambda("f"), "Parameters": {"x.$": "$.missing"}, "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "H"}]},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({"a": 1}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'T' (entered at the event id #2). The JSONPath '$.missing' specified for the field 'x.$' could not be found in the input '{\"a\":1}'"
        )
    );
}

#[tokio::test]
async fn execution_timeout() {
    let r = run_with(
        json!({"TimeoutSeconds": 10, "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 100, "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::TimedOut);
    assert_eq!(r.sink.types().last(), Some(&"ExecutionTimedOut"));
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(10));
}

#[tokio::test]
async fn wait_variants() {
    let r = run_with(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Wait", "Seconds": 30, "Next": "B"},
            "B": {"Type": "Wait", "SecondsPath": "$.s", "Next": "C"},
            "C": {"Type": "Wait", "TimestampPath": "$.t", "Next": "D"},
            "D": {"Type": "Wait", "Timestamp": "2024-01-01T00:00:00Z", "End": true}
        }}),
        json!({"s": 70, "t": "2024-01-01T01:00:00+00:00"}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(
        r.clock.now(),
        Utc.with_ymd_and_hms(2024, 1, 1, 1, 0, 0).unwrap()
    );
    let r = run_with(json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "TimestampPath": "$.t", "End": true}}}), json!({"t": "soon"}), &[]).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn wait_with_manual_clock_blocks_until_advanced() {
    let sm = Arc::new(
        StateMachine::from_value(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 30, "End": true}}}),
        )
        .unwrap(),
    );
    let clock = ManualClock::new(t0());
    let engine = Engine::new(Fake::new(clock.clone(), &[]), clock.clone());
    let h = tokio::spawn({
        let engine = engine.clone();
        async move {
            engine
                .start(
                    sm,
                    json!(1),
                    ExecutionOptions {
                        name: "e".into(),
                        ..Default::default()
                    },
                    Arc::new(NullSink),
                )
                .await
        }
    });
    for _ in 0..50 {
        tokio::task::yield_now().await;
    }
    assert!(!h.is_finished());
    assert_eq!(clock.pending(), 1);
    clock.advance(Duration::from_secs(29));
    tokio::task::yield_now().await;
    assert!(!h.is_finished());
    clock.advance(Duration::from_secs(1));
    let out = h.await.unwrap();
    assert_eq!(out.output, Some(json!(1)));
}

#[tokio::test]
async fn parallel_branches() {
    let r = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "ResultPath": "$.r", "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Pass", "Result": 1, "End": true}}},
            {"StartAt": "B", "States": {"B": {"Type": "Task", "Resource": lambda("slow"), "End": true}}}
        ]}}}),
        json!({"x": 0}),
        &[("slow", Behaviour::Sleep(3))],
    )
    .await;
    assert_eq!(r.outcome.output, Some(json!({"x": 0, "r": [1, {"x": 0}]})));
    let t = r.sink.types();
    assert!(t.contains(&"ParallelStateStarted") && !t.contains(&"ParallelStateSucceeded"));
    check_chain(&r.sink);

    let r = run_with(
        json!({"StartAt": "P", "States": {
            "P": {"Type": "Parallel", "Next": "S", "Catch": [{"ErrorEquals": ["BranchErr"], "Next": "H"}], "Branches": [
                {"StartAt": "A", "States": {"A": {"Type": "Fail", "Error": "BranchErr", "Cause": "x"}}},
                {"StartAt": "B", "States": {"B": {"Type": "Wait", "Seconds": 100, "End": true}}}
            ]},
            "S": {"Type": "Succeed"},
            "H": {"Type": "Pass", "End": true}
        }}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(
        r.outcome.output,
        Some(json!({"Error": "BranchErr", "Cause": "x"}))
    );
    assert!(r.sink.types().contains(&"ParallelStateFailed"));
}

#[tokio::test]
async fn map_inline_concurrency_and_selector() {
    let r = run_with(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
            "ItemSelector": {"v.$": "$$.Map.Item.Value", "i.$": "$$.Map.Item.Index", "k.$": "$.k"},
            "ItemProcessor": {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("slow"), "End": true}}},
            "End": true}}}),
        json!({"items": ["a", "b", "c", "d", "e"], "k": 9}),
        &[("slow", Behaviour::Sleep(1))],
    )
    .await;
    let out = r.outcome.output.unwrap();
    assert_eq!(
        out,
        json!([{"v": "a", "i": 0, "k": 9}, {"v": "b", "i": 1, "k": 9}, {"v": "c", "i": 2, "k": 9}, {"v": "d", "i": 3, "k": 9}, {"v": "e", "i": 4, "k": 9}])
    );
    assert_eq!(r.fake.max_in_flight.load(Ordering::SeqCst), 2);
    // 5 items, 2 at a time, 1 s each
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(3));
    let t = r.sink.types();
    assert_eq!(t.iter().filter(|x| **x == "MapIterationStarted").count(), 5);
    assert_eq!(
        t.iter().filter(|x| **x == "MapIterationSucceeded").count(),
        5
    );
    check_chain(&r.sink);
}

#[tokio::test]
async fn map_tolerated_failures() {
    let def = |tol: Value| {
        let mut m = json!({"Type": "Map", "End": true,
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("item"), "End": true}}}});
        for (k, v) in tol.as_object().unwrap() {
            m[k] = v.clone();
        }
        json!({"StartAt": "M", "States": {"M": m}})
    };
    let items = json!([1, 2, 3, 4]);
    let b = [("item", Behaviour::FailOn(json!(2)))];
    let r = run_with(def(json!({"ToleratedFailureCount": 1})), items.clone(), &b).await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let out = r.outcome.output.unwrap();
    assert_eq!(out[0], 1);
    assert_eq!(out[1]["Error"], "ItemError");
    assert!(r.sink.types().contains(&"MapRunStarted"));
    let r = run_with(def(json!({"ToleratedFailureCount": 0})), items.clone(), &b).await;
    assert_eq!(
        r.outcome.error.as_deref(),
        Some("States.ExceedToleratedFailureThreshold")
    );
    let r = run_with(
        def(json!({"ToleratedFailurePercentage": 25})),
        items.clone(),
        &b,
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Succeeded);
    let r = run_with(
        def(json!({"ToleratedFailurePercentage": 20})),
        items.clone(),
        &b,
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    let r = run_with(
        def(json!({"ToleratedFailureCountPath": "$[0]"})),
        json!([-1]),
        &b,
    )
    .await;
    assert!(
        r.outcome
            .cause
            .unwrap()
            .ends_with("ToleratedFailureCount cannot be negative.")
    );
    // no tolerance: the item's error fails the map
    let r = run_with(def(json!({})), items, &b).await;
    assert_eq!(r.outcome.error.as_deref(), Some("ItemError"));
}

#[tokio::test]
async fn data_limit_and_abort() {
    let big = "x".repeat(300 * 1024);
    let r = run_with(
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": big, "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.DataLimitExceeded"));

    let sm = Arc::new(
        StateMachine::from_value(
            &json!({"StartAt": "A", "States": {"A": {"Type": "Wait", "Seconds": 30, "End": true}}}),
        )
        .unwrap(),
    );
    let clock = ManualClock::new(t0());
    let engine = Engine::new(Fake::new(clock.clone(), &[]), clock.clone());
    let (tx, rx) = tokio::sync::watch::channel(None);
    let sink = Arc::new(VecSink::new());
    let h = tokio::spawn({
        let sink = sink.clone();
        async move {
            engine
                .start(
                    sm,
                    json!(1),
                    ExecutionOptions {
                        name: "e".into(),
                        abort: Some(rx),
                        ..Default::default()
                    },
                    sink,
                )
                .await
        }
    });
    tokio::task::yield_now().await;
    tx.send(Some(crate::StopRequest { error: Some("Halt".into()), cause: Some("operator".into()) })).unwrap();
    let out = h.await.unwrap();
    assert_eq!(out.status, ExecutionStatus::Aborted);
    assert_eq!((out.error.as_deref(), out.cause.as_deref()), (Some("Halt"), Some("operator")));
    assert_eq!(sink.types().last(), Some(&"ExecutionAborted"));
    // StopExecution's error and cause are the event's details, as AWS records them.
    let aborted = sink.events().pop().unwrap();
    assert_eq!(aborted.to_aws_json()["executionAbortedEventDetails"], json!({"error": "Halt", "cause": "operator"}));
}

#[tokio::test]
async fn many_pass_states_fast_path() {
    // 1000 Pass states with intrinsics, NullSink.
    let mut states = serde_json::Map::new();
    for i in 0..1000 {
        let mut s = json!({"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "msg.$": "States.Format('step {}', $.n)", "copy.$": "$.n"},
            "ResultPath": "$.tmp", "OutputPath": "$.tmp"});
        if i == 999 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    let sm =
        Arc::new(StateMachine::from_value(&json!({"StartAt": "S0", "States": states})).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let engine = Engine::new(Fake::new(clock.clone(), &[]), clock);
    let start = std::time::Instant::now();
    let out = engine
        .start(
            sm,
            json!({"n": 0}),
            ExecutionOptions {
                name: "e".into(),
                ..Default::default()
            },
            Arc::new(NullSink),
        )
        .await;
    let el = start.elapsed();
    assert_eq!(out.output.unwrap()["n"], 1000);
    eprintln!(
        "1000 Pass states in {el:?} ({:.0} transitions/s)",
        1000.0 / el.as_secs_f64()
    );
}

/// `cargo test --release -p stepbox-engine --lib bench_ -- --ignored --nocapture` is not
/// used (no ignored tests); this measures in every run but only asserts correctness.
#[test]
fn bench_w1_w5_throughput() {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let mut states = serde_json::Map::new();
    for i in 0..1000 {
        let mut s = json!({"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)", "msg.$": "States.Format('step {}', $.n)", "copy.$": "$.n"},
            "ResultPath": "$.tmp", "OutputPath": "$.tmp"});
        if i == 999 {
            s["End"] = json!(true);
        } else {
            s["Next"] = json!(format!("S{}", i + 1));
        }
        states.insert(format!("S{i}"), s);
    }
    let sm =
        Arc::new(StateMachine::from_value(&json!({"StartAt": "S0", "States": states})).unwrap());
    let clock: Arc<dyn Clock> = Arc::new(TokioClock);
    let engine = Engine::new(Fake::new(clock.clone(), &[]), clock.clone());
    let mut best = Duration::MAX;
    let iters: usize = std::env::var("STEPBOX_BENCH_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    for _ in 0..iters {
        let t = std::time::Instant::now();
        let out = rt.block_on(engine.start(
            sm.clone(),
            json!({"n": 0}),
            ExecutionOptions {
                name: "e".into(),
                ..Default::default()
            },
            Arc::new(NullSink),
        ));
        best = best.min(t.elapsed());
        assert_eq!(out.output.unwrap()["n"], 1000);
    }
    eprintln!(
        "W1: 1000 Pass states best {best:?} => {:.0} transitions/s",
        1000.0 / best.as_secs_f64()
    );
    let mut best_hist = Duration::MAX;
    for _ in 0..iters.min(50) {
        let sink = Arc::new(VecSink::new());
        let t = std::time::Instant::now();
        let out = rt.block_on(engine.start(
            sm.clone(),
            json!({"n": 0}),
            ExecutionOptions {
                name: "e".into(),
                ..Default::default()
            },
            sink.clone(),
        ));
        best_hist = best_hist.min(t.elapsed());
        assert_eq!(out.output.unwrap()["n"], 1000);
        assert_eq!(sink.events().len(), 2002);
    }
    eprintln!(
        "W1 with full history (VecSink with details): best {best_hist:?} => {:.0} transitions/s",
        1000.0 / best_hist.as_secs_f64()
    );
    let w5 = Arc::new(
        StateMachine::from_value(&json!({"StartAt": "P", "States": {
            "P": {"Type": "Pass", "Next": "T"},
            "T": {"Type": "Task", "Resource": lambda("f"), "Next": "S"},
            "S": {"Type": "Succeed"}}}))
        .unwrap(),
    );
    struct Echo;
    impl TaskInvoker for Echo {
        fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
            Box::pin(std::future::ready(Ok(req.input)))
        }
    }
    let engine = Engine::new(Arc::new(Echo), clock.clone());
    let n = 20000;
    let t = std::time::Instant::now();
    for _ in 0..n {
        let out = rt.block_on(engine.start(
            w5.clone(),
            json!({"a": 1}),
            ExecutionOptions {
                name: "e".into(),
                ..Default::default()
            },
            Arc::new(NullSink),
        ));
        assert_eq!(out.status, ExecutionStatus::Succeeded);
    }
    eprintln!("W5: {:?} per execution (incl. fake task)", t.elapsed() / n);
}

#[tokio::test]
async fn context_object_in_task_with_token() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::my:thing.waitForTaskToken",
            "Parameters": {"token.$": "$$.Task.Token", "state.$": "$$.State", "sm.$": "$$.StateMachine.Name", "start.$": "$$.Execution.StartTime"},
            "TimeoutSeconds": 1, "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    // Nobody answers the token: the task times out after handing it on.
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    let calls = r.fake.calls.lock().unwrap().clone();
    let out = calls[0].input.clone();
    assert_eq!(
        calls[0].function_name,
        "arn:aws:states:::my:thing.waitForTaskToken"
    );
    assert_eq!(
        out["token"].as_str(),
        calls[0].context.task_token.as_deref()
    );
    assert_eq!(
        out["state"],
        json!({"EnteredTime": "2024-01-01T00:00:00.000Z", "Name": "T", "RetryCount": 0})
    );
    assert_eq!(out["sm"], "sm1");
    assert_eq!(out["start"], "2024-01-01T00:00:00.000Z");
}

#[tokio::test]
async fn jsonata_evaluation_failures_are_recorded() {
    let r = run_with(
        json!({"QueryLanguage": "JSONata", "StartAt": "P", "States": {"P": {"Type": "Pass", "Output": "{% 1 + 'a' %}", "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.status, ExecutionStatus::Failed);
    assert_eq!(
        r.sink.types(),
        vec![
            "ExecutionStarted",
            "PassStateEntered",
            "EvaluationFailed",
            "ExecutionFailed"
        ]
    );
}

#[tokio::test]
async fn jsonpath_variables_and_scopes() {
    let r = run_with(
        json!({"StartAt": "A", "States": {
            "A": {"Type": "Pass", "Result": {"v": 1}, "Assign": {"x.$": "$.v", "name.$": "$$.State.Name", "lit": "s"}, "Next": "B"},
            "B": {"Type": "Pass", "Assign": {"x": 2, "old.$": "$x"}, "Next": "P"},
            "P": {"Type": "Parallel", "ResultPath": "$.par", "Next": "C", "Branches": [
                {"StartAt": "In", "States": {"In": {"Type": "Pass", "Assign": {"x": 99}, "Parameters": {"seen.$": "$x"}, "End": true}}}]},
            "C": {"Type": "Pass", "Parameters": {"x.$": "$x", "old.$": "$old", "name.$": "$name", "lit.$": "$lit", "par.$": "$.par"}, "End": true}
        }}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(
        r.outcome.output,
        Some(json!({"x": 2, "old": 1, "name": "A", "lit": "s", "par": [{"seen": 2}]}))
    );
    let r = run_with(
        json!({"StartAt": "T", "States": {
            "T": {"Type": "Task", "Resource": lambda("bad"), "End": true,
                  "Catch": [{"ErrorEquals": ["States.ALL"], "Assign": {"err.$": "$.Error"}, "Next": "H"}]},
            "H": {"Type": "Pass", "Parameters": {"e.$": "$err"}, "End": true}
        }}),
        json!({}),
        &[("bad", Behaviour::Fail("Oops", "x"))],
    )
    .await;
    assert_eq!(r.outcome.output, Some(json!({"e": "Oops"})));
    let r = run_with(json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "Parameters": {"x.$": "$nope"}, "End": true}}}), json!({}), &[]).await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
}

#[tokio::test]
async fn timeout_seconds_path() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("slow"), "TimeoutSecondsPath": "$.t", "End": true}}}),
        json!({"t": 3}),
        &[("slow", Behaviour::Sleep(60))],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(3));
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": lambda("f"), "TimeoutSecondsPath": "$.nope", "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(
        r.outcome.cause.as_deref(),
        Some(
            "An error occurred while executing the state 'T' (entered at the event id #2). Invalid path '$.nope' : No results for path: $['nope']"
        )
    );
}

#[tokio::test]
async fn heartbeat_timeout_for_callback_tasks() {
    let r = run_with(
        json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": "arn:aws:states:::x:cb.waitForTaskToken",
            "TimeoutSeconds": 100, "HeartbeatSeconds": 10, "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    // No heartbeat after the token went out: AWS reports States.Timeout for callbacks.
    assert_eq!(r.outcome.error.as_deref(), Some("States.Timeout"));
    assert_eq!(r.clock.now() - t0(), chrono::Duration::seconds(10));
}

#[tokio::test]
async fn map_item_batcher() {
    let r = run_with(
        json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
            "ItemBatcher": {"MaxItemsPerBatchPath": "$.per", "BatchInput": {"k.$": "$.k"}},
            "ItemsPath": "$.items",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
                "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}}}}),
        json!({"items": [1, 2, 3, 4, 5], "per": "2", "k": "v"}),
        &[],
    )
    .await;
    assert_eq!(
        r.outcome.output,
        Some(json!([
            {"BatchInput": {"k": "v"}, "Items": [1, 2]},
            {"BatchInput": {"k": "v"}, "Items": [3, 4]},
            {"BatchInput": {"k": "v"}, "Items": [5]}
        ]))
    );
}

#[tokio::test]
async fn huge_wait_is_an_error_not_a_panic() {
    let r = run_with(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 18446744073709551615u64, "End": true}}}),
        json!({}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
    let r = run_with(
        json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "SecondsPath": "$.s", "End": true}}}),
        json!({"s": 9223372036854775807i64}),
        &[],
    )
    .await;
    assert_eq!(r.outcome.error.as_deref(), Some("States.Runtime"));
}
mod jsonata;
mod injected;
mod catalogue;
mod paths;
mod buckets;
mod jsonata_oracle;
mod dialect;
