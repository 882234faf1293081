//! Two tenants on one server: each in its own account, seeing only its own
//! state machines, executions, activities and task tokens; another's ARN is
//! AccessDeniedException (map runs included), another's task token InvalidToken.

use std::time::Duration;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::json;

use super::ROLE;
use super::tenants::{ACME, GLOBEX, TENANTS, start_tenants};
use crate::clients;

const PASS: &str = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;

async fn create(sfn: &aws_sdk_sfn::Client, name: &str, definition: &str) -> String {
    let out = sfn.create_state_machine().name(name).definition(definition).role_arn(ROLE).send().await;
    out.expect("CreateStateMachine").state_machine_arn().to_string()
}

async fn closed(sfn: &aws_sdk_sfn::Client, arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    for _ in 0..500 {
        let d = sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if *d.status() != ExecutionStatus::Running {
            return d;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} still running after 10 s");
}

fn denied<E: ProvideErrorMetadata + std::fmt::Debug>(r: Result<impl std::fmt::Debug, E>) {
    let e = r.expect_err("another tenant's resource");
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_tenant_has_its_own_account_and_sees_only_its_own() {
    let (server, _) = start_tenants(TENANTS).await;
    let (acme, globex) = (clients::sfn_as(&server.endpoint(), ACME), clients::sfn_as(&server.endpoint(), GLOBEX));
    let a = create(&acme, "flow", PASS).await;
    let g = create(&globex, "flow", PASS).await;
    assert_eq!(a, "arn:aws:states:us-east-1:111111111111:stateMachine:flow");
    assert_eq!(g, "arn:aws:states:us-east-1:222222222222:stateMachine:flow", "the same name in another account");
    let activity = acme.create_activity().name("work").send().await.unwrap().activity_arn().to_string();
    assert!(activity.contains(":111111111111:activity:work"), "{activity}");
    for (client, own) in [(&acme, &a), (&globex, &g)] {
        let listed = client.list_state_machines().send().await.unwrap();
        let arns: Vec<&str> = listed.state_machines().iter().map(|m| m.state_machine_arn()).collect();
        assert_eq!(arns, vec![own.as_str()]);
    }
    assert_eq!(acme.list_activities().send().await.unwrap().activities().len(), 1);
    assert!(globex.list_activities().send().await.unwrap().activities().is_empty());
    let started = acme.start_execution().state_machine_arn(&a).name("run").send().await.unwrap();
    assert_eq!(started.execution_arn(), "arn:aws:states:us-east-1:111111111111:execution:flow:run");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_arns_are_access_denied() {
    let (server, _) = start_tenants(TENANTS).await;
    let (acme, globex) = (clients::sfn_as(&server.endpoint(), ACME), clients::sfn_as(&server.endpoint(), GLOBEX));
    let wait = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}"#;
    let a = create(&acme, "slow", wait).await;
    let run = acme.start_execution().state_machine_arn(&a).send().await.unwrap().execution_arn().to_string();
    denied(globex.describe_state_machine().state_machine_arn(&a).send().await);
    denied(globex.start_execution().state_machine_arn(&a).send().await);
    denied(globex.list_executions().state_machine_arn(&a).send().await);
    denied(globex.describe_execution().execution_arn(&run).send().await);
    denied(globex.get_execution_history().execution_arn(&run).send().await);
    denied(globex.stop_execution().execution_arn(&run).send().await);
    denied(globex.tag_resource().resource_arn(&a).tags(aws_sdk_sfn::types::Tag::builder().key("k").value("v").build()).send().await);
    denied(globex.delete_state_machine().state_machine_arn(&a).send().await);
    let e = globex.start_sync_execution().state_machine_arn(&a).send().await.unwrap_err();
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    let message = e.message().unwrap_or_default();
    assert!(message.contains("arn:aws:iam::222222222222:root is not authorized to perform: states:StartSyncExecution"), "{message}");
    acme.describe_state_machine().state_machine_arn(&a).send().await.expect("still there for its owner");
    let d = acme.describe_execution().execution_arn(&run).send().await.unwrap();
    assert_eq!(*d.status(), ExecutionStatus::Running, "globex's StopExecution stopped nothing");
    acme.stop_execution().execution_arn(&run).send().await.expect("its owner stops it");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_task_token_is_invalid_and_children_stay_in_their_account() {
    let (server, _) = start_tenants(TENANTS).await;
    let (acme, globex) = (clients::sfn_as(&server.endpoint(), ACME), clients::sfn_as(&server.endpoint(), GLOBEX));
    let activity = acme.create_activity().name("work").send().await.unwrap().activity_arn().to_string();
    let worked = json!({"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": true}}});
    let a = create(&acme, "worked", &worked.to_string()).await;
    let run = acme.start_execution().state_machine_arn(&a).send().await.unwrap().execution_arn().to_string();
    denied(globex.get_activity_task().activity_arn(&activity).send().await);
    let task = acme.get_activity_task().activity_arn(&activity).send().await.unwrap();
    let token = task.task_token().expect("a task").to_string();
    let e = globex.send_task_success().task_token(&token).output("{}").send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidToken"), "{e:?}");
    let e = globex.send_task_heartbeat().task_token(&token).send().await.unwrap_err();
    assert_eq!(e.code(), Some("InvalidToken"), "{e:?}");
    acme.send_task_success().task_token(&token).output(r#"{"done": true}"#).send().await.expect("its owner answers");
    assert_eq!(*closed(&acme, &run).await.status(), ExecutionStatus::Succeeded);

    let borrowed = json!({"StartAt": "P", "States": {"P": {"Type": "Parallel", "End": true, "Branches": [
        {"StartAt": "T", "States": {"T": {"Type": "Task", "Resource": activity, "End": true}}}]}}});
    let e = globex.create_state_machine().name("borrow").definition(borrowed.to_string()).role_arn(ROLE).send().await;
    let e = e.expect_err("another account's activity in a definition");
    assert_eq!(e.code(), Some("AccessDeniedException"), "{e:?}");
    let g = create(&globex, "theirs", PASS).await;
    denied(globex.update_state_machine().state_machine_arn(&g).definition(borrowed.to_string()).send().await);
    let parent = json!({"StartAt": "C", "States": {"C": {
        "Type": "Task", "Resource": "arn:aws:states:::states:startExecution.sync:2",
        "Parameters": {"StateMachineArn": g}, "End": true}}});
    let p = create(&acme, "parent", &parent.to_string()).await;
    let run = acme.start_execution().state_machine_arn(&p).send().await.unwrap().execution_arn().to_string();
    let d = closed(&acme, &run).await;
    assert_eq!(*d.status(), ExecutionStatus::Failed);
    assert_eq!(d.error(), Some("StepFunctions.AccessDeniedException"), "{d:?}");
    let listed = globex.list_executions().state_machine_arn(&g).send().await.unwrap();
    assert!(listed.executions().is_empty(), "no child started in globex's account");
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn functions_are_their_tenants_own_for_the_api_and_for_tasks() {
    let (server, _) = start_tenants(TENANTS).await;
    let endpoint = server.endpoint();
    let (acme_fn, globex_fn) = (clients::lambda_as(&endpoint, ACME), clients::lambda_as(&endpoint, GLOBEX));
    let created = acme_fn
        .create_function()
        .function_name("work")
        .role(ROLE)
        .runtime(aws_sdk_lambda::types::Runtime::Providedal2023)
        .handler("component")
        .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(super::component("processed"))).build())
        .send()
        .await
        .expect("CreateFunction");
    assert_eq!(created.function_arn(), Some("arn:aws:lambda:us-east-1:111111111111:function:work"));
    let not_found = |e: &dyn aws_sdk_lambda::error::ProvideErrorMetadata| assert_eq!(e.code(), Some("ResourceNotFoundException"));
    not_found(&globex_fn.get_function().function_name("work").send().await.unwrap_err());
    not_found(&globex_fn.invoke().function_name("work").send().await.unwrap_err());
    not_found(&globex_fn.delete_function().function_name("work").send().await.unwrap_err());
    not_found(&globex_fn.get_function_configuration().function_name("work").send().await.unwrap_err());
    assert!(globex_fn.list_functions().send().await.unwrap().functions().is_empty());
    assert_eq!(acme_fn.list_functions().send().await.unwrap().functions().len(), 1);
    acme_fn.invoke().function_name("work").payload(aws_sdk_lambda::primitives::Blob::new(r#"{"n": 1}"#)).send().await.expect("its own");

    let task = |account: &str| {
        json!({"StartAt": "T", "States": {"T": {"Type": "Task",
            "Resource": format!("arn:aws:lambda:us-east-1:{account}:function:work"), "End": true}}})
        .to_string()
    };
    let (acme, globex) = (clients::sfn_as(&endpoint, ACME), clients::sfn_as(&endpoint, GLOBEX));
    for (client, account) in [(&globex, "111111111111"), (&globex, "222222222222")] {
        let m = create(client, &format!("borrow-{account}"), &task(account)).await;
        let run = client.start_execution().state_machine_arn(&m).input(r#"{"n": 1}"#).send().await.unwrap();
        let d = closed(client, run.execution_arn()).await;
        assert_eq!(d.error(), Some("Lambda.ResourceNotFoundException"), "{d:?}");
        let cause = d.cause().unwrap_or_default();
        assert!(cause.contains("arn:aws:lambda:us-east-1:222222222222:function:work"), "{cause}");
        assert!(!cause.contains("111111111111"), "the error names only globex's own account: {cause}");
    }
    let m = create(&acme, "own", &task("111111111111")).await;
    let run = acme.start_execution().state_machine_arn(&m).input(r#"{"n": 1}"#).send().await.unwrap();
    assert_eq!(*closed(&acme, run.execution_arn()).await.status(), ExecutionStatus::Succeeded);
    server.shutdown().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn another_tenants_map_runs_are_access_denied() {
    let (server, _) = start_tenants(TENANTS).await;
    let (acme, globex) = (clients::sfn_as(&server.endpoint(), ACME), clients::sfn_as(&server.endpoint(), GLOBEX));
    let fan = json!({"StartAt": "Fan", "States": {"Fan": {"Type": "Map", "Label": "Each", "MaxConcurrency": 1,
        "ItemProcessor": {"ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}},
        "End": true}}});
    let a = create(&acme, "fan", &fan.to_string()).await;
    let parent = acme.start_execution().state_machine_arn(&a).input("[1, 2]").send().await.unwrap();
    let parent = parent.execution_arn().to_string();
    let mut run = None;
    for _ in 0..500 {
        let runs = acme.list_map_runs().execution_arn(&parent).send().await.expect("ListMapRuns");
        if let Some(r) = runs.map_runs().first() {
            run = Some(r.map_run_arn().to_string());
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let run = run.expect("a map run started");
    assert!(run.starts_with("arn:aws:states:us-east-1:111111111111:mapRun:fan/Each:"), "{run}");

    denied(globex.describe_map_run().map_run_arn(&run).send().await);
    denied(globex.list_map_runs().execution_arn(&parent).send().await);
    denied(globex.update_map_run().map_run_arn(&run).max_concurrency(5).send().await);
    denied(globex.list_executions().map_run_arn(&run).send().await);
    let e = globex.describe_map_run().map_run_arn(&run).send().await.unwrap_err();
    let message = e.message().unwrap_or_default();
    assert!(message.contains("arn:aws:iam::222222222222:root is not authorized to perform: states:DescribeMapRun"), "{message}");
    // The same run named in globex's own account is one that does not exist there.
    let mirrored = run.replace(":111111111111:", ":222222222222:");
    let e = globex.describe_map_run().map_run_arn(&mirrored).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"), "{e:?}");
    let e = globex.update_map_run().map_run_arn(&mirrored).max_concurrency(5).send().await.unwrap_err();
    assert_eq!(e.code(), Some("ResourceNotFound"), "{e:?}");

    let d = acme.describe_map_run().map_run_arn(&run).send().await.expect("its owner describes it");
    assert_eq!(d.max_concurrency(), 1, "globex's UpdateMapRun changed nothing");
    let children = acme.list_executions().map_run_arn(&run).send().await.unwrap();
    assert!(children.executions().iter().all(|c| c.execution_arn().contains(":111111111111:")), "{children:?}");
    acme.stop_execution().execution_arn(&parent).send().await.expect("its owner stops it");
    server.shutdown().await.unwrap();
}
