//! `serve --in-memory` keeps its store within a budget: past it, the oldest
//! closed executions go, and answer as AWS does for executions past their
//! retention period.

use std::sync::Arc;

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use stepbox_server::durable::DurableConfig;
use stepbox_server::{AppState, RunningServer, ServerConfig};

use super::{Harness, ROLE, wait_closed};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_in_memory_server_over_its_budget_forgets_its_oldest_closed_executions() {
    let store = Arc::new(stepbox_store::Store::memory_with_budget(48 << 10));
    let registry = stepbox_sandbox::Registry::new(stepbox_tests::shared_sandbox().clone());
    let state = AppState::new(ServerConfig::default(), registry, store, DurableConfig::default());
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.unwrap();
    let endpoint = server.endpoint();
    let h = Harness { server, sfn: crate::clients::sfn(&endpoint), lambda: crate::clients::lambda(&endpoint) };
    let wait = r#"{"StartAt": "W", "States": {"W": {"Type": "Wait", "Seconds": 30, "End": true}}}"#;
    let pass = r#"{"StartAt": "P", "States": {"P": {"Type": "Pass", "End": true}}}"#;
    let create = |name: &'static str, definition: &'static str| {
        h.sfn.create_state_machine().name(name).definition(definition).role_arn(ROLE).send()
    };
    let (waiting, quick) = (create("waiting", wait).await.unwrap(), create("quick", pass).await.unwrap());
    // The oldest execution still runs (on a timer): it is never evicted.
    let sleeper = h.sfn.start_execution().state_machine_arn(waiting.state_machine_arn()).name("sleeper").send().await.unwrap();
    let mut arns = Vec::new();
    for i in 0..150 {
        let run = h.sfn.start_execution().state_machine_arn(quick.state_machine_arn()).name(format!("q{i}")).send().await.unwrap();
        wait_closed(&h, run.execution_arn()).await;
        arns.push(run.execution_arn().to_string());
    }
    let e = h.sfn.describe_execution().execution_arn(&arns[0]).send().await.expect_err("evicted");
    assert_eq!(e.code(), Some("ExecutionDoesNotExist"), "{e:?}");
    let e = h.sfn.get_execution_history().execution_arn(&arns[0]).send().await.expect_err("evicted");
    assert_eq!(e.code(), Some("ExecutionDoesNotExist"), "{e:?}");
    let last = h.sfn.describe_execution().execution_arn(arns.last().unwrap()).send().await.unwrap();
    assert_eq!(last.status(), &ExecutionStatus::Succeeded);
    let history = h.sfn.get_execution_history().execution_arn(arns.last().unwrap()).send().await.unwrap();
    assert!(!history.events().is_empty());
    let running = h.sfn.describe_execution().execution_arn(sleeper.execution_arn()).send().await.unwrap();
    assert_eq!(running.status(), &ExecutionStatus::Running);
    let listed = h.sfn.list_executions().state_machine_arn(quick.state_machine_arn()).max_results(1000).send().await.unwrap();
    assert!(listed.executions().len() < 150, "{} still listed", listed.executions().len());
    h.server.shutdown().await.unwrap();
}
