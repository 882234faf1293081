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
use stepbox_engine::{Engine, EngineConfig, ExecutionOptions, ExecutionStatus, HistorySink, Mocks, TokioClock};
use stepbox_invoker::{Bindings, HttpPolicy, SandboxInvoker};
use stepbox_sandbox::Limits;

use crate::progress::ProgressSink;
use crate::{testing, util};

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
    /// State machine name (used in ARNs and the context object) [default:
    /// stepbox, or with --test-case the one state machine of the mock
    /// configuration].
    #[arg(long)]
    state_machine_name: Option<String>,
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
    /// Step Functions Local's mock configuration (MockConfigFile.json) to
    /// run a test case of (--test-case).
    #[arg(long, value_name = "FILE", requires = "test_case")]
    mock_config: Option<PathBuf>,
    /// The test case to run: its Task states answer with their mocked
    /// responses (StateMachines.NAME.TestCases.CASE, NAME the state machine name).
    #[arg(long, value_name = "CASE", requires = "mock_config")]
    test_case: Option<String>,
    #[command(flatten)]
    testing: testing::TestingArgs,
}

/// The state machine name and the mocks of the test case asked for, if any.
fn test_case(args: &RunArgs, sm: &StateMachine) -> anyhow::Result<(String, Option<Mocks>)> {
    let (Some(file), Some(case)) = (&args.mock_config, &args.test_case) else {
        return Ok((args.state_machine_name.clone().unwrap_or_else(|| "stepbox".into()), None));
    };
    let config = testing::load_mock_config(file)?;
    let name = match (&args.state_machine_name, config.machine_names().as_slice()) {
        (Some(n), _) => n.clone(),
        (None, [only]) => only.to_string(),
        (None, _) => "stepbox".into(),
    };
    let tc = config.test_case(&name, case, sm).with_context(|| format!("mock configuration {}", file.display()))?;
    Ok((name, Some(tc.mocks())))
}

/// The built-in DynamoDB tables of one run: items in a memory store.
fn tables(schemas: Vec<stepbox_invoker::dynamodb::TableSchema>) -> Option<stepbox_invoker::dynamodb::Tables> {
    (!schemas.is_empty()).then(|| {
        stepbox_invoker::dynamodb::Tables::new(schemas, Arc::new(stepbox_invoker::dynamodb::MemoryItems::default()))
    })
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
    let (state_machine_name, mocks) = test_case(&args, &state_machine)?;

    let limits = Limits {
        timeout: Duration::from_secs_f64(args.function_timeout),
        memory_bytes: args.function_memory << 20,
        ..Limits::default()
    };
    let registry = util::registry(args.cache_dir, args.functions.as_deref(), &limits, true, None)?;
    // Each function runs with the environment Lambda would give it.
    let identity = stepbox_types::Identity::default();
    for name in registry.names() {
        if let Some(f) = registry.get(&name) {
            let env = stepbox_server::lambda::environment_for(&identity, &name, &f.limits);
            registry.insert(&name, f.function, Limits { env, ..f.limits });
        }
    }
    let testing = args.testing.resolve()?;
    let bindings = Bindings::parse(&testing.bind)?;
    let invoker = SandboxInvoker::new(registry)
        .with_http_policy(HttpPolicy { allowed_hosts: args.http_allow })
        .with_bindings(bindings)
        .with_buckets(testing.buckets.clone().map(stepbox_invoker::Buckets::new))
        .with_tables(tables(testing.dynamodb_tables));
    let config = EngineConfig { wait_time_scale: testing.wait_time_scale, ..EngineConfig::default() };
    let objects = testing.buckets.map(|dir| Arc::new(stepbox_invoker::Buckets::new(dir)) as Arc<dyn stepbox_engine::Objects>);
    let engine = Engine::with_config(Arc::new(invoker), Arc::new(TokioClock), config)
        .with_services(stepbox_engine::Services { objects, ..Default::default() });
    let sink = Arc::new(ProgressSink::new(args.history));
    let progress = sink.report_every_second();
    let options = ExecutionOptions {
        name: args.name,
        state_machine_name,
        mocks,
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
