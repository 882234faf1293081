//! Building a handler's component: the toolchain of its runtime's language
//! run over its sources in a temporary work directory, the result kept in a
//! [`BuildCache`].

use std::path::Path;
use std::process::Command;

use crate::{BuildCache, Language, Runtime, Source, Toolchains, cache, js, python};

/// What to build.
#[derive(Debug, Clone, Copy)]
pub struct BuildRequest<'a> {
    pub runtime: Runtime,
    /// Lambda's handler setting: `app.handler` (module `app`, function `handler`).
    pub handler: &'a str,
    pub source: &'a Source,
}

/// Why a build failed.
#[derive(Debug, thiserror::Error)]
pub enum BuildError {
    /// The runtime's toolchain is not installed.
    #[error("the {} runtime needs its toolchain: run `{}`", .runtime.id(), .runtime.language().install_command())]
    ToolchainMissing { runtime: Runtime },
    /// The handler's code cannot be loaded; `error_type` and `message` are
    /// Lambda's for the same failure at init (a syntax error names file and line).
    #[error("{error_type}: {message}")]
    Code { error_type: String, message: String },
    /// The sources cannot be read (a zip that is not one, too large…).
    #[error("{0}")]
    Source(String),
    /// The builder failed otherwise; its output's last lines.
    #[error("the build failed: {0}")]
    Failed(String),
}

impl BuildError {
    pub(crate) fn io(what: &str, e: std::io::Error) -> Self {
        BuildError::Failed(format!("{what}: {e}"))
    }
}

impl Toolchains {
    /// Build `request` into a component, or take it from `cache`.
    pub fn build(&self, request: &BuildRequest<'_>, cache: &BuildCache) -> Result<Vec<u8>, BuildError> {
        let language = request.runtime.language();
        let installed = self.installed(language).ok_or(BuildError::ToolchainMissing { runtime: request.runtime })?;
        let key = cache::key(request, &request.source.digest()?, &installed.version);
        if let Some(wasm) = cache.get(&key) {
            return Ok(wasm);
        }
        // Code that cannot load fails the same way every time: kept too.
        if let Some((error_type, message)) = cache.get_failure(&key) {
            return Err(BuildError::Code { error_type, message });
        }
        let work = tempfile::Builder::new()
            .prefix("stepbox-build-")
            .tempdir()
            .map_err(|e| BuildError::io("creating a build directory", e))?;
        let src = request.source.materialize(work.path())?;
        let build_dir = work.path().join("build");
        std::fs::create_dir_all(&build_dir).map_err(|e| BuildError::io("creating a build directory", e))?;
        let started = std::time::Instant::now();
        let built = match language {
            Language::Python => python::build(&installed.dir, request.handler, &src, &build_dir),
            Language::Js => js::build(&installed.dir, request.handler, &src, &build_dir),
        };
        if let Err(BuildError::Code { error_type, message }) = &built {
            cache.put_failure(&key, error_type, message);
        }
        let wasm = built?;
        tracing::info!(runtime = request.runtime.id(), handler = request.handler, bytes = wasm.len(),
                       elapsed_ms = started.elapsed().as_millis() as u64, "built a component");
        cache.put(&key, &wasm);
        Ok(wasm)
    }
}

/// Run a builder command expected to write `out`; on failure, the reason
/// the adapter gave (its `stepbox-build-error:` line) or the output's tail,
/// with the sources' directory `src` left out of file names.
pub(crate) fn run_builder(cmd: &mut Command, out: &Path, src: &Path) -> Result<Vec<u8>, BuildError> {
    let output = cmd.output().map_err(|e| BuildError::io(&format!("running {}", cmd.get_program().to_string_lossy()), e))?;
    let mut text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&output.stderr));
    if output.status.success() && out.is_file() {
        return std::fs::read(out).map_err(|e| BuildError::io("reading the built component", e));
    }
    let root = format!("{}/", src.display());
    let text = text.replace(&root, "");
    const MARK: &str = "stepbox-build-error: ";
    if let Some(reason) = text.lines().rev().find_map(|l| l.find(MARK).map(|i| l[i + MARK.len()..].trim())) {
        let (error_type, message) = reason.split_once(": ").unwrap_or(("Runtime.ImportModuleError", reason));
        return Err(BuildError::Code { error_type: error_type.to_string(), message: message.to_string() });
    }
    // componentize-py follows a Python traceback with its own backtrace.
    let text = text.split("Stack backtrace:").next().unwrap_or_default();
    Err(BuildError::Failed(tail(text, 20)))
}

/// The last `n` non-empty lines of `text`.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}
