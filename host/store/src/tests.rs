//! The typed store over every backend, and the redb file's start-up checks.

use super::*;
use chrono::{TimeZone, Utc};
use serde_json::json;
use std::sync::Arc;
use stepbox_engine::{Checkpoint, Details, EventType, HistoryEvent};

mod caches;
mod hosts;
mod invocations;
mod executions;
mod journal;
mod map_runs;
mod opening;
mod parts;
mod postgres;
mod round_trips;

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
        parts: Vec::new(),
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

/// Memory, redb and PostgreSQL (see [`postgres_url`]).
fn backends() -> Vec<(Store, Option<tempfile::TempDir>)> {
    let dir = tempfile::tempdir().unwrap();
    let durable = open_dir(dir.path()).unwrap();
    let postgres = open_postgres(&postgres_url()).expect("open the PostgreSQL store");
    vec![(Store::memory(), None), (durable, Some(dir)), (postgres, None)]
}

/// The URL of a new database of its own on the test PostgreSQL server
/// (`STEPBOX_TEST_DATABASE_URL`, which scripts/test.sh sets).
fn postgres_url() -> String {
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let admin = std::env::var("STEPBOX_TEST_DATABASE_URL").unwrap_or_else(|_| {
        panic!(
            "STEPBOX_TEST_DATABASE_URL is not set: run scripts/test.sh, which starts PostgreSQL, or start \
             one and set it to postgres://USER@HOST:PORT/DB (a user who may create databases)"
        )
    });
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let name = format!("stepbox_store_{}_{n}", std::process::id());
    PostgresBackend::create_database(&admin, &name).expect("create a test database")
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
