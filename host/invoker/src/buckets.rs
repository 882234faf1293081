//! Local S3 buckets: `s3://BUCKET/KEY` is the file `DIR/BUCKET/KEY` under
//! the directory given with `--buckets DIR`. A small shared module: the
//! built-in S3 integrations use it, and so may anything else reading
//! objects (a distributed Map's ItemReader).

use std::path::{Component, Path, PathBuf};

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
