//! How closed executions leave the store: past the retention period (every
//! store), and, in memory, past the store's budget (oldest first).

use std::sync::atomic::Ordering;

use chrono::{DateTime, Utc};

use super::{Commit, PURGE_BATCH, Store, keys, sequence_of};
use crate::StoreError;
use crate::backend::{Table, Write};
use crate::execution_codec;
use crate::records::ExecutionRecord;

/// How many execution records one step of an eviction looks at.
const EVICT_SCAN: usize = 256;

/// Deletes execution `seq` (whose record is `record`) with its history,
/// checkpoint and index entries. Its definition stays: others may share it
/// (and texts are few).
fn delete_execution_in(w: &mut dyn Write, seq: u64, record: &ExecutionRecord) -> Result<(), StoreError> {
    let key = keys::execution(seq);
    w.delete(Table::ExecutionsByMachine, &keys::child(&record.state_machine_arn, seq))?;
    for (chunk, _) in w.scan(Table::Events, &key)? {
        w.delete(Table::Events, &chunk)?;
    }
    for (invocation, _) in w.scan(Table::Invocations, &key)? {
        w.delete(Table::Invocations, &invocation)?;
    }
    super::delete_checkpoint(w, seq)?;
    w.delete(Table::Running, &key)?;
    // Its in-memory ARN entry (if any) stays: were this commit to fail, the
    // execution must still be found. Once its record is gone, the entry
    // reads as no execution, and the next bulk write drops it.
    w.delete(Table::ExecutionIds, &keys::arn_entry(&record.arn, seq))?;
    super::map_runs::delete_map_runs_of(w, &record.arn)?;
    w.delete(Table::Executions, &key)?;
    Ok(())
}

/// Deletes closed executions, oldest first (in start order), until the
/// store holds at most `target` bytes; running ones stay. Returns how many.
fn evict_in(w: &mut dyn Write, target: u64) -> Result<usize, StoreError> {
    let over = |w: &dyn Write| w.bytes_held().is_some_and(|held| held > target);
    let (mut evicted, mut from) = (0, 0);
    while over(&*w) {
        let records = w.scan_from(Table::Executions, &keys::execution(from), EVICT_SCAN)?;
        for (key, bytes) in &records {
            let (record, _) = execution_codec::decode(bytes)?;
            if record.is_running() {
                continue;
            }
            delete_execution_in(w, sequence_of(key), &record)?;
            evicted += 1;
            if !over(&*w) {
                return Ok(evicted);
            }
        }
        match records.last() {
            Some((key, _)) if records.len() == EVICT_SCAN => from = sequence_of(key) + 1,
            _ => break, // what is left is running
        }
    }
    Ok(evicted)
}

impl Store {
    /// Deletes closed executions that stopped before `cutoff`, with their
    /// histories; returns how many. Done in writes of [`PURGE_BATCH`]
    /// records each, oldest first, so a sweep over 90 days of executions
    /// neither holds them all in memory nor stops the writer for its whole
    /// length: other writes go between the batches.
    pub fn purge_closed_before(&self, cutoff: DateTime<Utc>) -> Commit<usize> {
        self.purge_in_batches(cutoff, PURGE_BATCH)
    }

    pub(crate) fn purge_in_batches(&self, cutoff: DateTime<Utc>, batch: usize) -> Commit<usize> {
        // The first batch is queued now, like any write; the rest as it goes.
        let first = self.purge_batch(cutoff, 0, batch);
        let store = self.clone();
        Box::pin(async move {
            let (mut purged, mut next) = first.await?;
            while let Some(from) = next {
                let (n, after) = store.purge_batch(cutoff, from, batch).await?;
                purged += n;
                next = after;
            }
            Ok(purged)
        })
    }

    /// Purges among the `batch` executions numbered from `from` on; returns
    /// how many, and where the next batch starts (None: no more to look at).
    fn purge_batch(&self, cutoff: DateTime<Utc>, from: u64, batch: usize) -> Commit<(usize, Option<u64>)> {
        self.submit(move |w| {
            let records = w.scan_from(Table::Executions, &keys::execution(from), batch)?;
            let mut purged = 0;
            for (key, bytes) in &records {
                let (record, _) = execution_codec::decode(bytes)?;
                if record.start_date >= cutoff {
                    // Numbers follow start times, so none after this one
                    // stopped before the cutoff (but for a clock set back,
                    // whose executions wait for a later sweep).
                    return Ok((purged, None));
                }
                if record.is_running() || record.stop_date.is_none_or(|d| d >= cutoff) {
                    continue;
                }
                delete_execution_in(w, sequence_of(key), &record)?;
                purged += 1;
            }
            let next = match records.last() {
                Some((key, _)) if records.len() == batch => Some(sequence_of(key) + 1),
                _ => None,
            };
            Ok((purged, next))
        })
    }

    /// Once a store with a budget holds more than it (see
    /// [`memory_with_budget`](Self::memory_with_budget)), queues a write that
    /// evicts closed executions, oldest first, down to 90 % of it. One at a
    /// time; a check is an atomic load or two.
    pub(crate) fn evict_when_over_budget(&self) {
        let Some(budget) = self.budget else { return };
        if self.backend.bytes_held().is_none_or(|held| held <= budget) || self.evicting.swap(true, Ordering::AcqRel) {
            return;
        }
        let target = budget - budget / 10;
        let evicting = self.evicting.clone();
        self.backend.write(
            Box::new(move |w| {
                let evicted = evict_in(w, target)?;
                if evicted > 0 {
                    tracing::debug!(evicted, "memory budget: evicted the oldest closed executions");
                }
                Ok(())
            }),
            Box::new(move |done| {
                if let Err(e) = done {
                    tracing::error!(error = %e, "memory budget: cannot evict closed executions");
                }
                evicting.store(false, Ordering::Release);
            }),
        );
    }
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;
    use stepbox_engine::{Details, EventType, HistoryEvent};

    use super::*;

    fn record(name: &str, closed: bool) -> ExecutionRecord {
        let start = Utc.timestamp_opt(1_700_000_000, 0).unwrap();
        ExecutionRecord {
            arn: format!("arn:aws:states:us-east-1:1:execution:sm:{name}"),
            name: name.into(),
            state_machine_arn: "arn:aws:states:us-east-1:1:stateMachine:sm".into(),
            status: if closed { "SUCCEEDED" } else { "RUNNING" }.into(),
            input: "{}".into(),
            start_date: start,
            stop_date: closed.then_some(start),
            definition: "{}".into(),
            ..Default::default()
        }
    }

    async fn add(store: &Store, name: &str, closed: bool) {
        let r = record(name, closed);
        store.insert_execution(r.clone()).await.unwrap().unwrap();
        for id in 1..=10 {
            let event = HistoryEvent {
                id,
                previous_event_id: id - 1,
                timestamp: r.start_date,
                event_type: EventType::PassStateEntered,
                details: Details::StateEntered { name: "P".into(), input: "{\"a\":1}".into() },
            };
            store.append_event(&r.arn, &event).await.unwrap();
        }
    }

    #[tokio::test]
    async fn a_memory_store_over_its_budget_evicts_its_oldest_closed_executions_never_running_ones() {
        let budget = 64 << 10;
        let store = Store::memory_with_budget(budget);
        add(&store, "running", false).await;
        for i in 0..300 {
            add(&store, &format!("closed-{i}"), true).await;
        }
        // A start over the budget evicts down to 90 % of it.
        add(&store, "last", true).await;
        let held = store.backend.bytes_held().unwrap();
        assert!(held <= budget, "{held} bytes held, budget {budget}");
        let running = record("running", false).arn;
        assert!(store.get_execution(&running).unwrap().is_some(), "a running execution stays");
        assert_eq!(store.history(&running).unwrap().len(), 10);
        let oldest = record("closed-0", true).arn;
        assert_eq!(store.get_execution(&oldest).unwrap(), None, "the oldest closed one went");
        assert!(store.history(&oldest).unwrap().is_empty(), "with its history");
        let newest = record("closed-299", true).arn;
        assert_eq!(store.history(&newest).unwrap().len(), 10, "the newest closed ones stay");
        let listed = store.list_executions("arn:aws:states:us-east-1:1:stateMachine:sm").unwrap();
        assert!(listed.len() < 302 && listed.iter().any(|r| r.arn == running), "{} listed", listed.len());
    }

    #[tokio::test]
    async fn an_unbounded_store_evicts_nothing() {
        let store = Store::memory();
        for i in 0..50 {
            add(&store, &format!("closed-{i}"), true).await;
        }
        let listed = store.list_executions("arn:aws:states:us-east-1:1:stateMachine:sm").unwrap();
        assert_eq!(listed.len(), 50);
    }
}
