//! Several hosts on one PostgreSQL database: three `stepbox serve`
//! processes share 300 Standard executions (Task, Wait, Map), started
//! through all three; one is killed with SIGKILL mid-flight, and the other
//! two take over its executions once their leases expire and finish them
//! from their last checkpoints: every execution ends with its exact output
//! and a whole history (consecutive ids, one closing event). Executions
//! the killed host ran that wait for a task token finish once their tokens
//! are answered through the surviving hosts, and the activity tasks it had
//! scheduled go, each to one worker, to workers polling the survivors.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_sfn::types::ExecutionStatus;
use aws_sdk_sfn::types::HistoryEventType;
use serde_json::{Value, json};

use crate::crash::{check_history, count_running, expected, input, machines};

const ROLE: &str = "arn:aws:iam::111111111111:role/stepbox";
const PER_KIND: usize = 100;
const KINDS: [&str; 3] = ["wait", "task", "map"];
const TOKENS: usize = 6;
const ACTIVITY_TASKS: usize = 4;
/// `serve --lease-seconds`: long enough that a loaded machine never lets a
/// live host's liveness lapse (it is renewed every third of it by a thread
/// of its own), short enough to keep the test quick.
const LEASE_SECONDS: &str = "3";

/// Waits for a token the echo component hands out (see tests/all/callbacks.rs).
fn approval_machine() -> Value {
    json!({"StartAt": "Ask", "States": {"Ask": {
        "Type": "Task",
        "Resource": "arn:aws:states:::lambda:invoke.waitForTaskToken",
        "Parameters": {"FunctionName": "echo", "Payload": {"token.$": "$$.Task.Token", "n.$": "$.n"}},
        "End": true
    }}})
}

/// Waits until execution `arn` recorded an event of type `kind`.
async fn recorded(sfn: &aws_sdk_sfn::Client, arn: &str, kind: HistoryEventType) {
    for _ in 0..500 {
        let history = sfn.get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        if history.events().iter().any(|e| *e.r#type() == kind) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no {kind:?} in {arn}");
}

/// Workers polling `clients` in turn (answering through the next one) until
/// `count` activity tasks were answered: (input's n, worker) of each.
async fn work(clients: &[aws_sdk_sfn::Client], activity: &str, count: usize) -> Vec<(u64, usize)> {
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..4 {
        let (poll, answer) = (clients[w % clients.len()].clone(), clients[(w + 1) % clients.len()].clone());
        let (activity, tx) = (activity.to_string(), tx.clone());
        workers.spawn(async move {
            loop {
                let task = poll.get_activity_task().activity_arn(&activity).worker_name(format!("w{w}")).send().await;
                let task = task.expect("GetActivityTask");
                let Some(token) = task.task_token() else { continue };
                let n = serde_json::from_str::<Value>(task.input().unwrap_or("null")).unwrap()["n"].as_u64().unwrap();
                let output = json!({"reviewed": n}).to_string();
                answer.send_task_success().task_token(token).output(output).send().await.expect("SendTaskSuccess");
                let _ = tx.send((n, w));
            }
        });
    }
    let mut taken = Vec::new();
    while taken.len() < count {
        taken.push(rx.recv().await.expect("workers run"));
    }
    workers.abort_all();
    taken
}

/// The token execution `arn` handed out (its TaskSubmitted's payload).
async fn submitted_token(sfn: &aws_sdk_sfn::Client, arn: &str) -> String {
    for _ in 0..500 {
        let history = sfn.get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        for e in history.events() {
            if *e.r#type() == HistoryEventType::TaskSubmitted {
                let out = e.task_submitted_event_details().and_then(|d| d.output()).expect("TaskSubmitted output");
                let v: Value = serde_json::from_str(out).unwrap();
                return v["Payload"]["token"].as_str().expect("token in the payload").to_string();
            }
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("no TaskSubmitted in {arn}");
}

/// What the executions still RUNNING wait on (their last events), and the
/// end of the hosts' log: the failure message of a takeover that left some.
async fn stuck(sfn: &aws_sdk_sfn::Client, machines: &[String], log: &Path) -> String {
    let mut report = String::new();
    for machine in machines {
        let listed = sfn.list_executions().state_machine_arn(machine).status_filter(ExecutionStatus::Running).send().await;
        for e in listed.map(|l| l.executions().to_vec()).unwrap_or_default() {
            let history = sfn.get_execution_history().execution_arn(e.execution_arn()).reverse_order(true).max_results(4).send().await;
            let last: Vec<String> = history
                .map(|h| h.events().iter().map(|e| format!("{}:{}", e.id(), e.r#type().as_str())).collect())
                .unwrap_or_default();
            report.push_str(&format!("{} last events {last:?}\n", e.execution_arn()));
        }
    }
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let tail: Vec<&str> = text.lines().filter(|l| !l.contains("INFO")).collect();
    let from = tail.len().saturating_sub(40);
    report.push_str(&format!("hosts' log, warnings and errors (last 40):\n{}", tail[from..].join("\n")));
    report
}

/// A `stepbox serve --database-url` child process and its endpoint.
struct Host {
    child: Child,
    endpoint: String,
}

impl Drop for Host {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(url: &str, functions: &Path, log: &Path) -> Host {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log).expect("log file");
    let mut child = Command::new(env!("CARGO_BIN_EXE_stepbox-child"))
        .args(["serve", "--addr", "127.0.0.1:0", "--suspend-waits-over", "1", "--lease-seconds", LEASE_SECONDS, "--log", "info"])
        .args(["--database-url", url])
        .arg("--functions")
        .arg(functions)
        .stdout(Stdio::piped())
        .stderr(Stdio::from(log))
        .spawn()
        .expect("spawn stepbox serve");
    let mut line = String::new();
    let mut stdout = BufReader::new(child.stdout.take().expect("stdout"));
    stdout.read_line(&mut line).expect("read the listening line");
    // The data line too: a write to a closed pipe would end the server.
    stdout.read_line(&mut String::new()).expect("read the data line");
    let endpoint = line
        .trim()
        .strip_prefix("stepbox listening on ")
        .unwrap_or_else(|| panic!("unexpected first line from stepbox serve: {line:?}"))
        .to_string();
    Host { child, endpoint }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_of_a_killed_host_finish_on_the_others() {
    let url = crate::postgres::fresh_database();
    let tmp = tempfile::tempdir().unwrap();
    let (functions, log) = (tmp.path().join("functions"), tmp.path().join("serve.log"));
    stepbox_components::export_to(&functions).unwrap();
    let mut hosts: Vec<Host> = (0..3).map(|_| serve(&url, &functions, &log)).collect();
    let clients: Vec<aws_sdk_sfn::Client> = hosts.iter().map(|h| crate::clients::sfn(&h.endpoint)).collect();

    let mut machine_arns = Vec::new();
    for (name, definition) in machines().into_iter().filter(|(k, _)| KINDS.contains(k)) {
        let out = clients[0]
            .create_state_machine()
            .name(name)
            .definition(definition.to_string())
            .role_arn(ROLE)
            .send()
            .await
            .expect("CreateStateMachine");
        machine_arns.push((name, out.state_machine_arn().to_string()));
    }

    // 300 executions, started through the three hosts in turn, 30 at a time.
    let jobs: Vec<(&str, String, usize)> = machine_arns
        .iter()
        .flat_map(|(kind, arn)| (0..PER_KIND).map(move |n| (*kind, arn.clone(), n)))
        .collect();
    let mut started: Vec<(String, &str, usize)> = Vec::new();
    for (c, chunk) in jobs.chunks(30).enumerate() {
        let mut set = tokio::task::JoinSet::new();
        for (i, (kind, arn, n)) in chunk.iter().cloned().enumerate() {
            let sfn = clients[(c + i) % 3].clone();
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
    assert_eq!(started.len(), KINDS.len() * PER_KIND);

    // Executions waiting for a token, all on the host to be killed.
    let approval = clients[0]
        .create_state_machine()
        .name("approval")
        .definition(approval_machine().to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    let mut waiting = Vec::new();
    for n in 0..TOKENS {
        let out = clients[0]
            .start_execution()
            .state_machine_arn(&approval)
            .name(format!("approval-{n}"))
            .input(json!({"n": n}).to_string())
            .send()
            .await
            .expect("StartExecution");
        let token = submitted_token(&clients[1], out.execution_arn()).await;
        waiting.push((out.execution_arn().to_string(), token, n));
    }

    // Activity tasks of executions on the host to be killed, no worker yet.
    let activity = clients[0].create_activity().name("review").send().await.expect("CreateActivity").activity_arn().to_string();
    let review = json!({"StartAt": "Review", "States": {"Review": {"Type": "Task", "Resource": activity, "End": true}}});
    let reviews = clients[0]
        .create_state_machine()
        .name("review")
        .definition(review.to_string())
        .role_arn(ROLE)
        .send()
        .await
        .expect("CreateStateMachine")
        .state_machine_arn()
        .to_string();
    let mut reviewing = Vec::new();
    for n in 0..ACTIVITY_TASKS {
        let out = clients[0]
            .start_execution()
            .state_machine_arn(&reviews)
            .name(format!("review-{n}"))
            .input(json!({"n": n}).to_string())
            .send()
            .await
            .expect("StartExecution");
        recorded(&clients[1], out.execution_arn(), HistoryEventType::ActivityScheduled).await;
        reviewing.push((out.execution_arn().to_string(), n));
    }

    let sm_arns: Vec<String> = machine_arns.iter().map(|(_, a)| a.clone()).collect();
    let running_at_kill = count_running(&clients[1], &sm_arns).await;
    let mut killed = hosts.remove(0);
    killed.child.kill().expect("kill -9"); // SIGKILL: no shutdown path runs
    killed.child.wait().unwrap();
    let kill = Instant::now();
    assert!(running_at_kill > 0, "the kill must come mid-flight ({running_at_kill} running)");

    // Answered through the survivors: each reaches the host that took the
    // execution over (waiting for the takeover when it has not happened yet).
    for (i, (_, token, n)) in waiting.iter().enumerate() {
        clients[1 + i % 2]
            .send_task_success()
            .task_token(token)
            .output(json!({"approved": n}).to_string())
            .send()
            .await
            .unwrap_or_else(|e| panic!("SendTaskSuccess of a token the killed host handed out: {e:?}"));
    }
    // The killed host's activity tasks, each handed out once by the survivors.
    let mut taken = work(&clients[1..], &activity, ACTIVITY_TASKS).await;
    taken.sort_unstable();
    let ns: Vec<u64> = taken.iter().map(|(n, _)| *n).collect();
    assert_eq!(ns, (0..ACTIVITY_TASKS as u64).collect::<Vec<_>>(), "each activity task handed out once: {taken:?}");
    let answered = kill.elapsed();

    let all_arns: Vec<String> = sm_arns.iter().cloned().chain([approval.clone(), reviews.clone()]).collect();
    let deadline = kill + Duration::from_secs(180);
    loop {
        let running = count_running(&clients[1], &all_arns).await;
        if running == 0 {
            break;
        }
        if Instant::now() > deadline {
            let report = stuck(&clients[1], &all_arns, &log).await;
            panic!("{running} executions still RUNNING {:?} after the kill:\n{report}", kill.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    eprintln!(
        "{running_at_kill} executions running at the kill; every token answered {answered:?} and every execution \
         finished {:?} after it",
        kill.elapsed()
    );
    for (arn, _, n) in &waiting {
        let d = clients[2].describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error(), d.cause());
        let output: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap();
        assert_eq!(output, json!({"approved": n}), "{arn}");
        let history = clients[1].get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        let ids: Vec<i64> = history.events().iter().map(|e| e.id()).collect();
        assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "{arn}: ids");
        let closing = history.events().iter().filter(|e| *e.r#type() == HistoryEventType::ExecutionSucceeded).count();
        assert_eq!(closing, 1, "{arn}: one closing event");
    }

    for (arn, n) in &reviewing {
        let d = clients[1].describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error(), d.cause());
        let output: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap();
        assert_eq!(output, json!({"reviewed": n}), "{arn}");
        let history = clients[2].get_execution_history().execution_arn(arn).send().await.expect("GetExecutionHistory");
        check_history(arn, history.events());
        let picked = history.events().iter().filter(|e| *e.r#type() == HistoryEventType::ActivityStarted).count();
        assert_eq!(picked, 1, "{arn}: one pick-up");
    }

    for (i, (arn, kind, n)) in started.iter().enumerate() {
        let sfn = &clients[1 + i % 2];
        let d = sfn.describe_execution().execution_arn(arn).send().await.expect("DescribeExecution");
        assert_eq!(d.status(), &ExecutionStatus::Succeeded, "{arn}: {:?} {:?}", d.error(), d.cause());
        let output: Value = serde_json::from_str(d.output().unwrap_or("null")).unwrap();
        assert_eq!(output, expected(kind, *n), "{arn}");
        let mut events = Vec::new();
        let mut pages = sfn.get_execution_history().execution_arn(arn).into_paginator().send();
        while let Some(page) = pages.next().await {
            events.extend(page.expect("GetExecutionHistory").events().iter().cloned());
        }
        check_history(arn, &events);
    }
}
