//! Resume and suspension: a run is cut off (a crash, a suspension) and
//! continued by a fresh engine from what a durable sink recorded.

use crate::*;
use chrono::{TimeZone, Utc};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use stepbox_asl::StateMachine;

/// Echoes its input; the first `hang_first` calls never return (a process
/// that dies mid-Task).
struct Echo {
    calls: AtomicUsize,
    hang_first: usize,
}

impl TaskInvoker for Echo {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let hang = n < self.hang_first;
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            Ok(req.input)
        })
    }
}

/// What a durable store keeps, in recording order.
#[derive(Clone)]
enum Entry {
    Event(HistoryEvent),
    Checkpoint(Checkpoint),
    Part(Part),
}

#[derive(Default)]
struct Journal {
    log: Mutex<Vec<Entry>>,
}

impl HistorySink for Journal {
    fn record(&self, event: HistoryEvent) {
        self.log.lock().unwrap().push(Entry::Event(event));
    }
    fn wants_checkpoints(&self) -> bool {
        true
    }
    fn checkpoint(&self, checkpoint: &Checkpoint) {
        self.log
            .lock()
            .unwrap()
            .push(Entry::Checkpoint(checkpoint.clone()));
    }
    fn part(&self, part: &Part) {
        self.log.lock().unwrap().push(Entry::Part(part.clone()));
    }
}

impl Journal {
    fn events(&self) -> Vec<HistoryEvent> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter_map(|e| match e {
                Entry::Event(e) => Some(e.clone()),
                _ => None,
            })
            .collect()
    }
    /// What a restart reads back: the latest checkpoint (with the parts of
    /// its state's entry) and the last event id.
    fn resume(&self, input: Value) -> Resume {
        let log = self.log.lock().unwrap();
        let checkpoint = log.iter().rev().find_map(|e| match e {
            Entry::Checkpoint(c) => Some(c.clone()),
            _ => None,
        });
        let checkpoint = checkpoint.map(|mut cp| {
            cp.parts = log
                .iter()
                .filter_map(|e| match e {
                    Entry::Part(p) if p.entered_event_id == cp.entered_event_id => Some(p.clone()),
                    _ => None,
                })
                .collect();
            cp
        });
        Resume {
            input,
            start_date: t0(),
            checkpoint,
            last_event_id: log
                .iter()
                .filter_map(|e| match e {
                    Entry::Event(e) => Some(e.id),
                    _ => None,
                })
                .max()
                .unwrap_or(0),
        }
    }
    /// Keeps only the first `n` entries (what reached the disk before a crash).
    fn truncate(&self, n: usize) {
        self.log.lock().unwrap().truncate(n);
    }
}

fn t0() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2024, 1, 1, 0, 0, 0).unwrap()
}

fn opts(suspend: Option<Duration>) -> ExecutionOptions {
    ExecutionOptions {
        name: "ex1".into(),
        state_machine_name: "sm1".into(),
        suspend_waits_over: suspend,
        ..Default::default()
    }
}

/// Ids 1..=n, each previousEventId an earlier event.
fn assert_valid_history(events: &[HistoryEvent]) {
    let mut ids: Vec<u64> = events.iter().map(|e| e.id).collect();
    ids.sort_unstable();
    assert_eq!(
        ids,
        (1..=events.len() as u64).collect::<Vec<_>>(),
        "ids are unique and contiguous"
    );
    for e in events {
        assert!(
            e.previous_event_id < e.id,
            "event {} chains backwards",
            e.id
        );
    }
}

fn types(events: &[HistoryEvent]) -> Vec<&'static str> {
    let mut v = events.to_vec();
    v.sort_by_key(|e| e.id);
    v.iter().map(|e| e.event_type.as_str()).collect()
}

fn machine() -> Arc<StateMachine> {
    let def = json!({"StartAt": "Remember", "States": {
        "Remember": {"Type": "Pass", "Assign": {"who.$": "$.who"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo",
                 "Parameters": {"who.$": "$who", "at.$": "$$.State.EnteredTime"}, "End": true}
    }});
    Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")))
}

#[tokio::test(flavor = "current_thread")]
async fn a_long_wait_suspends_and_resumes_at_its_original_due_time() {
    let clock = ManualClock::new(t0());
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let journal = Arc::new(Journal::default());
    let input = json!({"who": "ada"});
    let engine = Engine::new(echo.clone(), clock.clone());
    let first = engine
        .start_durable(
            machine(),
            input.clone(),
            opts(Some(Duration::from_secs(60))),
            journal.clone(),
        )
        .await;
    let due = t0() + chrono::Duration::hours(1);
    assert_eq!(first, Progress::Suspended { until: due });
    assert_eq!(
        types(&journal.events()),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered"
        ]
    );

    // A later process: a new engine and clock, woken up a bit late.
    let clock = ManualClock::auto(due + chrono::Duration::seconds(5));
    let engine = Engine::new(echo.clone(), clock.clone());
    let resumed = engine
        .resume(
            machine(),
            journal.resume(input),
            opts(Some(Duration::from_secs(60))),
            journal.clone(),
        )
        .await;
    let Progress::Finished(outcome) = resumed else {
        panic!("suspended again: {resumed:?}")
    };
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let out = outcome.output.expect("output");
    assert_eq!(out["who"], "ada", "variables survive the suspension");
    assert_eq!(outcome.start_date, t0());
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(
        types(&events),
        [
            "ExecutionStarted",
            "PassStateEntered",
            "PassStateExited",
            "WaitStateEntered",
            "WaitStateExited",
            "TaskStateEntered",
            "LambdaFunctionScheduled",
            "LambdaFunctionStarted",
            "LambdaFunctionSucceeded",
            "TaskStateExited",
            "ExecutionSucceeded"
        ]
    );
    assert!(
        clock.sleeps().iter().all(|d| d.is_zero()),
        "the due time had passed: {:?}",
        clock.sleeps()
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_short_wait_or_a_run_without_the_option_never_suspends() {
    let clock = ManualClock::auto(t0());
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let engine = Engine::new(echo, clock.clone());
    for suspend in [None, Some(Duration::from_secs(7200))] {
        let journal = Arc::new(Journal::default());
        let p = engine
            .start_durable(
                machine(),
                json!({"who": "x"}),
                opts(suspend),
                journal.clone(),
            )
            .await;
        assert!(
            matches!(&p, Progress::Finished(o) if o.status == ExecutionStatus::Succeeded),
            "{p:?}"
        );
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_task_in_flight_at_a_crash_runs_again_and_the_history_stays_valid() {
    let clock = ManualClock::auto(t0());
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 1,
    });
    let journal = Arc::new(Journal::default());
    let input = json!({"who": "bob"});
    let engine = Engine::new(echo.clone(), clock.clone());
    let run = tokio::spawn({
        let (engine, journal, input) = (engine.clone(), journal.clone(), input.clone());
        async move {
            engine
                .start_durable(machine(), input, opts(None), journal)
                .await
        }
    });
    while echo.calls.load(Ordering::SeqCst) == 0 {
        tokio::task::yield_now().await;
    }
    run.abort(); // the process dies with the Task in flight
    let _ = run.await;
    let before = journal.events().len();
    assert_eq!(
        types(&journal.events()).last(),
        Some(&"LambdaFunctionStarted")
    );

    let resumed = engine
        .resume(
            machine(),
            journal.resume(input),
            opts(None),
            journal.clone(),
        )
        .await;
    let Progress::Finished(outcome) = resumed else {
        panic!("{resumed:?}")
    };
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(
        echo.calls.load(Ordering::SeqCst),
        2,
        "at-least-once: the Task ran again"
    );
    let events = journal.events();
    assert_valid_history(&events);
    let t = types(&events);
    // A Task that cannot wait re-runs whole: entered again after what was recorded.
    assert_eq!(
        t.iter().filter(|t| **t == "TaskStateEntered").count(),
        2,
        "{t:?}"
    );
    assert_eq!(t[before], "TaskStateEntered", "{t:?}");
    assert_eq!(
        t.iter()
            .filter(|t| **t == "LambdaFunctionScheduled")
            .count(),
        2,
        "{t:?}"
    );
    assert_eq!(
        events[before].previous_event_id, before as u64,
        "the rerun chains to the last recorded event"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn a_checkpoint_whose_entry_event_was_lost_enters_the_state_again() {
    let clock = ManualClock::new(t0());
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let journal = Arc::new(Journal::default());
    let input = json!({"who": "cy"});
    let engine = Engine::new(echo.clone(), clock.clone());
    let p = engine
        .start_durable(
            machine(),
            input.clone(),
            opts(Some(Duration::ZERO)),
            journal.clone(),
        )
        .await;
    assert!(matches!(p, Progress::Suspended { .. }));
    // The crash came between the Wait's checkpoint and its WaitStateEntered.
    let len = journal.log.lock().unwrap().len();
    journal.truncate(len - 1);
    let clock = ManualClock::auto(t0() + chrono::Duration::minutes(10));
    let engine = Engine::new(echo, clock.clone());
    let p = engine
        .resume(
            machine(),
            journal.resume(input),
            opts(None),
            journal.clone(),
        )
        .await;
    assert!(
        matches!(&p, Progress::Finished(o) if o.status == ExecutionStatus::Succeeded),
        "{p:?}"
    );
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(
        types(&events)[3..5],
        ["WaitStateEntered", "WaitStateExited"]
    );
    assert_eq!(
        clock.sleeps(),
        [Duration::from_secs(50 * 60)],
        "the Wait kept its original due time"
    );
}

#[tokio::test(flavor = "current_thread")]
async fn the_execution_timeout_counts_from_the_original_start() {
    let def = json!({"TimeoutSeconds": 100, "StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 3600, "End": true}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(echo.clone(), ManualClock::new(t0()));
    let p = engine
        .start_durable(
            sm.clone(),
            json!({}),
            opts(Some(Duration::from_secs(1))),
            journal.clone(),
        )
        .await;
    let deadline = t0() + chrono::Duration::seconds(100);
    assert_eq!(
        p,
        Progress::Suspended { until: deadline },
        "a suspended run wakes for its timeout"
    );
    // Resumed early (a restart): suspends again until the same deadline.
    let engine = Engine::new(
        echo.clone(),
        ManualClock::auto(t0() + chrono::Duration::seconds(40)),
    );
    let p = engine
        .resume(
            sm.clone(),
            journal.resume(json!({})),
            opts(Some(Duration::from_secs(1))),
            journal.clone(),
        )
        .await;
    assert_eq!(p, Progress::Suspended { until: deadline });
    let engine = Engine::new(echo, ManualClock::auto(deadline));
    let p = engine
        .resume(
            sm,
            journal.resume(json!({})),
            opts(Some(Duration::from_secs(1))),
            journal.clone(),
        )
        .await;
    let Progress::Finished(outcome) = p else {
        panic!("{p:?}")
    };
    assert_eq!(outcome.status, ExecutionStatus::TimedOut);
    assert_eq!(outcome.stop_date, t0() + chrono::Duration::seconds(100));
    assert_valid_history(&journal.events());
}

#[test]
fn event_types_parse_back_from_their_names() {
    for t in [
        EventType::ExecutionStarted,
        EventType::MapIterationAborted,
        EventType::EvaluationFailed,
    ] {
        assert_eq!(EventType::parse(t.as_str()), Some(t));
    }
    assert_eq!(EventType::parse("NoSuchEvent"), None);
}

/// Runs `engine.start_durable` on a task and "crashes" it once `until` holds.
async fn crash_when(
    engine: &Engine,
    sm: Arc<StateMachine>,
    journal: &Arc<Journal>,
    until: impl Fn(&[HistoryEvent]) -> bool,
) {
    let run = tokio::spawn({
        let (engine, journal) = (engine.clone(), journal.clone());
        async move { engine.start_durable(sm, json!({}), opts(None), journal).await }
    });
    while !until(&journal.events()) {
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
}

fn count(events: &[HistoryEvent], ty: &str) -> usize {
    types(events).iter().filter(|t| **t == ty).count()
}

/// Counts calls and fails the first `fail_first` of them.
struct Flaky {
    calls: AtomicUsize,
    fail_first: usize,
}

impl TaskInvoker for Flaky {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        let n = self.calls.fetch_add(1, Ordering::SeqCst);
        let fail = n < self.fail_first;
        Box::pin(async move {
            if fail {
                Err(TaskFailure::new("Boom", "flaky"))
            } else {
                Ok(req.input)
            }
        })
    }
}

#[tokio::test(flavor = "current_thread")]
async fn a_token_wait_resumes_with_the_same_token_and_its_original_timeout() {
    let def = json!({"StartAt": "Approve", "States": {
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "TimeoutSeconds": 100,
            "Parameters": {"FunctionName": "notify", "Payload": {"token.$": "$$.Task.Token"}}, "End": true}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let echo = Arc::new(Echo { calls: AtomicUsize::new(0), hang_first: 0 });
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(echo.clone(), ManualClock::new(t0()));
    crash_when(&engine, sm.clone(), &journal, |e| count(e, "TaskSubmitted") == 1).await;
    let submitted = journal.events().into_iter().find(|e| e.event_type == EventType::TaskSubmitted);
    let output: Value = serde_json::from_str(
        submitted.and_then(|e| e.details.to_json()).and_then(|d| d["output"].as_str().map(str::to_string)).as_deref().unwrap_or("null"),
    )
    .unwrap();
    let token = output["Payload"]["token"].as_str().expect("the task saw its token").to_string();

    // A new process: the old token still answers the waiting state.
    let engine = Engine::new(echo.clone(), ManualClock::new(t0() + chrono::Duration::seconds(30)));
    let run = tokio::spawn({
        let (engine, journal, sm) = (engine.clone(), journal.clone(), sm.clone());
        async move { engine.resume(sm, journal.resume(json!({})), opts(None), journal).await }
    });
    let callbacks = engine.services().callbacks.clone();
    while callbacks.signal(&token, Signal::Heartbeat).is_err() {
        tokio::task::yield_now().await;
    }
    callbacks.signal(&token, Signal::Succeeded(json!({"approved": true}))).unwrap();
    let Progress::Finished(outcome) = run.await.unwrap() else { panic!("suspended") };
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!({"approved": true})));
    assert_eq!(echo.calls.load(Ordering::SeqCst), 1, "the handed-out task does not run again");
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(count(&events, "TaskScheduled"), 1, "{:?}", types(&events));
    assert_eq!(count(&events, "TaskSubmitted"), 1);

    // Resumed after its TimeoutSeconds passed: it times out at once.
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(echo.clone(), ManualClock::new(t0()));
    crash_when(&engine, sm.clone(), &journal, |e| count(e, "TaskSubmitted") == 1).await;
    let clock = ManualClock::auto(t0() + chrono::Duration::seconds(100));
    let engine = Engine::new(echo.clone(), clock.clone());
    let Progress::Finished(outcome) = engine.resume(sm, journal.resume(json!({})), opts(None), journal.clone()).await else {
        panic!("suspended")
    };
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(outcome.error.as_deref(), Some("States.Timeout"));
    assert!(clock.sleeps().iter().all(|d| d.is_zero()), "{:?}", clock.sleeps());
    assert_valid_history(&journal.events());
}

#[tokio::test(flavor = "current_thread")]
async fn retry_counters_survive_a_restart() {
    let def = json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:flaky",
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 10}], "End": true}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let flaky = Arc::new(Flaky { calls: AtomicUsize::new(0), fail_first: 100 });
    let journal = Arc::new(Journal::default());
    // A manual clock that never advances: the run dies in its first back-off.
    let engine = Engine::new(flaky.clone(), ManualClock::new(t0()));
    crash_when(&engine, sm.clone(), &journal, |e| count(e, "LambdaFunctionFailed") == 1).await;
    tokio::task::yield_now().await;
    let clock = ManualClock::auto(t0() + chrono::Duration::seconds(4));
    let engine = Engine::new(flaky.clone(), clock.clone());
    let Progress::Finished(outcome) = engine.resume(sm, journal.resume(json!({})), opts(None), journal.clone()).await else {
        panic!("suspended")
    };
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3, "1 attempt + MaxAttempts 2 retries, across the restart");
    assert_eq!(
        clock.sleeps().first(),
        Some(&Duration::from_secs(6)),
        "the back-off keeps its original end: {:?}",
        clock.sleeps()
    );
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(count(&events, "LambdaFunctionFailed"), 3);
}

#[tokio::test(flavor = "current_thread")]
async fn a_resumed_parallel_records_one_started_event() {
    let def = json!({"StartAt": "Both", "States": {
        "Both": {"Type": "Parallel", "End": true, "Branches": [
            {"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "End": true}}}
        ]}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let echo = Arc::new(Echo { calls: AtomicUsize::new(0), hang_first: 1 });
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(echo.clone(), ManualClock::auto(t0()));
    crash_when(&engine, sm.clone(), &journal, |e| count(e, "LambdaFunctionStarted") == 1).await;
    let Progress::Finished(outcome) = engine.resume(sm, journal.resume(json!({})), opts(None), journal.clone()).await else {
        panic!("suspended")
    };
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(count(&events, "ParallelStateStarted"), 1, "{:?}", types(&events));
    assert_eq!(count(&events, "ParallelStateEntered"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn an_activity_task_is_offered_again_unless_a_worker_took_it() {
    const ACTIVITY: &str = "arn:aws:states:us-east-1:111111111111:activity:pack";
    let def = json!({"StartAt": "Pack", "States": {"Pack": {"Type": "Task", "Resource": ACTIVITY, "End": true}}});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let echo = Arc::new(Echo { calls: AtomicUsize::new(0), hang_first: 0 });
    let engine_with = |activities: &Arc<MemoryActivities>| {
        activities.create(ACTIVITY, "pack", t0());
        Engine::new(echo.clone(), ManualClock::new(t0())).with_services(Services {
            callbacks: Arc::new(MemoryCallbacks::new()),
            activities: Some(activities.clone()),
            executions: None,
            objects: None,
            map_runs: None,
        })
    };
    for taken_before_the_crash in [false, true] {
        let journal = Arc::new(Journal::default());
        let before = Arc::new(MemoryActivities::new());
        let engine = engine_with(&before);
        let scheduled = if taken_before_the_crash { "ActivityStarted" } else { "ActivityScheduled" };
        let run = tokio::spawn({
            let (engine, journal, sm) = (engine.clone(), journal.clone(), sm.clone());
            async move { engine.start_durable(sm, json!({"n": 1}), opts(None), journal).await }
        });
        let task = before.poll(ACTIVITY, Duration::from_secs(5)).await.expect("scheduled");
        if taken_before_the_crash {
            engine.services().callbacks.signal(&task.token, Signal::Started { worker_name: Some("w".into()) }).unwrap();
        }
        while count(&journal.events(), scheduled) == 0 {
            tokio::task::yield_now().await;
        }
        run.abort();
        let _ = run.await;

        let after = Arc::new(MemoryActivities::new());
        let engine = engine_with(&after);
        let run = tokio::spawn({
            let (engine, journal, sm) = (engine.clone(), journal.clone(), sm.clone());
            async move { engine.resume(sm, journal.resume(json!({"n": 1})), opts(None), journal).await }
        });
        let callbacks = engine.services().callbacks.clone();
        while callbacks.signal(&task.token, Signal::Heartbeat).is_err() {
            tokio::task::yield_now().await;
        }
        let offered = after.poll(ACTIVITY, Duration::ZERO).await;
        assert_eq!(offered.is_some(), !taken_before_the_crash, "offered again: {offered:?}");
        if let Some(t) = offered {
            assert_eq!(t.token, task.token, "the same token");
        }
        callbacks.signal(&task.token, Signal::Succeeded(json!({"packed": 1}))).unwrap();
        let Progress::Finished(outcome) = run.await.unwrap() else { panic!("suspended") };
        assert_eq!(outcome.output, Some(json!({"packed": 1})));
        let events = journal.events();
        assert_valid_history(&events);
        assert_eq!(count(&events, "ActivityScheduled"), 1, "{:?}", types(&events));
        assert_eq!(count(&events, "ActivityStarted"), usize::from(taken_before_the_crash));
    }
}

fn checkpoints(journal: &Journal) -> Vec<String> {
    let log = journal.log.lock().unwrap();
    log.iter()
        .filter_map(|e| match e {
            Entry::Checkpoint(c) => Some(c.state.clone()),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "current_thread")]
async fn only_the_state_after_a_task_gets_a_checkpoint_in_a_chain_that_cannot_wait() {
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let journal = Arc::new(Journal::default());
    let def = json!({"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Parameters": {"id.$": "$.id"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "Next": "Check"},
        "Check": {"Type": "Choice", "Choices": [{"Variable": "$.id", "NumericEquals": 7, "Next": "Done"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let p = Engine::new(echo, ManualClock::auto(t0()))
        .start_durable(sm, json!({"id": 7}), opts(None), journal.clone())
        .await;
    let Progress::Finished(outcome) = p else {
        panic!("{p:?}")
    };
    assert_eq!(outcome.output, Some(json!({"id": 7})));
    assert_eq!(checkpoints(&journal), ["Check"], "none before Prep or Work: they cannot wait");
}

/// The process dies in a chain of states that cannot wait, after a Wait: the
/// restart re-runs the chain from its last checkpoint (the state after the
/// Wait has one, so the Wait is not waited again; so has the state after a
/// Task, so a finished Task does not run again), the history stays valid and
/// the output is the uninterrupted run's.
#[tokio::test(flavor = "current_thread")]
async fn a_crash_in_a_chain_without_checkpoints_reruns_it_from_the_last_one() {
    let def = json!({"StartAt": "Remember", "States": {
        "Remember": {"Type": "Pass", "Assign": {"who.$": "$.who"}, "Next": "Nap"},
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo",
                 "Parameters": {"who.$": "$who"}, "Next": "Tidy"},
        "Tidy": {"Type": "Pass", "Parameters": {"tidied.$": "$.who"}, "Next": "Again"},
        "Again": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "End": true}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let echo = Arc::new(Echo {
        calls: AtomicUsize::new(0),
        hang_first: 0,
    });
    let input = json!({"who": "dee"});
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(echo.clone(), ManualClock::auto(t0()));
    let Progress::Finished(whole) = engine
        .start_durable(sm.clone(), input.clone(), opts(None), journal.clone())
        .await
    else {
        panic!("finishes")
    };
    assert_eq!(whole.output, Some(json!({"tidied": "dee"})));
    assert_eq!(
        checkpoints(&journal),
        ["Nap", "Work", "Tidy"],
        "only the Wait and the states after it and after a Task"
    );

    // What reached the disk: everything up to Tidy's exit.
    let tidy_exited = journal
        .log
        .lock()
        .unwrap()
        .iter()
        .position(|e| {
            matches!(e, Entry::Event(ev) if ev.event_type.as_str() == "PassStateExited"
            && ev.details.to_json().is_some_and(|d| d["name"] == "Tidy"))
        })
        .expect("Tidy exited");
    journal.truncate(tidy_exited + 1);
    let before = journal.events().len();
    let calls_before = echo.calls.load(Ordering::SeqCst);
    let resumed = Engine::new(echo.clone(), ManualClock::auto(t0()))
        .resume(sm, journal.resume(input), opts(None), journal.clone())
        .await;
    let Progress::Finished(outcome) = resumed else {
        panic!("{resumed:?}")
    };
    assert_eq!(outcome.status, ExecutionStatus::Succeeded);
    assert_eq!(outcome.output, whole.output);
    assert_eq!(
        echo.calls.load(Ordering::SeqCst) - calls_before,
        1,
        "Again ran; Work, which had finished, did not run again"
    );
    let events = journal.events();
    assert_valid_history(&events);
    let t = types(&events);
    assert_eq!(t[before], "PassStateEntered", "the rerun starts at Tidy: {t:?}");
    assert_eq!(
        t.iter().filter(|t| **t == "TaskStateEntered").count(),
        2,
        "Work and Again, once each: {t:?}"
    );
    assert_eq!(
        t.iter().filter(|t| **t == "WaitStateExited").count(),
        1,
        "{t:?}"
    );
    assert_eq!(
        t.iter().filter(|t| **t == "ExecutionStarted").count(),
        1,
        "{t:?}"
    );
    assert_eq!(t.last(), Some(&"ExecutionSucceeded"));
}

#[tokio::test(flavor = "current_thread")]
async fn a_top_level_maps_retry_counters_survive_a_restart() {
    let def = json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "End": true,
            "Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 10}],
            "ItemProcessor": {"StartAt": "Work", "States": {
                "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:flaky", "End": true}
            }}}
    }});
    let sm = Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")));
    let flaky = Arc::new(Flaky { calls: AtomicUsize::new(0), fail_first: 100 });
    let journal = Arc::new(Journal::default());
    // A manual clock that never advances: the run dies in the Map's first back-off.
    let engine = Engine::new(flaky.clone(), ManualClock::new(t0()));
    let input = json!({"items": [1]});
    let run = tokio::spawn({
        let (engine, journal, sm, input) = (engine.clone(), journal.clone(), sm.clone(), input.clone());
        async move { engine.start_durable(sm, input, opts(None), journal).await }
    });
    let counted = |j: &Journal| {
        j.log.lock().unwrap().iter().any(|e| matches!(e, Entry::Checkpoint(cp) if cp.progress.retry_counts == [1]))
    };
    while !counted(&journal) {
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
    tokio::task::yield_now().await;
    let engine = Engine::new(flaky.clone(), ManualClock::auto(t0() + chrono::Duration::seconds(4)));
    let Progress::Finished(outcome) = engine.resume(sm, journal.resume(input), opts(None), journal.clone()).await else {
        panic!("suspended")
    };
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(flaky.calls.load(Ordering::SeqCst), 3, "1 attempt + MaxAttempts 2 retries, across the restart");
}

mod parts;
