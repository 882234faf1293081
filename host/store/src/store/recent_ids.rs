//! The ARN index's recent entries, kept in memory and written in bulk,
//! and the filter of every ARN in it.

use super::*;

/// A filter of every ARN hash in the `ExecutionIds` table, sized for twice
/// as many (read in batches: the table may hold millions).
pub(crate) fn filter_of_table(r: &(impl Read + ?Sized)) -> Result<crate::arn_filter::ArnFilter, StoreError> {
    filter_of_table_in_batches(r, 65_536)
}

pub(crate) fn filter_of_table_in_batches(
    r: &(impl Read + ?Sized),
    batch_size: usize,
) -> Result<crate::arn_filter::ArnFilter, StoreError> {
    let entries = usize::try_from(r.count(Table::ExecutionIds)?).unwrap_or(usize::MAX / 4);
    let filter = crate::arn_filter::ArnFilter::with_capacity(entries.saturating_mul(2));
    let mut start = Vec::new();
    loop {
        let batch = r.scan_from(Table::ExecutionIds, &start, batch_size)?;
        for (key, _) in &batch {
            if let Some(hash) = key.get(..8).and_then(|h| h.try_into().ok()) {
                filter.add(u64::from_be_bytes(hash));
            }
        }
        match batch.last() {
            Some((last, _)) if batch.len() == batch_size => {
                start = last.clone();
                start.push(0); // the next key after it
            }
            _ => return Ok(filter),
        }
    }
}

/// Up to where every execution's `ExecutionIds` entry is in the table
/// (format 3): the ones after it are read back into [`RecentIds`] at open.
pub(crate) const IDS_WRITTEN_KEY: &[u8] = b"execution_ids_written";

/// Marks every execution numbered so far as having its `ExecutionIds`
/// entry in the table (a new, or a migrated format 1 or 2, store).
pub(crate) fn mark_ids_written(w: &mut dyn Write) -> Result<(), StoreError> {
    let upto = last_sequence(w)?;
    w.put(Table::Meta, IDS_WRITTEN_KEY, &upto.to_be_bytes())
}

/// The mark of a store whose inserts write their `ExecutionIds` entries
/// themselves (a shared database): nothing is ever read back.
pub(crate) const ALL_IDS_WRITTEN: u64 = u64::MAX;

/// How many recent ARN entries are gathered before they are written in one go.
pub(crate) const IDS_PER_WRITE: usize = 2048;

/// The ARN → number entries of executions inserted since the last bulk
/// write of the `ExecutionIds` table. Inserting them one by one put a
/// random key per execution (one B-tree leaf copied and written per start,
/// about a third of a commit's pages); written sorted every
/// [`IDS_PER_WRITE`] executions, neighbours share the leaves. After a crash
/// the store rebuilds them from the records numbered after
/// [`IDS_WRITTEN_KEY`]. A reader looks here before its snapshot begins: an
/// entry leaves only once the write that put it in the table is durable, so
/// a snapshot begun after that has it.
#[derive(Default)]
pub(crate) struct RecentIds {
    /// ARN → (number, `arn_hash_number`): hashed once, at insert.
    map: Mutex<std::collections::HashMap<Box<str>, (u64, u64)>>,
    /// A bulk write is queued.
    writing: std::sync::atomic::AtomicBool,
    /// How many times entries left memory for the table (counted before
    /// they leave): see [`ArnChecked`].
    moved: AtomicU64,
    /// Every ARN in the table or here (see `crate::arn_filter`).
    pub(super) filter: crate::arn_filter::ArnFilter,
}

/// When a new execution's ARN was found in neither the table nor
/// [`RecentIds`] by a read on the caller's thread (made while the ARN was
/// claimed, so no other start of it ran meanwhile), the writer need not look
/// the ARN up in the table again, unless entries moved from memory to the
/// table since: anything the read missed is still in memory. (The lookup is
/// a random B-tree descent per start; this spares it almost always.)
#[derive(Clone, Copy, Debug)]
pub(crate) struct ArnChecked {
    moved: u64,
}

impl RecentIds {
    pub(super) fn with_filter(filter: crate::arn_filter::ArnFilter) -> Self {
        RecentIds { filter, ..RecentIds::default() }
    }
    pub(super) fn map(&self) -> std::sync::MutexGuard<'_, std::collections::HashMap<Box<str>, (u64, u64)>> {
        self.map.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub(crate) fn get(&self, arn: &str) -> Option<u64> {
        self.map().get(arn).map(|&(seq, _)| seq)
    }
    pub(super) fn insert(&self, arn: &str, seq: u64) {
        // Into the filter before the entry can reach the table.
        let hash = arn_hash_number(arn);
        self.filter.add(hash);
        self.map().insert(arn.into(), (seq, hash));
    }
    /// False when `arn` is neither here nor in the table: no execution has it.
    pub(crate) fn may_be_stored(&self, arn: &str) -> bool {
        self.filter.may_contain(arn_hash_number(arn))
    }
    pub(crate) fn len(&self) -> usize {
        self.map().len()
    }
    /// Taken before a read that finds no execution under an ARN: see [`ArnChecked`].
    pub(crate) fn before_check(&self) -> ArnChecked {
        ArnChecked { moved: self.moved.load(Ordering::SeqCst) }
    }
    /// Whether entries moved to the table since `checked` was taken.
    pub(super) fn moved_since(&self, checked: ArnChecked) -> bool {
        self.moved.load(Ordering::SeqCst) != checked.moved
    }
}

/// `keys::arn_hash` as a number, what [`ArnFilter`](crate::arn_filter::ArnFilter) holds.
fn arn_hash_number(arn: &str) -> u64 {
    u64::from_be_bytes(keys::arn_hash(arn))
}

/// Writes every recent entry whose record exists into the table, sorted,
/// and moves the mark. Returns the entries it took (written, or of a
/// record no commit kept), to be dropped once this write is durable.
fn write_recent_ids(w: &mut dyn Write, ids: &RecentIds) -> Result<Vec<(Box<str>, u64)>, StoreError> {
    let mut taken = Vec::new();
    let mut entries = Vec::new();
    for (arn, &(seq, hash)) in ids.map().iter() {
        taken.push((arn.clone(), seq));
        entries.push(keys::hashed_arn_entry(hash, seq));
    }
    // In key order, so neighbours share the leaves they are written to.
    entries.sort_unstable();
    for entry in entries {
        if w.get(Table::Executions, &keys::execution(keys::child_number(&entry)))?.is_some() {
            w.put(Table::ExecutionIds, &entry, b"")?;
        }
    }
    // Every number so far is now in the table or was never committed (ones
    // applied after this write get larger numbers: see `insert_in`).
    mark_ids_written(w)?;
    Ok(taken)
}

impl Store {
    /// The ARN entries not written to the table before the last stop, from
    /// the records numbered after the mark.
    pub(super) fn read_back_recent_ids(&self) -> Result<(), StoreError> {
        let recent = self.read(|r| {
            let written = r.get(Table::Meta, IDS_WRITTEN_KEY)?.map_or(0, |b| sequence_of(&b));
            if written == ALL_IDS_WRITTEN {
                return Ok(Vec::new());
            }
            let mut recent = Vec::new();
            for (key, bytes) in r.scan_from(Table::Executions, &keys::execution(written + 1), usize::MAX)? {
                recent.push((execution_codec::decode(&bytes)?.0.arn, sequence_of(&key)));
            }
            Ok(recent)
        })?;
        if self.shared {
            return self.write_every_id(recent);
        }
        for (arn, seq) in recent {
            self.ids.insert(&arn, seq);
        }
        Ok(())
    }

    /// On a shared database, where each insert writes its entry: writes the
    /// entries an earlier single-host store left in memory (`recent`) and
    /// marks every entry written, for good ([`ALL_IDS_WRITTEN`]).
    fn write_every_id(&self, recent: Vec<(String, u64)>) -> Result<(), StoreError> {
        let written = self.submit(move |w| {
            let mut entries: Vec<_> = recent.iter().map(|(arn, seq)| keys::hashed_arn_entry(arn_hash_number(arn), *seq)).collect();
            entries.sort_unstable();
            for entry in entries {
                w.put(Table::ExecutionIds, &entry, b"")?;
            }
            w.put(Table::Meta, IDS_WRITTEN_KEY, &ALL_IDS_WRITTEN.to_be_bytes())
        });
        futures::executor::block_on(written)
    }

    /// Writes the recent ARN entries into the table once enough have gathered.
    pub(super) fn write_recent_ids_when_due(&self) {
        if self.ids.len() < IDS_PER_WRITE || self.ids.writing.swap(true, Ordering::AcqRel) {
            return;
        }
        let taken: Arc<Mutex<Vec<(Box<str>, u64)>>> = Arc::default();
        let (ids, slot) = (self.ids.clone(), taken.clone());
        let (done_ids, done_slot) = (self.ids.clone(), taken);
        self.backend.write(
            Box::new(move |w| {
                let written = write_recent_ids(w, &ids);
                let failed = written.as_ref().err().cloned();
                *slot.lock().unwrap_or_else(|e| e.into_inner()) = written.unwrap_or_default();
                failed.map_or(Ok(()), Err)
            }),
            Box::new(move |committed| {
                if let Err(e) = &committed {
                    tracing::error!(error = %e, "cannot write the execution ARN index");
                } else {
                    let taken = std::mem::take(&mut *done_slot.lock().unwrap_or_else(|e| e.into_inner()));
                    // Counted before they leave (see ArnChecked).
                    done_ids.moved.fetch_add(1, Ordering::SeqCst);
                    let mut map = done_ids.map();
                    for (arn, seq) in taken {
                        // Unless inserted again meanwhile (a number no commit kept).
                        if map.get(&arn).is_some_and(|&(stored, _)| stored == seq) {
                            map.remove(&arn);
                        }
                    }
                }
                done_ids.writing.store(false, Ordering::Release);
            }),
        );
    }
}
