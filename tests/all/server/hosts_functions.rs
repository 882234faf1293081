//! Two `stepbox serve` hosts on one PostgreSQL database: a function written
//! on one host (its code, configuration, versions, aliases, concurrency,
//! tags, its deletion) reaches the other host that had loaded it, for Invoke and
//! for Task states, woken by the writer's notification (the polling
//! fallback is 20 s here: every change must arrive well before it).

use super::*;

use aws_sdk_lambda::types::{AliasRoutingConfiguration, Environment};

const FALLBACK: Duration = Duration::from_secs(20);

/// Hosts A and B on a new database, each looking for changes only every
/// [`FALLBACK`] unless notified.
async fn two_hosts() -> (Harness, Harness) {
    let url = crate::postgres::fresh_database();
    let open = || stepbox_store::open_postgres_polling(&url, stepbox_store::DEFAULT_LEASE, FALLBACK).expect("a host opens the database");
    (start_on(open(), ServerConfig::default()).await, start_on(open(), ServerConfig::default()).await)
}

fn code(e: &impl ProvideErrorMetadata) -> String {
    e.code().unwrap_or_default().to_string()
}

/// What an Invoke of `function` on `h` answers: its payload, or the error code.
async fn invoke(h: &Harness, function: &str, input: &Value) -> Result<Value, String> {
    match h.lambda.invoke().function_name(function).payload(Blob::new(input.to_string())).send().await {
        Ok(out) => Ok(serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap()),
        Err(e) => Err(code(&e.into_service_error())),
    }
}

/// Invokes `function` on `h` until it answers what `expected` accepts,
/// within a quarter of the polling fallback (a notification must have
/// brought the change); panics with the last answer otherwise.
async fn until(h: &Harness, function: &str, input: &Value, expected: impl Fn(&Result<Value, String>) -> bool) {
    let deadline = std::time::Instant::now() + FALLBACK / 4;
    loop {
        let answer = invoke(h, function, input).await;
        if expected(&answer) {
            return;
        }
        assert!(std::time::Instant::now() < deadline, "{function} on the other host still answers {answer:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// An execution of `sm` started on `h`, waited for: its output, or its error.
async fn run(h: &Harness, sm: &str, input: &Value) -> Result<Value, String> {
    let started = h.sfn.start_execution().state_machine_arn(sm).input(input.to_string()).send().await.unwrap();
    let done = wait_closed(h, started.execution_arn()).await;
    match done.status() {
        ExecutionStatus::Succeeded => Ok(serde_json::from_str(done.output().unwrap()).unwrap()),
        _ => {
            let history = h.sfn.get_execution_history().execution_arn(started.execution_arn()).send().await.unwrap();
            let failed = history.events().iter().find_map(|e| e.execution_failed_event_details());
            Err(failed.and_then(|f| f.error()).unwrap_or_default().to_string())
        }
    }
}

async fn update_code(h: &Harness, function: &str, component_name: &str) {
    h.lambda.update_function_code().function_name(function).zip_file(Blob::new(component(component_name))).send().await.expect("UpdateFunctionCode");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn code_versions_aliases_and_deletion_written_on_one_host_reach_the_other() {
    let (a, b) = two_hosts().await;
    create_function(&a, "shop", "processed").await;
    let sm = create_machine(&a, "orders", &task_machine("shop"), StateMachineType::Standard).await;
    let input = json!({"id": 1});
    // B loads the function on first use.
    assert_eq!(invoke(&b, "shop", &input).await, Ok(json!({"id": 1, "processed": true})));
    assert_eq!(run(&b, &sm, &input).await, Ok(json!({"id": 1, "processed": true})));

    // New code on A: B's Invoke and B's Task states run it.
    update_code(&a, "shop", "echo").await;
    until(&b, "shop", &input, |r| *r == Ok(input.clone())).await;
    assert_eq!(run(&b, &sm, &input).await, Ok(input.clone()), "a Task state on B runs the new code");

    // A version and an alias published on A run on B.
    let v1 = a.lambda.publish_version().function_name("shop").send().await.expect("PublishVersion");
    assert_eq!(v1.version(), Some("1"));
    a.lambda.create_alias().function_name("shop").name("live").function_version("1").send().await.expect("CreateAlias");
    until(&b, "shop:live", &input, |r| *r == Ok(input.clone())).await;
    assert_eq!(invoke(&b, "shop:1", &input).await, Ok(input.clone()));

    // Version 2 (processed again); the alias moves to it with a share
    // routed to version 1, then wholly to it.
    update_code(&a, "shop", "processed").await;
    let v2 = a.lambda.publish_version().function_name("shop").send().await.expect("PublishVersion 2");
    assert_eq!(v2.version(), Some("2"));
    let half = AliasRoutingConfiguration::builder().additional_version_weights("1", 0.5).build();
    a.lambda.update_alias().function_name("shop").name("live").function_version("2").routing_config(half).send().await.expect("UpdateAlias");
    let described = until_alias(&b, "shop", "live", |a| a.function_version() == Some("2")).await;
    let weights = described.routing_config().and_then(|r| r.additional_version_weights()).cloned().unwrap_or_default();
    assert_eq!(weights.get("1"), Some(&0.5), "B sees the alias's routing");
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..60 {
        seen.insert(invoke(&b, "shop:live", &input).await.unwrap().get("processed").is_some());
    }
    assert_eq!(seen.len(), 2, "B routes the alias's invocations to both versions");
    a.lambda.update_alias().function_name("shop").name("live").routing_config(AliasRoutingConfiguration::builder().build()).send().await.expect("UpdateAlias");
    until_alias(&b, "shop", "live", |a| a.routing_config().and_then(|r| r.additional_version_weights()).is_none_or(|w| w.is_empty())).await;
    for _ in 0..10 {
        assert_eq!(invoke(&b, "shop:live", &input).await, Ok(json!({"id": 1, "processed": true})), "all to version 2");
    }

    // Version 1 deleted on A (no alias routes to it any more), then the alias.
    a.lambda.delete_function().function_name("shop").qualifier("1").send().await.expect("DeleteFunction of version 1");
    until(&b, "shop:1", &input, |r| *r == Err("ResourceNotFoundException".into())).await;
    a.lambda.delete_alias().function_name("shop").name("live").send().await.expect("DeleteAlias");
    until(&b, "shop:live", &input, |r| *r == Err("ResourceNotFoundException".into())).await;
    assert_eq!(invoke(&b, "shop:2", &input).await, Ok(json!({"id": 1, "processed": true})));

    // Reserved concurrency set on A is B's too.
    a.lambda.put_function_concurrency().function_name("shop").reserved_concurrent_executions(3).send().await.expect("PutFunctionConcurrency");
    let deadline = std::time::Instant::now() + FALLBACK / 4;
    loop {
        let got = b.lambda.get_function_concurrency().function_name("shop").send().await.unwrap();
        if got.reserved_concurrent_executions() == Some(3) {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B's reservation: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Tags set on A are B's too.
    let arn = "arn:aws:lambda:us-east-1:111111111111:function:shop";
    a.lambda.tag_resource().resource(arn).tags("team", "blue").send().await.expect("TagResource");
    let deadline = std::time::Instant::now() + FALLBACK / 4;
    loop {
        let got = b.lambda.list_tags().resource(arn).send().await.unwrap();
        if got.tags().and_then(|t| t.get("team")).map(String::as_str) == Some("blue") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "B's tags: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    // Deleted on A: gone on B, for Invoke, for a version and for a Task state.
    a.lambda.delete_function().function_name("shop").send().await.expect("DeleteFunction");
    until(&b, "shop", &input, |r| *r == Err("ResourceNotFoundException".into())).await;
    assert_eq!(invoke(&b, "shop:2", &input).await, Err("ResourceNotFoundException".into()));
    assert_eq!(run(&b, &sm, &input).await, Err("Lambda.ResourceNotFoundException".into()));
    let gone = b.lambda.get_function().function_name("shop").send().await.expect_err("deleted on A");
    assert_eq!(code(&gone.into_service_error()), "ResourceNotFoundException");
}

/// GetAlias on `h` until `accept` takes it (within a quarter of the fallback).
async fn until_alias(
    h: &Harness,
    function: &str,
    alias: &str,
    accept: impl Fn(&aws_sdk_lambda::operation::get_alias::GetAliasOutput) -> bool,
) -> aws_sdk_lambda::operation::get_alias::GetAliasOutput {
    let deadline = std::time::Instant::now() + FALLBACK / 4;
    loop {
        let got = h.lambda.get_alias().function_name(function).name(alias).send().await;
        if let Ok(got) = &got
            && accept(got)
        {
            return got.clone();
        }
        assert!(std::time::Instant::now() < deadline, "alias {function}:{alias} on the other host: {got:?}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// The variables a `hostile` function's `env` action reports, by name.
fn variables(answer: &Result<Value, String>) -> std::collections::BTreeMap<String, String> {
    let pairs = answer.as_ref().ok().and_then(|v| v["vars"].as_array().cloned()).unwrap_or_default();
    pairs.iter().filter_map(|p| Some((p[0].as_str()?.to_string(), p[1].as_str()?.to_string()))).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_configuration_changed_on_one_host_is_the_other_hosts_and_a_function_created_after_it_started_is_listed() {
    let (a, b) = two_hosts().await;
    let env = |color: &str| Environment::builder().variables("COLOR", color).build();
    a.lambda
        .create_function()
        .function_name("painter")
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .environment(env("red"))
        .code(FunctionCode::builder().zip_file(Blob::new(component("hostile"))).build())
        .send()
        .await
        .expect("CreateFunction");
    let listed = b.lambda.list_functions().send().await.unwrap();
    let names: Vec<_> = listed.functions().iter().filter_map(|f| f.function_name()).collect();
    assert_eq!(names, ["painter"], "B lists a function A created after B started");
    let ask = json!({"attack": "env"});
    let first = invoke(&b, "painter", &ask).await;
    assert_eq!(variables(&first).get("COLOR").map(String::as_str), Some("red"), "{first:?}");

    a.lambda
        .update_function_configuration()
        .function_name("painter")
        .environment(env("blue"))
        .memory_size(256)
        .timeout(7)
        .send()
        .await
        .expect("UpdateFunctionConfiguration");
    until(&b, "painter", &ask, |r| variables(r).get("COLOR").map(String::as_str) == Some("blue")).await;
    assert_eq!(variables(&invoke(&b, "painter", &ask).await).get("AWS_LAMBDA_FUNCTION_MEMORY_SIZE").map(String::as_str), Some("256"));
    let config = b.lambda.get_function_configuration().function_name("painter").send().await.unwrap();
    assert_eq!((config.timeout(), config.memory_size()), (Some(7), Some(256)));
    let on_a = a.lambda.get_function_configuration().function_name("painter").send().await.unwrap();
    assert_eq!(config.revision_id(), on_a.revision_id(), "both hosts report the same revision");
    let environment = config.environment().and_then(|e| e.variables()).cloned().unwrap_or_default();
    assert_eq!(environment.get("COLOR").map(String::as_str), Some("blue"));
}
