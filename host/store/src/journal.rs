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

use stepbox_engine::{Checkpoint, HistoryEvent, HistorySink};
use tokio::sync::oneshot;

use crate::StoreError;
use crate::backend::{Read, Table, Write};
use crate::events::EventChunk;
use crate::records::ExecutionRecord;
use crate::store::{
    Commit, PreparedUpdate, Store, apply_update_in, checkpoint_key, chunk_key, encode_checkpoint,
    existing_sequence,
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
    pending: Arc<Mutex<Pending>>,
    /// The record as its starter inserted it, until the first close: that
    /// close is prepared from it instead of from a read of the store.
    started: Mutex<Option<ExecutionRecord>>,
}

/// The execution's sequence number, looked up once.
fn sequence(seq: &AtomicU64, r: &(impl Read + ?Sized), arn: &str) -> Result<u64, StoreError> {
    match seq.load(Ordering::Relaxed) {
        0 => {
            let found = existing_sequence(r, arn)?;
            seq.store(found, Ordering::Relaxed);
            Ok(found)
        }
        known => Ok(known),
    }
}

type Closed = Result<Option<ExecutionRecord>, StoreError>;

/// A change of the execution record waiting to be written after the pending
/// events, and who waits for it.
struct Close {
    prepared: Option<PreparedUpdate>,
    change: Box<dyn FnOnce(&mut ExecutionRecord) + Send>,
    reply: oneshot::Sender<Closed>,
}

#[derive(Default)]
struct Pending {
    /// Events not yet handed to the writer: one `Events` entry.
    events: EventChunk,
    /// The latest checkpoint not yet handed to the writer: within one write
    /// only the last one matters, and it lands after the events before it.
    /// Encoded by the writer, and only when no close in the same write ends
    /// the execution (a short execution's last checkpoint is never encoded).
    checkpoint: Option<Checkpoint>,
    /// Record changes (`close`), applied after the events, in order.
    closes: Vec<Close>,
    /// A write that will take the pending entries is queued.
    queued: bool,
}

impl Pending {
    /// Writes the events, then the closes, then the checkpoint unless a close
    /// ended the execution (a closed execution keeps none: writing it would
    /// copy a page only to delete the entry). Returns each close's result
    /// with who waits for it; a failed event write fails the closes after it.
    fn write_to(
        self,
        w: &mut dyn Write,
        arn: &str,
        seq: &AtomicU64,
    ) -> Vec<(oneshot::Sender<Closed>, Closed)> {
        let seq = sequence(seq, w, arn);
        let events = match &seq {
            Err(e) => Err(e.clone()),
            Ok(_) if self.events.is_empty() => Ok(()),
            Ok(seq) => w.put(
                Table::Events,
                &chunk_key(*seq, &self.events),
                self.events.bytes(),
            ),
        };
        if let Err(e) = &events {
            tracing::error!(execution = %arn, error = %e, "cannot write events");
        }
        let mut ended = false;
        let mut replies = Vec::with_capacity(self.closes.len());
        for close in self.closes {
            let prepared = close.prepared.map(|mut p| {
                if p.seq == 0 {
                    // Unknown on the engine's thread; a wrong guess only makes
                    // the writer apply `change` to the stored record instead.
                    p.seq = *seq.as_ref().unwrap_or(&0);
                }
                p
            });
            let closed = match &events {
                Ok(()) => apply_update_in(w, arn, prepared, close.change),
                Err(e) => Err(e.clone()),
            };
            if let Ok(Some(record)) = &closed {
                ended = !record.is_running();
            }
            replies.push((close.reply, closed));
        }
        if let Some(cp) = &self.checkpoint
            && !ended
            && let Ok(seq) = seq
            && let Err(e) = encode_checkpoint(cp)
                .and_then(|bytes| w.put(Table::Checkpoints, &checkpoint_key(seq), &bytes))
        {
            tracing::error!(execution = %arn, error = %e, "cannot write a checkpoint");
        }
        replies
    }
}

fn lock<T>(p: &Mutex<T>) -> MutexGuard<'_, T> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

impl ExecutionJournal {
    pub fn new(store: Store, execution_arn: impl Into<String>) -> Self {
        ExecutionJournal {
            store,
            arn: execution_arn.into().into(),
            seq: Arc::default(),
            pending: Arc::default(),
            started: Mutex::default(),
        }
    }

    /// The journal of an execution its caller just inserted as `record`: its
    /// close needs no read of the store.
    pub fn started(store: Store, record: ExecutionRecord) -> Self {
        let journal = ExecutionJournal::new(store, record.arn.clone());
        *lock(&journal.started) = Some(record);
        journal
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
    /// it; closes it carried are answered once it is durable.
    fn queue_write(&self) {
        let (pending, arn, seq) = (self.pending.clone(), self.arn.clone(), self.seq.clone());
        let replies: Arc<Mutex<Vec<(oneshot::Sender<Closed>, Closed)>>> = Arc::default();
        let answered = replies.clone();
        self.store.write(
            Box::new(move |w| {
                let taken = std::mem::take(&mut *lock(&pending));
                *lock(&replies) = taken.write_to(w, &arn, &seq);
                Ok(())
            }),
            Box::new(move |committed| {
                for (reply, closed) in std::mem::take(&mut *lock(&answered)) {
                    let _ = reply.send(match &committed {
                        Ok(()) => closed,
                        Err(e) => Err(e.clone()),
                    });
                }
            }),
        );
    }

    /// Writes the pending entries and then changes the execution record, in
    /// one operation (how a finished execution is closed: its last events and
    /// its status become durable together; when a write of its events is
    /// still queued, that write carries the close). Resolves with the changed
    /// record (None: no such execution) once durable. The record (as
    /// [`started`](Self::started) knows it, else read) is changed and encoded
    /// on this thread; the writer only checks that nobody changed it
    /// meanwhile (else it applies `change` again to the current record).
    pub fn close(
        &self,
        change: impl Fn(&mut ExecutionRecord) + Send + 'static,
    ) -> Commit<Option<ExecutionRecord>> {
        let started = lock(&self.started).take();
        let prepared = match started {
            Some(known) => Store::prepare_update_of(known, &change),
            None => self.store.prepare_update(&self.arn, &change),
        };
        if let Some(p) = &prepared
            && p.seq != 0
        {
            self.seq.store(p.seq, Ordering::Relaxed);
        }
        let (reply, answer) = oneshot::channel();
        self.add(|p| {
            p.closes.push(Close {
                prepared,
                change: Box::new(change),
                reply,
            })
        });
        Box::pin(async move {
            answer.await.unwrap_or_else(|_| {
                Err(StoreError::Database(
                    "the store writer has stopped".into(),
                ))
            })
        })
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
}
