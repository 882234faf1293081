//! Service integrations bound to functions (`serve --bind`), and the error
//! of one nothing provides.

use aws_sdk_sfn::types::{ExecutionStatus, StateMachineType};
use serde_json::{Value, json};
use stepbox_invoker::Bindings;
use stepbox_server::ServerConfig;

use super::{Harness, create_function, create_machine, wait_closed};

async fn start() -> Harness {
    let bindings = Bindings::parse(&["sqs:sendMessage=echo", "arn:aws:states:::aws-sdk:dynamodb:putItem=raise", "sns:publish=gone"])
        .expect("valid bindings");
    let h = super::start_with(ServerConfig { bindings, ..ServerConfig::default() }).await;
    create_function(&h, "echo", "echo").await;
    create_function(&h, "raise", "lambda_raise_custom").await;
    h
}

async fn run(h: &Harness, name: &str, definition: Value, input: Value) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let sm = create_machine(h, name, &definition.to_string(), StateMachineType::Standard).await;
    let started = h.sfn.start_execution().state_machine_arn(sm).input(input.to_string()).send().await.unwrap();
    wait_closed(h, started.execution_arn()).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bound_integrations_run_their_functions() {
    let h = start().await;
    let definition = json!({"StartAt": "Send", "States": {
        "Send": {"Type": "Task", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/111111111111/q", "MessageBody.$": "$.m"},
            "ResultPath": "$.sent", "Next": "Put"},
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:dynamodb:putItem",
            "Parameters": {"TableName": "t", "Item": {"id": {"S": "1"}}},
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "Again"}], "End": true},
        "Again": {"Type": "Task", "QueryLanguage": "JSONata", "Resource": "arn:aws:states:::sqs:sendMessage",
            "Arguments": {"QueueUrl": "q2", "MessageBody": "{% $states.input.m %}"},
            "Output": {"sent": "{% $states.input.sent %}", "error": "{% $states.input.error %}", "again": "{% $states.result %}"},
            "End": true}}});
    let done = run(&h, "bound", definition, json!({"m": "hello"})).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(
        out["sent"],
        json!({"Resource": "arn:aws:states:::sqs:sendMessage",
               "Parameters": {"QueueUrl": "https://sqs.us-east-1.amazonaws.com/111111111111/q", "MessageBody": "hello"}})
    );
    // The function's error is the state's, its cause as is (no Lambda envelope).
    assert_eq!(out["error"], json!({"Error": "CustomException", "Cause": ""}));
    assert_eq!(out["again"], json!({"Resource": "arn:aws:states:::sqs:sendMessage", "Arguments": {"QueueUrl": "q2", "MessageBody": "hello"}}));
    h.server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unprovided_integration_fails_naming_the_ways_to_provide_it() {
    let h = start().await;
    let task = |resource: &str| json!({"StartAt": "Call", "States": {"Call": {"Type": "Task", "Resource": resource,
        "Retry": [{"ErrorEquals": ["States.ALL"], "MaxAttempts": 3}], "End": true}}});
    let done = run(&h, "unprovided", task("arn:aws:states:::events:putEvents"), json!({})).await;
    assert_eq!(*done.status(), ExecutionStatus::Failed);
    assert_eq!(done.error(), Some("States.Runtime"));
    let cause = done.cause().unwrap();
    for part in ["'arn:aws:states:::events:putEvents'", "--mock-config", "--bind arn:aws:states:::events:putEvents=FUNCTION", "built-in"] {
        assert!(cause.contains(part), "{cause}");
    }
    let done = run(&h, "missing", task("arn:aws:states:::sns:publish"), json!({})).await;
    assert_eq!(done.error(), Some("States.Runtime"));
    assert!(done.cause().unwrap().contains("bound to function 'gone', which does not exist"), "{:?}", done.cause());
    h.server.shutdown().await.unwrap();
}

/// `--buckets DIR`: the built-in S3 integrations write and read DIR/BUCKET/KEY.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn built_in_s3_integrations_use_the_bucket_directory() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("reports")).unwrap();
    let h = super::start_with(ServerConfig { buckets: Some(dir.path().to_path_buf()), ..ServerConfig::default() }).await;
    let definition = json!({"StartAt": "Put", "States": {
        "Put": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:putObject",
            "Parameters": {"Bucket": "reports", "Key": "2025/summary.json", "Body.$": "$.summary"}, "ResultPath": "$.put", "Next": "Get"},
        "Get": {"Type": "Task", "Resource": "arn:aws:states:::s3:getObject",
            "Parameters": {"Bucket": "reports", "Key": "2025/summary.json"}, "ResultPath": "$.got", "Next": "Missing"},
        "Missing": {"Type": "Task", "Resource": "arn:aws:states:::aws-sdk:s3:getObject",
            "Parameters": {"Bucket": "reports", "Key": "nope"},
            "Catch": [{"ErrorEquals": ["S3.NoSuchKeyException"], "ResultPath": "$.missing", "Next": "Done"}], "End": true},
        "Done": {"Type": "Pass", "End": true}}});
    let done = run(&h, "s3", definition, json!({"summary": {"total": 3}})).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{:?} {:?}", done.error(), done.cause());
    assert_eq!(std::fs::read_to_string(dir.path().join("reports/2025/summary.json")).unwrap(), r#"{"total":3}"#);
    let out: Value = serde_json::from_str(done.output().unwrap()).unwrap();
    assert_eq!(out["got"]["Body"], r#"{"total":3}"#);
    assert_eq!(out["got"]["ContentLength"], 11);
    assert_eq!(out["got"]["ETag"], out["put"]["ETag"]);
    assert_eq!(out["missing"]["Error"], "S3.NoSuchKeyException");
    h.server.shutdown().await.unwrap();

    // Without --buckets, S3 is one more unprovided integration.
    let h = super::start().await;
    let get = json!({"StartAt": "Get", "States": {"Get": {"Type": "Task", "Resource": "arn:aws:states:::s3:getObject",
        "Parameters": {"Bucket": "reports", "Key": "k"}, "End": true}}});
    let done = run(&h, "nobuckets", get, json!({})).await;
    assert_eq!(done.error(), Some("States.Runtime"));
    assert!(done.cause().unwrap().contains("--buckets DIR"), "{:?}", done.cause());
    h.server.shutdown().await.unwrap();
}
