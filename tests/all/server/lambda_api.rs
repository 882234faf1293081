//! The Lambda API items functions' users touch, through aws-sdk-lambda:
//! Publish on CreateFunction and UpdateFunctionCode, DeleteFunction of one
//! version, RevisionId preconditions, CodeSha256 and CodeSize,
//! GetAccountSettings, ListFunctions of every version,
//! an alias's weighted RoutingConfig, and Event invokes retried twice.

use std::io::Write as _;
use std::time::{Duration, Instant};

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, FunctionCode, FunctionVersion, InvocationType, Runtime};
use aws_sdk_sfn::types::StateMachineType;
use serde_json::{Value, json};
use stepbox_server::ServerConfig;

use super::{Harness, ROLE, component, create_machine, on_both_stores, raw, start, start_with};

/// `component`'s wasm in a zip, as a Lambda deployment package.
fn zipped(component_name: &str) -> Vec<u8> {
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("task.wasm", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&component(component_name)).unwrap();
    zip.finish().unwrap().into_inner()
}

/// Lambda's CodeSha256 of `bytes`: their SHA-256, base64.
fn code_sha256(bytes: &[u8]) -> String {
    let hex = stepbox_sandbox::wasm_sha256(bytes);
    let digest: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    stepbox_asl::base64::encode(&digest)
}

async fn create(h: &Harness, name: &str, component_name: &str, publish: bool) -> aws_sdk_lambda::operation::create_function::CreateFunctionOutput {
    h.lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(Runtime::Providedal2023)
        .handler("component")
        .publish(publish)
        .code(FunctionCode::builder().zip_file(Blob::new(zipped(component_name))).build())
        .send()
        .await
        .expect("CreateFunction")
}

async fn invoke(h: &Harness, name: &str, qualifier: Option<&str>) -> (Value, String) {
    let out = h
        .lambda
        .invoke()
        .function_name(name)
        .set_qualifier(qualifier.map(str::to_string))
        .payload(Blob::new(br#"{"n":1}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    (payload, out.executed_version().unwrap_or_default().to_string())
}

async fn versions(h: &Harness, name: &str) -> Vec<String> {
    let listed = h.lambda.list_versions_by_function().function_name(name).send().await.unwrap();
    listed.versions().iter().filter_map(|v| v.version().map(str::to_string)).collect()
}

on_both_stores!(publish_on_create_and_update_and_delete_one_version);
async fn publish_on_create_and_update_and_delete_one_version(h: Harness) {
    let created = create(&h, "kept", "processed", true).await;
    assert_eq!((created.version(), created.function_arn()), (Some("1"), Some("arn:aws:lambda:us-east-1:111111111111:function:kept:1")));
    // A component's CodeSha256 and CodeSize are the component's.
    assert_eq!(created.code_sha256(), Some(code_sha256(&component("processed")).as_str()));
    assert_eq!(created.code_size(), component("processed").len() as i64);
    let updated = h
        .lambda
        .update_function_code()
        .function_name("kept")
        .zip_file(Blob::new(zipped("echo")))
        .publish(true)
        .send()
        .await
        .unwrap();
    assert_eq!(updated.version(), Some("2"));
    assert_eq!(updated.code_sha256(), Some(code_sha256(&component("echo")).as_str()));
    assert_eq!(versions(&h, "kept").await, ["$LATEST", "1", "2"]);
    h.lambda.create_alias().function_name("kept").name("live").function_version("1").send().await.unwrap();

    // A version an alias runs is kept; $LATEST is the function itself.
    let err = h.lambda.delete_function().function_name("kept").qualifier("1").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ResourceConflictException"), "{err:?}");
    assert_eq!(err.message(), Some("Unable to delete version because the following aliases reference it: [live]"));
    let err = h.lambda.delete_function().function_name("kept").qualifier("$LATEST").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValueException"), "{err:?}");
    let err = h.lambda.delete_function().function_name("kept").qualifier("9").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");

    // Deleting version 2 deletes it alone: the function, version 1 and the alias stay.
    h.lambda.delete_function().function_name("kept:2").send().await.unwrap();
    assert_eq!(versions(&h, "kept").await, ["$LATEST", "1"]);
    assert_eq!(invoke(&h, "kept", None).await, (json!({"n": 1}), "$LATEST".to_string()));
    assert_eq!(invoke(&h, "kept", Some("live")).await, (json!({"n": 1, "processed": true}), "1".to_string()));
    let err = h.lambda.invoke().function_name("kept").qualifier("2").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    // Version numbers are not reused.
    h.lambda.update_function_configuration().function_name("kept").timeout(9).send().await.unwrap();
    let v3 = h.lambda.publish_version().function_name("kept").send().await.unwrap();
    assert_eq!(v3.version(), Some("3"));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revision_ids_are_preconditions() {
    let h = start().await;
    let created = create(&h, "guarded", "processed", false).await;
    let first = created.revision_id().unwrap().to_string();
    let updated = h.lambda.update_function_configuration().function_name("guarded").timeout(5).revision_id(&first).send().await.unwrap();
    let second = updated.revision_id().unwrap().to_string();
    assert_ne!(first, second);
    let err = h.lambda.update_function_configuration().function_name("guarded").timeout(6).revision_id(&first).send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("PreconditionFailedException"), "{err:?}");
    assert_eq!(
        err.message(),
        Some("The Revision Id provided does not match the latest Revision Id. Call the GetFunction API to retrieve the latest Revision Id")
    );
    let err = h
        .lambda
        .update_function_code()
        .function_name("guarded")
        .zip_file(Blob::new(zipped("echo")))
        .revision_id(&first)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_precondition_failed_exception(), "{err:?}");
    let err = h.lambda.publish_version().function_name("guarded").revision_id(&first).send().await.unwrap_err().into_service_error();
    assert!(err.is_precondition_failed_exception(), "{err:?}");
    let v1 = h.lambda.publish_version().function_name("guarded").revision_id(&second).send().await.unwrap();
    assert_eq!(v1.version(), Some("1"));

    let alias = h.lambda.create_alias().function_name("guarded").name("live").function_version("1").send().await.unwrap();
    let err = h.lambda.update_alias().function_name("guarded").name("live").description("x").revision_id("stale").send().await.unwrap_err().into_service_error();
    assert!(err.is_precondition_failed_exception(), "{err:?}");
    h.lambda.update_alias().function_name("guarded").name("live").description("x").revision_id(alias.revision_id().unwrap()).send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_settings_and_every_version_listed() {
    let h = start().await;
    create(&h, "alpha", "processed", true).await;
    create(&h, "beta", "echo", false).await;
    h.lambda.update_function_configuration().function_name("alpha").timeout(7).send().await.unwrap();
    h.lambda.publish_version().function_name("alpha").send().await.unwrap();

    let all = h.lambda.list_functions().function_version(FunctionVersion::All).send().await.unwrap();
    let listed: Vec<String> = all.functions().iter().map(|f| format!("{}:{}", f.function_name().unwrap(), f.version().unwrap())).collect();
    assert_eq!(listed, ["alpha:$LATEST", "alpha:1", "alpha:2", "beta:$LATEST"]);
    let latest = h.lambda.list_functions().send().await.unwrap();
    assert_eq!(latest.functions().len(), 2);
    // Pages of two: markers run through the versions too.
    let first = h.lambda.list_functions().function_version(FunctionVersion::All).max_items(2).send().await.unwrap();
    let next = h.lambda.list_functions().function_version(FunctionVersion::All).max_items(2).marker(first.next_marker().unwrap()).send().await.unwrap();
    let paged: Vec<&str> = first.functions().iter().chain(next.functions()).filter_map(|f| f.version()).collect();
    assert_eq!(paged, ["$LATEST", "1", "2", "$LATEST"]);
    assert_eq!(next.next_marker(), None);

    let settings = h.lambda.get_account_settings().send().await.unwrap();
    let usage = settings.account_usage().unwrap();
    assert_eq!(usage.function_count(), 2);
    let alpha = component("processed").len() as i64;
    assert_eq!(usage.total_code_size(), 3 * alpha + component("echo").len() as i64);
    let limit = settings.account_limit().unwrap();
    assert_eq!((limit.code_size_zipped(), limit.concurrent_executions()), (50 * 1024 * 1024, 1000));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_routes_a_share_of_invocations_to_another_version() {
    let h = start().await;
    create(&h, "split", "processed", true).await;
    h.lambda.update_function_code().function_name("split").zip_file(Blob::new(zipped("echo"))).publish(true).send().await.unwrap();
    let routing = AliasRoutingConfiguration::builder().additional_version_weights("2", 0.5).build();
    let alias = h.lambda.create_alias().function_name("split").name("canary").function_version("1").routing_config(routing).send().await.unwrap();
    assert_eq!(alias.routing_config().unwrap().additional_version_weights().unwrap().get("2"), Some(&0.5));
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..40 {
        let (out, executed) = invoke(&h, "split", Some("canary")).await;
        assert_eq!(out.get("processed").is_some(), executed == "1", "{out} from {executed}");
        seen.insert(executed);
    }
    assert_eq!(seen.into_iter().collect::<Vec<_>>(), ["1", "2"]);

    // Task states through the alias are routed too.
    let definition = json!({"StartAt": "T", "States": {"T": {"Type": "Task",
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:split:canary", "End": true}}});
    let sm = create_machine(&h, "via-canary", &definition.to_string(), StateMachineType::Express).await;
    let mut outputs = std::collections::BTreeSet::new();
    for _ in 0..24 {
        let out = h.sfn.start_sync_execution().state_machine_arn(&sm).input(r#"{"n":1}"#).send().await.unwrap();
        outputs.insert(out.output().unwrap().to_string());
    }
    assert_eq!(outputs.len(), 2, "{outputs:?}");

    // A routed version is not deleted; a weight out of range is refused.
    let err = h.lambda.delete_function().function_name("split").qualifier("2").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ResourceConflictException"), "{err:?}");
    let bad = AliasRoutingConfiguration::builder().additional_version_weights("2", 1.5).build();
    let err = h.lambda.update_alias().function_name("split").name("canary").routing_config(bad).send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValueException"), "{err:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_invoke_is_retried_twice_after_an_error() {
    // Lambda's waits (1 and 2 minutes) scaled away, as Wait states' are.
    let h = start_with(ServerConfig { wait_time_scale: 0.0, ..ServerConfig::default() }).await;
    create(&h, "flaky", "fail", false).await;
    create(&h, "steady", "fail", false).await;
    for (name, payload) in [("flaky", r#"{"error":"Boom"}"#), ("steady", r#"{"ok":true}"#)] {
        let out = h
            .lambda
            .invoke()
            .function_name(name)
            .invocation_type(InvocationType::Event)
            .payload(Blob::new(payload.as_bytes().to_vec()))
            .send()
            .await
            .unwrap();
        assert_eq!(out.status_code(), 202);
    }
    let attempts = |name: &'static str| {
        let addr = h.server.addr;
        async move {
            let request = format!("GET /console/api/invocations?functionName={name} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n");
            let (status, _, body) = raw(addr, &request).await;
            assert_eq!(status, 200, "{body}");
            let v: Value = serde_json::from_str(&body).unwrap();
            v.as_array().or_else(|| v["invocations"].as_array()).cloned().unwrap_or_default()
        }
    };
    let started = Instant::now();
    while attempts("flaky").await.len() < 3 {
        assert!(started.elapsed() < Duration::from_secs(20), "{:?}", attempts("flaky").await);
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let flaky = attempts("flaky").await;
    assert_eq!(flaky.len(), 3, "{flaky:?}");
    let ids: std::collections::BTreeSet<String> = flaky.iter().map(|i| i["requestId"].to_string()).collect();
    assert_eq!(ids.len(), 1, "the same request id on every attempt: {flaky:?}");
    assert_eq!(attempts("steady").await.len(), 1);
}
