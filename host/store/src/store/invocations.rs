//! The function invocations an execution's Task states made (each one's
//! state, attempt, duration, error and the tail of its log, as the server's
//! console describes it in JSON), kept with the execution: the console's
//! execution page and `stepbox logs` read them after a restart too, and on
//! every host of a shared database. At most [`PER_EXECUTION`] per
//! execution (the newest); they go when the execution goes.

use serde_json::Value;

use super::executions::sequence_in;
use super::{Commit, Store, decode, encode, keys};
use crate::StoreError;
use crate::backend::Table;

/// Invocations kept per execution: past it, the oldest go.
pub const PER_EXECUTION: u64 = 1_000;

impl Store {
    /// Records each `(execution ARN, invocation)` of `batch` after the ones
    /// its execution has, in one write. Invocations of executions the store
    /// does not hold (Express ones) are not kept.
    pub fn add_invocations(&self, batch: Vec<(String, Value)>) -> Commit<()> {
        let ids = self.ids.clone();
        let encoded: Result<Vec<(String, Vec<u8>)>, StoreError> =
            batch.into_iter().map(|(arn, v)| Ok((arn, encode(&v)?))).collect();
        self.submit(move |w| {
            for (arn, bytes) in encoded? {
                let Some(seq) = sequence_in(w, ids.get(&arn), &arn)? else {
                    continue;
                };
                let n = w
                    .last(Table::Invocations, &keys::execution(seq))?
                    .map_or(0, |(k, _)| keys::child_number(&k) + 1);
                w.put(Table::Invocations, &keys::event_chunk(seq, n), &bytes)?;
                if let Some(old) = n.checked_sub(PER_EXECUTION) {
                    w.delete(Table::Invocations, &keys::event_chunk(seq, old))?;
                }
            }
            Ok(())
        })
    }

    /// The invocations kept for execution `arn`, oldest first (None: the
    /// store does not hold the execution).
    pub fn invocations(&self, arn: &str) -> Result<Option<Vec<Value>>, StoreError> {
        let recent = self.ids.get(arn);
        self.read(|r| {
            let Some(seq) = sequence_in(r, recent, arn)? else {
                return Ok(None);
            };
            r.scan(Table::Invocations, &keys::execution(seq))?
                .iter()
                .map(|(_, v)| decode("invocation", v))
                .collect::<Result<Vec<Value>, _>>()
                .map(Some)
        })
    }
}
