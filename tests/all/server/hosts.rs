//! Two `stepbox serve` hosts on one PostgreSQL database serve one API: what
//! one creates (state machines, executions, functions, activities) the
//! other sees and acts on, and a name is taken once across both.

use super::*;

/// Host A serving a new database, and host B beside it.
async fn two_hosts() -> (Harness, Harness) {
    let url = crate::postgres::fresh_database();
    let a = stepbox_store::open_postgres(&url).expect("host A opens the database");
    let b = stepbox_store::open_postgres(&url).expect("host B opens it beside A");
    (start_on(a, ServerConfig::default()).await, start_on(b, ServerConfig::default()).await)
}

fn code(e: &impl ProvideErrorMetadata) -> String {
    e.code().unwrap_or_default().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn state_machines_and_executions_made_on_one_host_run_and_read_on_the_other() {
    let (a, b) = two_hosts().await;
    // A function created on A runs in executions B starts (B compiles it on first use).
    create_function(&a, "processed", "processed").await;
    let sm = create_machine(&a, "orders", &task_machine("processed"), StateMachineType::Standard).await;
    // The same name and definition on B is the same state machine; another definition is refused.
    let again = create_machine(&b, "orders", &task_machine("processed"), StateMachineType::Standard).await;
    assert_eq!(again, sm);
    let other = b
        .sfn
        .create_state_machine()
        .name("orders")
        .definition(task_machine("other"))
        .role_arn(ROLE)
        .send()
        .await
        .expect_err("a name is taken on every host");
    assert_eq!(code(&other.into_service_error()), "StateMachineAlreadyExists");
    assert_eq!(b.sfn.describe_state_machine().state_machine_arn(&sm).send().await.unwrap().name(), "orders");

    let mut started = Vec::new();
    for i in 0..10 {
        let host = if i % 2 == 0 { &a } else { &b };
        let input = format!(r#"{{"id":{i}}}"#);
        let s = host.sfn.start_execution().state_machine_arn(&sm).name(format!("e{i}")).input(&input).send().await.unwrap();
        started.push((i, s.execution_arn().to_string()));
    }
    for (i, arn) in &started {
        // Read on the host that did not start it.
        let other = if i % 2 == 0 { &b } else { &a };
        let done = wait_closed(other, arn).await;
        assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
        let output: Value = serde_json::from_str(done.output().unwrap()).unwrap();
        assert_eq!(output, json!({"id": i, "processed": true}));
        let history = other.sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        let ids: Vec<i64> = history.events().iter().map(|e| e.id()).collect();
        assert_eq!(ids, (1..=ids.len() as i64).collect::<Vec<_>>(), "consecutive event ids");
        assert_eq!(*history.events().last().unwrap().r#type(), HistoryEventType::ExecutionSucceeded);
    }
    for host in [&a, &b] {
        let listed = host.sfn.list_executions().state_machine_arn(&sm).send().await.unwrap();
        assert_eq!(listed.executions().len(), 10, "every host lists every execution");
    }
    // A name started on A is taken on B: the same input is the same
    // execution (nothing runs again), another input is refused.
    let same = b.sfn.start_execution().state_machine_arn(&sm).name("e0").input(r#"{"id":0}"#).send().await;
    let refused = same.expect_err("e0 is closed: its name is taken");
    assert_eq!(code(&refused.into_service_error()), "ExecutionAlreadyExists");

    // Functions: invoked and described on the host that did not create them.
    let invoked = b.lambda.invoke().function_name("processed").payload(Blob::new(r#"{"id":7}"#)).send().await.unwrap();
    let payload: Value = serde_json::from_slice(invoked.payload().unwrap().as_ref()).unwrap();
    assert_eq!(payload, json!({"id": 7, "processed": true}));
    let described = b.lambda.get_function().function_name("processed").send().await.unwrap();
    assert_eq!(described.configuration().and_then(|c| c.function_name()), Some("processed"));
    let taken = b
        .lambda
        .create_function()
        .function_name("processed")
        .role(ROLE)
        .code(FunctionCode::builder().zip_file(Blob::new(component("processed"))).build())
        .send()
        .await
        .expect_err("a function name is taken on every host");
    assert_eq!(code(&taken.into_service_error()), "ResourceConflictException");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_execution_name_started_on_both_hosts_at_once_runs_once() {
    let (a, b) = two_hosts().await;
    let sm = create_machine(&a, "waits", r#"{"StartAt":"W","States":{"W":{"Type":"Wait","Seconds":1,"End":true}}}"#, StateMachineType::Standard).await;
    let mut races = Vec::new();
    for i in 0..20 {
        let (sa, sb) = (a.sfn.clone(), b.sfn.clone());
        let (sm_a, sm_b) = (sm.clone(), sm.clone());
        let name = format!("race{i}");
        let name_b = name.clone();
        races.push(tokio::spawn(async move {
            let on_a = sa.start_execution().state_machine_arn(sm_a).name(name).input(r#"{"host":"a"}"#).send();
            let on_b = sb.start_execution().state_machine_arn(sm_b).name(name_b).input(r#"{"host":"b"}"#).send();
            let (on_a, on_b) = tokio::join!(on_a, on_b);
            (on_a.map(|s| s.execution_arn().to_string()), on_b.map(|s| s.execution_arn().to_string()))
        }));
    }
    for race in races {
        match race.await.unwrap() {
            (Ok(_), Err(e)) | (Err(e), Ok(_)) => {
                assert_eq!(code(&e.into_service_error()), "ExecutionAlreadyExists");
            }
            other => panic!("exactly one start of a name wins: {other:?}"),
        }
    }
    let listed = b.sfn.list_executions().state_machine_arn(&sm).send().await.unwrap();
    assert_eq!(listed.executions().len(), 20);
    for e in listed.executions() {
        let done = wait_closed(&a, e.execution_arn()).await;
        assert_eq!(*done.status(), ExecutionStatus::Succeeded);
        let history = b.sfn.get_execution_history().execution_arn(e.execution_arn()).send().await.unwrap();
        let started = history.events().iter().filter(|e| *e.r#type() == HistoryEventType::ExecutionStarted).count();
        assert_eq!(started, 1, "one run recorded");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activities_made_on_one_host_are_described_listed_and_deleted_on_the_other() {
    let (a, b) = two_hosts().await;
    let created = a.sfn.create_activity().name("approve").send().await.unwrap();
    let arn = created.activity_arn().to_string();
    let described = b.sfn.describe_activity().activity_arn(&arn).send().await.unwrap();
    assert_eq!(described.name(), "approve");
    assert_eq!(described.creation_date(), created.creation_date());
    let again = b.sfn.create_activity().name("approve").send().await.unwrap();
    assert_eq!(again.creation_date(), created.creation_date(), "CreateActivity is idempotent across hosts");
    let listed = b.sfn.list_activities().send().await.unwrap();
    assert_eq!(listed.activities().iter().map(|x| x.name()).collect::<Vec<_>>(), ["approve"]);
    b.sfn.delete_activity().activity_arn(&arn).send().await.unwrap();
    let gone = a.sfn.describe_activity().activity_arn(&arn).send().await.expect_err("deleted on B");
    assert_eq!(code(&gone.into_service_error()), "ActivityDoesNotExist");
}

/// Hosts wake each other (LISTEN/NOTIFY): a task token answered on the host
/// that does not run the execution reaches the one that does, and its
/// answer comes back, in far less than the slow polling fallback (set long
/// here: 20 s; without notifications the sender alone would wait that long
/// before looking for the answer).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_routed_answer_wakes_the_other_host_instead_of_waiting_for_its_poll() {
    let fallback = std::time::Duration::from_secs(20);
    let url = crate::postgres::fresh_database();
    let open = || stepbox_store::open_postgres_polling(&url, stepbox_store::DEFAULT_LEASE, fallback).expect("a host opens the database");
    let (a, b) = (start_on(open(), ServerConfig::default()).await, start_on(open(), ServerConfig::default()).await);
    let activity = a.sfn.create_activity().name("approve").send().await.unwrap().activity_arn().to_string();
    let definition = json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": true}}});
    let sm = create_machine(&a, "approvals", &definition.to_string(), StateMachineType::Standard).await;
    for n in 0..3 {
        let started = a.sfn.start_execution().state_machine_arn(&sm).input(json!({"n": n}).to_string()).send().await.unwrap();
        // The task is queued on A, which runs the execution.
        let task = a.sfn.get_activity_task().activity_arn(&activity).send().await.unwrap();
        let token = task.task_token().expect("a task for the worker").to_string();
        let sent = std::time::Instant::now();
        b.sfn.send_task_success().task_token(&token).output(json!({"approved": n}).to_string()).send().await.expect("answered through B");
        let took = sent.elapsed();
        assert!(took < fallback / 4, "the answer took {took:?} through B (the polling fallback is {fallback:?})");
        let done = wait_closed(&a, started.execution_arn()).await;
        assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
        assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"approved": n}));
    }
}

/// A host on `url` whose waiters look every `fallback` without a
/// notification, and whose GetActivityTask long-polls for `poll`.
async fn host_polling(url: &str, fallback: std::time::Duration, poll: std::time::Duration) -> Harness {
    let store = stepbox_store::open_postgres_polling(url, stepbox_store::DEFAULT_LEASE, fallback).expect("a host opens the database");
    let registry = Registry::new(shared_sandbox().clone());
    let mut state = AppState::durable(ServerConfig::default(), registry, store, stepbox_server::durable::DurableConfig::default());
    state.activity_poll = poll;
    state.recover().await.expect("recover");
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state).await.expect("server starts");
    let endpoint = server.endpoint();
    let (sfn, lambda) = (crate::clients::sfn(&endpoint), crate::clients::lambda(&endpoint));
    Harness { server, sfn, lambda }
}

/// Activity tasks of executions host A runs are handed out by either host,
/// each to one worker, and the workers' answers (sent through B) reach the
/// executions on A. A worker already waiting on B when A schedules a task
/// is woken by A's notification, in far less than the polling fallback
/// (20 s here); B never heard of the activity before (created on A).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn activity_tasks_of_executions_on_one_host_go_once_to_workers_polling_any_host() {
    let fallback = std::time::Duration::from_secs(20);
    let poll = std::time::Duration::from_secs(2);
    let url = crate::postgres::fresh_database();
    let (a, b) = (host_polling(&url, fallback, poll).await, host_polling(&url, fallback, poll).await);
    let activity = a.sfn.create_activity().name("review").send().await.unwrap().activity_arn().to_string();
    let definition = json!({"StartAt": "Review", "States": {"Review": {"Type": "Task", "Resource": activity, "End": true}}});
    let sm = create_machine(&a, "reviews", &definition.to_string(), StateMachineType::Standard).await;

    // A worker long-polling B before the task exists gets it once A offers it.
    let early = {
        let (sfn, activity) = (b.sfn.clone(), activity.clone());
        tokio::spawn(async move {
            let asked = std::time::Instant::now();
            let task = sfn.get_activity_task().activity_arn(activity).worker_name("early").send().await;
            (task, asked.elapsed())
        })
    };
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    let first = a.sfn.start_execution().state_machine_arn(&sm).input(r#"{"n":0}"#).send().await.unwrap();
    let (task, waited) = early.await.unwrap();
    let task = task.expect("GetActivityTask on B");
    let token = task.task_token().expect("B hands out the task A scheduled").to_string();
    assert!(waited < fallback / 4, "B's worker waited {waited:?} (the polling fallback is {fallback:?})");
    assert_eq!(serde_json::from_str::<Value>(task.input().unwrap()).unwrap(), json!({"n": 0}));
    b.sfn.send_task_success().task_token(&token).output(r#"{"reviewed":0}"#).send().await.expect("answered through B");
    let done = wait_closed(&a, first.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"reviewed": 0}));
    let history = b.sfn.get_execution_history().execution_arn(first.execution_arn()).send().await.unwrap();
    let started: Vec<_> = history.events().iter().filter_map(|e| e.activity_started_event_details()).collect();
    assert_eq!(started.len(), 1);
    assert_eq!(started[0].worker_name(), Some("early"));

    // Many tasks, all scheduled on A, polled by workers on both hosts (more on B).
    const TASKS: usize = 24;
    let mut executions = Vec::new();
    for n in 1..=TASKS {
        let s = a.sfn.start_execution().state_machine_arn(&sm).input(json!({"n": n}).to_string()).send().await.unwrap();
        executions.push((n, s.execution_arn().to_string()));
    }
    let mut workers = tokio::task::JoinSet::new();
    for w in 0..6 {
        let sfn = if w < 4 { b.sfn.clone() } else { a.sfn.clone() };
        let answer_through = b.sfn.clone();
        let activity = activity.clone();
        workers.spawn(async move {
            let mut taken = Vec::new();
            loop {
                let task = sfn.get_activity_task().activity_arn(&activity).worker_name(format!("w{w}")).send().await.expect("GetActivityTask");
                let Some(token) = task.task_token() else { return taken };
                let n = serde_json::from_str::<Value>(task.input().unwrap()).unwrap()["n"].as_u64().unwrap();
                let output = json!({"reviewed": n, "by": format!("w{w}")}).to_string();
                answer_through.send_task_success().task_token(token).output(output).send().await.expect("SendTaskSuccess");
                taken.push((token.to_string(), n, w));
            }
        });
    }
    let mut taken = Vec::new();
    while let Some(worker) = workers.join_next().await {
        taken.extend(worker.unwrap());
    }
    let mut tokens: Vec<&str> = taken.iter().map(|(t, _, _)| t.as_str()).collect();
    tokens.sort_unstable();
    tokens.dedup();
    assert_eq!(tokens.len(), taken.len(), "no task handed out twice");
    let mut ns: Vec<u64> = taken.iter().map(|(_, n, _)| *n).collect();
    ns.sort_unstable();
    assert_eq!(ns, (1..=TASKS as u64).collect::<Vec<_>>(), "every task handed out once");
    assert!(taken.iter().any(|(_, _, w)| *w < 4), "workers on B took tasks A scheduled");
    for (n, arn) in &executions {
        let by = taken.iter().find(|(_, m, _)| *m == *n as u64).map(|(_, _, w)| format!("w{w}")).unwrap();
        let done = wait_closed(&a, arn).await;
        assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
        assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"reviewed": n, "by": by}));
        let history = a.sfn.get_execution_history().execution_arn(arn).send().await.unwrap();
        let started: Vec<_> = history.events().iter().filter_map(|e| e.activity_started_event_details()).collect();
        assert_eq!(started.len(), 1, "{arn}: one pick-up");
        assert_eq!(started[0].worker_name(), Some(by.as_str()));
    }
}

/// A token of a running execution that no task of it waits on, sent to
/// either host, is answered as AWS answers (TaskDoesNotExist), not kept for
/// a task that will never ask; the real token, sent after, ends the task.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_answer_to_a_token_no_task_waits_on_is_task_does_not_exist_on_every_host() {
    let (a, b) = two_hosts().await;
    let activity = a.sfn.create_activity().name("approve").send().await.unwrap().activity_arn().to_string();
    let definition = json!({"StartAt": "Approve", "States": {"Approve": {"Type": "Task", "Resource": activity, "End": true}}});
    let sm = create_machine(&a, "approvals", &definition.to_string(), StateMachineType::Standard).await;
    let started = a.sfn.start_execution().state_machine_arn(&sm).input("{}").send().await.unwrap();
    let task = b.sfn.get_activity_task().activity_arn(&activity).send().await.unwrap();
    let token = task.task_token().expect("a task for the worker").to_string();
    for (host, state) in [(&a, "Approve"), (&b, "Approve"), (&b, "Elsewhere")] {
        let forged = stepbox_engine::TaskToken::new(started.execution_arn(), state);
        let refused = host.sfn.send_task_success().task_token(&forged).output("{}").send().await.expect_err("never issued");
        assert_eq!(code(&refused.into_service_error()), "TaskDoesNotExist");
        let refused = host.sfn.send_task_failure().task_token(&forged).send().await.expect_err("never issued");
        assert_eq!(code(&refused.into_service_error()), "TaskDoesNotExist");
    }
    b.sfn.send_task_success().task_token(&token).output(r#"{"approved":true}"#).send().await.expect("the real token");
    let done = wait_closed(&a, started.execution_arn()).await;
    assert_eq!(*done.status(), ExecutionStatus::Succeeded, "{done:?}");
    assert_eq!(serde_json::from_str::<Value>(done.output().unwrap()).unwrap(), json!({"approved": true}));
}
