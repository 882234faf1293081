//! JavaScript: an npm prefix with componentize-js and rolldown; a handler's
//! component is componentize-js's build of a generated entry module that
//! imports the user's module and guest-sdk/js/stepbox_lambda.mjs, bundled
//! with the user's sources (and their node_modules) by rolldown.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::builder::{BuildError, run_builder};
use crate::install::{InstallError, apt_install, run, version_of, which};

/// What this build of stepbox installs and builds with.
pub(crate) const VERSION: &str = "componentize-js 0.23.0, rolldown 1.3.4";
const PACKAGES: [&str; 2] = ["@bytecodealliance/componentize-js@0.23.0", "rolldown@1.3.4"];

/// guest-sdk/js's adapter, written next to the sources of each build.
pub(crate) const ADAPTER: &str = include_str!("../../../guest-sdk/js/stepbox_lambda.mjs");

/// The host's component world has no HTTP: leave out componentize-js's
/// fetch and incoming-handler imports.
const DISABLED_FEATURES: [&str; 2] = ["http", "fetch-event"];

/// The world a handler's component is built for: the task world, and
/// WASI's environment, which the adapter reads at each invocation for
/// `process.env` and the context (the engine imports it anyway; the
/// pre-initialized snapshot holds the build's environment, not the function's).
pub(crate) const JS_WORLD: &str = "package stepbox:lambda-js;\n\n\
    world task-js {\n    include stepbox:task/task@0.2.0;\n    import wasi:cli/environment@0.2.10;\n}\n";
const ENVIRONMENT_IMPORT: &str = "wasi:cli/environment@0.2.10";
const WASI_ENVIRONMENT: &str = "package wasi:cli@0.2.10;\n\n\
    interface environment {\n    get-environment: func() -> list<tuple<string, string>>;\n\
    get-arguments: func() -> list<string>;\n    initial-cwd: func() -> option<string>;\n}\n";

/// The oldest Node major componentize-js runs on.
const MIN_NODE_MAJOR: u32 = 18;

fn bin(dir: &Path, name: &str) -> PathBuf {
    dir.join("node_modules").join(".bin").join(name)
}

/// The Node the toolchain runs on: recorded at install.
fn node_file(dir: &Path) -> PathBuf {
    dir.join("node-path.txt")
}

fn node_major(version: &str) -> Option<u32> {
    version.trim().trim_start_matches('v').split('.').next()?.parse().ok()
}

/// Node and npm (Debian's when the machine has none, or too old a Node), then
/// componentize-js and rolldown from the npm registry into the prefix `dir`.
pub(crate) fn install(dir: &Path, log: &mut dyn Write) -> Result<Vec<String>, InstallError> {
    let mut parts = Vec::new();
    let usable = |p: &Path| version_of(p, &["--version"]).and_then(|v| node_major(&v)).is_some_and(|m| m >= MIN_NODE_MAJOR);
    let node = match which("node").filter(|p| usable(p)) {
        Some(node) => node,
        None => {
            apt_install(&["nodejs", "npm"], log)?;
            let node = which("node").filter(|p| usable(p)).ok_or_else(|| {
                InstallError::Missing(format!("Node.js {MIN_NODE_MAJOR} or newer not found after apt-get"))
            })?;
            parts.push(format!("Node.js {} (Debian)", version_of(&node, &["--version"]).unwrap_or_default()));
            node
        }
    };
    if which("npm").is_none() {
        apt_install(&["npm"], log)?;
    }
    let npm = which("npm").ok_or_else(|| InstallError::Missing("npm not found after apt-get".into()))?;
    run(
        Command::new(&npm)
            .args(["install", "--no-audit", "--no-fund", "--loglevel=error", "--prefix"])
            .arg(dir)
            .args(PACKAGES),
        log,
    )?;
    std::fs::write(node_file(dir), node.to_string_lossy().as_bytes())
        .map_err(|e| crate::install::io("recording the Node path".into(), e))?;
    let node_version = version_of(&node, &["--version"]).unwrap_or_default();
    parts.push(format!("{} (npm) at {}, run by Node.js {node_version} ({})", PACKAGES.join(" "), dir.display(), node.display()));
    Ok(parts)
}

/// The module file of `module` (`index` -> index.js, index.mjs or index.cjs,
/// in Lambda's order).
fn module_file(src: &Path, module: &str) -> Option<PathBuf> {
    ["js", "mjs", "cjs"].iter().map(|ext| src.join(format!("{module}.{ext}"))).find(|p| p.is_file())
}

/// Build the component of `handler` (`module.export`) from the sources in
/// `src`, working in `work`.
pub(crate) fn build(toolchain: &Path, handler: &str, src: &Path, work: &Path) -> Result<Vec<u8>, BuildError> {
    let (module, export) = handler
        .rsplit_once('.')
        .filter(|(m, e)| !m.is_empty() && !e.is_empty())
        .ok_or_else(|| BuildError::Code {
            error_type: "Runtime.MalformedHandlerName".into(),
            message: format!("Bad handler {handler}: expected MODULE.EXPORT"),
        })?;
    let src = src.canonicalize().map_err(|e| BuildError::io("reading the sources", e))?;
    let file = module_file(&src, module).ok_or_else(|| BuildError::Code {
        error_type: "Runtime.ImportModuleError".into(),
        message: format!("Error: Cannot find module '{module}'"),
    })?;
    let wit = work.join("wit");
    for dir in ["deps/task", "deps/cli"] {
        std::fs::create_dir_all(wit.join(dir)).map_err(|e| BuildError::io("preparing the build", e))?;
    }
    let entry = work.join("entry.mjs");
    let text = format!(
        "import * as user from {};\nimport {{ makeHandle }} from './stepbox_lambda.mjs';\n\
         export const handle = makeHandle(user, {}, {});\n",
        js_string(&file.to_string_lossy()),
        js_string(export),
        js_string(&src.to_string_lossy()),
    );
    let files = [
        (entry.clone(), text.as_str()),
        (work.join("stepbox_lambda.mjs"), ADAPTER),
        (wit.join("world.wit"), JS_WORLD),
        (wit.join("deps/task/task.wit"), crate::TASK_WIT),
        (wit.join("deps/cli/environment.wit"), WASI_ENVIRONMENT),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| BuildError::io("preparing the build", e))?;
    }
    let node = std::fs::read_to_string(node_file(toolchain)).map(PathBuf::from).unwrap_or_else(|_| "node".into());
    let bundle = work.join("bundle.mjs");
    let mut rolldown = Command::new(&node);
    rolldown
        .current_dir(work)
        .arg(bin(toolchain, "rolldown"))
        .arg(&entry)
        .args(["--format", "esm", "--platform", "neutral", "--external", "stepbox:task/host@0.2.0"])
        .args(["--external", ENVIRONMENT_IMPORT, "--file"])
        .arg(&bundle);
    run_builder(&mut rolldown, &bundle, &src)?;
    let out = work.join("component.wasm");
    let mut cmd = Command::new(&node);
    cmd.current_dir(work)
        .arg(bin(toolchain, "componentize-js"))
        .arg(&bundle)
        .arg("--wit")
        .arg(&wit)
        .args(["-n", "task-js"]);
    for feature in DISABLED_FEATURES {
        cmd.args(["-d", feature]);
    }
    cmd.arg("-o").arg(&out);
    run_builder(&mut cmd, &out, &src)
}

/// A JavaScript string literal of `s`.
fn js_string(s: &str) -> String {
    let mut out = String::from("'");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\'' => out.push_str("\\'"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}
