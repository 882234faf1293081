//! The `stepbox` binary: run AWS Step Functions state machines locally, with
//! Task states as sandboxed WebAssembly components. See `stepbox --help`.

use clap::Parser;

#[global_allocator]
static GLOBAL: stepbox::Allocator = stepbox::ALLOCATOR;

fn main() -> std::process::ExitCode {
    let cli = stepbox::Cli::parse();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::try_new(&cli.log).unwrap_or_else(|_| "warn".into()))
        .with_writer(std::io::stderr)
        .init();
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    stepbox::run_parsed(cli, stepbox::Io { out: &mut out, err: &mut err })
}
