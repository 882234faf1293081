//! Local S3 buckets: `s3://BUCKET/KEY` is the file `DIR/BUCKET/KEY` under
//! the directory given with `--buckets DIR`. A small shared module: the
//! built-in S3 integrations use it, and so may anything else reading
//! objects (a distributed Map's ItemReader).

use std::path::{Component, Path, PathBuf};
use stepbox_engine::{ObjectFailure, ObjectInfo};

/// The bucket directory.
#[derive(Debug, Clone)]
pub struct Buckets {
    root: PathBuf,
}

/// Why an object cannot be read or written, named as S3 names it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ObjectError {
    #[error("The specified bucket does not exist")]
    NoSuchBucket,
    #[error("The specified key does not exist.")]
    NoSuchKey,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Io(String),
}

impl ObjectError {
    /// S3's error code (`NoSuchKey`, …).
    pub fn code(&self) -> &'static str {
        match self {
            ObjectError::NoSuchBucket => "NoSuchBucket",
            ObjectError::NoSuchKey => "NoSuchKey",
            ObjectError::Invalid(_) => "InvalidRequest",
            ObjectError::Io(_) => "InternalError",
        }
    }
}

impl Buckets {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Buckets { root: root.into() }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The file of object `key` in `bucket` (a bucket name, a key of plain
    /// path segments: no `..`, no leading `/`).
    pub fn path(&self, bucket: &str, key: &str) -> Result<PathBuf, ObjectError> {
        let plain = |s: &str| !s.is_empty() && Path::new(s).components().all(|c| matches!(c, Component::Normal(_)));
        if !plain(bucket) || bucket.contains('/') {
            return Err(ObjectError::Invalid(format!("Invalid bucket name '{bucket}'")));
        }
        if !plain(key) {
            return Err(ObjectError::Invalid(format!("Invalid key '{key}': stepbox keeps keys of plain path segments")));
        }
        Ok(self.root.join(bucket).join(key))
    }

    /// The bytes of an object.
    pub async fn get(&self, bucket: &str, key: &str) -> Result<Vec<u8>, ObjectError> {
        let path = self.path(bucket, key)?;
        match tokio::fs::read(&path).await {
            Ok(bytes) => Ok(bytes),
            Err(_) if !self.root.join(bucket).is_dir() => Err(ObjectError::NoSuchBucket),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound || path.is_dir() => Err(ObjectError::NoSuchKey),
            Err(e) => Err(ObjectError::Io(e.to_string())),
        }
    }

    /// Writes an object (the bucket must exist: a directory under the root).
    pub async fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ObjectError> {
        let path = self.path(bucket, key)?;
        if !self.root.join(bucket).is_dir() {
            return Err(ObjectError::NoSuchBucket);
        }
        if let Some(parent) = path.parent() {
            tokio::fs::create_dir_all(parent).await.map_err(|e| ObjectError::Io(e.to_string()))?;
        }
        tokio::fs::write(&path, bytes).await.map_err(|e| ObjectError::Io(e.to_string()))
    }
}

/// What a Map's ItemReader and ResultWriter see of the buckets. Reads and
/// listings are plain file reads (local files, short blocking calls).
impl stepbox_engine::Objects for Buckets {
    fn open(&self, bucket: &str, key: &str) -> Result<Box<dyn std::io::BufRead + Send>, ObjectFailure> {
        let path = self.path(bucket, key).map_err(failure)?;
        match std::fs::File::open(&path) {
            Ok(f) if !path.is_dir() => Ok(Box::new(std::io::BufReader::with_capacity(64 << 10, f))),
            _ if !self.root.join(bucket).is_dir() => Err(failure(ObjectError::NoSuchBucket)),
            Ok(_) => Err(failure(ObjectError::NoSuchKey)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Err(failure(ObjectError::NoSuchKey)),
            Err(e) => Err(failure(ObjectError::Io(e.to_string()))),
        }
    }

    fn list(&self, bucket: &str, prefix: &str) -> Result<Vec<ObjectInfo>, ObjectFailure> {
        self.path(bucket, "k").map_err(failure)?;
        let dir = self.root.join(bucket);
        if !dir.is_dir() {
            return Err(failure(ObjectError::NoSuchBucket));
        }
        let mut found = Vec::new();
        walk(&dir, "", prefix, &mut found).map_err(|e| failure(ObjectError::Io(e.to_string())))?;
        found.sort_by(|a, b| a.key.cmp(&b.key));
        Ok(found)
    }

    /// As [`put_streamed`](Self::put_streamed): a reader never sees half an object.
    fn put(&self, bucket: &str, key: &str, bytes: &[u8]) -> Result<(), ObjectFailure> {
        self.put_streamed(bucket, key, &mut |w| w.write_all(bytes)).map(drop)
    }

    /// Written through a buffer into a file beside the key's, renamed to it
    /// once whole: a reader never sees half an object.
    fn put_streamed(
        &self,
        bucket: &str,
        key: &str,
        body: &mut dyn FnMut(&mut dyn std::io::Write) -> std::io::Result<()>,
    ) -> Result<u64, ObjectFailure> {
        let path = self.path(bucket, key).map_err(failure)?;
        if !self.root.join(bucket).is_dir() {
            return Err(failure(ObjectError::NoSuchBucket));
        }
        let io = |e: std::io::Error| failure(ObjectError::Io(e.to_string()));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        let partial = path.with_file_name(format!(".{}{PARTIAL}", path.file_name().and_then(|n| n.to_str()).unwrap_or("object")));
        let mut out = Counted { inner: std::io::BufWriter::with_capacity(256 << 10, std::fs::File::create(&partial).map_err(io)?), bytes: 0 };
        let written = body(&mut out).and_then(|()| std::io::Write::flush(&mut out));
        if let Err(e) = written {
            let _ = std::fs::remove_file(&partial);
            return Err(io(e));
        }
        drop(out.inner);
        std::fs::rename(&partial, &path).map_err(io)?;
        Ok(out.bytes)
    }
}

/// A writer that counts what goes through it.
struct Counted<W> {
    inner: W,
    bytes: u64,
}

impl<W: std::io::Write> std::io::Write for Counted<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.bytes += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn failure(e: ObjectError) -> ObjectFailure {
    ObjectFailure::new(e.code(), e.to_string())
}

/// The files under `dir` (keys relative to the bucket, `/`-separated)
/// whose keys start with `prefix`.
/// The suffix of the file an object is written into before it is renamed
/// to its key's.
const PARTIAL: &str = ".stepbox-partial";

fn walk(dir: &Path, rel: &str, prefix: &str, out: &mut Vec<ObjectInfo>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        let Some(name) = entry.file_name().to_str().map(str::to_string) else { continue };
        if name.ends_with(PARTIAL) {
            continue; // an object being written
        }
        let key = if rel.is_empty() { name } else { format!("{rel}/{name}") };
        let meta = entry.metadata()?;
        if meta.is_dir() {
            // A directory can hold matching keys if its key and the prefix agree so far.
            let probe = format!("{key}/");
            if probe.starts_with(prefix) || prefix.starts_with(&probe) {
                walk(&entry.path(), &key, prefix, out)?;
            }
        } else if key.starts_with(prefix) {
            let last_modified = meta
                .modified()
                .ok()
                .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                .map_or(0, |d| d.as_secs() as i64);
            out.push(ObjectInfo { etag: etag(&entry.path())?, key, last_modified, size: meta.len() });
        }
    }
    Ok(())
}

/// An object's ETag: the quoted MD5 of its bytes, read in chunks.
fn etag(path: &Path) -> std::io::Result<String> {
    use md5::{Digest, Md5};
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Md5::new();
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    Ok(format!("\"{hex}\""))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn objects_are_files_under_their_bucket() {
        let dir = std::env::temp_dir().join(format!("stepbox-buckets-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("b")).unwrap();
        let buckets = Buckets::new(&dir);
        buckets.put("b", "a/c.json", b"{}").await.unwrap();
        assert_eq!(std::fs::read(dir.join("b/a/c.json")).unwrap(), b"{}");
        assert_eq!(buckets.get("b", "a/c.json").await.unwrap(), b"{}");
        assert_eq!(buckets.get("b", "missing").await, Err(ObjectError::NoSuchKey));
        assert_eq!(buckets.get("nope", "k").await, Err(ObjectError::NoSuchBucket));
        assert_eq!(buckets.put("nope", "k", b"").await, Err(ObjectError::NoSuchBucket));
        assert!(matches!(buckets.get("b", "../b/a/c.json").await, Err(ObjectError::Invalid(_))));
        assert!(matches!(buckets.get("b", "/etc/passwd").await, Err(ObjectError::Invalid(_))));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
