//! The code CreateFunction and UpdateFunctionCode receive: a component, bare
//! or as the one `.wasm` entry of a zip archive, bounded as Lambda bounds a
//! package before any of it is inflated.

use std::io::Read as _;

/// Lambda's limit on a package's unzipped size (250 MB).
pub const MAX_UNZIPPED_BYTES: u64 = 262_144_000;
/// The most an entry may inflate per compressed byte (a component of code
/// and data compresses a few times; a zip bomb a thousand times).
pub const MAX_COMPRESSION_RATIO: u64 = 100;

/// The component inside `Code.ZipFile`: the bytes themselves when they are a
/// WebAssembly binary, or the single `.wasm` entry of a zip archive. The
/// archive's declared sizes are checked before anything is inflated, and the
/// entry is inflated no further than it declared.
pub fn extract_wasm(data: &[u8]) -> Result<Vec<u8>, String> {
    if data.starts_with(b"\0asm") {
        return Ok(data.to_vec());
    }
    if !data.starts_with(b"PK") {
        return Err("Code.ZipFile is neither a WebAssembly component nor a zip archive".into());
    }
    let mut archive =
        zip::ZipArchive::new(std::io::Cursor::new(data)).map_err(|e| format!("Code.ZipFile is not a valid zip archive: {e}"))?;
    check_unzipped_size(&mut archive)?;
    let wasm: Vec<String> = archive
        .file_names()
        .filter(|n| !n.ends_with('/') && n.to_ascii_lowercase().ends_with(".wasm"))
        .map(str::to_string)
        .collect();
    match wasm.as_slice() {
        [one] => inflate(&mut archive, one),
        [] => Err("the zip archive in Code.ZipFile contains no .wasm file".into()),
        many => Err(format!("the zip archive in Code.ZipFile must contain exactly one .wasm file, found {}: {}", many.len(), many.join(", "))),
    }
}

fn too_large() -> String {
    format!("Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
}

/// What every entry declares it inflates to, together, within Lambda's limit.
fn check_unzipped_size(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>) -> Result<(), String> {
    let mut total: u64 = 0;
    for i in 0..archive.len() {
        let entry = archive.by_index_raw(i).map_err(|e| format!("Code.ZipFile is not a valid zip archive: {e}"))?;
        total = total.saturating_add(entry.size());
        if total >= MAX_UNZIPPED_BYTES {
            return Err(too_large());
        }
    }
    Ok(())
}

/// Inflate entry `name`, refusing one whose declared ratio is a bomb's and
/// stopping at one byte past its declared size (an archive that lies).
fn inflate(archive: &mut zip::ZipArchive<std::io::Cursor<&[u8]>>, name: &str) -> Result<Vec<u8>, String> {
    let file = archive.by_name(name).map_err(|e| format!("reading {name} from the zip archive: {e}"))?;
    let declared = file.size();
    if declared > file.compressed_size().max(1).saturating_mul(MAX_COMPRESSION_RATIO) {
        return Err(format!(
            "{name} in Code.ZipFile inflates more than {MAX_COMPRESSION_RATIO} times ({} bytes to {declared}): refused as a zip bomb",
            file.compressed_size()
        ));
    }
    let mut bytes = Vec::with_capacity(declared.min(64 << 20) as usize);
    file.take(declared + 1).read_to_end(&mut bytes).map_err(|e| format!("reading {name} from the zip archive: {e}"))?;
    if bytes.len() as u64 != declared {
        return Err(format!("{name} in Code.ZipFile inflates to more than the {declared} bytes its header declares"));
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write as _;

    fn zip_of(name: &str, content: &[u8]) -> Vec<u8> {
        let mut out = std::io::Cursor::new(Vec::new());
        let mut w = zip::ZipWriter::new(&mut out);
        let opts = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
        w.start_file(name, opts).unwrap();
        w.write_all(content).unwrap();
        w.finish().unwrap();
        out.into_inner()
    }

    #[test]
    fn an_entry_inflating_far_more_than_its_size_is_refused_before_inflating() {
        let bomb = zip_of("f.wasm", &vec![0u8; 8 << 20]);
        assert!(bomb.len() < 64 << 10, "{}", bomb.len());
        let err = extract_wasm(&bomb).unwrap_err();
        assert!(err.contains("zip bomb"), "{err}");
    }

    #[test]
    fn a_modest_entry_inflates() {
        let wasm: Vec<u8> = b"\0asm".iter().copied().chain((0..50_000u32).map(|i| (i * 7919 % 251) as u8)).collect();
        assert_eq!(extract_wasm(&zip_of("f.wasm", &wasm)).unwrap(), wasm);
    }
}
