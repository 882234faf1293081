//! Listing, purging and finding executions; the ARN index.

use super::*;

/// ListExecutions' pages: newest first, continued below a cursor (the last
/// number returned), so executions started between two pages neither shift
/// the next page nor repeat in it; `keep` filters within the page.
#[tokio::test]
async fn executions_are_listed_in_pages_below_a_cursor() {
    for (store, _dir) in backends() {
        let sm = "arn:aws:states:us-east-1:1:stateMachine:sm";
        for i in 0..7 {
            let mut r = execution("sm", &format!("e{i}"), i);
            if i % 2 == 1 {
                r.status = "SUCCEEDED".into();
            }
            store.insert_execution(r).await.unwrap().unwrap();
        }
        store.insert_execution(execution("other", "x", 9)).await.unwrap().unwrap();
        let names = |page: &[ExecutionRecord]| page.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
        let (first, next) = store.list_executions_page(sm, None, 3, &mut |_| true).unwrap();
        assert_eq!(names(&first), ["e6", "e5", "e4"]);
        // Started between the pages: on no later page.
        store.insert_execution(execution("sm", "late", 10)).await.unwrap().unwrap();
        let (second, next) = store.list_executions_page(sm, next, 3, &mut |_| true).unwrap();
        assert_eq!(names(&second), ["e3", "e2", "e1"]);
        let (third, next) = store.list_executions_page(sm, next, 3, &mut |_| true).unwrap();
        assert_eq!((names(&third), next), (vec!["e0".to_string()], None));
        let (exact, next) = store.list_executions_page(sm, None, 8, &mut |_| true).unwrap();
        assert_eq!((exact.len(), next), (8, None), "a full last page has no cursor");

        let succeeded = &mut |r: &ExecutionRecord| r.status == "SUCCEEDED";
        let (page, next) = store.list_executions_page(sm, None, 2, succeeded).unwrap();
        assert_eq!(names(&page), ["e5", "e3"]);
        let (page, next) = store.list_executions_page(sm, next, 2, succeeded).unwrap();
        assert_eq!((names(&page), next), (vec!["e1".to_string()], None));
    }
}

/// A retention sweep goes through the executions in batches, oldest first,
/// one write each: every closed execution stopped before the cutoff goes,
/// however many batches they span, with its history; running ones and ones
/// that stopped later stay.
#[tokio::test]
async fn a_purge_goes_through_every_batch() {
    for (store, _dir) in backends() {
        let closed = |name: &str, start: i64, stop: i64| ExecutionRecord {
            status: "SUCCEEDED".into(),
            stop_date: Some(t(stop)),
            ..execution("sm", name, start)
        };
        let mut old: Vec<ExecutionRecord> = (0..10).map(|i| closed(&format!("old{i}"), i, 20 + i)).collect();
        old.insert(4, execution("sm", "running", 4));
        let late = closed("late", 12, 40);
        let new = closed("new", 50, 60);
        for r in old.iter().chain([&late, &new]) {
            store.insert_execution(r.clone()).await.unwrap().unwrap();
            store.append_event(&r.arn, &event(1, EventType::PassStateEntered)).await.unwrap();
        }
        assert_eq!(store.purge_in_batches(t(35), 3).await.unwrap(), 10);
        for r in &old {
            let kept = store.get_execution(&r.arn).unwrap().is_some();
            assert_eq!(kept, r.is_running(), "{}", r.name);
            assert_eq!(store.history(&r.arn).unwrap().is_empty(), !kept, "{}", r.name);
        }
        for r in [&late, &new] {
            assert!(store.get_execution(&r.arn).unwrap().is_some(), "{}", r.name);
        }
        let listed: Vec<String> =
            store.list_executions(&new.state_machine_arn).unwrap().into_iter().map(|r| r.name).collect();
        assert_eq!(listed, ["new", "late", "running"]);
    }
}

/// A purge whose commit fails leaves the executions it would have deleted
/// findable by ARN (their entries stay in memory until a bulk write finds
/// their records gone).
#[tokio::test]
async fn a_purge_that_fails_to_commit_loses_no_execution() {
    let (held, store) = held_store();
    let old = ExecutionRecord { status: "SUCCEEDED".into(), stop_date: Some(t(3)), ..execution("sm", "old", 1) };
    let inserted = store.insert_execution(old.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    let purged = store.purge_closed_before(t(10));
    held.fail_commit();
    assert!(purged.await.is_err());
    assert_eq!(store.get_execution(&old.arn).unwrap(), Some(old.clone()));
    let purged = store.purge_closed_before(t(10));
    held.release();
    assert_eq!(purged.await.unwrap(), 1);
    assert_eq!(store.get_execution(&old.arn).unwrap(), None);
}

/// A begun execution whose first write fails to commit is not recorded, and
/// its run's later writes (applied before or after it hears) find no
/// execution and write nothing: no events under a number a later execution
/// could get.
#[tokio::test]
async fn a_begun_execution_whose_insert_fails_to_commit_writes_nothing_later() {
    use stepbox_engine::HistorySink;
    let (held, store) = held_store();
    let d = execution("sm", "d", 4);
    let (journal, recorded) = begun(&store, &d);
    journal.record(event(1, EventType::ExecutionStarted));
    held.fail_commit();
    assert!(recorded.await.is_err(), "StartExecution hears the failure");
    journal.record(event(2, EventType::PassStateEntered));
    let closed = journal.close(|r| r.status = "SUCCEEDED".into());
    held.release();
    assert!(closed.await.is_err(), "the close finds no execution");
    assert_eq!(store.get_execution(&d.arn).unwrap(), None);
    let e = execution("sm", "e", 5);
    let inserted = store.insert_execution(e.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    assert_eq!(store.history(&e.arn).unwrap(), [], "no events left under a reused number");
    let mut events_stored = 0;
    held.inner
        .read(&mut |r| {
            events_stored = r.scan(Table::Events, b"")?.len();
            Ok(())
        })
        .unwrap();
    assert_eq!(events_stored, 0, "none of the unrecorded run's events under any number");
    // Released: the name can be started again.
    assert!(matches!(ExecutionJournal::begin(&store, d).unwrap(), Begun::Recording { .. }));
}

/// New executions' ARN entries wait in memory and are written to the
/// `ExecutionIds` table in bulk once enough have gathered; until then
/// lookups find them in memory, and a store opened after a crash (here: a
/// second store over the same file, which reads back what the first left
/// unwritten) rebuilds them from the records after the mark.
#[tokio::test]
async fn the_arn_index_is_written_in_bulk_and_rebuilt_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join(STORE_FILE), 1 << 20).unwrap());
    let in_table = |arn: &str| {
        let mut found = false;
        backend
            .read(&mut |r| {
                found = !r.scan(Table::ExecutionIds, &crate::store::arn_entry(arn, 0)[..8])?.is_empty();
                Ok(())
            })
            .unwrap();
        found
    };
    let store = Store::new(backend.clone());
    let early: Vec<ExecutionRecord> = (0..10).map(|i| execution("sm", &format!("early{i}"), i)).collect();
    let commits: Vec<_> = early.iter().map(|r| store.insert_execution(r.clone())).collect();
    for c in commits {
        c.await.unwrap().unwrap();
    }
    for r in &early {
        assert_eq!(store.get_execution(&r.arn).unwrap().as_ref(), Some(r));
        assert!(!in_table(&r.arn), "not written one by one");
    }
    assert!(matches!(ExecutionJournal::begin(&store, early[0].clone()).unwrap(), Begun::Exists(_)));

    // A store opened over what the first one left (as after a crash) finds them.
    let reopened = Store::new(backend.clone());
    for r in &early {
        assert_eq!(reopened.get_execution(&r.arn).unwrap().as_ref(), Some(r));
    }
    drop(reopened);

    let many: Vec<ExecutionRecord> =
        (0..crate::store::IDS_PER_WRITE).map(|i| execution("sm", &format!("many{i}"), 20)).collect();
    let commits: Vec<_> = many.iter().map(|r| store.insert_execution(r.clone())).collect();
    for c in commits {
        c.await.unwrap().unwrap();
    }
    // The bulk write is queued once the inserts that fill memory are applied
    // (by this insert at the latest); writes commit, and their writers are
    // told, in order: once the empty write after it has been answered, the
    // bulk write is durable and its entries have left memory.
    let last = execution("sm", "last", 30);
    store.insert_execution(last.clone()).await.unwrap().unwrap();
    store.submit(|_| Ok(())).await.unwrap();
    assert!(early.iter().all(|r| in_table(&r.arn)), "written in bulk");
    assert!(store.recent_ids().len() < crate::store::IDS_PER_WRITE, "and dropped from memory");
    // The ARN filter a store opens with holds every ARN in the table (read
    // here in batches of 100, as it reads millions in batches).
    let filter = store.read(|r| crate::store::filter_of_table_in_batches(r, 100)).unwrap();
    for r in early.iter().chain(&many) {
        assert!(filter.may_contain(u64::from_be_bytes(crate::store::keys::arn_hash(&r.arn))), "{}", r.arn);
    }
    let reopened = Store::new(backend.clone());
    for r in early.iter().chain(&many).chain([&last]) {
        assert_eq!(reopened.get_execution(&r.arn).unwrap().as_ref(), Some(r));
        assert_eq!(store.get_execution(&r.arn).unwrap().as_ref(), Some(r));
    }
    assert_eq!(reopened.recent_ids().len(), store.recent_ids().len(), "only the unwritten ones read back");
}

/// A start looks its new ARN up without a read (the ARN filter knows no
/// execution has it), in the store that inserted the others and in one
/// opened after; a taken ARN is still found.
#[tokio::test]
async fn a_new_arn_is_looked_up_without_a_read() {
    let (held, store) = held_store();
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);
    let taken = execution("sm", "taken", 0);
    let commit = store.insert_execution(taken.clone());
    held.release();
    commit.await.unwrap().unwrap();
    let reopened = Store::new(held.clone());
    for store in [&store, &reopened] {
        let before = reads();
        for i in 0..100 {
            assert!(store.get_execution(&execution("sm", &format!("new-{i}"), 1).arn).unwrap().is_none());
        }
        // One chance in ~50 of a false positive per ARN: a few reads at most.
        assert!(reads() - before < 10, "{} reads for 100 new ARNs", reads() - before);
        assert_eq!(store.get_execution(&taken.arn).unwrap().map(|r| r.arn), Some(taken.arn.clone()));
    }
}

/// A closed execution made RUNNING again (RedriveExecution) is in the
/// running index again, so a restart resumes it.
#[tokio::test]
async fn a_reopened_execution_is_running_again_for_a_restart() {
    for (store, _dir) in backends() {
        let mut r = execution("sm", "redriven", 1);
        r.status = "FAILED".into();
        let arn = r.arn.clone();
        store.insert_execution(r).await.unwrap().unwrap();
        assert!(store.running_executions().unwrap().is_empty());
        store.update_execution(&arn, |r| r.status = "RUNNING".into()).await.unwrap().unwrap();
        let running: Vec<String> = store.running_executions().unwrap().into_iter().map(|r| r.arn).collect();
        assert_eq!(running, vec![arn.clone()]);
        store.update_execution(&arn, |r| r.status = "SUCCEEDED".into()).await.unwrap().unwrap();
        assert!(store.running_executions().unwrap().is_empty());
    }
}
