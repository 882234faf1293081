//! The in-memory backend: ordered maps under one lock; writes are "durable"
//! at once. For tests and for `stepbox serve --in-memory`, where it counts
//! the bytes it holds (for the store's budget).

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::StoreError;
use crate::backend::{Backend, Done, Read, Table, Write, WriteOp, prefix_end};

/// What an entry costs beyond its key's and value's bytes, as counted: the
/// two `Vec` headers, the allocator's rounding and the B-tree's node slack.
pub const ENTRY_OVERHEAD: u64 = 96;

fn entry_bytes(key: &[u8], value: &[u8]) -> u64 {
    (key.len() + value.len()) as u64 + ENTRY_OVERHEAD
}

#[derive(Default, Clone)]
struct Maps {
    tables: HashMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>,
    /// What every entry costs (see [`ENTRY_OVERHEAD`]).
    bytes: u64,
}

impl Maps {
    /// The entries of `table` whose key starts with `prefix`, in key order.
    fn range<'a>(
        &'a self,
        table: Table,
        prefix: &[u8],
    ) -> impl DoubleEndedIterator<Item = (&'a Vec<u8>, &'a Vec<u8>)> + 'a {
        let end = match prefix_end(prefix) {
            Some(e) => Bound::Excluded(e),
            None => Bound::Unbounded,
        };
        let start = Bound::Included(prefix.to_vec());
        self.tables.get(&table).into_iter().flat_map(move |t| t.range((start.clone(), end.clone())))
    }
}

impl Read for Maps {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.tables.get(&table).and_then(|t| t.get(key).cloned()))
    }
    fn scan(&self, table: Table, prefix: &[u8]) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        Ok(self.range(table, prefix).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    /// Steps back from the range's end (`last` too: a whole-range scan made
    /// every `insert_execution`, which numbers after the last `Executions`
    /// key, copy every execution record of an in-memory store).
    fn scan_back(
        &self,
        table: Table,
        prefix: &[u8],
        before: Option<&[u8]>,
        limit: usize,
    ) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let entries = self.range(table, prefix).rev().filter(|(k, _)| before.is_none_or(|b| k.as_slice() < b));
        Ok(entries.take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
    fn scan_from(&self, table: Table, start: &[u8], limit: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>, StoreError> {
        let entries = self.tables.get(&table).into_iter().flat_map(|t| t.range(start.to_vec()..));
        Ok(entries.take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl Write for Maps {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        let old = self.tables.entry(table).or_default().insert(key.to_vec(), value.to_vec());
        self.bytes += entry_bytes(key, value);
        if let Some(old) = old {
            self.bytes -= entry_bytes(key, &old);
        }
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        let Some(old) = self.tables.get_mut(&table).and_then(|t| t.remove(key)) else {
            return Ok(false);
        };
        self.bytes -= entry_bytes(key, &old);
        Ok(true)
    }
    fn bytes_held(&self) -> Option<u64> {
        Some(self.bytes)
    }
}

/// Keeps every table in memory (lost on restart).
#[derive(Default)]
pub struct MemoryBackend {
    maps: Mutex<Maps>,
    /// `maps.bytes` after the last write (read without the lock).
    held: AtomicU64,
}

impl MemoryBackend {
    pub fn new() -> Self {
        Self::default()
    }

    /// A backend holding a copy of what this one holds (a test's
    /// transaction that sees the data and then fails to commit).
    #[cfg(test)]
    pub(crate) fn copy(&self) -> Self {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let held = AtomicU64::new(maps.bytes);
        MemoryBackend { maps: Mutex::new(maps), held }
    }
}

impl Backend for MemoryBackend {
    fn read(
        &self,
        f: &mut dyn FnMut(&dyn Read) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
        f(&*maps)
    }
    fn write(&self, op: WriteOp, done: Done) {
        let result = {
            let mut maps = self.maps.lock().unwrap_or_else(|e| e.into_inner());
            let result = op(&mut *maps);
            self.held.store(maps.bytes, Ordering::Relaxed);
            result
        };
        // An op's own error is reported through its result slot, not here.
        let _ = result;
        done(Ok(()));
    }
    fn describe(&self) -> String {
        "memory".into()
    }
    fn persistent(&self) -> bool {
        false
    }
    fn bytes_held(&self) -> Option<u64> {
        Some(self.held.load(Ordering::Relaxed))
    }
}
