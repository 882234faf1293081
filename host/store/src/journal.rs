//! The engine's history sink for a durable execution.
//!
//! Events and checkpoints are encoded on the engine's thread and gathered in
//! a pending list; the list has at most one write queued at the store, which
//! takes everything gathered by the time the writer applies it. So a state's
//! events (or a whole short execution's) cost one store operation, not one
//! each, and the writer thread only copies bytes into its transaction.

use std::sync::{Arc, Mutex, MutexGuard};

use stepbox_engine::{Checkpoint, HistoryEvent, HistorySink};

use crate::StoreError;
use crate::backend::{Table, Write};
use crate::events::EventChunk;
use crate::records::ExecutionRecord;
use crate::store::{Commit, Store, apply_update_in, chunk_key, encode_checkpoint};

/// Records an execution's events and checkpoints into a [`Store`], in the
/// order the engine produces them (the writer keeps that order, so after a
/// crash the store holds a prefix of it).
pub struct ExecutionJournal {
    store: Store,
    arn: Arc<str>,
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    /// Events not yet handed to the writer: one `Events` entry.
    events: EventChunk,
    /// The latest checkpoint not yet handed to the writer: within one write
    /// only the last one matters, and it lands after the events before it.
    checkpoint: Option<Vec<u8>>,
    /// A write that will take the pending entries is queued.
    queued: bool,
}

impl Pending {
    fn write_to(self, w: &mut dyn Write, arn: &str) -> Result<(), StoreError> {
        if !self.events.is_empty() {
            w.put(
                Table::Events,
                &chunk_key(arn, &self.events),
                self.events.bytes(),
            )?;
        }
        if let Some(cp) = &self.checkpoint {
            w.put(Table::Checkpoints, arn.as_bytes(), cp)?;
        }
        Ok(())
    }
}

fn lock(p: &Mutex<Pending>) -> MutexGuard<'_, Pending> {
    p.lock().unwrap_or_else(|e| e.into_inner())
}

impl ExecutionJournal {
    pub fn new(store: Store, execution_arn: impl Into<String>) -> Self {
        ExecutionJournal {
            store,
            arn: execution_arn.into().into(),
            pending: Arc::default(),
        }
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
        let (pending, arn) = (self.pending.clone(), self.arn.clone());
        drop(self.store.submit(move |w| {
            let taken = std::mem::take(&mut *lock(&pending));
            taken.write_to(w, &arn)
        }));
    }

    /// Writes the pending entries and then changes the execution record, in
    /// one operation (how a finished execution is closed: its last events and
    /// its status become durable together). Resolves with the changed record
    /// (None: no such execution) once durable. The record is read, changed
    /// and encoded on this thread; the writer only checks that nobody changed
    /// it meanwhile (else it applies `change` again to the current record).
    pub fn close(
        &self,
        change: impl Fn(&mut ExecutionRecord) + Send + 'static,
    ) -> Commit<Option<ExecutionRecord>> {
        let prepared = self.store.prepare_update(&self.arn, &change);
        let (pending, arn) = (self.pending.clone(), self.arn.clone());
        self.store.submit(move |w| {
            let taken = {
                let mut p = lock(&pending);
                let queued = p.queued;
                let taken = std::mem::take(&mut *p);
                // A queued write still runs; it finds nothing left to take.
                p.queued = queued;
                taken
            };
            taken.write_to(w, &arn)?;
            apply_update_in(w, &arn, prepared, change)
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
        match encode_checkpoint(checkpoint) {
            Ok(bytes) => self.add(|p| p.checkpoint = Some(bytes)),
            Err(e) => {
                tracing::error!(execution = %self.arn, error = %e, "cannot record a checkpoint")
            }
        }
    }
}
