//! `stepbox build --runtime python3.12 --handler app.handler SRC -o fn.wasm`:
//! a Lambda-style handler's sources (a directory or a deployment zip) built
//! into a task component, offline, for `stepbox run`, `invoke` and `--functions`.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context as _;
use stepbox_toolchain::{BuildCache, BuildRequest, Runtime, Source};

#[derive(clap::Args)]
pub struct BuildArgs {
    /// Lambda's runtime identifier: python3.12, nodejs20.x or nodejs22.x.
    #[arg(long, value_parser = parse_runtime)]
    runtime: Runtime,
    /// Lambda's handler setting, e.g. app.handler (Python) or index.handler (Node.js).
    #[arg(long)]
    handler: String,
    /// The sources: a directory or a .zip, as uploaded to Lambda.
    source: PathBuf,
    /// Where to write the component.
    #[arg(short, long)]
    output: PathBuf,
    /// Where toolchains are installed [default: ~/.cache/stepbox/toolchains].
    #[arg(long, env = "STEPBOX_TOOLCHAINS")]
    toolchains: Option<PathBuf>,
    /// Where built components are kept by their inputs [default: ~/.cache/stepbox/builds].
    #[arg(long, env = "STEPBOX_BUILD_CACHE")]
    build_cache: Option<PathBuf>,
}

fn parse_runtime(s: &str) -> Result<Runtime, String> {
    Runtime::parse(s).ok_or_else(|| {
        let known: Vec<&str> = Runtime::ALL.iter().map(|r| r.id()).collect();
        format!("unsupported runtime `{s}` (one of {})", known.join(", "))
    })
}

pub fn run(args: BuildArgs, out: &mut (dyn Write + Send)) -> anyhow::Result<ExitCode> {
    let source = if args.source.is_dir() {
        Source::Dir(args.source.clone())
    } else {
        Source::Zip(std::fs::read(&args.source).with_context(|| format!("reading {}", args.source.display()))?)
    };
    let toolchains = crate::toolchain::toolchains(args.toolchains);
    let cache_dir = args.build_cache.or_else(|| crate::util::default_cache_dir().map(|d| d.join("builds")));
    let request = BuildRequest { runtime: args.runtime, handler: &args.handler, source: &source };
    let wasm = toolchains.build(&request, &BuildCache::new(cache_dir.as_deref()))?;
    std::fs::write(&args.output, &wasm).with_context(|| format!("writing {}", args.output.display()))?;
    writeln!(out, "{} ({} bytes)", args.output.display(), wasm.len())?;
    Ok(ExitCode::SUCCESS)
}
