//! The environment Lambda gives a function, through the Lambda API: its
//! runtime variables (name, version, memory size, region…) read by the
//! adapters' `context`, and its `Environment.Variables`, which no other
//! function sees; a published version and an alias see their own.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{Environment, FunctionCode, Runtime, State};
use serde_json::json;

use stepbox_sandbox::{Limits, Registry};
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_toolchain::{Runtime as Language, Source};

use super::lambda::{invoke as call, serve, wait_for as wait};
use super::{build, cache_dir, fixture, sandbox, toolchains, zip_dir};

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";
const ARN: &str = "arn:aws:lambda:us-east-1:111111111111:function";

async fn create_with(lambda: &aws_sdk_lambda::Client, name: &str, runtime: Runtime, handler: &str, fixture_dir: &str, vars: &[(&str, &str)]) {
    let mut env = Environment::builder();
    for (k, v) in vars {
        env = env.variables(*k, *v);
    }
    lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .handler(handler)
        .role(ROLE)
        .memory_size(256)
        .environment(env.build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_dir(&fixture(fixture_dir)))).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {name}: {:?}", e.into_service_error()));
    let config = wait(lambda, name, |c| c.state != Some(State::Pending)).await;
    assert_eq!(config.state, Some(State::Active), "{:?}", config.state_reason);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_context_and_variables_are_the_functions_own() {
    let (_server, lambda) = serve().await;
    create_with(&lambda, "py-env-a", Runtime::Python312, "app.handler", "python", &[("COLOR", "blue")]).await;
    create_with(&lambda, "py-env-b", Runtime::Python312, "app.handler", "python", &[("SIZE", "xl")]).await;

    let (error, out) = call(&lambda, "py-env-a", json!({"action": "context"})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(out["function_name"], "py-env-a");
    assert_eq!(out["function_version"], "$LATEST");
    assert_eq!(out["memory_limit_in_mb"], "256");
    assert_eq!(out["log_group_name"], "/aws/lambda/py-env-a");
    assert_eq!(out["invoked_function_arn"], format!("{ARN}:py-env-a"));
    let remaining = out["remaining"].as_u64().unwrap();
    assert!((1..=3000).contains(&remaining), "{remaining}");
    let (_, again) = call(&lambda, "py-env-a", json!({"action": "context"})).await;
    assert_ne!(again["aws_request_id"], out["aws_request_id"], "a request id per invocation");

    let names = json!({"action": "env", "names": ["COLOR", "SIZE", "AWS_REGION", "AWS_LAMBDA_FUNCTION_NAME", "AWS_EXECUTION_ENV", "LAMBDA_TASK_ROOT"]});
    let (_, a) = call(&lambda, "py-env-a", names.clone()).await;
    assert_eq!(
        a,
        json!({"COLOR": "blue", "SIZE": null, "AWS_REGION": "us-east-1", "AWS_LAMBDA_FUNCTION_NAME": "py-env-a",
               "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12", "LAMBDA_TASK_ROOT": "/var/task"})
    );
    let (_, b) = call(&lambda, "py-env-b", names.clone()).await;
    assert_eq!((&b["COLOR"], &b["SIZE"], &b["AWS_LAMBDA_FUNCTION_NAME"]), (&json!(null), &json!("xl"), &json!("py-env-b")));

    // A published version keeps its variables; $LATEST and an alias of the version see theirs.
    let version = lambda.publish_version().function_name("py-env-a").send().await.unwrap().version.unwrap();
    lambda
        .update_function_configuration()
        .function_name("py-env-a")
        .environment(Environment::builder().variables("COLOR", "green").build())
        .send()
        .await
        .unwrap();
    lambda.create_alias().function_name("py-env-a").name("live").function_version(&version).send().await.unwrap();
    let (_, latest) = call(&lambda, "py-env-a", names.clone()).await;
    assert_eq!(latest["COLOR"], "green");
    let (_, v1) = call(&lambda, &format!("py-env-a:{version}"), json!({"action": "context"})).await;
    assert_eq!((&v1["function_version"], &v1["invoked_function_arn"]), (&json!(version), &json!(format!("{ARN}:py-env-a:{version}"))));
    let (_, live) = call(&lambda, "py-env-a:live", names).await;
    assert_eq!(live["COLOR"], "blue");
    let (_, live) = call(&lambda, "py-env-a:live", json!({"action": "context"})).await;
    assert_eq!((&live["function_version"], &live["invoked_function_arn"]), (&json!(version), &json!(format!("{ARN}:py-env-a:live"))));

    let config = lambda.get_function_configuration().function_name("py-env-a").send().await.unwrap();
    assert_eq!(config.environment.unwrap().variables.unwrap().get("COLOR").map(String::as_str), Some("green"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_context_reads_lambdas_variables() {
    let (_server, lambda) = serve().await;
    create_with(&lambda, "js-env", Runtime::Nodejs22x, "index.handler", "js-esm", &[("COLOR", "red")]).await;
    let (error, out) = call(&lambda, "js-env", json!({"action": "context"})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(out["functionName"], "js-env");
    assert_eq!(out["functionVersion"], "$LATEST");
    assert_eq!(out["memoryLimitInMB"], "256");
    assert_eq!(out["invokedFunctionArn"], format!("{ARN}:js-env"));
    let remaining = out["remaining"].as_u64().unwrap();
    assert!((1..=3000).contains(&remaining), "{remaining}");
    let (_, env) = call(&lambda, "js-env", json!({"action": "env", "names": ["COLOR", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "AWS_EXECUTION_ENV"]})).await;
    assert_eq!(env, json!({"COLOR": "red", "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256", "AWS_EXECUTION_ENV": "AWS_Lambda_nodejs22.x"}));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reserved_variables_are_refused_as_lambda_refuses_them() {
    let (_server, lambda) = serve().await;
    let err = lambda
        .create_function()
        .function_name("py-reserved")
        .runtime(Runtime::Python312)
        .handler("app.handler")
        .role(ROLE)
        .environment(Environment::builder().variables("AWS_REGION", "eu-west-1").build())
        .code(FunctionCode::builder().zip_file(Blob::new(zip_dir(&fixture("python")))).build())
        .send()
        .await
        .unwrap_err()
        .into_service_error();
    assert_eq!(err.code(), Some("InvalidParameterValueException"));
    assert!(err.message().unwrap().ends_with("Reserved keys used in this request: AWS_REGION"), "{:?}", err.message());
}

/// The Python fixture's component.
fn python_component() -> Vec<u8> {
    toolchains();
    build(Language::Python312, "app.handler", &Source::Dir(fixture("python"))).expect("the Python fixture builds")
}

/// A function registered outside the API (`serve --functions DIR`) runs with
/// the environment of the configuration GetFunctionConfiguration shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_registered_at_start_gets_lambdas_environment() {
    let registry = Registry::new(sandbox().clone());
    registry.register("py-adopted", &python_component(), Limits { memory_bytes: 256 << 20, ..Limits::default() }).unwrap();
    let state = AppState::in_memory(ServerConfig::default(), registry);
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let lambda = crate::clients::lambda(&server.endpoint());
    let (error, out) = call(&lambda, "py-adopted", json!({"action": "context"})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(
        (&out["function_name"], &out["function_version"], &out["memory_limit_in_mb"], &out["invoked_function_arn"]),
        (&json!("py-adopted"), &json!("$LATEST"), &json!("256"), &json!(format!("{ARN}:py-adopted")))
    );
    let (_, env) = call(&lambda, "py-adopted", json!({"action": "env", "names": ["AWS_REGION", "AWS_LAMBDA_LOG_GROUP_NAME"]})).await;
    assert_eq!(env, json!({"AWS_REGION": "us-east-1", "AWS_LAMBDA_LOG_GROUP_NAME": "/aws/lambda/py-adopted"}));
}

/// `stepbox run --functions DIR`: each NAME.wasm runs with Lambda's
/// environment for a function NAME of the run's memory size.
#[test]
fn stepbox_run_gives_its_functions_lambdas_environment() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("envy.wasm"), python_component()).unwrap();
    let machine = json!({"StartAt": "Context", "States": {
        "Context": {"Type": "Task", "Resource": format!("{ARN}:envy"), "Parameters": {"action": "context"},
                    "ResultPath": "$.context", "Next": "Env"},
        "Env": {"Type": "Task", "Resource": format!("{ARN}:envy"),
                "Parameters": {"action": "env", "names": ["AWS_LAMBDA_FUNCTION_NAME", "AWS_REGION", "AWS_EXECUTION_ENV"]},
                "ResultPath": "$.env", "End": true}}});
    let definition = dir.path().join("envy.asl.json");
    std::fs::write(&definition, machine.to_string()).unwrap();
    let (functions, cache) = (dir.path().to_str().unwrap(), cache_dir());
    let args = ["run", definition.to_str().unwrap(), "--functions", functions, "--function-memory", "192"];
    let (code, out, err) = stepbox_tests::stepbox(&[&args[..], &["--cache-dir", cache.to_str().unwrap()]].concat());
    assert_eq!(code, std::process::ExitCode::SUCCESS, "{err}");
    let out: serde_json::Value = serde_json::from_str(&out).unwrap();
    let context = &out["context"];
    assert_eq!(
        (&context["function_name"], &context["function_version"], &context["memory_limit_in_mb"], &context["log_group_name"]),
        (&json!("envy"), &json!("$LATEST"), &json!("192"), &json!("/aws/lambda/envy"))
    );
    assert_eq!(context["invoked_function_arn"], format!("{ARN}:envy"));
    // A component says nothing of its language: no AWS_EXECUTION_ENV, as provided.al2023.
    assert_eq!(out["env"], json!({"AWS_LAMBDA_FUNCTION_NAME": "envy", "AWS_REGION": "us-east-1", "AWS_EXECUTION_ENV": null}));
}
