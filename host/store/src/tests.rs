//! The typed store over both backends, and the redb file's start-up checks.

use super::*;
use chrono::{TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;
use stepbox_engine::{Checkpoint, Details, EventType, HistoryEvent};

fn t(s: i64) -> chrono::DateTime<Utc> {
    Utc.timestamp_opt(1_700_000_000 + s, 0).unwrap()
}

fn execution(sm: &str, name: &str, start: i64) -> ExecutionRecord {
    ExecutionRecord {
        arn: format!("arn:aws:states:us-east-1:1:execution:{sm}:{name}"),
        name: name.into(),
        state_machine_arn: format!("arn:aws:states:us-east-1:1:stateMachine:{sm}"),
        status: "RUNNING".into(),
        input: "{}".into(),
        output: None,
        error: None,
        cause: None,
        start_date: t(start),
        stop_date: None,
        express: false,
        wake_at: None,
        definition: "{}".into(),
        revision_id: String::new(),
        state_machine_version_arn: None,
        state_machine_alias_arn: None,
        extra: Default::default(),
    }
}

fn event(id: u64, ty: EventType) -> HistoryEvent {
    HistoryEvent {
        id,
        previous_event_id: id - 1,
        timestamp: t(id as i64),
        event_type: ty,
        details: Details::StateEntered {
            name: "S".into(),
            input: "{\"a\":1}".into(),
        },
    }
}

/// A checkpoint before state `S` with `input`, entered as event `entered`.
fn checkpoint(input: serde_json::Value, entered: u64) -> Checkpoint {
    Checkpoint {
        state: "S".into(),
        input,
        variables: Default::default(),
        entered_event_id: entered,
        entered_at: t(entered as i64),
        progress: Default::default(),
    }
}

/// Opens `dir` again once the writer thread of the handle dropped before
/// lets go of the file (it may hold it for a moment).
fn reopen(dir: &std::path::Path) -> Store {
    (0..100)
        .find_map(|_| match open_dir(dir) {
            Ok(s) => Some(s),
            Err(_) => {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            }
        })
        .expect("reopen")
}

fn backends() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let durable = open_dir(dir.path()).unwrap();
    vec![(Store::memory(), None), (durable, Some(dir))]
}

#[tokio::test]
async fn executions_histories_and_checkpoints_round_trip() {
    for (store, _dir) in backends() {
        let a = execution("sm", "a", 1);
        let b = execution("sm", "b", 2);
        store.insert_execution(a.clone()).await.unwrap().unwrap();
        store.insert_execution(b.clone()).await.unwrap().unwrap();
        let dup = store.insert_execution(a.clone()).await.unwrap();
        assert_eq!(
            dup.map_err(|e| e.name),
            Err("a".to_string()),
            "{}",
            store.describe()
        );
        let names: Vec<String> = store
            .list_executions(&a.state_machine_arn)
            .unwrap()
            .into_iter()
            .map(|e| e.name)
            .collect();
        assert_eq!(names, ["b", "a"], "newest first");
        assert_eq!(store.running_executions().unwrap().len(), 2);

        // Events out of order come back ordered by id (ids above 255 sort numerically).
        for id in [3, 1, 2, 300] {
            drop(store.append_event(&a.arn, &event(id, EventType::PassStateEntered)));
        }
        let cp = checkpoint(json!({"x": 1}), 2);
        store.save_checkpoint(&a.arn, &cp).await.unwrap();
        let h = store.history(&a.arn).unwrap();
        assert_eq!(h.iter().map(|e| e.id).collect::<Vec<_>>(), [1, 2, 3, 300]);
        assert_eq!(
            h[0].to_aws_json(),
            event(1, EventType::PassStateEntered).to_aws_json()
        );
        assert_eq!(store.last_event_id(&a.arn).unwrap(), 300);
        assert_eq!(
            store.last_event_id(&b.arn).unwrap(),
            0,
            "no bleed between executions"
        );
        assert_eq!(store.checkpoint(&a.arn).unwrap(), Some(cp));

        let closed = store
            .update_execution(&a.arn, |r| {
                r.status = "SUCCEEDED".into();
                r.stop_date = Some(t(10));
            })
            .await
            .unwrap()
            .unwrap();
        assert_eq!(closed.status, "SUCCEEDED");
        assert_eq!(
            store.checkpoint(&a.arn).unwrap(),
            None,
            "a closed execution drops its checkpoint"
        );
        assert_eq!(
            store
                .running_executions()
                .unwrap()
                .iter()
                .map(|e| e.name.clone())
                .collect::<Vec<_>>(),
            ["b"]
        );
        assert!(
            store
                .update_execution("arn:nope", |_| {})
                .await
                .unwrap()
                .is_none()
        );

        // Retention: only closed executions stopped before the cutoff go.
        assert_eq!(store.purge_closed_before(t(5)).await.unwrap(), 0);
        assert_eq!(store.purge_closed_before(t(11)).await.unwrap(), 1);
        assert!(store.get_execution(&a.arn).unwrap().is_none());
        assert!(store.history(&a.arn).unwrap().is_empty());
        assert_eq!(
            store.list_executions(&a.state_machine_arn).unwrap().len(),
            1
        );
        assert!(store.get_execution(&b.arn).unwrap().is_some());
    }
}

#[tokio::test]
async fn machines_versions_aliases_tags_functions_and_tokens_round_trip() {
    for (store, _dir) in backends() {
        let sm = StateMachineRecord {
            arn: "arn:aws:states:us-east-1:1:stateMachine:m".into(),
            name: "m".into(),
            definition: "{}".into(),
            role_arn: "r".into(),
            kind: "STANDARD".into(),
            description: String::new(),
            creation_date: t(0),
            revision_id: "r1".into(),
            extra: Default::default(),
        };
        store
            .insert_state_machine(sm.clone())
            .await
            .unwrap()
            .unwrap();
        assert!(
            store
                .insert_state_machine(sm.clone())
                .await
                .unwrap()
                .is_err()
        );
        assert_eq!(store.list_state_machines().unwrap(), [sm.clone()]);
        let candidate = |revision: &str| VersionRecord {
            arn: String::new(),
            state_machine_arn: sm.arn.clone(),
            number: 0,
            definition: "{}".into(),
            role_arn: "r".into(),
            description: String::new(),
            creation_date: t(1),
            revision_id: revision.into(),
            extra: Default::default(),
        };
        let (v1, created) = store.publish_version(candidate("")).await.unwrap();
        assert!(created);
        assert_eq!((v1.number, v1.arn.clone()), (1, format!("{}:1", sm.arn)));
        let (again, created) = store.publish_version(candidate("")).await.unwrap();
        assert!(!created, "the same revision is not published twice");
        assert_eq!(again, v1);
        let (v2, _) = store.publish_version(candidate("r2")).await.unwrap();
        assert!(store.delete_version(&v2.arn).await.unwrap());
        let (v3, _) = store.publish_version(candidate("r3")).await.unwrap();
        assert_eq!(v3.number, 3, "numbers are never reused");
        for n in [4u64, 10] {
            store
                .put_version(&VersionRecord {
                    arn: format!("{}:{n}", sm.arn),
                    number: n,
                    ..candidate("x")
                })
                .await
                .unwrap();
        }
        let versions: Vec<u64> = store
            .list_versions(&sm.arn)
            .unwrap()
            .iter()
            .map(|v| v.number)
            .collect();
        assert_eq!(versions, [10, 4, 3, 1]);
        let alias = AliasRecord {
            arn: format!("{}:prod", sm.arn),
            state_machine_arn: sm.arn.clone(),
            name: "prod".into(),
            description: String::new(),
            routing: vec![Route {
                version_arn: format!("{}:1", sm.arn),
                weight: 100,
            }],
            creation_date: t(0),
            update_date: t(0),
            extra: Default::default(),
        };
        store.insert_alias(alias.clone()).await.unwrap().unwrap();
        assert!(store.insert_alias(alias.clone()).await.unwrap().is_err());
        assert!(
            store
                .update_alias(AliasRecord {
                    description: "d".into(),
                    ..alias.clone()
                })
                .await
                .unwrap()
        );
        assert_eq!(store.list_aliases(&sm.arn).unwrap()[0].description, "d");
        assert!(
            !store
                .update_alias(AliasRecord {
                    arn: "nope".into(),
                    ..alias.clone()
                })
                .await
                .unwrap()
        );
        store
            .set_tags(&sm.arn, vec![("k".into(), "v".into())])
            .await
            .unwrap();
        assert_eq!(
            store.tags(&sm.arn).unwrap(),
            [("k".to_string(), "v".to_string())]
        );
        assert!(store.delete_state_machine(&sm.arn).await.unwrap());
        assert!(store.tags(&sm.arn).unwrap().is_empty());
        assert!(
            store.list_versions(&sm.arn).unwrap().is_empty(),
            "versions go with their machine"
        );
        assert!(
            store.list_aliases(&sm.arn).unwrap().is_empty(),
            "aliases go with their machine"
        );

        let f = FunctionRecord {
            name: "echo".into(),
            arn: "arn:aws:lambda:us-east-1:1:function:echo".into(),
            sha256: "00".into(),
            configuration: json!({"FunctionName": "echo"}),
            last_modified: t(0),
        };
        store
            .put_function(&f, Arc::from(&b"\0asm"[..]))
            .await
            .unwrap();
        store
            .put_artifact("00-engine", Arc::from(&b"elf"[..]))
            .await
            .unwrap();
        assert_eq!(store.get_function("echo").unwrap(), Some(f));
        assert_eq!(
            store.function_code("echo").unwrap().as_deref(),
            Some(&b"\0asm"[..])
        );
        assert_eq!(
            store.artifact("00-engine").unwrap().as_deref(),
            Some(&b"elf"[..])
        );
        assert!(store.delete_function("echo").await.unwrap());
        assert!(store.function_code("echo").unwrap().is_none());
        for key in ["01-engine", "00-old-engine"] {
            store.put_artifact(key, Arc::from(&b"elf"[..])).await.unwrap();
        }
        assert_eq!(store.artifact_keys().unwrap(), ["00-engine", "00-old-engine", "01-engine"]);
        let keep = ["00-engine".to_string(), "01-engine".to_string()].into();
        assert_eq!(store.delete_artifacts_except(keep).await.unwrap(), 1);
        assert_eq!(store.artifact_keys().unwrap(), ["00-engine", "01-engine"]);
        assert_eq!(store.artifact("01-engine").unwrap().as_deref(), Some(&b"elf"[..]));

        let token = TaskTokenRecord {
            token: "tok".into(),
            execution_arn: "e".into(),
            state_name: "S".into(),
            entered_event_id: 4,
            created: t(0),
            extra: json!(null),
        };
        store.put_task_token(&token).await.unwrap();
        assert_eq!(store.task_tokens().unwrap(), [token.clone()]);
        assert_eq!(store.take_task_token("tok").await.unwrap(), Some(token));
        assert_eq!(
            store.take_task_token("tok").await.unwrap(),
            None,
            "a token is consumed once"
        );
    }
}

#[tokio::test]
async fn a_reopened_directory_keeps_everything() {
    let dir = tempfile::tempdir().unwrap();
    let e = execution("sm", "a", 1);
    {
        let store = open_dir(dir.path()).unwrap();
        store.insert_execution(e.clone()).await.unwrap().unwrap();
        drop(store.append_event(&e.arn, &event(1, EventType::ExecutionStarted)));
        store
            .append_event(&e.arn, &event(2, EventType::PassStateEntered))
            .await
            .unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.running_executions().unwrap().len(), 1);
    assert_eq!(store.history(&e.arn).unwrap().len(), 2);
}

#[tokio::test]
async fn many_concurrent_writers_share_commits() {
    let dir = tempfile::tempdir().unwrap();
    let backend = Arc::new(RedbBackend::open(&dir.path().join("s.redb"), 8 << 20).unwrap());
    let stats = backend.stats().clone();
    let store = Store::new(backend);
    let x = execution("sm", "x", 1);
    store.insert_execution(x.clone()).await.unwrap().unwrap();
    let writes: Vec<_> = (0..2000)
        .map(|i| store.append_event(&x.arn, &event(i + 1, EventType::PassStateEntered)))
        .collect();
    for w in writes {
        w.await.unwrap();
    }
    let commits = stats.commits.load(std::sync::atomic::Ordering::Relaxed) - 1;
    assert_eq!(stats.ops.load(std::sync::atomic::Ordering::Relaxed), 2001);
    assert!(commits < 200, "2000 queued writes took {commits} commits");
    assert_eq!(store.history(&x.arn).unwrap().len(), 2000);
}

/// A data directory another server holds is refused as in use, and so
/// named, not as damaged; once that server stops it opens.
#[test]
fn a_store_in_use_is_an_error_that_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let first = open_dir(dir.path()).unwrap();
    let err = open_dir(dir.path()).err().expect("a store in use must not open twice");
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");
    assert!(err.to_string().contains("in use by another process"), "{err}");
    assert!(!err.to_string().contains("not a readable"), "{err}");
    drop(first);
    // The writer thread lets go of the file once its queue is closed.
    let reopened = (0..100).find_map(|_| {
        std::thread::sleep(std::time::Duration::from_millis(20));
        open_dir(dir.path()).ok()
    });
    assert!(reopened.is_some(), "the store opens again once the first is dropped");
}

#[test]
fn a_foreign_or_damaged_file_is_an_error_not_a_reset() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join(STORE_FILE);
    std::fs::write(&file, b"hello, I am a text file and not a database at all").unwrap();
    let err = open_dir(dir.path()).err().expect("garbage must not open");
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");
    assert!(err.to_string().contains("stepbox.redb"), "{err}");
    assert_eq!(
        std::fs::read(&file).unwrap(),
        b"hello, I am a text file and not a database at all",
        "left alone"
    );

    // Some other program's redb database.
    std::fs::remove_file(&file).unwrap();
    {
        let db = redb::Database::create(&file).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&str, u64>::new("their_table"))
            .unwrap()
            .insert("k", 1)
            .unwrap();
        tx.commit().unwrap();
    }
    let err = open_dir(dir.path())
        .err()
        .expect("a foreign database must not open");
    assert!(err.to_string().contains("their_table"), "{err}");

    // A store of an unknown format version: refused, not reset.
    std::fs::remove_file(&file).unwrap();
    {
        let db = redb::Database::create(&file).unwrap();
        let tx = db.begin_write().unwrap();
        tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new("meta"))
            .unwrap()
            .insert(b"format".as_slice(), b"stepbox-store/9".as_slice())
            .unwrap();
        tx.commit().unwrap();
    }
    let err = open_dir(dir.path())
        .err()
        .expect("an unknown format must not open");
    assert!(
        err.to_string().contains("'stepbox-store/9' is not supported"),
        "{err}"
    );

    // A store file cut short (a damaged disk, a partial copy).
    std::fs::remove_file(&file).unwrap();
    {
        let store = open_dir(dir.path()).unwrap();
        drop(store);
    }
    std::thread::sleep(std::time::Duration::from_millis(100));
    let len = std::fs::metadata(&file).unwrap().len();
    let bytes = std::fs::read(&file).unwrap();
    std::fs::write(&file, &bytes[..(len as usize / 3).max(64)]).unwrap();
    let err = open_dir(dir.path())
        .err()
        .expect("a truncated store must not open");
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");

    // A data directory that is a file.
    let err = open_dir(&file)
        .err()
        .expect("a file is not a data directory");
    assert!(matches!(err, StoreError::Unusable { .. }), "{err}");
}

/// A format 1 store (executions, the running index, checkpoints and events
/// keyed by execution ARN) opens migrated: everything reads as before and new
/// executions are numbered after the old ones.
#[tokio::test]
async fn a_format_1_store_is_migrated_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let numbered = |mut r: ExecutionRecord, seq: u64| {
        r.extra.insert("sequence".into(), json!(seq));
        r
    };
    let a = numbered(execution("sm", "a", 1), 1);
    let b = ExecutionRecord {
        status: "SUCCEEDED".into(),
        stop_date: Some(t(3)),
        ..numbered(execution("sm", "b", 2), 2)
    };
    let events: Vec<HistoryEvent> = (1..=3).map(|id| event(id, EventType::PassStateEntered)).collect();
    let mut chunk = crate::events::EventChunk::default();
    for e in &events {
        chunk.push(e).unwrap();
    }
    let cp = checkpoint(json!({"x": 1}), 2);
    let child = |parent: &str, n: u64| [parent.as_bytes(), &[0], &n.to_be_bytes()].concat();
    {
        let db = redb::Database::create(dir.path().join(STORE_FILE)).unwrap();
        let tx = db.begin_write().unwrap();
        let put = |table: &str, k: &[u8], v: &[u8]| {
            tx.open_table(redb::TableDefinition::<&[u8], &[u8]>::new(table))
                .unwrap()
                .insert(k, v)
                .unwrap();
        };
        put("meta", b"format", b"stepbox-store/1");
        put("meta", b"execution_sequence", &2u64.to_be_bytes());
        for r in [&a, &b] {
            put("executions", r.arn.as_bytes(), &serde_json::to_vec(r).unwrap());
        }
        put("executions_by_machine", &child(&a.state_machine_arn, 1), a.arn.as_bytes());
        put("executions_by_machine", &child(&b.state_machine_arn, 2), b.arn.as_bytes());
        put("running", a.arn.as_bytes(), b"");
        put("events", &child(&a.arn, 3), chunk.bytes());
        put("checkpoints", a.arn.as_bytes(), &crate::store::encode_checkpoint(&cp).unwrap());
        tx.commit().unwrap();
    }
    let store = open_dir(dir.path()).unwrap();
    assert_eq!(store.get_execution(&a.arn).unwrap(), Some(a.clone()));
    assert_eq!(store.get_execution(&b.arn).unwrap(), Some(b.clone()));
    assert_eq!(store.history(&a.arn).unwrap(), events);
    assert_eq!(store.last_event_id(&a.arn).unwrap(), 3);
    assert_eq!(store.checkpoint(&a.arn).unwrap(), Some(cp));
    let running: Vec<String> = store.running_executions().unwrap().into_iter().map(|r| r.name).collect();
    assert_eq!(running, ["a"]);
    store.insert_execution(execution("sm", "c", 4)).await.unwrap().unwrap();
    let listed: Vec<String> = store
        .list_executions(&a.state_machine_arn)
        .unwrap()
        .into_iter()
        .map(|r| r.name)
        .collect();
    assert_eq!(listed, ["c", "b", "a"], "numbered after the migrated ones");
}

/// A backend whose writes wait until released (a busy writer thread).
#[derive(Default)]
struct Held {
    inner: MemoryBackend,
    queue: std::sync::Mutex<Vec<(WriteOp, Done)>>,
    /// Read transactions begun (outside the writer).
    reads: std::sync::atomic::AtomicUsize,
}

impl Held {
    fn queued(&self) -> usize {
        self.queue.lock().unwrap().len()
    }
    fn release(&self) {
        let queued = std::mem::take(&mut *self.queue.lock().unwrap());
        for (op, done) in queued {
            self.inner.write(op, done);
        }
    }
}

impl Held {
    /// Applies the queued writes in a transaction that then fails to commit
    /// (to a copy of the data, so nothing stays) and tells their writers so.
    fn fail_commit(&self) {
        let queued = std::mem::take(&mut *self.queue.lock().unwrap());
        let scratch = self.inner.copy();
        for (op, done) in queued {
            scratch.write(op, Box::new(|_| {}));
            done(Err(StoreError::Database("disk full".into())));
        }
    }
}

impl Backend for Held {
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        self.reads.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.inner.read(f)
    }
    fn write(&self, op: WriteOp, done: Done) {
        self.queue.lock().unwrap().push((op, done));
    }
    fn describe(&self) -> String {
        "held".into()
    }
}

/// A store whose writes wait for `Held::release`, holding execution `a`.
async fn held_store_with_one_execution() -> (Arc<Held>, Store, ExecutionRecord) {
    let (held, store) = held_store();
    let a = execution("sm", "a", 1);
    let inserted = store.insert_execution(a.clone());
    held.release();
    inserted.await.unwrap().unwrap();
    (held, store, a)
}

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

/// `Read::last` is the last entry of its prefix's range on both backends
/// (the memory backend's own `last` steps back from the range's end).
#[test]
fn last_finds_the_last_entry_of_a_prefix_on_both_backends() {
    let dir = tempfile::tempdir().unwrap();
    let backends: Vec<Arc<dyn Backend>> = vec![
        Arc::new(MemoryBackend::new()),
        Arc::new(RedbBackend::open(&dir.path().join("last.redb"), 1 << 20).unwrap()),
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

/// Whether `commit` has resolved yet (polled once).
fn resolved<T>(commit: &mut Commit<T>) -> bool {
    let waker = std::task::Waker::noop();
    commit.as_mut().poll(&mut std::task::Context::from_waker(waker)).is_ready()
}

/// A store whose writes wait for `Held::release`.
fn held_store() -> (Arc<Held>, Store) {
    let held = Arc::new(Held::default());
    let store = Store::new(held.clone());
    (held, store)
}

/// Begins `record` on `store`, which must record it with the journal's first write.
fn begun(store: &Store, record: &ExecutionRecord) -> (ExecutionJournal, Commit<Result<(), ExecutionRecord>>) {
    match ExecutionJournal::begin(store, record.clone()).unwrap() {
        Begun::Recording { journal, recorded } => (journal, recorded),
        _ => panic!("a new name is recorded by its journal"),
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

/// The redb file in `dir`, once the writer thread of a store dropped before
/// has let it go.
fn raw_db(dir: &std::path::Path) -> redb::Database {
    (0..100)
        .find_map(|_| {
            redb::Database::create(dir.join(STORE_FILE)).ok().or_else(|| {
                std::thread::sleep(std::time::Duration::from_millis(20));
                None
            })
        })
        .expect("the store's file is let go")
}

/// Writes `arn → seq` into the ARN index formats 2 to 4 kept (the table
/// `execution_ids`) and labels the file `format`, as such a store left it.
/// `written`: the mark up to which the entries are in the table (None: no mark, as format 2).
fn as_legacy_arn_index(dir: &std::path::Path, entries: &[(&str, u64)], format: &[u8], written: Option<u64>) {
    let db = raw_db(dir);
    let tx = db.begin_write().unwrap();
    {
        let def = |name| redb::TableDefinition::<&[u8], &[u8]>::new(name);
        let mut legacy = tx.open_table(def("execution_ids")).unwrap();
        for (arn, seq) in entries {
            legacy.insert(arn.as_bytes(), seq.to_be_bytes().as_slice()).unwrap();
        }
        let mut hashed = tx.open_table(def(Table::ExecutionIds.name())).unwrap();
        hashed.retain(|_, _| false).unwrap();
        let mut meta = tx.open_table(def("meta")).unwrap();
        meta.insert(b"format".as_slice(), format).unwrap();
        match written {
            Some(upto) => drop(meta.insert(crate::store::IDS_WRITTEN_KEY, upto.to_be_bytes().as_slice()).unwrap()),
            None => drop(meta.remove(crate::store::IDS_WRITTEN_KEY).unwrap()),
        }
    }
    tx.commit().unwrap();
}

/// A format 2 store (every ARN entry in the table) is marked as all
/// written when opened, and its index re-keyed (format 5).
#[tokio::test]
async fn a_format_2_store_is_marked_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let a = execution("sm", "a", 1);
    {
        let store = open_dir(dir.path()).unwrap();
        store.insert_execution(a.clone()).await.unwrap().unwrap();
    }
    // As format 2 left it: the entry in the table, no mark.
    as_legacy_arn_index(dir.path(), &[(&a.arn, 1)], b"stepbox-store/2", None);
    let store = reopen(dir.path());
    assert_eq!(store.get_execution(&a.arn).unwrap(), Some(a));
    assert_eq!(store.recent_ids().len(), 0, "marked: nothing read back");
    let b = execution("sm", "b", 2);
    store.insert_execution(b.clone()).await.unwrap().unwrap();
    assert_eq!(store.get_execution(&b.arn).unwrap(), Some(b));
}

/// A format 4 store's ARN index (`execution_ids`, keyed by the ARN) is
/// re-keyed by hash when opened, in the opening transaction: every
/// execution it held is found through the new index (none of them is in
/// memory: they were all marked written), and the old table is gone.
#[tokio::test]
async fn a_format_4_arn_index_is_rekeyed_when_opened() {
    let dir = tempfile::tempdir().unwrap();
    let records: Vec<ExecutionRecord> = (0..5).map(|i| execution("sm", &format!("e{i}"), i)).collect();
    {
        let store = open_dir(dir.path()).unwrap();
        for r in &records {
            store.insert_execution(r.clone()).await.unwrap().unwrap();
        }
    }
    let entries: Vec<(&str, u64)> = records.iter().zip(1..).map(|(r, seq)| (r.arn.as_str(), seq)).collect();
    as_legacy_arn_index(dir.path(), &entries, b"stepbox-store/4", Some(entries.len() as u64));
    {
        let store = reopen(dir.path());
        assert_eq!(store.recent_ids().len(), 0, "all marked written: found through the table alone");
        for r in &records {
            assert_eq!(store.get_execution(&r.arn).unwrap().as_ref(), Some(r));
        }
        assert_eq!(store.get_execution("arn:aws:states:us-east-1:1:execution:sm:none").unwrap(), None);
        let format = store.read(|r| r.get(Table::Meta, b"format")).unwrap();
        assert_eq!(format.as_deref(), Some(b"stepbox-store/5".as_slice()));
    }
    let db = raw_db(dir.path());
    use redb::{ReadableDatabase, TableHandle};
    let tables: Vec<String> = db.begin_read().unwrap().list_tables().unwrap().map(|t| t.name().to_string()).collect();
    assert!(!tables.contains(&"execution_ids".to_string()), "{tables:?}");
}

/// ARNs whose hashes share their first 8 bytes share an `ExecutionIds`
/// prefix: a lookup tells them apart by their records' ARNs. (No such pair
/// is at hand, so the table is given an entry under `a`'s hash that points at
/// `b`'s record, as a colliding `b` would have.)
#[tokio::test]
async fn arns_sharing_a_hash_prefix_are_told_apart() {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    let (a, b) = (execution("sm", "a", 1), execution("sm", "b", 2));
    {
        let store = Store::new(backend.clone());
        // `b` is number 1, `a` number 2.
        for r in [&b, &a] {
            store.insert_execution(r.clone()).await.unwrap().unwrap();
        }
    }
    let (a_arn, b_arn) = (a.arn.clone(), b.arn.clone());
    let (done, wait) = std::sync::mpsc::channel();
    backend.write(
        Box::new(move |w| {
            w.put(Table::ExecutionIds, &crate::store::arn_entry(&a_arn, 2), b"")?;
            w.put(Table::ExecutionIds, &crate::store::arn_entry(&b_arn, 1), b"")?;
            // As a `b` colliding with `a` would have: listed before `a`'s own entry.
            w.put(Table::ExecutionIds, &crate::store::arn_entry(&a_arn, 1), b"")?;
            crate::store::mark_ids_written(w)
        }),
        Box::new(move |r| done.send(r).unwrap()),
    );
    wait.recv().unwrap().unwrap();
    let store = Store::open(backend).unwrap();
    assert_eq!(store.recent_ids().len(), 0);
    assert_eq!(store.get_execution(&a.arn).unwrap(), Some(a.clone()));
    assert_eq!(store.get_execution(&b.arn).unwrap(), Some(b.clone()));
    let c = execution("sm", "c", 3);
    assert_eq!(store.get_execution(&c.arn).unwrap(), None);
}

/// A definition is stored once, not in every execution record. A format 3
/// store's records (their definition inline) still read, and the file
/// becomes format 5.
#[tokio::test]
async fn a_definition_is_stored_once_and_inline_ones_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let old = ExecutionRecord { definition: r#"{"StartAt":"Old"}"#.into(), ..execution("sm", "old", 1) };
    {
        let store = open_dir(dir.path()).unwrap();
        store.insert_execution(old.clone()).await.unwrap().unwrap();
        // As format 3 left it: the text inline, no definitions table entry.
        let inline = crate::execution_codec::encode_inline(&old).unwrap();
        let digest = crate::execution_codec::definition_digest(&old.definition);
        store
            .submit(move |w| {
                w.put(Table::Executions, &1u64.to_be_bytes(), &inline)?;
                w.delete(Table::Definitions, &digest)?;
                w.put(Table::Meta, b"format", b"stepbox-store/3")
            })
            .await
            .unwrap();
    }
    let store = reopen(dir.path());
    assert_eq!(store.get_execution(&old.arn).unwrap().as_ref(), Some(&old));
    // Rewritten (closed) now, it refers to its text by digest: the text is stored then.
    let closed = store.update_execution(&old.arn, |r| r.status = "SUCCEEDED".into()).await.unwrap().unwrap();
    assert_eq!(store.get_execution(&old.arn).unwrap(), Some(closed.clone()));
    assert_eq!(closed.definition, old.definition);
    let old = closed;
    let format = store.read(|r| r.get(Table::Meta, b"format")).unwrap();
    assert_eq!(format.as_deref(), Some(b"stepbox-store/5".as_slice()));

    let text = r#"{"StartAt":"P","States":{"P":{"Type":"Pass","End":true}}}"#;
    let new: Vec<ExecutionRecord> = ["a", "b"]
        .iter()
        .map(|n| ExecutionRecord { definition: text.into(), ..execution("sm", n, 2) })
        .collect();
    for r in &new {
        store.insert_execution(r.clone()).await.unwrap().unwrap();
    }
    let (a, b) = (&new[0], &new[1]);
    let (journal, recorded) = begun(&store, &execution("sm", "c", 3));
    drop(journal);
    recorded.await.unwrap().unwrap();
    store.update_execution(&b.arn, |r| r.status = "SUCCEEDED".into()).await.unwrap();
    assert_eq!(store.get_execution(&a.arn).unwrap().as_ref(), Some(a));
    assert_eq!(store.get_execution(&b.arn).unwrap().map(|r| r.definition), Some(text.to_string()));
    let listed: Vec<String> = store
        .list_executions(&a.state_machine_arn)
        .unwrap()
        .into_iter()
        .map(|r| r.definition)
        .collect();
    assert_eq!(listed, [r#"{}"#, text, text, &old.definition]);
    let (records, definitions) = store
        .read(|r| Ok((r.scan(Table::Executions, b"")?, r.scan(Table::Definitions, b"")?)))
        .unwrap();
    let holding = records.iter().filter(|(_, v)| v.windows(text.len()).any(|w| w == text.as_bytes())).count();
    assert_eq!(holding, 0, "no record holds the text");
    let texts: Vec<&[u8]> = definitions.iter().map(|(_, v)| v.as_slice()).collect();
    assert_eq!(texts.iter().filter(|t| **t == text.as_bytes()).count(), 1, "stored once");
}

/// An unreadable record among those whose ARN entries must be read back
/// stops `Store::open` (how a data directory is opened) instead of leaving
/// that execution unfindable.
#[test]
fn an_unreadable_recent_record_stops_the_opening() {
    let backend: Arc<dyn Backend> = Arc::new(MemoryBackend::new());
    backend.write(
        Box::new(|w| w.put(Table::Executions, &1u64.to_be_bytes(), b"\xffnot a record")),
        Box::new(|r| r.unwrap()),
    );
    assert!(matches!(Store::open(backend.clone()), Err(StoreError::Corrupt(_))));
    let store = Store::new(backend);
    assert_eq!(store.recent_ids().len(), 0, "new() logs it and carries on");
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

fn state_machine(revision: &str) -> StateMachineRecord {
    StateMachineRecord {
        arn: "arn:aws:states:us-east-1:1:stateMachine:cached".into(),
        name: "cached".into(),
        definition: format!(r#"{{"Comment": "{revision}"}}"#),
        role_arn: "r".into(),
        kind: "STANDARD".into(),
        description: String::new(),
        creation_date: t(0),
        revision_id: revision.into(),
        extra: Default::default(),
    }
}

/// A state machine read again is served from memory (every start reads
/// its own), and every write of it is seen once durable: update, delete,
/// create again.
#[tokio::test]
async fn state_machine_reads_are_cached_and_writes_seen_once_durable() {
    let (held, store) = held_store();
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);
    let arn = state_machine("").arn;
    let revision = |store: &Store| store.get_state_machine(&arn).unwrap().map(|r| r.revision_id);

    let created = store.insert_state_machine(state_machine("r1"));
    held.release();
    created.await.unwrap().unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r1"));
    let before = reads();
    for _ in 0..10 {
        assert_eq!(revision(&store).as_deref(), Some("r1"));
    }
    assert_eq!(reads(), before, "served from memory");

    let updated = store.put_state_machine(&state_machine("r2"));
    assert_eq!(revision(&store).as_deref(), Some("r1"), "not durable yet");
    held.release();
    updated.await.unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r2"));

    let deleted = store.delete_state_machine(&arn);
    held.release();
    assert!(deleted.await.unwrap());
    assert_eq!(revision(&store), None);

    let again = store.insert_state_machine(state_machine("r3"));
    held.release();
    again.await.unwrap().unwrap();
    assert_eq!(revision(&store).as_deref(), Some("r3"));
}

/// A read that began before a write became durable must not fill the
/// cache with what it read: the record may be the one replaced.
#[test]
fn a_state_machine_read_from_before_a_write_does_not_fill_the_cache() {
    let cache = crate::store::RecordCache::<StateMachineRecord>::default();
    let old = state_machine("old");
    let Err(generation) = cache.get(&old.arn) else { panic!("empty") };
    cache.written(&old.arn);
    cache.fill(generation, &old.arn, &old);
    assert!(cache.get(&old.arn).is_err(), "the stale record was not kept");
    let Err(generation) = cache.get(&old.arn) else { panic!("empty") };
    cache.fill(generation, &old.arn, &old);
    assert_eq!(cache.get(&old.arn).map(|r| r.revision_id).ok().as_deref(), Some("old"));
}

fn version_of(machine: &StateMachineRecord) -> VersionRecord {
    VersionRecord {
        arn: String::new(),
        state_machine_arn: machine.arn.clone(),
        number: 0,
        definition: machine.definition.clone(),
        role_arn: machine.role_arn.clone(),
        description: String::new(),
        creation_date: t(1),
        revision_id: machine.revision_id.clone(),
        extra: Default::default(),
    }
}

fn alias_to(version_arn: &str, description: &str) -> AliasRecord {
    let machine = state_machine("").arn;
    AliasRecord {
        arn: format!("{machine}:prod"),
        state_machine_arn: machine,
        name: "prod".into(),
        description: description.into(),
        routing: vec![Route { version_arn: version_arn.into(), weight: 100 }],
        creation_date: t(2),
        update_date: t(2),
        extra: Default::default(),
    }
}

/// A start through a qualified ARN reads a version (and an alias): read
/// again, they are served from memory, and every write of them is seen
/// once durable, including deleting their state machine, after which
/// version numbers start again at 1.
#[tokio::test]
async fn version_and_alias_reads_are_cached_and_writes_seen_once_durable() {
    let (held, store) = held_store();
    let reads = || held.reads.load(std::sync::atomic::Ordering::Relaxed);
    async fn durable<T>(held: &Held, commit: crate::Commit<T>) -> T {
        held.release();
        commit.await.unwrap()
    }
    let machine = state_machine("r1");
    durable(&held, store.insert_state_machine(machine.clone())).await.unwrap();
    let (v1, created) = durable(&held, store.publish_version(version_of(&machine))).await;
    assert!(created);
    durable(&held, store.insert_alias(alias_to(&v1.arn, "first"))).await.unwrap();
    let alias_arn = alias_to(&v1.arn, "").arn;
    let version = |store: &Store| store.get_version(&v1.arn).unwrap().map(|v| v.revision_id);
    let alias = |store: &Store| store.get_alias(&alias_arn).unwrap().map(|a| a.description);

    assert_eq!(version(&store).as_deref(), Some("r1"));
    assert_eq!(alias(&store).as_deref(), Some("first"));
    let before = reads();
    for _ in 0..10 {
        assert_eq!(version(&store).as_deref(), Some("r1"));
        assert_eq!(alias(&store).as_deref(), Some("first"));
    }
    assert_eq!(reads(), before, "served from memory");

    let updated = store.update_alias(alias_to(&v1.arn, "second"));
    assert_eq!(alias(&store).as_deref(), Some("first"), "not durable yet");
    assert!(durable(&held, updated).await);
    assert_eq!(alias(&store).as_deref(), Some("second"));
    durable(&held, store.put_alias(&alias_to(&v1.arn, "third"))).await;
    assert_eq!(alias(&store).as_deref(), Some("third"));
    assert!(durable(&held, store.delete_alias(&alias_arn)).await);
    assert_eq!(alias(&store), None);
    durable(&held, store.insert_alias(alias_to(&v1.arn, "fourth"))).await.unwrap();
    assert_eq!(alias(&store).as_deref(), Some("fourth"));

    let replaced = VersionRecord { revision_id: "replaced".into(), ..v1.clone() };
    durable(&held, store.put_version(&replaced)).await;
    assert_eq!(version(&store).as_deref(), Some("replaced"));
    assert!(durable(&held, store.delete_version(&v1.arn)).await);
    assert_eq!(version(&store), None);
    let (v2, _) = durable(&held, store.publish_version(version_of(&machine))).await;
    assert_eq!(v2.number, 2, "numbers are never reused");

    // Deleting the state machine drops its versions and aliases; created
    // again, its first version has the ARN version 1 had.
    assert_eq!(store.get_version(&v2.arn).unwrap().map(|v| v.number), Some(2));
    assert_eq!(alias(&store).as_deref(), Some("fourth"));
    assert!(durable(&held, store.delete_state_machine(&machine.arn)).await);
    assert_eq!(store.get_version(&v2.arn).unwrap(), None);
    assert_eq!(alias(&store), None);
    durable(&held, store.insert_state_machine(state_machine("r2"))).await.unwrap();
    let (again, _) = durable(&held, store.publish_version(version_of(&state_machine("r2")))).await;
    assert_eq!(again.arn, v1.arn);
    assert_eq!(version(&store).as_deref(), Some("r2"));
}
