//! RedriveExecution through aws-sdk-sfn: a failed Standard execution runs
//! again from its failed step, on every store.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionRedriveFilter, ExecutionRedriveStatus, ExecutionStatus, HistoryEventType, StateMachineType};
use serde_json::{Value, json};

use super::{Harness, create_function, create_machine, on_both_stores, wait_closed};

/// A Task, then a Choice that fails the execution unless it was redriven.
fn fails_until_redriven() -> String {
    json!({"StartAt": "Work", "States": {
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo",
                 "ResultPath": "$.worked", "Next": "Check"},
        "Check": {"Type": "Choice",
                  "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0, "Next": "Boom"}],
                  "Default": "Done"},
        "Boom": {"Type": "Fail", "Error": "NotYet", "Cause": "not redriven yet"},
        "Done": {"Type": "Pass", "Parameters": {"redrives.$": "$$.Execution.RedriveCount", "worked.$": "$.worked"}, "End": true}
    }})
    .to_string()
}

on_both_stores!(redrive_continues_a_failed_execution_from_its_failed_step);
async fn redrive_continues_a_failed_execution_from_its_failed_step(h: Harness) {
    create_function(&h, "echo", "echo").await;
    let sm = create_machine(&h, "redriven", &fails_until_redriven(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(&sm).input(r#"{"n": 1}"#).send().await.unwrap();
    let arn = started.execution_arn().to_string();
    let failed = wait_closed(&h, &arn).await;
    assert_eq!(*failed.status(), ExecutionStatus::Failed, "{failed:?}");
    assert_eq!(failed.redrive_status(), Some(&ExecutionRedriveStatus::Redrivable));
    assert_eq!(failed.redrive_count(), Some(0));

    let redriven = h.sfn.redrive_execution().execution_arn(&arn).send().await.expect("RedriveExecution");
    let done = wait_closed(&h, &arn).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["redrives"], 1);
    assert_eq!(output["worked"], json!({"n": 1}));
    assert_eq!(done.redrive_count(), Some(1));
    assert_eq!(done.redrive_date(), Some(redriven.redrive_date()));
    assert_eq!(done.redrive_status(), Some(&ExecutionRedriveStatus::NotRedrivable));
    assert_eq!(done.redrive_status_reason(), Some("Execution is SUCCEEDED and cannot be redriven"));
    assert!(done.error().is_none() && done.cause().is_none(), "{done:?}");

    // One history: the failure, ExecutionRedriven, then the run from the
    // failed step on; the Task that had finished did not run again.
    let history = h.sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let events = history.events();
    let types: Vec<&HistoryEventType> = events.iter().map(|e| e.r#type()).collect();
    let redrive_at = types.iter().position(|t| **t == HistoryEventType::ExecutionRedriven).expect("ExecutionRedriven");
    assert_eq!(*types[redrive_at - 1], HistoryEventType::ExecutionFailed);
    assert_eq!(*types[redrive_at + 1], HistoryEventType::ChoiceStateEntered, "{types:?}");
    assert_eq!(**types.last().unwrap(), HistoryEventType::ExecutionSucceeded);
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::LambdaFunctionScheduled).count(), 1, "{types:?}");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id(), i as i64 + 1, "ids continue after the redrive");
    }
    let details = events[redrive_at].execution_redriven_event_details().expect("details");
    assert_eq!(details.redrive_count(), Some(1));

    // ListExecutions' redriveFilter and redriveCount.
    let list = |filter| h.sfn.list_executions().state_machine_arn(&sm).redrive_filter(filter).send();
    let redriven_list = list(ExecutionRedriveFilter::Redriven).await.unwrap();
    assert_eq!(redriven_list.executions().len(), 1);
    assert_eq!(redriven_list.executions()[0].redrive_count(), Some(1));
    assert!(list(ExecutionRedriveFilter::NotRedriven).await.unwrap().executions().is_empty());

    // A succeeded execution cannot be redriven, nor one that does not exist.
    let err = h.sfn.redrive_execution().execution_arn(&arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_execution_not_redrivable(), "{err:?}");
    assert_eq!(err.message(), Some("Execution is SUCCEEDED and cannot be redriven"));
    let missing = arn.replace(started.execution_arn().rsplit(':').next().unwrap(), "missing");
    let err = h.sfn.redrive_execution().execution_arn(&missing).send().await.unwrap_err().into_service_error();
    assert!(err.is_execution_does_not_exist(), "{err:?}");
}

on_both_stores!(redrive_restarts_an_aborted_execution_at_the_state_it_was_in);
async fn redrive_restarts_an_aborted_execution_at_the_state_it_was_in(h: Harness) {
    let def = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Result": "one", "ResultPath": "$.first", "Next": "Hold"},
        "Hold": {"Type": "Wait", "SecondsPath": "$.wait", "Next": "Last"},
        "Last": {"Type": "Pass", "Parameters": {"first.$": "$.first", "redrives.$": "$$.Execution.RedriveCount"}, "End": true}
    }});
    let sm = create_machine(&h, "held", &def.to_string(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(&sm).input(r#"{"wait": 3600}"#).send().await.unwrap();
    let arn = started.execution_arn().to_string();
    for _ in 0..200 {
        let history = h.sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
        if history.events().iter().any(|e| *e.r#type() == HistoryEventType::WaitStateEntered) {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    h.sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
    let aborted = wait_closed(&h, &arn).await;
    assert_eq!(*aborted.status(), ExecutionStatus::Aborted);
    assert_eq!(aborted.redrive_status(), Some(&ExecutionRedriveStatus::Redrivable));

    // Redriven, the Wait is entered anew (its wait starts over): stop it
    // again, and it can be redriven again.
    h.sfn.redrive_execution().execution_arn(&arn).send().await.unwrap();
    let running = h.sfn.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(*running.status(), ExecutionStatus::Running);
    assert_eq!(running.redrive_status(), Some(&ExecutionRedriveStatus::NotRedrivable));
    let err = h.sfn.redrive_execution().execution_arn(&arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_execution_not_redrivable(), "{err:?}");
    h.sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(*wait_closed(&h, &arn).await.status(), ExecutionStatus::Aborted);
    h.sfn.redrive_execution().execution_arn(&arn).send().await.unwrap();
    let history = h.sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let types: Vec<&HistoryEventType> = history.events().iter().map(|e| e.r#type()).collect();
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::ExecutionRedriven).count(), 2, "{types:?}");
    assert_eq!(types.iter().filter(|t| ***t == HistoryEventType::PassStateEntered).count(), 1, "First ran once: {types:?}");
    let d = h.sfn.describe_execution().execution_arn(&arn).send().await.unwrap();
    assert_eq!(d.redrive_count(), Some(2));
    h.sfn.stop_execution().execution_arn(&arn).send().await.unwrap();
}

/// An inline Map whose `"fail"` item fails until the first redrive, then a
/// Parallel whose second branch fails until the second; every result
/// records the redrive it ran in.
fn fan_fails_until_redriven() -> String {
    let ran = json!({"Variable": "$$.Execution.RedriveCount", "NumericEquals": 0});
    json!({"StartAt": "Each", "States": {
        "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 1, "ResultPath": "$.each", "Next": "Both",
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "Check", "States": {
                "Check": {"Type": "Choice",
                          "Choices": [{"And": [{"Variable": "$.v", "StringEquals": "fail"}, ran], "Next": "Boom"}],
                          "Default": "Item"},
                "Boom": {"Type": "Fail", "Error": "Item.Bad", "Cause": "not redriven yet"},
                "Item": {"Type": "Pass", "Parameters": {"got.$": "$.v", "run.$": "$$.Execution.RedriveCount"}, "End": true}}}},
        "Both": {"Type": "Parallel", "ResultPath": "$.both", "End": true, "Branches": [
            {"StartAt": "First", "States": {
                "First": {"Type": "Pass", "Parameters": {"run.$": "$$.Execution.RedriveCount"}, "End": true}}},
            {"StartAt": "Hold", "States": {
                "Hold": {"Type": "Wait", "Seconds": 1, "Next": "Second"},
                "Second": {"Type": "Choice",
                           "Choices": [{"Variable": "$$.Execution.RedriveCount", "NumericLessThan": 2, "Next": "Late"}],
                           "Default": "Ran"},
                "Late": {"Type": "Fail", "Error": "Branch.Bad", "Cause": "not redriven twice yet"},
                "Ran": {"Type": "Pass", "Parameters": {"run.$": "$$.Execution.RedriveCount"}, "End": true}}}
        ]}
    }})
    .to_string()
}

on_both_stores!(redrive_reruns_only_the_failed_iterations_and_branches);
async fn redrive_reruns_only_the_failed_iterations_and_branches(h: Harness) {
    let sm = create_machine(&h, "fan", &fan_fails_until_redriven(), StateMachineType::Standard).await;
    let input = json!({"items": [{"v": "a"}, {"v": "b"}, {"v": "fail"}, {"v": "c"}]});
    let started = h.sfn.start_execution().state_machine_arn(&sm).input(input.to_string()).send().await.unwrap();
    let arn = started.execution_arn().to_string();
    let first = wait_closed(&h, &arn).await;
    assert_eq!((first.status(), first.error()), (&ExecutionStatus::Failed, Some("Item.Bad")), "{first:?}");
    h.sfn.redrive_execution().execution_arn(&arn).send().await.expect("the first redrive");
    let second = wait_closed(&h, &arn).await;
    assert_eq!((second.status(), second.error()), (&ExecutionStatus::Failed, Some("Branch.Bad")), "{second:?}");
    h.sfn.redrive_execution().execution_arn(&arn).send().await.expect("the second redrive");
    let done = wait_closed(&h, &arn).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");

    // The iterations that succeeded (a, b) kept their results; the failed
    // one and the one never started ran in the first redrive. The branch
    // that succeeded in the first redrive kept its result.
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    let each = json!([{"got": "a", "run": 0}, {"got": "b", "run": 0}, {"got": "fail", "run": 1}, {"got": "c", "run": 1}]);
    assert_eq!(output["each"], each);
    assert_eq!(output["both"], json!([{"run": 1}, {"run": 2}]));

    let history = h.sfn.get_execution_history().execution_arn(&arn).max_results(1000).send().await.unwrap();
    let events = history.events();
    let count = |t: HistoryEventType| events.iter().filter(|e| *e.r#type() == t).count();
    assert_eq!(count(HistoryEventType::ExecutionRedriven), 2);
    assert_eq!(count(HistoryEventType::MapIterationStarted), 3 + 2, "a, b, fail; then fail and c");
    assert_eq!(count(HistoryEventType::MapIterationSucceeded), 2 + 2);
    assert_eq!(count(HistoryEventType::MapIterationFailed), 1);
    assert_eq!(count(HistoryEventType::MapStateEntered), 2, "entered, and entered anew by the first redrive");
    assert_eq!(count(HistoryEventType::ParallelStateEntered), 2);
    let entered = |name: &str| {
        events.iter().filter(|e| e.state_entered_event_details().is_some_and(|d| d.name() == name)).count()
    };
    assert_eq!(entered("First"), 1, "the branch that succeeded is not run again");
    assert_eq!(entered("Hold"), 2, "the failed branch runs again");
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.id(), i as i64 + 1, "ids continue after each redrive");
    }
}
