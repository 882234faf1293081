//! `stepbox toolchain install python|js` and `stepbox toolchain list`: the
//! builders of Python and JavaScript handlers, in a per-user cache directory.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use stepbox_toolchain::{Language, Toolchains};

#[derive(clap::Args)]
pub struct ToolchainArgs {
    #[command(subcommand)]
    command: ToolchainCommand,
    /// Where toolchains are installed [default: ~/.cache/stepbox/toolchains].
    #[arg(long, env = "STEPBOX_TOOLCHAINS", global = true)]
    dir: Option<PathBuf>,
    /// The cache directory whose compilation cache `install` warms, as
    /// `serve --cache-dir` [default: ~/.cache/stepbox].
    #[arg(long, env = "STEPBOX_CACHE_DIR", global = true)]
    cache_dir: Option<PathBuf>,
}

#[derive(clap::Subcommand)]
enum ToolchainCommand {
    /// Install the builder of a language's handlers (python: componentize-py
    /// in a venv; js: componentize-js in an npm prefix, with Node.js from
    /// Debian when the machine has none), then warm the compilation cache
    /// (`--cache-dir`'s `compiled/`) with an echo handler, so that a first
    /// upload compiles only what differs from it. Does nothing when done.
    Install {
        /// `python` or `js` (one or both).
        #[arg(required = true, value_parser = parse_language)]
        languages: Vec<Language>,
        /// Do not warm the compilation cache (a first upload then compiles
        /// the language's runtime: ~13,000 functions, tens of seconds).
        #[arg(long)]
        no_warm: bool,
    },
    /// Print which toolchains are installed.
    List,
}

fn parse_language(s: &str) -> Result<Language, String> {
    Language::parse(s).ok_or_else(|| format!("unknown language `{s}` (python or js)"))
}

pub fn toolchains(dir: Option<PathBuf>) -> Toolchains {
    dir.map(Toolchains::new).unwrap_or_else(Toolchains::from_env)
}

pub fn run(args: ToolchainArgs, out: &mut (dyn Write + Send), err: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let toolchains = toolchains(args.dir);
    match args.command {
        ToolchainCommand::Install { languages, no_warm } => {
            for language in languages {
                let (installed, fresh) = toolchains
                    .install(language, err)
                    .with_context(|| format!("installing the {} toolchain", language.name()))?;
                let what = if fresh { "installed" } else { "already installed" };
                writeln!(out, "{}: {what}: {}", language.name(), installed.version)?;
                for part in &installed.parts {
                    writeln!(out, "  {part}")?;
                }
                if !no_warm {
                    crate::warm::warm_and_report(&toolchains, &installed, args.cache_dir.clone(), out, err)
                        .with_context(|| format!("warming the compilation cache for {}", language.name()))?;
                }
            }
        }
        ToolchainCommand::List => {
            for language in Language::ALL {
                match toolchains.installed(language) {
                    Some(i) => writeln!(out, "{}: {} ({})", language.name(), i.version, i.dir.display())?,
                    None => writeln!(out, "{}: not installed (`{}`)", language.name(), language.install_command())?,
                }
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}
