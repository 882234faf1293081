//! Python and JavaScript functions uploaded as source through the Lambda API
//! (aws-sdk-lambda against `stepbox serve`'s state): built in the background,
//! Pending then Active, or Failed with the build's reason; UpdateFunctionCode
//! with LastUpdateStatus; Invoke while Pending is ResourceConflictException.

use std::time::{Duration, Instant};

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{FunctionCode, LastUpdateStatus, Runtime, State};
use serde_json::{Value, json};
use stepbox_sandbox::Registry;
use stepbox_server::{AppState, RunningServer, ServerConfig};

use super::{fixture, sandbox, toolchains, zip_dir};

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

pub(super) async fn serve() -> (RunningServer, aws_sdk_lambda::Client) {
    toolchains();
    let state = AppState::in_memory(ServerConfig::default(), Registry::new(sandbox().clone()));
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let lambda = crate::clients::lambda(&server.endpoint());
    (server, lambda)
}

async fn create(lambda: &aws_sdk_lambda::Client, name: &str, runtime: Runtime, handler: &str, zip: Vec<u8>) -> State {
    let out = lambda
        .create_function()
        .function_name(name)
        .runtime(runtime)
        .handler(handler)
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(zip)).build())
        .send()
        .await
        .unwrap_or_else(|e| panic!("CreateFunction {name}: {:?}", e.into_service_error()));
    out.state.unwrap()
}

/// Poll GetFunction until `done` holds of its configuration (builds take
/// tens of seconds on a busy machine the first time).
pub(super) async fn wait_for(lambda: &aws_sdk_lambda::Client, name: &str, done: impl Fn(&aws_sdk_lambda::types::FunctionConfiguration) -> bool) -> aws_sdk_lambda::types::FunctionConfiguration {
    let started = Instant::now();
    loop {
        let config = lambda.get_function().function_name(name).send().await.unwrap().configuration.unwrap();
        if done(&config) {
            return config;
        }
        assert!(started.elapsed() < Duration::from_secs(600), "{name} still {:?} / {:?}", config.state, config.last_update_status);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

pub(super) async fn invoke(lambda: &aws_sdk_lambda::Client, name: &str, payload: Value) -> (Option<String>, Value) {
    let out = lambda
        .invoke()
        .function_name(name)
        .payload(Blob::new(payload.to_string()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("Invoke {name}: {:?}", e.into_service_error()));
    (out.function_error, serde_json::from_slice(out.payload.unwrap().as_ref()).unwrap())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn python_from_source_pending_active_update() {
    let (_server, lambda) = serve().await;
    let zip = zip_dir(&fixture("python"));
    let state = create(&lambda, "py-greeter", Runtime::Python312, "app.handler", zip.clone()).await;
    assert_eq!(state, State::Pending);
    let config = wait_for(&lambda, "py-greeter", |c| c.state != Some(State::Pending)).await;
    assert_eq!(config.state, Some(State::Active), "{:?}", config.state_reason);
    assert_eq!(config.runtime, Some(Runtime::Python312));
    assert_eq!(config.handler.as_deref(), Some("app.handler"));
    // As AWS reports them: the uploaded zip's digest and size, not the built component's.
    assert_eq!((config.code_sha256(), config.code_size()), (Some(zip_sha256(&zip).as_str()), zip.len() as i64));

    let (error, out) = invoke(&lambda, "py-greeter", json!({"name": "ada"})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(out["shout"], "ADA!");
    let (error, out) = invoke(&lambda, "py-greeter", json!({"action": "raise", "order": 3})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(out["errorType"], "OrderRejected");
    assert_eq!(out["errorMessage"], "order 3 rejected");

    // New code: the JavaScript fixture's CommonJS handler under the same name
    // would change the runtime; a Python module with another answer does not.
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("app.py"), "def handler(event, context):\n    return {'version': 2}\n").unwrap();
    let zip = zip_dir(dir.path());
    let out = lambda.update_function_code().function_name("py-greeter").zip_file(Blob::new(zip.clone())).send().await.unwrap();
    assert_eq!(out.state, Some(State::Active));
    assert_eq!(out.last_update_status, Some(LastUpdateStatus::InProgress));
    let config = wait_for(&lambda, "py-greeter", |c| c.last_update_status != Some(LastUpdateStatus::InProgress)).await;
    assert_eq!(config.last_update_status, Some(LastUpdateStatus::Successful), "{:?}", config.last_update_status_reason);
    assert_eq!(invoke(&lambda, "py-greeter", json!({})).await.1, json!({"version": 2}));

    // The new zip's digest and size, in $LATEST, a version published from
    // it and ListFunctions alike.
    let expected = (Some(zip_sha256(&zip)), zip.len() as i64);
    let latest = (config.code_sha256, config.code_size);
    assert_eq!(latest, expected);
    let version = lambda.publish_version().function_name("py-greeter").send().await.unwrap();
    assert_eq!((version.code_sha256, version.code_size), expected);
    let listed = lambda.list_functions().send().await.unwrap();
    let listed = listed.functions().iter().find(|f| f.function_name() == Some("py-greeter")).unwrap();
    assert_eq!((listed.code_sha256.clone(), listed.code_size), expected);
}

/// Lambda's CodeSha256 of an uploaded zip: its SHA-256, base64.
fn zip_sha256(zip: &[u8]) -> String {
    let hex = stepbox_sandbox::wasm_sha256(zip);
    let digest: Vec<u8> = (0..hex.len() / 2).map(|i| u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).unwrap()).collect();
    stepbox_asl::base64::encode(&digest)
}

/// The State ListFunctions gives function `name` (None: not listed).
async fn listed_state(lambda: &aws_sdk_lambda::Client, name: &str) -> Option<State> {
    let out = lambda.list_functions().send().await.unwrap();
    out.functions().iter().find(|f| f.function_name() == Some(name)).map(|f| f.state.clone().unwrap_or(State::Active))
}

/// Run an Express state machine whose one Task calls function `name`; its error and cause.
async fn task_failure(sfn: &aws_sdk_sfn::Client, name: &str) -> (String, String) {
    let definition = json!({"StartAt": "Call", "States": {"Call": {"Type": "Task",
        "Resource": format!("arn:aws:lambda:us-east-1:111111111111:function:{name}"), "End": true}}});
    let machine = sfn
        .create_state_machine()
        .name(format!("calls-{name}-{}", stepbox_asl::uuid_v4()))
        .definition(definition.to_string())
        .role_arn("arn:aws:iam::111111111111:role/stepbox")
        .r#type(aws_sdk_sfn::types::StateMachineType::Express)
        .send()
        .await
        .unwrap();
    let out = sfn.start_sync_execution().state_machine_arn(machine.state_machine_arn()).send().await.unwrap();
    assert_eq!(out.status, aws_sdk_sfn::types::SyncExecutionStatus::Failed);
    (out.error.unwrap_or_default(), out.cause.unwrap_or_default())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_syntax_error_fails_the_function_and_invoke_conflicts() {
    let (_server, lambda) = serve().await;
    // Sources of their own (a nonce beside them), so the build is not kept
    // from an earlier run and is still running when Invoke comes.
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(fixture("python-syntax-error").join("app.py"), dir.path().join("app.py")).unwrap();
    let nonce = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    std::fs::write(dir.path().join("nonce.txt"), nonce.to_string()).unwrap();
    let zip = zip_dir(dir.path());
    assert_eq!(create(&lambda, "py-broken", Runtime::Python312, "app.handler", zip).await, State::Pending);
    let err = lambda.invoke().function_name("py-broken").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    assert_eq!(
        err.message(),
        Some("The operation cannot be performed at this time. The function is currently in the following state: Pending")
    );
    assert_eq!(listed_state(&lambda, "py-broken").await, Some(State::Pending));
    let sfn = crate::clients::sfn(&_server.endpoint());
    let (error, cause) = task_failure(&sfn, "py-broken").await;
    assert_eq!(error, "Lambda.ResourceConflictException");
    assert!(cause.starts_with("The operation cannot be performed at this time. The function is currently in the following state: Pending (Service: AWSLambda; Status Code: 409; Error Code: ResourceConflictException;"), "{cause}");
    let config = wait_for(&lambda, "py-broken", |c| c.state != Some(State::Pending)).await;
    assert_eq!(config.state, Some(State::Failed));
    assert_eq!(config.state_reason_code.as_ref().map(|c| c.as_str()), Some("FunctionError"));
    assert_eq!(
        config.state_reason.as_deref(),
        Some("Runtime.UserCodeSyntaxError: Syntax error in module 'app': expected ':' (app.py, line 1)")
    );
    let err = lambda.invoke().function_name("py-broken").send().await.unwrap_err().into_service_error();
    assert_eq!(err.code(), Some("ResourceConflictException"));
    assert_eq!(listed_state(&lambda, "py-broken").await, Some(State::Failed));
    let (error, cause) = task_failure(&sfn, "py-broken").await;
    assert_eq!(error, "Lambda.ResourceConflictException");
    assert!(cause.contains("the following state: Failed (Service: AWSLambda; Status Code: 409;"), "{cause}");
    // Deleting a failed function works, as on Lambda.
    lambda.delete_function().function_name("py-broken").send().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn javascript_from_source_reports_errors_as_node() {
    let (_server, lambda) = serve().await;
    let zip = zip_dir(&fixture("js-esm"));
    assert_eq!(create(&lambda, "js-greeter", Runtime::Nodejs22x, "index.handler", zip).await, State::Pending);
    let config = wait_for(&lambda, "js-greeter", |c| c.state != Some(State::Pending)).await;
    assert_eq!(config.state, Some(State::Active), "{:?}", config.state_reason);
    let (error, out) = invoke(&lambda, "js-greeter", json!({"name": "ada"})).await;
    assert_eq!(error, None, "{out}");
    assert_eq!(out, json!({"event": {"name": "ada"}, "shout": "ADA!"}));
    let (error, out) = invoke(&lambda, "js-greeter", json!({"action": "raise", "order": 5})).await;
    assert_eq!(error.as_deref(), Some("Unhandled"));
    assert_eq!(out["errorType"], "OrderRejected");
    assert_eq!(out["errorMessage"], "order 5 rejected");
    assert_eq!(out["trace"][0], "OrderRejected: order 5 rejected");
}
