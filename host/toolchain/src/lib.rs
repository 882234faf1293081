//! Lambda-style Python and JavaScript handlers as stepbox task components.
//!
//! A [`Toolchains`] directory (per user, [`Toolchains::default_root`]) holds
//! the builders: a Python venv with componentize-py and an npm prefix with
//! componentize-js ([`Toolchains::install`]). [`Toolchains::build`] turns a
//! handler's sources (a directory or a Lambda zip) into a component of the
//! stepbox task world (wit/task.wit) through the adapters of guest-sdk/python
//! and guest-sdk/js, which are compiled into this crate. [`BuildCache`] keeps
//! built components by what decides them (sources, handler, runtime,
//! toolchain and adapter).

mod builder;
mod cache;
mod install;
mod js;
mod python;
mod source;

use std::path::{Path, PathBuf};

pub use builder::{BuildError, BuildRequest};
pub use cache::BuildCache;
pub use install::{InstallError, Installed};
pub use source::Source;

/// The stepbox task world the components are built for.
pub(crate) const TASK_WIT: &str = include_str!("../../../wit/task.wit");

/// A language whose handlers stepbox builds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Language {
    Python,
    Js,
}

impl Language {
    /// `python`, or `js` (also `javascript`, `node`, `nodejs`).
    pub fn parse(s: &str) -> Option<Language> {
        match s {
            "python" => Some(Language::Python),
            "js" | "javascript" | "node" | "nodejs" => Some(Language::Js),
            _ => None,
        }
    }

    /// The name `stepbox toolchain install` takes.
    pub fn name(self) -> &'static str {
        match self {
            Language::Python => "python",
            Language::Js => "js",
        }
    }

    /// The command that installs this language's toolchain.
    pub fn install_command(self) -> String {
        format!("stepbox toolchain install {}", self.name())
    }

    /// Every language.
    pub const ALL: [Language; 2] = [Language::Python, Language::Js];
}

/// A Lambda runtime identifier stepbox builds handlers for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Runtime {
    Python312,
    Nodejs20,
    Nodejs22,
}

impl Runtime {
    /// Every supported runtime, by Lambda's identifier.
    pub const ALL: [Runtime; 3] = [Runtime::Python312, Runtime::Nodejs20, Runtime::Nodejs22];

    /// `python3.12`, `nodejs20.x` or `nodejs22.x`.
    pub fn parse(s: &str) -> Option<Runtime> {
        Runtime::ALL.into_iter().find(|r| r.id() == s)
    }

    /// Lambda's identifier.
    pub fn id(self) -> &'static str {
        match self {
            Runtime::Python312 => "python3.12",
            Runtime::Nodejs20 => "nodejs20.x",
            Runtime::Nodejs22 => "nodejs22.x",
        }
    }

    pub fn language(self) -> Language {
        match self {
            Runtime::Python312 => Language::Python,
            Runtime::Nodejs20 | Runtime::Nodejs22 => Language::Js,
        }
    }
}

/// The directory of the installed builders.
#[derive(Debug, Clone)]
pub struct Toolchains {
    root: PathBuf,
}

impl Toolchains {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        Toolchains { root: root.into() }
    }

    /// `$STEPBOX_TOOLCHAINS`, else `$XDG_CACHE_HOME/stepbox/toolchains`, else
    /// `~/.cache/stepbox/toolchains`.
    pub fn default_root() -> PathBuf {
        if let Some(dir) = std::env::var_os("STEPBOX_TOOLCHAINS").filter(|d| !d.is_empty()) {
            return PathBuf::from(dir);
        }
        let cache = std::env::var_os("XDG_CACHE_HOME")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
            .unwrap_or_else(|| std::env::temp_dir());
        cache.join("stepbox").join("toolchains")
    }

    /// The toolchains under [`default_root`](Self::default_root).
    pub fn from_env() -> Self {
        Toolchains::new(Self::default_root())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    pub(crate) fn dir(&self, language: Language) -> PathBuf {
        self.root.join(language.name())
    }
}
