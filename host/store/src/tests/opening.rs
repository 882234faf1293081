//! Opening a data directory: refusals, migrations of older formats, definitions stored once.

use super::*;

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
