//! The journal: events, checkpoints and closes gathered into few writes; starts begun ahead of their record.

use super::*;

/// The journal gathers events and its latest checkpoint into one write while
/// the writer is busy; closing writes what is pending with the status in one
/// operation.
#[tokio::test]
async fn a_journal_gathers_events_into_one_write_and_closes_with_one_more() {
    use stepbox_engine::HistorySink;
    let (held, store, a) = held_store_with_one_execution().await;

    let journal = ExecutionJournal::new(store.clone(), a.arn.clone());
    let events: Vec<HistoryEvent> = (1..=40)
        .map(|id| event(id, EventType::PassStateEntered))
        .collect();
    let cp = checkpoint(json!({"a": 1}), 41);
    for e in &events[..30] {
        journal.record(e.clone());
    }
    journal.checkpoint(&cp);
    assert_eq!(held.queued(), 1, "30 events and a checkpoint: one write");
    held.release();
    assert_eq!(store.history(&a.arn).unwrap(), events[..30]);
    assert_eq!(store.checkpoint(&a.arn).unwrap(), Some(cp.clone()));

    for e in &events[30..] {
        journal.record(e.clone());
    }
    journal.checkpoint(&Checkpoint {
        state: "Done".into(),
        ..cp.clone()
    });
    let closed = journal.close(|r| {
        r.status = "SUCCEEDED".into();
        r.stop_date = Some(t(50));
    });
    assert_eq!(held.queued(), 1, "the pending events' write carries the close");
    held.release();
    assert_eq!(closed.await.unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(store.history(&a.arn).unwrap(), events);
    assert_eq!(store.last_event_id(&a.arn).unwrap(), 40);
    assert_eq!(store.last_event(&a.arn).unwrap().map(|e| e.id), Some(40));
    assert_eq!(
        store.checkpoint(&a.arn).unwrap(),
        None,
        "closed: no checkpoint"
    );
    assert!(store.running_executions().unwrap().is_empty());

    // A close that leaves the execution running (a suspension) keeps the
    // checkpoint that the same write carries.
    let b = execution("sm", "b", 2);
    let inserted = store.insert_execution(b.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    let journal = ExecutionJournal::new(store.clone(), b.arn.clone());
    journal.record(events[0].clone());
    journal.checkpoint(&cp);
    let suspended = journal.close(|r| r.wake_at = Some(t(3600)));
    assert_eq!(held.queued(), 1);
    held.release();
    assert_eq!(suspended.await.unwrap().unwrap().wake_at, Some(t(3600)));
    assert_eq!(store.checkpoint(&b.arn).unwrap(), Some(cp));
    assert_eq!(store.history(&b.arn).unwrap(), events[..1]);
}

/// Numbers are taken on the callers' threads; an insert overtaken on its
/// way to the writer by one numbered after it is re-numbered by the writer,
/// so listing order still follows commit order.
#[tokio::test]
async fn an_overtaken_execution_number_is_renumbered() {
    let store = Store::memory();
    let overtaken = store.next_sequence();
    store.insert_execution(execution("sm", "e1", 1)).await.unwrap().unwrap();
    let (late, s) = (execution("sm", "e2", 1), store.clone());
    let encoded = crate::execution_codec::encode(&late).unwrap();
    let used = store
        .submit(move |w| crate::store::insert_in(w, &late, overtaken, &s, &encoded, None))
        .await
        .unwrap()
        .unwrap();
    assert_eq!((overtaken, used), (1, 3));
    store.insert_execution(execution("sm", "e3", 1)).await.unwrap().unwrap();
    let names: Vec<String> = store
        .list_executions("arn:aws:states:us-east-1:1:stateMachine:sm")
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(names, ["e3", "e2", "e1"]);
}

/// A start that found no such ARN spares the writer its lookup in the table,
/// unless ARN entries moved from memory to the table since: an execution of
/// that ARN inserted meanwhile (and moved by a bulk write) is still found.
#[tokio::test]
async fn an_arn_moved_to_the_table_after_the_check_is_still_found() {
    let store = Store::memory();
    let dup = execution("sm", "dup", 1);
    let checked = store.recent_ids().before_check();
    store.insert_execution(dup.clone()).await.unwrap().unwrap();
    let many: Vec<_> = (0..crate::store::IDS_PER_WRITE)
        .map(|i| store.insert_execution(execution("sm", &format!("many{i}"), 2)))
        .collect();
    for c in many {
        c.await.unwrap().unwrap();
    }
    store.insert_execution(execution("sm", "last", 3)).await.unwrap().unwrap();
    store.submit(|_| Ok(())).await.unwrap();
    assert_eq!(store.recent_ids().get(&dup.arn), None, "moved to the table");
    let (again, s) = (dup.clone(), store.clone());
    let encoded = crate::execution_codec::encode(&again).unwrap();
    let seq = store.next_sequence();
    let inserted = store
        .submit(move |w| crate::store::insert_in(w, &again, seq, &s, &encoded, Some(checked)))
        .await
        .unwrap();
    assert_eq!(inserted.err().map(|r| r.name), Some("dup".to_string()), "found, not inserted twice");
}

/// A StopExecution is queued before a close that would succeed the
/// execution; both are applied together: the close must see the stopped
/// record and leave it ABORTED at the stop's date.
async fn stop_then_close(held: &Held, store: &Store, journal: &ExecutionJournal, arn: &str) {
    let aborted = store.update_execution(arn, |r| {
        r.status = "ABORTED".into();
        r.stop_date = Some(t(5));
    });
    let closed = journal.close(|r| {
        if r.is_running() {
            r.status = "SUCCEEDED".into();
            r.stop_date = Some(t(9));
        }
    });
    held.release();
    aborted.await.unwrap().unwrap();
    assert_eq!(closed.await.unwrap().unwrap().status, "ABORTED");
    let stored = store.get_execution(arn).unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.stop_date), ("ABORTED", Some(t(5))));
}

/// A close is prepared on the caller's thread from the record it reads; when
/// a StopExecution changed the record before the close is applied, the
/// writer applies the close to the changed record instead.
#[tokio::test]
async fn a_close_applies_to_a_record_changed_meanwhile() {
    let (held, store, a) = held_store_with_one_execution().await;

    let journal = ExecutionJournal::new(store.clone(), a.arn.clone());
    stop_then_close(&held, &store, &journal, &a.arn).await;

    // Unchanged meanwhile: the prepared record is written as it is.
    let b = execution("sm", "b", 2);
    let inserted = store.insert_execution(b.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    let closed = ExecutionJournal::new(store.clone(), b.arn.clone()).close(|r| r.status = "SUCCEEDED".into());
    held.release();
    assert_eq!(closed.await.unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(store.get_execution(&b.arn).unwrap().unwrap().status, "SUCCEEDED");
    assert!(store.running_executions().unwrap().is_empty());
}

/// A journal started from the record its caller inserted closes without a
/// read: the close is prepared from that record, and the writer still finds
/// the execution's number and applies the close to a record changed meanwhile.
#[tokio::test]
async fn a_started_journal_closes_without_reading_the_record() {
    use stepbox_engine::HistorySink;
    let (held, store, a) = held_store_with_one_execution().await;
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);

    let journal = ExecutionJournal::started(store.clone(), a.clone());
    let before = reads();
    journal.record(event(1, EventType::ExecutionStarted));
    journal.checkpoint(&checkpoint(json!({"a": 1}), 2));
    let closed = journal.close(|r| {
        r.status = "SUCCEEDED".into();
        r.stop_date = Some(t(9));
    });
    assert_eq!(reads(), before, "no read before the write");
    assert_eq!(held.queued(), 1, "the events' write carries the close");
    held.release();
    assert_eq!(closed.await.unwrap().unwrap().status, "SUCCEEDED");
    let stored = store.get_execution(&a.arn).unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.stop_date), ("SUCCEEDED", Some(t(9))));
    assert_eq!(store.history(&a.arn).unwrap(), [event(1, EventType::ExecutionStarted)]);
    assert_eq!(store.checkpoint(&a.arn).unwrap(), None, "closed: no checkpoint");
    assert!(store.running_executions().unwrap().is_empty());

    // Stopped before the close is applied: the close sees the stopped record.
    let b = execution("sm", "b", 2);
    let inserted = store.insert_execution(b.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    let journal = ExecutionJournal::started(store.clone(), b.clone());
    stop_then_close(&held, &store, &journal, &b.arn).await;
}

/// `Read::last` is the last entry of its prefix's range on every backend
/// (the memory backend's own `last` steps back from the range's end).
#[test]
fn last_finds_the_last_entry_of_a_prefix_on_every_backend() {
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<Arc<dyn Backend>> = vec![
        Arc::new(MemoryBackend::new()),
        Arc::new(RedbBackend::open(&dir.path().join("last.redb"), 1 << 20).unwrap()),
        Arc::new(PostgresBackend::open(&postgres_url()).unwrap()),
    ];
    let keys: [&[u8]; 6] = [b"a\x00\x01", b"a\x00\x02", b"a\x00\xff", b"a\x01", b"b", b"\xff\xff"];
    for backend in backends {
        let (tx, rx) = std::sync::mpsc::channel();
        backend.write(
            Box::new(move |w| {
                for k in keys {
                    w.put(Table::Tags, k, k)?;
                }
                Ok(())
            }),
            Box::new(move |r| tx.send(r).unwrap()),
        );
        rx.recv().unwrap().unwrap();
        let mut found = Vec::new();
        backend
            .read(&mut |r| {
                for prefix in [&b"a\x00"[..], b"a", b"", b"\xff", b"c", b"a\x00\x03"] {
                    found.push(r.last(Table::Tags, prefix)?.map(|(k, _)| k));
                }
                found.push(r.last(Table::Events, b"")?.map(|(k, _)| k));
                Ok(())
            })
            .unwrap();
        let want: Vec<Option<Vec<u8>>> = vec![
            Some(b"a\x00\xff".to_vec()),
            Some(b"a\x01".to_vec()),
            Some(b"\xff\xff".to_vec()),
            Some(b"\xff\xff".to_vec()),
            None,
            None,
            None,
        ];
        assert_eq!(found, want, "{}", backend.describe());
    }
}

/// A run begun ahead of its record: while the writer is busy, the record,
/// the whole history and the close become one write; StartExecution's
/// answer (`recorded`) waits for it.
#[tokio::test]
async fn a_begun_execution_is_inserted_with_its_history_and_close_in_one_write() {
    use stepbox_engine::HistorySink;
    let (held, store) = held_store();
    let b = execution("sm", "b", 2);
    let (journal, mut recorded) = begun(&store, &b);
    let events = [event(1, EventType::ExecutionStarted), event(2, EventType::PassStateEntered)];
    for e in &events {
        journal.record(e.clone());
    }
    journal.checkpoint(&checkpoint(json!({"a": 1}), 2));
    let closed = journal.close(|r| {
        r.status = "SUCCEEDED".into();
        r.stop_date = Some(t(9));
    });
    assert_eq!(held.queued(), 1, "insert, events and close: one write");
    assert!(!resolved(&mut recorded), "answered only once durable");
    assert_eq!(store.get_execution(&b.arn).unwrap(), None, "nothing stored before the write");
    held.release();
    recorded.await.unwrap().unwrap();
    assert_eq!(closed.await.unwrap().unwrap().status, "SUCCEEDED");
    let stored = store.get_execution(&b.arn).unwrap().unwrap();
    assert_eq!((stored.status.as_str(), stored.stop_date), ("SUCCEEDED", Some(t(9))));
    assert_eq!(store.history(&b.arn).unwrap(), events);
    assert_eq!(store.checkpoint(&b.arn).unwrap(), None, "closed: no checkpoint");
    assert!(store.running_executions().unwrap().is_empty(), "never in the running index");
    let listed = store.list_executions(&b.state_machine_arn).unwrap();
    assert_eq!(listed.iter().map(|r| r.name.as_str()).collect::<Vec<_>>(), ["b"]);
}

/// A run still going when its record is written carries on as a started
/// journal: later events and the close are a second write, prepared without
/// a read, and a restart would find it RUNNING with its checkpoint.
#[tokio::test]
async fn a_begun_execution_written_while_running_closes_later_without_a_read() {
    use stepbox_engine::HistorySink;
    let (held, store) = held_store();
    let b = execution("sm", "b", 2);
    let (journal, recorded) = begun(&store, &b);
    journal.record(event(1, EventType::ExecutionStarted));
    journal.checkpoint(&checkpoint(json!({"a": 1}), 2));
    held.release();
    recorded.await.unwrap().unwrap();
    assert!(store.get_execution(&b.arn).unwrap().unwrap().is_running());
    assert_eq!(store.running_executions().unwrap().len(), 1);
    assert_eq!(store.checkpoint(&b.arn).unwrap(), Some(checkpoint(json!({"a": 1}), 2)));

    let reads = held.reads.load(std::sync::atomic::Ordering::Relaxed);
    journal.record(event(2, EventType::PassStateEntered));
    journal.close_logged(|r| r.status = "SUCCEEDED".into());
    assert_eq!(held.reads.load(std::sync::atomic::Ordering::Relaxed), reads, "no read for the close");
    assert_eq!(held.queued(), 1);
    held.release();
    assert_eq!(store.get_execution(&b.arn).unwrap().unwrap().status, "SUCCEEDED");
    assert_eq!(store.history(&b.arn).unwrap().len(), 2);
    assert!(store.running_executions().unwrap().is_empty());
}

/// A taken name is never run twice: a stored one is found before the run
/// begins; a second start while the first is still being recorded is
/// queued behind it and finds it.
#[tokio::test]
async fn begin_finds_a_taken_name() {
    let (held, store, a) = held_store_with_one_execution().await;
    assert!(matches!(ExecutionJournal::begin(&store, a.clone()).unwrap(), Begun::Exists(stored) if stored == a));

    let b = execution("sm", "b", 2);
    let (_journal, recorded) = begun(&store, &b);
    let Begun::Behind(second) = ExecutionJournal::begin(&store, b.clone()).unwrap() else {
        panic!("a start of a name being recorded waits behind it")
    };
    held.release();
    recorded.await.unwrap().unwrap();
    assert_eq!(second.await.unwrap(), Err(b.clone()), "the first start's record");
    // Released once recorded: a later start finds it stored.
    assert!(matches!(ExecutionJournal::begin(&store, b.clone()).unwrap(), Begun::Exists(_)));
}

/// Should a start begin while another insert of its ARN is queued but not
/// yet durable (a plain `insert_execution` takes no claim), the writer
/// refuses the begun one's insert and writes nothing of its run: its close
/// fails.
#[tokio::test]
async fn a_refused_begin_writes_nothing_of_its_run() {
    use stepbox_engine::HistorySink;
    let (held, store) = held_store();
    let c = execution("sm", "c", 3);
    let first = store.insert_execution(c.clone());
    let (second, second_recorded) = begun(&store, &c);
    second.record(event(1, EventType::ExecutionStarted));
    second.record(event(2, EventType::PassStateEntered));
    let second_closed = second.close(|r| r.status = "FAILED".into());
    held.release();
    first.await.unwrap().unwrap();
    assert_eq!(second_recorded.await.unwrap(), Err(c.clone()));
    assert!(second_closed.await.is_err(), "the refused run's close is not written");
    second.record(event(3, EventType::PassStateExited));
    held.release();
    assert_eq!(store.history(&c.arn).unwrap(), []);
    assert!(store.get_execution(&c.arn).unwrap().unwrap().is_running());
}
