//! Several hosts on one PostgreSQL database: what one writes the other
//! sees at once, execution numbers never collide, a name two hosts create
//! at the same moment is created once, and a host whose lease was taken
//! over writes nothing more to that execution.

use super::*;

/// Two stores on one new database, as two `stepbox serve` processes.
fn two_hosts() -> (Store, Store) {
    let url = postgres_url();
    let a = open_postgres(&url).expect("the first host opens the database");
    let b = open_postgres(&url).expect("a second host opens it beside the first");
    (a, b)
}

fn state_machine(revision: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: "arn:aws:states:us-east-1:1:stateMachine:shared".into(),
        name: "shared".into(),
        definition: format!(r#"{{"Comment": "{revision}"}}"#),
        role_arn: "r".into(),
        kind: "STANDARD".into(),
        description: String::new(),
        creation_date: t(0),
        revision_id: revision.into(),
        extra: Default::default(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn executions_started_on_two_hosts_are_numbered_apart_and_seen_by_both() {
    let (a, b) = two_hosts();
    let mut inserts = Vec::new();
    for i in 0..200 {
        inserts.push(a.insert_execution(execution("sm", &format!("a{i}"), i)));
        inserts.push(b.insert_execution(execution("sm", &format!("b{i}"), i)));
    }
    for insert in inserts {
        insert.await.unwrap().expect("a new name");
    }
    for host in [&a, &b] {
        for i in 0..200 {
            for name in [format!("a{i}"), format!("b{i}")] {
                let found = host.get_execution(&execution("sm", &name, 0).arn).unwrap();
                assert_eq!(found.map(|r| r.name), Some(name), "{}", host.describe());
            }
        }
        let listed = host.list_executions("arn:aws:states:us-east-1:1:stateMachine:sm").unwrap();
        let names: std::collections::BTreeSet<_> = listed.iter().map(|r| r.name.clone()).collect();
        assert_eq!((listed.len(), names.len()), (400, 400), "every execution once, none overwritten");
        assert_eq!(host.running_executions().unwrap().len(), 400);
    }
    // Events go to the number the insert used, whichever host writes them.
    let x = execution("sm", "a7", 0);
    b.append_event(&x.arn, &event(1, EventType::ExecutionStarted)).await.unwrap();
    a.append_event(&x.arn, &event(2, EventType::PassStateEntered)).await.unwrap();
    assert_eq!(a.history(&x.arn).unwrap().len(), 2);
    assert_eq!(b.history(&execution("sm", "a8", 0).arn).unwrap().len(), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_name_started_on_two_hosts_at_once_is_one_execution() {
    let (a, b) = two_hosts();
    let mut pairs = Vec::new();
    for i in 0..100 {
        let mut on_a = execution("sm", &format!("x{i}"), i);
        on_a.input = r#"{"host": "a"}"#.into();
        let mut on_b = on_a.clone();
        on_b.input = r#"{"host": "b"}"#.into();
        pairs.push((a.insert_execution(on_a), b.insert_execution(on_b)));
    }
    for (i, (on_a, on_b)) in pairs.into_iter().enumerate() {
        let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
        let stored = a.get_execution(&execution("sm", &format!("x{i}"), 0).arn).unwrap().expect("stored");
        match (on_a, on_b) {
            (Ok(()), Err(existing)) => assert_eq!((existing.input.as_str(), stored.input.as_str()), (r#"{"host": "a"}"#, r#"{"host": "a"}"#)),
            (Err(existing), Ok(())) => assert_eq!((existing.input.as_str(), stored.input.as_str()), (r#"{"host": "b"}"#, r#"{"host": "b"}"#)),
            other => panic!("x{i}: exactly one insert wins, got {other:?}"),
        }
    }
    let listed = b.list_executions("arn:aws:states:us-east-1:1:stateMachine:sm").unwrap();
    assert_eq!(listed.len(), 100);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_state_machine_written_on_one_host_is_read_as_written_on_the_other() {
    let (a, b) = two_hosts();
    let arn = state_machine("1").arn;
    let (on_a, on_b) = (a.insert_state_machine(state_machine("1")), b.insert_state_machine(state_machine("2")));
    let (on_a, on_b) = (on_a.await.unwrap(), on_b.await.unwrap());
    assert!(on_a.is_ok() != on_b.is_ok(), "exactly one create wins: {on_a:?} {on_b:?}");
    let created = a.get_state_machine(&arn).unwrap().expect("created").revision_id;
    assert_eq!(b.get_state_machine(&arn).unwrap().map(|r| r.revision_id), Some(created));
    // Read on both (a single host would now serve it from memory), then changed on one.
    assert!(a.update_state_machine(state_machine("3")).await.unwrap());
    assert_eq!(b.get_state_machine(&arn).unwrap().map(|r| r.revision_id).as_deref(), Some("3"));
    assert!(b.delete_state_machine(&arn).await.unwrap());
    assert!(a.get_state_machine(&arn).unwrap().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_whose_lease_was_taken_over_cannot_write_the_execution() {
    use stepbox_engine::HistorySink;
    let url = postgres_url();
    let lease = std::time::Duration::from_millis(300);
    let a = open_postgres_with(&url, lease).unwrap();
    let b = open_postgres_with(&url, lease).unwrap();
    let e = execution("sm", "owned", 1);
    a.insert_execution(e.clone()).await.unwrap().unwrap();
    assert!(a.holds(&e.arn) && !b.holds(&e.arn), "the starting host owns it");
    let on_a = ExecutionJournal::new(a.clone(), e.arn.clone());
    on_a.record(event(1, EventType::ExecutionStarted));
    on_a.close(|_| {}).await.expect("the owner writes");
    // A's liveness is renewed by a thread of its own: over several leases,
    // nothing is taken over.
    std::thread::sleep(lease * 3);
    assert!(b.take_over().unwrap().is_empty(), "a live host's lease is not taken");
    assert!(b.check_leases().unwrap().is_empty());
    // A stops renewing (as if killed): after its lease, B takes the execution over.
    a.stop_renewing();
    std::thread::sleep(lease + lease / 2);
    let taken = b.take_over().unwrap();
    assert_eq!(taken.iter().map(|r| r.arn.as_str()).collect::<Vec<_>>(), [e.arn.as_str()]);
    assert!(b.holds(&e.arn));
    assert!(b.take_over().unwrap().is_empty(), "taken once");
    // A's next write is refused and leaves nothing; B's goes through.
    on_a.record(event(2, EventType::PassStateEntered));
    // (The event's own write found the lease gone; the journal then refuses the close too.)
    let refused = on_a.close(|_| {}).await.expect_err("A lost the lease");
    assert!(matches!(refused, StoreError::NotOwner(_)) || refused.to_string().contains("was not recorded"), "{refused}");
    assert!(!a.holds(&e.arn), "A knows it lost it");
    let on_b = ExecutionJournal::new(b.clone(), e.arn.clone());
    on_b.record(event(2, EventType::WaitStateEntered));
    on_b.close(|_| {}).await.expect("the new owner writes");
    let history = b.history(&e.arn).unwrap();
    assert_eq!(history.iter().map(|h| h.event_type).collect::<Vec<_>>(), [EventType::ExecutionStarted, EventType::WaitStateEntered]);
    // Closing ends the lease: nothing is left to take over.
    on_b.close(|r| r.status = "SUCCEEDED".into()).await.unwrap();
    std::thread::sleep(lease * 2);
    assert!(a.take_over().unwrap().is_empty());
}

/// A host that lost an execution and took it again runs it anew: the run
/// of the earlier lease, still going on there, writes nothing more.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_of_an_earlier_lease_writes_nothing_once_its_host_took_the_execution_again() {
    use stepbox_engine::HistorySink;
    let url = postgres_url();
    let lease = std::time::Duration::from_millis(300);
    let a = open_postgres_with(&url, lease).unwrap();
    let b = open_postgres_with(&url, lease).unwrap();
    let e = execution("sm", "again", 1);
    a.insert_execution(e.clone()).await.unwrap().unwrap();
    let first = ExecutionJournal::new(a.clone(), e.arn.clone());
    first.record(event(1, EventType::ExecutionStarted));
    first.close(|_| {}).await.expect("the owner writes");
    // A's liveness expires and B takes the execution; then B's does, and A
    // takes it back (a host takes expired leases whatever its own state).
    a.stop_renewing();
    std::thread::sleep(lease + lease / 2);
    assert_eq!(b.take_over().unwrap().len(), 1, "B takes it");
    b.stop_renewing();
    std::thread::sleep(lease + lease / 2);
    assert_eq!(a.take_over().unwrap().len(), 1, "A takes it back");
    assert!(a.holds(&e.arn));
    // The first run's journal (of A's first lease) writes nothing; a run
    // resumed at the lease A holds now does.
    first.record(event(2, EventType::PassStateEntered));
    let refused = first.close(|_| {}).await.expect_err("the first run's lease is gone");
    assert!(matches!(refused, StoreError::NotOwner(_)) || refused.to_string().contains("was not recorded"), "{refused}");
    let resumed = ExecutionJournal::new(a.clone(), e.arn.clone());
    resumed.record(event(2, EventType::WaitStateEntered));
    resumed.close(|_| {}).await.expect("the resumed run writes");
    let history = a.history(&e.arn).unwrap();
    assert_eq!(history.iter().map(|h| h.event_type).collect::<Vec<_>>(), [EventType::ExecutionStarted, EventType::WaitStateEntered]);
}

/// Activity tasks on a shared database: one host offers, any host claims,
/// each task once, oldest first; a withdrawal takes back only this host's
/// own unclaimed offer, and a token offered again (a resumed execution's
/// task) is one task, the offering host's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_activity_task_one_host_offers_is_claimed_once_on_any_host() {
    let (a, b) = two_hosts();
    let (review, other) = ("arn:aws:states:us-east-1:1:activity:review", "arn:aws:states:us-east-1:1:activity:other");
    let wake = b.wakeups().expect("a shared store wakes its waiters");
    let offered = wake.activity_tasks().notified();
    tokio::pin!(offered);
    offered.as_mut().enable();
    for n in 0..40 {
        a.offer_activity_task(review, &format!("t{n}"), &format!(r#"{{"n":{n}}}"#));
    }
    a.offer_activity_task(other, "o0", "{}");
    a.check_writable().await.expect("the offers are committed");
    tokio::time::timeout(std::time::Duration::from_secs(5), offered).await.expect("B is notified of A's offers");

    assert_eq!(b.claim_activity_task(review).unwrap(), Some(("t0".into(), r#"{"n":0}"#.into())), "oldest first");
    let claimers: Vec<_> = (0..4)
        .map(|i| {
            let host = if i % 2 == 0 { a.clone() } else { b.clone() };
            std::thread::spawn(move || {
                let mut got = Vec::new();
                while let Some((token, _)) = host.claim_activity_task(review).unwrap() {
                    got.push(token);
                }
                got
            })
        })
        .collect();
    let mut claimed: Vec<String> = claimers.into_iter().flat_map(|c| c.join().unwrap()).collect();
    claimed.sort_by_key(|t| t[1..].parse::<u32>().unwrap());
    assert_eq!(claimed, (1..40).map(|n| format!("t{n}")).collect::<Vec<_>>(), "each task claimed once");
    assert_eq!(b.claim_activity_task(review).unwrap(), None);

    // Withdrawn only by the host that offered it.
    b.withdraw_activity_task("o0");
    b.check_writable().await.unwrap();
    a.withdraw_activity_task("missing");
    a.check_writable().await.unwrap();
    assert_eq!(a.claim_activity_task(other).unwrap().map(|(t, _)| t), Some("o0".into()));
    a.offer_activity_task(other, "o1", "{}");
    a.withdraw_activity_task("o1");
    a.check_writable().await.unwrap();
    assert_eq!(b.claim_activity_task(other).unwrap(), None, "offered and withdrawn in one go");

    // Offered again by B (it took the execution over): one task, B's; A's
    // withdrawal (its run of the execution ending) no longer takes it.
    a.offer_activity_task(other, "o2", "{}");
    a.check_writable().await.unwrap();
    b.offer_activity_task(other, "o2", "{}");
    b.check_writable().await.unwrap();
    a.withdraw_activity_task("o2");
    a.check_writable().await.unwrap();
    assert_eq!(b.claim_activity_task(other).unwrap().map(|(t, _)| t), Some("o2".into()));
    assert_eq!(a.claim_activity_task(other).unwrap(), None);
}

#[test]
fn activity_tasks_are_in_memory_where_one_host_writes() {
    let store = Store::memory();
    store.offer_activity_task("arn:aws:states:us-east-1:1:activity:review", "t", "{}");
    assert_eq!(store.claim_activity_task("arn:aws:states:us-east-1:1:activity:review").unwrap(), None);
    assert!(store.wakeups().is_none());
}
