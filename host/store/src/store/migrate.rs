//! Upgrades of older store formats.

use super::*;

/// Execution `arn`'s `ExecutionIds` key (for a migration).
pub(crate) fn arn_entry(arn: &str, seq: u64) -> [u8; 16] {
    keys::arn_entry(arn, seq)
}

/// Format 1's execution counter (format 2 numbers after the last `Executions` key).
const SEQUENCE_KEY: &[u8] = b"execution_sequence";

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
