//! A distributed Map killed mid-run: `kill -9` of `stepbox serve` while a
//! map run's STANDARD (or EXPRESS) children run; after the restart the run
//! goes on where it was: every item has one child execution, the children
//! that had finished are not run again, and the parent's output holds every
//! result.

use std::time::{Duration, Instant};

use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};

use super::{ROLE, serve, wait_closed};

const ITEMS: usize = 40;

fn definition() -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "ItemsPath": "$.items",
        "MaxConcurrency": 4,
        "Label": "Each",
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Echo",
            "States": {
                "Echo": {"Type": "Task", "Resource": super::ECHO, "Next": "Rest"},
                "Rest": {"Type": "Wait", "Seconds": 1, "Next": "Done"},
                "Done": {"Type": "Pass", "Parameters": {"got.$": "$.n"}, "End": true}
            }
        },
        "End": true
    }}})
}

/// Every child of the map run: (ARN, status, stop date).
async fn children(sfn: &aws_sdk_sfn::Client, run: &str) -> Vec<(String, ExecutionStatus, Option<aws_sdk_sfn::primitives::DateTime>)> {
    let mut out = Vec::new();
    let mut pages = sfn.list_executions().map_run_arn(run).into_paginator().send();
    while let Some(page) = pages.next().await {
        for e in page.expect("ListExecutions").executions() {
            out.push((e.execution_arn().to_string(), e.status().clone(), e.stop_date().cloned()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_distributed_map_goes_on_without_running_finished_children_again() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, functions, log) = (tmp.path().join("data"), tmp.path().join("functions"), tmp.path().join("serve.log"));
    stepbox_components::export_to(&functions).unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let sm = sfn
        .create_state_machine()
        .name("fan")
        .definition(definition().to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    let items: Vec<Value> = (0..ITEMS).map(|n| json!({"n": n})).collect();
    let parent = sfn
        .start_execution()
        .state_machine_arn(&sm)
        .input(json!({"items": items}).to_string())
        .send()
        .await
        .expect("StartExecution")
        .execution_arn()
        .to_string();

    // Kill once about a third of the children have finished.
    let deadline = Instant::now() + Duration::from_secs(60);
    let run = loop {
        let runs = sfn.list_map_runs().execution_arn(&parent).send().await.expect("ListMapRuns");
        if let Some(r) = runs.map_runs().first() {
            let run = r.map_run_arn().to_string();
            let d = sfn.describe_map_run().map_run_arn(&run).send().await.expect("DescribeMapRun");
            if d.execution_counts().unwrap().succeeded() >= ITEMS as i64 / 3 {
                break run;
            }
        }
        assert!(Instant::now() < deadline, "the map run never got a third through");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let finished: Vec<_> = children(&sfn, &run).await.into_iter().filter(|c| c.1 == ExecutionStatus::Succeeded).collect();
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();
    assert!(!finished.is_empty() && finished.len() < ITEMS, "{} finished", finished.len());

    let server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let done = wait_closed(&sfn, &parent).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    let expected: Vec<Value> = (0..ITEMS).map(|n| json!({"got": n})).collect();
    assert_eq!(output, Value::Array(expected), "every item's result, once, in order");

    // One child per item; those that had finished kept their stop date and
    // ran once (one ExecutionStarted, one Task).
    let after = children(&sfn, &run).await;
    assert_eq!(after.len(), ITEMS, "one child execution per item");
    assert!(after.iter().all(|c| c.1 == ExecutionStatus::Succeeded), "{after:?}");
    for (arn, _, stop) in &finished {
        let now = after.iter().find(|c| &c.0 == arn).expect("a finished child is still listed");
        assert_eq!(&now.2, stop, "{arn} ran again");
        let history = sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        let count = |t: HistoryEventType| history.events().iter().filter(|e| *e.r#type() == t).count();
        assert_eq!((count(HistoryEventType::ExecutionStarted), count(HistoryEventType::TaskStateEntered)), (1, 1), "{arn}");
    }
    let d = sfn.describe_map_run().map_run_arn(&run).send().await.expect("DescribeMapRun after the restart");
    assert_eq!(d.execution_counts().unwrap().succeeded(), ITEMS as i64);
    let history = sfn.get_execution_history().execution_arn(&parent).send().await.unwrap();
    let started = history.events().iter().filter(|e| *e.r#type() == HistoryEventType::MapRunStarted).count();
    assert_eq!(started, 1, "the map run started once");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_distributed_map_does_not_run_its_finished_express_children_again() {
    use super::inline_fan::{Endpoint, call, kill_mid_state};
    const N: u64 = 12;
    let endpoint = Endpoint::default();
    let addr = endpoint.start().await;
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": N, "End": true,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Call",
            "States": {"Call": call("ApiEndpoint.$", format!("States.Format('http://{addr}/k/{{}}', $.n)"))}
        }
    }}});
    let items: Vec<Value> = (0..N).map(|n| json!({"n": n})).collect();
    let even: Vec<u64> = (0..N).filter(|n| n % 2 == 0).collect();
    let (output, events, server) = kill_mid_state("express-fan", definition, json!({"items": items}), &endpoint, &even).await;
    let expected: Vec<Value> = (0..N).map(|k| json!({"k": k})).collect();
    assert_eq!(output, Value::Array(expected), "every item's result, in its place");
    for n in 0..N {
        let want = if n % 2 == 0 { 1 } else { 2 };
        assert_eq!(endpoint.calls(n), want, "item {n}: a finished EXPRESS child runs once, one cut off runs again");
    }
    let run = events
        .iter()
        .find_map(|e| e.map_run_started_event_details().and_then(|d| d.map_run_arn()))
        .expect("a MapRunStarted event")
        .to_string();
    let started = events.iter().filter(|e| *e.r#type() == HistoryEventType::MapRunStarted).count();
    assert_eq!(started, 1, "the map run started once");
    let sfn = crate::clients::sfn(&server.endpoint);
    let d = sfn.describe_map_run().map_run_arn(&run).send().await.expect("DescribeMapRun after the restart");
    let counts = d.execution_counts().unwrap();
    assert_eq!((counts.succeeded(), counts.total(), counts.running()), (N as i64, N as i64, 0), "{counts:?}");
}

/// A map run's record outlives the server: after a restart DescribeMapRun,
/// ListMapRuns and ListExecutions `mapRunArn` answer for a run that ended
/// before it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_map_run_is_described_and_listed_after_a_restart() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, functions, log) = (tmp.path().join("data"), tmp.path().join("functions"), tmp.path().join("serve.log"));
    stepbox_components::export_to(&functions).unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let definition = json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "End": true,
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": true}}
        }
    }}});
    let sm = sfn.create_state_machine().name("kept").definition(definition.to_string()).role_arn(ROLE).send().await.unwrap();
    let parent = sfn
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .input(json!({"items": [1, 2, 3]}).to_string())
        .send()
        .await
        .unwrap()
        .execution_arn()
        .to_string();
    assert_eq!(*wait_closed(&sfn, &parent).await.status(), ExecutionStatus::Succeeded);
    let run = sfn.list_map_runs().execution_arn(&parent).send().await.unwrap().map_runs()[0].map_run_arn().to_string();
    let before = sfn.describe_map_run().map_run_arn(&run).send().await.unwrap();
    // The record is written once the run ends; give the writer a moment.
    tokio::time::sleep(Duration::from_millis(500)).await;
    server.child.kill().expect("kill -9");
    let _ = server.child.wait();

    let server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let after = sfn.describe_map_run().map_run_arn(&run).send().await.expect("DescribeMapRun after the restart");
    assert_eq!(after.status(), before.status());
    assert_eq!(after.start_date(), before.start_date());
    assert_eq!(after.stop_date(), before.stop_date());
    assert_eq!(after.max_concurrency(), 2);
    let counts = after.execution_counts().unwrap();
    assert_eq!((counts.succeeded(), counts.total()), (3, 3), "{counts:?}");
    assert_eq!(after.item_counts().unwrap().succeeded(), 3);
    let listed = sfn.list_map_runs().execution_arn(&parent).send().await.unwrap();
    let arns: Vec<&str> = listed.map_runs().iter().map(|r| r.map_run_arn()).collect();
    assert_eq!(arns, [run.as_str()]);
    let children = sfn.list_executions().map_run_arn(&run).send().await.expect("ListExecutions mapRunArn");
    assert_eq!(children.executions().len(), 3);
    use aws_sdk_sfn::error::ProvideErrorMetadata;
    let update = sfn.update_map_run().map_run_arn(&run).max_concurrency(5).send().await;
    let code = update.err().and_then(|e| e.into_service_error().code().map(str::to_string));
    assert_eq!(code.as_deref(), Some("ValidationException"), "a run that ended cannot be updated");
}
