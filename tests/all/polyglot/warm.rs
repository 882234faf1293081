//! `stepbox toolchain install` warms the compilation cache with an echo
//! handler, so that a machine's first upload of a language takes the
//! runtime's compiled functions (CPython's here) from the cache instead of
//! compiling them all; a second install finds the cache warm.

use std::process::ExitCode;

use stepbox_sandbox::{Sandbox, SandboxConfig};
use stepbox_tests::stepbox;
use stepbox_toolchain::{Runtime, Source};

use super::{build, fixture, toolchains};

#[test]
fn installing_a_toolchain_warms_the_compilation_cache_once() {
    toolchains();
    let cache = tempfile::tempdir().unwrap();
    let dir = cache.path().to_str().unwrap();
    let (code, out, err) = stepbox(&["toolchain", "install", "python", "--cache-dir", dir]);
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    assert!(out.contains("compilation cache: warmed in"), "{out}");
    assert!(err.contains("python: warming the compilation cache under"), "{err}");
    let marker = std::fs::read_to_string(cache.path().join("compiled/.warmed-python")).unwrap();
    assert!(marker.starts_with("componentize-py "), "{marker}");

    // A first upload of another handler: CPython's functions come from the cache.
    let compiled = cache.path().join("compiled");
    let sandbox = Sandbox::new(SandboxConfig { compile_cache_dir: Some(compiled), ..SandboxConfig::default() }).unwrap();
    let wasm = build(Runtime::Python312, "app.handler", &Source::Dir(fixture("python"))).unwrap();
    sandbox.compile(&wasm).unwrap();
    let stats = sandbox.compile_cache_stats();
    assert!(stats.hits > 10 * stats.misses, "{stats:?}");

    let (code, out, err) = stepbox(&["toolchain", "install", "python", "--cache-dir", dir]);
    assert_eq!(code, ExitCode::SUCCESS, "{err}");
    assert!(out.contains("compilation cache: already warm"), "{out}");
    assert!(!err.contains("warming"), "{err}");
}
