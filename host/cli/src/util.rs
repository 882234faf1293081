//! Small helpers shared by subcommands.

use std::path::PathBuf;

use anyhow::Context as _;

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
