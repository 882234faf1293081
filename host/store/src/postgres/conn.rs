//! The bridge to the async driver: tokio-postgres connections run on a
//! runtime of their own (one thread), and the store's synchronous reads and
//! writes wait for their answers on the caller's thread.
//!
//! A tokio-postgres `Client` only sends requests to its connection task
//! and waits for the replies on channels, so its futures can be waited for
//! from any thread (`futures::executor::block_on`), also a tokio worker of
//! the server's runtime: the connection tasks never run there.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use futures::executor::block_on;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row, Statement};

use crate::StoreError;
use crate::backend::Table;

/// The driver's runtime and what to connect to.
pub(crate) struct Driver {
    runtime: Option<tokio::runtime::Runtime>,
    handle: tokio::runtime::Handle,
    config: tokio_postgres::Config,
    /// `HOST:PORT/DB`, for messages (never the password).
    pub(crate) target: String,
}

/// The runtime may be dropped on a tokio worker (a store dropped at the end
/// of a request or a test), where a blocking shutdown would panic.
impl Drop for Driver {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

/// `HOST:PORT/DB` of a connection configuration.
fn target_of(config: &tokio_postgres::Config) -> String {
    let host = match config.get_hosts().first() {
        Some(tokio_postgres::config::Host::Tcp(h)) => h.clone(),
        #[cfg(unix)]
        Some(tokio_postgres::config::Host::Unix(p)) => p.display().to_string(),
        None => "localhost".into(),
    };
    let port = config.get_ports().first().copied().unwrap_or(5432);
    format!("{host}:{port}/{}", config.get_dbname().unwrap_or(""))
}

/// How long a connection attempt may take, unless the URL says.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

impl Driver {
    /// Parses `url` (`postgres://USER[:PASS]@HOST[:PORT]/DB`) and starts the runtime.
    pub(crate) fn new(url: &str) -> Result<Self, StoreError> {
        let mut config: tokio_postgres::Config = url.parse().map_err(|e| StoreError::Unreachable {
            target: "the database URL".into(),
            reason: format!("not a PostgreSQL URL ({e}); expected postgres://USER[:PASS]@HOST[:PORT]/DB"),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("stepbox");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stepbox-postgres")
            .enable_all()
            .build()
            .map_err(|e| StoreError::Database(format!("cannot start the PostgreSQL driver's runtime: {e}")))?;
        let handle = runtime.handle().clone();
        Ok(Driver { runtime: Some(runtime), handle, target: target_of(&config), config })
    }

    /// The connection configuration (a listening connection's).
    pub(crate) fn config(&self) -> &tokio_postgres::Config {
        &self.config
    }

    /// Runs `task` on the driver's runtime (until it stops).
    pub(crate) fn spawn(&self, task: impl std::future::Future<Output = ()> + Send + 'static) {
        self.handle.spawn(task);
    }

    /// A new connection (its task runs on the driver's runtime).
    pub(crate) fn connect(&self) -> Result<Conn, StoreError> {
        let config = self.config.clone();
        let task = self.handle.spawn(async move {
            let (client, connection) = config.connect(NoTls).await?;
            tokio::spawn(async move {
                if let Err(e) = connection.await {
                    tracing::warn!(error = %e, "PostgreSQL connection closed");
                }
            });
            Ok::<_, tokio_postgres::Error>(client)
        });
        let unreachable = |reason: String| StoreError::Unreachable { target: self.target.clone(), reason };
        let client = block_on(task)
            .map_err(|e| unreachable(format!("the connection task failed: {e}")))?
            .map_err(|e| unreachable(error_text(&e)))?;
        Ok(Conn { client: Arc::new(client), statements: HashMap::new() })
    }
}

/// A driver error with its cause (tokio-postgres's own text is often just
/// "db error" or "error connecting to server").
pub(crate) fn error_text(e: &tokio_postgres::Error) -> String {
    if let Some(db) = e.as_db_error() {
        return format!("{}: {}", db.code().code(), db.message());
    }
    match std::error::Error::source(e) {
        Some(cause) => format!("{e}: {cause}"),
        None => e.to_string(),
    }
}

pub(crate) fn db_err(e: tokio_postgres::Error) -> StoreError {
    StoreError::Database(format!("PostgreSQL: {}", error_text(&e)))
}

/// The statements the backend runs on a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum Sql {
    Get,
    /// `key >= $1 AND key < $2`, in key order (a prefix with an end).
    Scan,
    /// `key >= $1`, in key order (a prefix without an end: all 0xff).
    ScanOpen,
    Keys,
    KeysOpen,
    Count,
    /// `key >= $1`, the first `$2`.
    ScanFrom,
    /// `key >= $1 AND key < $2`, the last `$3`, backwards.
    ScanBack,
    ScanBackOpen,
    /// Upserts `unnest($1, $2)`.
    PutMany,
    /// Deletes `key = ANY($1)`.
    DeleteMany,
    /// `pg_advisory_xact_lock($1)` (the table is not used).
    Lock,
    /// The next block of execution numbers (the table is not used).
    NextBlock,
    /// Leases `unnest($1)` given to host `$2` at epoch 1 (schema 4).
    LeaseNew,
    /// Deletes the leases `key = ANY($1)`.
    LeaseEnd,
    /// Deletes the task token answers of executions `key = ANY($1)`.
    AnswersEnd,
    /// Records answer `$3` to token `$2` of execution `$1`.
    AnswerPut,
    /// A lease's epoch and owner, held until the transaction ends.
    LeaseCheck,
    /// Offers activity tasks `unnest($1, $2, $3)` (token, activity, input)
    /// from host `$4` (schema 5); a token offered again is this host's now.
    ActivityOffer,
    /// Withdraws the activity tasks `token = ANY($1)` host `$2` offered.
    ActivityWithdraw,
    /// `pg_notify` of channel `$1`, payload `$2` (sent at COMMIT).
    Notify,
    /// Functions `$1` (names) changed: a new revision each (schema 8).
    FunctionsChanged,
}

/// The SQL table of a store table.
pub(crate) fn table_name(table: Table) -> String {
    format!("stepbox_{}", table.name())
}

impl Sql {
    fn text(self, table: Table) -> String {
        let t = table_name(table);
        match self {
            Sql::Get => format!("SELECT value FROM {t} WHERE key = $1"),
            Sql::Scan => format!("SELECT key, value FROM {t} WHERE key >= $1 AND key < $2 ORDER BY key"),
            Sql::ScanOpen => format!("SELECT key, value FROM {t} WHERE key >= $1 ORDER BY key"),
            Sql::Keys => format!("SELECT key FROM {t} WHERE key >= $1 AND key < $2 ORDER BY key"),
            Sql::KeysOpen => format!("SELECT key FROM {t} WHERE key >= $1 ORDER BY key"),
            Sql::Count => format!("SELECT count(*) FROM {t}"),
            Sql::ScanFrom => format!("SELECT key, value FROM {t} WHERE key >= $1 ORDER BY key LIMIT $2"),
            Sql::ScanBack => {
                format!("SELECT key, value FROM {t} WHERE key >= $1 AND key < $2 ORDER BY key DESC LIMIT $3")
            }
            Sql::ScanBackOpen => format!("SELECT key, value FROM {t} WHERE key >= $1 ORDER BY key DESC LIMIT $2"),
            Sql::PutMany => format!(
                "INSERT INTO {t} (key, value) SELECT * FROM unnest($1::bytea[], $2::bytea[]) \
                 ON CONFLICT (key) DO UPDATE SET value = EXCLUDED.value"
            ),
            Sql::DeleteMany => format!("DELETE FROM {t} WHERE key = ANY($1::bytea[])"),
            Sql::Lock => "SELECT pg_advisory_xact_lock($1)".into(),
            Sql::NextBlock => "SELECT nextval('stepbox_execution_blocks')".into(),
            Sql::LeaseNew => "INSERT INTO stepbox_leases (key, host, epoch) SELECT k, $2, 1 FROM unnest($1::bytea[]) k \
                 ON CONFLICT (key) DO UPDATE SET host = EXCLUDED.host, epoch = 1"
                .into(),
            Sql::LeaseEnd => "DELETE FROM stepbox_leases WHERE key = ANY($1::bytea[])".into(),
            Sql::AnswersEnd => "DELETE FROM stepbox_answers WHERE key = ANY($1::bytea[])".into(),
            Sql::AnswerPut => "INSERT INTO stepbox_answers (token, key, signal) VALUES ($2, $1, $3) \
                 ON CONFLICT (token) DO UPDATE SET key = EXCLUDED.key, signal = EXCLUDED.signal"
                .into(),
            Sql::LeaseCheck => "SELECT epoch, host FROM stepbox_leases WHERE key = $1 FOR SHARE".into(),
            Sql::ActivityOffer => "INSERT INTO stepbox_activity_tasks (token, activity, input, host) \
                 SELECT t, a, i, $4 FROM unnest($1::text[], $2::text[], $3::text[]) AS o(t, a, i) \
                 ON CONFLICT (token) DO UPDATE SET host = EXCLUDED.host, input = EXCLUDED.input"
                .into(),
            Sql::ActivityWithdraw => "DELETE FROM stepbox_activity_tasks WHERE token = ANY($1::text[]) AND host = $2".into(),
            Sql::Notify => "SELECT pg_notify($1, $2)".into(),
            Sql::FunctionsChanged => "INSERT INTO stepbox_function_changes (name, revision) \
                 SELECT n, nextval('stepbox_function_revisions') FROM unnest($1::text[]) n \
                 ON CONFLICT (name) DO UPDATE SET revision = EXCLUDED.revision"
                .into(),
        }
    }
}

pub(crate) type Params<'a> = &'a [&'a (dyn ToSql + Sync)];

/// One connection with the statements it prepared.
pub(crate) struct Conn {
    pub(crate) client: Arc<Client>,
    statements: HashMap<(Sql, Table), Statement>,
}

impl Conn {
    pub(crate) fn is_closed(&self) -> bool {
        self.client.is_closed()
    }

    /// `sql` on `table`, prepared on first use.
    pub(crate) fn statement(&mut self, sql: Sql, table: Table) -> Result<Statement, StoreError> {
        if let Some(s) = self.statements.get(&(sql, table)) {
            return Ok(s.clone());
        }
        let prepared = block_on(self.client.prepare(&sql.text(table))).map_err(db_err)?;
        self.statements.insert((sql, table), prepared.clone());
        Ok(prepared)
    }

    pub(crate) fn query(&mut self, sql: Sql, table: Table, params: Params<'_>) -> Result<Vec<Row>, StoreError> {
        let statement = self.statement(sql, table)?;
        block_on(self.client.query(&statement, params)).map_err(db_err)
    }

    pub(crate) fn execute(&mut self, sql: Sql, table: Table, params: Params<'_>) -> Result<u64, StoreError> {
        let statement = self.statement(sql, table)?;
        block_on(self.client.execute(&statement, params)).map_err(db_err)
    }

    /// Runs `text` (statements without parameters) and waits.
    pub(crate) fn batch(&self, text: &str) -> Result<(), StoreError> {
        block_on(self.client.batch_execute(text)).map_err(db_err)
    }

    /// Sends `text` without waiting for its answer (the next request on
    /// this connection is answered after it).
    pub(crate) fn send(&self, text: &str) {
        use futures::FutureExt;
        // Its first poll queues the request; the answer is discarded.
        let _ = self.client.batch_execute(text).now_or_never();
    }
}

/// Connections for reads, kept between reads.
pub(crate) struct Pool {
    pub(crate) driver: Arc<Driver>,
    idle: std::sync::Mutex<Vec<Conn>>,
}

/// Most idle read connections kept.
const MAX_IDLE: usize = 16;

impl Pool {
    pub(crate) fn new(driver: Arc<Driver>) -> Self {
        Pool { driver, idle: std::sync::Mutex::default() }
    }

    pub(crate) fn take(&self) -> Result<Conn, StoreError> {
        loop {
            let idle = self.idle.lock().unwrap_or_else(|e| e.into_inner()).pop();
            match idle {
                Some(conn) if conn.is_closed() => continue,
                Some(conn) => return Ok(conn),
                None => return self.driver.connect(),
            }
        }
    }

    pub(crate) fn give(&self, conn: Conn) {
        let mut idle = self.idle.lock().unwrap_or_else(|e| e.into_inner());
        if !conn.is_closed() && idle.len() < MAX_IDLE {
            idle.push(conn);
        }
    }
}

/// A row's bytea column.
pub(crate) fn bytes(row: &Row, i: usize) -> Result<Vec<u8>, StoreError> {
    row.try_get::<_, Vec<u8>>(i).map_err(db_err)
}

/// Rows of `(key, value)`.
pub(crate) fn pairs(rows: Vec<Row>) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
    rows.iter().map(|r| Ok((bytes(r, 0)?, bytes(r, 1)?))).collect()
}
