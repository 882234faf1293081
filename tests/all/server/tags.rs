//! Lambda's tagging API (TagResource, UntagResource, ListTags) through the
//! SDK: tags on a function's unqualified ARN only, another tenant's ARN
//! denied, and the `stepbox:fuel` budget applied from the next invocation
//! (its versions' and aliases' too), and kept by a durable server.

use aws_sdk_lambda::Client;
use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use serde_json::Value;

use super::tenants::{ACME, GLOBEX, TENANTS, start_tenants};
use super::{ROLE, component};
use crate::clients;

const ECHO_ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function:echo";
/// Less than instantiating the echo component takes: every invocation runs out.
const TINY: &str = "1000";

async fn create_echo(lambda: &Client) {
    lambda
        .create_function()
        .function_name("echo")
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(FunctionCode::builder().zip_file(Blob::new(component("echo"))).build())
        .send()
        .await
        .expect("CreateFunction");
}

/// The errorType of an invocation of `name` (None: it succeeded).
async fn error_of(lambda: &Client, name: &str) -> Option<String> {
    let out = lambda.invoke().function_name(name).payload(Blob::new("{}")).send().await.expect("Invoke");
    out.function_error()?;
    let payload: Value = serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON payload");
    Some(payload["errorType"].as_str().unwrap_or_default().to_string())
}

async fn tags_of(lambda: &Client, arn: &str) -> Vec<(String, String)> {
    let out = lambda.list_tags().resource(arn).send().await.expect("ListTags");
    let mut tags: Vec<_> = out.tags().into_iter().flatten().map(|(k, v)| (k.clone(), v.clone())).collect();
    tags.sort();
    tags
}

fn code<E: ProvideErrorMetadata>(e: &E) -> String {
    format!("{}: {}", e.code().unwrap_or_default(), e.message().unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tags_are_set_listed_and_removed_and_the_fuel_tag_applies_from_the_next_invocation() {
    let (server, _) = start_tenants(TENANTS).await;
    let lambda = clients::lambda_as(&server.endpoint(), ACME);
    create_echo(&lambda).await;
    lambda.publish_version().function_name("echo").send().await.expect("PublishVersion");
    lambda.create_alias().function_name("echo").name("live").function_version("1").send().await.expect("CreateAlias");
    assert_eq!(error_of(&lambda, "echo").await, None);
    assert!(tags_of(&lambda, ECHO_ARN).await.is_empty());

    lambda.tag_resource().resource(ECHO_ARN).tags("team", "core").tags("stepbox:fuel", TINY).send().await.expect("TagResource");
    assert_eq!(tags_of(&lambda, ECHO_ARN).await, [("stepbox:fuel".into(), TINY.into()), ("team".into(), "core".into())]);
    for name in ["echo", "echo:1", "echo:live"] {
        assert_eq!(error_of(&lambda, name).await.as_deref(), Some("Sandbox.OutOfFuel"), "{name}");
    }
    let got = lambda.get_function().function_name("echo").send().await.unwrap();
    assert_eq!(got.tags().and_then(|t| t.get("team")).map(String::as_str), Some("core"));

    lambda.untag_resource().resource(ECHO_ARN).tag_keys("stepbox:fuel").send().await.expect("UntagResource");
    assert_eq!(tags_of(&lambda, ECHO_ARN).await, [("team".into(), "core".into())]);
    for name in ["echo", "echo:1", "echo:live"] {
        assert_eq!(error_of(&lambda, name).await, None, "{name}");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tagging_answers_as_lambda_does_for_versions_other_accounts_and_bad_values() {
    let (server, _) = start_tenants(TENANTS).await;
    let (acme, globex) = (clients::lambda_as(&server.endpoint(), ACME), clients::lambda_as(&server.endpoint(), GLOBEX));
    create_echo(&acme).await;
    let tag = |client: &Client, arn: &str, value: &str| client.tag_resource().resource(arn).tags("stepbox:fuel", value).send();

    let e = tag(&acme, &format!("{ECHO_ARN}:1"), "5").await.unwrap_err();
    assert_eq!(code(&e), "InvalidParameterValueException: Tags on function aliases and versions are not supported. Please specify a function ARN.");
    let e = tag(&acme, "echo", "5").await.unwrap_err();
    assert!(code(&e).starts_with("ValidationException: 1 validation error detected: Value 'echo' at 'resource'"), "{}", code(&e));
    let e = tag(&acme, "arn:aws:lambda:us-east-1:111111111111:function:missing", "5").await.unwrap_err();
    assert_eq!(code(&e), "ResourceNotFoundException: Function not found: arn:aws:lambda:us-east-1:111111111111:function:missing");
    let e = tag(&acme, ECHO_ARN, "lots").await.unwrap_err();
    assert!(code(&e).starts_with("InvalidParameterValueException: Tag stepbox:fuel"), "{}", code(&e));
    assert!(tags_of(&acme, ECHO_ARN).await.is_empty(), "a refused TagResource sets nothing");

    // Another tenant: its account's ARN of the same name does not exist, acme's is denied.
    let e = tag(&globex, ECHO_ARN, "5").await.unwrap_err();
    assert!(code(&e).starts_with("AccessDeniedException: User: arn:aws:iam::222222222222:root is not authorized to perform: lambda:TagResource"), "{}", code(&e));
    let e = globex.list_tags().resource(ECHO_ARN).send().await.unwrap_err();
    assert!(code(&e).starts_with("AccessDeniedException:") && code(&e).contains("lambda:ListTags"), "{}", code(&e));
    let e = globex.untag_resource().resource(ECHO_ARN).tag_keys("team").send().await.unwrap_err();
    assert!(code(&e).starts_with("AccessDeniedException:") && code(&e).contains("lambda:UntagResource"), "{}", code(&e));
    let own = "arn:aws:lambda:us-east-1:222222222222:function:echo";
    let e = globex.list_tags().resource(own).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFoundException"), "{}", code(&e));
    assert_eq!(error_of(&acme, "echo").await, None, "globex's attempts changed nothing");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_server_keeps_a_fuel_tag_set_after_creation() {
    let (h, dir) = super::start_durable().await;
    create_echo(&h.lambda).await;
    h.lambda.publish_version().function_name("echo").send().await.expect("PublishVersion");
    h.lambda.tag_resource().resource(ECHO_ARN).tags("stepbox:fuel", TINY).send().await.expect("TagResource");
    h.server.shutdown().await.unwrap();
    // The stopped server lets go of its store in the background.
    let mut store = stepbox_store::open_dir(dir.path());
    for _ in 0..100 {
        if store.is_ok() {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        store = stepbox_store::open_dir(dir.path());
    }
    let h = super::start_on(store.expect("open the store again"), stepbox_server::ServerConfig::default()).await;
    assert_eq!(tags_of(&h.lambda, ECHO_ARN).await, [("stepbox:fuel".into(), TINY.into())]);
    for name in ["echo", "echo:1"] {
        assert_eq!(error_of(&h.lambda, name).await.as_deref(), Some("Sandbox.OutOfFuel"), "{name}");
    }
    h.server.shutdown().await.unwrap();
}
