//! Storage for stepbox: state machines, versions, aliases, tags, functions
//! (wasm bytes and precompiled artifacts), executions, their event-sourced
//! histories, engine checkpoints and task tokens.
//!
//! * [`Stores`]: the API the server uses, async traits per concern
//!   ([`StateMachines`], [`Executions`], [`Functions`], [`Activities`],
//!   [`Tags`]), every call a `Result<_, StoreError>`.
//! * [`Store`]: their implementation, written once over the [`Backend`] trait.
//! * [`PostgresBackend`]: a PostgreSQL database (tokio-postgres), with the
//!   same group commit through one writer connection.
//! * [`RedbBackend`]: one crash-safe redb file; a single writer thread
//!   batches queued writes of many executions into one transaction and fsync
//!   (group commit). [`MemoryBackend`]: the same tables in memory, within a
//!   budget ([`Store::memory_with_budget`]).
//! * [`ExecutionJournal`]: the engine's [`HistorySink`](stepbox_engine::HistorySink)
//!   over a store (events and checkpoints, in order).

mod api;
mod arn_filter;
mod backend;
mod events;
mod execution_codec;
mod items;
mod journal;
mod memory;
mod postgres;
mod records;
mod redb_backend;
mod store;

pub use api::{Activities, Change, CloseChange, Executions, Functions, Journal, StateMachines, Stores, Tags, arn_account};
pub use backend::{Backend, Done, Leases, Read, Revisions, Table, Wakeups, Write, WriteOp};
pub use items::{DecideItem, ItemChange, Items};
pub use journal::{Begun, ExecutionJournal};
pub use memory::{ENTRY_OVERHEAD, MemoryBackend};
pub use postgres::{PgStats, PostgresBackend, SCHEMA_VERSION};
pub use records::*;
pub use redb::StorageBackend;
pub use redb_backend::{CommitStats, RedbBackend, Storage};
pub use store::{Commit, CommitLatency, INVOCATIONS_PER_EXECUTION, LatencySnapshot, Store};

use std::path::{Path, PathBuf};

/// Store failures.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StoreError {
    /// The data directory or file cannot be used as a store (never reset silently).
    #[error("cannot use {path} as the stepbox store: {reason}")]
    Unusable { path: PathBuf, reason: String },
    /// The database server cannot be reached (PostgreSQL).
    #[error("cannot connect to the database at {target}: {reason}")]
    Unreachable { target: String, reason: String },
    /// The database's schema is newer than this binary knows (never downgraded).
    #[error(
        "the database at {target} has stepbox schema version {found}, newer than this stepbox knows ({known}): run a newer stepbox"
    )]
    NewerSchema { target: String, found: i32, known: i32 },
    #[error("store database error: {0}")]
    Database(String),
    /// On a database several hosts share: this host does not (or no longer)
    /// hold the lease of the running execution (another host runs it).
    #[error("execution {0} is run by another host")]
    NotOwner(String),
    #[error("corrupt store record: {0}")]
    Corrupt(String),
}

/// Opens the store on the PostgreSQL database at `url`
/// (`postgres://USER[:PASS]@HOST[:PORT]/DB`), migrating its schema, as one
/// host among any number on it, with leases of [`DEFAULT_LEASE`].
pub fn open_postgres(url: &str) -> Result<Store, StoreError> {
    open_postgres_with(url, DEFAULT_LEASE)
}

/// [`open_postgres`] with leases of `lease` (`serve --lease-seconds`).
pub fn open_postgres_with(url: &str, lease: std::time::Duration) -> Result<Store, StoreError> {
    Store::open(std::sync::Arc::new(PostgresBackend::open_with(url, lease)?))
}

/// [`open_postgres_with`], looking for other hosts' requests and answers
/// every `poll` when no notification woke this host (tests).
#[doc(hidden)]
pub fn open_postgres_polling(url: &str, lease: std::time::Duration, poll: std::time::Duration) -> Result<Store, StoreError> {
    Store::open(std::sync::Arc::new(PostgresBackend::open_polling(url, lease, poll)?))
}

/// How often a host looks for requests sent to it and answers to its own
/// when no notification (LISTEN/NOTIFY) woke it: the slow fallback.
pub const DEFAULT_POLL: std::time::Duration = std::time::Duration::from_secs(1);

/// How long a host's leases last unless it renews them (`serve --lease-seconds`).
pub const DEFAULT_LEASE: std::time::Duration = std::time::Duration::from_secs(10);

/// The store file inside a data directory.
pub const STORE_FILE: &str = "stepbox.redb";

/// Opens (creating if needed) the durable store in `dir`: `dir/stepbox.redb`.
pub fn open_dir(dir: &Path) -> Result<Store, StoreError> {
    let unusable = |reason: String| StoreError::Unusable {
        path: dir.to_path_buf(),
        reason,
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| unusable(format!("cannot create the directory: {e}")))?;
    if !dir.is_dir() {
        return Err(unusable("not a directory".into()));
    }
    let backend = RedbBackend::open(&dir.join(STORE_FILE), 64 << 20)?;
    Store::open(std::sync::Arc::new(backend))
        .map_err(|e| unusable(format!("cannot read back the latest executions: {e}")))
}

#[cfg(test)]
mod tests;
