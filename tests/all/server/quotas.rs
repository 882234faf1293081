//! A tenant's quotas from the tenants file, each answered as AWS answers it.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_sfn::error::ProvideErrorMetadata;

use super::tenants::{ACME, GLOBEX, TENANTS, start_tenants};
use super::{ROLE, component};
use crate::clients;

/// A Standard execution that stays open a few seconds.
const SHORT_WAIT: &str = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 3, "End": true}}}"#;
const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;

/// [`TENANTS`] with acme's quotas set.
pub(super) fn with_acme_quotas(quotas: &str) -> String {
    TENANTS.replacen("\n\n[[tenant]]", &format!("\n[tenant.quotas]\n{quotas}\n\n[[tenant]]"), 1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn starts_past_the_start_rate_are_throttled_for_that_tenant_only() {
    let (server, _) = start_tenants(&with_acme_quotas("start_rate = 1")).await;
    let (acme, globex) = (clients::sfn_once(&server.endpoint(), ACME), clients::sfn_once(&server.endpoint(), GLOBEX));
    let mut arns = Vec::new();
    for client in [&acme, &globex] {
        let out = client.create_state_machine().name("flow").definition(PASS).role_arn(ROLE).send().await.unwrap();
        arns.push(out.state_machine_arn().to_string());
    }
    let mut throttled = 0;
    for _ in 0..10 {
        match acme.start_execution().state_machine_arn(&arns[0]).send().await {
            Ok(_) => {}
            Err(e) => {
                assert_eq!(e.code(), Some("ThrottlingException"), "{e:?}");
                assert_eq!(e.message(), Some("Rate exceeded"));
                throttled += 1;
            }
        }
    }
    assert!(throttled > 0, "ten starts at once against a rate of one a second");
    for _ in 0..10 {
        globex.start_execution().state_machine_arn(&arns[1]).send().await.expect("globex keeps its own rate");
    }
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_past_the_tenants_maximum_is_refused() {
    let (server, _) = start_tenants(&with_acme_quotas("max_function_memory_mb = 256")).await;
    let lambda = clients::lambda_as(&server.endpoint(), ACME);
    let create = |memory: i32| {
        lambda
            .create_function()
            .function_name("big")
            .role(ROLE)
            .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
            .handler("component")
            .memory_size(memory)
            .code(FunctionCode::builder().zip_file(Blob::new(component("processed"))).build())
            .send()
    };
    let e = create(512).await.unwrap_err();
    assert_eq!(aws_sdk_lambda::error::ProvideErrorMetadata::code(&e), Some("InvalidParameterValueException"), "{e:?}");
    let message = aws_sdk_lambda::error::ProvideErrorMetadata::message(&e).unwrap_or_default().to_string();
    assert!(message.contains("at most 256 MB"), "{message}");
    create(256).await.expect("within the maximum");
    let e = lambda.update_function_configuration().function_name("big").memory_size(1024).send().await.unwrap_err();
    assert_eq!(aws_sdk_lambda::error::ProvideErrorMetadata::code(&e), Some("InvalidParameterValueException"), "{e:?}");
    server.shutdown().await.unwrap();
}

pub(super) async fn create_slow(lambda: &aws_sdk_lambda::Client, name: &str) {
    lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .timeout(30)
        .code(FunctionCode::builder().zip_file(Blob::new(component("slow"))).build())
        .send()
        .await
        .expect("CreateFunction");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invocations_past_concurrent_invocations_are_refused_or_queue_for_that_tenant_only() {
    use aws_sdk_lambda::error::ProvideErrorMetadata as _;
    let (server, _) = start_tenants(&with_acme_quotas("concurrent_invocations = 1")).await;
    let endpoint = server.endpoint();
    let (acme, globex) = (clients::lambda_once(&endpoint, ACME), clients::lambda_once(&endpoint, GLOBEX));
    create_slow(&acme, "slow").await;
    create_slow(&globex, "slow2").await;
    let busy = acme.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 3000}"#)).send();
    let busy = tokio::spawn(busy);
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    let e = acme.invoke().function_name("slow").payload(Blob::new(r#"{"ms": 1}"#)).send().await.unwrap_err();
    assert_eq!(e.code(), Some("TooManyRequestsException"), "{e:?}");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(429));
    globex.invoke().function_name("slow2").payload(Blob::new(r#"{"ms": 1}"#)).send().await.expect("globex has its own slots");
    // An Event invocation waits for the slot.
    let event = aws_sdk_lambda::types::InvocationType::Event;
    acme.invoke().function_name("slow").invocation_type(event).payload(Blob::new(r#"{"ms": 1}"#)).send().await.unwrap();
    busy.await.unwrap().expect("the first invocation");
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let throttles = |samples: &[super::metrics::Sample], tenant| {
        super::metrics::value(samples, "stepbox_throttles_total", &[("tenant", tenant), ("quota", "concurrent_invocations")])
    };
    let samples = super::metrics::scrape(server.addr).await;
    assert_eq!(throttles(&samples, "acme"), 2.0, "the refused Invoke and the Event that waited");
    assert_eq!(super::metrics::value(&samples, "stepbox_invocations_total", &[("tenant", "acme")]), 2.0, "the Event ran");

    // Tasks wait for a slot instead: two 600 ms items run one after the other.
    let sfn = clients::sfn_as(&endpoint, ACME);
    let map = serde_json::json!({"StartAt": "M", "States": {"M": {"Type": "Map", "End": true,
        "ItemProcessor": {"StartAt": "S", "States": {"S": {"Type": "Task",
            "Resource": "arn:aws:lambda:us-east-1:111111111111:function:slow", "End": true}}}}}});
    let m = sfn.create_state_machine().name("pair").definition(map.to_string()).role_arn(ROLE).send().await.unwrap();
    let started = std::time::Instant::now();
    let run = sfn
        .start_execution()
        .state_machine_arn(m.state_machine_arn())
        .input(r#"[{"ms": 600}, {"ms": 600}]"#)
        .send()
        .await
        .unwrap();
    loop {
        let d = sfn.describe_execution().execution_arn(run.execution_arn()).send().await.unwrap();
        if *d.status() != aws_sdk_sfn::types::ExecutionStatus::Running {
            assert_eq!(*d.status(), aws_sdk_sfn::types::ExecutionStatus::Succeeded, "{d:?}");
            break;
        }
        assert!(started.elapsed().as_secs() < 30, "still running");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    assert!(started.elapsed().as_millis() >= 1200, "one slot: the items ran one after the other");
    // The Task that waited is a throttle too.
    let samples = super::metrics::scrape(server.addr).await;
    assert_eq!(throttles(&samples, "acme"), 3.0);
    assert_eq!(throttles(&samples, "globex"), 0.0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_past_code_storage_mb_is_refused() {
    use aws_sdk_lambda::error::ProvideErrorMetadata as _;
    let (server, _) = start_tenants(&with_acme_quotas("code_storage_mb = 1")).await;
    let (acme, globex) = (clients::lambda_as(&server.endpoint(), ACME), clients::lambda_as(&server.endpoint(), GLOBEX));
    let components = [
        "echo", "fail", "lambda_decorated_input", "lambda_large_output", "lambda_raise", "lambda_raise_custom",
        "lambda_return_bytes", "lambda_return_hello_world", "lambda_wait_60s", "logger", "notify_approver", "processed",
        "slow", "transform",
    ];
    let mut seen = std::collections::HashSet::new();
    let mut used = 0;
    let mut refused = None;
    for (i, name) in components.iter().enumerate() {
        let code = component(name);
        let distinct = seen.insert(code.clone());
        let create = |client: &aws_sdk_lambda::Client, code: Vec<u8>| {
            client
                .create_function()
                .function_name(format!("f{i}"))
                .role(ROLE)
                .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
                .handler("component")
                .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
                .send()
        };
        let result = create(&acme, code.clone()).await;
        if distinct && used + code.len() > 1 << 20 {
            let e = result.expect_err("past 1 MiB of code");
            assert_eq!(e.code(), Some("CodeStorageExceededException"), "{e:?}");
            create(&globex, code).await.expect("globex's code is counted apart");
            refused = Some(i);
            break;
        }
        result.expect("within 1 MiB of code");
        if distinct {
            used += code.len();
        }
    }
    assert!(refused.is_some(), "the components take {used} bytes, not past 1 MiB: the test needs more code");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn standard_executions_past_open_executions_are_refused_until_one_closes() {
    let (server, _) = start_tenants(&with_acme_quotas("open_executions = 2")).await;
    let (acme, globex) = (clients::sfn_once(&server.endpoint(), ACME), clients::sfn_once(&server.endpoint(), GLOBEX));
    let wait = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}"#;
    let machine = |client: &aws_sdk_sfn::Client, name: &'static str, definition: &'static str, kind| {
        let create = client.create_state_machine().name(name).definition(definition).role_arn(ROLE).r#type(kind);
        async move { create.send().await.unwrap().state_machine_arn().to_string() }
    };
    use aws_sdk_sfn::types::StateMachineType::{Express, Standard};
    let waits = machine(&acme, "waits", wait, Standard).await;
    let passes = machine(&acme, "passes", PASS, Standard).await;
    let express = machine(&acme, "quick", wait, Express).await;
    let start = |arn: &str, name: &str| acme.start_execution().state_machine_arn(arn).name(name).send();
    let first = start(&waits, "one").await.expect("the first of two").execution_arn().to_string();
    start(&waits, "two").await.expect("the second of two");
    start(&waits, "two").await.expect("an idempotent start of an open execution is not a new one");
    let e = start(&waits, "three").await.unwrap_err();
    assert_eq!(e.code(), Some("ExecutionLimitExceeded"), "{e:?}");
    assert!(e.message().unwrap_or_default().contains("maximum number of running executions"), "{e:?}");
    assert_eq!(e.raw_response().map(|r| r.status().as_u16()), Some(400));
    let e = start(&passes, "quick").await.unwrap_err();
    assert_eq!(e.code(), Some("ExecutionLimitExceeded"), "any Standard machine of the tenant: {e:?}");
    start(&express, "express").await.expect("Express executions are not open executions");
    let other = machine(&globex, "waits", wait, Standard).await;
    for name in ["a", "b", "c"] {
        globex.start_execution().state_machine_arn(&other).name(name).send().await.expect("globex counts apart");
    }

    acme.stop_execution().execution_arn(&first).send().await.expect("StopExecution");
    let short = machine(&acme, "short", SHORT_WAIT, Standard).await;
    let done = start(&short, "short").await.expect("a stopped execution is no longer open");
    let e = start(&waits, "four").await.unwrap_err();
    assert_eq!(e.code(), Some("ExecutionLimitExceeded"), "two open again: {e:?}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    loop {
        let d = acme.describe_execution().execution_arn(done.execution_arn()).send().await.unwrap();
        if *d.status() == aws_sdk_sfn::types::ExecutionStatus::Succeeded {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{d:?}");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    start(&waits, "four").await.expect("a finished execution is no longer open");
    server.shutdown().await.unwrap();
}
