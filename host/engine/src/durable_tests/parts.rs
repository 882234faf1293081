//! A top-level Map's iterations and a Parallel's branches that finished
//! before a crash do not run again after the resume.

use super::*;
use std::collections::HashMap;

/// Counts calls by the input's `n`; an input with `"hang": true` never
/// answers its first call (the process dies meanwhile), one with
/// `"fail": true` fails with `Boom`.
#[derive(Default)]
struct Gate {
    calls: Mutex<HashMap<u64, usize>>,
}

impl Gate {
    fn calls(&self, n: u64) -> usize {
        self.calls.lock().unwrap().get(&n).copied().unwrap_or(0)
    }
}

impl TaskInvoker for Gate {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        let n = req.input["n"].as_u64().unwrap_or(u64::MAX);
        let first = {
            let mut calls = self.calls.lock().unwrap();
            let c = calls.entry(n).or_default();
            *c += 1;
            *c == 1
        };
        let hang = first && req.input["hang"] == json!(true);
        let fail = req.input["fail"] == json!(true);
        Box::pin(async move {
            if hang {
                std::future::pending::<()>().await;
            }
            if fail { Err(TaskFailure::new("Boom", "failed on purpose")) } else { Ok(req.input) }
        })
    }
}

const GATE: &str = "arn:aws:lambda:us-east-1:111111111111:function:gate";

fn parse(def: Value) -> Arc<StateMachine> {
    Arc::new(StateMachine::from_value(&def).unwrap_or_else(|d| panic!("{d:?}")))
}

/// Starts a durable run of `sm` on `input` and "crashes" it once `until`
/// holds of what the journal recorded.
async fn crash_at(engine: &Engine, sm: &Arc<StateMachine>, input: &Value, journal: &Arc<Journal>, until: impl Fn(&Journal) -> bool) {
    let run = tokio::spawn({
        let (engine, journal, sm, input) = (engine.clone(), journal.clone(), sm.clone(), input.clone());
        async move { engine.start_durable(sm, input, opts(None), journal).await }
    });
    while !until(journal) {
        tokio::task::yield_now().await;
    }
    run.abort();
    let _ = run.await;
}

fn parts_recorded(j: &Journal) -> usize {
    j.log.lock().unwrap().iter().filter(|e| matches!(e, Entry::Part(_))).count()
}

async fn resume(engine: &Engine, sm: Arc<StateMachine>, input: Value, journal: &Arc<Journal>) -> ExecutionOutcome {
    match engine.resume(sm, journal.resume(input), opts(None), journal.clone()).await {
        Progress::Finished(outcome) => outcome,
        Progress::Suspended { .. } => panic!("suspended"),
    }
}

fn map_of(extra: Value) -> Arc<StateMachine> {
    let mut each = json!({"Type": "Map", "ItemsPath": "$.items", "Next": "Done",
        "ItemProcessor": {"StartAt": "Work", "States": {"Work": {"Type": "Task", "Resource": GATE, "End": true}}}});
    each.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    parse(json!({"StartAt": "Each", "States": {"Each": each, "Done": {"Type": "Pass", "End": true}}}))
}

#[tokio::test(flavor = "current_thread")]
async fn a_resumed_inline_map_runs_only_the_iterations_that_had_not_finished() {
    let sm = map_of(json!({}));
    let input = json!({"items": [{"n": 0}, {"n": 1, "hang": true}, {"n": 2}, {"n": 3, "hang": true}]});
    let gate = Arc::new(Gate::default());
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    crash_at(&engine, &sm, &input, &journal, |j| parts_recorded(j) == 2 && count(&j.events(), "LambdaFunctionScheduled") == 4).await;

    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    let outcome = resume(&engine, sm, input.clone(), &journal).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(input["items"].clone()), "every result in its place");
    assert_eq!([0, 1, 2, 3].map(|n| gate.calls(n)), [1, 2, 1, 2], "the finished iterations ran once");
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(count(&events, "MapStateStarted"), 1, "{:?}", types(&events));
    assert_eq!(count(&events, "MapIterationSucceeded"), 4);
    assert_eq!(count(&events, "MapStateSucceeded"), 1);
    assert_eq!(count(&events, "ExecutionSucceeded"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_tolerated_failed_iteration_keeps_its_failure_across_a_restart() {
    let sm = map_of(json!({"ToleratedFailureCount": 1}));
    let input = json!({"items": [{"n": 0, "fail": true}, {"n": 1, "hang": true}]});
    let gate = Arc::new(Gate::default());
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    crash_at(&engine, &sm, &input, &journal, |j| parts_recorded(j) == 1 && gate.calls(1) == 1).await;

    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    let outcome = resume(&engine, sm, input, &journal).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    let out = outcome.output.unwrap_or_default();
    assert_eq!(out[0]["Error"], json!("Boom"), "{out}");
    assert_eq!(out[1], json!({"n": 1, "hang": true}));
    assert_eq!((gate.calls(0), gate.calls(1)), (1, 2));
    assert_valid_history(&journal.events());
}

#[tokio::test(flavor = "current_thread")]
async fn a_retried_map_attempt_does_not_take_the_parts_of_the_one_before() {
    // Attempt 0: item 0 succeeds, item 1 fails; the Map retries; the crash
    // comes in the back-off. Attempt 1 (after the resume) runs both again.
    let sm = map_of(json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 1, "IntervalSeconds": 10}]}));
    let input = json!({"items": [{"n": 0}, {"n": 1, "fail": true}]});
    let gate = Arc::new(Gate::default());
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(gate.clone(), ManualClock::new(t0()));
    let counted = |j: &Journal| {
        j.log.lock().unwrap().iter().any(|e| matches!(e, Entry::Checkpoint(cp) if cp.progress.retry_counts == [1]))
    };
    crash_at(&engine, &sm, &input, &journal, counted).await;
    let engine = Engine::new(gate.clone(), ManualClock::auto(t0() + chrono::Duration::seconds(4)));
    let outcome = resume(&engine, sm, input, &journal).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!((gate.calls(0), gate.calls(1)), (2, 2), "each attempt runs every item");
}

fn parallel_of(extra: Value, branches: Value) -> Arc<StateMachine> {
    let mut both = json!({"Type": "Parallel", "End": true, "Branches": branches});
    both.as_object_mut().unwrap().extend(extra.as_object().cloned().unwrap_or_default());
    parse(json!({"StartAt": "Both", "States": {"Both": both}}))
}

fn branch(parameters: Value) -> Value {
    let name = format!("B{}", parameters["n"]);
    json!({"StartAt": name, "States": {name.clone(): {"Type": "Task", "Resource": GATE, "Parameters": parameters, "End": true}}})
}

#[tokio::test(flavor = "current_thread")]
async fn a_resumed_parallel_runs_only_the_branches_that_had_not_finished() {
    let sm = parallel_of(json!({}), json!([branch(json!({"n": 0})), branch(json!({"n": 1, "hang": true})), branch(json!({"n": 2}))]));
    let gate = Arc::new(Gate::default());
    let journal = Arc::new(Journal::default());
    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    crash_at(&engine, &sm, &json!({}), &journal, |j| parts_recorded(j) == 2 && gate.calls(1) == 1).await;

    let engine = Engine::new(gate.clone(), ManualClock::auto(t0()));
    let outcome = resume(&engine, sm, json!({}), &journal).await;
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{outcome:?}");
    assert_eq!(outcome.output, Some(json!([{"n": 0}, {"n": 1, "hang": true}, {"n": 2}])));
    assert_eq!([0, 1, 2].map(|n| gate.calls(n)), [1, 2, 1], "the finished branches ran once");
    let events = journal.events();
    assert_valid_history(&events);
    assert_eq!(count(&events, "ParallelStateStarted"), 1, "{:?}", types(&events));
    assert_eq!(count(&events, "ExecutionSucceeded"), 1);
}

#[tokio::test(flavor = "current_thread")]
async fn a_top_level_parallels_retry_counters_survive_a_restart() {
    let retry = json!({"Retry": [{"ErrorEquals": ["Boom"], "MaxAttempts": 2, "IntervalSeconds": 10}]});
    let sm = parallel_of(retry, json!([branch(json!({"n": 0, "fail": true}))]));
    let gate = Arc::new(Gate::default());
    let journal = Arc::new(Journal::default());
    // A manual clock that never advances: the run dies in the first back-off.
    let engine = Engine::new(gate.clone(), ManualClock::new(t0()));
    let counted = |j: &Journal| {
        j.log.lock().unwrap().iter().any(|e| matches!(e, Entry::Checkpoint(cp) if cp.progress.retry_counts == [1]))
    };
    crash_at(&engine, &sm, &json!({}), &journal, counted).await;
    tokio::task::yield_now().await;
    let clock = ManualClock::auto(t0() + chrono::Duration::seconds(4));
    let engine = Engine::new(gate.clone(), clock.clone());
    let outcome = resume(&engine, sm, json!({}), &journal).await;
    assert_eq!(outcome.status, ExecutionStatus::Failed);
    assert_eq!(gate.calls(0), 3, "1 attempt + MaxAttempts 2 retries, across the restart");
    assert_eq!(clock.sleeps().first(), Some(&Duration::from_secs(6)), "the back-off keeps its original end: {:?}", clock.sleeps());
    assert_valid_history(&journal.events());
}
