//! The engine's history sink for a durable execution.

use stepbox_engine::{Checkpoint, HistoryEvent, HistorySink};

use crate::Store;

/// Records an execution's events and checkpoints into a [`Store`], in the
/// order the engine produces them (the writer keeps that order, so after a
/// crash the store holds a prefix of it).
pub struct ExecutionJournal {
    store: Store,
    arn: String,
}

impl ExecutionJournal {
    pub fn new(store: Store, execution_arn: impl Into<String>) -> Self {
        ExecutionJournal {
            store,
            arn: execution_arn.into(),
        }
    }
}

impl HistorySink for ExecutionJournal {
    fn record(&self, event: HistoryEvent) {
        drop(self.store.append_event(&self.arn, &event));
    }
    fn wants_checkpoints(&self) -> bool {
        true
    }
    fn checkpoint(&self, checkpoint: &Checkpoint) {
        drop(self.store.save_checkpoint(&self.arn, checkpoint));
    }
}
