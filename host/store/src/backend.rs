//! The storage backend trait: a few ordered byte tables with transactional
//! writes. Everything typed ([`crate::Store`]) is written once on top of it,
//! so a backend is small: [`crate::MemoryBackend`] and [`crate::RedbBackend`].

use crate::StoreError;

/// The tables every backend keeps. Keys and values are bytes; the typed layer
/// encodes them (see `keys` in [`crate::store`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Table {
    /// Format marker and counters.
    Meta,
    StateMachines,
    Versions,
    Aliases,
    Tags,
    Functions,
    /// A function's wasm bytes, by function name.
    FunctionCode,
    /// Precompiled artifacts, by cache key.
    Artifacts,
    /// Execution records by sequence number (big-endian): numbers grow, so
    /// new executions append to the B-tree's right edge and the executions in
    /// flight share its last pages.
    Executions,
    /// How an execution is found by ARN: `first 8 bytes of SHA-256(ARN),
    /// sequence` (both big-endian), no value; ARNs that share the hash are
    /// told apart by their records. 16 bytes an entry, not an ARN's ~100:
    /// new executions' entries land at random places in this B-tree (clients
    /// name executions in no order), so its size sets how many leaves each
    /// bulk write copies (format 5; before, the table `execution_ids` mapped
    /// the ARN itself to the number).
    ExecutionIds,
    /// `state machine ARN \0 sequence` → sequence.
    ExecutionsByMachine,
    /// RUNNING Standard executions, by sequence: what a restart resumes.
    Running,
    /// `sequence, largest event id in the chunk` → a chunk of events.
    Events,
    /// Latest engine checkpoint per execution, by sequence.
    Checkpoints,
    TaskTokens,
    /// Activities (CreateActivity), by ARN.
    Activities,
    /// A Lambda function's published versions and aliases, by function name
    /// (each version's wasm is in `FunctionCode` under `NAME:N`).
    FunctionVersions,
    /// Definition texts of executions, by SHA-256 digest (see
    /// `execution_codec`): stored once, not in every execution record.
    Definitions,
    /// Items of the built-in DynamoDB integrations' tables, by
    /// `table \0 key` (see `items`).
    Items,
    /// The function invocations an execution's Task states made (duration,
    /// error, log tail), by `sequence, n` (see `store::invocations`).
    Invocations,
    /// Distributed Map runs as last recorded, and which execution started
    /// each (see `store/map_runs.rs`).
    MapRuns,
}

impl Table {
    pub const ALL: [Table; 21] = [
        Table::Meta,
        Table::StateMachines,
        Table::Versions,
        Table::Aliases,
        Table::Tags,
        Table::Functions,
        Table::FunctionCode,
        Table::Artifacts,
        Table::Executions,
        Table::ExecutionIds,
        Table::ExecutionsByMachine,
        Table::Running,
        Table::Events,
        Table::Checkpoints,
        Table::TaskTokens,
        Table::Activities,
        Table::FunctionVersions,
        Table::Definitions,
        Table::Items,
        Table::Invocations,
        Table::MapRuns,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Table::Meta => "meta",
            Table::StateMachines => "state_machines",
            Table::Versions => "versions",
            Table::Aliases => "aliases",
            Table::Tags => "tags",
            Table::Functions => "functions",
            Table::FunctionCode => "function_code",
            Table::Artifacts => "artifacts",
            Table::Executions => "executions",
            Table::ExecutionIds => "execution_arn_hashes",
            Table::ExecutionsByMachine => "executions_by_machine",
            Table::Running => "running",
            Table::Events => "events",
            Table::Checkpoints => "checkpoints",
            Table::TaskTokens => "task_tokens",
            Table::Activities => "activities",
            Table::FunctionVersions => "function_versions",
            Table::Definitions => "definitions",
            Table::Items => "items",
            Table::Invocations => "invocations",
            Table::MapRuns => "map_runs",
        }
    }
}

/// Reads inside one consistent snapshot.
pub trait Read {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError>;
    /// Entries whose key starts with `prefix`, in key order.
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError>;
    /// The keys of the entries whose key starts with `prefix`, in key order
    /// (without reading or copying their values, where the backend can).
    fn keys(&self, table: Table, prefix: &[u8]) -> Result<Vec<Vec<u8>>, StoreError> {
        Ok(self.scan(table, prefix)?.into_iter().map(|(k, _)| k).collect())
    }
    /// How many entries `table` holds.
    fn count(&self, table: Table) -> Result<u64, StoreError> {
        Ok(self.scan(table, b"")?.len() as u64)
    }
    /// The first `limit` entries from key `start` on, in key order.
    fn scan_from(&self, table: Table, start: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(self.scan(table, b"")?.into_iter().filter(|(k, _)| k.as_slice() >= start).take(limit).collect())
    }
    /// Up to `limit` entries whose key starts with `prefix` and sorts before
    /// `before` (None: no bound), from the last one back.
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let mut entries = self.scan(table, prefix)?;
        entries.retain(|(k, _)| before.is_none_or(|b| k.as_slice() < b));
        Ok(entries.into_iter().rev().take(limit).collect())
    }
    /// The last entry whose key starts with `prefix`.
    fn last(&self, table: Table, prefix: &[u8]) -> Result<Option<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(self.scan_back(table, prefix, None, 1)?.pop())
    }
}

/// Reads and writes inside one transaction.
pub trait Write: Read {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError>;
    /// Whether the key was there.
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError>;
    /// How many bytes the backend holds now, where it counts them (memory).
    fn bytes_held(&self) -> Option<u64> {
        None
    }
    /// Holds `key` of `table` until the transaction ends, against writers
    /// of other processes on the same database (a shared backend: see
    /// [`Backend::shared`]); a check-then-put of a name after it sees every
    /// other host's committed put. A no-op where one process writes.
    fn lock(&mut self, _table: Table, _key: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    /// A number for a new execution, unique among every process on the
    /// database (a shared backend); None where the store numbers them itself.
    fn next_execution_number(&mut self) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// Gives this host the lease of the new running execution `key` (its
    /// `Executions` key), answering its epoch; None where one host writes.
    fn lease_new(&mut self, _key: &[u8]) -> Result<Option<u64>, StoreError> {
        Ok(None)
    }
    /// Whether this host still holds the lease of execution `key` at
    /// `epoch`; held so until the transaction ends (no takeover commits
    /// meanwhile). True where one host writes.
    fn lease_check(&mut self, _key: &[u8], _epoch: u64) -> Result<bool, StoreError> {
        Ok(true)
    }
    /// Ends the lease of execution `key` (it closed), and with it the
    /// task token answers recorded for it.
    fn lease_drop(&mut self, _key: &[u8]) -> Result<(), StoreError> {
        Ok(())
    }
    /// Records the answer `signal` to task token `token` of execution `key`
    /// (see [`Leases::answers`]); only where several hosts share the store.
    fn answer_put(&mut self, _key: &[u8], _token: &str, _signal: &str) -> Result<(), StoreError> {
        Err(StoreError::Database("task token answers are recorded only on a shared database".into()))
    }
    /// Offers activity task `token` (its `input`) to the workers of
    /// `activity` on every host (see [`Leases::claim_activity_task`]); a
    /// token offered again is this host's offer now. Only where several
    /// hosts share the store.
    fn activity_offer(&mut self, _activity: &str, _token: &str, _input: &str) -> Result<(), StoreError> {
        Err(StoreError::Database("activity tasks are queued in the store only on a shared database".into()))
    }
    /// Withdraws activity task `token` if this host offered it and no
    /// worker took it yet.
    fn activity_withdraw(&mut self, _token: &str) -> Result<(), StoreError> {
        Err(StoreError::Database("activity tasks are queued in the store only on a shared database".into()))
    }
}

/// What wakes a host's waiters on a database several hosts share (the
/// PostgreSQL backend's LISTEN/NOTIFY: see its `notify`); each waiter also
/// looks anyway every [`fallback`](Self::fallback), in case a notification
/// was missed.
pub struct Wakeups {
    /// A request was sent to this host.
    pub(crate) requests: tokio::sync::Notify,
    /// A request was answered.
    pub(crate) answers: tokio::sync::Notify,
    /// Leases were taken over (an execution moved).
    pub(crate) moved: tokio::sync::Notify,
    /// A lease was given up: a host may take it over now.
    pub(crate) expired: tokio::sync::Notify,
    /// An activity task was offered (any activity, on any host).
    pub(crate) activity_tasks: tokio::sync::Notify,
    /// A function was written (created, updated, published, deleted) on any host.
    pub(crate) functions: tokio::sync::Notify,
    /// How often waiters look without a notification.
    pub fallback: std::time::Duration,
}

impl Wakeups {
    pub(crate) fn new(fallback: std::time::Duration) -> Self {
        Wakeups {
            requests: Default::default(),
            answers: Default::default(),
            moved: Default::default(),
            expired: Default::default(),
            activity_tasks: Default::default(),
            functions: Default::default(),
            fallback,
        }
    }

    /// Wakes every waiter (after a time notifications may have been missed).
    pub(crate) fn all(&self) {
        self.requests.notify_one();
        self.answers.notify_waiters();
        self.moved.notify_waiters();
        self.expired.notify_one();
        self.activity_tasks.notify_waiters();
        self.functions.notify_one();
    }

    /// Woken (every waiter) once an activity task was offered on any host:
    /// GetActivityTask's long poll listens here (`notified()`, enabled
    /// before it looks) besides the [`fallback`](Self::fallback).
    pub fn activity_tasks(&self) -> &tokio::sync::Notify {
        &self.activity_tasks
    }

    /// Resolves once a request was sent to this host, or after the fallback.
    pub async fn requests_sent(&self) {
        tokio::select! {
            _ = self.requests.notified() => {}
            _ = tokio::time::sleep(self.fallback) => {}
        }
    }

    /// Resolves once a function was written on any host, or after the fallback.
    pub async fn functions_written(&self) {
        tokio::select! {
            _ = self.functions.notified() => {}
            _ = tokio::time::sleep(self.fallback) => {}
        }
    }

    /// Resolves once a host gave a lease up, or after `every`.
    pub async fn lease_given_up(&self, every: std::time::Duration) {
        tokio::select! {
            _ = self.expired.notified() => {}
            _ = tokio::time::sleep(every) => {}
        }
    }
}

/// The leases of running executions on a database several hosts share:
/// each running Standard execution is owned by one host, which renews its
/// own liveness while it lives; another host takes a lease over once its
/// owner's liveness expired, bumping its epoch.
pub trait Leases: Send + Sync {
    /// How long a host's liveness lasts unless renewed.
    fn duration(&self) -> std::time::Duration;
    /// What wakes this host's waiters.
    fn wakeups(&self) -> std::sync::Arc<Wakeups>;
    /// Tells the other hosts that leases moved to this one (their requests'
    /// senders look where their executions went).
    fn moved(&self) -> Result<(), StoreError>;
    /// Stops renewing this host's liveness, as if it had died (tests).
    fn stop_renewing(&self);
    /// Answers, of the executions `held` (keys), the ones whose lease is
    /// found: (key, epoch, this host's). (A thread of the backend renews
    /// this host's liveness, so a busy runtime cannot starve it.)
    fn check(&self, held: &[Vec<u8>]) -> Result<Vec<(Vec<u8>, u64, bool)>, StoreError>;
    /// Gives up the lease of execution `key`, taken over but not resumed
    /// (its record could not be read): any host, this one included, takes
    /// it over again.
    fn abandon(&self, key: &[u8]) -> Result<(), StoreError>;
    /// The task token answers recorded for execution `key`: (token, signal).
    fn answers(&self, key: &[u8]) -> Result<Vec<(String, String)>, StoreError>;
    /// Deletes the answer recorded for `token` (its task refused it).
    fn forget_answer(&self, token: &str) -> Result<(), StoreError>;
    /// Takes over up to `limit` leases whose owner's liveness expired
    /// (skipping the ones another host is taking or writing under),
    /// answering (key, new epoch).
    fn take_expired(&self, limit: usize) -> Result<Vec<(Vec<u8>, u64)>, StoreError>;
    /// The host owning execution `key`'s lease, and whether it is this
    /// one (None: no lease, the execution is not running).
    fn owner(&self, key: &[u8]) -> Result<Option<(String, bool)>, StoreError>;
    /// Sends `request` to `host` (see `stepbox_requests`), answering its id.
    fn send(&self, host: &str, request: &str) -> Result<i64, StoreError>;
    /// The answer to request `id` once there is one (then the request goes).
    fn answer_to(&self, id: i64) -> Result<Option<String>, StoreError>;
    /// Sends unanswered request `id` to `host` instead (its owner changed).
    fn readdress(&self, id: i64, host: &str) -> Result<(), StoreError>;
    /// Deletes request `id`, answered or not.
    fn withdraw(&self, id: i64) -> Result<(), StoreError>;
    /// The unanswered requests sent to this host: (id, request).
    fn requests(&self) -> Result<Vec<(i64, String)>, StoreError>;
    fn answer(&self, id: i64, answer: &str) -> Result<(), StoreError>;
    /// Claims the oldest activity task offered for `activity` (by any
    /// host), skipping ones another host is claiming: (token, input). Each
    /// task is claimed once.
    fn claim_activity_task(&self, activity: &str) -> Result<Option<(String, String)>, StoreError>;
    /// Every function's revision (a new one with each write of its record,
    /// code or versions, its deletion included), unless their digest is
    /// still `seen`: (digest now, (name, revision)). A host that loaded a
    /// function whose revision changed loads it again.
    fn function_revisions(&self, seen: Revisions) -> Result<Option<(Revisions, Vec<(String, i64)>)>, StoreError>;
}

/// The digest of every function's revision on a shared database: their sum
/// and count (see [`Leases::function_revisions`]).
pub type Revisions = (i64, i64);

/// A write applied inside a transaction.
pub type WriteOp = Box<dyn FnOnce(&mut dyn Write) -> Result<(), StoreError> + Send>;
/// Called once the transaction holding the op is durable (or failed).
pub type Done = Box<dyn FnOnce(Result<(), StoreError>) + Send>;

/// A transactional store of ordered byte tables.
pub trait Backend: Send + Sync {
    /// Runs `f` on a consistent snapshot.
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError>;
    /// Applies `op` in a write transaction (possibly shared with other ops:
    /// group commit) and calls `done` once that transaction is durable. Ops
    /// are applied in submission order.
    fn write(&self, op: WriteOp, done: Done);
    /// Whether the last write failed (a full disk) and none has succeeded
    /// since: callers then wait for their write before acting on it.
    fn writes_failing(&self) -> bool {
        false
    }
    /// Short description for logs (`redb at PATH`, `memory`).
    fn describe(&self) -> String;
    /// Whether what it holds outlives the process.
    fn persistent(&self) -> bool {
        true
    }
    /// How many bytes it holds, where it counts them (memory).
    fn bytes_held(&self) -> Option<u64> {
        None
    }
    /// Whether other processes (hosts) write the same database: then the
    /// store keeps nothing of it in memory that another could change
    /// (caches, ARN entries not yet written, a negative ARN filter), takes
    /// execution numbers from [`Write::next_execution_number`] and names
    /// under [`Write::lock`].
    fn shared(&self) -> bool {
        false
    }
    /// The leases of running executions, on a shared backend.
    fn leases(&self) -> Option<&dyn Leases> {
        None
    }
}

/// Where a batch's ops run while the database cannot be written: every
/// read and write fails with the reason.
pub(crate) struct Unwritable(pub(crate) StoreError);

impl Read for Unwritable {
    fn get(&self, _: Table, _: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Err(self.0.clone())
    }
    fn scan(&self, _: Table, _: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Err(self.0.clone())
    }
}

impl Write for Unwritable {
    fn put(&mut self, _: Table, _: &[u8], _: &[u8]) -> Result<(), StoreError> {
        Err(self.0.clone())
    }
    fn delete(&mut self, _: Table, _: &[u8]) -> Result<bool, StoreError> {
        Err(self.0.clone())
    }
}

/// The first key after every key starting with `prefix` (None: no bound).
pub(crate) fn prefix_end(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut end = prefix.to_vec();
    while let Some(last) = end.pop() {
        if last < 0xff {
            end.push(last + 1);
            return Some(end);
        }
    }
    None
}
