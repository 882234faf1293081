//! `stepbox run DEFINITION.json --input JSON --functions DIR`: one execution,
//! in memory, with every `NAME.wasm` of DIR registered as function NAME.

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ExecutionStatus, HistorySink, TokioClock};
use stepbox_invoker::{HttpPolicy, SandboxInvoker};
use stepbox_sandbox::Limits;

use crate::progress::ProgressSink;
use crate::util;

#[derive(clap::Args)]
pub struct RunArgs {
    /// The state machine definition (Amazon States Language JSON).
    definition: PathBuf,
    /// Execution input: JSON text, or @FILE (@- for stdin).
    #[arg(long, default_value = "{}")]
    input: String,
    /// Directory of task components: each NAME.wasm is function NAME, the
    /// target of `arn:aws:lambda:REGION:ACCOUNT:function:NAME` resources.
    #[arg(long)]
    functions: Option<PathBuf>,
    /// Print `{"status", "output" | "error"+"cause", "events"}` with the
    /// execution's full event history instead of the output alone.
    #[arg(long)]
    history: bool,
    /// Execution name.
    #[arg(long, default_value = "local")]
    name: String,
    /// State machine name (used in ARNs and the context object).
    #[arg(long, default_value = "stepbox")]
    state_machine_name: String,
    /// Each function's own timeout in seconds (exceeding it: Sandbox.Timedout).
    #[arg(long, default_value_t = 60.0)]
    function_timeout: f64,
    /// Each function's memory limit in MiB.
    #[arg(long, default_value_t = 128)]
    function_memory: u64,
    /// Where precompiled artifacts are cached [default: ~/.cache/stepbox].
    #[arg(long, env = "STEPBOX_CACHE_DIR")]
    cache_dir: Option<PathBuf>,
    /// A host HTTP Tasks (`arn:aws:states:::http:invoke`) may call besides
    /// loopback; repeatable, `*` allows any.
    #[arg(long = "http-allow", value_name = "HOST")]
    http_allow: Vec<String>,
}

pub async fn run(
    args: RunArgs,
    out: &mut (dyn Write + Send),
    err: &mut (dyn Write + Send),
) -> anyhow::Result<ExitCode> {
    let text = std::fs::read_to_string(&args.definition)
        .with_context(|| format!("reading {}", args.definition.display()))?;
    let state_machine = match StateMachine::parse(&text) {
        Ok(sm) => Arc::new(sm),
        Err(diagnostics) => {
            writeln!(err, "{}: {}", args.definition.display(), stepbox_asl::invalid_definition_message(&diagnostics))?;
            return Ok(ExitCode::from(2));
        }
    };
    let input = util::read_json_arg(&args.input)?;

    let limits = Limits {
        timeout: Duration::from_secs_f64(args.function_timeout),
        memory_bytes: args.function_memory << 20,
        ..Limits::default()
    };
    let registry = util::registry(args.cache_dir, args.functions.as_deref(), &limits, true, None)?;
    let invoker = SandboxInvoker::new(registry).with_http_policy(HttpPolicy { allowed_hosts: args.http_allow });
    let engine = Engine::new(Arc::new(invoker), Arc::new(TokioClock));
    let sink = Arc::new(ProgressSink::new(args.history));
    let progress = sink.report_every_second();
    let options = ExecutionOptions {
        name: args.name,
        state_machine_name: args.state_machine_name,
        ..ExecutionOptions::default()
    };
    let outcome = engine.start(state_machine, input, options, sink.clone() as Arc<dyn HistorySink>).await;
    progress.abort();

    if args.history {
        let events: Vec<Value> =
            sink.history().map(|h| h.events().iter().map(|e| e.to_aws_json()).collect()).unwrap_or_default();
        let mut report = json!({ "status": outcome.status.as_str() });
        match &outcome.output {
            Some(output) => report["output"] = output.clone(),
            None => {
                report["error"] = json!(outcome.error);
                report["cause"] = json!(outcome.cause);
            }
        }
        report["events"] = Value::Array(events);
        writeln!(out, "{}", serde_json::to_string_pretty(&report)?)?;
    } else if let Some(output) = &outcome.output {
        writeln!(out, "{}", serde_json::to_string_pretty(output)?)?;
    }
    if outcome.status == ExecutionStatus::Succeeded {
        return Ok(ExitCode::SUCCESS);
    }
    writeln!(
        err,
        "Execution {}\nError: {}\nCause: {}",
        outcome.status.as_str(),
        outcome.error.as_deref().unwrap_or(""),
        outcome.cause.as_deref().unwrap_or("")
    )?;
    Ok(ExitCode::from(1))
}
