//! Python: a venv with componentize-py; a handler's component is
//! componentize-py's build of guest-sdk/python/stepbox_lambda.py with the
//! user's sources on the Python path.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::builder::{BuildError, run_builder};
use crate::install::{InstallError, apt_install, run, version_of, which};

/// The componentize-py this build of stepbox installs and builds with.
pub(crate) const VERSION: &str = "componentize-py 0.25.1";
const REQUIREMENT: &str = "componentize-py==0.25.1";

/// guest-sdk/python's adapter, written next to the sources of each build.
pub(crate) const ADAPTER: &str = include_str!("../../../guest-sdk/python/stepbox_lambda.py");

fn builder(dir: &Path) -> PathBuf {
    dir.join("bin").join("componentize-py")
}

/// A venv in `dir` with componentize-py from PyPI (Python 3 and its venv
/// module from Debian when missing).
pub(crate) fn install(dir: &Path, log: &mut dyn Write) -> Result<Vec<String>, InstallError> {
    let python = match which("python3") {
        Some(p) => p,
        None => {
            apt_install(&["python3", "python3-venv"], log)?;
            which("python3").ok_or_else(|| InstallError::Missing("python3 still not found after apt-get".into()))?
        }
    };
    let venv = || {
        let mut cmd = Command::new(&python);
        cmd.args(["-m", "venv"]).arg(dir);
        cmd
    };
    if run(&mut venv(), log).is_err() {
        // Debian's python3 keeps venv's ensurepip in python3-venv.
        apt_install(&["python3-venv"], log)?;
        run(&mut venv(), log)?;
    }
    let pip = dir.join("bin").join("pip");
    run(Command::new(&pip).args(["install", "--disable-pip-version-check", "-q", REQUIREMENT]), log)?;
    let python_version = version_of(&python, &["--version"]).unwrap_or_else(|| "Python".into());
    let installed = version_of(&builder(dir), &["--version"])
        .ok_or_else(|| InstallError::Missing(format!("{} does not run", builder(dir).display())))?;
    Ok(vec![format!("{installed} (PyPI) in a venv of {python_version} at {}", dir.display())])
}

/// Build the component of `handler` (`module.function`) from the sources in
/// `src`, working in `work`.
pub(crate) fn build(toolchain: &Path, handler: &str, src: &Path, work: &Path) -> Result<Vec<u8>, BuildError> {
    let gen_dir = work.join("adapter");
    let wit = work.join("wit");
    for dir in [&gen_dir, &wit] {
        std::fs::create_dir_all(dir).map_err(|e| BuildError::io("preparing the build", e))?;
    }
    let src = src.canonicalize().map_err(|e| BuildError::io("reading the sources", e))?;
    // componentize-py mounts the Python path's directories at /0, /1…:
    // the adapter's at /0, the sources at /1.
    let config = format!("HANDLER = {}\nSOURCE_ROOT = \"/1\"\n", py_string(handler));
    let files = [
        (gen_dir.join("_stepbox_handler.py"), config.as_str()),
        (gen_dir.join("stepbox_lambda.py"), ADAPTER),
        (wit.join("task.wit"), crate::TASK_WIT),
    ];
    for (path, text) in files {
        std::fs::write(&path, text).map_err(|e| BuildError::io("preparing the build", e))?;
    }
    let out = work.join("component.wasm");
    let mut cmd = Command::new(builder(toolchain));
    cmd.current_dir(work)
        .env_remove("VIRTUAL_ENV")
        .env_remove("PYTHONPATH")
        .env_remove("PYTHONHOME")
        .arg("-d")
        .arg(&wit)
        .args(["-w", "task", "componentize", "-p"])
        .arg(&gen_dir)
        .arg("-p")
        .arg(&src)
        .arg("stepbox_lambda")
        .arg("-o")
        .arg(&out);
    run_builder(&mut cmd, &out, &src)
}

/// A Python string literal of `s`.
fn py_string(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\x{:02x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
