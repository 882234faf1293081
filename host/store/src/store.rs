//! The typed store: every record kind over any [`Backend`].

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;
use stepbox_engine::{Checkpoint, HistoryEvent};

use crate::StoreError;
use crate::backend::{Backend, Read, Table, Write};
use crate::events::{self, EventChunk};
use crate::execution_codec;
use crate::records::*;

mod retention;

/// Resolves once the write is durable, with the write's own result.
pub type Commit<T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send>>;

/// Key layouts.
pub(crate) mod keys {
    /// `parent \0 n` (big-endian, so keys sort by n).
    pub fn child(parent: &str, n: u64) -> Vec<u8> {
        let mut k = Vec::with_capacity(parent.len() + 9);
        k.extend_from_slice(parent.as_bytes());
        k.push(0);
        k.extend_from_slice(&n.to_be_bytes());
        k
    }
    /// The prefix of every `child(parent, _)`.
    pub fn children(parent: &str) -> Vec<u8> {
        let mut k = parent.as_bytes().to_vec();
        k.push(0);
        k
    }
    /// The trailing number of a `child` or `event_chunk` key.
    pub fn child_number(key: &[u8]) -> u64 {
        key.len()
            .checked_sub(8)
            .and_then(|i| key[i..].try_into().ok())
            .map_or(0, u64::from_be_bytes)
    }
    /// An execution's `ExecutionIds` entry: the first 8 bytes of its ARN's
    /// SHA-256, then its number (both fixed-size, so an entry is 16 bytes
    /// instead of the ~100 of an ARN: see `Table::ExecutionIds`).
    pub fn arn_entry(arn: &str, seq: u64) -> [u8; 16] {
        hashed_arn_entry(u64::from_be_bytes(arn_hash(arn)), seq)
    }
    /// `arn_entry`, from the ARN's hash as a big-endian number.
    pub fn hashed_arn_entry(hash: u64, seq: u64) -> [u8; 16] {
        let mut k = [0; 16];
        k[..8].copy_from_slice(&hash.to_be_bytes());
        k[8..].copy_from_slice(&seq.to_be_bytes());
        k
    }
    /// The prefix of every `arn_entry(arn, _)`. A stable hash (the file
    /// outlives the process); ARNs that share it are told apart by their
    /// records.
    pub fn arn_hash(arn: &str) -> [u8; 8] {
        use sha2::Digest;
        let digest = sha2::Sha256::digest(arn.as_bytes());
        let mut h = [0; 8];
        h.copy_from_slice(&digest[..8]);
        h
    }
    /// An execution's key in the tables keyed by its sequence number.
    pub fn execution(seq: u64) -> [u8; 8] {
        seq.to_be_bytes()
    }
    /// `sequence, n` (both big-endian): an event chunk's key.
    pub fn event_chunk(seq: u64, n: u64) -> [u8; 16] {
        let mut k = [0; 16];
        k[..8].copy_from_slice(&seq.to_be_bytes());
        k[8..].copy_from_slice(&n.to_be_bytes());
        k
    }
}

/// The largest execution sequence number in use (0: none).
fn last_sequence(r: &(impl Read + ?Sized)) -> Result<u64, StoreError> {
    Ok(r.last(Table::Executions, b"")?.map_or(0, |(k, _)| sequence_of(&k)))
}

/// A filter of every ARN hash in the `ExecutionIds` table, sized for twice
/// as many (read in batches: the table may hold millions).
fn filter_of_table(r: &(impl Read + ?Sized)) -> Result<crate::arn_filter::ArnFilter, StoreError> {
    filter_of_table_in_batches(r, 65_536)
}

pub(crate) fn filter_of_table_in_batches(
    r: &(impl Read + ?Sized),
    batch_size: usize,
) -> Result<crate::arn_filter::ArnFilter, StoreError> {
    let entries = usize::try_from(r.count(Table::ExecutionIds)?).unwrap_or(usize::MAX / 4);
    let filter = crate::arn_filter::ArnFilter::with_capacity(entries.saturating_mul(2));
    let mut start = Vec::new();
    loop {
        let batch = r.scan_from(Table::ExecutionIds, &start, batch_size)?;
        for (key, _) in &batch {
            if let Some(hash) = key.get(..8).and_then(|h| h.try_into().ok()) {
                filter.add(u64::from_be_bytes(hash));
            }
        }
        match batch.last() {
            Some((last, _)) if batch.len() == batch_size => {
                start = last.clone();
                start.push(0); // the next key after it
            }
            _ => return Ok(filter),
        }
    }
}

/// The sequence number of the execution `arn` (None: no such execution).
/// `recent`: its number from [`RecentIds`], looked up before `r`'s snapshot
/// began (the table has every entry `RecentIds` no longer holds by then).
fn sequence_in(r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<Option<u64>, StoreError> {
    Ok(execution_in(r, recent, arn)?.map(|(seq, _)| seq))
}

/// Execution `arn`'s sequence number and stored record bytes (None: no such
/// execution; a number in the table without a record, which no write
/// leaves, is corrupt). `recent` as for `sequence_in`.
fn execution_in(r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
    if let Some(seq) = recent {
        // Its record may be in no snapshot yet (or never: a failed commit).
        return Ok(r.get(Table::Executions, &keys::execution(seq))?.map(|bytes| (seq, bytes)));
    }
    // Almost always one entry, or none; more only when ARNs share a hash prefix.
    for (key, _) in r.scan(Table::ExecutionIds, &keys::arn_hash(arn))? {
        let seq = keys::child_number(&key);
        match r.get(Table::Executions, &keys::execution(seq))? {
            Some(bytes) if execution_codec::arn_of(&bytes)? == arn => return Ok(Some((seq, bytes))),
            Some(_) => {}
            None => return Err(StoreError::Corrupt(format!("execution {arn} has a number but no record"))),
        }
    }
    Ok(None)
}

/// `sequence_in`, for writes that need the execution to exist.
pub(crate) fn existing_sequence(r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<u64, StoreError> {
    sequence_in(r, recent, arn)?.ok_or_else(|| StoreError::Database(format!("no execution {arn}")))
}

/// Execution `arn`'s `ExecutionIds` key (for a migration).
pub(crate) fn arn_entry(arn: &str, seq: u64) -> [u8; 16] {
    keys::arn_entry(arn, seq)
}

/// Up to where every execution's `ExecutionIds` entry is in the table
/// (format 3): the ones after it are read back into [`RecentIds`] at open.
pub(crate) const IDS_WRITTEN_KEY: &[u8] = b"execution_ids_written";

/// Marks every execution numbered so far as having its `ExecutionIds`
/// entry in the table (a new, or a migrated format 1 or 2, store).
pub(crate) fn mark_ids_written(w: &mut dyn Write) -> Result<(), StoreError> {
    let upto = last_sequence(w)?;
    w.put(Table::Meta, IDS_WRITTEN_KEY, &upto.to_be_bytes())
}

/// Most execution records one page of `list_executions_page` reads.
pub(crate) const LIST_SCAN: usize = 4096;

/// How many execution records one write of a retention sweep looks at.
pub(crate) const PURGE_BATCH: usize = 1024;

/// How many recent ARN entries are gathered before they are written in one go.
pub(crate) const IDS_PER_WRITE: usize = 2048;

/// The ARN → number entries of executions inserted since the last bulk
/// write of the `ExecutionIds` table. Inserting them one by one put a
/// random key per execution (one B-tree leaf copied and written per start,
/// about a third of a commit's pages); written sorted every
/// [`IDS_PER_WRITE`] executions, neighbours share the leaves. After a crash
/// the store rebuilds them from the records numbered after
/// [`IDS_WRITTEN_KEY`]. A reader looks here before its snapshot begins: an
/// entry leaves only once the write that put it in the table is durable, so
/// a snapshot begun after that has it.
#[derive(Default)]
pub(crate) struct RecentIds {
    /// ARN → (number, `arn_hash_number`): hashed once, at insert.
    map: Mutex<std::collections::HashMap<Box<str>, (u64, u64)>>,
    /// A bulk write is queued.
    writing: std::sync::atomic::AtomicBool,
    /// How many times entries left memory for the table (counted before
    /// they leave): see [`ArnChecked`].
    moved: AtomicU64,
    /// Every ARN in the table or here (see `crate::arn_filter`).
    filter: crate::arn_filter::ArnFilter,
}

/// When a new execution's ARN was found in neither the table nor
/// [`RecentIds`] by a read on the caller's thread (made while the ARN was
/// claimed, so no other start of it ran meanwhile), the writer need not look
/// the ARN up in the table again, unless entries moved from memory to the
/// table since: anything the read missed is still in memory. (The lookup is
/// a random B-tree descent per start; this spares it almost always.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArnChecked {
    moved: u64,
}

impl RecentIds {
    fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, (u64, u64)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn get(&self, arn: &str) -> Option<u64> {
        self.map().get(arn).map(|&(seq, _)| seq)
    }
    fn insert(&self, arn: &str, seq: u64) {
        // Into the filter before the entry can reach the table.
        let hash = arn_hash_number(arn);
        self.filter.add(hash);
        self.map().insert(arn.into(), (seq, hash));
    }
    /// False when `arn` is neither here nor in the table: no execution has it.
    pub(crate) fn may_be_stored(&self, arn: &str) -> bool {
        self.filter.may_contain(arn_hash_number(arn))
    }
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
    /// Taken before a read that finds no execution under an ARN: see [`ArnChecked`].
    pub(crate) fn before_check(&self) -> ArnChecked {
        ArnChecked { moved: self.moved.load(Ordering::SeqCst) }
    }
    /// Whether entries moved to the table since `checked` was taken.
    fn moved_since(&self, checked: ArnChecked) -> bool {
        self.moved.load(Ordering::SeqCst) != checked.moved
    }
}

/// `keys::arn_hash` as a number, what [`ArnFilter`](crate::arn_filter::ArnFilter) holds.
fn arn_hash_number(arn: &str) -> u64 {
    u64::from_be_bytes(keys::arn_hash(arn))
}

/// Writes every recent entry whose record exists into the table, sorted,
/// and moves the mark. Returns the entries it took (written, or of a
/// record no commit kept), to be dropped once this write is durable.
fn write_recent_ids(w: &mut dyn Write, ids: &RecentIds) -> Result<Vec<(Box<str>, u64)>, StoreError> {
    let mut taken = Vec::new();
    let mut entries = Vec::new();
    for (arn, &(seq, hash)) in ids.map().iter() {
        taken.push((arn.clone(), seq));
        entries.push(keys::hashed_arn_entry(hash, seq));
    }
    // In key order, so neighbours share the leaves they are written to.
    entries.sort_unstable();
    for entry in entries {
        if w.get(Table::Executions, &keys::execution(keys::child_number(&entry)))?.is_some() {
            w.put(Table::ExecutionIds, &entry, b"")?;
        }
    }
    // Every number so far is now in the table or was never committed (ones
    // applied after this write get larger numbers: see `insert_in`).
    mark_ids_written(w)?;
    Ok(taken)
}

/// What a write of the records under `prefix` (an ARN, or a state machine's
/// `ARN:` for its versions or aliases) runs once durable: drops them from `cache`.
fn written<T: Clone + Send + 'static>(cache: &Arc<RecordCache<T>>, prefix: &str) -> impl FnOnce() + Send + 'static {
    let (cache, prefix) = (cache.clone(), prefix.to_string());
    move || cache.written(&prefix)
}

/// Format 1's execution counter (format 2 numbers after the last `Executions` key).
const SEQUENCE_KEY: &[u8] = b"execution_sequence";

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

/// Decodes an execution record read in `r`, with its definition text.
pub(crate) fn decode_in(r: &(impl Read + ?Sized), bytes: &[u8]) -> Result<ExecutionRecord, StoreError> {
    let (mut record, digest) = execution_codec::decode(bytes)?;
    if let Some(digest) = digest {
        let text = r.get(Table::Definitions, &digest)?.ok_or_else(|| {
            StoreError::Corrupt(format!("the definition of execution {} is missing", record.arn))
        })?;
        record.definition = String::from_utf8(text)
            .map_err(|_| StoreError::Corrupt(format!("the definition of execution {} is not text", record.arn)))?;
    }
    Ok(record)
}

/// Stores the definition `encoded` (the record `record`) refers to, unless
/// stored already (one lookup in a small table).
fn store_definition(w: &mut dyn Write, record: &ExecutionRecord, encoded: &[u8]) -> Result<(), StoreError> {
    if let Some(digest) = execution_codec::definition_of(encoded)?
        && w.get(Table::Definitions, &digest)?.is_none()
    {
        w.put(Table::Definitions, &digest, record.definition.as_bytes())?;
    }
    Ok(())
}

/// Writes execution `seq`'s record; a closed one leaves the running index
/// and drops its checkpoint.
fn write_execution(w: &mut dyn Write, seq: u64, record: &ExecutionRecord) -> Result<(), StoreError> {
    write_encoded_execution(w, seq, record, &execution_codec::encode(record)?)
}

fn write_encoded_execution(
    w: &mut dyn Write,
    seq: u64,
    record: &ExecutionRecord,
    encoded: &[u8],
) -> Result<(), StoreError> {
    let key = keys::execution(seq);
    // Usually stored by the insert already; not for a record a format 3
    // store wrote with its text inline, which this rewrite stores by digest.
    store_definition(w, record, encoded)?;
    w.put(Table::Executions, &key, encoded)?;
    if !record.is_running() {
        w.delete(Table::Running, &key)?;
        // Looked up first: most executions never checkpoint, and a lookup
        // does not copy the table's pages as a delete does.
        if w.get(Table::Checkpoints, &key)?.is_some() {
            w.delete(Table::Checkpoints, &key)?;
        }
    }
    Ok(())
}

/// The `Events` key of a chunk of execution `seq`'s events.
pub(crate) fn chunk_key(seq: u64, chunk: &EventChunk) -> [u8; 16] {
    keys::event_chunk(seq, chunk.last_id())
}

/// The `Checkpoints` key of execution `seq`.
pub(crate) fn checkpoint_key(seq: u64) -> [u8; 8] {
    keys::execution(seq)
}

pub(crate) fn encode_checkpoint(checkpoint: &Checkpoint) -> Result<Vec<u8>, StoreError> {
    encode(&checkpoint.to_json())
}

/// An execution record changed and encoded on the caller's thread, from the
/// stored bytes it was read as.
pub(crate) struct PreparedUpdate {
    /// The execution's number (0: not known on the caller's thread; the
    /// writer fills it in before applying).
    pub(crate) seq: u64,
    read: Vec<u8>,
    record: ExecutionRecord,
    encoded: Vec<u8>,
}

/// Writes `prepared` if the stored record is still what it was read as (a
/// byte comparison), else applies `change` to what is stored now (a
/// StopExecution got there first). None: no such execution.
pub(crate) fn apply_update_in(
    w: &mut dyn Write,
    recent: &RecentIds,
    arn: &str,
    prepared: Option<PreparedUpdate>,
    change: impl FnOnce(&mut ExecutionRecord),
) -> Result<Option<ExecutionRecord>, StoreError> {
    if let Some(p) = prepared
        && w.get(Table::Executions, &keys::execution(p.seq))?.is_some_and(|now| now == p.read)
    {
        write_encoded_execution(w, p.seq, &p.record, &p.encoded)?;
        return Ok(Some(p.record));
    }
    update_execution_in(w, recent, arn, change)
}

/// Applies `change` to the execution inside a write (None: no such execution).
pub(crate) fn update_execution_in(
    w: &mut dyn Write,
    recent: &RecentIds,
    arn: &str,
    change: impl FnOnce(&mut ExecutionRecord),
) -> Result<Option<ExecutionRecord>, StoreError> {
    let Some((seq, b)) = execution_in(w, recent.get(arn), arn)? else {
        return Ok(None);
    };
    let mut record = decode_in(w, &b)?;
    change(&mut record);
    write_execution(w, seq, &record)?;
    Ok(Some(record))
}

/// Inserts `record` (encoded as `encoded`) as execution `seq` unless its ARN
/// exists (then returns the stored record). `seq` was handed out on the
/// caller's thread; when another insert overtook it on the way, the record
/// gets the next free number instead. Returns the number used. `checked`:
/// the caller found no such ARN (see [`ArnChecked`]).
pub(crate) fn insert_in(
    w: &mut dyn Write,
    record: &ExecutionRecord,
    mut seq: u64,
    store: &Store,
    encoded: &[u8],
    checked: Option<ArnChecked>,
) -> Result<Result<u64, ExecutionRecord>, StoreError> {
    let existing = match store.ids.get(&record.arn) {
        Some(recent) => execution_in(w, Some(recent), &record.arn)?,
        None if checked.is_some_and(|c| !store.ids.moved_since(c)) => None,
        None if !store.ids.may_be_stored(&record.arn) => None,
        None => execution_in(w, None, &record.arn)?,
    };
    if let Some((_, b)) = existing {
        return Ok(Err(decode_in(w, &b)?));
    }
    let applied = match store.applied.load(Ordering::Relaxed) {
        0 => last_sequence(w)?,
        known => known,
    };
    if seq <= applied {
        seq = applied + 1;
        store.sequence.fetch_max(seq, Ordering::Relaxed);
    }
    // Only the writer applies inserts. A number stays used even if its
    // commit fails: numbers only grow, gaps are harmless.
    store.applied.fetch_max(seq, Ordering::Relaxed);
    let key = keys::execution(seq);
    store_definition(w, record, encoded)?;
    w.put(Table::Executions, &key, encoded)?;
    // Its `ExecutionIds` entry is written later, with others (see RecentIds).
    store.ids.insert(&record.arn, seq);
    w.put(Table::ExecutionsByMachine, &keys::child(&record.state_machine_arn, seq), &key)?;
    if record.is_running() && !record.express {
        w.put(Table::Running, &key, b"")?;
    }
    Ok(Ok(seq))
}

/// Re-keys a format 1 store (executions, their running-index entries,
/// checkpoints and events keyed by execution ARN) by sequence number, in the
/// caller's transaction. Returns how many executions it moved. Events and
/// checkpoints of no recorded execution are dropped (nothing could read them).
pub(crate) fn migrate_from_format_1(w: &mut dyn Write) -> Result<usize, StoreError> {
    let executions = w.scan(Table::Executions, b"")?;
    let mut numbers = std::collections::HashMap::new();
    let mut next = w.get(Table::Meta, SEQUENCE_KEY)?.map_or(0, |b| sequence_of(&b));
    let mut unnumbered = Vec::new();
    for (arn, bytes) in &executions {
        w.delete(Table::Executions, arn)?;
        let (record, _) = execution_codec::decode(bytes)?;
        match record.extra.get("sequence").and_then(Value::as_u64) {
            Some(seq) if seq > 0 => {
                next = next.max(seq);
                numbers.insert(arn.clone(), seq);
            }
            _ => unnumbered.push(arn.clone()),
        }
    }
    for arn in unnumbered {
        next += 1;
        numbers.insert(arn, next);
    }
    // Format 2 numbers after the last `Executions` key instead.
    w.delete(Table::Meta, SEQUENCE_KEY)?;
    for (arn, bytes) in &executions {
        let key = keys::execution(numbers[arn]);
        w.put(Table::Executions, &key, bytes)?;
        let arn = std::str::from_utf8(arn)
            .map_err(|_| StoreError::Corrupt("an execution ARN that is not UTF-8".into()))?;
        w.put(Table::ExecutionIds, &keys::arn_entry(arn, numbers[arn.as_bytes()]), b"")?;
    }
    for (key, arn) in w.scan(Table::ExecutionsByMachine, b"")? {
        match numbers.get(&arn) {
            Some(&seq) => w.put(Table::ExecutionsByMachine, &key, &keys::execution(seq))?,
            None => drop(w.delete(Table::ExecutionsByMachine, &key)?),
        }
    }
    for table in [Table::Running, Table::Checkpoints] {
        for (arn, value) in w.scan(table, b"")? {
            w.delete(table, &arn)?;
            if let Some(&seq) = numbers.get(&arn) {
                w.put(table, &keys::execution(seq), &value)?;
            }
        }
    }
    for (key, chunk) in w.scan(Table::Events, b"")? {
        w.delete(Table::Events, &key)?;
        // `ARN \0 id` (big-endian).
        let Some(arn) = key.len().checked_sub(9).map(|n| &key[..n]) else {
            continue;
        };
        if let Some(&seq) = numbers.get(arn) {
            let id = keys::child_number(&key);
            w.put(Table::Events, &keys::event_chunk(seq, id), &chunk)?;
        }
    }
    Ok(executions.len())
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
}

/// Records read lately, by ARN: every StartExecution and StartSyncExecution
/// reads its state machine's record (and, through a qualified ARN, a
/// version's and an alias's), and a read transaction of its own cost more
/// than the rest of a W5 start's store work (and contends with the writer).
/// Only this process writes the file (redb locks it), and every write of a
/// record drops its entry once durable, after which a read finds the new
/// record; a read that began before such a write may not fill the cache
/// (the generation it saw has moved on), so no stale record is kept.
pub(crate) struct RecordCache<T> {
    entries: Mutex<(u64, std::collections::HashMap<String, T>)>,
}

impl<T> Default for RecordCache<T> {
    fn default() -> Self {
        RecordCache { entries: Mutex::default() }
    }
}

impl<T: Clone> RecordCache<T> {
    /// Most records kept; past it the cache starts over.
    const CAPACITY: usize = 4096;

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, std::collections::HashMap<String, T>)> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached record, or the generation a read made now may fill under.
    pub(crate) fn get(&self, arn: &str) -> Result<T, u64> {
        let entries = self.lock();
        entries.1.get(arn).cloned().ok_or(entries.0)
    }

    pub(crate) fn fill(&self, generation: u64, arn: &str, record: &T) {
        let mut entries = self.lock();
        if entries.0 != generation {
            return;
        }
        if entries.1.len() >= Self::CAPACITY {
            entries.1.clear();
        }
        entries.1.insert(arn.to_string(), record.clone());
    }

    /// After a write of the records whose ARNs start with `prefix` is
    /// durable (or failed). Records whose ARN merely extends a written one
    /// (`sm2` after a write of `sm`) go too, which costs only a read.
    pub(crate) fn written(&self, prefix: &str) {
        let mut entries = self.lock();
        entries.0 += 1;
        entries.1.retain(|arn, _| !arn.starts_with(prefix));
    }
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
        let mut store = Store {
            backend,
            sequence: Arc::default(),
            starting: Arc::default(),
            ids: Arc::default(),
            applied: Arc::default(),
            state_machines: Arc::default(),
            versions: Arc::default(),
            aliases: Arc::default(),
            budget: None,
            evicting: Arc::default(),
        };
        match store.read(|r| filter_of_table(r)) {
            Ok(filter) => store.ids = Arc::new(RecentIds { filter, ..RecentIds::default() }),
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

    /// The ARN entries not written to the table before the last stop, from
    /// the records numbered after the mark.
    fn read_back_recent_ids(&self) -> Result<(), StoreError> {
        let recent = self.read(|r| {
            let written = r.get(Table::Meta, IDS_WRITTEN_KEY)?.map_or(0, |b| sequence_of(&b));
            let mut recent = Vec::new();
            for (key, bytes) in r.scan_from(Table::Executions, &keys::execution(written + 1), usize::MAX)? {
                recent.push((execution_codec::decode(&bytes)?.0.arn, sequence_of(&key)));
            }
            Ok(recent)
        })?;
        for (arn, seq) in recent {
            self.ids.insert(&arn, seq);
        }
        Ok(())
    }

    /// Writes the recent ARN entries into the table once enough have gathered.
    fn write_recent_ids_when_due(&self) {
        if self.ids.len() < IDS_PER_WRITE || self.ids.writing.swap(true, Ordering::AcqRel) {
            return;
        }
        let taken: Arc<Mutex<Vec<(Box<str>, u64)>>> = Arc::default();
        let (ids, slot) = (self.ids.clone(), taken.clone());
        let (done_ids, done_slot) = (self.ids.clone(), taken);
        self.backend.write(
            Box::new(move |w| {
                let written = write_recent_ids(w, &ids);
                let failed = written.as_ref().err().cloned();
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = written.unwrap_or_default();
                failed.map_or(Ok(()), Err)
            }),
            Box::new(move |committed| {
                if let Err(e) = &committed {
                    tracing::error!(error = %e, "cannot write the execution ARN index");
                } else {
                    let taken = std::mem::take(&mut *done_slot.lock().unwrap_or_else(|e| e.into_inner()));
                    // Counted before they leave (see ArnChecked).
                    done_ids.moved.fetch_add(1, Ordering::SeqCst);
                    let mut map = done_ids.map();
                    for (arn, seq) in taken {
                        // Unless inserted again meanwhile (a number no commit kept).
                        if map.get(&arn).is_some_and(|&(stored, _)| stored == seq) {
                            map.remove(&arn);
                        }
                    }
                }
                done_ids.writing.store(false, Ordering::Release);
            }),
        );
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
        self.backend.write(op, done)
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
        self.backend.write(
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

    /// [`delete_key`](Self::delete_key) of a record `cache` may hold.
    fn delete_cached<T: Clone + Send + 'static>(&self, cache: &Arc<RecordCache<T>>, table: Table, arn: &str) -> Commit<bool> {
        let key = arn.as_bytes().to_vec();
        self.submit_then(move |w| w.delete(table, &key), written(cache, arn))
    }

    // ---- state machines, versions, aliases, tags

    /// Inserts unless the ARN exists: then returns the existing record.
    pub fn insert_state_machine(
        &self,
        record: StateMachineRecord,
    ) -> Commit<Result<(), StateMachineRecord>> {
        let written = written(&self.state_machines, &record.arn);
        self.submit_then(move |w| {
            if let Some(b) = w.get(Table::StateMachines, record.arn.as_bytes())? {
                return Ok(Err(decode("state machine", &b)?));
            }
            w.put(
                Table::StateMachines,
                record.arn.as_bytes(),
                &encode(&record)?,
            )?;
            Ok(Ok(()))
        }, written)
    }
    /// Inserts or replaces.
    pub fn put_state_machine(&self, record: &StateMachineRecord) -> Commit<()> {
        self.put_cached(&self.state_machines, Table::StateMachines, &record.arn, record)
    }
    /// Replaces an existing record; false when there is none.
    pub fn update_state_machine(&self, record: StateMachineRecord) -> Commit<bool> {
        let written = written(&self.state_machines, &record.arn);
        self.submit_then(move |w| {
            if w.get(Table::StateMachines, record.arn.as_bytes())?.is_none() {
                return Ok(false);
            }
            w.put(Table::StateMachines, record.arn.as_bytes(), &encode(&record)?)?;
            Ok(true)
        }, written)
    }
    pub fn get_state_machine(&self, arn: &str) -> Result<Option<StateMachineRecord>, StoreError> {
        self.get_cached(&self.state_machines, Table::StateMachines, arn, "state machine")
    }
    /// A record of `table` by ARN, from `cache` when it holds it.
    fn get_cached<T: DeserializeOwned + Clone>(
        &self,
        cache: &RecordCache<T>,
        table: Table,
        arn: &str,
        what: &str,
    ) -> Result<Option<T>, StoreError> {
        let generation = match cache.get(arn) {
            Ok(cached) => return Ok(Some(cached)),
            Err(generation) => generation,
        };
        let record: Option<T> = self.get_json(table, arn.as_bytes(), what)?;
        if let Some(record) = &record {
            cache.fill(generation, arn, record);
        }
        Ok(record)
    }
    /// Deletes the state machine with its tags, versions and aliases (executions stay).
    pub fn delete_state_machine(&self, arn: &str) -> Commit<bool> {
        let (machine, versions, aliases) = (
            written(&self.state_machines, arn),
            written(&self.versions, &format!("{arn}:")),
            written(&self.aliases, &format!("{arn}:")),
        );
        let written = move || {
            machine();
            versions();
            aliases();
        };
        let arn = arn.to_string();
        self.submit_then(move |w| {
            w.delete(Table::Tags, arn.as_bytes())?;
            let qualified = format!("{arn}:");
            for table in [Table::Versions, Table::Aliases] {
                for (key, _) in w.scan(table, qualified.as_bytes())? {
                    w.delete(table, &key)?;
                }
            }
            w.delete(
                Table::Meta,
                &keys::children(&format!("version-counter:{arn}")),
            )?;
            w.delete(Table::StateMachines, arn.as_bytes())
        }, written)
    }
    /// All state machines, oldest first.
    pub fn list_state_machines(&self) -> Result<Vec<StateMachineRecord>, StoreError> {
        let mut all: Vec<StateMachineRecord> =
            self.scan_json(Table::StateMachines, b"", "state machine")?;
        all.sort_by(|a, b| {
            a.creation_date
                .cmp(&b.creation_date)
                .then_with(|| a.arn.cmp(&b.arn))
        });
        Ok(all)
    }

    pub fn put_version(&self, record: &VersionRecord) -> Commit<()> {
        self.put_cached(&self.versions, Table::Versions, &record.arn, record)
    }
    /// Publishes `candidate` as its state machine's next version (assigning
    /// `number` and `arn`; numbers are never reused), unless a version of the
    /// same revision exists: then returns that one. The flag: created.
    pub fn publish_version(&self, candidate: VersionRecord) -> Commit<(VersionRecord, bool)> {
        // No cached version to drop: a new version's ARN is new, or (numbers
        // restart once a state machine is deleted and created again) its
        // state machine's deletion dropped it.
        self.submit(move |w| {
            let machine = candidate.state_machine_arn.clone();
            for (_, b) in w.scan(Table::Versions, format!("{machine}:").as_bytes())? {
                let v: VersionRecord = decode("version", &b)?;
                if v.state_machine_arn == machine && v.revision_id == candidate.revision_id {
                    return Ok((v, false));
                }
            }
            let counter_key = keys::children(&format!("version-counter:{machine}"));
            let number = match w.get(Table::Meta, &counter_key)? {
                Some(b) => b.as_slice().try_into().map_or(0, u64::from_be_bytes) + 1,
                None => 1,
            };
            w.put(Table::Meta, &counter_key, &number.to_be_bytes())?;
            let mut v = candidate;
            v.number = number;
            v.arn = format!("{machine}:{number}");
            w.put(Table::Versions, v.arn.as_bytes(), &encode(&v)?)?;
            Ok((v, true))
        })
    }
    pub fn get_version(&self, arn: &str) -> Result<Option<VersionRecord>, StoreError> {
        self.get_cached(&self.versions, Table::Versions, arn, "version")
    }
    pub fn delete_version(&self, arn: &str) -> Commit<bool> {
        self.delete_cached(&self.versions, Table::Versions, arn)
    }
    /// A state machine's versions, highest first.
    pub fn list_versions(&self, state_machine_arn: &str) -> Result<Vec<VersionRecord>, StoreError> {
        let mut v: Vec<VersionRecord> = self.scan_json(
            Table::Versions,
            format!("{state_machine_arn}:").as_bytes(),
            "version",
        )?;
        v.retain(|r| r.state_machine_arn == state_machine_arn);
        v.sort_by(|a, b| b.number.cmp(&a.number));
        Ok(v)
    }

    pub fn put_alias(&self, record: &AliasRecord) -> Commit<()> {
        self.put_cached(&self.aliases, Table::Aliases, &record.arn, record)
    }
    /// Inserts unless the ARN exists: then returns the existing record.
    pub fn insert_alias(&self, record: AliasRecord) -> Commit<Result<(), AliasRecord>> {
        let inserted = written(&self.aliases, &record.arn);
        self.submit_then(move |w| {
            if let Some(b) = w.get(Table::Aliases, record.arn.as_bytes())? {
                return Ok(Err(decode("alias", &b)?));
            }
            w.put(Table::Aliases, record.arn.as_bytes(), &encode(&record)?)?;
            Ok(Ok(()))
        }, inserted)
    }
    /// Replaces an existing alias; false when there is none.
    pub fn update_alias(&self, record: AliasRecord) -> Commit<bool> {
        let updated = written(&self.aliases, &record.arn);
        self.submit_then(move |w| {
            if w.get(Table::Aliases, record.arn.as_bytes())?.is_none() {
                return Ok(false);
            }
            w.put(Table::Aliases, record.arn.as_bytes(), &encode(&record)?)?;
            Ok(true)
        }, updated)
    }
    pub fn get_alias(&self, arn: &str) -> Result<Option<AliasRecord>, StoreError> {
        self.get_cached(&self.aliases, Table::Aliases, arn, "alias")
    }
    pub fn delete_alias(&self, arn: &str) -> Commit<bool> {
        self.delete_cached(&self.aliases, Table::Aliases, arn)
    }
    /// A state machine's aliases, oldest first.
    pub fn list_aliases(&self, state_machine_arn: &str) -> Result<Vec<AliasRecord>, StoreError> {
        let mut v: Vec<AliasRecord> = self.scan_json(
            Table::Aliases,
            format!("{state_machine_arn}:").as_bytes(),
            "alias",
        )?;
        v.retain(|r| r.state_machine_arn == state_machine_arn);
        v.sort_by(|a, b| {
            a.creation_date
                .cmp(&b.creation_date)
                .then_with(|| a.name.cmp(&b.name))
        });
        Ok(v)
    }

    /// Replaces a resource's tags (in the order given).
    pub fn set_tags(&self, arn: &str, tags: Vec<(String, String)>) -> Commit<()> {
        self.put_json(Table::Tags, arn.as_bytes().to_vec(), &tags)
    }
    pub fn tags(&self, arn: &str) -> Result<Vec<(String, String)>, StoreError> {
        Ok(self
            .get_json(Table::Tags, arn.as_bytes(), "tags")?
            .unwrap_or_default())
    }

    // ---- functions

    /// Stores the function and its wasm bytes together.
    pub fn put_function(&self, record: &FunctionRecord, wasm: Arc<[u8]>) -> Commit<()> {
        let name = record.name.clone();
        let bytes = encode(record);
        self.submit(move |w| {
            w.put(Table::Functions, name.as_bytes(), &bytes?)?;
            w.put(Table::FunctionCode, name.as_bytes(), &wasm)
        })
    }
    /// Replaces the function's record, keeping its code.
    pub fn put_function_record(&self, record: &FunctionRecord) -> Commit<()> {
        self.put_json(Table::Functions, record.name.as_bytes().to_vec(), record)
    }
    pub fn get_function(&self, name: &str) -> Result<Option<FunctionRecord>, StoreError> {
        self.get_json(Table::Functions, name.as_bytes(), "function")
    }
    pub fn function_code(&self, name: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| r.get(Table::FunctionCode, name.as_bytes()))
    }
    /// All functions, by name.
    pub fn list_functions(&self) -> Result<Vec<FunctionRecord>, StoreError> {
        self.scan_json(Table::Functions, b"", "function")
    }
    pub fn delete_function(&self, name: &str) -> Commit<bool> {
        let name = name.to_string();
        self.submit(move |w| {
            w.delete(Table::FunctionCode, name.as_bytes())?;
            w.delete(Table::Functions, name.as_bytes())
        })
    }
    /// Whether the store's last write failed and none succeeded since.
    pub fn writes_failing(&self) -> bool {
        self.backend.writes_failing()
    }
    /// Resolves once a (tiny) write is durable: whether the store can write
    /// now, after a failed write (a full disk).
    pub fn check_writable(&self) -> Commit<()> {
        self.submit(|w| w.put(Table::Meta, b"writable", b""))
    }
    /// A precompiled artifact (keyed by the caller: wasm hash + engine hash).
    pub fn put_artifact(&self, key: &str, bytes: Arc<[u8]>) -> Commit<()> {
        let key = key.to_string();
        self.submit(move |w| w.put(Table::Artifacts, key.as_bytes(), &bytes))
    }
    pub fn artifact(&self, key: &str) -> Result<Option<Vec<u8>>, StoreError> {
        self.read(|r| r.get(Table::Artifacts, key.as_bytes()))
    }
    /// The keys of every stored artifact, in order.
    pub fn artifact_keys(&self) -> Result<Vec<String>, StoreError> {
        let keys = self.read(|r| r.keys(Table::Artifacts, b""))?;
        Ok(keys.into_iter().map(|k| String::from_utf8_lossy(&k).into_owned()).collect())
    }
    /// Deletes every artifact whose key is not in `keep` (those of deleted
    /// or updated functions, or of another engine build); returns how many.
    pub fn delete_artifacts_except(&self, keep: std::collections::BTreeSet<String>) -> Commit<usize> {
        self.submit(move |w| {
            let mut deleted = 0;
            for key in w.keys(Table::Artifacts, b"")? {
                if !keep.contains(String::from_utf8_lossy(&key).as_ref()) {
                    w.delete(Table::Artifacts, &key)?;
                    deleted += 1;
                }
            }
            Ok(deleted)
        })
    }

    // ---- published Lambda versions

    /// Replaces what was published for `function` (the server's own shape),
    /// storing `codes` (`NAME:N`, wasm) beside it.
    pub fn put_function_versions(
        &self,
        function: &str,
        published: &Value,
        codes: Vec<(String, Arc<[u8]>)>,
    ) -> Commit<()> {
        let name = function.to_string();
        let bytes = encode(published);
        self.submit(move |w| {
            for (key, wasm) in &codes {
                w.put(Table::FunctionCode, key.as_bytes(), wasm)?;
            }
            w.put(Table::FunctionVersions, name.as_bytes(), &bytes?)
        })
    }
    /// Every function's published versions and aliases, by function name.
    pub fn function_versions(&self) -> Result<Vec<(String, Value)>, StoreError> {
        self.read(|r| {
            r.scan(Table::FunctionVersions, b"")?
                .into_iter()
                .map(|(k, v)| {
                    Ok((
                        String::from_utf8_lossy(&k).into_owned(),
                        decode("function versions", &v)?,
                    ))
                })
                .collect()
        })
    }
    /// Deletes a function's versions with their code (`NAME:1`…`NAME:last`).
    pub fn delete_function_versions(&self, function: &str, last: u64) -> Commit<()> {
        let name = function.to_string();
        self.submit(move |w| {
            for n in 1..=last {
                w.delete(Table::FunctionCode, format!("{name}:{n}").as_bytes())?;
            }
            w.delete(Table::FunctionVersions, name.as_bytes())
                .map(|_| ())
        })
    }

    // ---- activities

    pub fn put_activity(&self, record: &ActivityRecord) -> Commit<()> {
        self.put_json(Table::Activities, record.arn.as_bytes().to_vec(), record)
    }
    pub fn delete_activity(&self, arn: &str) -> Commit<bool> {
        self.delete_key(Table::Activities, arn.as_bytes().to_vec())
    }
    pub fn list_activities(&self) -> Result<Vec<ActivityRecord>, StoreError> {
        self.scan_json(Table::Activities, b"", "activity")
    }

    // ---- executions

    /// Inserts unless the ARN exists: then returns the existing record.
    ///
    /// The record is numbered and encoded on the caller's thread; the writer
    /// only re-numbers it when another insert overtook it on the way (numbers
    /// order `list_executions` and keep new keys at the B-trees' right edge,
    /// so they only grow: the last `Executions` key is the largest).
    pub fn insert_execution(&self, record: ExecutionRecord) -> Commit<Result<(), ExecutionRecord>> {
        let seq = self.next_sequence();
        let encoded = execution_codec::encode(&record);
        let store = self.clone();
        let inserted = self.submit(move |w| Ok(insert_in(w, &record, seq, &store, &encoded?, None)?.map(|_| ())));
        self.inserted();
        inserted
    }

    /// A number for a new execution (see `insert_execution`).
    pub(crate) fn next_sequence(&self) -> u64 {
        self.sequence.fetch_add(1, Ordering::Relaxed) + 1
    }

    pub(crate) fn recent_ids(&self) -> &RecentIds {
        &self.ids
    }

    /// After an insert: see `write_recent_ids_when_due`.
    pub(crate) fn inserted(&self) {
        self.write_recent_ids_when_due();
        self.evict_when_over_budget();
    }

    /// Claims `arn` for a start about to be recorded (false: another start
    /// of it holds it). Released by [`release`](Self::release).
    pub(crate) fn claim(&self, arn: &str) -> bool {
        self.starting.lock().unwrap_or_else(|e| e.into_inner()).insert(arn.into())
    }

    pub(crate) fn release(&self, arn: &str) {
        self.starting.lock().unwrap_or_else(|e| e.into_inner()).remove(arn);
    }

    /// Reads the execution and applies `change` to it on this thread (None:
    /// no such execution or an unreadable one; the writer then does it).
    pub(crate) fn prepare_update(
        &self,
        arn: &str,
        change: impl FnOnce(&mut ExecutionRecord),
    ) -> Option<PreparedUpdate> {
        let recent = self.ids.get(arn);
        let (seq, read, mut record) = self
            .read(|r| {
                let Some((seq, read)) = execution_in(r, recent, arn)? else {
                    return Ok(None);
                };
                let record = decode_in(r, &read)?;
                Ok(Some((seq, read, record)))
            })
            .ok()??;
        change(&mut record);
        let encoded = execution_codec::encode(&record).ok()?;
        Some(PreparedUpdate {
            seq,
            read,
            record,
            encoded,
        })
    }

    /// Applies `change` to `known`, the record as the caller inserted it,
    /// without reading the store (the writer still checks that the stored
    /// record is what `known` encodes to). None: `known` does not encode.
    pub(crate) fn prepare_update_of(
        known: ExecutionRecord,
        change: impl FnOnce(&mut ExecutionRecord),
    ) -> Option<PreparedUpdate> {
        let read = execution_codec::encode(&known).ok()?;
        let mut record = known;
        change(&mut record);
        let encoded = execution_codec::encode(&record).ok()?;
        Some(PreparedUpdate {
            seq: 0,
            read,
            record,
            encoded,
        })
    }

    pub fn get_execution(&self, arn: &str) -> Result<Option<ExecutionRecord>, StoreError> {
        let recent = self.ids.get(arn);
        if recent.is_none() && !self.ids.may_be_stored(arn) {
            // A new execution's start, almost always: no read needed.
            return Ok(None);
        }
        self.read(|r| {
            execution_in(r, recent, arn)?
                .map(|(_, b)| decode_in(r, &b))
                .transpose()
        })
    }

    /// Applies `change` to the execution and returns the result (None: no such execution).
    pub fn update_execution(
        &self,
        arn: &str,
        change: impl FnOnce(&mut ExecutionRecord) + Send + 'static,
    ) -> Commit<Option<ExecutionRecord>> {
        let (arn, ids) = (arn.to_string(), self.ids.clone());
        self.submit(move |w| update_execution_in(w, &ids, &arn, change))
    }

    /// Replaces the execution with `new` only if it still equals `expected`;
    /// otherwise returns what it is now (None: no such execution).
    pub fn replace_execution_if(
        &self,
        expected: ExecutionRecord,
        new: ExecutionRecord,
    ) -> Commit<Result<(), Option<ExecutionRecord>>> {
        let ids = self.ids.clone();
        self.submit(move |w| {
            let Some((seq, b)) = execution_in(w, ids.get(&expected.arn), &expected.arn)? else {
                return Ok(Err(None));
            };
            let current = decode_in(w, &b)?;
            if current != expected {
                return Ok(Err(Some(current)));
            }
            write_execution(w, seq, &new)?;
            Ok(Ok(()))
        })
    }

    /// Executions of a state machine, newest first.
    pub fn list_executions(
        &self,
        state_machine_arn: &str,
    ) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.read(|r| {
            let mut out = Vec::new();
            for (_, seq) in r
                .scan(
                    Table::ExecutionsByMachine,
                    &keys::children(state_machine_arn),
                )?
                .iter()
                .rev()
            {
                if let Some(b) = r.get(Table::Executions, seq)? {
                    out.push(decode_in(r, &b)?);
                }
            }
            Ok(out)
        })
    }

    /// A page of `state_machine_arn`'s executions, newest first: up to
    /// `limit` that `keep` accepts, among those numbered below `before`
    /// (None: from the newest). Returns them and, when more may follow, the
    /// number to continue below. A page reads at most [`LIST_SCAN`] records
    /// (its cursor then points past the last one read, with fewer than
    /// `limit` kept), so a rare status among 90 days of executions costs
    /// several short calls, not one long one.
    pub fn list_executions_page(
        &self,
        state_machine_arn: &str,
        before: Option<u64>,
        limit: usize,
        keep: &mut dyn FnMut(&ExecutionRecord) -> bool,
    ) -> Result<(Vec<ExecutionRecord>, Option<u64>), StoreError> {
        let prefix = keys::children(state_machine_arn);
        let bound = before.map(|seq| keys::child(state_machine_arn, seq));
        self.read(|r| {
            let (mut out, mut read) = (Vec::new(), 0);
            let mut cursor = bound.clone();
            loop {
                let want = (LIST_SCAN - read).min(256);
                let entries = r.scan_back(Table::ExecutionsByMachine, &prefix, cursor.as_deref(), want)?;
                for (key, seq) in &entries {
                    read += 1;
                    if let Some(b) = r.get(Table::Executions, seq)? {
                        let record = decode_in(r, &b)?;
                        if keep(&record) {
                            out.push(record);
                        }
                    }
                    let here = Some(keys::child_number(key));
                    if out.len() >= limit {
                        // More only if any entry is left below this one.
                        let left = r.scan_back(Table::ExecutionsByMachine, &prefix, Some(key), 1)?;
                        return Ok((out, if left.is_empty() { None } else { here }));
                    }
                    if read == LIST_SCAN {
                        return Ok((out, here));
                    }
                }
                if entries.len() < want {
                    return Ok((out, None));
                }
                cursor = entries.last().map(|(k, _)| k.clone());
            }
        })
    }

    /// Every RUNNING Standard execution (what a restart resumes).
    pub fn running_executions(&self) -> Result<Vec<ExecutionRecord>, StoreError> {
        self.read(|r| {
            let mut out = Vec::new();
            for (seq, _) in r.scan(Table::Running, b"")? {
                if let Some(b) = r.get(Table::Executions, &seq)? {
                    out.push(decode_in(r, &b)?);
                }
            }
            Ok(out)
        })
    }

    /// Records a history event (callers usually drop the commit: a later
    /// awaited write of the same execution implies this one).
    pub fn append_event(&self, execution_arn: &str, event: &HistoryEvent) -> Commit<()> {
        let mut chunk = EventChunk::default();
        let pushed = chunk.push(event);
        let (arn, ids) = (execution_arn.to_string(), self.ids.clone());
        self.submit(move |w| {
            pushed?;
            let seq = existing_sequence(w, ids.get(&arn), &arn)?;
            w.put(Table::Events, &chunk_key(seq, &chunk), chunk.bytes())
        })
    }

    /// The execution's events ordered by id.
    pub fn history(&self, execution_arn: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        let mut events = Vec::new();
        let recent = self.ids.get(execution_arn);
        self.read(|r| {
            events.clear();
            let Some(seq) = sequence_in(r, recent, execution_arn)? else {
                return Ok(());
            };
            for (k, v) in r.scan(Table::Events, &keys::execution(seq))? {
                events.extend(events::decode(keys::child_number(&k), &v)?);
            }
            Ok(())
        })?;
        // Concurrent branches can record their events out of id order.
        events.sort_by_key(|e| e.id);
        Ok(events)
    }

    /// The largest event id recorded (0: none): the last key names it.
    pub fn last_event_id(&self, execution_arn: &str) -> Result<u64, StoreError> {
        let recent = self.ids.get(execution_arn);
        self.read(|r| {
            let Some(seq) = sequence_in(r, recent, execution_arn)? else {
                return Ok(0);
            };
            Ok(r.last(Table::Events, &keys::execution(seq))?
                .map_or(0, |(k, _)| keys::child_number(&k)))
        })
    }

    /// The execution's event with the largest id (its terminal event, if recorded).
    pub fn last_event(&self, execution_arn: &str) -> Result<Option<HistoryEvent>, StoreError> {
        let recent = self.ids.get(execution_arn);
        self.read(|r| {
            let Some(seq) = sequence_in(r, recent, execution_arn)? else {
                return Ok(None);
            };
            let Some((k, v)) = r.last(Table::Events, &keys::execution(seq))? else {
                return Ok(None);
            };
            Ok(events::decode(keys::child_number(&k), &v)?
                .into_iter()
                .max_by_key(|e| e.id))
        })
    }

    pub fn save_checkpoint(&self, execution_arn: &str, checkpoint: &Checkpoint) -> Commit<()> {
        let (arn, ids) = (execution_arn.to_string(), self.ids.clone());
        let bytes = encode_checkpoint(checkpoint);
        self.submit(move |w| {
            let seq = existing_sequence(w, ids.get(&arn), &arn)?;
            w.put(Table::Checkpoints, &checkpoint_key(seq), &bytes?)
        })
    }
    pub fn checkpoint(&self, execution_arn: &str) -> Result<Option<Checkpoint>, StoreError> {
        let recent = self.ids.get(execution_arn);
        let v: Option<Value> = self.read(|r| {
            let Some(seq) = sequence_in(r, recent, execution_arn)? else {
                return Ok(None);
            };
            r.get(Table::Checkpoints, &checkpoint_key(seq))?
                .map(|b| decode("checkpoint", &b))
                .transpose()
        })?;
        v.map(|v| {
            Checkpoint::from_json(&v).ok_or_else(|| {
                StoreError::Corrupt(format!("unreadable checkpoint of {execution_arn}"))
            })
        })
        .transpose()
    }

    // ---- task tokens

    pub fn put_task_token(&self, record: &TaskTokenRecord) -> Commit<()> {
        self.put_json(Table::TaskTokens, record.token.as_bytes().to_vec(), record)
    }
    pub fn get_task_token(&self, token: &str) -> Result<Option<TaskTokenRecord>, StoreError> {
        self.get_json(Table::TaskTokens, token.as_bytes(), "task token")
    }
    /// Consumes a token: returns it if it was there (so exactly one caller wins).
    pub fn take_task_token(&self, token: &str) -> Commit<Option<TaskTokenRecord>> {
        let token = token.to_string();
        self.submit(move |w| {
            let Some(b) = w.get(Table::TaskTokens, token.as_bytes())? else {
                return Ok(None);
            };
            w.delete(Table::TaskTokens, token.as_bytes())?;
            Ok(Some(decode("task token", &b)?))
        })
    }
    /// Every outstanding token (a restart re-arms their waits).
    pub fn task_tokens(&self) -> Result<Vec<TaskTokenRecord>, StoreError> {
        self.scan_json(Table::TaskTokens, b"", "task token")
    }
}
