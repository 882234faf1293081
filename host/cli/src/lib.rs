//! The `stepbox` command line, as a library so tests drive it in-process with
//! captured output. `src/main.rs` is a thin wrapper around [`run`].

/// The program's allocator (`#[global_allocator]` of the binaries): mimalloc
/// instead of glibc malloc (every Task invocation builds and frees a
/// wasmtime store, and glibc's allocator was ~17 % of a W5 profile), counted
/// for JSONata's memory bound (`stepbox_asl::jsonata::watch`).
pub type Allocator = stepbox_asl::jsonata::watch::Counting<mimalloc::MiMalloc>;
/// The one [`Allocator`].
pub const ALLOCATOR: Allocator = stepbox_asl::jsonata::watch::Counting(mimalloc::MiMalloc);

mod build;
mod graph;
mod invoke;
mod logs;
mod progress;
mod run;
mod serve;
mod testing;
mod toolchain;
mod warm;
mod util;
mod validate;

use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(name = "stepbox", version, about, long_about = None)]
pub struct Cli {
    /// Log filter (tracing `EnvFilter` syntax), e.g. `info` or `stepbox_sandbox=debug`.
    #[arg(long, env = "STEPBOX_LOG", default_value = "warn", global = true)]
    pub log: String,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run one task component once, like a local Lambda invoke: prints the
    /// output JSON on stdout, the task's logs on stderr; exits 1 on failure.
    Invoke(invoke::InvokeArgs),
    /// Run one execution of a state machine in memory: prints the output JSON;
    /// on failure prints Error and Cause on stderr and exits 1.
    Run(run::RunArgs),
    /// Check a state machine definition as AWS's ValidateStateMachineDefinition
    /// does: prints the result and diagnostics as JSON; exits 1 when invalid.
    Validate(validate::ValidateArgs),
    /// Draw a state machine definition's graph, offline: SVG laid out as the
    /// web console draws it (`--format svg`), or Graphviz DOT (`--format dot`).
    Graph(graph::GraphArgs),
    /// Print the logs of an execution's Task invocations, per state attempt,
    /// from a running `stepbox serve` (`-f`: follow until the execution ends).
    Logs(logs::LogsArgs),
    /// Serve the Step Functions API and a Lambda-compatible function API on a
    /// local endpoint for the AWS CLI and SDKs (`--endpoint-url`).
    Serve(serve::ServeArgs),
    /// Build a Lambda-style Python or JavaScript handler (a source directory
    /// or deployment zip) into a task component, offline.
    Build(build::BuildArgs),
    /// Install or list the builders of Python and JavaScript handlers.
    Toolchain(toolchain::ToolchainArgs),
}

/// Where a command writes: stdout for results, stderr for logs and errors.
pub struct Io<'a> {
    pub out: &'a mut (dyn Write + Send),
    pub err: &'a mut (dyn Write + Send),
}

/// Parse `args` (including the program name) and run the command. Exit codes:
/// 0 success, 1 the workflow or task failed, 2 usage or setup error.
pub fn run(args: impl IntoIterator<Item = impl Into<OsString> + Clone>, io: Io<'_>) -> ExitCode {
    let cli = match Cli::try_parse_from(args) {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            let _ = write!(io.err, "{}", e.render());
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help and --version
            let _ = write!(io.out, "{}", e.render());
            return ExitCode::SUCCESS;
        }
    };
    run_parsed(cli, io)
}

/// Run an already parsed command line.
pub fn run_parsed(cli: Cli, io: Io<'_>) -> ExitCode {
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(io.err, "error: starting the tokio runtime: {e}");
            return ExitCode::from(2);
        }
    };
    let result = runtime.block_on(async {
        match cli.command {
            Command::Invoke(args) => invoke::run(args, io.out, io.err).await,
            Command::Run(args) => run::run(args, io.out, io.err).await,
            Command::Validate(args) => validate::run(args, io.out),
            Command::Graph(args) => graph::run(args, io.out),
            Command::Logs(args) => logs::run(args, io.out),
            Command::Serve(args) => serve::run(args, io.out).await,
            Command::Build(args) => build::run(args, io.out),
            Command::Toolchain(args) => toolchain::run(args, io.out, io.err),
        }
    });
    match result {
        Ok(code) => code,
        Err(e) => {
            let _ = writeln!(io.err, "error: {e:#}");
            ExitCode::from(2)
        }
    }
}
