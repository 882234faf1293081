//! The instruction budget extension: a function tagged `stepbox:fuel` runs
//! each invocation on at most that much fuel (`Sandbox.OutOfFuel` past it),
//! through the function API and Task states, kept by a durable server, and
//! metered in `GET /metrics`; untagged functions are not counted.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

use super::metrics::{scrape, value};
use super::tenants::{ACME, GLOBEX, TENANTS, start_tenants};
use super::{ROLE, component};
use crate::clients;

const LOOP: &str = r#"{"attack": "loop"}"#;
const BUDGET: u64 = 5_000_000;

/// CreateFunction of `code` as `name`, tagged with `tags`.
async fn create(lambda: &aws_sdk_lambda::Client, name: &str, code: &str, tags: &[(&str, &str)]) -> Result<(), String> {
    let mut create = lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .timeout(20)
        .code(FunctionCode::builder().zip_file(Blob::new(component(code))).build());
    for (k, v) in tags {
        create = create.tags(*k, *v);
    }
    create.send().await.map(drop).map_err(|e| format!("{:?}: {:?}", e.code(), e.message()))
}

/// Invoke's function error and payload.
async fn invoke(lambda: &aws_sdk_lambda::Client, name: &str, payload: &str) -> (Option<String>, Value) {
    let out = lambda.invoke().function_name(name).payload(Blob::new(payload)).send().await.expect("Invoke");
    let payload = serde_json::from_slice(out.payload().expect("payload").as_ref()).expect("JSON payload");
    (out.function_error().map(str::to_string), payload)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_fuel_tag_bounds_each_invocation_and_is_metered_per_tenant() {
    let (server, _) = start_tenants(TENANTS).await;
    let endpoint = server.endpoint();
    let lambda = clients::lambda_as(&endpoint, ACME);
    let budget = BUDGET.to_string();
    create(&lambda, "looper", "hostile", &[("stepbox:fuel", &budget), ("team", "core")]).await.unwrap();
    create(&lambda, "counted", "echo", &[("stepbox:fuel", "1000000000")]).await.unwrap();
    for bad in ["lots", "0", "-5", "1e9", "18446744073709551616"] {
        let e = create(&lambda, "bad", "echo", &[("stepbox:fuel", bad)]).await.unwrap_err();
        assert!(e.contains("InvalidParameterValueException") && e.contains("stepbox:fuel"), "{bad}: {e}");
    }

    // The loop runs out of fuel long before its 20 s timeout.
    let started = std::time::Instant::now();
    let (error, payload) = invoke(&lambda, "looper", LOOP).await;
    assert_eq!(error.as_deref(), Some("Unhandled"), "{payload}");
    assert_eq!(payload["errorType"], "Sandbox.OutOfFuel", "{payload}");
    assert!(payload["errorMessage"].as_str().unwrap().contains(&budget), "{payload}");
    assert!(started.elapsed() < std::time::Duration::from_secs(15), "{:?}", started.elapsed());
    assert_eq!(invoke(&lambda, "counted", r#"{"a": 1}"#).await, (None, json!({"a": 1})));
    let got = lambda.get_function().function_name("looper").send().await.unwrap();
    let tags = got.tags().expect("GetFunction's Tags");
    assert_eq!(tags.get("stepbox:fuel"), Some(&budget));
    assert_eq!(tags.get("team").map(String::as_str), Some("core"));

    // A Task state runs under the same budget.
    let sfn = clients::sfn_as(&endpoint, ACME);
    let flow = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "End": true,
        "Resource": "arn:aws:lambda:us-east-1:111111111111:function:looper"}}});
    let m = sfn.create_state_machine().name("flow").definition(flow.to_string()).role_arn(ROLE).send().await.unwrap();
    let run = sfn.start_execution().state_machine_arn(m.state_machine_arn()).input(LOOP).send().await.unwrap();
    let d = super::metrics::until_closed(&sfn, run.execution_arn()).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed, "{d:?}");
    assert_eq!(d.error(), Some("Sandbox.OutOfFuel"), "{d:?}");

    // globex's untagged function is not counted: no fuel series for it.
    let globex = clients::lambda_as(&endpoint, GLOBEX);
    create(&globex, "plain", "echo", &[]).await.unwrap();
    assert_eq!(invoke(&globex, "plain", "{}").await, (None, json!({})));
    let samples = scrape(server.addr).await;
    let fuel = value(&samples, "stepbox_invocation_fuel_total", &[("tenant", "acme"), ("account", "111111111111")]);
    assert!(fuel > (2 * BUDGET) as f64, "two invocations that ran out and one that did not: {fuel}");
    assert!(!samples.iter().any(|s| s.name == "stepbox_invocation_fuel_total" && s.labels.iter().any(|(_, v)| v == "globex")));
    assert_eq!(value(&samples, "stepbox_invocation_errors_total", &[("tenant", "acme"), ("error", "Sandbox.OutOfFuel")]), 2.0);
    assert_eq!(value(&samples, "stepbox_invocations_total", &[("tenant", "globex")]), 1.0);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_server_keeps_a_functions_fuel_budget() {
    let (h, dir) = super::start_durable().await;
    create(&h.lambda, "looper", "hostile", &[("stepbox:fuel", "3000000")]).await.unwrap();
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
    let store = store.expect("open the store again");
    let h = super::start_on(store, stepbox_server::ServerConfig::default()).await;
    let (_, payload) = invoke(&h.lambda, "looper", LOOP).await;
    assert_eq!(payload["errorType"], "Sandbox.OutOfFuel", "{payload}");
    let got = h.lambda.get_function().function_name("looper").send().await.unwrap();
    assert_eq!(got.tags().and_then(|t| t.get("stepbox:fuel")).map(String::as_str), Some("3000000"));
    h.server.shutdown().await.unwrap();
}
