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
