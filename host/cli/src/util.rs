//! Small helpers shared by subcommands.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use stepbox_sandbox::{ArtifactStore, Limits, Registry, Sandbox, SandboxConfig};

/// `JSON` literally, or `@FILE` to read it from a file (`@-`: stdin).
pub fn read_json_arg(arg: &str) -> anyhow::Result<serde_json::Value> {
    let text = match arg.strip_prefix('@') {
        Some("-") => std::io::read_to_string(std::io::stdin()).context("reading stdin")?,
        Some(path) => std::fs::read_to_string(path).with_context(|| format!("reading {path}"))?,
        None => arg.to_string(),
    };
    serde_json::from_str(&text).with_context(|| format!("input is not valid JSON: {}", abbreviate(&text)))
}

fn abbreviate(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if s.len() < text.len() {
        s.push('…');
    }
    s
}

/// The default directory for precompiled artifacts: `$STEPBOX_CACHE_DIR`,
/// else `$XDG_CACHE_HOME/stepbox`, else `~/.cache/stepbox`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("STEPBOX_CACHE_DIR") {
        return Some(dir.into());
    }
    if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        return Some(PathBuf::from(dir).join("stepbox"));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache").join("stepbox"))
}

/// The sandbox configuration of a command: artifacts cached under `cache_dir`
/// (else [`default_cache_dir`]), `/artifacts`, and compiled functions
/// (Cranelift's incremental cache) under `/compiled`.
pub fn sandbox_config(cache_dir: Option<PathBuf>) -> SandboxConfig {
    let base = cache_dir.or_else(default_cache_dir);
    SandboxConfig {
        cache_dir: base.as_ref().map(|d| d.join("artifacts")),
        compile_cache_dir: base.as_ref().map(|d| d.join("compiled")),
        ..SandboxConfig::default()
    }
}

/// A function registry with every `NAME.wasm` of `functions` registered as
/// NAME; `warm_instances` as [`SandboxConfig::warm_instances`]; artifacts
/// also kept in `artifacts` (a durable server's store), when given.
pub fn registry(
    cache_dir: Option<PathBuf>,
    functions: Option<&Path>,
    limits: &Limits,
    warm_instances: bool,
    artifacts: Option<Arc<dyn ArtifactStore>>,
) -> anyhow::Result<Registry> {
    // Default limits with a fuel budget (`serve --fuel`): every function counts, so the engine does.
    let fuel = limits.fuel.is_some();
    let registry = Registry::new(Sandbox::new(SandboxConfig { warm_instances, fuel, ..sandbox_config(cache_dir) })?);
    if let Some(artifacts) = artifacts {
        registry.keep_artifacts_in(artifacts);
    }
    if let Some(dir) = functions {
        let names = registry
            .register_dir(dir, limits)
            .with_context(|| format!("loading functions from {}", dir.display()))?;
        tracing::info!(functions = ?names, "registered functions");
    }
    Ok(registry)
}
