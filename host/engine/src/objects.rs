//! Objects a Map state reads items from (ItemReader) and writes results to
//! (ResultWriter): S3 as the engine sees it. The server and the CLI supply
//! the local bucket directory (`--buckets`); without one such Maps fail.

use std::io::BufRead;

/// Why an object cannot be read, listed or written, as S3 names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ObjectFailure {
    /// S3's error code: `NoSuchKey`, `NoSuchBucket`, …
    pub code: String,
    pub message: String,
}

impl ObjectFailure {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        ObjectFailure { code: code.into(), message: message.into() }
    }
}

/// One object of a listing (ListObjectsV2's `Contents` entry).
#[derive(Debug, Clone, PartialEq)]
pub struct ObjectInfo {
    pub key: String,
    /// Quoted, as S3 gives it.
    pub etag: String,
    /// Seconds since the epoch.
    pub last_modified: i64,
    pub size: u64,
}

/// A bucket store. Reads are streams: an object is never read whole.
pub trait Objects: Send + Sync {
    /// Opens an object for reading.
    fn open(&self, bucket: &str, key: &str) -> Result<Box<dyn BufRead + Send>, ObjectFailure>;
    /// The objects whose keys start with `prefix`, in key order.
    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectFailure>;
    /// Writes an object (the bucket must exist).
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ObjectFailure>;
    /// Writes an object that `body` writes out a piece at a time; answers
    /// its size. A store that can should not hold it whole (a map run's
    /// result files); by default it is gathered and [`put`](Self::put).
    fn put_streamed(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<u64, ObjectFailure> {
        let mut bytes = Vec::new();
        body(&mut bytes).map_err(|e| ObjectFailure::new("InternalError", e.to_string()))?;
        self.put(bucket, key, &bytes)?;
        Ok(bytes.len() as u64)
    }
}
