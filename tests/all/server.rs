//! `stepbox serve` driven by the real AWS SDK clients (aws-sdk-sfn,
//! aws-sdk-lambda) over loopback HTTP, plus raw HTTP for protocol errors.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, InvocationType, LogType};
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType, StateMachineType, SyncExecutionStatus};
use serde_json::{Value, json};
use stepbox_sandbox::Registry;
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

mod bindings;
mod distributed_map;
mod dynamodb;
mod express;
mod fuel;
mod hostile;
mod hosts;
mod hosts_functions;
mod isolation;
mod lambda_api;
mod lambda_versions;
mod limits;
mod memory_budget;
mod mocks;
mod metrics;
mod presigned;
mod quotas;
mod reserved;
mod resumed_tokens;
mod redrive;
mod robustness;
mod store_errors;
mod tags;
pub(crate) mod tenants;
mod test_state;
mod test_state_flows;
mod test_state_mocks;
mod versions;

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

struct Harness {
    server: RunningServer,
    sfn: aws_sdk_sfn::Client,
    lambda: aws_sdk_lambda::Client,
}

async fn start() -> Harness {
    start_with(ServerConfig::default()).await
}

/// [`start`] with a configuration of the test's own.
async fn start_with(config: ServerConfig) -> Harness {
    let registry = Registry::new(shared_sandbox().clone());
    let state = AppState::in_memory(config, registry);
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    let (sfn, lambda) = (crate::clients::sfn(&endpoint), crate::clients::lambda(&endpoint));
    Harness { server, sfn, lambda }
}

/// Declares the tests of `stepbox serve`'s API that run test body `$name`
/// once on each store: `$name::in_memory` on the in-memory one (`serve
/// --in-memory`), `$name::durable` on the durable one (`serve --data`, the
/// default), `$name::postgres` on a PostgreSQL database of its own (`serve
/// --database-url`). A test's function and its module share a name (values
/// and modules are apart).
macro_rules! on_both_stores {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_memory() {
                super::$name(crate::server::start().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn durable() {
                let (h, _dir) = crate::server::start_durable().await;
                super::$name(h).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::server::start_postgres().await).await
            }
        }
    };
}
use on_both_stores;

/// [`start`] on the durable store in a temporary data directory, as
/// `stepbox serve` runs by default. The directory lives as long as the
/// harness's caller keeps it.
async fn start_durable() -> (Harness, tempfile::TempDir) {
    start_durable_with(ServerConfig::default()).await
}

/// [`start_durable`] with a configuration of the test's own.
async fn start_durable_with(config: ServerConfig) -> (Harness, tempfile::TempDir) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = stepbox_store::open_dir(dir.path()).expect("open the store");
    (start_on(store, config).await, dir)
}

/// [`start`] on a new PostgreSQL database (see [`crate::postgres`]), as
/// `stepbox serve --database-url` runs.
async fn start_postgres() -> Harness {
    start_postgres_with(ServerConfig::default()).await
}

/// [`start_postgres`] with a configuration of the test's own.
async fn start_postgres_with(config: ServerConfig) -> Harness {
    let url = crate::postgres::fresh_database();
    let store = stepbox_store::open_postgres(&url).expect("open the PostgreSQL store");
    start_on(store, config).await
}

/// A durable server on `store`, recovered as `stepbox serve` starts.
async fn start_on(store: stepbox_store::Store, config: ServerConfig) -> Harness {
    let registry = Registry::new(shared_sandbox().clone());
    let state = AppState::durable(config, registry, store, stepbox_server::durable::DurableConfig::default());
    state.recover().await.expect("recover");
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    let (sfn, lambda) = (crate::clients::sfn(&endpoint), crate::clients::lambda(&endpoint));
    Harness { server, sfn, lambda }
}

fn component(name: &str) -> Vec<u8> {
    stepbox_components::bytes(name).expect("component built by host/components")
}

async fn create_function(h: &Harness, name: &str, component_name: &str) -> aws_sdk_lambda::operation::create_function::CreateFunctionOutput {
    h.lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(FunctionCode::builder().zip_file(Blob::new(component(component_name))).build())
        .send()
        .await
        .expect("CreateFunction")
}

fn task_machine(function: &str) -> String {
    json!({
        "StartAt": "Process",
        "States": {
            "Process": {
                "Type": "Task",
                "Resource": format!("arn:aws:lambda:us-east-1:111111111111:function:{function}"),
                "Next": "Done"
            },
            "Done": {"Type": "Pass", "End": true}
        }
    })
    .to_string()
}

async fn create_machine(h: &Harness, name: &str, definition: &str, kind: StateMachineType) -> String {
    h.sfn
        .create_state_machine()
        .name(name)
        .definition(definition)
        .role_arn(ROLE)
        .r#type(kind)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string()
}

async fn wait_closed(h: &Harness, arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..500 {
        let d = h.sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {arn} still running after 10 s");
}

/// One raw HTTP/1.1 request; returns (status, headers text, body).
async fn raw(addr: std::net::SocketAddr, request: &str) -> (u16, String, String) {
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut buf = Vec::new();
    stream.read_to_end(&mut buf).await.unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    (status, head.to_string(), body.to_string())
}

fn sfn_request(target: &str, body: &str) -> String {
    format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: {target}\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

on_both_stores!(lambda_api_creates_invokes_configures_and_deletes_functions);
async fn lambda_api_creates_invokes_configures_and_deletes_functions(h: Harness) {
    let created = create_function(&h, "processed", "processed").await;
    assert_eq!(created.function_name(), Some("processed"));
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:111111111111:function:processed"));
    assert_eq!(created.code_size(), component("processed").len() as i64);
    assert_eq!(created.timeout(), Some(3));

    let got = h.lambda.get_function().function_name("processed").send().await.unwrap();
    assert_eq!(got.configuration().and_then(|c| c.memory_size()), Some(128));
    let listed = h.lambda.list_functions().send().await.unwrap();
    assert_eq!(listed.functions().iter().filter_map(|f| f.function_name()).collect::<Vec<_>>(), ["processed"]);

    // RequestResponse by name and by ARN.
    let out = h.lambda.invoke().function_name("processed").payload(Blob::new(br#"{"id":7}"#.to_vec())).send().await.unwrap();
    assert_eq!(out.status_code(), 200);
    assert_eq!(out.function_error(), None);
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, json!({"id": 7, "processed": true}));
    let out = h
        .lambda
        .invoke()
        .function_name("arn:aws:lambda:us-east-1:111111111111:function:processed")
        .payload(Blob::new(br#"{"id":8}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["id"], 8);

    // A failing invocation: 200 with X-Amz-Function-Error and Lambda's error body.
    let out = h.lambda.invoke().function_name("processed").payload(Blob::new(b"[1]".to_vec())).send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["errorType"], "InvalidInput");
    assert!(payload["errorMessage"].as_str().unwrap().contains("expected a JSON object"), "{payload}");
    assert_eq!(payload["stackTrace"], json!([]), "{payload}");
    assert_eq!(payload["requestId"].as_str().map(str::len), Some(36), "{payload}");

    // A task's stack trace reaches the error body as Lambda's `stackTrace`.
    create_function(&h, "raise", "lambda_raise").await;
    let out = h.lambda.invoke().function_name("raise").payload(Blob::new(b"{}".to_vec())).send().await.unwrap();
    assert_eq!(out.function_error(), Some("Unhandled"));
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload["errorType"], "Exception");
    assert_eq!(payload["errorMessage"], "Some exception was raised.");
    let trace = payload["stackTrace"].as_array().expect("stackTrace");
    assert_eq!(trace.len(), 1, "{payload}");
    assert!(trace[0].as_str().unwrap().contains("line 2, in handler"), "{payload}");
    h.lambda.delete_function().function_name("raise").send().await.unwrap();

    // Event invocations are accepted and run in the background.
    let out = h
        .lambda
        .invoke()
        .function_name("processed")
        .invocation_type(InvocationType::Event)
        .payload(Blob::new(b"{}".to_vec()))
        .send()
        .await
        .unwrap();
    assert_eq!(out.status_code(), 202);

    // LogType Tail: base64 of the log tail.
    create_function(&h, "logger", "logger").await;
    let out = h
        .lambda
        .invoke()
        .function_name("logger")
        .log_type(LogType::Tail)
        .payload(Blob::new(br#"{"message":"hello from the test"}"#.to_vec()))
        .send()
        .await
        .unwrap();
    let tail = stepbox_asl::base64::decode(out.log_result().expect("X-Amz-Log-Result")).unwrap();
    let tail = String::from_utf8(tail).unwrap();
    assert!(tail.contains("hello from the test") && tail.contains("logger: stdout line"), "{tail}");

    // Timeout and MemorySize become the sandbox limits.
    let updated = h
        .lambda
        .update_function_configuration()
        .function_name("processed")
        .timeout(30)
        .memory_size(256)
        .send()
        .await
        .unwrap();
    assert_eq!((updated.timeout(), updated.memory_size()), (Some(30), Some(256)));
    let limits = h.server.state.registry.get("processed").unwrap().limits;
    assert_eq!((limits.timeout, limits.memory_bytes), (Duration::from_secs(30), 256 << 20));

    // UpdateFunctionCode replaces the component, keeping the limits.
    let updated = h
        .lambda
        .update_function_code()
        .function_name("processed")
        .zip_file(Blob::new(component("echo")))
        .send()
        .await
        .unwrap();
    assert_eq!(updated.code_size(), component("echo").len() as i64);
    assert_eq!(h.server.state.registry.get("processed").unwrap().limits.timeout, Duration::from_secs(30));
    let out = h.lambda.invoke().function_name("processed").payload(Blob::new(br#"{"id":9}"#.to_vec())).send().await.unwrap();
    let payload: Value = serde_json::from_slice(out.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, json!({"id": 9}));

    // Duplicate, missing and deleted functions.
    let err = h
        .lambda
        .create_function()
        .function_name("logger")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(component("logger"))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    h.lambda.delete_function().function_name("logger").send().await.unwrap();
    let err = h.lambda.get_function().function_name("logger").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    let err = h.lambda.invoke().function_name("nope").send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found_exception(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(lambda_api_accepts_zipped_components_and_refuses_other_code);
async fn lambda_api_accepts_zipped_components_and_refuses_other_code(h: Harness) {
    // A zip holding exactly one .wasm component.
    let mut zipped = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut zipped);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file("README.txt", opts).unwrap();
        std::io::Write::write_all(&mut w, b"not code").unwrap();
        w.start_file("bin/processed.wasm", opts).unwrap();
        std::io::Write::write_all(&mut w, &component("processed")).unwrap();
        w.finish().unwrap();
    }
    let created = h
        .lambda
        .create_function()
        .function_name("zipped")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zipped.into_inner())).build())
        .send()
        .await
        .unwrap();
    assert_eq!(created.code_size(), component("processed").len() as i64);
    let out = h.lambda.invoke().function_name("zipped").payload(Blob::new(b"{}".to_vec())).send().await.unwrap();
    assert_eq!(out.payload().unwrap().as_ref(), br#"{"processed":true}"#);

    let refuse = |code: Vec<u8>| {
        let lambda = h.lambda.clone();
        async move {
            lambda
                .create_function()
                .function_name("bad")
                .role(ROLE)
                .code(FunctionCode::builder().zip_file(Blob::new(code)).build())
                .send()
                .await
                .unwrap_err()
                .into_service_error()
        }
    };
    let err = refuse(b"#!/bin/sh\necho hi\n".to_vec()).await;
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("neither a WebAssembly component nor a zip archive"), "{err:?}");
    // A core module is WebAssembly but not a component.
    let err = refuse(wat::parse_str("(module)").unwrap()).await;
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("not a WebAssembly component"), "{err:?}");
    // A component, but not of the stepbox task world (it exports no `run`).
    let err = refuse(wat::parse_str("(component)").unwrap()).await;
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    assert!(err.message().unwrap().contains("does not fit the stepbox:task@0.2.0 world"), "{err:?}");
    // A zip without a .wasm entry.
    let mut empty = std::io::Cursor::new(Vec::new());
    {
        let mut w = zip::ZipWriter::new(&mut empty);
        w.start_file("index.js", zip::write::SimpleFileOptions::default()).unwrap();
        std::io::Write::write_all(&mut w, b"exports.handler = 1").unwrap();
        w.finish().unwrap();
    }
    let err = refuse(empty.into_inner()).await;
    assert!(err.message().unwrap().contains("contains no .wasm file"), "{err:?}");
    assert!(h.server.state.registry.get("bad").is_none());
    // Bad configuration values.
    let err = h
        .lambda
        .create_function()
        .function_name("slow")
        .role(ROLE)
        .timeout(0)
        .code(FunctionCode::builder().zip_file(Blob::new(component("processed"))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_parameter_value_exception(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(state_machine_runs_a_function_created_through_the_lambda_api);
async fn state_machine_runs_a_function_created_through_the_lambda_api(h: Harness) {
    create_function(&h, "processed", "processed").await;
    let sm = create_machine(&h, "orders", &task_machine("processed"), StateMachineType::Standard).await;
    assert_eq!(sm, "arn:aws:states:us-east-1:111111111111:stateMachine:orders");

    let described = h.sfn.describe_state_machine().state_machine_arn(&sm).send().await.unwrap();
    assert_eq!(described.name(), "orders");
    assert_eq!(described.definition(), task_machine("processed"));
    assert_eq!(*described.r#type(), StateMachineType::Standard);

    let started = h.sfn.start_execution().state_machine_arn(&sm).name("first").input(r#"{"id":1}"#).send().await.unwrap();
    assert_eq!(started.execution_arn(), "arn:aws:states:us-east-1:111111111111:execution:orders:first");
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output, json!({"id": 1, "processed": true}));
    assert!(done.stop_date().is_some());
    assert_eq!(done.input(), Some(r#"{"id":1}"#));

    // The name is taken once the execution closed.
    let err = h
        .sfn
        .start_execution()
        .state_machine_arn(&sm)
        .name("first")
        .input(r#"{"id":1}"#)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_execution_already_exists(), "{err:?}");

    // History: complete, ordered, pageable in both directions.
    let all = h.sfn.get_execution_history().execution_arn(started.execution_arn()).send().await.unwrap();
    let types: Vec<HistoryEventType> = all.events().iter().map(|e| e.r#type().clone()).collect();
    assert_eq!(types.first(), Some(&HistoryEventType::ExecutionStarted));
    assert_eq!(types.last(), Some(&HistoryEventType::ExecutionSucceeded));
    assert!(types.contains(&HistoryEventType::LambdaFunctionSucceeded), "{types:?}");
    assert!(all.next_token().is_none());
    let ids: Vec<i64> = all.events().iter().map(|e| e.id()).collect();
    assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>());
    let started_details = all.events()[0].execution_started_event_details().unwrap();
    assert_eq!(started_details.input(), Some(r#"{"id":1}"#));

    let mut paged = Vec::new();
    let mut token = None;
    let mut pages = 0;
    loop {
        let page = h
            .sfn
            .get_execution_history()
            .execution_arn(started.execution_arn())
            .max_results(3)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        assert!(page.events().len() <= 3);
        paged.extend(page.events().iter().map(|e| e.id()));
        pages += 1;
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
    }
    assert_eq!(paged, ids);
    assert_eq!(pages, ids.len().div_ceil(3));

    let reversed = h
        .sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .reverse_order(true)
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    let rev_ids: Vec<i64> = reversed.events().iter().map(|e| e.id()).collect();
    assert_eq!(rev_ids, ids.iter().rev().copied().collect::<Vec<_>>());
    let last = reversed.events().last().unwrap().execution_started_event_details().unwrap();
    assert_eq!(last.input(), None, "includeExecutionData=false leaves data out");

    let err = h
        .sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .next_token("garbage")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_token(), "{err:?}");

    // UpdateStateMachine: new executions use the new definition.
    let pass = json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Result": {"v": 2}, "End": true}}}).to_string();
    h.sfn.update_state_machine().state_machine_arn(&sm).definition(&pass).send().await.unwrap();
    let second = h.sfn.start_execution().state_machine_arn(&sm).name("second").send().await.unwrap();
    let done = wait_closed(&h, second.execution_arn()).await;
    assert_eq!(done.output(), Some(r#"{"v":2}"#));

    let listed = h.sfn.list_state_machines().send().await.unwrap();
    assert_eq!(listed.state_machines().len(), 1);
    assert_eq!(listed.state_machines()[0].name(), "orders");
    h.sfn.delete_state_machine().state_machine_arn(&sm).send().await.unwrap();
    let err = h.sfn.describe_state_machine().state_machine_arn(&sm).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_does_not_exist(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(list_executions_pages_and_filters);
async fn list_executions_pages_and_filters(h: Harness) {
    let sm = create_machine(
        &h,
        "pages",
        &json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}).to_string(),
        StateMachineType::Standard,
    )
    .await;
    let mut arns = Vec::new();
    for i in 0..5 {
        let s = h.sfn.start_execution().state_machine_arn(&sm).name(format!("run-{i}")).send().await.unwrap();
        arns.push(s.execution_arn().to_string());
    }
    for arn in &arns {
        wait_closed(&h, arn).await;
    }
    let mut seen = Vec::new();
    let mut token = None;
    let mut sizes = Vec::new();
    let mut later = Vec::new();
    loop {
        let page = h
            .sfn
            .list_executions()
            .state_machine_arn(&sm)
            .max_results(2)
            .set_next_token(token)
            .send()
            .await
            .unwrap();
        sizes.push(page.executions().len());
        seen.extend(page.executions().iter().map(|e| e.execution_arn().to_string()));
        token = page.next_token().map(str::to_string);
        if token.is_none() {
            break;
        }
        if sizes.len() == 1 {
            // Executions started between pages neither shift nor repeat
            // the pages that follow (an offset token would repeat run-2).
            for i in 5..7 {
                let s = h.sfn.start_execution().state_machine_arn(&sm).name(format!("run-{i}")).send().await.unwrap();
                later.push(s.execution_arn().to_string());
            }
        }
    }
    assert_eq!(sizes, [2, 2, 1]);
    // Newest first.
    assert_eq!(seen, arns.iter().rev().cloned().collect::<Vec<_>>());
    for arn in &later {
        wait_closed(&h, arn).await;
    }

    let succeeded = h
        .sfn
        .list_executions()
        .state_machine_arn(&sm)
        .status_filter(ExecutionStatus::Succeeded)
        .send()
        .await
        .unwrap();
    assert_eq!(succeeded.executions().len(), 7);
    let running =
        h.sfn.list_executions().state_machine_arn(&sm).status_filter(ExecutionStatus::Running).send().await.unwrap();
    assert!(running.executions().is_empty());
    h.server.shutdown().await.unwrap();
}

on_both_stores!(stop_execution_aborts_a_running_execution);
async fn stop_execution_aborts_a_running_execution(h: Harness) {
    let sm = create_machine(
        &h,
        "waits",
        &json!({"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 600, "End": true}}}).to_string(),
        StateMachineType::Standard,
    )
    .await;
    let s = h.sfn.start_execution().state_machine_arn(&sm).name("long").input(r#"{"a":1}"#).send().await.unwrap();
    // Same name and input while running: idempotent.
    let again = h.sfn.start_execution().state_machine_arn(&sm).name("long").input(r#"{"a":1}"#).send().await.unwrap();
    assert_eq!(again.execution_arn(), s.execution_arn());
    // Different input: refused.
    let err = h
        .sfn
        .start_execution()
        .state_machine_arn(&sm)
        .name("long")
        .input(r#"{"a":2}"#)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_execution_already_exists(), "{err:?}");
    let d = h.sfn.describe_execution().execution_arn(s.execution_arn()).send().await.unwrap();
    assert_eq!(*d.status(), ExecutionStatus::Running);

    h.sfn.stop_execution().execution_arn(s.execution_arn()).error("Manual").cause("test").send().await.unwrap();
    let d = wait_closed(&h, s.execution_arn()).await;
    assert_eq!(*d.status(), ExecutionStatus::Aborted);
    assert_eq!((d.error(), d.cause()), (Some("Manual"), Some("test")));
    // The engine noticed: the history ends with ExecutionAborted.
    let mut last = None;
    for _ in 0..250 {
        let history = h.sfn.get_execution_history().execution_arn(s.execution_arn()).reverse_order(true).max_results(1).send().await.unwrap();
        last = history.events().first().cloned();
        if last.as_ref().map(|e| e.r#type()) == Some(&HistoryEventType::ExecutionAborted) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let last = last.expect("an event");
    assert_eq!(last.r#type(), &HistoryEventType::ExecutionAborted);
    // StopExecution's error and cause are in the event, as AWS records them.
    let details = last.execution_aborted_event_details().expect("executionAbortedEventDetails");
    assert_eq!((details.error(), details.cause()), (Some("Manual"), Some("test")));
    h.server.shutdown().await.unwrap();
}

on_both_stores!(start_sync_execution_runs_express_machines);
async fn start_sync_execution_runs_express_machines(h: Harness) {
    create_function(&h, "processed", "processed").await;
    let express = create_machine(&h, "quick", &task_machine("processed"), StateMachineType::Express).await;
    let out = h.sfn.start_sync_execution().state_machine_arn(&express).input(r#"{"n":3}"#).send().await.unwrap();
    assert_eq!(*out.status(), SyncExecutionStatus::Succeeded, "{out:?}");
    let output: Value = serde_json::from_str(out.output().unwrap()).unwrap();
    assert_eq!(output, json!({"n": 3, "processed": true}));
    assert!(out.execution_arn().starts_with("arn:aws:states:us-east-1:111111111111:express:quick:"));

    // A failing task: FAILED with Error and Cause.
    let out = h.sfn.start_sync_execution().state_machine_arn(&express).input("[1]").send().await.unwrap();
    assert_eq!(*out.status(), SyncExecutionStatus::Failed);
    assert_eq!(out.error(), Some("InvalidInput"));
    assert!(out.cause().unwrap().contains("expected a JSON object"), "{out:?}");

    let standard = create_machine(&h, "slowpoke", &task_machine("processed"), StateMachineType::Standard).await;
    let err = h.sfn.start_sync_execution().state_machine_arn(&standard).send().await.unwrap_err().into_service_error();
    assert!(err.is_state_machine_type_not_supported(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(step_functions_errors_have_aws_shapes);
async fn step_functions_errors_have_aws_shapes(h: Harness) {
    // InvalidDefinition with the validator's message.
    let bad = r#"{"StartAt": "Nowhere", "States": {"A": {"Type": "Pass", "End": true}}}"#;
    let err = h
        .sfn
        .create_state_machine()
        .name("bad")
        .definition(bad)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_definition(), "{err:?}");
    let diagnostics = stepbox_tests_diagnostics(bad);
    assert_eq!(err.message(), Some(diagnostics.as_str()));

    let v = h.sfn.validate_state_machine_definition().definition(bad).send().await.unwrap();
    assert_eq!(v.result().as_str(), "FAIL");
    assert!(!v.diagnostics().is_empty());
    let ok = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}).to_string();
    let v = h.sfn.validate_state_machine_definition().definition(&ok).send().await.unwrap();
    assert_eq!(v.result().as_str(), "OK");

    for name in ["has space", "semi;colon", "", &"x".repeat(81)] {
        let err = h
            .sfn
            .create_state_machine()
            .name(name)
            .definition(&ok)
            .role_arn(ROLE)
            .send()
            .await
            .unwrap_err()
            .into_service_error();
        assert!(err.is_invalid_name(), "{name:?}: {err:?}");
    }

    // Same name: idempotent for the same definition, refused for another.
    let arn = create_machine(&h, "dup", &ok, StateMachineType::Standard).await;
    assert_eq!(create_machine(&h, "dup", &ok, StateMachineType::Standard).await, arn);
    let other = json!({"StartAt": "B", "States": {"B": {"Type": "Succeed"}}}).to_string();
    let err = h
        .sfn
        .create_state_machine()
        .name("dup")
        .definition(&other)
        .role_arn(ROLE)
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_state_machine_already_exists(), "{err:?}");

    let err = h
        .sfn
        .start_execution()
        .state_machine_arn(&arn)
        .input("{not json")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_invalid_execution_input(), "{err:?}");
    let err = h
        .sfn
        .describe_execution()
        .execution_arn("arn:aws:states:us-east-1:111111111111:execution:dup:missing")
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert!(err.is_execution_does_not_exist(), "{err:?}");
    let err = h.sfn.describe_state_machine().state_machine_arn("not-an-arn").send().await.unwrap_err().into_service_error();
    assert!(err.is_invalid_arn(), "{err:?}");

    // Protocol errors, over raw HTTP.
    let (status, _, body) = raw(h.server.addr, &sfn_request("AWSStepFunctions.FlyToTheMoon", "{}")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "UnknownOperationException");
    assert!(body["message"].as_str().unwrap().contains("FlyToTheMoon"));

    let (status, head, body) = raw(h.server.addr, &sfn_request("AWSStepFunctions.ListStateMachines", "{\"maxResults\": ")).await;
    assert_eq!(status, 400);
    assert!(head.to_ascii_lowercase().contains("content-type: application/x-amz-json-1.0"), "{head}");
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "SerializationException");
    assert!(body["message"].is_string());

    let (status, _, body) = raw(h.server.addr, &sfn_request("AWSStepFunctions.CreateStateMachine", r#"{"name": 5}"#)).await;
    assert_eq!(status, 400);
    assert_eq!(serde_json::from_str::<Value>(&body).unwrap()["__type"], "SerializationException");

    let (status, _, body) = raw(h.server.addr, &sfn_request("AWSStepFunctions.DescribeStateMachine", "{}")).await;
    assert_eq!(status, 400);
    let body: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(body["__type"], "ValidationException");
    assert!(body["message"].as_str().unwrap().contains("'stateMachineArn'"), "{body}");

    // Oversize bodies are refused from their Content-Length, without reading them.
    let oversize = format!(
        "POST / HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\nContent-Type: application/x-amz-json-1.0\r\n\
         X-Amz-Target: AWSStepFunctions.ValidateStateMachineDefinition\r\nContent-Length: {}\r\n\r\n",
        stepbox_server::SFN_BODY_LIMIT + 1
    );
    let (status, _, _) = raw(h.server.addr, &oversize).await;
    assert_eq!(status, 413);

    // The host prefix does not matter, and /health answers.
    let (status, _, body) = raw(h.server.addr, "GET /health HTTP/1.1\r\nHost: sync-localhost\r\nConnection: close\r\n\r\n").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    h.server.shutdown().await.unwrap();
}

/// AWS's InvalidDefinition message for `definition`, as the validator words it.
fn stepbox_tests_diagnostics(definition: &str) -> String {
    let diagnostics = stepbox_asl::StateMachine::parse(definition).unwrap_err();
    stepbox_asl::invalid_definition_message(&diagnostics)
}

#[test]
fn serve_subcommand_is_documented() {
    let (code, out, _) = stepbox_tests::stepbox(&["serve", "--help"]);
    assert_eq!(code, std::process::ExitCode::SUCCESS);
    assert!(out.contains("--addr") && out.contains("--functions"), "{out}");
}

on_both_stores!(graceful_shutdown_finishes_requests_in_flight);
async fn graceful_shutdown_finishes_requests_in_flight(h: Harness) {
    create_function(&h, "slow", "slow").await;
    let addr = h.server.addr;
    let lambda = h.lambda.clone();
    let in_flight = tokio::spawn(async move {
        lambda.invoke().function_name("slow").payload(Blob::new(br#"{"ms":500}"#.to_vec())).send().await
    });
    tokio::time::sleep(Duration::from_millis(150)).await;
    h.server.shutdown().await.unwrap();
    let out = in_flight.await.unwrap().expect("the request in flight is answered");
    assert_eq!(out.payload().unwrap().as_ref(), br#"{"slept_ms":500}"#);
    // No longer accepting.
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

on_both_stores!(state_machine_tags);
async fn state_machine_tags(h: Harness) {
    use aws_sdk_sfn::types::Tag;
    let ok = json!({"StartAt": "A", "States": {"A": {"Type": "Pass", "End": true}}}).to_string();
    let arn = h
        .sfn
        .create_state_machine()
        .name("tagged")
        .definition(&ok)
        .role_arn(ROLE)
        .tags(Tag::builder().key("team").value("a").build())
        .send()
        .await
        .unwrap()
        .state_machine_arn()
        .to_string();
    h.sfn
        .tag_resource()
        .resource_arn(&arn)
        .tags(Tag::builder().key("team").value("b").build())
        .tags(Tag::builder().key("env").value("dev").build())
        .send()
        .await
        .unwrap();
    let tags = h.sfn.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    let pairs: Vec<(&str, &str)> =
        tags.tags().iter().map(|t| (t.key().unwrap_or(""), t.value().unwrap_or(""))).collect();
    assert_eq!(pairs, [("team", "b"), ("env", "dev")]);
    h.sfn.untag_resource().resource_arn(&arn).tag_keys("team").send().await.unwrap();
    let tags = h.sfn.list_tags_for_resource().resource_arn(&arn).send().await.unwrap();
    assert_eq!(tags.tags().len(), 1);
    let missing = "arn:aws:states:us-east-1:111111111111:stateMachine:nope";
    let err = h.sfn.list_tags_for_resource().resource_arn(missing).send().await.unwrap_err().into_service_error();
    assert!(err.is_resource_not_found(), "{err:?}");
    h.server.shutdown().await.unwrap();
}

on_both_stores!(history_shows_assigned_variables_as_aws_does);
async fn history_shows_assigned_variables_as_aws_does(h: Harness) {
    let definition = json!({"QueryLanguage": "JSONata", "StartAt": "A", "States": {
        "A": {"Type": "Pass", "Assign": {"count": "{% $states.input.n + 1 %}", "tags": ["x", {"y": null}]}, "Next": "B"},
        "B": {"Type": "Pass", "Output": {"count": "{% $count %}"}, "End": true}}});
    let sm = create_machine(&h, "vars", &definition.to_string(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(&sm).input(r#"{"n":1}"#).send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(done.output(), Some(r#"{"count":2}"#));
    let history = h.sfn.get_execution_history().execution_arn(started.execution_arn()).send().await.unwrap();
    let exits: Vec<_> = history.events().iter().filter_map(|e| e.state_exited_event_details()).collect();
    assert_eq!(exits.len(), 2);
    let assigned = exits[0].assigned_variables().expect("A assigns");
    assert_eq!(assigned.get("count").map(String::as_str), Some("2"));
    assert_eq!(assigned.get("tags").map(String::as_str), Some(r#"["x",{"y":null}]"#));
    assert_eq!(exits[0].assigned_variables_details().map(|d| d.truncated()), Some(false));
    assert!(exits[1].assigned_variables().is_none(), "B assigns nothing");

    let without_data = h
        .sfn
        .get_execution_history()
        .execution_arn(started.execution_arn())
        .include_execution_data(false)
        .send()
        .await
        .unwrap();
    let exit = without_data.events().iter().find_map(|e| e.state_exited_event_details()).unwrap();
    assert!(exit.assigned_variables().is_none() && exit.output().is_none(), "{exit:?}");
    h.server.shutdown().await.unwrap();
}
