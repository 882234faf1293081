//! Standard vs Express semantics as AWS answers them.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::StateMachineType;
use serde_json::json;

use super::{Harness, ROLE, create_function, create_machine, on_both_stores, task_machine, wait_closed};

on_both_stores!(express_executions_start_asynchronously_and_leave_no_record);
async fn express_executions_start_asynchronously_and_leave_no_record(h: Harness) {
    create_function(&h, "processed", "processed").await;
    let sm = create_machine(&h, "fast", &task_machine("processed"), StateMachineType::Express).await;
    let started = h.sfn.start_execution().state_machine_arn(&sm).name("once").input("{}").send().await.unwrap();
    let arn = started.execution_arn();
    assert!(arn.starts_with("arn:aws:states:us-east-1:111111111111:express:fast:once:"), "{arn}");
    // Express names are not unique: the same name starts again.
    let again = h.sfn.start_execution().state_machine_arn(&sm).name("once").input("{}").send().await.unwrap();
    assert_ne!(again.execution_arn(), arn);

    let express_arn = "Invalid Arn: 'Resource type not valid in this context: express'";
    let err = h.sfn.describe_execution().execution_arn(arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_arn(), "{err:?}");
    assert_eq!(err.message(), Some(express_arn));
    let err = h.sfn.get_execution_history().execution_arn(arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_arn(), "{err:?}");
    let err = h.sfn.stop_execution().execution_arn(arn).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_arn(), "{err:?}");
    let err = h.sfn.list_executions().state_machine_arn(&sm).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_type_not_supported(), "{err:?}");
    assert_eq!(err.message(), Some("This operation is not supported by this type of state machine"));
    h.server.shutdown().await.unwrap();
}

on_both_stores!(express_definitions_refuse_callbacks_sync_jobs_and_activities);
async fn express_definitions_refuse_callbacks_sync_jobs_and_activities(h: Harness) {
    let waits = json!({"StartAt": "Publish", "States": {"Publish": {
        "Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": "q", "MessageBody": {"TaskToken.$": "$$.Task.Token"}}, "End": true}}})
    .to_string();
    let err = h
        .sfn
        .create_state_machine()
        .name("waits")
        .definition(&waits)
        .role_arn(ROLE)
        .r#type(StateMachineType::Express)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_definition(), "{err:?}");
    assert_eq!(
        err.message(),
        Some(
            "Invalid State Machine Definition: 'SCHEMA_VALIDATION_FAILED: Express state machine does not support \
             '.waitForTaskToken' service integration  at /States/Publish/Resource'"
        )
    );
    // UpdateStateMachine checks the same; a Standard machine may wait.
    let ok = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}).to_string();
    let express = create_machine(&h, "later", &ok, StateMachineType::Express).await;
    let err = h.sfn.update_state_machine().state_machine_arn(&express).definition(&waits).send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_definition(), "{err:?}");
    create_machine(&h, "patient", &waits, StateMachineType::Standard).await;
    h.server.shutdown().await.unwrap();
}

on_both_stores!(standard_start_execution_is_idempotent_by_name_and_input_while_running);
async fn standard_start_execution_is_idempotent_by_name_and_input_while_running(h: Harness) {
    let slow = json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 1, "End": true}}}).to_string();
    let sm = create_machine(&h, "slow", &slow, StateMachineType::Standard).await;
    let first = h.sfn.start_execution().state_machine_arn(&sm).name("same").input(r#"{"a":1}"#).send().await.unwrap();
    let second = h.sfn.start_execution().state_machine_arn(&sm).name("same").input(r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(first.execution_arn(), second.execution_arn());
    assert_eq!(first.start_date(), second.start_date());
    let err = h.sfn.start_execution().state_machine_arn(&sm).name("same").input(r#"{"a":2}"#).send().await.unwrap_err().into_service_error();
    assert!(err.is_execution_already_exists(), "{err:?}");
    wait_closed(&h, first.execution_arn()).await;
    let err = h.sfn.start_execution().state_machine_arn(&sm).name("same").input(r#"{"a":1}"#).send().await.unwrap_err().into_service_error();
    assert!(err.is_execution_already_exists(), "closed executions keep their name: {err:?}");
    h.server.shutdown().await.unwrap();
}
