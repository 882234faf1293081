//! Builds every guest crate of the guest workspace (`examples/Cargo.toml`:
//! `examples/tasks/*` and `tests/guests/*`) for `wasm32-wasip2`, in the
//! pattern of wasmtime's test-programs, and generates one constant per
//! component with the path of its `.wasm` file. The crates in [`LEAN`] are
//! also built lean (guest-sdk/README.md): for `wasm32-unknown-unknown`, wrapped
//! into a component here, as `NAME_lean`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Guest crates also built lean: the benchmarks' task, and the hostile guest
/// that proves a lean build is contained like any other.
const LEAN: &[&str] = &["processed", "hostile"];

fn main() {
    let manifest_dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap());
    let root = manifest_dir.parent().unwrap().parent().unwrap().to_path_buf();
    let guest_workspace = root.join("examples");
    let out_dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap());
    let target_dir = out_dir.join("guests");

    for dir in ["examples/Cargo.toml", "examples/tasks", "tests/guests", "guest-sdk", "wit"] {
        println!("cargo:rerun-if-changed={}", root.join(dir).display());
    }
    // Directory-level rerun-if-changed only watches the directory entry itself;
    // watch every file of the guest sources.
    for dir in ["examples/tasks", "tests/guests", "guest-sdk"] {
        watch_sources(&root.join(dir));
    }

    build_guests(&guest_workspace, &target_dir, "wasm32-wasip2", &["--workspace"]);
    let lean_crates: Vec<String> = LEAN.iter().flat_map(|name| ["-p".to_string(), name.to_string()]).collect();
    build_guests(&guest_workspace, &target_dir, "wasm32-unknown-unknown", &lean_crates);

    let wasm_dir = target_dir.join("wasm32-wasip2").join("release");
    let mut components: Vec<(String, PathBuf)> = std::fs::read_dir(&wasm_dir)
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|e| e == "wasm"))
        .map(|p| (p.file_stem().unwrap().to_string_lossy().into_owned(), p))
        .collect();
    let lean_dir = target_dir.join("lean");
    std::fs::create_dir_all(&lean_dir).unwrap();
    for name in LEAN {
        let name = name.replace('-', "_");
        let module_path = target_dir.join("wasm32-unknown-unknown").join("release").join(format!("{name}.wasm"));
        let module = std::fs::read(&module_path).unwrap();
        let component = wit_component::ComponentEncoder::default()
            .module(&module)
            .and_then(|encoder| encoder.validate(true).encode())
            .unwrap_or_else(|e| panic!("wrapping {} as a component: {e:#}", module_path.display()));
        let path = lean_dir.join(format!("{name}_lean.wasm"));
        std::fs::write(&path, component).unwrap();
        components.push((format!("{name}_lean"), path));
    }
    components.sort();

    let mut generated = String::new();
    generated.push_str("/// Every built component: (crate name with `_`, path of its `.wasm`).\n");
    generated.push_str("pub const ALL: &[(&str, &str)] = &[\n");
    for (name, path) in &components {
        generated.push_str(&format!("    ({name:?}, {:?}),\n", path.display().to_string()));
    }
    generated.push_str("];\n");
    for (name, path) in &components {
        generated.push_str(&format!(
            "/// `{name}.wasm`\npub const {}: &str = {:?};\n",
            name.to_uppercase(),
            path.display().to_string()
        ));
    }
    std::fs::write(out_dir.join("components.rs"), generated).unwrap();
}

/// `cargo build --release --target TARGET ARGS…` in the guest workspace.
fn build_guests(guest_workspace: &Path, target_dir: &Path, target: &str, args: &[impl AsRef<std::ffi::OsStr>]) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(guest_workspace)
        .args(["build", "--release", "--target", target])
        .args(args)
        .arg("--target-dir")
        .arg(target_dir)
        // Do not leak the outer build's settings into the guest build.
        .env_remove("RUSTFLAGS")
        .env_remove("CARGO_ENCODED_RUSTFLAGS")
        .env_remove("CARGO_BUILD_RUSTFLAGS")
        .env_remove("CARGO_TARGET_DIR")
        .env_remove("CARGO_MAKEFLAGS")
        .env_remove("CARGO_PROFILE_RELEASE_DEBUG");
    let status = cmd.status().expect("running cargo for the guest components");
    if !status.success() {
        panic!(
            "building the guest components for {target} failed; is the target installed? \
             (`rustup target add {target}`)"
        );
    }
}

fn watch_sources(dir: &Path) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        let name = entry.file_name();
        if name == "target" {
            continue;
        }
        if path.is_dir() {
            watch_sources(&path);
        } else {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}
