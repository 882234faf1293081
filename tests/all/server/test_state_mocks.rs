//! TestState's 2025 members through aws-sdk-sfn: `mock` (result or
//! errorOutput, each fieldValidationMode), `context`, `stateConfiguration`
//! and `stateName`.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{InspectionLevel, MockErrorOutput, MockInput, MockResponseValidationMode, TestExecutionStatus, TestStateConfiguration};
use serde_json::{Value, json};

use super::Harness;

fn parse(text: Option<&str>) -> Value {
    serde_json::from_str(text.expect("a JSON text")).unwrap()
}

fn result(text: &str, mode: MockResponseValidationMode) -> MockInput {
    MockInput::builder().result(text).field_validation_mode(mode).build()
}

fn error_output(error: &str, cause: &str) -> MockInput {
    MockInput::builder().error_output(MockErrorOutput::builder().error(error).cause(cause).build()).build()
}

/// A Task whose resource nothing provides: only its mock answers.
fn task() -> Value {
    json!({"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
        "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:child"},
        "Retry": [{"ErrorEquals": ["Throttled"], "IntervalSeconds": 2, "BackoffRate": 3, "MaxAttempts": 2}],
        "Catch": [{"ErrorEquals": ["Other"], "Next": "Other"}, {"ErrorEquals": ["Declined"], "ResultPath": "$.error", "Next": "Refund"}],
        "ResultPath": "$.started", "Next": "Wait"})
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_result_is_the_tasks_result_checked_by_validation_mode() {
    let h: Harness = super::start().await;
    let test = |mock: MockInput| h.sfn.test_state().definition(task().to_string()).input(r#"{"id":1}"#).mock(mock).send();
    let good = r#"{"ExecutionArn": "arn:aws:states:us-east-1:111111111111:execution:child:1", "StartDate": "2025-01-01T00:00:00Z"}"#;
    let out = test(result(good, MockResponseValidationMode::Strict)).await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded);
    assert_eq!(out.next_state(), Some("Wait"));
    assert_eq!(parse(out.output())["started"]["ExecutionArn"], "arn:aws:states:us-east-1:111111111111:execution:child:1");

    let partial = r#"{"StartDate": "2025-01-01T00:00:00Z"}"#;
    let err = test(result(partial, MockResponseValidationMode::Strict)).await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ValidationException"));
    assert_eq!(err.message(), Some("Mock result schema validation error: Required field 'ExecutionArn' is missing"));
    let out = test(result(partial, MockResponseValidationMode::Present)).await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded);
    let wrong = r#"{"ExecutionArn": "a", "StartDate": 5}"#;
    let err = test(result(wrong, MockResponseValidationMode::Present)).await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some("Mock result schema validation error: Field 'StartDate' must be a string"));
    let out = test(result(r#"["anything"]"#, MockResponseValidationMode::None)).await.unwrap();
    assert_eq!(parse(out.output())["started"], json!(["anything"]));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mocked_error_is_caught_retried_or_fails_by_retrier_retry_count() {
    let h: Harness = super::start().await;
    let test = |mock: MockInput, retries: i32| {
        h.sfn
            .test_state()
            .definition(task().to_string())
            .input(r#"{"id":1}"#)
            .inspection_level(InspectionLevel::Debug)
            .mock(mock)
            .state_configuration(TestStateConfiguration::builder().retrier_retry_count(retries).build())
            .send()
    };
    let out = test(error_output("Declined", "no funds"), 0).await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::CaughtError);
    assert_eq!((out.error(), out.cause(), out.next_state()), (Some("Declined"), Some("no funds"), Some("Refund")));
    assert_eq!(parse(out.output())["error"], json!({"Error": "Declined", "Cause": "no funds"}));
    assert_eq!(out.inspection_data().unwrap().error_details().unwrap().catch_index(), Some(1));

    // Retried: the first retry waits IntervalSeconds, the second times BackoffRate.
    let out = test(error_output("Throttled", "slow down"), 0).await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Retriable);
    let details = out.inspection_data().unwrap().error_details().unwrap();
    assert_eq!((details.retry_index(), details.retry_backoff_interval_seconds()), (Some(0), Some(2)));
    let out = test(error_output("Throttled", "slow down"), 1).await.unwrap();
    assert_eq!(out.inspection_data().unwrap().error_details().unwrap().retry_backoff_interval_seconds(), Some(6));
    // MaxAttempts used up: the error fails the state.
    let out = test(error_output("Throttled", "slow down"), 2).await.unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Failed);
    assert_eq!(out.error(), Some("Throttled"));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn context_and_state_name_shape_the_mocked_run() {
    let h: Harness = super::start().await;
    let machine = json!({"StartAt": "First", "States": {
        "First": {"Type": "Pass", "Next": "Charge"},
        "Charge": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "q", "MessageBody": {"execution.$": "$$.Execution.Name", "machine.$": "$$.StateMachine.Name"}},
            "ResultSelector": {"id.$": "$.MessageId", "execution.$": "$$.Execution.Name"}, "End": true}}});
    let context = json!({"Execution": {"Name": "nightly-42"}, "StateMachine": {"Name": "Billing"}}).to_string();
    let out = h
        .sfn
        .test_state()
        .definition(machine.to_string())
        .state_name("Charge")
        .mock(result(r#"{"MessageId": "m-1", "MD5OfMessageBody": "x"}"#, MockResponseValidationMode::Strict))
        .context(context)
        .inspection_level(InspectionLevel::Debug)
        .send()
        .await
        .unwrap();
    assert_eq!(*out.status().unwrap(), TestExecutionStatus::Succeeded, "{:?}", out.cause());
    assert_eq!(parse(out.output()), json!({"id": "m-1", "execution": "nightly-42"}));
    let data = out.inspection_data().unwrap();
    assert_eq!(parse(data.after_parameters()), json!({"QueueUrl": "q", "MessageBody": {"execution": "nightly-42", "machine": "Billing"}}));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mocks_are_refused_where_aws_refuses_them() {
    let h: Harness = super::start().await;
    let pass = json!({"Type": "Pass", "End": true}).to_string();
    let mocked = result("{}", MockResponseValidationMode::None);
    let err = h.sfn.test_state().definition(&pass).mock(mocked.clone()).send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some("State type 'Pass' is not supported when a mock is specified"));
    let both = MockInput::builder().result("{}").error_output(MockErrorOutput::builder().error("E").build()).build();
    let err = h.sfn.test_state().definition(task().to_string()).mock(both).send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some("A test mock should have only one of the following fields: [result, errorOutput]."));
    let err = h.sfn.test_state().definition(task().to_string()).mock(mocked).reveal_secrets(true).send().await.unwrap_err().into_service_error();
    assert_eq!(err.message(), Some("TestState does not support RevealSecrets when a mock is specified."));
    let err = h.sfn.test_state().definition(task().to_string()).context("{}").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ValidationException"), "a context needs a mock: {err:?}");
    h.server.shutdown().await.unwrap();
}
