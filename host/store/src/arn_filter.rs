//! Which ARNs may have an entry in the `ExecutionIds` table: a Bloom filter
//! over their hashes, so a new execution's start (whose ARN is almost never
//! taken) answers "no such execution" without a read of the store.
//!
//! No false negatives: every hash in the table is added (from a scan at
//! open, then as each entry enters [`RecentIds`](crate::store::RecentIds),
//! before it can reach the table). A false positive, or an entry purged
//! since, only costs the read that would have been made anyway.
//!
//! Blocked (each hash sets 6 bits of one 64-bit word: one cache line per
//! lookup) and scalable (when the newest filter holds its capacity, a
//! filter twice its size follows; a lookup asks each), about 10 bits per
//! entry: ~1.25 MB per million executions kept, a false positive rate of
//! about 2 %.

use std::sync::RwLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};

/// Bits per entry a filter is sized with.
const BITS_PER_ENTRY: usize = 10;
/// Bits each hash sets in its word.
const BITS_PER_HASH: u32 = 6;
/// The smallest capacity a filter starts with.
const MIN_CAPACITY: usize = 1 << 16;

/// One fixed-size blocked Bloom filter.
struct Block {
    words: Box<[AtomicU64]>,
    entries: AtomicUsize,
    capacity: usize,
}

impl Block {
    fn new(capacity: usize) -> Self {
        let words = (capacity * BITS_PER_ENTRY).div_ceil(64).max(1);
        Block {
            words: (0..words).map(|_| AtomicU64::new(0)).collect(),
            entries: AtomicUsize::new(0),
            capacity,
        }
    }

    /// The word a hash falls in and the bits it sets there.
    fn slot(&self, hash: u64) -> (usize, u64) {
        // The high half picks the word (multiply-shift: no modulo bias to
        // speak of), the low bits the positions in it; the hash is a
        // SHA-256 prefix, so its bits are already uniform.
        let word = (((hash >> 32) * self.words.len() as u64) >> 32) as usize;
        let mut mask = 0u64;
        for i in 0..BITS_PER_HASH {
            mask |= 1 << ((hash >> (6 * i)) & 63);
        }
        (word, mask)
    }

    fn add(&self, hash: u64) {
        let (word, mask) = self.slot(hash);
        self.words[word].fetch_or(mask, Ordering::Relaxed);
        self.entries.fetch_add(1, Ordering::Relaxed);
    }

    fn may_contain(&self, hash: u64) -> bool {
        let (word, mask) = self.slot(hash);
        self.words[word].load(Ordering::Relaxed) & mask == mask
    }

    fn full(&self) -> bool {
        self.entries.load(Ordering::Relaxed) >= self.capacity
    }
}

/// A scalable Bloom filter of ARN hashes (see the module docs).
pub(crate) struct ArnFilter {
    blocks: RwLock<Vec<Block>>,
    /// Says "maybe" to everything (the table could not be read at open).
    everything: AtomicBool,
}

impl Default for ArnFilter {
    fn default() -> Self {
        ArnFilter::with_capacity(0)
    }
}

impl ArnFilter {
    /// A filter with room for `expected` entries before it grows.
    pub(crate) fn with_capacity(expected: usize) -> Self {
        ArnFilter {
            blocks: RwLock::new(vec![Block::new(expected.max(MIN_CAPACITY))]),
            everything: AtomicBool::new(false),
        }
    }

    /// From now on, says "maybe" to every hash.
    pub(crate) fn add_everything(&self) {
        self.everything.store(true, Ordering::Relaxed);
    }

    /// Adds the hash of an ARN (`keys::arn_hash`, as a big-endian number).
    pub(crate) fn add(&self, hash: u64) {
        {
            let blocks = self.blocks.read().unwrap_or_else(|e| e.into_inner());
            let newest = blocks.last().expect("a filter has a block");
            if !newest.full() {
                newest.add(hash);
                return;
            }
        }
        let mut blocks = self.blocks.write().unwrap_or_else(|e| e.into_inner());
        let newest = blocks.last().expect("a filter has a block");
        if newest.full() {
            let capacity = newest.capacity * 2;
            blocks.push(Block::new(capacity));
        }
        blocks.last().expect("a filter has a block").add(hash);
    }

    /// False only when no ARN with this hash was ever added.
    pub(crate) fn may_contain(&self, hash: u64) -> bool {
        self.everything.load(Ordering::Relaxed)
            || self
                .blocks
                .read()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
                .any(|b| b.may_contain(hash))
    }

    /// How many bytes the filter holds.
    #[cfg(test)]
    pub(crate) fn bytes(&self) -> usize {
        self.blocks
            .read()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|b| b.words.len() * 8)
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u64) -> u64 {
        u64::from_be_bytes(crate::store::keys::arn_hash(&format!(
            "arn:aws:states:us-east-1:1:execution:sm:{i}"
        )))
    }

    #[test]
    fn every_added_hash_is_found_as_the_filter_grows() {
        let filter = ArnFilter::with_capacity(0);
        let n = (MIN_CAPACITY * 5) as u64;
        for i in 0..n {
            filter.add(hash(i));
        }
        assert!(
            (0..n).all(|i| filter.may_contain(hash(i))),
            "no false negatives"
        );
        assert!(
            filter.blocks.read().unwrap().len() >= 3,
            "grew past its first capacity"
        );
        let false_positives = (n..n + 100_000)
            .filter(|&i| filter.may_contain(hash(i)))
            .count();
        assert!(
            false_positives < 5_000,
            "{false_positives} false positives in 100,000 (expected about 2 %)"
        );
        assert!(
            filter.bytes() < n as usize * 4,
            "{} bytes for {n} entries",
            filter.bytes()
        );
    }

    #[test]
    fn an_empty_filter_contains_nothing() {
        let filter = ArnFilter::default();
        assert!((0..10_000).all(|i| !filter.may_contain(hash(i))));
    }
}
