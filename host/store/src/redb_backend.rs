//! The durable backend: one redb file, written by a single writer thread that
//! batches every op waiting in its queue into one transaction and one fsync
//! (group commit), so many executions' events share a commit.

use std::cell::RefCell;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::time::Instant;

use redb::{Database, Durability, ReadableDatabase, ReadableTable, ReadableTableMetadata, TableDefinition, TableHandle};

use crate::StoreError;
use crate::backend::{Backend, Done, Read, Table, Unwritable, Write, WriteOp, prefix_end};

type Def = TableDefinition<'static, &'static [u8], &'static [u8]>;

fn def(table: Table) -> Def {
    TableDefinition::new(table.name())
}

fn db_err(e: impl Into<redb::Error>) -> StoreError {
    StoreError::Database(e.into().to_string())
}

/// The marker in the meta table that makes a redb file a stepbox store.
const FORMAT_KEY: &[u8] = b"format";
const FORMAT: &[u8] = b"stepbox-store/5";
/// The format before the ARN index was keyed by the ARN's hash (the table
/// `execution_ids`, ARN → number): its entries are re-keyed.
const FORMAT_4: &[u8] = b"stepbox-store/4";
/// Formats 2 to 4's ARN index (see [`rekey_arn_index`]).
const LEGACY_EXECUTION_IDS: Def = TableDefinition::new("execution_ids");
/// The format before definitions were stored apart (records with their
/// definition inline, which still read): relabelled.
const FORMAT_3: &[u8] = b"stepbox-store/3";
/// The format before the ARN index was written in bulk (every execution's
/// entry in the table): marked as all written.
const FORMAT_2: &[u8] = b"stepbox-store/2";
/// The format before executions were keyed by sequence number: migrated.
const FORMAT_1: &[u8] = b"stepbox-store/1";
/// Moves a format 2 to 4 store's ARN index (`execution_ids`: ARN → number)
/// into `ExecutionIds`, keyed by hash, and drops the old table. Returns how
/// many entries it moved.
fn rekey_arn_index(tx: &redb::WriteTransaction) -> Result<usize, StoreError> {
    let exists = tx.list_tables().map_err(db_err)?.any(|t| t.name() == LEGACY_EXECUTION_IDS.name());
    if !exists {
        return Ok(0);
    }
    let mut entries = Vec::new();
    {
        let legacy = tx.open_table(LEGACY_EXECUTION_IDS).map_err(db_err)?;
        for entry in legacy.iter().map_err(db_err)? {
            let (arn, seq) = entry.map_err(db_err)?;
            let arn = std::str::from_utf8(arn.value())
                .map_err(|_| StoreError::Corrupt("an execution ARN that is not UTF-8".into()))?;
            let seq = seq.value().try_into().map(u64::from_be_bytes).map_err(|_| {
                StoreError::Corrupt(format!("execution {arn} has no readable number"))
            })?;
            entries.push(crate::store::arn_entry(arn, seq));
        }
    }
    entries.sort_unstable();
    let mut table = tx.open_table(def(Table::ExecutionIds)).map_err(db_err)?;
    for entry in &entries {
        table.insert(entry.as_slice(), b"".as_slice()).map_err(db_err)?;
    }
    drop(table);
    tx.delete_table(LEGACY_EXECUTION_IDS).map_err(db_err)?;
    Ok(entries.len())
}

/// Most ops in one transaction.
const MAX_BATCH: usize = 8192;

struct Job {
    op: WriteOp,
    done: Done,
}

/// A redb database file with a group-committing writer thread.
pub struct RedbBackend {
    db: Shared,
    path: PathBuf,
    queue: mpsc::Sender<Job>,
    stats: Arc<CommitStats>,
}

/// The open database, shared by readers and the writer. The writer replaces
/// it when a failed write left it unusable (see [`Reopen`]); until it has
/// reopened it, it holds the reason, and reads fail with it.
type Shared = Arc<std::sync::RwLock<Result<Arc<Database>, StoreError>>>;

/// Opens the storage a database lives on: the file itself, or (in tests) a
/// wrapper of it that fails on demand.
pub type Storage = Arc<dyn Fn() -> Result<Box<dyn redb::StorageBackend>, std::io::Error> + Send + Sync>;

/// A boxed storage backend as redb takes one.
#[derive(Debug)]
struct Boxed(Box<dyn redb::StorageBackend>);

impl redb::StorageBackend for Boxed {
    fn len(&self) -> Result<u64, std::io::Error> {
        self.0.len()
    }
    fn read(&self, offset: u64, out: &mut [u8]) -> Result<(), std::io::Error> {
        self.0.read(offset, out)
    }
    fn set_len(&self, len: u64) -> Result<(), std::io::Error> {
        self.0.set_len(len)
    }
    fn sync_data(&self) -> Result<(), std::io::Error> {
        self.0.sync_data()
    }
    fn write(&self, offset: u64, data: &[u8]) -> Result<(), std::io::Error> {
        self.0.write(offset, data)
    }
    fn close(&self) -> Result<(), std::io::Error> {
        self.0.close()
    }
}

fn open_database(path: &Path, cache_bytes: usize, storage: Option<&Storage>) -> Result<Database, redb::DatabaseError> {
    let mut builder = redb::Builder::new();
    builder.set_cache_size(cache_bytes);
    match storage {
        None => builder.create(path),
        Some(open) => builder.create_with_backend(Boxed(open().map_err(redb::StorageError::Io)?)),
    }
}

/// Counters of the writer thread.
#[derive(Debug, Default)]
pub struct CommitStats {
    /// The last commit failed (see [`Backend::writes_failing`]).
    pub failing: std::sync::atomic::AtomicBool,
    pub commits: AtomicU64,
    pub ops: AtomicU64,
    /// Time applying ops to transactions / committing them (page writes and fsync).
    pub apply_nanos: AtomicU64,
    pub commit_nanos: AtomicU64,
}

impl RedbBackend {
    /// Opens (or creates) `path`. A file that is not a redb database, is
    /// damaged beyond redb's repair, or is a redb file of something else is an
    /// error: the store is never reset silently.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Self, StoreError> {
        Self::open_on(path, cache_bytes, None)
    }

    /// [`open`](Self::open) on storage that `storage` opens (each time the
    /// writer reopens the database) instead of the file at `path`.
    pub fn open_on(path: &Path, cache_bytes: usize, storage: Option<Storage>) -> Result<Self, StoreError> {
        let existed = path.exists() || storage.is_some();
        let fail = |reason: String| StoreError::Unusable {
            path: path.to_path_buf(),
            reason,
        };
        // redb asserts on some damaged files instead of returning an error.
        let opened = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| open_database(path, cache_bytes, storage.as_ref())));
        let db = match opened {
            Ok(Ok(db)) => db,
            // redb locks the file: another server has this data directory.
            Ok(Err(redb::DatabaseError::DatabaseAlreadyOpen)) => {
                return Err(fail(
                    "in use by another process (is another `stepbox serve` running on this data directory?)".into(),
                ));
            }
            Ok(Err(redb::DatabaseError::Storage(redb::StorageError::Io(e)))) => {
                return Err(fail(format!("cannot open it: {e}")));
            }
            Ok(Err(e)) => {
                return Err(fail(format!(
                    "not a readable stepbox database ({})",
                    db_err(e)
                )));
            }
            Err(_) => return Err(fail("a damaged database file (redb refused it)".into())),
        };
        let tx = db.begin_write().map_err(db_err)?;
        let mut migrate = false;
        // The ARN index holds every execution's entry: mark it so.
        let mut mark = false;
        let mut relabel = false;
        {
            let mut meta = tx.open_table(def(Table::Meta)).map_err(db_err)?;
            let marker = meta
                .get(FORMAT_KEY)
                .map_err(db_err)?
                .map(|v| v.value().to_vec());
            match marker {
                Some(m) if m == FORMAT => {}
                Some(m) if m == FORMAT_4 || m == FORMAT_3 => relabel = true,
                Some(m) if m == FORMAT_2 => mark = true,
                Some(m) if m == FORMAT_1 => (migrate, mark) = (true, true),
                Some(m) => {
                    return Err(fail(format!(
                        "store format '{}' is not supported (expected '{}')",
                        String::from_utf8_lossy(&m),
                        String::from_utf8_lossy(FORMAT)
                    )));
                }
                None => {
                    // A file that held anything before without our marker is foreign.
                    let foreign: Vec<String> = tx
                        .list_tables()
                        .map_err(db_err)?
                        .map(|t| t.name().to_string())
                        .filter(|n| n != Table::Meta.name())
                        .collect();
                    if existed && !foreign.is_empty() {
                        return Err(fail(format!(
                            "a redb database of something else (tables: {})",
                            foreign.join(", ")
                        )));
                    }
                    meta.insert(FORMAT_KEY, FORMAT).map_err(db_err)?;
                    mark = true;
                }
            }
        }
        for table in Table::ALL {
            tx.open_table(def(table)).map_err(db_err)?;
        }
        if migrate {
            // In the opening transaction: the file is either still format 1 or wholly format 3.
            let mut w = RedbWrite::new(&tx);
            let migrated = crate::store::migrate_from_format_1(&mut w)
                .map_err(|e| fail(format!("cannot migrate from format 1: {e}")))?;
            drop(w);
            tracing::info!(executions = migrated, "store migrated from format 1");
        }
        if mark || relabel {
            // Formats 2 to 4; in the opening transaction, like the rest.
            let rekeyed = rekey_arn_index(&tx).map_err(|e| fail(format!("cannot re-key the ARN index: {e}")))?;
            if rekeyed > 0 {
                tracing::info!(entries = rekeyed, "execution ARN index re-keyed by hash (format 5)");
            }
            let mut w = RedbWrite::new(&tx);
            if mark {
                crate::store::mark_ids_written(&mut w)?;
            }
            w.put(Table::Meta, FORMAT_KEY, FORMAT)?;
        }
        tx.commit().map_err(db_err)?;
        let db: Shared = Arc::new(std::sync::RwLock::new(Ok(Arc::new(db))));
        let (queue, jobs) = mpsc::channel();
        let writer_db = Reopen { db: db.clone(), path: path.to_path_buf(), cache_bytes, storage, tried: None, attempts: 0 };
        let stats = Arc::new(CommitStats::default());
        let writer_stats = stats.clone();
        let (notify, committed) = mpsc::channel();
        std::thread::Builder::new()
            .name("stepbox-store-notify".into())
            .spawn(move || notifier(committed))
            .map_err(|e| StoreError::Database(format!("cannot start the notifier thread: {e}")))?;
        std::thread::Builder::new()
            .name("stepbox-store-writer".into())
            .spawn(move || writer(writer_db, jobs, notify, writer_stats))
            .map_err(|e| StoreError::Database(format!("cannot start the writer thread: {e}")))?;
        Ok(RedbBackend {
            db,
            path: path.to_path_buf(),
            queue,
            stats,
        })
    }

    /// How many transactions and ops the writer committed so far.
    pub fn stats(&self) -> &Arc<CommitStats> {
        &self.stats
    }
}

/// A committed (or failed) batch whose writers are still to be told.
type Committed = (Result<(), StoreError>, Vec<Job>);

/// Applies queued ops in batches: one transaction, one fsync per batch. The
/// writers are told by the notifier thread, so waking them (a futex call
/// each) overlaps the next batch instead of delaying it.
fn writer(
    mut db: Reopen,
    jobs: mpsc::Receiver<Job>,
    notify: mpsc::Sender<Committed>,
    stats: Arc<CommitStats>,
) {
    loop {
        // While a failed write left the database closed, it is reopened
        // every so often even with nothing to write, so reads work again
        // once there is room.
        let first = match db.is_closed() {
            false => match jobs.recv() {
                Ok(job) => job,
                Err(_) => return,
            },
            true => match jobs.recv_timeout(REOPEN_EVERY) {
                Ok(job) => job,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    let _ = db.usable();
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => return,
            },
        };
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(j) => batch.push(j),
                Err(_) => break,
            }
        }
        // Counted before any writer is told (a caller that waited reads them).
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.ops.fetch_add(batch.len() as u64, Ordering::Relaxed);
        match db.usable() {
            Ok(d) => match commit_batch(&d, &mut batch, &stats) {
                Ok(()) => {
                    stats.failing.store(false, Ordering::Relaxed);
                    if let Err(mpsc::SendError((result, batch))) = notify.send((Ok(()), batch)) {
                        tell(result, batch);
                    }
                }
                Err(e) => {
                    stats.failing.store(true, Ordering::Relaxed);
                    tracing::error!(error = %e, ops = batch.len(), "store commit failed");
                    // redb refuses every later write after an I/O error
                    // until the database is opened again.
                    drop(d);
                    let e = db.failed(e);
                    // Told here, before the next batch is applied: a journal
                    // whose write failed then writes nothing more (no
                    // history with a hole in it).
                    tell(Err(e), batch);
                }
            },
            Err(reason) => {
                // Each op still runs, against writes that fail, so it
                // answers its own callers the way any failed write does.
                let mut w = Unwritable(reason.clone());
                for job in batch.iter_mut() {
                    let op = std::mem::replace(&mut job.op, Box::new(|_| Ok(())));
                    let _ = op(&mut w);
                }
                tell(Err(reason), batch);
            }
        }
    }
}

/// The writer's handle on the shared database: after a failed commit it
/// closes the database and opens it again (redb then recovers the file to
/// its last commit), at most every [`REOPEN_EVERY`], failing the writes
/// that come meanwhile with the reason. So a full disk fails the writes
/// made while it is full, and the store works again once there is room,
/// without a restart.
struct Reopen {
    db: Shared,
    path: PathBuf,
    cache_bytes: usize,
    storage: Option<Storage>,
    /// When the database was found unusable and last tried to reopen.
    tried: Option<Instant>,
    /// Reopens that failed since the last failed write (for the log).
    attempts: u32,
}

/// How often a database left unusable by a failed write is reopened.
const REOPEN_EVERY: std::time::Duration = std::time::Duration::from_millis(500);

impl Reopen {
    /// Closes the database a failed write left unusable and tries to open it
    /// again at once (redb repairs it to its last commit, which needs room
    /// on the disk: until then reads fail too). Returns the error to tell.
    fn failed(&mut self, e: StoreError) -> StoreError {
        let cause = match e {
            StoreError::Database(cause) => cause,
            other => other.to_string(),
        };
        let reason = StoreError::Database(format!("cannot write to {}: {cause}", self.path.display()));
        *self.db.write().unwrap_or_else(|p| p.into_inner()) = Err(reason.clone());
        self.tried = None;
        self.attempts = 0;
        let _ = self.usable();
        reason
    }

    fn is_closed(&self) -> bool {
        self.db.read().unwrap_or_else(|p| p.into_inner()).is_err()
    }

    /// The database to write to, reopened first if a failed write closed it.
    fn usable(&mut self) -> Result<Arc<Database>, StoreError> {
        let current = self.db.read().unwrap_or_else(|p| p.into_inner()).clone();
        let Err(reason) = current else { return current };
        if self.tried.is_some_and(|t| t.elapsed() < REOPEN_EVERY) {
            return Err(reason);
        }
        self.tried = Some(Instant::now());
        // The old database must be gone (its file lock released) first;
        // readers still holding it finish within moments.
        let mut last = None;
        for _ in 0..50 {
            match open_database(&self.path, self.cache_bytes, self.storage.as_ref()) {
                Ok(db) => {
                    let db = Arc::new(db);
                    *self.db.write().unwrap_or_else(|p| p.into_inner()) = Ok(db.clone());
                    tracing::warn!(path = %self.path.display(), "store reopened after a failed write");
                    return Ok(db);
                }
                Err(redb::DatabaseError::DatabaseAlreadyOpen) => {
                    std::thread::sleep(std::time::Duration::from_millis(10));
                }
                Err(e) => {
                    last = Some(db_err(e));
                    break;
                }
            }
        }
        if let Some(e) = last {
            // Every 500 ms while the disk stays full: logged now and then.
            self.attempts += 1;
            if self.attempts % 120 == 1 {
                tracing::error!(path = %self.path.display(), error = %e, attempts = self.attempts, "cannot reopen the store");
            }
        }
        Err(reason)
    }
}

/// Tells each batch's writers, in commit order.
fn notifier(committed: mpsc::Receiver<Committed>) {
    while let Ok((result, batch)) = committed.recv() {
        tell(result, batch);
    }
}

fn tell(result: Result<(), StoreError>, batch: Vec<Job>) {
    for job in batch {
        (job.done)(result.clone());
    }
}

fn commit_batch(db: &Database, batch: &mut [Job], stats: &CommitStats) -> Result<(), StoreError> {
    let started = Instant::now();
    let mut tx = db.begin_write().map_err(db_err)?;
    tx.set_durability(Durability::Immediate).map_err(db_err)?;
    {
        let mut w = RedbWrite::new(&tx);
        for job in batch.iter_mut() {
            let op = std::mem::replace(&mut job.op, Box::new(|_| Ok(())));
            // An op's own failure is reported through its result; the others still commit.
            let _ = op(&mut w);
        }
    }
    let applied = Instant::now();
    let committed = tx.commit().map_err(db_err);
    stats.apply_nanos.fetch_add((applied - started).as_nanos() as u64, Ordering::Relaxed);
    stats.commit_nanos.fetch_add(applied.elapsed().as_nanos() as u64, Ordering::Relaxed);
    committed
}

type ByteTable<'a> = redb::Table<'a, &'static [u8], &'static [u8]>;

/// A write transaction's tables, each opened once on first use: opening a
/// redb table per put cost more than the put itself.
struct RedbWrite<'a> {
    tx: &'a redb::WriteTransaction,
    open: RefCell<Vec<Option<ByteTable<'a>>>>,
}

impl<'a> RedbWrite<'a> {
    fn new(tx: &'a redb::WriteTransaction) -> Self {
        RedbWrite {
            tx,
            open: RefCell::new((0..Table::ALL.len()).map(|_| None).collect()),
        }
    }

    fn with<T>(
        &self,
        table: Table,
        f: impl FnOnce(&mut ByteTable<'a>) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let mut open = self.open.borrow_mut();
        let slot = &mut open[table as usize];
        if slot.is_none() {
            *slot = Some(self.tx.open_table(def(table)).map_err(db_err)?);
        }
        f(slot.as_mut().expect("opened above"))
    }
}

type ByteRange<'a> = redb::Range<'a, &'static [u8], &'static [u8]>;

/// The entries of `t` whose key starts with `prefix`.
fn prefix_range<'a>(
    t: &'a impl ReadableTable<&'static [u8], &'static [u8]>,
    prefix: &[u8],
) -> Result<ByteRange<'a>, StoreError> {
    match prefix_end(prefix) {
        Some(end) => t.range::<&[u8]>(prefix..end.as_slice()),
        None => t.range::<&[u8]>(prefix..),
    }
    .map_err(db_err)
}

fn scan_table(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    prefix: &[u8],
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    for item in prefix_range(t, prefix)? {
        let (k, v) = item.map_err(db_err)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

fn keys_in(t: &impl ReadableTable<&'static [u8], &'static [u8]>, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
    let mut out = Vec::new();
    for item in prefix_range(t, prefix)? {
        out.push(item.map_err(db_err)?.0.value().to_vec());
    }
    Ok(out)
}

fn scan_from_in(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    start: &[u8],
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    let mut out = Vec::new();
    for item in t.range::<&[u8]>(start..).map_err(db_err)?.take(limit) {
        let (k, v) = item.map_err(db_err)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

fn scan_back_in(
    t: &impl ReadableTable<&'static [u8], &'static [u8]>,
    prefix: &[u8],
    before: Option<&[u8]>,
    limit: usize,
) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    let end = match (before, prefix_end(prefix)) {
        (Some(b), Some(e)) => Some(if b < e.as_slice() { b.to_vec() } else { e }),
        (Some(b), None) => Some(b.to_vec()),
        (None, e) => e,
    };
    let range = match &end {
        Some(end) if end.as_slice() <= prefix => return Ok(Vec::new()),
        Some(end) => t.range::<&[u8]>(prefix..end.as_slice()),
        None => t.range::<&[u8]>(prefix..),
    }
    .map_err(db_err)?;
    let mut out = Vec::new();
    for item in range.rev().take(limit) {
        let (k, v) = item.map_err(db_err)?;
        out.push((k.value().to_vec(), v.value().to_vec()));
    }
    Ok(out)
}

impl Read for RedbWrite<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        self.with(table, |t| {
            Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
        })
    }
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.with(table, |t| scan_table(t, prefix))
    }
    fn keys(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.with(table, |t| keys_in(t, prefix))
    }
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.with(table, |t| scan_back_in(t, prefix, before, limit))
    }
    fn scan_from(&self, table: Table, start: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.with(table, |t| scan_from_in(t, start, limit))
    }
}

impl Write for RedbWrite<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.with(table, |t| t.insert(key, value).map(|_| ()).map_err(db_err))
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        self.with(table, |t| Ok(t.remove(key).map_err(db_err)?.is_some()))
    }
}

struct RedbRead {
    tx: redb::ReadTransaction,
}

impl Read for RedbRead {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        let t = self.tx.open_table(def(table)).map_err(db_err)?;
        Ok(t.get(key).map_err(db_err)?.map(|v| v.value().to_vec()))
    }
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan_table(&self.tx.open_table(def(table)).map_err(db_err)?, prefix)
    }
    fn count(&self, table: Table) -> Result<u64, StoreError> {
        self.tx.open_table(def(table)).map_err(db_err)?.len().map_err(db_err)
    }
    fn keys(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        keys_in(&self.tx.open_table(def(table)).map_err(db_err)?, prefix)
    }
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan_back_in(&self.tx.open_table(def(table)).map_err(db_err)?, prefix, before, limit)
    }
    fn scan_from(&self, table: Table, start: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        scan_from_in(&self.tx.open_table(def(table)).map_err(db_err)?, start, limit)
    }
}

impl Backend for RedbBackend {
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let db = self.db.read().unwrap_or_else(|p| p.into_inner()).clone()?;
        let tx = db.begin_read().map_err(db_err)?;
        drop(db);
        f(&RedbRead { tx })
    }
    fn write(&self, op: WriteOp, done: Done) {
        if let Err(mpsc::SendError(job)) = self.queue.send(Job { op, done }) {
            (job.done)(Err(StoreError::Database(
                "the store writer has stopped".into(),
            )));
        }
    }
    fn writes_failing(&self) -> bool {
        self.stats.failing.load(Ordering::Relaxed)
    }
    fn describe(&self) -> String {
        format!("redb at {}", self.path.display())
    }
}
