//! Lambda PublishVersion and aliases through aws-sdk-lambda, and Task states
//! that reach a version or an alias.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use serde_json::{Value, json};

use super::{Harness, component, create_function, create_machine, on_both_stores, wait_closed};

on_both_stores!(function_versions_and_aliases_pin_code);
async fn function_versions_and_aliases_pin_code(h: Harness) {
    create_function(&h, "pinned", "processed").await;
    let v1 = h.lambda.publish_version().function_name("pinned").description("first").send().await.unwrap();
    assert_eq!(v1.version(), Some("1"));
    assert_eq!(v1.function_arn(), Some("arn:aws:lambda:us-east-1:111111111111:function:pinned:1"));
    assert_eq!(v1.description(), Some("first"));
    // Unchanged code and configuration: the same version again.
    let again = h.lambda.publish_version().function_name("pinned").send().await.unwrap();
    assert_eq!(again.version(), Some("1"));

    // New code on $LATEST; version 1 keeps the old.
    h.lambda
        .update_function_code()
        .function_name("pinned")
        .zip_file(Blob::new(component("echo")))
        .send()
        .await
        .unwrap();
    let invoke = |qualifier: Option<&'static str>| {
        let lambda = h.lambda.clone();
        async move {
            let out = lambda
                .invoke()
                .function_name("pinned")
                .set_qualifier(qualifier.map(str::to_string))
                .payload(Blob::new(br#"{"n":1}"#.to_vec()))
                .send()
                .await
                .unwrap();
            let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
            (payload, out.executed_version().map(str::to_string))
        }
    };
    assert_eq!(invoke(None).await, (json!({"n": 1}), Some("$LATEST".into())));
    assert_eq!(invoke(Some("1")).await, (json!({"n": 1, "processed": true}), Some("1".into())));
    let v2 = h.lambda.publish_version().function_name("pinned").send().await.unwrap();
    assert_eq!(v2.version(), Some("2"));
    let listed = h.lambda.list_versions_by_function().function_name("pinned").send().await.unwrap();
    let versions: Vec<&str> = listed.versions().iter().filter_map(|v| v.version()).collect();
    assert_eq!(versions, ["$LATEST", "1", "2"]);

    // An alias follows its version; a Task state's qualified ARN reaches it.
    let alias = h.lambda.create_alias().function_name("pinned").name("live").function_version("1").send().await.unwrap();
    assert_eq!(alias.alias_arn(), Some("arn:aws:lambda:us-east-1:111111111111:function:pinned:live"));
    assert_eq!(invoke(Some("live")).await, (json!({"n": 1, "processed": true}), Some("1".into())));
    let task = |qualifier: &str| {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": format!("arn:aws:lambda:us-east-1:111111111111:function:pinned:{qualifier}"), "End": true}}})
        .to_string()
    };
    let sm = create_machine(&h, "via-alias", &task("live"), StateMachineType::Standard).await;
    let run = h.sfn.start_execution().state_machine_arn(&sm).input(r#"{"n":2}"#).send().await.unwrap();
    let done = wait_closed(&h, run.execution_arn()).await;
    assert_eq!(done.output(), Some(r#"{"n":2,"processed":true}"#));
    h.lambda.update_alias().function_name("pinned").name("live").function_version("2").send().await.unwrap();
    let got = h.lambda.get_alias().function_name("pinned").name("live").send().await.unwrap();
    assert_eq!(got.function_version(), Some("2"));
    assert_eq!(invoke(Some("live")).await, (json!({"n": 1}), Some("2".into())));

    // A missing version fails the Task with Lambda's error; the function list shows one function.
    let sm = create_machine(&h, "via-missing", &task("9"), StateMachineType::Standard).await;
    let run = h.sfn.start_execution().state_machine_arn(&sm).send().await.unwrap();
    let done = wait_closed(&h, run.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("Lambda.ResourceNotFoundException"));
    let functions = h.lambda.list_functions().send().await.unwrap();
    let names: Vec<&str> = functions.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["pinned"]);

    // Errors.
    let err = h.lambda.create_alias().function_name("pinned").name("live").function_version("1").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_conflict_exception(), "{err:?}");
    let err = h.lambda.create_alias().function_name("pinned").name("other").function_version("7").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = h.lambda.create_alias().function_name("pinned").name("123").function_version("1").send().await.unwrap_err().into_service_error();
    assert_eq!(aws_sdk_lambda::error::ProvideErrorMetadata::code(&err), Some("ValidationException"), "{err:?}");
    let err = h.lambda.invoke().function_name("pinned").qualifier("7").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // Deleting the alias, then the function, removes what they registered.
    h.lambda.delete_alias().function_name("pinned").name("live").send().await.unwrap();
    let err = h.lambda.get_alias().function_name("pinned").name("live").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    h.lambda.delete_function().function_name("pinned").send().await.unwrap();
    assert!(h.server.state.registry.names().is_empty(), "{:?}", h.server.state.registry.names());
    h.server.shutdown().await.unwrap();
}
