//! The engine's history sink for a durable execution.
//!
//! Events and checkpoints are encoded on the engine's thread and gathered in
//! a pending list; the list has at most one write queued at the store, which
//! takes everything gathered by the time the writer applies it. So a state's
//! events (or a whole short execution's, with its close) cost one store
//! operation, not one each, and the writer thread only copies bytes into its
//! transaction.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use stepbox_engine::{Checkpoint, HistoryEvent, HistorySink, Part};
use tokio::sync::oneshot;

use crate::StoreError;
use crate::backend::{Read, Table, Write};
use crate::events::EventChunk;
use crate::execution_codec;
use crate::records::ExecutionRecord;
use crate::api::CloseChange;
use crate::store::{
    Commit, PreparedUpdate, Store, apply_update_in, checkpoint_key, chunk_key, delete_parts, encode_checkpoint,
    ArnChecked, existing_sequence, insert_in, put_part,
};

/// Records an execution's events and checkpoints into a [`Store`], in the
/// order the engine produces them (the writer keeps that order, so after a
/// crash the store holds a prefix of it).
pub struct ExecutionJournal {
    store: Store,
    arn: Arc<str>,
    /// The execution's sequence number, the key of its entries (0: not
    /// looked up yet; numbers start at 1).
    seq: Arc<AtomicU64>,
    /// On a database several hosts share, the lease epoch this run writes
    /// at (0: the one held at its first write): once another host took the
    /// lease over, this run writes nothing more, even if this host takes
    /// the execution again later (that is another run's epoch).
    epoch: Arc<AtomicU64>,
    /// The entered event id of the state whose parts this run wrote (0:
    /// none): once the checkpoint moves to another state, they are deleted.
    /// (Parts a run before a restart wrote are deleted with the checkpoint.)
    parts_of: Arc<AtomicU64>,
    pending: Arc<Mutex<Pending>>,
}

/// How [`ExecutionJournal::begin`] left a new execution.
pub enum Begun<J = ExecutionJournal> {
    /// An execution of that ARN is stored: nothing was written.
    Exists(ExecutionRecord),
    /// The journal's first write inserts the record, with whatever the run
    /// has recorded by then (a short run's whole history and close): run it
    /// now. `recorded` resolves once the record is durable (with the stored
    /// record instead, should another start of the ARN have got there
    /// first: the journal then writes nothing).
    Recording {
        journal: J,
        recorded: Commit<Result<(), ExecutionRecord>>,
    },
    /// Another start of that ARN is being recorded: this insert is queued
    /// behind it (`Err` with the stored record when that one was); run only
    /// once it resolves `Ok`.
    Behind(Commit<Result<(), ExecutionRecord>>),
}

/// The execution's sequence number, looked up once.
fn sequence(seq: &AtomicU64, r: &(impl Read + ?Sized), recent: Option<u64>, arn: &str) -> Result<u64, StoreError> {
    match seq.load(Ordering::Relaxed) {
        0 => {
            let found = existing_sequence(r, recent, arn)?;
            seq.store(found, Ordering::Relaxed);
            Ok(found)
        }
        known => Ok(known),
    }
}

type Closed = Result<Option<ExecutionRecord>, StoreError>;
type Inserted = Result<Result<(), ExecutionRecord>, StoreError>;
/// Told the commit's result once the write that produced it is durable.
type Reply = Box<dyn FnOnce(&Result<(), StoreError>) + Send>;

fn reply_with<T: Send + 'static>(tx: oneshot::Sender<Result<T, StoreError>>, own: Result<T, StoreError>) -> Reply {
    Box::new(move |committed| {
        let _ = tx.send(match committed {
            Ok(()) => own,
            Err(e) => Err(e.clone()),
        });
    })
}

/// The new execution's record, written by the journal's first write.
struct Insert {
    record: ExecutionRecord,
    /// The record encoded after its last change (None: the writer encodes it).
    encoded: Option<Vec<u8>>,
    seq: u64,
    /// `begin` found no such ARN.
    checked: Option<ArnChecked>,
    reply: oneshot::Sender<Inserted>,
}

/// A change of the execution record waiting to be written after the pending
/// events, and who waits for it.
struct Close {
    /// None: already applied to the pending insert's record.
    update: Option<(Option<PreparedUpdate>, CloseChange)>,
    reply: CloseReply,
}

/// Who learns how a close went.
enum CloseReply {
    Waiter(oneshot::Sender<Closed>),
    /// Nobody waits: a failure is logged, and handed to the callback.
    Logged(Option<Box<dyn FnOnce(&StoreError) + Send>>),
}

/// What tells a close's waiter (or the log, when nobody waits).
fn close_reply(arn: &str, reply: CloseReply, own: Closed) -> Reply {
    match reply {
        CloseReply::Waiter(tx) => reply_with(tx, own),
        CloseReply::Logged(failed) => {
            let arn = arn.to_string();
            Box::new(move |committed| {
                if let Err(e) = committed.as_ref().map_err(Clone::clone).and(own) {
                    tracing::error!(execution = %arn, error = %e, "cannot close the execution");
                    if let Some(failed) = failed {
                        failed(&e);
                    }
                }
            })
        }
    }
}

#[derive(Default)]
struct Pending {
    /// The record, until a write inserted it.
    insert: Option<Insert>,
    /// Events not yet handed to the writer: one `Events` entry.
    events: EventChunk,
    /// The latest checkpoint not yet handed to the writer: within one write
    /// only the last one matters, and it lands after the events before it.
    /// Encoded by the writer, and only when no close in the same write ends
    /// the execution (a short execution's last checkpoint is never encoded).
    checkpoint: Option<Checkpoint>,
    /// Finished iterations and branches not yet handed to the writer
    /// (written after the events, like the checkpoint).
    parts: Vec<Part>,
    /// Record changes (`close`), applied after the events, in order.
    closes: Vec<Close>,
    /// A write that will take the pending entries is queued.
    queued: bool,
    /// The record as this journal's starter (or its insert) wrote it, until
    /// the first close: that close is prepared from it instead of from a
    /// read of the store. Stays when the writer takes the rest.
    known: Option<ExecutionRecord>,
    /// The insert was refused or failed: nothing of this execution is written.
    refused: bool,
}

impl Pending {
    /// Takes what a write carries, leaving `known` (set to the record being
    /// inserted, while it runs) and `refused`.
    fn take_batch(&mut self) -> Pending {
        let mut batch = std::mem::take(self);
        self.refused = batch.refused;
        self.known = match &batch.insert {
            Some(ins) if ins.record.is_running() => Some(ins.record.clone()),
            _ => batch.known.take(),
        };
        batch
    }

    /// Writes the insert, the events, then the closes, then the checkpoint
    /// unless a close ended the execution for good (a succeeded execution
    /// keeps none: writing it would copy a page only to delete the entry; a
    /// failed one keeps it for RedriveExecution). Returns what
    /// to tell whom once the write is durable (or failed), and whether the
    /// execution was refused; a failed event write fails the closes after it.
    fn write_to(
        self,
        w: &mut dyn Write,
        arn: &str,
        seq: &Arc<AtomicU64>,
        epoch: &AtomicU64,
        parts_of: &AtomicU64,
        store: &Store,
    ) -> (Vec<Reply>, bool) {
        let mut replies: Vec<Reply> = Vec::with_capacity(self.closes.len() + 1);
        let mut ended = false;
        // The record inserted, when closes merged into it wait for it, and its number.
        let mut inserted = None;
        let mut inserted_as = None;
        let mut refused = self.refused.then(|| StoreError::Database(format!("execution {arn} was not recorded")));
        if let Some(ins) = self.insert {
            let encoded = match ins.encoded {
                Some(bytes) => Ok(bytes),
                None => execution_codec::encode(&ins.record),
            };
            let written = encoded.and_then(|bytes| insert_in(w, &ins.record, ins.seq, store, &bytes, ins.checked));
            let own = match written {
                Ok(Ok(used)) => {
                    inserted_as = Some(used);
                    // Inserted here: the run writes at the lease it was given.
                    epoch.store(store.epoch_of(arn), Ordering::Relaxed);
                    ended = !ins.record.keeps_checkpoint();
                    Ok(Ok(()))
                }
                Ok(Err(stored)) => {
                    refused = Some(StoreError::Database(format!("execution {arn} exists")));
                    Ok(Err(stored))
                }
                Err(e) => {
                    tracing::error!(execution = %arn, error = %e, "cannot insert the execution");
                    refused = Some(e.clone());
                    Err(e)
                }
            };
            let (store, arn, known_seq) = (store.clone(), arn.to_string(), seq.clone());
            let reply = reply_with(ins.reply, own);
            replies.push(Box::new(move |committed| {
                // Known only once durable: a later write of this journal that
                // the writer applies before then looks the number up, and so
                // finds none if this commit failed (and writes nothing).
                if let (Ok(()), Some(used)) = (committed, inserted_as) {
                    known_seq.store(used, Ordering::Relaxed);
                }
                store.release(&arn);
                reply(committed)
            }));
            if refused.is_none() && self.closes.iter().any(|c| c.update.is_none()) {
                inserted = Some(ins.record);
            }
        }
        // On a shared database, a write of a running execution needs its lease.
        if store.shared
            && refused.is_none()
            && inserted_as.is_none()
            && let Err(e) = store.check_lease(w, arn, epoch)
        {
            tracing::warn!(execution = %arn, error = %e, "write refused");
            refused = Some(e);
        }
        let seq = match (&refused, inserted_as) {
            (Some(e), _) => Err(e.clone()),
            (None, Some(used)) => Ok(used),
            (None, None) => sequence(seq, w, store.recent_ids().get(arn), arn),
        };
        let events = match &seq {
            Err(e) => Err(e.clone()),
            Ok(_) if self.events.is_empty() => Ok(()),
            Ok(seq) => w.put(Table::Events, &chunk_key(*seq, &self.events), self.events.bytes()),
        };
        if let (Err(e), None) = (&events, &refused) {
            tracing::error!(execution = %arn, error = %e, "cannot write events");
        }
        for close in self.closes {
            let closed = match (&events, close.update) {
                (Err(e), _) => Err(e.clone()),
                // Merged into the insert: the record written is the closed one.
                (Ok(()), None) => Ok(inserted.clone()),
                (Ok(()), Some((prepared, change))) => {
                    let prepared = prepared.map(|mut p| {
                        if p.seq == 0 {
                            // Unknown on the engine's thread; a wrong guess only makes
                            // the writer apply `change` to the stored record instead.
                            p.seq = *seq.as_ref().unwrap_or(&0);
                        }
                        p
                    });
                    apply_update_in(w, store.recent_ids(), arn, prepared, change)
                }
            };
            if let Ok(Some(record)) = &closed {
                ended = !record.keeps_checkpoint();
            }
            replies.push(close_reply(arn, close.reply, closed));
        }
        if ended && store.shared {
            // The run ended: so does its lease (a record closed by
            // StopExecution keeps it until the run's last write). This
            // host forgets it once durable: until then it still owns it (a
            // failed close resumes it here).
            if let Ok(seq) = &seq
                && let Err(e) = w.lease_drop(&crate::store::keys::execution(*seq))
            {
                tracing::error!(execution = %arn, error = %e, "cannot end the lease");
            }
            let (held, arn) = (store.held.clone(), arn.to_string());
            replies.push(Box::new(move |committed: &Result<(), StoreError>| {
                if committed.is_ok() {
                    held.release(&arn);
                }
            }));
        }
        if !ended && let Ok(seq) = &seq {
            write_parts(w, arn, *seq, &self.parts, self.checkpoint.as_ref(), parts_of);
        }
        if let Some(cp) = &self.checkpoint
            && !ended
            && let Ok(seq) = seq
            && let Err(e) = encode_checkpoint(cp).and_then(|bytes| w.put(Table::Checkpoints, &checkpoint_key(seq), &bytes))
        {
            tracing::error!(execution = %arn, error = %e, "cannot write a checkpoint");
        }
        (replies, refused.is_some())
    }
}

/// Writes the finished iterations and branches of the checkpoint's state
/// (those of a state it moved on from are stale), and deletes the ones this
/// run wrote of a state the checkpoint moved on from.
fn write_parts(w: &mut dyn Write, arn: &str, seq: u64, parts: &[Part], checkpoint: Option<&Checkpoint>, parts_of: &AtomicU64) {
    let current = checkpoint.map(|c| c.entered_event_id);
    let before = parts_of.load(Ordering::Relaxed);
    if before != 0 && current.is_some_and(|c| c != before) {
        if let Err(e) = delete_parts(w, seq, before) {
            tracing::error!(execution = %arn, error = %e, "cannot delete finished iterations");
        }
        parts_of.store(0, Ordering::Relaxed);
    }
    for p in parts.iter().filter(|p| current.is_none_or(|c| p.entered_event_id >= c)) {
        match put_part(w, seq, p) {
            Ok(()) => parts_of.store(p.entered_event_id, Ordering::Relaxed),
            Err(e) => tracing::error!(execution = %arn, error = %e, "cannot write a finished iteration"),
        }
    }
}

/// A close's change, boxed as a queued close keeps it.
fn boxed(change: impl Fn(&mut ExecutionRecord) + Send + 'static) -> CloseChange {
    Box::new(change)
}

fn lock<T>(p: &Mutex<T>) -> MutexGuard<'_, T> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

/// Resolves with what the writer answers on `answer`.
fn answered<T: Send + 'static>(answer: oneshot::Receiver<Result<T, StoreError>>) -> Commit<T> {
    Box::pin(async move {
        answer
            .await
            .unwrap_or_else(|_| Err(StoreError::Database("the store writer has stopped".into())))
    })
}

impl ExecutionJournal {
    pub fn new(store: Store, execution_arn: impl Into<String>) -> Self {
        let arn: Arc<str> = execution_arn.into().into();
        ExecutionJournal {
            epoch: Arc::new(AtomicU64::new(store.epoch_of(&arn))),
            store,
            arn,
            seq: Arc::default(),
            parts_of: Arc::default(),
            pending: Arc::default(),
        }
    }

    /// The journal of an execution its caller just inserted as `record`: its
    /// close needs no read of the store.
    pub fn started(store: Store, record: ExecutionRecord) -> Self {
        let journal = ExecutionJournal::new(store, record.arn.clone());
        lock(&journal.pending).known = Some(record);
        journal
    }

    /// Starts a new execution ahead of its record: the run need not wait
    /// for a commit of its own, and a short run's record, history and close
    /// become one write (see [`Begun`]). StartExecution answers once
    /// `recorded` resolves, so nothing is acknowledged before it is durable;
    /// a run that dies first is simply not recorded, and its Tasks ran at
    /// least once, as AWS allows.
    ///
    /// Two starts of one ARN never both run: the first claims the ARN until
    /// its insert commits, and the other is queued behind it.
    pub fn begin(store: &Store, record: ExecutionRecord) -> Result<Begun, StoreError> {
        if !store.claim(&record.arn) {
            return Ok(Begun::Behind(store.insert_execution(record)));
        }
        if store.writes_failing() {
            // The record may well not be written (a full disk): run nothing
            // (no Task runs for a start its client is told failed) until it is.
            store.release(&record.arn);
            return Ok(Begun::Behind(store.insert_execution(record)));
        }
        let checked = store.recent_ids().before_check();
        match store.get_execution(&record.arn) {
            Ok(None) => {}
            Ok(Some(stored)) => {
                store.release(&record.arn);
                return Ok(Begun::Exists(stored));
            }
            Err(e) => {
                store.release(&record.arn);
                return Err(e);
            }
        }
        let journal = ExecutionJournal::new(store.clone(), record.arn.clone());
        let (reply, answer) = oneshot::channel();
        let seq = store.next_sequence();
        {
            let mut p = lock(&journal.pending);
            p.insert = Some(Insert {
                record,
                encoded: None,
                seq,
                checked: Some(checked),
                reply,
            });
            p.queued = true;
        }
        journal.queue_write();
        store.inserted();
        Ok(Begun::Recording {
            journal,
            recorded: answered(answer),
        })
    }

    /// Adds to the pending entries, queueing a write to take them unless one is queued.
    fn add(&self, add: impl FnOnce(&mut Pending)) {
        let mut p = lock(&self.pending);
        add(&mut p);
        if p.queued {
            return;
        }
        p.queued = true;
        drop(p);
        self.queue_write();
    }

    /// Queues a write that takes whatever is pending when the writer applies
    /// it; who waits on what it wrote is answered once it is durable.
    fn queue_write(&self) {
        let (pending, arn, seq, epoch, parts_of, store) = (
            self.pending.clone(),
            self.arn.clone(),
            self.seq.clone(),
            self.epoch.clone(),
            self.parts_of.clone(),
            self.store.clone(),
        );
        let replies: Arc<Mutex<Vec<Reply>>> = Arc::default();
        let to_answer = replies.clone();
        let failed = self.pending.clone();
        self.store.write(
            Box::new(move |w| {
                let batch = lock(&pending).take_batch();
                let (told, refused) = batch.write_to(w, &arn, &seq, &epoch, &parts_of, &store);
                if refused {
                    lock(&pending).refused = true;
                }
                *lock(&replies) = told;
                Ok(())
            }),
            Box::new(move |committed| {
                if committed.is_err() {
                    // What this write took is lost: writing this execution's
                    // later entries would leave a hole in its history. It
                    // stays as last committed (RUNNING, with its last
                    // checkpoint), which the next start resumes from.
                    lock(&failed).refused = true;
                }
                for reply in std::mem::take(&mut *lock(&to_answer)) {
                    reply(&committed);
                }
            }),
        );
    }

    /// Writes the pending entries and then changes the execution record, in
    /// one operation (how a finished execution is closed: its last events and
    /// its status become durable together; when a write of its events is
    /// still queued, that write carries the close, and when the record itself
    /// is still to be inserted, the closed record is inserted). Resolves with
    /// the changed record (None: no such execution) once durable. The record
    /// (as the journal knows it, else read) is changed and encoded on this
    /// thread; the writer only checks that nobody changed it meanwhile (else
    /// it applies `change` again to the current record).
    pub fn close(
        &self,
        change: impl Fn(&mut ExecutionRecord) + Send + 'static,
    ) -> Commit<Option<ExecutionRecord>> {
        let (reply, answer) = oneshot::channel();
        self.close_with(change, boxed, CloseReply::Waiter(reply));
        answered(answer)
    }

    /// [`close`](Self::close) of a change boxed already (the [`Journal`](crate::Journal) trait's).
    pub(crate) fn close_boxed(&self, change: CloseChange) -> Commit<Option<ExecutionRecord>> {
        let (reply, answer) = oneshot::channel();
        self.close_with(change, |c| c, CloseReply::Waiter(reply));
        answered(answer)
    }

    /// [`close`](Self::close) with nobody waiting: the writer logs a failure.
    /// (A finished run's task can end at once instead of waiting for the
    /// commit only to log its result.)
    pub fn close_logged(&self, change: impl Fn(&mut ExecutionRecord) + Send + 'static) {
        self.close_with(change, boxed, CloseReply::Logged(None))
    }

    /// [`close_logged`](Self::close_logged), also calling `failed` (on the
    /// store's writer or notifier thread) if the close was not written.
    pub fn close_or_else(
        &self,
        change: impl Fn(&mut ExecutionRecord) + Send + 'static,
        failed: impl FnOnce(&StoreError) + Send + 'static,
    ) {
        self.close_with(change, boxed, CloseReply::Logged(Some(Box::new(failed))))
    }

    /// [`close_or_else`](Self::close_or_else) of what is boxed already (the
    /// [`Journal`](crate::Journal) trait's): boxed again, it would cost two
    /// allocations more per execution.
    pub(crate) fn close_or_else_boxed(&self, change: CloseChange, failed: Box<dyn FnOnce(&StoreError) + Send>) {
        self.close_with(change, |c| c, CloseReply::Logged(Some(failed)))
    }

    /// `boxed` turns `change` into what a queued close keeps (a close merged
    /// into the pending insert keeps nothing).
    fn close_with<F: Fn(&mut ExecutionRecord) + Send + 'static>(
        &self,
        change: F,
        boxed: impl FnOnce(F) -> CloseChange,
        reply: CloseReply,
    ) {
        let mut p = lock(&self.pending);
        if let Some(ins) = p.insert.as_mut() {
            // Not written yet (so a write is queued): it inserts the closed record.
            change(&mut ins.record);
            ins.encoded = execution_codec::encode(&ins.record).ok();
            p.closes.push(Close { update: None, reply });
            return;
        }
        let known = p.known.take();
        drop(p);
        let prepared = match known {
            Some(known) => Store::prepare_update_of(known, &change),
            None => self.store.prepare_update(&self.arn, &change),
        };
        if let Some(p) = &prepared
            && p.seq != 0
        {
            self.seq.store(p.seq, Ordering::Relaxed);
        }
        self.add(|p| {
            p.closes.push(Close {
                update: Some((prepared, boxed(change))),
                reply,
            })
        });
    }
}

impl HistorySink for ExecutionJournal {
    fn record(&self, event: HistoryEvent) {
        self.add(|p| {
            if let Err(e) = p.events.push(&event) {
                tracing::error!(execution = %self.arn, error = %e, "cannot record an event");
            }
        });
    }
    fn wants_checkpoints(&self) -> bool {
        true
    }
    fn checkpoint(&self, checkpoint: &Checkpoint) {
        let checkpoint = checkpoint.clone();
        self.add(|p| p.checkpoint = Some(checkpoint));
    }
    fn part(&self, part: &Part) {
        let part = part.clone();
        self.add(|p| p.parts.push(part));
    }
}
