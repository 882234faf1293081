//! Built components kept by what decides them: the language, the handler, a
//! digest of the sources, the toolchain's version and the adapter (so a new
//! adapter or toolchain builds again). The engine's precompiled artifact of a
//! component is the sandbox's own cache, keyed by the component's bytes.

use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::{BuildRequest, Runtime};

/// A directory of built components (`KEY.wasm`); `None` keeps nothing.
#[derive(Debug, Clone)]
pub struct BuildCache {
    dir: Option<PathBuf>,
}

impl BuildCache {
    pub fn new(dir: Option<&Path>) -> Self {
        BuildCache { dir: dir.map(Path::to_path_buf) }
    }

    /// The component kept under `key`, if any.
    pub fn get(&self, key: &str) -> Option<Vec<u8>> {
        std::fs::read(self.dir.as_ref()?.join(format!("{key}.wasm"))).ok()
    }

    /// Keep `wasm` under `key` (best effort: a lost entry is built again).
    pub fn put(&self, key: &str, wasm: &[u8]) {
        self.keep(&format!("{key}.wasm"), wasm);
    }

    /// The load failure (Lambda's error type and message) kept under `key`.
    pub fn get_failure(&self, key: &str) -> Option<(String, String)> {
        let text = std::fs::read_to_string(self.dir.as_ref()?.join(format!("{key}.failed"))).ok()?;
        let (error_type, message) = text.split_once('\n')?;
        Some((error_type.to_string(), message.to_string()))
    }

    /// Keep a build's load failure under `key`.
    pub fn put_failure(&self, key: &str, error_type: &str, message: &str) {
        self.keep(&format!("{key}.failed"), format!("{error_type}\n{message}").as_bytes());
    }

    fn keep(&self, file: &str, bytes: &[u8]) {
        let Some(dir) = &self.dir else { return };
        let result = std::fs::create_dir_all(dir).and_then(|()| {
            let mut tmp = tempfile::NamedTempFile::new_in(dir)?;
            std::io::Write::write_all(&mut tmp, bytes)?;
            tmp.persist(dir.join(file)).map(drop).map_err(|e| e.error)
        });
        if let Err(e) = result {
            tracing::warn!(file, error = %e, "could not keep a build's result");
        }
    }
}

/// The cache key of a build of `request` whose sources have digest
/// `source_digest` with toolchain `version`.
pub(crate) fn key(request: &BuildRequest<'_>, source_digest: &str, version: &str) -> String {
    let mut h = Sha256::new();
    for part in [
        "stepbox-build-1",
        // nodejs20.x and nodejs22.x build the same component.
        request.runtime.language().name(),
        request.handler,
        source_digest,
        version,
        adapter_digest(request.runtime).as_str(),
    ] {
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    hex::encode(&h.finalize()[..20])
}

/// What of stepbox goes into a component besides the user's sources.
fn adapter_digest(runtime: Runtime) -> String {
    let mut h = Sha256::new();
    h.update(crate::TASK_WIT);
    match runtime.language() {
        crate::Language::Python => h.update(crate::python::ADAPTER),
        crate::Language::Js => {
            h.update(crate::js::ADAPTER);
            h.update(crate::js::JS_WORLD);
        }
    }
    hex::encode(h.finalize())
}
