//! Cache of precompiled components, content-addressed by the wasm's SHA-256
//! and the engine's compatibility hash, so a restart or a second
//! registration of the same bytes never compiles again: on disk (a cache
//! directory) and, for a registry that has one, in an [`ArtifactStore`]
//! (a durable server's data directory, which then holds each function's
//! wasm and its artifact together).

use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use sha2::{Digest, Sha256};
use wasmtime::Engine;
use wasmtime::component::Component;

/// Hex SHA-256 of the wasm bytes (also the function's CodeSha256 basis).
pub fn wasm_sha256(wasm: &[u8]) -> String {
    hex::encode(Sha256::digest(wasm))
}

/// A stable hex digest of the engine settings that decide artifact compatibility.
pub fn engine_fingerprint(engine: &Engine) -> String {
    struct ShaHasher(Sha256);
    impl Hasher for ShaHasher {
        fn finish(&self) -> u64 {
            unreachable!("only finalised through the digest")
        }
        fn write(&mut self, bytes: &[u8]) {
            self.0.update(bytes);
        }
    }
    let mut h = ShaHasher(Sha256::new());
    engine.precompile_compatibility_hash().hash(&mut h);
    hex::encode(&h.0.finalize()[..12])
}

/// Somewhere other than the cache directory that keeps artifacts by key
/// ([`artifact_key`]): the server's durable store.
pub trait ArtifactStore: Send + Sync {
    /// The artifact stored under `key`, if any.
    fn load(&self, key: &str) -> Option<Vec<u8>>;
    /// Keeps `artifact` under `key` (best effort: a lost artifact is compiled
    /// again).
    fn save(&self, key: &str, artifact: &[u8]);
}

/// The key of the artifact of the wasm with hex SHA-256 `sha` for an engine
/// with `fingerprint` ([`engine_fingerprint`]).
pub fn artifact_key(sha: &str, fingerprint: &str) -> String {
    format!("{sha}-{fingerprint}")
}

pub struct ArtifactCache {
    dir: Option<PathBuf>,
    fingerprint: String,
}

/// Where a component came from, for logs and the bench.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Origin {
    Compiled,
    Cached,
}

impl ArtifactCache {
    pub fn new(engine: &Engine, dir: Option<&Path>) -> anyhow::Result<Self> {
        if let Some(dir) = dir {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating artifact cache {}", dir.display()))?;
        }
        Ok(ArtifactCache { dir: dir.map(Path::to_path_buf), fingerprint: engine_fingerprint(engine) })
    }

    pub fn fingerprint(&self) -> &str {
        &self.fingerprint
    }

    fn path_for(&self, sha: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{}.cwasm", artifact_key(sha, &self.fingerprint))))
    }

    /// Load the artifact for `wasm` (from `store`, else the cache directory)
    /// or compile it, and keep it where it was missing.
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha: &str,
        store: Option<&dyn ArtifactStore>,
    ) -> anyhow::Result<(Component, Origin)> {
        let key = artifact_key(sha, &self.fingerprint);
        if let Some(c) = store.and_then(|s| s.load(&key)).and_then(|bytes| kept_artifact(engine, &bytes, &key)) {
            return Ok((c, Origin::Cached));
        }
        let path = self.path_for(sha);
        // Read into memory rather than mmap the file: a cache file truncated
        // or rewritten in place by anyone would otherwise fault (SIGBUS) the
        // host on next use.
        if let Some((path, bytes)) = path.as_ref().and_then(|p| Some((p, std::fs::read(p).ok()?)))
            && let Some(c) = kept_artifact(engine, &bytes, &path.display())
        {
            if let Some(store) = store {
                store.save(&key, &bytes);
            }
            return Ok((c, Origin::Cached));
        }
        let artifact = engine.precompile_component(wasm)?;
        if let Some(path) = &path {
            store_atomically(path, &artifact)?;
        }
        if let Some(store) = store {
            store.save(&key, &artifact);
        }
        // SAFETY: `artifact` was just produced by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact) }?;
        Ok((component, Origin::Compiled))
    }
}

/// An artifact kept earlier (in the cache directory or an
/// [`ArtifactStore`]), or None (logged) when this engine cannot use it.
fn kept_artifact(engine: &Engine, bytes: &[u8], from: &dyn std::fmt::Display) -> Option<Component> {
    // SAFETY: both places hold only what `load_or_compile` put there:
    // `Engine::precompile_component` output for this engine configuration
    // (the fingerprint is in the file name and the key); wasmtime still
    // checks the header and refuses incompatible artifacts.
    match unsafe { Component::deserialize(engine, bytes) } {
        Ok(c) => Some(c),
        Err(e) => {
            tracing::warn!(%from, error = format!("{e:#}"), "discarding an unusable kept artifact");
            None
        }
    }
}

fn store_atomically(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let dir = path.parent().context("artifact path has no parent")?;
    let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
    std::io::Write::write_all(&mut tmp, bytes)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path).with_context(|| format!("writing {}", path.display()))?;
    Ok(())
}
