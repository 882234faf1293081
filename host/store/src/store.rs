//! The typed store: every record kind over any [`Backend`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stepbox_engine::{Checkpoint, HistoryEvent, Part};

use crate::StoreError;
use crate::backend::{Backend, Read, Table, Write};
use crate::events::{self, EventChunk};
use crate::execution_codec;
use crate::records::*;
/// Resolves once the write is durable, with the write's own result.
pub type Commit<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

mod cache;
mod catalog;
mod executions;
mod invocations;
pub use invocations::PER_EXECUTION as INVOCATIONS_PER_EXECUTION;
mod latency;
pub use latency::{CommitLatency, LatencySnapshot};
pub(crate) mod keys;
mod leases;
mod map_runs;
mod migrate;
mod recent_ids;
mod retention;
mod sweep;

pub(crate) use cache::{RecordCache, written};
pub(crate) use executions::{
    PreparedUpdate, apply_update_in, checkpoint_key, chunk_key, delete_checkpoint, delete_parts, encode_checkpoint,
    existing_sequence, insert_in, put_part,
};
pub(crate) use migrate::{arn_entry, migrate_from_format_1};
pub(crate) use recent_ids::{ArnChecked, RecentIds, filter_of_table, mark_ids_written};
#[cfg(test)]
pub(crate) use recent_ids::{IDS_PER_WRITE, IDS_WRITTEN_KEY, filter_of_table_in_batches};

/// The largest execution sequence number in use (0: none).
fn last_sequence(r: &(impl Read + ?Sized)) -> Result<u64, StoreError> {
    Ok(r.last(Table::Executions, b"")?.map_or(0, |(k, _)| sequence_of(&k)))
}

/// How many execution records one write of a retention sweep looks at.
pub(crate) const PURGE_BATCH: usize = 1024;

fn sequence_of(bytes: &[u8]) -> u64 {
    bytes.try_into().map_or(0, u64::from_be_bytes)
}

pub(crate) fn encode<T: Serialize>(v: &T) -> Result<Vec<u8>, StoreError> {
    serde_json::to_vec(v).map_err(|e| StoreError::Corrupt(format!("cannot encode a record: {e}")))
}

pub(crate) fn decode<T: DeserializeOwned>(what: &str, bytes: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(bytes)
        .map_err(|e| StoreError::Corrupt(format!("unreadable {what} record: {e}")))
}

/// State machines, versions, aliases, tags, functions, executions, histories,
/// checkpoints and task tokens, over a [`Backend`]. Cheap to clone.
///
/// Reads see every write whose [`Commit`] has resolved. Writes are applied in
/// call order; a caller that must not acknowledge something before it is
/// durable awaits the write's [`Commit`], one that need not drops it.
#[derive(Clone)]
pub struct Store {
    backend: Arc<dyn Backend>,
    /// The last execution sequence number handed out (see `insert_execution`).
    sequence: Arc<AtomicU64>,
    /// ARNs of executions being started ahead of their record (see
    /// [`ExecutionJournal::begin`](crate::ExecutionJournal::begin)).
    starting: Arc<Mutex<std::collections::HashSet<Box<str>>>>,
    /// ARN index entries not in the table yet.
    ids: Arc<RecentIds>,
    /// The largest number an insert was applied with (0: not known yet, the
    /// writer reads the last stored one), so the writer need not read it per
    /// insert.
    applied: Arc<AtomicU64>,
    /// State machine, version and alias records read lately (see [`RecordCache`]).
    state_machines: Arc<RecordCache<StateMachineRecord>>,
    versions: Arc<RecordCache<VersionRecord>>,
    aliases: Arc<RecordCache<AliasRecord>>,
    /// At most this many bytes (a memory store): past it, closed executions
    /// are evicted, oldest first (see `evict_when_over_budget`).
    budget: Option<u64>,
    /// An eviction is queued.
    evicting: Arc<std::sync::atomic::AtomicBool>,
    /// Other hosts write the same database (see [`Backend::shared`]).
    pub(crate) shared: bool,
    /// The leases this host holds there.
    pub(crate) held: Arc<leases::Held>,
    /// How long writes take to be durable.
    commit_latency: Arc<CommitLatency>,
}

impl Store {
    /// A backend has one `Store` (and its clones): the writer's numbering
    /// and the ARN entries not in the table yet live here.
    pub fn new(backend: Arc<dyn Backend>) -> Self {
        let store = Store::without_recent_ids(backend);
        if let Err(e) = store.read_back_recent_ids() {
            tracing::error!(error = %e, "cannot read back the recent executions' ARNs");
        }
        store
    }

    /// [`new`](Self::new), failing when the ARN entries not written to the
    /// table before the last stop cannot be read back (an unreadable record):
    /// how a data directory is opened, so such a store stops the start-up
    /// instead of answering that those executions do not exist.
    pub fn open(backend: Arc<dyn Backend>) -> Result<Self, StoreError> {
        let store = Store::without_recent_ids(backend);
        store.read_back_recent_ids()?;
        Ok(store)
    }

    fn without_recent_ids(backend: Arc<dyn Backend>) -> Self {
        let shared = backend.shared();
        let mut store = Store {
            backend,
            sequence: Arc::default(),
            starting: Arc::default(),
            ids: Arc::default(),
            applied: Arc::default(),
            state_machines: Arc::new(RecordCache::new(shared)),
            versions: Arc::new(RecordCache::new(shared)),
            aliases: Arc::new(RecordCache::new(shared)),
            budget: None,
            evicting: Arc::default(),
            shared,
            held: Arc::default(),
            commit_latency: Arc::default(),
        };
        if shared {
            // Another host's executions are in no filter of this one: every
            // lookup reads the table (where each insert writes its entry).
            store.ids.filter.add_everything();
            return store;
        }
        match store.read(|r| filter_of_table(r)) {
            Ok(filter) => store.ids = Arc::new(RecentIds::with_filter(filter)),
            // Unfiltered: every lookup reads the table, as without a filter.
            Err(e) => {
                tracing::error!(error = %e, "cannot read the execution ARN index; every lookup will read it");
                store.ids.filter.add_everything();
            }
        }
        // A failed read only costs the writer a re-numbering (see insert_execution).
        let stored = store.read(|r| last_sequence(r)).unwrap_or(0);
        store.sequence = Arc::new(AtomicU64::new(stored));
        store
    }

    /// An in-memory store, unbounded.
    pub fn memory() -> Self {
        Store::new(Arc::new(crate::MemoryBackend::new()))
    }

    /// An in-memory store of at most `budget` bytes (keys and values, plus
    /// [`ENTRY_OVERHEAD`](crate::ENTRY_OVERHEAD) per entry): past
    /// it, closed executions are evicted, oldest first, down to 90 % of it
    /// (an evicted execution is gone, as one past its retention period);
    /// running ones never are.
    pub fn memory_with_budget(budget: u64) -> Self {
        let mut store = Store::memory();
        store.budget = Some(budget);
        store
    }

    pub fn describe(&self) -> String {
        self.backend.describe()
    }

    /// Whether what it holds outlives the process (not in memory).
    pub fn persistent(&self) -> bool {
        self.backend.persistent()
    }

    /// Whether other hosts may write the same database (PostgreSQL).
    pub fn shared(&self) -> bool {
        self.shared
    }

    pub(crate) fn read<T>(
        &self,
        mut f: impl FnMut(&dyn Read) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut out = None;
        self.backend.read(&mut |r| {
            out = Some(f(r)?);
            Ok(())
        })?;
        out.ok_or_else(|| StoreError::Database("read did not run".into()))
    }

    /// Queues `op` at the backend; `done` is told once it is durable.
    pub(crate) fn write(&self, op: crate::backend::WriteOp, done: crate::backend::Done) {
        let (started, latency) = (std::time::Instant::now(), self.commit_latency.clone());
        self.backend.write(
            op,
            Box::new(move |r| {
                latency.observe(started.elapsed());
                done(r)
            }),
        )
    }

    /// How long writes took from their submission until durable.
    pub fn commit_latency(&self) -> LatencySnapshot {
        self.commit_latency.snapshot()
    }

    /// Queues `op`; the returned future resolves with its result once durable.
    pub fn submit<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut dyn Write) -> Result<T, StoreError> + Send + 'static,
    ) -> Commit<T> {
        self.submit_then(op, || {})
    }

    /// [`submit`](Self::submit), running `then` once the write is durable
    /// (or failed), before its future resolves.
    fn submit_then<T: Send + 'static>(
        &self,
        op: impl FnOnce(&mut dyn Write) -> Result<T, StoreError> + Send + 'static,
        then: impl FnOnce() + Send + 'static,
    ) -> Commit<T> {
        let slot: Arc<Mutex<Option<Result<T, StoreError>>>> = Arc::new(Mutex::new(None));
        let (tx, rx) = tokio::sync::oneshot::channel();
        let op_slot = slot.clone();
        self.write(
            Box::new(move |w| {
                let r = op(w);
                let failed = r.as_ref().err().cloned();
                *op_slot.lock().unwrap_or_else(|e| e.into_inner()) = Some(r);
                failed.map_or(Ok(()), Err)
            }),
            Box::new(move |committed| {
                then();
                let own = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
                let _ = tx.send(match (committed, own) {
                    (Err(e), _) => Err(e),
                    (Ok(()), Some(r)) => r,
                    (Ok(()), None) => Err(StoreError::Database("write was not applied".into())),
                });
            }),
        );
        Box::pin(async move {
            rx.await.unwrap_or_else(|_| {
                Err(StoreError::Database("the store writer has stopped".into()))
            })
        })
    }

    fn get_json<T: DeserializeOwned>(
        &self,
        table: Table,
        key: &[u8],
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        self.read(|r| r.get(table, key)?.map(|b| decode(what, &b)).transpose())
    }

    fn scan_json<T: DeserializeOwned>(
        &self,
        table: Table,
        prefix: &[u8],
        what: &str,
    ) -> Result<Vec<T>, StoreError> {
        self.read(|r| {
            r.scan(table, prefix)?
                .iter()
                .map(|(_, v)| decode(what, v))
                .collect()
        })
    }

    fn put_json<T: Serialize>(&self, table: Table, key: Vec<u8>, value: &T) -> Commit<()> {
        let bytes = encode(value);
        self.submit(move |w| w.put(table, &key, &bytes?))
    }

    fn delete_key(&self, table: Table, key: Vec<u8>) -> Commit<bool> {
        self.submit(move |w| w.delete(table, &key))
    }

    /// [`put_json`](Self::put_json) of a record `cache` may hold: its
    /// cached copy goes once the write is durable.
    fn put_cached<T: Serialize + Clone + Send + 'static>(
        &self,
        cache: &Arc<RecordCache<T>>,
        table: Table,
        arn: &str,
        record: &T,
    ) -> Commit<()> {
        let (key, bytes) = (arn.as_bytes().to_vec(), encode(record));
        self.submit_then(move |w| w.put(table, &key, &bytes?), written(cache, arn))
    }

    /// Inserts a record `cache` may hold unless its ARN exists: then answers
    /// the existing record (`what` names it in a decoding error).
    fn insert_cached<T: Serialize + DeserializeOwned + Clone + Send + 'static>(
        &self,
        cache: &Arc<RecordCache<T>>,
        table: Table,
        arn: &str,
        record: T,
        what: &'static str,
    ) -> Commit<Result<(), T>> {
        let key = arn.as_bytes().to_vec();
        self.submit_then(move |w| {
            // Another host's insert of the name commits before this reads it.
            w.lock(table, &key)?;
            if let Some(b) = w.get(table, &key)? {
                return Ok(Err(decode(what, &b)?));
            }
            w.put(table, &key, &encode(&record)?)?;
            Ok(Ok(()))
        }, written(cache, arn))
    }

    /// Replaces an existing record `cache` may hold; false when there is none.
    fn replace_cached<T: Serialize + Clone + Send + 'static>(
        &self,
        cache: &Arc<RecordCache<T>>,
        table: Table,
        arn: &str,
        record: T,
    ) -> Commit<bool> {
        let key = arn.as_bytes().to_vec();
        self.submit_then(move |w| {
            if w.get(table, &key)?.is_none() {
                return Ok(false);
            }
            w.put(table, &key, &encode(&record)?)?;
            Ok(true)
        }, written(cache, arn))
    }

    /// [`delete_key`](Self::delete_key) of a record `cache` may hold.
    fn delete_cached<T: Clone + Send + 'static>(&self, cache: &Arc<RecordCache<T>>, table: Table, arn: &str) -> Commit<bool> {
        let key = arn.as_bytes().to_vec();
        self.submit_then(move |w| w.delete(table, &key), written(cache, arn))
    }

}
