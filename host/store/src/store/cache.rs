//! Records read lately, by ARN (state machines, versions, aliases).

use super::*;

/// What a write of the records under `prefix` (an ARN, or a state machine's
/// `ARN:` for its versions or aliases) runs once durable: drops them from `cache`.
pub(crate) fn written<T: Clone + Send + 'static>(cache: &Arc<RecordCache<T>>, prefix: &str) -> impl FnOnce() + Send + 'static {
    let (cache, prefix) = (cache.clone(), prefix.to_string());
    move || cache.written(&prefix)
}

/// Records read lately, by ARN: every StartExecution and StartSyncExecution
/// reads its state machine's record (and, through a qualified ARN, a
/// version's and an alias's), and a read transaction of its own cost more
/// than the rest of a W5 start's store work (and contends with the writer).
/// Only this process writes the file (redb locks it), and every write of a
/// record drops its entry once durable, after which a read finds the new
/// record; a read that began before such a write may not fill the cache
/// (the generation it saw has moved on), so no stale record is kept.
///
/// On a database other hosts write too (a shared backend), a write of
/// another host drops nothing here, so the cache is off ([`RecordCache::off`]).
pub(crate) struct RecordCache<T> {
    entries: Mutex<(u64, std::collections::HashMap<String, T>)>,
    off: bool,
}

impl<T> Default for RecordCache<T> {
    fn default() -> Self {
        RecordCache { entries: Mutex::default(), off: false }
    }
}

impl<T> RecordCache<T> {
    /// A cache; one that keeps nothing (every read reads the store) when `off`.
    pub(crate) fn new(off: bool) -> Self {
        RecordCache { entries: Mutex::default(), off }
    }
}

impl<T: Clone> RecordCache<T> {
    /// Most records kept; past it the cache starts over.
    const CAPACITY: usize = 4096;

    fn lock(&self) -> std::sync::MutexGuard<'_, (u64, std::collections::HashMap<String, T>)> {
        self.entries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The cached record, or the generation a read made now may fill under.
    pub(crate) fn get(&self, arn: &str) -> Result<T, u64> {
        let entries = self.lock();
        entries.1.get(arn).cloned().ok_or(entries.0)
    }

    pub(crate) fn fill(&self, generation: u64, arn: &str, record: &T) {
        if self.off {
            return;
        }
        let mut entries = self.lock();
        if entries.0 != generation {
            return;
        }
        if entries.1.len() >= Self::CAPACITY {
            entries.1.clear();
        }
        entries.1.insert(arn.to_string(), record.clone());
    }

    /// After a write of the records whose ARNs start with `prefix` is
    /// durable (or failed). Records whose ARN merely extends a written one
    /// (`sm2` after a write of `sm`) go too, which costs only a read.
    pub(crate) fn written(&self, prefix: &str) {
        let mut entries = self.lock();
        entries.0 += 1;
        entries.1.retain(|arn, _| !arn.starts_with(prefix));
    }
}
