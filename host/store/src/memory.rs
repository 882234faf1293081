//! The in-memory backend: ordered maps under one lock; writes are "durable"
//! at once. For tests and for `stepbox serve --in-memory`.

use std::collections::{BTreeMap, HashMap};
use std::ops::Bound;
use std::sync::Mutex;

use crate::StoreError;
use crate::backend::{Backend, Done, Read, Table, Write, WriteOp, prefix_end};

#[derive(Default, Clone)]
struct Maps(HashMap<Table, BTreeMap<Vec<u8>, Vec<u8>>>);

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
        self.0.get(&table).into_iter().flat_map(move |t| t.range((start.clone(), end.clone())))
    }
}

impl Read for Maps {
    fn get(&self, table: Table, key: &[u8]) -> Result<Option<Vec<u8>>, StoreError> {
        Ok(self.0.get(&table).and_then(|t| t.get(key).cloned()))
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
        let entries = self.0.get(&table).into_iter().flat_map(|t| t.range(start.to_vec()..));
        Ok(entries.take(limit).map(|(k, v)| (k.clone(), v.clone())).collect())
    }
}

impl Write for Maps {
    fn put(&mut self, table: Table, key: &[u8], value: &[u8]) -> Result<(), StoreError> {
        self.0
            .entry(table)
            .or_default()
            .insert(key.to_vec(), value.to_vec());
        Ok(())
    }
    fn delete(&mut self, table: Table, key: &[u8]) -> Result<bool, StoreError> {
        Ok(self
            .0
            .get_mut(&table)
            .is_some_and(|t| t.remove(key).is_some()))
    }
}

/// Keeps every table in memory (lost on restart).
#[derive(Default)]
pub struct MemoryBackend {
    maps: Mutex<Maps>,
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
        MemoryBackend { maps: Mutex::new(maps) }
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
            op(&mut *maps)
        };
        // An op's own error is reported through its result slot, not here.
        let _ = result;
        done(Ok(()));
    }
    fn describe(&self) -> String {
        "memory".into()
    }
}
