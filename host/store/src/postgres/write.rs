//! Writes: one writer thread takes every write waiting in its queue into
//! one transaction and one COMMIT (group commit), as the redb writer does.
//! Puts and deletes gather in the transaction's overlay and go to the
//! server in one statement per table (before a scan with a limit or a
//! count, and at the end); gets see the overlay first, and prefix scans see
//! the server's rows with the overlay laid over them.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::mpsc;

use tokio_postgres::Row;

use super::conn::{Conn, Driver, Params, Sql};
use super::leases::Host;
use super::read::{self, Query};
use crate::StoreError;
use crate::backend::{Done, Read, Table, Unwritable, Write, WriteOp};

/// Most ops in one transaction.
const MAX_BATCH: usize = 4096;

pub(crate) struct Job {
    pub(crate) op: WriteOp,
    pub(crate) done: Done,
}

/// Counters of the writer thread.
#[derive(Debug, Default)]
pub struct PgStats {
    /// The last commit failed (see `Backend::writes_failing`).
    pub failing: AtomicBool,
    pub commits: AtomicU64,
    pub ops: AtomicU64,
}

/// Starts the writer (and the thread that tells the writers of a batch).
pub(crate) fn start(driver: Arc<Driver>, stats: Arc<PgStats>, host: Arc<Host>) -> Result<mpsc::Sender<Job>, StoreError> {
    let (queue, jobs) = mpsc::channel();
    let (notify, committed) = mpsc::channel::<Committed>();
    let spawn_err = |e: std::io::Error| StoreError::Database(format!("cannot start a store thread: {e}"));
    std::thread::Builder::new()
        .name("stepbox-pg-notify".into())
        .spawn(move || {
            while let Ok((result, batch)) = committed.recv() {
                tell(result, batch);
            }
        })
        .map_err(spawn_err)?;
    std::thread::Builder::new()
        .name("stepbox-pg-writer".into())
        .spawn(move || writer(&driver, &jobs, &notify, &stats, &host))
        .map_err(spawn_err)?;
    Ok(queue)
}

type Committed = (Result<(), StoreError>, Vec<Job>);

fn tell(result: Result<(), StoreError>, batch: Vec<Job>) {
    for job in batch {
        (job.done)(result.clone());
    }
}

fn writer(driver: &Driver, jobs: &mpsc::Receiver<Job>, notify: &mpsc::Sender<Committed>, stats: &PgStats, host: &Host) {
    let mut conn: Option<Conn> = None;
    while let Ok(first) = jobs.recv() {
        let mut batch = vec![first];
        while batch.len() < MAX_BATCH {
            match jobs.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        stats.commits.fetch_add(1, Ordering::Relaxed);
        stats.ops.fetch_add(batch.len() as u64, Ordering::Relaxed);
        if conn.as_ref().is_none_or(Conn::is_closed) {
            conn = None;
            match driver.connect() {
                Ok(c) => conn = Some(c),
                Err(e) => {
                    fail(batch, e, stats);
                    continue;
                }
            }
        }
        let Some(c) = conn.as_mut() else { continue };
        match commit_batch(c, &mut batch, host) {
            Ok(()) => {
                stats.failing.store(false, Ordering::Relaxed);
                if let Err(mpsc::SendError((result, batch))) = notify.send((Ok(()), batch)) {
                    tell(result, batch);
                }
            }
            Err(e) => {
                stats.failing.store(true, Ordering::Relaxed);
                tracing::error!(error = %e, ops = batch.len(), "store commit failed");
                if c.is_closed() {
                    conn = None;
                }
                // Told here, before the next batch is applied: a journal
                // whose write failed then writes nothing more.
                tell(Err(e), batch);
            }
        }
    }
}

/// Runs every op of a batch that cannot be written against writes that
/// fail (so each answers its own callers as any failed write does), then
/// tells them.
fn fail(mut batch: Vec<Job>, e: StoreError, stats: &PgStats) {
    stats.failing.store(true, Ordering::Relaxed);
    tracing::error!(error = %e, ops = batch.len(), "store write failed");
    let mut w = Unwritable(e.clone());
    for job in batch.iter_mut() {
        let op = std::mem::replace(&mut job.op, Box::new(|_| Ok(())));
        let _ = op(&mut w);
    }
    tell(Err(e), batch);
}

fn commit_batch(conn: &mut Conn, batch: &mut [Job], host: &Host) -> Result<(), StoreError> {
    conn.batch("BEGIN")?;
    let mut w = Transaction::new(conn, host);
    for job in batch.iter_mut() {
        let op = std::mem::replace(&mut job.op, Box::new(|_| Ok(())));
        // An op's own failure is reported through its result; the others still commit.
        let _ = op(&mut w);
    }
    let flushed = w.flush().and_then(|()| w.failed());
    drop(w);
    match flushed {
        Ok(()) => conn.batch("COMMIT"),
        Err(e) => {
            conn.send("ROLLBACK");
            Err(e)
        }
    }
}

/// What the transaction wrote and the server has not seen yet: the last
/// value of each key (None: deleted).
pub(super) type Overlay = BTreeMap<Table, BTreeMap<Vec<u8>, Option<Vec<u8>>>>;

/// The writer's transaction.
struct Transaction<'a> {
    conn: RefCell<&'a mut Conn>,
    overlay: RefCell<Overlay>,
    /// The first statement that failed: the server has aborted the
    /// transaction, so every later call fails with it too.
    failed: RefCell<Option<StoreError>>,
    /// Execution numbers of this transaction's block not used yet (next, end).
    numbers: (u64, u64),
    host: &'a Host,
    /// Leases given (epoch 1) and ended in this transaction, not sent yet.
    new_leases: RefCell<Vec<Vec<u8>>>,
    ended_leases: RefCell<Vec<Vec<u8>>>,
    /// Leases given in this transaction (sent or not) and not ended since:
    /// this host's at epoch 1 until the COMMIT, whatever another host does
    /// (the upsert holds the row), so checking one needs no query.
    given: RefCell<std::collections::HashSet<Vec<u8>>>,
    /// Activity tasks offered and withdrawn in this transaction, not sent
    /// yet: token → (activity, input) to offer, or None to withdraw.
    activity_tasks: RefCell<BTreeMap<String, Option<(String, String)>>>,
}

/// How many execution numbers one value of `stepbox_execution_blocks`
/// stands for (migration 3): a transaction fetches a block when it inserts
/// its first execution; numbers left unused at its end are gaps (harmless:
/// numbers order executions, nothing counts them).
const BLOCK: u64 = 64;

/// The advisory lock key of `key` in `table`: the first 8 bytes of
/// SHA-256(table name, 0, key). Two keys sharing it only wait for each other.
fn lock_key(table: Table, key: &[u8]) -> i64 {
    use sha2::Digest;
    let mut h = sha2::Sha256::new();
    h.update(table.name().as_bytes());
    h.update([0]);
    h.update(key);
    let digest = h.finalize();
    let mut first = [0u8; 8];
    first.copy_from_slice(&digest[..8]);
    i64::from_be_bytes(first)
}

impl<'a> Transaction<'a> {
    fn new(conn: &'a mut Conn, host: &'a Host) -> Self {
        Transaction {
            conn: RefCell::new(conn),
            overlay: RefCell::default(),
            failed: RefCell::default(),
            numbers: (0, 0),
            host,
            new_leases: RefCell::default(),
            ended_leases: RefCell::default(),
            given: RefCell::default(),
            activity_tasks: RefCell::default(),
        }
    }

    /// Sends the activity tasks offered and withdrawn in this transaction;
    /// offers wake every host's GetActivityTask (notified at COMMIT).
    fn flush_activity_tasks(&self) -> Result<(), StoreError> {
        self.failed()?;
        let tasks = std::mem::take(&mut *self.activity_tasks.borrow_mut());
        if tasks.is_empty() {
            return Ok(());
        }
        let (mut tokens, mut activities, mut inputs, mut withdrawn) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for (token, offer) in tasks {
            match offer {
                Some((activity, input)) => {
                    tokens.push(token);
                    activities.push(activity);
                    inputs.push(input);
                }
                None => withdrawn.push(token),
            }
        }
        let host: &str = &self.host.id;
        let mut conn = self.conn.borrow_mut();
        if !withdrawn.is_empty() {
            self.note(conn.execute(Sql::ActivityWithdraw, Table::Meta, &[&withdrawn, &host]))?;
        }
        if !tokens.is_empty() {
            self.note(conn.execute(Sql::ActivityOffer, Table::Meta, &[&tokens, &activities, &inputs, &host]))?;
            let (channel, payload) = (super::notify::CHANNEL, super::notify::ACTIVITY_TASKS);
            self.note(conn.execute(Sql::Notify, Table::Meta, &[&channel, &payload]))?;
        }
        Ok(())
    }

    /// Sends the leases given and ended in this transaction.
    fn flush_leases(&self) -> Result<(), StoreError> {
        self.failed()?;
        let given = std::mem::take(&mut *self.new_leases.borrow_mut());
        let ended = std::mem::take(&mut *self.ended_leases.borrow_mut());
        let mut conn = self.conn.borrow_mut();
        if !given.is_empty() {
            let host: &str = &self.host.id;
            self.note(conn.execute(Sql::LeaseNew, Table::Meta, &[&given, &host]))?;
        }
        if !ended.is_empty() {
            self.note(conn.execute(Sql::LeaseEnd, Table::Meta, &[&ended]))?;
            self.note(conn.execute(Sql::AnswersEnd, Table::Meta, &[&ended]))?;
        }
        Ok(())
    }

    fn failed(&self) -> Result<(), StoreError> {
        self.failed.borrow().clone().map_or(Ok(()), Err)
    }

    fn note<T>(&self, r: Result<T, StoreError>) -> Result<T, StoreError> {
        if let Err(e) = &r {
            self.failed.borrow_mut().get_or_insert_with(|| e.clone());
        }
        r
    }

    /// Sends the overlay: one upsert and one delete per table; and the leases.
    fn flush(&self) -> Result<(), StoreError> {
        self.flush_leases()?;
        self.flush_activity_tasks()?;
        let overlay = std::mem::take(&mut *self.overlay.borrow_mut());
        let functions = super::functions::changed(&overlay);
        for (table, entries) in overlay {
            let (mut put_keys, mut values, mut deleted) = (Vec::new(), Vec::new(), Vec::new());
            for (key, value) in entries {
                match value {
                    Some(v) => {
                        put_keys.push(key);
                        values.push(v);
                    }
                    None => deleted.push(key),
                }
            }
            let mut conn = self.conn.borrow_mut();
            if !put_keys.is_empty() {
                self.note(conn.execute(Sql::PutMany, table, &[&put_keys, &values]))?;
            }
            if !deleted.is_empty() {
                self.note(conn.execute(Sql::DeleteMany, table, &[&deleted]))?;
            }
        }
        if !functions.is_empty() {
            let mut conn = self.conn.borrow_mut();
            self.note(conn.execute(Sql::FunctionsChanged, Table::Meta, &[&functions]))?;
            let (channel, payload) = (super::notify::CHANNEL, super::notify::FUNCTIONS);
            self.note(conn.execute(Sql::Notify, Table::Meta, &[&channel, &payload]))?;
        }
        Ok(())
    }

    /// What the overlay says of `key` (None: not written in this transaction).
    fn written(&self, table: Table, key: &[u8]) -> Option<Option<Vec<u8>>> {
        self.overlay.borrow().get(&table).and_then(|t| t.get(key).cloned())
    }

    fn set(&self, table: Table, key: &[u8], value: Option<&[u8]>) -> Result<(), StoreError> {
        self.failed()?;
        let mut overlay = self.overlay.borrow_mut();
        overlay.entry(table).or_default().insert(key.to_vec(), value.map(<[u8]>::to_vec));
        Ok(())
    }
}

/// The writer's transaction querying the server as it stands, without
/// sending the overlay first (its reads merge the overlay themselves).
struct Unsent<'t, 'a>(&'t Transaction<'a>);

impl Query for Unsent<'_, '_> {
    fn query(&self, sql: Sql, table: Table, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        self.0.failed()?;
        let rows = self.0.conn.borrow_mut().query(sql, table, params);
        self.0.note(rows)
    }
}

impl Transaction<'_> {
    /// The entries of `table` under `prefix`: the server's, with this
    /// transaction's unsent writes laid over them (a lookup of a name, say,
    /// need not send every put gathered so far: each send is a round trip
    /// per table, and the writer makes them one execution after another).
    fn scan_merged(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let stored = read::scan(&Unsent(self), table, prefix)?;
        Ok(self.merged(table, prefix, stored, |v| v.to_vec()))
    }

    /// [`scan_merged`](Self::scan_merged) of the keys alone.
    fn keys_merged(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        let stored = read::keys(&Unsent(self), table, prefix)?.into_iter().map(|k| (k, ())).collect();
        Ok(self.merged(table, prefix, stored, |_| ()).into_iter().map(|(k, ())| k).collect())
    }

    /// `stored` (in key order) with the unsent writes under `prefix` laid over it.
    fn merged<V>(&self, table: Table, prefix: &[u8], stored: Vec<(Vec<u8>, V)>, value: impl Fn(&[u8]) -> V) -> Vec<(Vec<u8>, V)> {
        let overlay = self.overlay.borrow();
        let mut written = match overlay.get(&table) {
            Some(w) => w.range(prefix.to_vec()..).take_while(|(k, _)| k.starts_with(prefix)).peekable(),
            None => return stored,
        };
        if written.peek().is_none() {
            return stored;
        }
        let mut merged: BTreeMap<Vec<u8>, V> = stored.into_iter().collect();
        for (key, v) in written {
            match v {
                Some(v) => merged.insert(key.clone(), value(v)),
                None => merged.remove(key),
            };
        }
        merged.into_iter().collect()
    }
}

impl Query for Transaction<'_> {
    /// Scans see the overlay's writes once it is sent.
    fn query(&self, sql: Sql, table: Table, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        if sql != Sql::Get {
            self.flush()?;
        }
        self.failed()?;
        let rows = self.conn.borrow_mut().query(sql, table, params);
        self.note(rows)
    }
}

impl Read for Transaction<'_> {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        match self.written(table, key) {
            Some(value) => Ok(value),
            None => read::get(self, table, key),
        }
    }
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        self.scan_merged(table, prefix)
    }
    fn keys(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        self.keys_merged(table, prefix)
    }
    fn count(&self, table: Table) -> Result<u64, StoreError> {
        read::count(self, table)
    }
    fn scan_from(&self, table: Table, start: &[u8], n: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        read::scan_from(self, table, start, n)
    }
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        n: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        read::scan_back(self, table, prefix, before, n)
    }
}

impl Write for Transaction<'_> {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.set(table, key, Some(value))
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let existed = self.get(table, key)?.is_some();
        if existed {
            self.set(table, key, None)?;
        }
        Ok(existed)
    }
    fn lock(&mut self, table: Table, key: &[u8]) -> Result<(), StoreError> {
        self.failed()?;
        let id = lock_key(table, key);
        let locked = self.conn.borrow_mut().query(Sql::Lock, Table::Meta, &[&id]).map(drop);
        self.note(locked)
    }
    fn lease_new(&mut self, key: &[u8]) -> Result<Option<u64>, StoreError> {
        self.failed()?;
        self.ended_leases.borrow_mut().retain(|k| k != key);
        self.new_leases.borrow_mut().push(key.to_vec());
        self.given.borrow_mut().insert(key.to_vec());
        Ok(Some(1))
    }
    fn lease_check(&mut self, key: &[u8], epoch: u64) -> Result<bool, StoreError> {
        self.failed()?;
        if self.given.borrow().contains(key) {
            return Ok(epoch == 1);
        }
        self.flush_leases()?;
        let rows = self.conn.borrow_mut().query(Sql::LeaseCheck, Table::Meta, &[&key]);
        let rows = self.note(rows)?;
        let Some(row) = rows.first() else { return Ok(false) };
        let (held, owner): (i64, String) = (
            row.try_get(0).map_err(super::conn::db_err)?,
            row.try_get(1).map_err(super::conn::db_err)?,
        );
        Ok(u64::try_from(held).ok() == Some(epoch) && owner == self.host.id)
    }
    fn answer_put(&mut self, key: &[u8], token: &str, signal: &str) -> Result<(), StoreError> {
        self.flush_leases()?;
        let put = self.conn.borrow_mut().execute(Sql::AnswerPut, Table::Meta, &[&key, &token, &signal]);
        self.note(put).map(drop)
    }
    fn lease_drop(&mut self, key: &[u8]) -> Result<(), StoreError> {
        self.failed()?;
        self.new_leases.borrow_mut().retain(|k| k != key);
        self.given.borrow_mut().remove(key);
        self.ended_leases.borrow_mut().push(key.to_vec());
        Ok(())
    }
    fn activity_offer(&mut self, activity: &str, token: &str, input: &str) -> Result<(), StoreError> {
        self.failed()?;
        self.activity_tasks.borrow_mut().insert(token.to_string(), Some((activity.to_string(), input.to_string())));
        Ok(())
    }
    fn activity_withdraw(&mut self, token: &str) -> Result<(), StoreError> {
        self.failed()?;
        self.activity_tasks.borrow_mut().insert(token.to_string(), None);
        Ok(())
    }
    fn next_execution_number(&mut self) -> Result<Option<u64>, StoreError> {
        if self.numbers.0 == self.numbers.1 {
            self.failed()?;
            let rows = self.conn.borrow_mut().query(Sql::NextBlock, Table::Meta, &[]);
            let rows = self.note(rows)?;
            let block: i64 = rows
                .first()
                .ok_or_else(|| StoreError::Database("no execution number block".into()))?
                .try_get(0)
                .map_err(super::conn::db_err)?;
            let first = u64::try_from(block).unwrap_or(1).max(1) * BLOCK;
            self.numbers = (first, first + BLOCK);
        }
        let n = self.numbers.0;
        self.numbers.0 += 1;
        Ok(Some(n))
    }
}
