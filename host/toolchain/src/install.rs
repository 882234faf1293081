//! Installing the builders: a venv with componentize-py, an npm prefix with
//! componentize-js (Node and npm from Debian when the machine has none).
//! Each lands in its own directory under the toolchains root and is marked
//! installed (`installed.txt`, written last) only once complete, so an
//! interrupted install is redone and a complete one is not.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{Language, Toolchains, js, python};

/// An installed toolchain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Installed {
    pub language: Language,
    /// What decides the components it builds, e.g. `componentize-py 0.25.1`.
    pub version: String,
    pub dir: PathBuf,
    /// What was installed, one line each (printed by `stepbox toolchain install`).
    pub parts: Vec<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum InstallError {
    #[error("{0}")]
    Missing(String),
    #[error("`{command}` failed ({status}):\n{output}")]
    Command { command: String, status: String, output: String },
    #[error("{what}: {source}")]
    Io { what: String, source: std::io::Error },
}

const MARKER: &str = "installed.txt";

impl Toolchains {
    /// The toolchain of `language`, when it is installed at the version this
    /// build of stepbox uses.
    pub fn installed(&self, language: Language) -> Option<Installed> {
        let dir = self.dir(language);
        let text = std::fs::read_to_string(dir.join(MARKER)).ok()?;
        let mut lines = text.lines();
        let version = lines.next()?.to_string();
        if version != expected_version(language) {
            return None;
        }
        let parts = lines.map(str::to_string).collect();
        Some(Installed { language, version, dir, parts })
    }

    /// Install the toolchain of `language` unless it is installed already;
    /// progress goes to `log`. Returns what is installed and whether it was
    /// installed now.
    pub fn install(&self, language: Language, log: &mut dyn Write) -> Result<(Installed, bool), InstallError> {
        if let Some(installed) = self.installed(language) {
            return Ok((installed, false));
        }
        let dir = self.dir(language);
        if dir.exists() {
            std::fs::remove_dir_all(&dir).map_err(|e| io(format!("removing {}", dir.display()), e))?;
        }
        std::fs::create_dir_all(&dir).map_err(|e| io(format!("creating {}", dir.display()), e))?;
        let parts = match language {
            Language::Python => python::install(&dir, log)?,
            Language::Js => js::install(&dir, log)?,
        };
        let version = expected_version(language);
        let mut text = format!("{version}\n");
        for part in &parts {
            text.push_str(part);
            text.push('\n');
        }
        let marker = dir.join(MARKER);
        std::fs::write(&marker, text).map_err(|e| io(format!("writing {}", marker.display()), e))?;
        Ok((Installed { language, version, dir, parts }, true))
    }
}

/// The version of a language's toolchain this build of stepbox installs.
pub(crate) fn expected_version(language: Language) -> String {
    match language {
        Language::Python => python::VERSION.to_string(),
        Language::Js => js::VERSION.to_string(),
    }
}

pub(crate) fn io(what: String, source: std::io::Error) -> InstallError {
    InstallError::Io { what, source }
}

/// Run `cmd`, its output going to `log`; an error carries the output.
pub(crate) fn run(cmd: &mut Command, log: &mut dyn Write) -> Result<String, InstallError> {
    let command = describe(cmd);
    let _ = writeln!(log, "==> {command}");
    let out = cmd.output().map_err(|e| io(format!("running {command}"), e))?;
    let mut text = String::from_utf8_lossy(&out.stdout).into_owned();
    text.push_str(&String::from_utf8_lossy(&out.stderr));
    if !out.status.success() {
        return Err(InstallError::Command { command, status: out.status.to_string(), output: text });
    }
    Ok(text)
}

fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for arg in cmd.get_args() {
        s.push(' ');
        s.push_str(&arg.to_string_lossy());
    }
    s
}

/// The first line `program ARGS` prints, if it runs and succeeds.
pub(crate) fn version_of(program: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new(program).args(args).output().ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    let text = if text.trim().is_empty() { String::from_utf8_lossy(&out.stderr) } else { text };
    text.lines().next().map(|l| l.trim().to_string())
}

/// Where `program` is on PATH.
pub(crate) fn which(program: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path).map(|d| d.join(program)).find(|p| p.is_file())
}

/// `apt-get install -y PACKAGES` (Debian), for a machine without Python or Node.
pub(crate) fn apt_install(packages: &[&str], log: &mut dyn Write) -> Result<(), InstallError> {
    let Some(apt) = which("apt-get") else {
        return Err(InstallError::Missing(format!(
            "{} not found and there is no apt-get to install it with; install it and retry",
            packages.join(", ")
        )));
    };
    run(Command::new(&apt).arg("update").arg("-q"), log)?;
    run(
        Command::new(&apt).args(["install", "-y", "-q", "--no-install-recommends"]).args(packages)
            .env("DEBIAN_FRONTEND", "noninteractive"),
        log,
    )?;
    Ok(())
}
