//! Executions: their records, numbers, histories and checkpoints.

use super::*;

/// The sequence number of the execution `arn` (None: no such execution).
/// `recent`: its number from [`RecentIds`], looked up before `r`'s snapshot
/// began (the table has every entry `RecentIds` no longer holds by then).
pub(crate) fn sequence_in(r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<Option<u64>, StoreError> {
    Ok(execution_in(r, recent, arn)?.map(|(seq, _)| seq))
}

/// Execution `arn`'s sequence number and stored record bytes (None: no such
/// execution; a number in the table without a record, which no write
/// leaves, is corrupt). `recent` as for `sequence_in`.
pub(crate) fn execution_in(r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<Option<(u64, Vec<u8>)>, StoreError> {
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

/// Most execution records one page of `list_executions_page` reads.
pub(crate) const LIST_SCAN: usize = 4096;

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
/// and drops its checkpoint unless it can be redriven.
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
    }
    if !record.keeps_checkpoint() {
        // Looked up first: most executions never checkpoint, and a lookup
        // does not copy the table's pages as a delete does.
        if w.get(Table::Checkpoints, &key)?.is_some() {
            delete_checkpoint(w, seq)?;
        }
    }
    Ok(())
}

/// Deletes execution `seq`'s checkpoint and the parts kept with it (which
/// only an execution with a checkpoint has): a thousand or so now, the rest
/// of a big Map's in writes of their own (see [`super::sweep`]).
pub(crate) fn delete_checkpoint(w: &mut dyn Write, seq: u64) -> Result<(), StoreError> {
    super::sweep::delete_prefix(w, &keys::execution(seq))
}

/// Deletes the parts of execution `seq`'s state entered at event `entered`
/// (as [`delete_checkpoint`] does).
pub(crate) fn delete_parts(w: &mut dyn Write, seq: u64, entered: u64) -> Result<(), StoreError> {
    super::sweep::delete_prefix(w, &keys::state_parts(seq, entered))
}

/// Writes a finished iteration or branch of execution `seq`.
pub(crate) fn put_part(w: &mut dyn Write, seq: u64, part: &Part) -> Result<(), StoreError> {
    let key = keys::part(seq, part.entered_event_id, part.attempt, part.index);
    w.put(Table::Checkpoints, &key, &encode(&part.to_json())?)
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
    let was_running = record.is_running();
    change(&mut record);
    write_execution(w, seq, &record)?;
    if record.is_running() && !record.express && !was_running {
        // Reopened (a redrive): in the running index again, so a restart
        // resumes it (it was left RUNNING for good after a kill).
        w.put(Table::Running, &keys::execution(seq), b"")?;
    }
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
    if store.shared {
        return insert_shared_in(w, record, encoded, store);
    }
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

/// `insert_in` on a database other hosts write too: the ARN is held (an
/// advisory lock) until the transaction ends, so the lookup sees any other
/// host's committed insert of it and none commits meanwhile; the number
/// comes from the database; the ARN entry is written at once. A running
/// Standard execution is owned by this host: its lease, epoch 1.
fn insert_shared_in(
    w: &mut dyn Write,
    record: &ExecutionRecord,
    encoded: &[u8],
    store: &Store,
) -> Result<Result<u64, ExecutionRecord>, StoreError> {
    let hash = keys::arn_hash(&record.arn);
    w.lock(Table::ExecutionIds, &hash)?;
    if let Some((_, b)) = execution_in(w, None, &record.arn)? {
        return Ok(Err(decode_in(w, &b)?));
    }
    let seq = w
        .next_execution_number()?
        .ok_or_else(|| StoreError::Database("a shared store gives no execution numbers".into()))?;
    let key = keys::execution(seq);
    store_definition(w, record, encoded)?;
    w.put(Table::Executions, &key, encoded)?;
    w.put(Table::ExecutionIds, &keys::hashed_arn_entry(u64::from_be_bytes(hash), seq), b"")?;
    w.put(Table::ExecutionsByMachine, &keys::child(&record.state_machine_arn, seq), &key)?;
    if record.is_running() && !record.express {
        w.put(Table::Running, &key, b"")?;
        if let Some(epoch) = w.lease_new(&key)? {
            store.held.hold(&record.arn, seq, epoch);
        }
    }
    Ok(Ok(seq))
}

impl Store {

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
        if !self.shared {
            return self.submit(move |w| update_execution_in(w, &ids, &arn, change));
        }
        let store = self.clone();
        self.submit(move |w| {
            let mut was_running = false;
            let updated = update_execution_in(w, &ids, &arn, |r| {
                was_running = r.is_running();
                change(r)
            })?;
            if updated.as_ref().is_some_and(|r| r.is_running() && !r.express && !was_running) {
                store.lease_reopened(w, &arn)?;
            }
            Ok(updated)
        })
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

    /// Replaces the execution's checkpoint and every part it had with
    /// `checkpoint` and its parts, in one write (a redrive continues from it).
    pub fn save_checkpoint(&self, execution_arn: &str, checkpoint: &Checkpoint) -> Commit<()> {
        let (arn, ids) = (execution_arn.to_string(), self.ids.clone());
        let bytes = encode_checkpoint(checkpoint);
        let parts = checkpoint.parts.clone();
        self.submit(move |w| {
            let seq = existing_sequence(w, ids.get(&arn), &arn)?;
            let key = checkpoint_key(seq);
            for k in w.keys(Table::Checkpoints, &key)? {
                if k.len() > key.len() {
                    w.delete(Table::Checkpoints, &k)?;
                }
            }
            for p in &parts {
                put_part(w, seq, p)?;
            }
            w.put(Table::Checkpoints, &key, &bytes?)
        })
    }
    /// The latest checkpoint of an execution, with the parts (finished
    /// iterations or branches) of its state's entry.
    pub fn checkpoint(&self, execution_arn: &str) -> Result<Option<Checkpoint>, StoreError> {
        let recent = self.ids.get(execution_arn);
        let unreadable = || StoreError::Corrupt(format!("unreadable checkpoint of {execution_arn}"));
        self.read(|r| {
            let Some(seq) = sequence_in(r, recent, execution_arn)? else {
                return Ok(None);
            };
            let Some(bytes) = r.get(Table::Checkpoints, &checkpoint_key(seq))? else {
                return Ok(None);
            };
            let v: Value = decode("checkpoint", &bytes)?;
            let mut cp = Checkpoint::from_json(&v).ok_or_else(unreadable)?;
            for (_, bytes) in r.scan(Table::Checkpoints, &keys::state_parts(seq, cp.entered_event_id))? {
                let v: Value = decode("part", &bytes)?;
                cp.parts.push(Part::from_json(&v).ok_or_else(unreadable)?);
            }
            Ok(Some(cp))
        })
    }
}
