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
