//! `stepbox invoke FILE.wasm --input JSON`: one invocation from the command line.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use stepbox_sandbox::{Limits, Request, Sandbox, SandboxConfig, TaskContext};

use crate::util;

#[derive(clap::Args)]
pub struct InvokeArgs {
    /// The task component (`.wasm`, built for wasm32-wasip2 against wit/task.wit).
    file: PathBuf,
    /// Task input: JSON text, or @FILE (@- for stdin).
    #[arg(long, default_value = "{}")]
    input: String,
    /// The function's timeout in seconds (exceeding it: Sandbox.Timedout).
    #[arg(long, default_value_t = 3.0)]
    timeout: f64,
    /// Memory limit in MiB (exceeding it: Sandbox.OutOfMemory).
    #[arg(long, default_value_t = 128)]
    memory: u64,
    /// Fuel budget (exceeding it: Sandbox.OutOfFuel); unlimited by default.
    #[arg(long)]
    fuel: Option<u64>,
    /// Grant a private scratch directory at /tmp, removed afterwards.
    #[arg(long)]
    scratch: bool,
    /// Where precompiled artifacts are cached [default: ~/.cache/stepbox].
    #[arg(long, env = "STEPBOX_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
}

pub async fn run(
    args: InvokeArgs,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> anyhow::Result<ExitCode> {
    let input = util::read_json_arg(&args.input)?;
    let wasm = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    // Fuel is only counted when a budget asks for it (counting slows guests).
    let sandbox = Sandbox::new(SandboxConfig {
        max_concurrent_instances: 4,
        fuel: args.fuel.is_some(),
        ..util::sandbox_config(args.cache_dir)
    })?;
    let function = sandbox.compile(&wasm).with_context(|| format!("loading {}", args.file.display()))?;
    let limits = Limits {
        timeout: Duration::from_secs_f64(args.timeout),
        memory_bytes: args.memory << 20,
        fuel: args.fuel,
        scratch_dir: args.scratch,
        ..Limits::default()
    };
    let input_text = input.to_string();
    let invocation = sandbox
        .invoke(
            &function,
            Request { input: &input_text, context: TaskContext::default(), limits: &limits, on_heartbeat: None },
        )
        .await;
    write!(err, "{}", invocation.logs.text)?;
    if invocation.logs.dropped_bytes > 0 {
        writeln!(err, "[stepbox: {} log bytes dropped]", invocation.logs.dropped_bytes)?;
    }
    match invocation.result {
        Ok(output) => {
            writeln!(out, "{output}")?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            writeln!(err, "Error: {}\nCause: {}", e.error_name(), e.cause())?;
            Ok(ExitCode::from(1))
        }
    }
}
