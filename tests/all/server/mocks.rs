//! Step Functions Local's mocked service integrations: a mock configuration
//! file (mocks/MockConfigFile.json, in its documented shape) loaded at
//! start, and executions started on `…:stateMachine:NAME#CASE`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEvent, HistoryEventType, StateMachineType, SyncExecutionStatus};
use serde_json::{Value, json};
use stepbox_mocks::MockConfig;
use stepbox_server::ServerConfig;

use super::{Harness, create_machine, wait_closed};

const MOCK_CONFIG: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/all/server/mocks/MockConfigFile.json");

fn config(wait_time_scale: f64) -> ServerConfig {
    let mocks = MockConfig::load(std::path::Path::new(MOCK_CONFIG)).expect("the test mock configuration is valid");
    ServerConfig { mock_config: Some(Arc::new(mocks)), wait_time_scale, ..ServerConfig::default() }
}

async fn start() -> Harness {
    super::start_with(config(0.0)).await
}

/// Declares a test of body `$name` on every store, with the test mock configuration.
macro_rules! with_mocks {
    ($name:ident) => {
        mod $name {
            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_memory() {
                super::$name(super::start().await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn durable() {
                let (h, _dir) = crate::server::start_durable_with(super::config(0.0)).await;
                super::$name(h).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(crate::server::start_postgres_with(super::config(0.0)).await).await
            }
        }
    };
}

/// A Lambda function (not registered: only its mock answers) retried on
/// throttling, an SQS message, a callback and a Map of DynamoDB writes.
fn order_flow() -> String {
    json!({"StartAt": "Charge", "States": {
        "Charge": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:charge",
            "Retry": [{"ErrorEquals": ["Lambda.TooManyRequestsException"], "IntervalSeconds": 30, "MaxAttempts": 3}],
            "Catch": [{"ErrorEquals": ["Payment.Declined"], "ResultPath": "$.error", "Next": "Refund"}],
            "ResultPath": "$.payment", "Next": "Notify"},
        "Notify": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/111111111111/orders", "MessageBody.$": "$.payment"},
            "ResultPath": "$.message", "Next": "Approve"},
        "Approve": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/111111111111/approvals", "MessageBody": {"TaskToken.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 3600, "ResultPath": "$.approval", "Next": "Ship"},
        "Ship": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2, "ResultPath": "$.packed", "ItemProcessor": {
            "StartAt": "Pack", "States": {"Pack": {"Type": "Task", "Resource": "arn:aws:states:::dynamodb:putItem",
                "Parameters": {"TableName": "parcels", "Item": {"sku": {"S.$": "$.sku"}}}, "End": true}}},
            "End": true},
        "Refund": {"Type": "Pass", "End": true}
    }})
    .to_string()
}

async fn history(h: &Harness, arn: &str) -> Vec<HistoryEvent> {
    h.sfn.get_execution_history().execution_arn(arn).max_results(1000).send().await.expect("history").events().to_vec()
}

fn count(events: &[HistoryEvent], ty: HistoryEventType) -> usize {
    events.iter().filter(|e| *e.r#type() == ty).count()
}

with_mocks!(a_test_case_answers_every_task_with_its_mocked_responses);
async fn a_test_case_answers_every_task_with_its_mocked_responses(h: Harness) {
    let sm = create_machine(&h, "OrderFlow", &order_flow(), StateMachineType::Standard).await;
    let input = json!({"items": [{"sku": "a"}, {"sku": "b"}, {"sku": "c"}]}).to_string();
    let started = h.sfn.start_execution().state_machine_arn(format!("{sm}#HappyPath")).name("happy").input(&input).send().await.unwrap();
    assert_eq!(started.execution_arn(), "arn:aws:states:us-east-1:111111111111:execution:OrderFlow:happy");
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    assert_eq!(done.state_machine_arn(), sm);
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["payment"], json!({"charged": 42, "currency": "EUR"}));
    assert_eq!(output["message"]["MessageId"], "7f3e6a1c-mock");
    assert_eq!(output["approval"], json!({"approved": true, "by": "mock"}));
    assert_eq!(output["packed"], json!([{"packed": true}, {"packed": true}, {"packed": true}]));

    let events = history(&h, started.execution_arn()).await;
    // Two throttled attempts, retried, then the third answers: as Lambda would.
    assert_eq!(count(&events, HistoryEventType::LambdaFunctionScheduled), 3);
    assert_eq!(count(&events, HistoryEventType::LambdaFunctionFailed), 2);
    assert_eq!(count(&events, HistoryEventType::LambdaFunctionSucceeded), 1);
    let failed = events.iter().find(|e| *e.r#type() == HistoryEventType::LambdaFunctionFailed).unwrap();
    let details = failed.lambda_function_failed_event_details().unwrap();
    assert_eq!((details.error(), details.cause()), (Some("Lambda.TooManyRequestsException"), Some("Rate exceeded")));
    // The callback answers at once, after its TaskSubmitted; the SQS and DynamoDB tasks as their integrations.
    let submitted: Vec<_> = events.iter().filter_map(|e| e.task_submitted_event_details()).collect();
    assert_eq!(submitted.len(), 1);
    assert_eq!((submitted[0].resource_type(), submitted[0].resource()), ("sqs", "sendMessage.waitForTaskToken"));
    let succeeded: Vec<_> = events.iter().filter_map(|e| e.task_succeeded_event_details()).collect();
    let of = |r: &str| succeeded.iter().filter(|d| d.resource() == r).count();
    assert_eq!((of("sendMessage"), of("sendMessage.waitForTaskToken"), of("putItem")), (1, 1, 3));
    assert_eq!(count(&events, HistoryEventType::TaskScheduled), 5);
    h.server.shutdown().await.unwrap();
}

with_mocks!(a_mocked_error_reaches_the_catcher);
async fn a_mocked_error_reaches_the_catcher(h: Harness) {
    let sm = create_machine(&h, "OrderFlow", &order_flow(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(format!("{sm}#Declined")).input("{}").send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded);
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["error"], json!({"Error": "Payment.Declined", "Cause": "insufficient funds"}));
    let events = history(&h, started.execution_arn()).await;
    assert!(events.iter().any(|e| e.state_entered_event_details().is_some_and(|d| d.name() == "Refund")));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn test_cases_are_refused_naming_what_is_missing() {
    let h = start().await;
    let sm = create_machine(&h, "OrderFlow", &order_flow(), StateMachineType::Standard).await;
    let refused = |case: &'static str| {
        let (sfn, arn) = (h.sfn.clone(), format!("{sm}#{case}"));
        async move { sfn.start_execution().state_machine_arn(arn).send().await.unwrap_err().into_service_error() }
    };
    let err = refused("Ghost").await;
    assert_eq!(err.code(), Some("ValidationException"));
    assert!(err.message().unwrap().contains("no Task state named: 'NoSuchState'"), "{err:?}");
    let err = refused("Nope").await;
    assert!(err.message().unwrap().contains("no test case 'Nope'") && err.message().unwrap().contains("'HappyPath'"), "{err:?}");
    let other = create_machine(&h, "Unmocked", &order_flow(), StateMachineType::Standard).await;
    let err = h.sfn.start_execution().state_machine_arn(format!("{other}#HappyPath")).send().await.unwrap_err().into_service_error();
    assert!(err.message().unwrap().contains("no state machine 'Unmocked'"), "{err:?}");
    h.server.shutdown().await.unwrap();

    let plain = super::start().await;
    let sm = create_machine(&plain, "OrderFlow", &order_flow(), StateMachineType::Standard).await;
    let err = plain.sfn.start_execution().state_machine_arn(format!("{sm}#HappyPath")).send().await.unwrap_err().into_service_error();
    assert!(err.message().unwrap().contains("--mock-config"), "{err:?}");
    plain.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn start_sync_execution_runs_a_test_case() {
    let h = start().await;
    let quick = json!({"StartAt": "Lookup", "States": {"Lookup": {"Type": "Task",
        "Resource": "arn:aws:states:::dynamodb:getItem", "Parameters": {"TableName": "t", "Key": {"id": {"S": "1"}}}, "End": true}}});
    let sm = create_machine(&h, "Quick", &quick.to_string(), StateMachineType::Express).await;
    let done = h.sfn.start_sync_execution().state_machine_arn(format!("{sm}#Mocked")).send().await.unwrap();
    assert_eq!(*done.status(), SyncExecutionStatus::Succeeded, "{:?}", done.cause());
    assert_eq!(done.state_machine_arn(), Some(sm.as_str()));
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"Item": {"id": {"S": "1"}}}));
    h.server.shutdown().await.unwrap();
}

/// With a wait-time scale of 0, an hour's Wait and three retries 10 minutes
/// apart take no time; the history still shows each state and attempt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wait_time_scale_zero_skips_waits_and_retry_back_offs() {
    let h = start().await;
    let patient = json!({"StartAt": "Hour", "States": {
        "Hour": {"Type": "Wait", "Seconds": 3600, "Next": "Flaky"},
        "Flaky": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "q", "MessageBody": "m"},
            "Retry": [{"ErrorEquals": ["States.ALL"], "IntervalSeconds": 600, "MaxAttempts": 3, "BackoffRate": 2}], "End": true}}});
    let sm = create_machine(&h, "Patient", &patient.to_string(), StateMachineType::Standard).await;
    let began = Instant::now();
    let started = h.sfn.start_execution().state_machine_arn(format!("{sm}#ThreeRetries")).send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert!(began.elapsed() < Duration::from_secs(60), "an hour and 70 minutes of waits took {:?}", began.elapsed());
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?}", done.cause());
    let events = history(&h, started.execution_arn()).await;
    assert_eq!(count(&events, HistoryEventType::WaitStateExited), 1);
    assert_eq!(count(&events, HistoryEventType::TaskFailed), 3);
    assert_eq!(count(&events, HistoryEventType::TaskSucceeded), 1);
    h.server.shutdown().await.unwrap();
}

// An activity no worker serves (it need not even exist) answers at once,
// recorded as scheduled, started and succeeded.
with_mocks!(a_mocked_activity_answers_at_once);
async fn a_mocked_activity_answers_at_once(h: Harness) {
    let worker = json!({"StartAt": "Work", "States": {"Work": {"Type": "Task",
        "Resource": "arn:aws:states:us-east-1:111111111111:activity:packing", "HeartbeatSeconds": 60, "End": true}}});
    let sm = create_machine(&h, "Worker", &worker.to_string(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(format!("{sm}#Mocked")).send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?}", done.cause());
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"packed": true}));
    let types: Vec<HistoryEventType> = history(&h, started.execution_arn()).await.iter().map(|e| e.r#type().clone()).collect();
    let activity: Vec<_> = types.iter().filter(|t| t.as_str().starts_with("Activity")).cloned().collect();
    assert_eq!(activity, [HistoryEventType::ActivityScheduled, HistoryEventType::ActivityStarted, HistoryEventType::ActivitySucceeded]);
    h.server.shutdown().await.unwrap();
}

/// A durable server on `dir` with the test mock configuration, waits at
/// full length, and Waits over a second suspended to timers.
async fn durable_on(dir: &std::path::Path) -> stepbox_server::RunningServer {
    let store = stepbox_store::open_dir(dir).expect("open the store");
    let registry = stepbox_sandbox::Registry::new(stepbox_tests::shared_sandbox().clone());
    let durable = stepbox_server::durable::DurableConfig { suspend_waits_over: Duration::from_secs(1), ..Default::default() };
    let state = stepbox_server::AppState::durable(config(1.0), registry, store, durable);
    state.recover().await.expect("recover");
    stepbox_server::RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts")
}

/// A test case's execution suspended in a Wait when its server stops resumes
/// with the same case after the restart: its next Task still answers with
/// the mock (nothing else could run it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_durable_test_case_resumes_with_its_mocks_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let server = durable_on(dir.path()).await;
    let sfn = crate::clients::sfn(&server.endpoint());
    let sleeper = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 2, "Next": "After"},
        "After": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage", "Parameters": {"QueueUrl": "q", "MessageBody": "m"}, "End": true}}});
    let sm = sfn.create_state_machine().name("Sleeper").definition(sleeper.to_string()).role_arn(super::ROLE).send().await.unwrap();
    let started = sfn.start_execution().state_machine_arn(format!("{}#Mocked", sm.state_machine_arn())).send().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.shutdown().await.unwrap();
    for _ in 0..100 {
        match stepbox_store::open_dir(dir.path()) {
            Ok(s) => {
                drop(s);
                break;
            }
            Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
        }
    }
    tokio::time::sleep(Duration::from_millis(100)).await;

    let server = durable_on(dir.path()).await;
    let sfn = crate::clients::sfn(&server.endpoint());
    let mut done = None;
    for _ in 0..500 {
        let d = sfn.describe_execution().execution_arn(started.execution_arn()).send().await.unwrap();
        if *d.status() != ExecutionStatus::Running {
            done = Some(d);
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let done = done.expect("the execution finishes after the restart");
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"packed": true}));
    server.shutdown().await.unwrap();
}

/// `NAME:VERSION#CASE` runs the version with the case.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_version_runs_a_test_case() {
    let h = start().await;
    let sm = create_machine(&h, "OrderFlow", &order_flow(), StateMachineType::Standard).await;
    let version = h.sfn.publish_state_machine_version().state_machine_arn(&sm).send().await.unwrap();
    let arn = format!("{}#Declined", version.state_machine_version_arn());
    let started = h.sfn.start_execution().state_machine_arn(arn).send().await.unwrap();
    let done = wait_closed(&h, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded);
    assert_eq!(done.state_machine_version_arn(), Some(version.state_machine_version_arn()));
    let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(output["error"]["Error"], "Payment.Declined");
    h.server.shutdown().await.unwrap();
}
