//! Cranelift's incremental compilation cache on disk: the machine code of
//! each compiled function, keyed by the function's IR and the target. A
//! component whose functions were compiled before (in any component) takes
//! them from here instead of compiling them again.
//!
//! Every Python function's component carries the same CPython runtime, and
//! every JavaScript function's the same SpiderMonkey: ~15,000 functions that
//! differ only in the snapshot of memory they start from. With this cache
//! the first upload of each language compiles them once per machine and the
//! next uploads only translate and look them up (host/bench/README.md).
//!
//! Entries are files named by the key's hex digest under two-character
//! directories, written to a temporary file and renamed, so a reader never
//! sees a partial entry. A missing or unreadable entry is compiled again.

use std::borrow::Cow;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use wasmtime::CacheStore;

/// Cranelift's incremental cache in a directory.
#[derive(Debug)]
pub(crate) struct DiskCacheStore {
    dir: PathBuf,
    hits: AtomicU64,
    misses: AtomicU64,
}

/// Functions found in the cache, and compiled for want of an entry, since
/// the sandbox started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CompileCacheStats {
    pub hits: u64,
    pub misses: u64,
}

impl DiskCacheStore {
    pub(crate) fn new(dir: &Path) -> std::io::Result<Self> {
        std::fs::create_dir_all(dir)?;
        Ok(DiskCacheStore { dir: dir.to_path_buf(), hits: AtomicU64::new(0), misses: AtomicU64::new(0) })
    }

    pub(crate) fn stats(&self) -> CompileCacheStats {
        CompileCacheStats { hits: self.hits.load(Ordering::Relaxed), misses: self.misses.load(Ordering::Relaxed) }
    }

    fn path_of(&self, key: &[u8]) -> PathBuf {
        let name = hex::encode(key);
        self.dir.join(&name[..2.min(name.len())]).join(name)
    }
}

impl CacheStore for DiskCacheStore {
    fn get(&self, key: &[u8]) -> Option<Cow<'_, [u8]>> {
        match std::fs::read(self.path_of(key)) {
            Ok(bytes) => {
                self.hits.fetch_add(1, Ordering::Relaxed);
                Some(Cow::Owned(bytes))
            }
            Err(_) => {
                self.misses.fetch_add(1, Ordering::Relaxed);
                None
            }
        }
    }

    fn insert(&self, key: &[u8], value: Vec<u8>) -> bool {
        let path = self.path_of(key);
        let Some(parent) = path.parent() else { return false };
        let written = std::fs::create_dir_all(parent).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(parent)?;
            std::io::Write::write_all(&mut tmp, &value)?;
            tmp.persist(&path).map_err(|e| e.error)?;
            Ok(())
        });
        if let Err(e) = &written {
            tracing::debug!(error = %e, path = %path.display(), "cannot keep a compiled function");
        }
        written.is_ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_entry_is_read_back_and_counted() {
        let dir = tempfile::tempdir().unwrap();
        let store = DiskCacheStore::new(dir.path()).unwrap();
        assert!(store.get(b"\x01\x02").is_none());
        assert!(store.insert(b"\x01\x02", b"code".to_vec()));
        assert_eq!(store.get(b"\x01\x02").as_deref(), Some(&b"code"[..]));
        assert_eq!(store.stats(), CompileCacheStats { hits: 1, misses: 1 });
        // Another process (a restart) finds it.
        let again = DiskCacheStore::new(dir.path()).unwrap();
        assert_eq!(again.get(b"\x01\x02").as_deref(), Some(&b"code"[..]));
    }
}
