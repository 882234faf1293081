//! The embedded store after a crash: an answer to a valid task token that
//! arrives before the resumed task waits on it again reaches the task (AWS
//! accepts a valid outstanding token), instead of TaskDoesNotExist.

use super::*;

/// The token a `.waitForTaskToken` Task of execution `arn` handed out.
async fn token_of(h: &Harness, arn: &str) -> String {
    for _ in 0..500 {
        let history = h.sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        let submitted = history.events().iter().find_map(|e| e.task_submitted_event_details()).and_then(|d| d.output());
        if let Some(submitted) = submitted {
            return serde_json::from_str::<Value>(submitted).unwrap()["Payload"]["token"].as_str().unwrap().to_string();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("{arn} handed out no token");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_after_a_crash_before_the_resumed_task_waits_reaches_it() {
    let (h, dir) = start_durable().await;
    create_function(&h, "echo", "echo").await;
    let definition = json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}},
        "HeartbeatSeconds": 600, "End": true}}});
    let sm = create_machine(&h, "approve", &definition.to_string(), StateMachineType::Standard).await;
    let waiting = h.sfn.start_execution().state_machine_arn(&sm).input("{}").send().await.unwrap().execution_arn().to_string();
    let other = h.sfn.start_execution().state_machine_arn(&sm).input("{}").send().await.unwrap().execution_arn().to_string();
    let (token, other_token) = (token_of(&h, &waiting).await, token_of(&h, &other).await);
    // Its checkpoint (waiting on the token) is committed; the data
    // directory as it is now is what a crash leaves.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let crashed = tempfile::tempdir().unwrap();
    for entry in std::fs::read_dir(dir.path()).unwrap() {
        let path = entry.unwrap().path();
        if path.is_file() {
            std::fs::copy(&path, crashed.path().join(path.file_name().unwrap())).unwrap();
        }
    }
    h.server.shutdown().await.unwrap();

    // Serving before its executions resume: the tasks do not wait yet.
    let store = stepbox_store::open_dir(crashed.path()).expect("open the crashed data directory");
    let state = AppState::durable(ServerConfig::default(), Registry::new(shared_sandbox().clone()), store, stepbox_server::durable::DurableConfig::default());
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone()).await.expect("server starts");
    let (sfn, lambda) = (crate::clients::sfn(&server.endpoint()), crate::clients::lambda(&server.endpoint()));
    sfn.send_task_heartbeat().task_token(&token).send().await.expect("a heartbeat of the valid token");
    sfn.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("the valid token is answered");
    sfn.send_task_heartbeat().task_token(&token).send().await.expect("a heartbeat after the answer");
    let forged = stepbox_engine::TaskToken::new(&other, "Elsewhere");
    let refused = sfn.send_task_success().task_token(&forged).output("{}").send().await.expect_err("never handed out");
    assert_eq!(refused.into_service_error().code(), Some("TaskDoesNotExist"));
    sfn.send_task_failure().task_token(&other_token).error("Rejected").send().await.expect("the other valid token");

    state.recover().await.expect("recover");
    let h = Harness { server, sfn, lambda };
    let done = wait_closed(&h, &waiting).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"approved": true}));
    let failed = wait_closed(&h, &other).await;
    assert_eq!(*failed.status(), ExecutionStatus::Failed, "{failed:?}");
    assert_eq!(failed.error(), Some("Rejected"));
    h.server.shutdown().await.unwrap();
}
