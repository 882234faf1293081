//! A DISTRIBUTED Map through aws-sdk-sfn: its children are executions of
//! their own (STANDARD: recorded, listed by ListExecutions `mapRunArn`,
//! with their own history; EXPRESS: run unrecorded), its map run is
//! described, listed and updated while it runs, and stopping the parent
//! aborts the children.

use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, MapRunStatus, StateMachineType};
use serde_json::{Value, json};

use super::{Harness, create_machine, on_both_stores, start, wait_closed};

/// A Map over the input's `items` whose children fail on `"fail"` items
/// and wait `wait` seconds otherwise.
fn distributed(execution_type: &str, extra: Value) -> String {
    let mut map = json!({
        "Type": "Map",
        "ItemsPath": "$.items",
        "Label": "Each",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": execution_type},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"Variable": "$.v", "StringEquals": "fail", "Next": "Boom"}],
                          "Default": "Rest"},
                "Rest": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Done"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "a bad item"},
                "Done": {"Type": "Pass", "Parameters": {"got.$": "$.v"}, "End": true}
            }
        },
        "End": true
    });
    for (k, v) in extra.as_object().into_iter().flatten() {
        map[k] = v.clone();
    }
    json!({"StartAt": "Fan", "States": {"Fan": map}}).to_string()
}

fn items(values: &[&str], wait: u64) -> String {
    let list: Vec<Value> = values.iter().map(|v| json!({"v": v, "wait": wait})).collect();
    json!({"items": list}).to_string()
}

async fn start_parent(h: &Harness, machine: &str, input: &str) -> String {
    let started = h.sfn.start_execution().state_machine_arn(machine).input(input).send().await.expect("StartExecution");
    started.execution_arn().to_string()
}

/// The parent's one map run, once it has started.
async fn map_run_of(h: &Harness, parent: &str) -> String {
    for _ in 0..500 {
        let runs = h.sfn.list_map_runs().execution_arn(parent).send().await.expect("ListMapRuns");
        if let Some(r) = runs.map_runs().first() {
            return r.map_run_arn().to_string();
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("no map run started");
}

on_both_stores!(standard_children_are_executions_of_their_own);
async fn standard_children_are_executions_of_their_own(h: Harness) {
    let sm = create_machine(&h, "fan", &distributed("STANDARD", json!({})), StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b", "c"], 0)).await;
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output, json!([{"got": "a"}, {"got": "b"}, {"got": "c"}]));

    let runs = h.sfn.list_map_runs().execution_arn(&parent).send().await.expect("ListMapRuns");
    assert_eq!(runs.map_runs().len(), 1);
    let listed = &runs.map_runs()[0];
    let run = listed.map_run_arn().to_string();
    assert!(run.contains(":mapRun:fan/Each:"), "{run}");
    assert_eq!(listed.execution_arn(), parent);
    assert!(listed.state_machine_arn().ends_with(":stateMachine:fan/Each"), "{listed:?}");
    assert!(listed.stop_date().is_some());

    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.expect("DescribeMapRun");
    assert_eq!(*d.status(), MapRunStatus::Succeeded);
    assert_eq!(d.execution_arn(), parent);
    let counts = d.execution_counts().unwrap();
    assert_eq!((counts.total(), counts.succeeded(), counts.failed(), counts.pending(), counts.running()), (3, 3, 0, 0, 0));
    assert_eq!(d.item_counts().unwrap().succeeded(), 3);

    let children = h.sfn.list_executions().map_run_arn(&run).send().await.expect("ListExecutions mapRunArn");
    assert_eq!(children.executions().len(), 3);
    for c in children.executions() {
        assert_eq!(*c.status(), ExecutionStatus::Succeeded);
        assert!(c.execution_arn().contains(":execution:fan/Each:"), "{c:?}");
        let described = h.sfn.describe_execution().execution_arn(c.execution_arn()).send().await.unwrap();
        assert_eq!(described.map_run_arn(), Some(run.as_str()));
        assert_eq!(described.state_machine_arn(), listed.state_machine_arn());
        let history = h.sfn.get_execution_history().execution_arn(c.execution_arn()).send().await.unwrap();
        let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
        assert_eq!(*types[0], HistoryEventType::ExecutionStarted);
        assert_eq!(**types.last().unwrap(), HistoryEventType::ExecutionSucceeded, "{types:?}");
        let sm = h.sfn.describe_state_machine_for_execution().execution_arn(c.execution_arn()).send().await.unwrap();
        assert_eq!(sm.map_run_arn(), Some(run.as_str()));
        assert_eq!(sm.label(), Some("Each"));
        assert!(sm.definition().contains("\"Check\""));
    }

    // The parent records the map run, not its children's events.
    let history = h.sfn.get_execution_history().execution_arn(&parent).send().await.unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert!(types.contains(&&HistoryEventType::MapRunStarted) && types.contains(&&HistoryEventType::MapRunSucceeded), "{types:?}");
    assert!(!types.contains(&&HistoryEventType::PassStateEntered), "{types:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tolerated_failures_end_the_map_run_once_exceeded() {
    let h = start().await;
    let def = distributed("STANDARD", json!({"MaxConcurrency": 1, "ToleratedFailureCount": 1}));
    let sm = create_machine(&h, "tolerant", &def, StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "fail", "b", "fail", "c"], 0)).await;
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed, "{done:?}");
    assert_eq!(done.error(), Some("States.ExceedToleratedFailureThreshold"));
    let run = map_run_of(&h, &parent).await;
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(*d.status(), MapRunStatus::Failed);
    assert_eq!(d.tolerated_failure_count(), 1);
    let c = d.execution_counts().unwrap();
    // One at a time: the second failure (the fourth child) ends the run.
    assert_eq!((c.succeeded(), c.failed(), c.pending(), c.total()), (2, 2, 1, 5), "{c:?}");
    let failed = h
        .sfn
        .list_executions()
        .map_run_arn(&run)
        .status_filter(ExecutionStatus::Failed)
        .send()
        .await
        .unwrap();
    assert_eq!(failed.executions().len(), 2);
    let one = h.sfn.describe_execution().execution_arn(failed.executions()[0].execution_arn()).send().await.unwrap();
    assert_eq!(one.error(), Some("Item.Bad"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_map_run_raises_concurrency_while_it_runs() {
    let h = start().await;
    let def = distributed("STANDARD", json!({"MaxConcurrency": 1}));
    let sm = create_machine(&h, "raised", &def, StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b", "c"], 2)).await;
    let run = map_run_of(&h, &parent).await;
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(d.max_concurrency(), 1);
    assert!(d.execution_counts().unwrap().running() <= 1);

    h.sfn.update_map_run().map_run_arn(&run).max_concurrency(3).tolerated_failure_count(2).send().await.expect("UpdateMapRun");
    let mut most = 0;
    for _ in 0..150 {
        let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
        assert_eq!(d.max_concurrency(), 3);
        assert_eq!(d.tolerated_failure_count(), 2);
        most = most.max(d.execution_counts().unwrap().running());
        if most == 3 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(most, 3, "the raised limit lets the waiting children start");
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");

    let err = h.sfn.update_map_run().map_run_arn(&run).max_concurrency(5).send().await.unwrap_err().into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    let missing = run.replace(run.rsplit(':').next().unwrap(), "missing");
    let err = h.sfn.describe_map_run().map_run_arn(&missing).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found(), "{err:?}");
    assert_eq!(err.code(), Some("ResourceNotFound"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn express_children_run_unrecorded() {
    let h = start().await;
    let sm = create_machine(&h, "quick", &distributed("EXPRESS", json!({})), StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b"], 0)).await;
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    let run = map_run_of(&h, &parent).await;
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(d.execution_counts().unwrap().succeeded(), 2);
    let children = h.sfn.list_executions().map_run_arn(&run).send().await.unwrap();
    assert!(children.executions().is_empty(), "{children:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stopping_the_parent_aborts_the_children() {
    let h = start().await;
    let sm = create_machine(&h, "stopped", &distributed("STANDARD", json!({})), StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b"], 60)).await;
    let run = map_run_of(&h, &parent).await;
    for _ in 0..500 {
        let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
        if d.execution_counts().unwrap().running() == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    h.sfn.stop_execution().execution_arn(&parent).send().await.unwrap();
    assert_eq!(*wait_closed(&h, &parent).await.status(), ExecutionStatus::Aborted);
    let mut aborted = 0;
    for _ in 0..500 {
        let children = h.sfn.list_executions().map_run_arn(&run).send().await.unwrap();
        aborted = children.executions().iter().filter(|c| *c.status() == ExecutionStatus::Aborted).count();
        if aborted == 2 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(aborted, 2, "both children are aborted");
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(*d.status(), MapRunStatus::Aborted);
}

/// Children that fail unless their execution was redriven.
fn fails_until_redriven() -> String {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 1,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"And": [{"Variable": "$.v", "StringEquals": "fail"},
                                               {"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0}],
                                       "Next": "Boom"}],
                          "Default": "Done"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "not redriven yet"},
                "Done": {"Type": "Pass", "Parameters": {"got.$": "$.v"}, "End": true}
            }
        },
        "End": true
    }}})
    .to_string()
}

on_both_stores!(a_redriven_map_run_reruns_only_its_failed_and_pending_children);
async fn a_redriven_map_run_reruns_only_its_failed_and_pending_children(h: Harness) {
    let sm = create_machine(&h, "redriven", &fails_until_redriven(), StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b", "fail", "c"], 0)).await;
    let failed = wait_closed(&h, &parent).await;
    assert_eq!(*failed.status(), ExecutionStatus::Failed, "{failed:?}");
    let run = map_run_of(&h, &parent).await;
    let c = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap().execution_counts().cloned().unwrap();
    assert_eq!((c.succeeded(), c.failed(), c.pending()), (2, 1, 1), "{c:?}");
    let before = h.sfn.list_executions().map_run_arn(&run).send().await.unwrap();
    assert_eq!(before.executions().len(), 3);

    h.sfn.redrive_execution().execution_arn(&parent).send().await.expect("RedriveExecution");
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output, json!([{"got": "a"}, {"got": "b"}, {"got": "fail"}, {"got": "c"}]));

    // The same map run, redriven: one more child (the pending one); the
    // failed child redriven; the succeeded ones not run again.
    let runs = h.sfn.list_map_runs().execution_arn(&parent).send().await.unwrap();
    assert_eq!(runs.map_runs().len(), 1);
    assert_eq!(runs.map_runs()[0].map_run_arn(), run);
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(*d.status(), MapRunStatus::Succeeded);
    assert_eq!(d.redrive_count(), Some(1));
    assert!(d.redrive_date().is_some());
    assert_eq!(d.execution_counts().unwrap().succeeded(), 4);
    let after = h.sfn.list_executions().map_run_arn(&run).send().await.unwrap();
    assert_eq!(after.executions().len(), 4);
    for c in after.executions() {
        assert_eq!(*c.status(), ExecutionStatus::Succeeded, "{c:?}");
        let history = h.sfn.get_execution_history().execution_arn(c.execution_arn()).send().await.unwrap();
        let started = history.events().iter().filter(|e| *e.r#type() == HistoryEventType::ExecutionStarted).count();
        assert_eq!(started, 1, "{c:?}");
        let was = before.executions().iter().find(|b| b.execution_arn() == c.execution_arn());
        match was.map(|b| b.status()) {
            Some(ExecutionStatus::Succeeded) => {
                assert_eq!(c.redrive_count(), Some(0));
                assert_eq!(c.stop_date(), was.unwrap().stop_date(), "a succeeded child is not run again");
            }
            Some(ExecutionStatus::Failed) => assert_eq!(c.redrive_count(), Some(1), "the failed child is redriven"),
            _ => assert_eq!(c.redrive_count(), Some(0), "the pending child runs once"),
        }
    }
    let history = h.sfn.get_execution_history().execution_arn(&parent).send().await.unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::MapRunStarted).count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::MapRunRedriven).count(), 1, "{types:?}");
    assert_eq!(**types.last().unwrap(), HistoryEventType::ExecutionSucceeded);
}

on_both_stores!(a_redriven_map_run_does_not_rerun_its_succeeded_express_children);
/// EXPRESS children (unrecorded: the parent keeps their outcomes) whose
/// `"fail"` item fails until the parent is redriven; each child's input
/// carries the parent's redrive count, so a result tells the run it came from.
async fn a_redriven_map_run_does_not_rerun_its_succeeded_express_children(h: Harness) {
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "End": true,
        "ItemSelector": {"v.$": "$$.Map.Item.Value.v", "run.$": "$$.Execution.RedriveCount"},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Check",
            "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"And": [{"Variable": "$.v", "StringEquals": "fail"},
                                               {"Variable": "$.run", "NumericEquals": 0}],
                                       "Next": "Boom"}],
                          "Default": "Done"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "not redriven yet"},
                "Done": {"Type": "Pass", "Parameters": {"got.$": "$.v", "run.$": "$.run"}, "End": true}
            }
        }
    }}});
    let sm = create_machine(&h, "express-redriven", &definition.to_string(), StateMachineType::Standard).await;
    let parent = start_parent(&h, &sm, &items(&["a", "b", "fail", "c"], 0)).await;
    assert_eq!(*wait_closed(&h, &parent).await.status(), ExecutionStatus::Failed);
    let run = map_run_of(&h, &parent).await;
    let c = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap().execution_counts().cloned().unwrap();
    assert_eq!((c.succeeded(), c.failed(), c.pending()), (2, 1, 1), "{c:?}");

    h.sfn.redrive_execution().execution_arn(&parent).send().await.expect("RedriveExecution");
    let done = wait_closed(&h, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    let want = json!([{"got": "a", "run": 0}, {"got": "b", "run": 0}, {"got": "fail", "run": 1}, {"got": "c", "run": 1}]);
    assert_eq!(output, want, "the succeeded children kept their results; the failed and the pending one ran");
    let d = h.sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    assert_eq!(*d.status(), MapRunStatus::Succeeded);
    assert_eq!(d.redrive_count(), Some(1));
    let c = d.execution_counts().unwrap();
    assert_eq!((c.succeeded(), c.failed(), c.pending(), c.total()), (4, 0, 0, 4), "{c:?}");
    let history = h.sfn.get_execution_history().execution_arn(&parent).send().await.unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::MapRunStarted).count(), 1, "{types:?}");
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::MapRunRedriven).count(), 1, "{types:?}");
}
