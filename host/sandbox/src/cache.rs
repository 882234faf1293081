//! On-disk cache of precompiled components, content-addressed by the wasm's
//! SHA-256 and the engine's compatibility hash, so a restart or a second
//! registration of the same bytes never compiles again.

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

    fn path_for(&self, sha: &str) -> Option<PathBuf> {
        self.dir.as_ref().map(|d| d.join(format!("{sha}-{}.cwasm", self.fingerprint)))
    }

    /// Load the artifact for `wasm` or compile it (and store the result).
    pub fn load_or_compile(
        &self,
        engine: &Engine,
        wasm: &[u8],
        sha: &str,
    ) -> anyhow::Result<(Component, Origin)> {
        let path = self.path_for(sha);
        if let Some(path) = &path {
            // Read into memory rather than mmap the file: a cache file
            // truncated or rewritten in place by anyone would otherwise fault
            // (SIGBUS) the host on next use.
            if let Ok(bytes) = std::fs::read(path) {
                // SAFETY: the file is written only by `store_atomically` below
                // from `Engine::precompile_component` output for this engine
                // configuration (the fingerprint is in its name); wasmtime
                // still checks its header and refuses incompatible artifacts.
                match unsafe { Component::deserialize(engine, &bytes) } {
                    Ok(c) => return Ok((c, Origin::Cached)),
                    Err(e) => tracing::warn!(
                        path = %path.display(),
                        error = format!("{e:#}"),
                        "discarding unusable cached artifact"
                    ),
                }
            }
        }
        let artifact = engine.precompile_component(wasm)?;
        if let Some(path) = &path {
            store_atomically(path, &artifact)?;
        }
        // SAFETY: `artifact` was just produced by this engine.
        let component = unsafe { Component::deserialize(engine, &artifact) }?;
        Ok((component, Origin::Compiled))
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
