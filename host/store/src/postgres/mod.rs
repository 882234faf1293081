//! The PostgreSQL backend (`stepbox serve --database-url postgres://…`):
//! the store's tables as SQL tables of `(key bytea, value bytea)`, through
//! tokio-postgres on a runtime of its own (see `conn`).
//!
//! * Reads: a REPEATABLE READ, READ ONLY transaction per
//!   [`Backend::read`](crate::Backend::read), on a pooled connection.
//! * Writes: one writer thread and connection; every write waiting in its
//!   queue goes into one transaction and one COMMIT (group commit), and its
//!   callers are told once the COMMIT answered (see `write`).
//! * The schema: migrations in `host/store/migrations`, applied at open
//!   (see `migrate`).

mod conn;
mod functions;
mod leases;
mod migrate;
mod notify;
mod read;
mod write;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;

pub use migrate::SCHEMA_VERSION;
#[cfg(test)]
pub(crate) use migrate::MIGRATIONS;
pub use write::PgStats;

use crate::StoreError;
use crate::backend::{Backend, Done, Read, WriteOp};

/// A store on a PostgreSQL database: one host among any number on it.
pub struct PostgresBackend {
    pool: conn::Pool,
    queue: mpsc::Sender<write::Job>,
    stats: Arc<PgStats>,
    host: Arc<leases::Host>,
    /// Woken by other hosts' notifications.
    wakeups: Arc<crate::backend::Wakeups>,
    /// Keeps the thread renewing this host's liveness running.
    alive: std::sync::Mutex<Option<mpsc::Sender<()>>>,
}

impl PostgresBackend {
    /// Connects to `url` (`postgres://USER[:PASS]@HOST[:PORT]/DB`) and
    /// brings the schema up to date, as a host whose leases last
    /// [`DEFAULT_LEASE`](crate::DEFAULT_LEASE). An unreachable database is
    /// [`StoreError::Unreachable`]; one whose schema is newer than this
    /// binary knows is [`StoreError::NewerSchema`].
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Self::open_with(url, crate::DEFAULT_LEASE)
    }

    /// [`open`](Self::open) as a host whose leases last `lease` unless renewed.
    pub fn open_with(url: &str, lease: std::time::Duration) -> Result<Self, StoreError> {
        Self::open_polling(url, lease, crate::DEFAULT_POLL)
    }

    /// [`open_with`](Self::open_with), its waiters looking for other hosts'
    /// requests and answers every `poll` when no notification woke them.
    #[doc(hidden)]
    pub fn open_polling(url: &str, lease: std::time::Duration, poll: std::time::Duration) -> Result<Self, StoreError> {
        let driver = Arc::new(conn::Driver::new(url)?);
        let mut first = driver.connect()?;
        let applied = migrate::migrate(&mut first, &driver.target)?;
        if !applied.is_empty() {
            tracing::info!(database = %driver.target, ?applied, "database schema migrated");
        }
        let host = Arc::new(leases::Host::register(&first, lease)?);
        let stats = Arc::new(PgStats::default());
        let queue = write::start(driver.clone(), stats.clone(), host.clone())?;
        let alive = std::sync::Mutex::new(Some(leases::keep_alive(driver.clone(), host.clone())?));
        let wakeups = Arc::new(crate::backend::Wakeups::new(poll));
        notify::listen(&driver, host.id.clone(), wakeups.clone());
        let pool = conn::Pool::new(driver);
        pool.give(first);
        Ok(PostgresBackend { pool, queue, stats, host, wakeups, alive })
    }

    /// Applies `migrations` as if they were this binary's (tests of a
    /// schema newer than a binary knows).
    #[doc(hidden)]
    pub fn migrate_with(url: &str, migrations: &[&str]) -> Result<Vec<i32>, StoreError> {
        let driver = conn::Driver::new(url)?;
        let mut c = driver.connect()?;
        migrate::migrate_to(&mut c, &driver.target, migrations)
    }

    /// Creates database `name` (dropping one of that name first) on the
    /// server of `admin_url` and answers its URL: each test's own database.
    #[doc(hidden)]
    pub fn create_database(admin_url: &str, name: &str) -> Result<String, StoreError> {
        let driver = conn::Driver::new(admin_url)?;
        let c = driver.connect()?;
        c.batch(&format!("DROP DATABASE IF EXISTS \"{name}\""))?;
        c.batch(&format!("CREATE DATABASE \"{name}\""))?;
        Ok(with_database(admin_url, name))
    }

    /// How many transactions and ops the writer committed so far.
    pub fn stats(&self) -> &Arc<PgStats> {
        &self.stats
    }
}

impl Backend for PostgresBackend {
    fn read(&self, f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>) -> Result<(), StoreError> {
        let mut conn = self.pool.take()?;
        let snapshot = read::Snapshot::new(&mut conn);
        let result = f(&snapshot);
        snapshot.end();
        self.pool.give(conn);
        result
    }
    fn write(&self, op: WriteOp, done: Done) {
        if let Err(mpsc::SendError(job)) = self.queue.send(write::Job { op, done }) {
            (job.done)(Err(StoreError::Database("the store writer has stopped".into())));
        }
    }
    fn writes_failing(&self) -> bool {
        self.stats.failing.load(Ordering::Relaxed)
    }
    fn describe(&self) -> String {
        format!("PostgreSQL at {}", self.pool.driver.target)
    }
    fn shared(&self) -> bool {
        true
    }
    fn leases(&self) -> Option<&dyn crate::backend::Leases> {
        Some(self)
    }
}

/// `url` naming database `name` instead of its own (query kept).
fn with_database(url: &str, name: &str) -> String {
    let (base, query) = url.split_once('?').map_or((url, None), |(b, q)| (b, Some(q)));
    let authority_at = base.find("://").map_or(0, |i| i + 3);
    let server = match base[authority_at..].find('/') {
        Some(slash) => &base[..authority_at + slash],
        None => base,
    };
    match query {
        Some(q) => format!("{server}/{name}?{q}"),
        None => format!("{server}/{name}"),
    }
}
