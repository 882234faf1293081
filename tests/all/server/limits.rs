//! Payload and name limits, as AWS words them, through aws-sdk-sfn.

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::StateMachineType;
use serde_json::json;

use super::{Harness, ROLE, create_machine, on_both_stores, wait_closed};

/// A JSON string document of exactly `len` bytes.
fn json_of_len(len: usize) -> String {
    format!("\"{}\"", "x".repeat(len - 2))
}

on_both_stores!(inputs_over_256_kib_and_bad_names_are_refused);
async fn inputs_over_256_kib_and_bad_names_are_refused(h: Harness) {
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string();
    let standard = create_machine(&h, "big", &pass, StateMachineType::Standard).await;
    let express = create_machine(&h, "big-express", &pass, StateMachineType::Express).await;

    // 256 KiB exactly is accepted and comes back whole.
    let limit = 256 * 1024;
    let started = h.sfn.start_execution().state_machine_arn(&standard).input(json_of_len(limit)).send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(done.output().map(str::len), Some(limit));

    let over = json_of_len(limit + 1);
    let err = h.sfn.start_execution().state_machine_arn(&standard).input(&over).send().await.unwrap_err().into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("'input'") && err.message().unwrap().contains("262144"), "{err:?}");
    let err = h.sfn.start_sync_execution().state_machine_arn(&express).input(&over).send().await.unwrap_err().into_service_error();
    // Not in StartSyncExecution's modelled errors: the SDK hands it over by code.
    assert_eq!(err.code(), Some("ValidationException"), "{err:?}");
    let err = h
        .sfn
        .test_state()
        .definition(r#"{"Type": "Pass", "End": true}"#)
        .role_arn(ROLE)
        .input(&over)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");

    // Definitions are limited to 1 MiB.
    let huge = json!({"Comment": "x".repeat(1024 * 1024), "StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}});
    let err = h
        .sfn
        .create_state_machine()
        .name("huge")
        .definition(huge.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_validation_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("'definition'"), "{err:?}");

    // Execution names follow AWS's rules (1–80 characters, no whitespace or ARN delimiters).
    for name in ["with space", "a:b", "tab\there", &"n".repeat(81)] {
        let err = h.sfn.start_execution().state_machine_arn(&standard).name(name).send().await.unwrap_err().into_service_error();
        assert!(err.is_invalid_name(), "{name:?}: {err:?}");
        assert_eq!(err.message(), Some(format!("Invalid Name: '{name}'").as_str()));
    }
    h.server.shutdown().await.unwrap();
}
