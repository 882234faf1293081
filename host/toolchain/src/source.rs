//! A handler's sources: a directory, or a Lambda deployment zip (unpacked
//! into the build's work directory, each entry kept inside it).

use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::BuildError;

/// Lambda's limit on a function's unzipped code, also applied while unpacking.
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;

/// Where a handler's sources come from.
#[derive(Debug, Clone)]
pub enum Source {
    Dir(PathBuf),
    Zip(Vec<u8>),
}

impl Source {
    /// A digest of the source files (names and contents, in name order), the
    /// same for a directory and a zip of it.
    pub fn digest(&self) -> Result<String, BuildError> {
        let mut files = self.files()?;
        files.sort();
        let mut h = Sha256::new();
        for (name, bytes) in files {
            h.update((name.len() as u64).to_le_bytes());
            h.update(name.as_bytes());
            h.update((bytes.len() as u64).to_le_bytes());
            h.update(&bytes);
        }
        Ok(hex::encode(h.finalize()))
    }

    /// The sources as a directory under `work`: a copy of the directory (the
    /// builders write bytecode caches beside the sources they read), or the
    /// zip unpacked.
    pub(crate) fn materialize(&self, work: &Path) -> Result<PathBuf, BuildError> {
        let root = work.join("src");
        std::fs::create_dir_all(&root).map_err(|e| BuildError::io("copying the sources", e))?;
        for (name, bytes) in self.files()? {
            let path = root.join(&name);
            let parent = path.parent().unwrap_or(&root);
            std::fs::create_dir_all(parent).map_err(|e| BuildError::io("copying the sources", e))?;
            std::fs::write(&path, bytes).map_err(|e| BuildError::io("copying the sources", e))?;
        }
        Ok(root)
    }

    /// Every file as (relative name with `/`, contents).
    fn files(&self) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
        match self {
            Source::Dir(dir) => {
                let mut files = Vec::new();
                walk(dir, dir, &mut files)?;
                Ok(files)
            }
            Source::Zip(bytes) => unzip(bytes),
        }
    }
}

fn walk(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) -> Result<(), BuildError> {
    let entries = std::fs::read_dir(dir).map_err(|e| BuildError::io(&format!("reading {}", dir.display()), e))?;
    for entry in entries {
        let entry = entry.map_err(|e| BuildError::io(&format!("reading {}", dir.display()), e))?;
        let path = entry.path();
        let kind = entry.file_type().map_err(|e| BuildError::io(&format!("reading {}", path.display()), e))?;
        if kind.is_dir() {
            if entry.file_name() != "__pycache__" {
                walk(root, &path, files)?;
            }
        } else if kind.is_file() {
            let name = path.strip_prefix(root).unwrap_or(&path);
            let name = name.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
            let bytes = std::fs::read(&path).map_err(|e| BuildError::io(&format!("reading {}", path.display()), e))?;
            files.push((name, bytes));
        }
    }
    Ok(())
}

fn unzip(bytes: &[u8]) -> Result<Vec<(String, Vec<u8>)>, BuildError> {
    let bad = |e: &dyn std::fmt::Display| BuildError::Source(format!("Could not unzip uploaded file: {e}"));
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes)).map_err(|e| bad(&e))?;
    let mut files = Vec::new();
    let mut total = 0u64;
    for i in 0..archive.len() {
        let mut entry = archive.by_index(i).map_err(|e| bad(&e))?;
        if entry.is_dir() || entry.name().split('/').any(|part| part == "__pycache__") {
            continue;
        }
        let Some(name) = entry.enclosed_name().filter(|p| p.components().all(|c| matches!(c, Component::Normal(_))))
        else {
            return Err(bad(&format!("entry {:?} leaves the archive", entry.name())));
        };
        let name = name.components().map(|c| c.as_os_str().to_string_lossy()).collect::<Vec<_>>().join("/");
        let mut data = Vec::new();
        let room = MAX_UNZIPPED_BYTES - total;
        (&mut entry).take(room + 1).read_to_end(&mut data).map_err(|e| bad(&e))?;
        total += data.len() as u64;
        if total > MAX_UNZIPPED_BYTES {
            return Err(BuildError::Source(format!(
                "Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes"
            )));
        }
        files.push((name, data));
    }
    Ok(files)
}
