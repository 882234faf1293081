//! Entries deleted after the write that made them useless, in writes of
//! their own: a distributed Map of a million EXPRESS children keeps a
//! million finished parts, and deleting them in the write that closes the
//! execution (or moves it past the Map) held that write, and every write
//! queued behind it, for seconds (redb deletes key by key).
//!
//! Such a write deletes the first [`INLINE`] entries itself and, when more
//! are left, records the prefix under `sweep/` in `Meta`, in the same
//! transaction; [`Store::sweep_marked`] then deletes the rest [`CHUNK`] at a
//! time, other writes going in between, and the marker with the last chunk.
//! A restart finds the markers left and finishes.

use std::sync::atomic::{AtomicBool, Ordering};

use super::Store;
use crate::StoreError;
use crate::backend::{Table, Write};

/// How many entries a write deletes itself before leaving the rest.
pub(crate) const INLINE: usize = 1024;
/// How many entries one sweeping write deletes.
const CHUNK: usize = 4096;
/// The `Meta` keys of the prefixes left to delete: `sweep/` and the prefix.
const MARKER: &[u8] = b"sweep/";

fn marker(prefix: &[u8]) -> Vec<u8> {
    [MARKER, prefix].concat()
}

/// Deletes up to `limit` `Checkpoints` entries whose key starts with
/// `prefix`; true when some are left.
fn delete_some(w: &mut dyn Write, prefix: &[u8], limit: usize) -> Result<bool, StoreError> {
    let found = w.scan_from(Table::Checkpoints, prefix, limit + 1)?;
    let mut deleted = 0;
    for (key, _) in found.iter().take_while(|(k, _)| k.starts_with(prefix)) {
        if deleted == limit {
            return Ok(true);
        }
        w.delete(Table::Checkpoints, key)?;
        deleted += 1;
    }
    Ok(false)
}

/// Deletes the `Checkpoints` entries under `prefix`: up to [`INLINE`] now,
/// the rest marked for [`Store::sweep_marked`].
pub(crate) fn delete_prefix(w: &mut dyn Write, prefix: &[u8]) -> Result<(), StoreError> {
    if delete_some(w, prefix, INLINE)? {
        w.put(Table::Meta, &marker(prefix), b"")?;
    }
    Ok(())
}

impl Store {
    /// Deletes what writes left marked (see the module), one write of
    /// [`CHUNK`] entries at a time; returns how many prefixes it finished.
    pub async fn sweep_marked(&self) -> Result<usize, StoreError> {
        let mut finished = 0;
        for key in self.read(|r| r.keys(Table::Meta, MARKER))? {
            let prefix = key[MARKER.len()..].to_vec();
            loop {
                let more = self.submit_sweep(key.clone(), prefix.clone()).await?;
                if !more {
                    break;
                }
            }
            finished += 1;
        }
        Ok(finished)
    }

    /// One sweeping write; true when entries are left after it.
    fn submit_sweep(&self, key: Vec<u8>, prefix: Vec<u8>) -> super::Commit<bool> {
        let more = std::sync::Arc::new(AtomicBool::new(false));
        let left = more.clone();
        let write = self.submit(move |w| {
            let more = delete_some(w, &prefix, CHUNK)?;
            if !more {
                w.delete(Table::Meta, &key)?;
            }
            left.store(more, Ordering::Relaxed);
            Ok(())
        });
        Box::pin(async move {
            write.await?;
            Ok(more.load(Ordering::Relaxed))
        })
    }

    /// How many prefixes are marked for [`sweep_marked`](Self::sweep_marked).
    pub fn sweeps_left(&self) -> Result<usize, StoreError> {
        self.read(|r| Ok(r.keys(Table::Meta, MARKER)?.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part_key(seq: u64, i: u32) -> Vec<u8> {
        super::super::keys::part(seq, 5, 1, i).to_vec()
    }

    #[tokio::test]
    async fn a_write_deletes_a_thousand_entries_and_marks_the_rest_which_the_sweep_deletes() {
        let store = Store::memory();
        let n = INLINE as u32 * 3 + CHUNK as u32 + 7;
        store
            .submit(move |w| {
                for seq in [6, 7, 8] {
                    for i in 0..n {
                        w.put(Table::Checkpoints, &part_key(seq, i), b"{}")?;
                    }
                }
                Ok(())
            })
            .await
            .unwrap();
        let count = |store: &Store, seq: u64| {
            store
                .read(move |r| {
                    Ok(
                        r.keys(Table::Checkpoints, &super::super::keys::execution(seq))?
                            .len(),
                    )
                })
                .unwrap()
        };
        store
            .submit(|w| delete_prefix(w, &super::super::keys::execution(7)))
            .await
            .unwrap();
        assert_eq!(
            count(&store, 7),
            n as usize - INLINE,
            "the write deleted {INLINE} entries itself"
        );
        assert_eq!(store.sweeps_left().unwrap(), 1);
        assert_eq!(store.sweep_marked().await.unwrap(), 1);
        assert_eq!(count(&store, 7), 0);
        assert_eq!(
            (count(&store, 6), count(&store, 8)),
            (n as usize, n as usize),
            "the neighbours' entries stay"
        );
        assert_eq!(store.sweeps_left().unwrap(), 0);
        // A few entries: all deleted by the write, nothing marked.
        store
            .submit(|w| delete_prefix(w, &super::super::keys::state_parts(8, 5)))
            .await
            .unwrap();
        assert_eq!(store.sweeps_left().unwrap(), 1);
        store.sweep_marked().await.unwrap();
        store
            .submit(|w| {
                w.put(Table::Checkpoints, &part_key(9, 0), b"{}")?;
                delete_prefix(w, &super::super::keys::execution(9))
            })
            .await
            .unwrap();
        assert_eq!(
            (
                count(&store, 8),
                count(&store, 9),
                store.sweeps_left().unwrap()
            ),
            (0, 0, 0)
        );
    }
}
