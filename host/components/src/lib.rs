//! Paths of the example and test guest components, built from source by this
//! crate's `build.rs` for `wasm32-wasip2`. Constants are named after the
//! crate (`ECHO`, `HOSTILE_LOOP`, …); [`ALL`] lists them all.

include!(concat!(env!("OUT_DIR"), "/components.rs"));

/// Read a component's bytes by crate name (`"echo"`, `"hostile_loop"`, …).
pub fn bytes(name: &str) -> std::io::Result<Vec<u8>> {
    let path = ALL
        .iter()
        .find(|(n, _)| *n == name)
        .map(|(_, p)| *p)
        .ok_or_else(|| std::io::Error::new(std::io::ErrorKind::NotFound, format!("no guest component `{name}`")))?;
    std::fs::read(path)
}

/// Copy every component into `dir` as `NAME.wasm` (crate names with `-`),
/// the layout `stepbox run --functions DIR` reads.
pub fn export_to(dir: &std::path::Path) -> std::io::Result<Vec<String>> {
    std::fs::create_dir_all(dir)?;
    let mut names = Vec::new();
    for (name, path) in ALL {
        let function = name.replace('_', "-");
        std::fs::copy(path, dir.join(format!("{function}.wasm")))?;
        names.push(function);
    }
    Ok(names)
}
