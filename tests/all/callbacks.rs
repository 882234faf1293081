//! Task tokens and activities through `stepbox serve`, driven by aws-sdk-sfn:
//! a component hands its `.waitForTaskToken` token out, the test answers with
//! SendTaskHeartbeat/Success/Failure; activity workers poll GetActivityTask.

use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::{ExecutionStatus, HistoryEventType};
use serde_json::{Value, json};
use stepbox_sandbox::Registry;
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_tests::shared_sandbox;

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";

struct Harness {
    _server: RunningServer,
    sfn: aws_sdk_sfn::Client,
    lambda: aws_sdk_lambda::Client,
    /// The durable store's data directory, kept while the server runs.
    _data: Option<tempfile::TempDir>,
}

/// The store a test's server runs on.
#[derive(Clone, Copy)]
enum On {
    /// `serve --in-memory`.
    Memory,
    /// `serve --data DIR` (the default), in a temporary data directory.
    Durable,
    /// `serve --database-url`, on a PostgreSQL database of its own.
    Postgres,
}

/// A server on the store `on` names.
async fn start(activity_poll: Duration, on: On) -> Harness {
    let registry = Registry::new(shared_sandbox().clone());
    let config = stepbox_server::durable::DurableConfig::default();
    let (mut state, data) = match on {
        On::Durable => {
            let dir = tempfile::tempdir().expect("tempdir");
            let store = stepbox_store::open_dir(dir.path()).expect("open the store");
            (AppState::durable(ServerConfig::default(), registry, store, config), Some(dir))
        }
        On::Postgres => {
            let store = stepbox_store::open_postgres(&crate::postgres::fresh_database()).expect("open the PostgreSQL store");
            (AppState::durable(ServerConfig::default(), registry, store, config), None)
        }
        On::Memory => (AppState::in_memory(ServerConfig::default(), registry), None),
    };
    state.activity_poll = activity_poll;
    state.recover().await.expect("recover");
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    let (sfn, lambda) = (crate::clients::sfn(&endpoint), crate::clients::lambda(&endpoint));
    Harness { _server: server, sfn, lambda, _data: data }
}

/// Declares test body `$name` run on each store (`$name::in_memory`,
/// `$name::durable`, `$name::postgres`), its activity workers
/// long-polling for `$poll`.
macro_rules! on_both_stores {
    ($name:ident, $poll:expr) => {
        mod $name {
            use std::time::Duration;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn in_memory() {
                super::$name(super::start($poll, super::On::Memory).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn durable() {
                super::$name(super::start($poll, super::On::Durable).await).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                super::$name(super::start($poll, super::On::Postgres).await).await
            }
        }
    };
}

async fn create_machine(h: &Harness, name: &str, definition: Value) -> String {
    h.sfn
        .create_state_machine()
        .name(name)
        .definition(definition.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn
}

async fn run(h: &Harness, machine: &str, input: Value) -> String {
    h.sfn.start_execution().state_machine_arn(machine).input(input.to_string()).send().await.expect("StartExecution").execution_arn
}

async fn wait_closed(h: &Harness, arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..500 {
        let d = h.sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if d.status != ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("execution {arn} still running");
}

/// The token the echo component handed out: TaskSubmitted's output is the
/// `lambda:invoke` result, whose Payload is the component's output.
async fn submitted_token(h: &Harness, arn: &str) -> String {
    for _ in 0..500 {
        let history = h.sfn.get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        for e in history.events() {
            if e.r#type == HistoryEventType::TaskSubmitted {
                let out = e.task_submitted_event_details().and_then(|d| d.output()).expect("TaskSubmitted output");
                let v: Value = serde_json::from_str(out).unwrap();
                return v["Payload"]["token"].as_str().expect("token in the payload").to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no TaskSubmitted in {arn}");
}

fn approval_machine() -> Value {
    json!({
        "StartAt": "Ask",
        "States": {"Ask": {
            "Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token", "order.$": "$.order"}},
            "HeartbeatSeconds": 30,
            "End": true
        }}
    })
}

on_both_stores!(send_task_success_failure_and_heartbeat_answer_waiting_tasks, Duration::from_secs(60));
async fn send_task_success_failure_and_heartbeat_answer_waiting_tasks(h: Harness) {
    let echo = stepbox_components::bytes("echo").expect("echo component");
    h.lambda
        .create_function()
        .function_name("echo")
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(FunctionCode::builder().zip_file(Blob::new(echo)).build())
        .send()
        .await
        .expect("CreateFunction");
    let machine = create_machine(&h, "approval", approval_machine()).await;

    let arn = run(&h, &machine, json!({"order": 7})).await;
    let token = submitted_token(&h, &arn).await;
    h.sfn.send_task_heartbeat().task_token(&token).send().await.expect("SendTaskHeartbeat");
    let e = h.sfn.send_task_success().task_token(&token).output("not json").send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidOutput"));
    h.sfn.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("SendTaskSuccess");
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    assert_eq!(serde_json::from_str::<Value>(d.output().unwrap()).unwrap(), json!({"approved": true}));
    // The token is spent.
    let e = h.sfn.send_task_success().task_token(&token).output("{}").send().await.unwrap_err();
    assert_eq!(e.code(), Some("TaskTimedOut"), "{e:?}");
    let e = h.sfn.send_task_heartbeat().task_token("not-a-token").send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidToken"));

    let arn = run(&h, &machine, json!({"order": 8})).await;
    let token = submitted_token(&h, &arn).await;
    h.sfn.send_task_failure().task_token(&token).error("Rejected").cause("too expensive").send().await.expect("SendTaskFailure");
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!((d.error(), d.cause()), (Some("Rejected"), Some("too expensive")));
}

on_both_stores!(activity_workers_poll_and_answer, Duration::from_millis(300));
async fn activity_workers_poll_and_answer(h: Harness) {
    let created = h.sfn.create_activity().name("approve").send().await.expect("CreateActivity");
    let activity = created.activity_arn.clone();
    assert_eq!(activity, "arn:aws:states:us-east-1:111111111111:activity:approve");
    let again = h.sfn.create_activity().name("approve").send().await.expect("CreateActivity is idempotent");
    assert_eq!(again.activity_arn, activity);
    let d = h.sfn.describe_activity().activity_arn(&activity).send().await.expect("DescribeActivity");
    assert_eq!(d.name, "approve");
    let listed = h.sfn.list_activities().send().await.expect("ListActivities");
    assert_eq!(listed.activities().len(), 1);

    // Nothing queued: the long poll ends empty-handed.
    let empty = h.sfn.get_activity_task().activity_arn(&activity).send().await.expect("GetActivityTask");
    assert_eq!(empty.task_token(), None);

    let machine = create_machine(
        &h,
        "with-activity",
        json!({"StartAt": "A", "States": {"A": {"Type": "Task", "Resource": activity, "End": true}}}),
    )
    .await;
    let arn = run(&h, &machine, json!({"order": 9})).await;
    let task = loop {
        let t = h.sfn.get_activity_task().activity_arn(&activity).worker_name("w1").send().await.expect("GetActivityTask");
        if t.task_token().is_some() {
            break t;
        }
    };
    assert_eq!(serde_json::from_str::<Value>(task.input().unwrap()).unwrap(), json!({"order": 9}));
    h.sfn
        .send_task_success()
        .task_token(task.task_token().unwrap())
        .output(r#"{"done":9}"#)
        .send()
        .await
        .expect("SendTaskSuccess");
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let history = h.sfn.get_execution_history().execution_arn(&arn).send().await.unwrap();
    let types: Vec<String> = history.events().iter().map(|e| e.r#type.as_str().to_string()).collect();
    assert_eq!(types[2..5], ["ActivityScheduled", "ActivityStarted", "ActivitySucceeded"]);
    let started = history.events().iter().find_map(|e| e.activity_started_event_details()).unwrap();
    assert_eq!(started.worker_name(), Some("w1"));

    h.sfn.delete_activity().activity_arn(&activity).send().await.expect("DeleteActivity");
    let e = h.sfn.describe_activity().activity_arn(&activity).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ActivityDoesNotExist"));
    // A state naming a deleted activity fails at once.
    let arn = run(&h, &machine, json!({})).await;
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.error(), Some("States.Runtime"));
    assert!(d.cause().unwrap().ends_with(&format!("The activity {activity} does not exist.")));
}

async fn create_function(h: &Harness, name: &str, component: &str) {
    let wasm = stepbox_components::bytes(component).expect("component built by host/components");
    h.lambda
        .create_function()
        .function_name(name)
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(FunctionCode::builder().zip_file(Blob::new(wasm)).build())
        .send()
        .await
        .expect("CreateFunction");
}

fn approval_example() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/approval/approval.asl.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn approval_order() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/approval/order.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

on_both_stores!(approval_example_approves_and_rejects, Duration::from_secs(60));
async fn approval_example_approves_and_rejects(h: Harness) {
    create_function(&h, "transform", "transform").await;
    create_function(&h, "notify-approver", "notify_approver").await;
    let machine = create_machine(&h, "approval", approval_example()).await;

    let arn = run(&h, &machine, approval_order()).await;
    let token = submitted_token_at(&h, &arn, "taskToken").await;
    h.sfn.send_task_success().task_token(&token).output(r#"{"approved":true,"by":"alice"}"#).send().await.unwrap();
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out["status"], "fulfilled");
    assert_eq!(out["approval"], json!({"approved": true, "by": "alice"}));
    assert_eq!(out["total"], json!(576.0));

    let arn = run(&h, &machine, approval_order()).await;
    let token = submitted_token_at(&h, &arn, "taskToken").await;
    h.sfn.send_task_failure().task_token(&token).error("Rejected").cause("over budget").send().await.unwrap();
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Failed);
    assert_eq!((d.error(), d.cause()), (Some("OrderRejected"), Some("over budget")));
}

/// The token under `key` in the payload of the first TaskSubmitted event.
async fn submitted_token_at(h: &Harness, arn: &str, key: &str) -> String {
    for _ in 0..500 {
        let history = h.sfn.get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        if let Some(out) = history
            .events()
            .iter()
            .find(|e| e.r#type == HistoryEventType::TaskSubmitted)
            .and_then(|e| e.task_submitted_event_details())
            .and_then(|d| d.output())
        {
            let v: Value = serde_json::from_str(out).unwrap();
            return v["Payload"][key].as_str().expect("token in the payload").to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no TaskSubmitted in {arn}");
}

on_both_stores!(nested_executions_run_as_server_executions, Duration::from_secs(60));
async fn nested_executions_run_as_server_executions(h: Harness) {
    let child = create_machine(
        &h,
        "child",
        json!({"StartAt": "P", "States": {"P": {"Type": "Pass", "Parameters": {"got.$": "$"}, "End": true}}}),
    )
    .await;
    let parent = create_machine(
        &h,
        "parent",
        json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Name": "kid-1",
                "Input": {"x": 1, "AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID.$": "$$.Execution.Id"}},
            "End": true}}}),
    )
    .await;
    let arn = run(&h, &parent, json!({})).await;
    let d = wait_closed(&h, &arn).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "{d:?}");
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    let child_arn = "arn:aws:states:us-east-1:111111111111:execution:child:kid-1";
    assert_eq!(out["ExecutionArn"], child_arn);
    assert_eq!(out["Output"]["got"]["x"], 1);
    // The child is an ordinary execution, its input naming the parent as AWS's console link does.
    let c = h.sfn.describe_execution().execution_arn(child_arn).send().await.expect("child exists");
    let input: Value = serde_json::from_str(c.input().unwrap()).unwrap();
    assert_eq!(input["AWS_STEP_FUNCTIONS_STARTED_BY_EXECUTION_ID"], json!(arn));

    let missing = create_machine(
        &h,
        "missing-child",
        json!({"StartAt": "S", "States": {"S": {"Type": "Task", "Resource": "arn:aws:states:::states:startExecution",
            "Parameters": {"StateMachineArn": "arn:aws:states:us-east-1:111111111111:stateMachine:nope"}, "End": true}}}),
    )
    .await;
    let d = wait_closed(&h, &run(&h, &missing, json!({})).await).await;
    assert_eq!(d.error(), Some("StepFunctions.StateMachineDoesNotExistException"));
}

#[path = "../../examples/activity-worker/worker.rs"]
mod example_worker;

on_both_stores!(the_example_activity_worker_approves_and_rejects_orders, Duration::from_millis(300));
async fn the_example_activity_worker_approves_and_rejects_orders(h: Harness) {
    let activity = h.sfn.create_activity().name("review-order").send().await.unwrap().activity_arn;
    let machine = create_machine(
        &h,
        "review",
        json!({"StartAt": "Review", "States": {
            "Review": {"Type": "Task", "Resource": activity, "HeartbeatSeconds": 30,
                "Catch": [{"ErrorEquals": ["OrderTooLarge"], "ResultPath": "$.rejected", "Next": "Rejected"}],
                "End": true},
            "Rejected": {"Type": "Pass", "End": true}}}),
    )
    .await;
    let small = run(&h, &machine, json!({"total": 77.4})).await;
    let large = run(&h, &machine, json!({"total": 250})).await;
    let answered = example_worker::work(&h.sfn, &activity, "example", 100.0, Some(2)).await.expect("worker");
    assert_eq!(answered, 2);

    let d = wait_closed(&h, &small).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded);
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out, json!({"approved": true, "total": 77.4, "reviewer": "activity-worker"}));

    let d = wait_closed(&h, &large).await;
    assert_eq!(d.status, ExecutionStatus::Succeeded, "caught by the Catch");
    let out: Value = serde_json::from_str(d.output().unwrap()).unwrap();
    assert_eq!(out["rejected"]["Error"], "OrderTooLarge");
    assert_eq!(out["rejected"]["Cause"], "total 250 is over the limit of 100");
}
