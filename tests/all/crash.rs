//! Crash recovery: a real `stepbox serve --data DIR` process runs 1,000
//! Standard executions (Wait, Task, Map, Parallel), is killed with SIGKILL
//! mid-flight and restarted on the same directory; every execution must then
//! finish with the right status and output, and a history AWS's rules accept.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sfn::error::ProvideErrorMetadata;
use aws_sdk_sfn::types::ExecutionStatus;
use serde_json::{Value, json};

mod distributed_map;
mod inline_fan;

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";
const ECHO: &str = "arn:aws:lambda:us-east-1:111111111111:function:echo";
const PER_KIND: usize = 250;

/// A `stepbox serve` child process and its endpoint.
struct Server {
    child: Child,
    endpoint: String,
    /// The second line `serve` printed: where its data is, what it resumed.
    data_line: String,
}

/// A failing assertion must not leave a server process behind.
impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &Path, functions: &Path, log: &Path) -> Server {
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
        .expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .args([
            "serve",
            "--addr",
            "127.0.0.1:0",
            "--suspend-waits-over",
            "1",
            "--log",
            "info",
        ])
        .arg("--data")
        .arg(data)
        .arg("--functions")
        .arg(functions)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn stepbox serve");
    let (mut line, mut data_line) = (String::new(), String::new());
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut line).expect("read the listening line");
    stdout.read_line(&mut data_line).expect("read the data line");
    let endpoint = line
        .trim()
        .strip_prefix("stepbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from stepbox serve: {line:?}"))
        .to_string();
    Server { child, endpoint, data_line: data_line.trim().to_string() }
}

/// The four workflows, each with its expected output for input number `n`.
pub(crate) fn machines() -> Vec<(&'static str, Value)> {
    let echo_task = |next: Value| {
        let mut t = json!({"Type": "Task", "Resource": ECHO});
        t.as_object_mut()
            .unwrap()
            .extend(next.as_object().unwrap().clone());
        t
    };
    vec![
        (
            "wait",
            json!({"StartAt": "Remember", "States": {
                "Remember": {"Type": "Pass", "Assign": {"m.$": "$.n"}, "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
                "Done": {"Type": "Pass", "Parameters": {"n.$": "$m", "kind": "wait"}, "End": true}
            }}),
        ),
        (
            "task",
            // States that cannot wait run without checkpoints: a kill inside
            // either chain re-runs it from the last checkpoint (none, or Again's).
            json!({"StartAt": "Work", "States": {
                "Work": echo_task(json!({"Parameters": {"n.$": "$.n", "kind": "task"}, "Next": "Shape"})),
                "Shape": {"Type": "Pass", "Assign": {"seen.$": "$.n"}, "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 2, "Next": "Again"},
                "Again": echo_task(json!({"Next": "Tidy"})),
                "Tidy": {"Type": "Pass", "Parameters": {"n.$": "$seen", "kind.$": "$.kind"}, "Next": "Check"},
                "Check": {"Type": "Choice", "Choices": [
                    {"Variable": "$.kind", "StringEquals": "task", "Next": "Done"}], "Default": "Wrong"},
                "Done": {"Type": "Succeed"},
                "Wrong": {"Type": "Fail", "Error": "WrongKind"}
            }}),
        ),
        (
            "map",
            json!({"StartAt": "Each", "States": {
                "Each": {"Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 2,
                    "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"}, "StartAt": "E",
                        "States": {"E": echo_task(json!({"End": true}))}},
                    "Next": "Nap"},
                "Nap": {"Type": "Wait", "Seconds": 2, "End": true}
            }}),
        ),
        (
            "parallel",
            json!({"StartAt": "Both", "States": {
                "Both": {"Type": "Parallel", "End": true, "Branches": [
                    {"StartAt": "T", "States": {"T": echo_task(json!({"End": true}))}},
                    {"StartAt": "W", "States": {
                        "W": {"Type": "Wait", "Seconds": 2, "Next": "P"},
                        "P": {"Type": "Pass", "Result": "waited", "End": true}}}
                ]}
            }}),
        ),
    ]
}

pub(crate) fn input(n: usize) -> Value {
    json!({"n": n, "items": [n, n + 1, n + 2]})
}

pub(crate) fn expected(kind: &str, n: usize) -> Value {
    match kind {
        "wait" => json!({"n": n, "kind": "wait"}),
        "task" => json!({"n": n, "kind": "task"}),
        "map" => json!([n, n + 1, n + 2]),
        "parallel" => json!([input(n), "waited"]),
        _ => unreachable!(),
    }
}

pub(crate) async fn count_running(sfn: &aws_sdk_sfn::Client, arns: &[String]) -> usize {
    let mut running = 0;
    for arn in arns {
        let mut pages = sfn
            .list_executions()
            .state_machine_arn(arn)
            .status_filter(ExecutionStatus::Running)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            running += page.expect("ListExecutions").executions().len();
        }
    }
    running
}

/// Unique ids 1..=n, each previousEventId an earlier event, one terminal event, last.
pub(crate) fn check_history(arn: &str, events: &[aws_sdk_sfn::types::HistoryEvent]) {
    use aws_sdk_sfn::types::HistoryEventType as T;
    let ids: Vec<i64> = events.iter().map(|e| e.id()).collect();
    assert_eq!(
        ids,
        (1..=events.len() as i64).collect::<Vec<_>>(),
        "{arn}: ids"
    );
    for e in events {
        assert!(
            e.previous_event_id() < e.id(),
            "{arn}: event {} points forward",
            e.id()
        );
    }
    assert_eq!(
        events.first().map(|e| e.r#type()),
        Some(&T::ExecutionStarted),
        "{arn}"
    );
    let terminal = |t: &T| {
        matches!(
            t,
            T::ExecutionSucceeded | T::ExecutionFailed | T::ExecutionTimedOut | T::ExecutionAborted
        )
    };
    assert_eq!(
        events.iter().filter(|e| terminal(e.r#type())).count(),
        1,
        "{arn}: one terminal event"
    );
    // A Map or Parallel resumed after the kill reuses its recorded …StateStarted.
    for started in [T::MapStateStarted, T::ParallelStateStarted] {
        assert!(
            events.iter().filter(|e| *e.r#type() == started).count() <= 1,
            "{arn}: one {started:?}"
        );
    }
    assert_eq!(
        events.last().map(|e| e.r#type()),
        Some(&T::ExecutionSucceeded),
        "{arn}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_server_resumes_every_standard_execution() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, functions, log) = (
        tmp.path().join("data"),
        tmp.path().join("functions"),
        tmp.path().join("serve.log"),
    );
    stepbox_components::export_to(&functions).unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);

    let mut machine_arns = Vec::new();
    for (name, definition) in machines() {
        let out = sfn
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn(ROLE)
            .send()
            .await
            .expect("CreateStateMachine");
        machine_arns.push((name, out.state_machine_arn().to_string()));
    }

    // Start 1,000 executions, 32 requests at a time.
    let mut started: Vec<(String, &str, usize)> = Vec::new();
    let jobs: Vec<(&str, String, usize)> = machine_arns
        .iter()
        .flat_map(|(kind, arn)| (0..PER_KIND).map(move |n| (*kind, arn.clone(), n)))
        .collect();
    for chunk in jobs.chunks(32) {
        let mut set = tokio::task::JoinSet::new();
        for (kind, arn, n) in chunk.iter().cloned() {
            let sfn = sfn.clone();
            set.spawn(async move {
                let out = sfn
                    .start_execution()
                    .state_machine_arn(arn)
                    .name(format!("{kind}-{n}"))
                    .input(input(n).to_string())
                    .send()
                    .await
                    .expect("StartExecution");
                (out.execution_arn().to_string(), kind, n)
            });
        }
        while let Some(r) = set.join_next().await {
            started.push(r.unwrap());
        }
    }
    assert_eq!(started.len(), 4 * PER_KIND);

    let sm_arns: Vec<String> = machine_arns.iter().map(|(_, a)| a.clone()).collect();
    let running_at_kill = count_running(&sfn, &sm_arns).await;
    server.child.kill().expect("kill -9"); // SIGKILL: no shutdown path runs
    server.child.wait().unwrap();
    assert!(
        running_at_kill > 0,
        "the crash must come mid-flight ({running_at_kill} running)"
    );
    // The `--functions` components' artifacts were kept in the data directory.
    let mut exported: Vec<String> = std::fs::read_dir(&functions)
        .unwrap()
        .map(|e| std::fs::read(e.unwrap().path()).unwrap())
        .map(|wasm| stepbox_sandbox::wasm_sha256(&wasm))
        .collect();
    exported.sort();
    exported.dedup();
    let store = stepbox_store::open_dir(&data).expect("the killed server's store opens");
    let stored: Vec<String> = store
        .artifact_keys()
        .unwrap()
        .into_iter()
        .map(|key| key.split('-').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(stored, exported, "one stored artifact per component");
    drop(store);
    wait_released(&data).await;

    let mut server = serve(&data, &functions, &log);
    // The restart says where its data is and how many executions it resumed.
    let resumed: usize = server
        .data_line
        .strip_prefix(&format!("data: {} (", data.display()))
        .and_then(|rest| rest.strip_suffix(" running executions resumed)").or_else(|| rest.strip_suffix(" running execution resumed)")))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("unexpected second line from stepbox serve: {:?}", server.data_line));
    assert!(resumed > 0, "{}", server.data_line);
    let sfn = crate::clients::sfn(&server.endpoint);
    let deadline = Instant::now() + Duration::from_secs(240);
    loop {
        let running = count_running(&sfn, &sm_arns).await;
        if running == 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "{running} executions still RUNNING after the restart"
        );
        tokio::time::sleep(Duration::from_millis(250)).await;
    }

    for (arn, kind, n) in &started {
        let d = sfn
            .describe_execution()
            .execution_arn(arn)
            .send()
            .await
            .expect("DescribeExecution");
        assert_eq!(
            d.status(),
            &ExecutionStatus::Succeeded,
            "{arn}: {:?} {:?}",
            d.error(),
            d.cause()
        );
        let output: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap();
        assert_eq!(output, expected(kind, *n), "{arn}");
        let mut events = Vec::new();
        let mut pages = sfn
            .get_execution_history()
            .execution_arn(arn)
            .into_paginator()
            .send();
        while let Some(page) = pages.next().await {
            events.extend(page.expect("GetExecutionHistory").events().iter().cloned());
        }
        check_history(arn, &events);
    }
    let _ = server.child.kill();
    let _ = server.child.wait();
    eprintln!(
        "crash test: {running_at_kill} of {} executions were RUNNING at the kill",
        started.len()
    );
}

/// A durable server state on `dir` (in-process, the tests' shared sandbox,
/// which has no artifact cache directory), recovered.
async fn durable_state(dir: &Path) -> stepbox_server::AppState {
    use stepbox_server::durable::DurableConfig;
    let store = stepbox_store::open_dir(dir).expect("open the store");
    let registry = stepbox_sandbox::Registry::new(stepbox_tests::shared_sandbox().clone());
    let config = DurableConfig {
        suspend_waits_over: Duration::from_secs(1),
        ..Default::default()
    };
    let state = stepbox_server::AppState::durable(stepbox_server::ServerConfig::default(), registry, store, config);
    state.recover().await.expect("recover");
    state
}

/// Waits until the store in `dir` can be opened again: the writer thread of
/// a stopped server's store releases the file shortly after its last handle
/// goes.
async fn wait_released(dir: &Path) {
    for _ in 0..100 {
        if let Ok(s) = stepbox_store::open_dir(dir) {
            drop(s);
            tokio::time::sleep(Duration::from_millis(100)).await;
            return;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("the store in {} never reopened", dir.display());
}

/// A durable server keeps its functions' precompiled artifacts in its data
/// directory: after a restart (with no artifact cache directory) every
/// function and published version loads its artifact instead of compiling,
/// and the artifacts of functions deleted meanwhile are gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_loads_its_functions_artifacts_from_its_store() {
    use stepbox_sandbox::Origin;
    use stepbox_server::RunningServer;

    let dir = tempfile::tempdir().unwrap();
    let state = durable_state(dir.path()).await;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone()).await.unwrap();
    let lambda = crate::clients::lambda(&server.endpoint());
    for (name, component) in [("kept", "echo"), ("dropped", "processed")] {
        let code = stepbox_components::bytes(component).unwrap();
        lambda
            .create_function()
            .function_name(name)
            .role(ROLE)
            .code(aws_sdk_lambda::types::FunctionCode::builder().zip_file(aws_sdk_lambda::primitives::Blob::new(code)).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("CreateFunction {name}: {e:?}"));
    }
    lambda.publish_version().function_name("kept").send().await.expect("PublishVersion");
    let key_of = |state: &stepbox_server::AppState, name: &str| {
        let f = state.registry.get(name).unwrap_or_else(|| panic!("{name} is registered"));
        state.registry.sandbox().artifact_key(&f.function.sha256)
    };
    let (kept, dropped) = (key_of(&state, "kept"), key_of(&state, "dropped"));
    assert_ne!(kept, dropped);
    lambda.delete_function().function_name("dropped").send().await.expect("DeleteFunction");
    server.shutdown().await.unwrap();
    let durability = state.durability.clone();
    let stored = durability.store.artifact_keys().await.unwrap();
    assert!(stored.contains(&kept) && stored.contains(&dropped), "both artifacts stored: {stored:?}");
    drop((state, durability));
    wait_released(dir.path()).await;

    let state = durable_state(dir.path()).await;
    for name in ["kept", "kept:1"] {
        let f = state.registry.get(name).unwrap_or_else(|| panic!("{name} restored"));
        assert_eq!(f.function.origin, Origin::Cached, "{name} loaded its stored artifact");
    }
    let store = state.durability.store.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while store.artifact_keys().await.unwrap().contains(&dropped) {
        assert!(Instant::now() < deadline, "the deleted function's artifact stays");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(store.artifact_keys().await.unwrap(), [kept]);
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone()).await.unwrap();
    let out = crate::clients::lambda(&server.endpoint())
        .invoke()
        .function_name("kept")
        .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"v":2}"#))
        .send()
        .await
        .expect("Invoke");
    assert_eq!(out.payload().map(|p| p.as_ref().to_vec()), Some(br#"{"v":2}"#.to_vec()));
    server.shutdown().await.unwrap();
}

/// In-process: what a restart finds on the same data directory — functions,
/// state machines, a suspended execution still waiting on its timer — and
/// StopExecution of a suspended execution closes its history.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restarted_server_finds_its_functions_machines_and_waiting_executions() {
    use aws_sdk_sfn::types::HistoryEventType as T;
    use stepbox_server::RunningServer;

    let dir = tempfile::tempdir().unwrap();
    let start = durable_state;
    let state = start(dir.path()).await;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone())
        .await
        .unwrap();
    let sfn = crate::clients::sfn(&server.endpoint());
    crate::clients::lambda(&server.endpoint())
        .create_function()
        .function_name("stored-echo")
        .role(ROLE)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(
                    stepbox_components::bytes("echo").unwrap(),
                ))
                .build(),
        )
        .send()
        .await
        .expect("CreateFunction");
    let lambda = crate::clients::lambda(&server.endpoint());
    let v = lambda.publish_version().function_name("stored-echo").send().await.expect("PublishVersion");
    assert_eq!(v.version(), Some("1"));
    lambda
        .create_alias()
        .function_name("stored-echo")
        .name("live")
        .function_version("1")
        .send()
        .await
        .expect("CreateAlias");
    let def = json!({"StartAt": "Nap", "States": {
        "Nap": {"Type": "Wait", "Seconds": 3600, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:stored-echo", "End": true}
    }});
    let sm = sfn
        .create_state_machine()
        .name("napper")
        .definition(def.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .unwrap();
    let exec = sfn
        .start_execution()
        .state_machine_arn(sm.state_machine_arn())
        .name("long-nap")
        .send()
        .await
        .unwrap();
    let durability = state.durability.clone();
    let deadline = Instant::now() + Duration::from_secs(30);
    while durability.waiting() == 0 {
        assert!(Instant::now() < deadline, "the execution never suspended");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    server.shutdown().await.unwrap();
    drop((state, durability));
    wait_released(dir.path()).await;
    let state = start(dir.path()).await;
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone())
        .await
        .unwrap();
    let sfn = crate::clients::sfn(&server.endpoint());
    let f = crate::clients::lambda(&server.endpoint())
        .get_function()
        .function_name("stored-echo")
        .send()
        .await;
    assert!(f.is_ok(), "the function survived the restart: {f:?}");
    let lambda = crate::clients::lambda(&server.endpoint());
    let versions = lambda.list_versions_by_function().function_name("stored-echo").send().await.unwrap();
    let listed: Vec<Option<&str>> = versions.versions().iter().map(|v| v.version()).collect();
    assert_eq!(listed, [Some("$LATEST"), Some("1")], "published versions survive a restart");
    let alias = lambda.get_alias().function_name("stored-echo").name("live").send().await.expect("GetAlias");
    assert_eq!(alias.function_version(), Some("1"));
    for qualifier in ["1", "live"] {
        let out = lambda
            .invoke()
            .function_name("stored-echo")
            .qualifier(qualifier)
            .payload(aws_sdk_lambda::primitives::Blob::new(r#"{"v":1}"#))
            .send()
            .await
            .unwrap_or_else(|e| panic!("Invoke {qualifier}: {e:?}"));
        assert_eq!(out.executed_version(), Some("1"));
        assert_eq!(out.payload().map(|p| p.as_ref().to_vec()), Some(br#"{"v":1}"#.to_vec()));
    }
    let machines = sfn.list_state_machines().send().await.unwrap();
    assert_eq!(machines.state_machines().len(), 1);
    let d = sfn
        .describe_execution()
        .execution_arn(exec.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Running);
    assert_eq!(
        state.durability.waiting(),
        1,
        "waiting on a timer again, not on a task"
    );

    sfn.stop_execution()
        .execution_arn(exec.execution_arn())
        .send()
        .await
        .unwrap();
    let d = sfn
        .describe_execution()
        .execution_arn(exec.execution_arn())
        .send()
        .await
        .unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Aborted);
    let deadline = Instant::now() + Duration::from_secs(30);
    let events = loop {
        let h = sfn
            .get_execution_history()
            .execution_arn(exec.execution_arn())
            .send()
            .await
            .unwrap();
        if h.events().last().map(|e| e.r#type()) == Some(&T::ExecutionAborted)
            || Instant::now() > deadline
        {
            break h.events().to_vec();
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    let types: Vec<&T> = events.iter().map(|e| e.r#type()).collect();
    assert_eq!(
        types,
        [
            &T::ExecutionStarted,
            &T::WaitStateEntered,
            &T::ExecutionAborted
        ]
    );
    assert_eq!(events[2].previous_event_id(), 2);
    server.shutdown().await.unwrap();
}

/// Waits until `arn`'s history holds an event of type `ty`.
async fn wait_for_event(sfn: &aws_sdk_sfn::Client, arn: &str, ty: aws_sdk_sfn::types::HistoryEventType) -> Vec<aws_sdk_sfn::types::HistoryEvent> {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let h = sfn.get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        if h.events().iter().any(|e| *e.r#type() == ty) {
            return h.events().to_vec();
        }
        assert!(Instant::now() < deadline, "{arn}: no {ty:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn wait_closed(sfn: &aws_sdk_sfn::Client, arn: &str) -> aws_sdk_sfn::operation::describe_execution::DescribeExecutionOutput {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let d = sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        if d.status() != &ExecutionStatus::Running {
            return d;
        }
        assert!(Instant::now() < deadline, "{arn} still RUNNING");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Executions waiting on the outside world survive `kill -9`: a
/// `.waitForTaskToken` Task answers its old token, an activity task is
/// offered again, a `.sync:2` parent re-attaches to the child it started.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn waiting_tasks_tokens_activities_and_children_survive_a_kill() {
    use aws_sdk_sfn::types::HistoryEventType as T;
    let tmp = tempfile::tempdir().unwrap();
    let (data, functions, log) = (tmp.path().join("data"), tmp.path().join("functions"), tmp.path().join("serve.log"));
    stepbox_components::export_to(&functions).unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);
    let create = |name: &'static str, definition: Value| {
        let sfn = sfn.clone();
        async move {
            sfn.create_state_machine()
                .name(name)
                .definition(definition.to_string())
                .role_arn(ROLE)
                .send()
                .await
                .expect("CreateStateMachine")
                .state_machine_arn()
                .to_string()
        }
    };
    let approve = create(
        "approve",
        json!({"StartAt": "Ask", "States": {"Ask": {"Type": "Task",
            "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
            "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token"}},
            "HeartbeatSeconds": 600, "TimeoutSeconds": 3600, "End": true}}}),
    )
    .await;
    let activity = sfn.create_activity().name("packing").send().await.expect("CreateActivity").activity_arn;
    let worked = create(
        "worked",
        json!({"StartAt": "Pack", "States": {"Pack": {"Type": "Task", "Resource": activity, "End": true}}}),
    )
    .await;
    let child = create(
        "child",
        json!({"StartAt": "Nap", "States": {
            "Nap": {"Type": "Wait", "Seconds": 3, "Next": "Done"},
            "Done": {"Type": "Pass", "Parameters": {"x.$": "$.x", "child": "done"}, "End": true}}}),
    )
    .await;
    let parent = create(
        "parent",
        json!({"StartAt": "Run", "States": {"Run": {"Type": "Task",
            "Resource": "arn:aws:states:::states:startExecution.sync:2",
            "Parameters": {"StateMachineArn": child, "Input": {"x.$": "$.x"}},
            "ResultSelector": {"out.$": "$.Output"}, "End": true}}}),
    )
    .await;
    let start = |machine: String, input: Value| {
        let sfn = sfn.clone();
        async move {
            sfn.start_execution()
                .state_machine_arn(machine)
                .input(input.to_string())
                .send()
                .await
                .expect("StartExecution")
                .execution_arn()
                .to_string()
        }
    };
    // A token wait answered before the kill: its token must answer
    // TaskTimedOut after the restart, as AWS answers for any ended task.
    let answered = start(approve.clone(), json!({})).await;
    let answered_token = {
        let events = wait_for_event(&sfn, &answered, T::TaskSubmitted).await;
        let submitted = events.iter().find_map(|e| e.task_submitted_event_details()).and_then(|d| d.output()).unwrap();
        serde_json::from_str::<Value>(submitted).unwrap()["Payload"]["token"].as_str().unwrap().to_string()
    };
    sfn.send_task_success().task_token(&answered_token).output("{}").send().await.expect("SendTaskSuccess");
    assert_eq!(wait_closed(&sfn, &answered).await.status(), &ExecutionStatus::Succeeded);

    let approval = start(approve, json!({})).await;
    let packing = start(worked, json!({"order": 7})).await;
    let nested = start(parent, json!({"x": 42})).await;
    let events = wait_for_event(&sfn, &approval, T::TaskSubmitted).await;
    let submitted = events.iter().find_map(|e| e.task_submitted_event_details()).and_then(|d| d.output()).unwrap();
    let token = serde_json::from_str::<Value>(submitted).unwrap()["Payload"]["token"].as_str().unwrap().to_string();
    wait_for_event(&sfn, &packing, T::ActivityScheduled).await;
    wait_for_event(&sfn, &nested, T::TaskSubmitted).await;

    server.child.kill().expect("kill -9");
    server.child.wait().unwrap();
    let mut server = serve(&data, &functions, &log);
    let sfn = crate::clients::sfn(&server.endpoint);

    // The token wait: RUNNING, and the old token still answers it.
    let d = sfn.describe_execution().execution_arn(&approval).send().await.unwrap();
    assert_eq!(d.status(), &ExecutionStatus::Running);
    let deadline = Instant::now() + Duration::from_secs(30);
    while sfn.send_task_heartbeat().task_token(&token).send().await.is_err() {
        assert!(Instant::now() < deadline, "the old token never came back");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    sfn.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("SendTaskSuccess");
    let e = sfn.send_task_success().task_token(&answered_token).output("{}").send().await.unwrap_err();
    assert_eq!(e.code(), Some("TaskTimedOut"), "{e:?}");

    // The activity task is offered again.
    let task = loop {
        let t = sfn.get_activity_task().activity_arn(&activity).worker_name("after").send().await.expect("GetActivityTask");
        if t.task_token().is_some() {
            break t;
        }
    };
    assert_eq!(serde_json::from_str::<Value>(task.input().unwrap()).unwrap(), json!({"order": 7}));
    sfn.send_task_success().task_token(task.task_token().unwrap()).output(r#"{"packed":7}"#).send().await.expect("SendTaskSuccess");

    let expectations = [
        (&approval, json!({"approved": true})),
        (&packing, json!({"packed": 7})),
        (&nested, json!({"out": {"x": 42, "child": "done"}})),
    ];
    for (arn, output) in expectations {
        let d = wait_closed(&sfn, arn).await;
        assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error(), d.cause());
        assert_eq!(serde_json::from_str::<Value>(d.output().unwrap()).unwrap(), output, "{arn}");
        let h = sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        check_history(arn, h.events());
        let scheduled = h
            .events()
            .iter()
            .filter(|e| matches!(e.r#type(), T::TaskScheduled | T::ActivityScheduled))
            .count();
        assert_eq!(scheduled, 1, "{arn}: scheduled once, resumed without running again");
    }
    let children = sfn.list_executions().state_machine_arn(&child).send().await.unwrap();
    assert_eq!(children.executions().len(), 1, "the parent re-attached instead of starting a second child");
    let _ = server.child.kill();
    let _ = server.child.wait();
}
