//! `stepbox-bench-runner`: stepbox's runner for the side-by-side ASL engine
//! benchmark (the shared benchmark kit's runner protocol, see `host/bench/README.md`).
//!
//! ```text
//! stepbox-bench-runner <manifest.json> <workload-key> [--executions N] [--input FILE]
//!                      [--units N] [--expect JSON] [--cache-dir DIR | --no-cache]
//!                      [--component NAME] [--no-warm] [--function-timeout S]
//! ```
//!
//! Loads the workload's definition once, binds the Task states listed in
//! `task_states` to the `processed` component (returns its input plus
//! `"processed": true`) in its lean build (`processed_lean`; `--component
//! processed` runs the WASI build, `--component PATH.wasm` any component), each invocation in a fresh sandboxed instance, runs
//! `executions` executions one after the other on a 2-worker tokio runtime
//! (in-memory, no history, tokio clock), checks the last output and prints
//! one `BENCH_RESULT {json}` line. Exit 0 iff every execution succeeded and
//! every check passed; 2 on a usage or setup error.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{
    BoxFuture, Engine, ExecutionOptions, ExecutionStatus, HistorySink, NullSink, Pattern, Resource, Target,
    TaskFailure, TaskInvoker, TaskRequest, TokioClock, split_function_name,
};
use stepbox_invoker::SandboxInvoker;
use stepbox_sandbox::{Allocator, Limits, Origin, Registry, Sandbox, SandboxConfig};

mod check;

/// Worker threads of the runtime (the benchmark machines have 2 cores).
const WORKERS: usize = 2;
/// The component every bound Task state runs, unless `--component` says otherwise.
const COMPONENT: &str = "processed_lean";

struct Args {
    manifest: PathBuf,
    key: String,
    executions: Option<u64>,
    input: Option<PathBuf>,
    units: Option<u64>,
    expect: Option<Value>,
    cache_dir: Option<PathBuf>,
    component: String,
    warm: bool,
    /// Each function's timeout (Lambda's default, 3 s, unless given).
    function_timeout: Option<std::time::Duration>,
}

const USAGE: &str = "usage: stepbox-bench-runner <manifest.json> <workload-key> [--executions N] \
                     [--input FILE] [--units N] [--expect JSON] [--cache-dir DIR | --no-cache] \
                     [--component NAME] [--no-warm] [--function-timeout S]";

fn parse_args() -> anyhow::Result<Args> {
    let mut positional = Vec::new();
    let mut executions = None;
    let mut input = None;
    let mut units = None;
    let mut expect = None;
    let mut cache_dir = default_cache_dir();
    let mut component = COMPONENT.to_string();
    let mut warm = true;
    let mut function_timeout = None;
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--executions" => executions = Some(value("--executions")?.parse().context("--executions")?),
            "--input" => input = Some(PathBuf::from(value("--input")?)),
            "--units" => units = Some(value("--units")?.parse().context("--units")?),
            "--expect" => expect = Some(serde_json::from_str(&value("--expect")?).context("--expect is not JSON")?),
            "--cache-dir" => cache_dir = Some(PathBuf::from(value("--cache-dir")?)),
            "--no-cache" => cache_dir = None,
            "--component" => component = value("--component")?,
            "--no-warm" => warm = false,
            "--function-timeout" => {
                let secs: f64 = value("--function-timeout")?.parse().context("--function-timeout")?;
                function_timeout = Some(std::time::Duration::try_from_secs_f64(secs).context("--function-timeout")?);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            s if s.starts_with("--") => bail!("unknown option {s}\n{USAGE}"),
            _ => positional.push(arg),
        }
    }
    let [manifest, key]: [String; 2] =
        positional.try_into().map_err(|_| anyhow::anyhow!("expected <manifest.json> <workload-key>\n{USAGE}"))?;
    Ok(Args { manifest: manifest.into(), key, executions, input, units, expect, cache_dir, component, warm, function_timeout })
}

/// Like `stepbox`'s CLI: `$STEPBOX_CACHE_DIR`, else `$XDG_CACHE_HOME/stepbox`,
/// else `~/.cache/stepbox`; artifacts go in its `artifacts/`.
fn default_cache_dir() -> Option<PathBuf> {
    let base = if let Some(dir) = std::env::var_os("STEPBOX_CACHE_DIR") {
        PathBuf::from(dir)
    } else if let Some(dir) = std::env::var_os("XDG_CACHE_HOME") {
        PathBuf::from(dir).join("stepbox")
    } else {
        PathBuf::from(std::env::var_os("HOME")?).join(".cache").join("stepbox")
    };
    Some(base.join("artifacts"))
}

fn read_json(path: &Path) -> anyhow::Result<Value> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not JSON", path.display()))
}

/// The function names the Task states called `task_states` invoke, found by
/// walking every `States` object of the definition (nested Map/Parallel too).
fn task_functions(definition: &Value, task_states: &[String]) -> anyhow::Result<Vec<String>> {
    fn walk(v: &Value, task_states: &[String], found: &mut Vec<(String, String)>) -> anyhow::Result<()> {
        match v {
            Value::Object(m) => {
                if let Some(Value::Object(states)) = m.get("States") {
                    for (name, st) in states {
                        if st.get("Type").and_then(Value::as_str) != Some("Task") || !task_states.contains(name) {
                            continue;
                        }
                        let resource = st.get("Resource").and_then(Value::as_str).unwrap_or_default();
                        let parsed = Resource::parse(resource).ok();
                        let function = match parsed.as_ref().map(|r| (&r.target, r.pattern)) {
                            Some((Target::LambdaFunction { name, .. }, _)) => name.clone(),
                            Some((Target::LambdaInvoke, Pattern::RequestResponse)) => {
                                let fname = st
                                    .pointer("/Parameters/FunctionName")
                                    .or_else(|| st.pointer("/Arguments/FunctionName"))
                                    .and_then(Value::as_str)
                                    .with_context(|| {
                                        format!("Task state {name}: lambda:invoke without a static FunctionName")
                                    })?;
                                split_function_name(fname).0
                            }
                            _ => resource.to_string(),
                        };
                        found.push((name.clone(), function));
                    }
                }
                for x in m.values() {
                    walk(x, task_states, found)?;
                }
            }
            Value::Array(a) => {
                for x in a {
                    walk(x, task_states, found)?;
                }
            }
            _ => {}
        }
        Ok(())
    }
    let mut found = Vec::new();
    walk(definition, task_states, &mut found)?;
    for s in task_states {
        if !found.iter().any(|(n, _)| n == s) {
            bail!("task state {s:?} of the manifest is not a Task state of the definition");
        }
    }
    let mut functions: Vec<String> = found.into_iter().map(|(_, f)| f).collect();
    functions.sort();
    functions.dedup();
    Ok(functions)
}

/// Counts Task invocations (each one a fresh sandboxed instance) on their
/// way to the sandbox invoker.
struct Counting {
    inner: SandboxInvoker,
    invocations: Arc<AtomicU64>,
}

impl TaskInvoker for Counting {
    fn invoke(&self, req: TaskRequest) -> BoxFuture<'static, Result<Value, TaskFailure>> {
        self.invocations.fetch_add(1, Ordering::Relaxed);
        self.inner.invoke(req)
    }
}

struct Outcome {
    failed: u64,
    error: Option<String>,
    output: Option<Value>,
}

async fn run_executions(
    engine: Engine,
    sm: Arc<StateMachine>,
    input: Value,
    executions: u64,
    sm_name: String,
) -> Outcome {
    let sink: Arc<dyn HistorySink> = Arc::new(NullSink);
    let mut out = Outcome { failed: 0, error: None, output: None };
    for i in 0..executions {
        let opts = ExecutionOptions {
            name: format!("bench-{i}"),
            state_machine_name: sm_name.clone(),
            ..ExecutionOptions::default()
        };
        let outcome = engine.start(sm.clone(), input.clone(), opts, sink.clone()).await;
        if outcome.status == ExecutionStatus::Succeeded {
            out.output = outcome.output;
        } else {
            out.failed += 1;
            out.error = Some(format!(
                "{}: {}: {}",
                outcome.status.as_str(),
                outcome.error.unwrap_or_default(),
                outcome.cause.unwrap_or_default()
            ));
        }
    }
    out
}

fn run(args: Args, t0: Instant) -> anyhow::Result<bool> {
    let manifest_text =
        std::fs::read_to_string(&args.manifest).with_context(|| format!("reading {}", args.manifest.display()))?;
    let manifest: Value = serde_json::from_str(&manifest_text).context("manifest is not JSON")?;
    let w = manifest.get(&args.key).with_context(|| format!("no workload {:?} in the manifest", args.key))?;
    let base = args.manifest.parent().unwrap_or(Path::new("."));
    let field = |k: &str| w.get(k).with_context(|| format!("workload {}: no {k}", args.key));
    let name = field("name")?.as_str().context("name")?.to_string();
    let unit = field("unit")?.as_str().context("unit")?.to_string();
    let definition_path = base.join(field("definition")?.as_str().context("definition")?);
    let input_path = match &args.input {
        Some(p) => p.clone(),
        None => base.join(field("input")?.as_str().context("input")?),
    };
    let executions = match args.executions {
        Some(n) => n,
        None => field("executions")?.as_u64().context("executions")?,
    };
    let units_per_execution = match args.units {
        Some(n) => n,
        None => field("units_per_execution")?.as_u64().context("units_per_execution")?,
    };
    let expect = match args.expect {
        Some(e) => e,
        None => field("expect")?.clone(),
    };
    let expect = check::parse_expect(&expect)?;
    let task_states: Vec<String> = serde_json::from_value(field("task_states")?.clone()).context("task_states")?;

    let definition_text = std::fs::read_to_string(&definition_path)
        .with_context(|| format!("reading {}", definition_path.display()))?;
    let input = read_json(&input_path)?;

    // The sandbox and the component (compiled, or loaded from the artifact cache).
    let sandbox = Sandbox::new(SandboxConfig {
        cache_dir: args.cache_dir.clone(),
        warm_instances: args.warm,
        ..SandboxConfig::default()
    })?;
    let registry = Registry::new(sandbox.clone());
    let mut origin = None;
    let functions = if task_states.is_empty() {
        Vec::new()
    } else {
        let definition_json: Value = serde_json::from_str(&definition_text).context("definition is not JSON")?;
        let functions = task_functions(&definition_json, &task_states)?;
        let component = &args.component;
        // A path to a `.wasm` (a Python or JavaScript handler's component
        // from `stepbox build`), or one of stepbox's built components.
        let wasm = if component.ends_with(".wasm") {
            std::fs::read(component).with_context(|| format!("reading {component}"))?
        } else {
            stepbox_components::bytes(component).with_context(|| format!("reading the {component} component"))?
        };
        for f in &functions {
            let registered = registry
                .register(f, &wasm, Limits { timeout: args.function_timeout.unwrap_or(Limits::default().timeout), ..Limits::default() })
                .map_err(|e| anyhow::anyhow!("registering {component} as {f}: {e}"))?;
            origin = Some(registered.function.origin);
        }
        functions
    };

    // The definition, parsed and validated once.
    let sm = Arc::new(StateMachine::parse(&definition_text).map_err(|diags| {
        let msgs: Vec<String> = diags.iter().map(|d| format!("{} at {}: {}", d.code, d.location, d.message)).collect();
        anyhow::anyhow!("invalid definition {}: {}", definition_path.display(), msgs.join("; "))
    })?);

    let invocations = Arc::new(AtomicU64::new(0));
    let invoker = Counting { inner: SandboxInvoker::new(registry), invocations: invocations.clone() };
    let engine = Engine::new(Arc::new(invoker), Arc::new(TokioClock));
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .enable_all()
        .build()
        .context("building the tokio runtime")?;

    // Part of building the runtime: its worker threads have started (each
    // has run a task) before the clock starts, so their start-up does not
    // land in the timed part of a short run (W1 is one ~1-3 ms execution).
    runtime.block_on(async {
        let started: Vec<_> = (0..WORKERS).map(|_| tokio::spawn(async {})).collect();
        for s in started {
            let _ = s.await;
        }
    });

    // Timed: the executions, one after the other. The loop runs as a task on
    // the runtime's workers, like an execution started by a server (in
    // `block_on` on this thread, every Parallel/Map spawn of W3/W4 would wake
    // a worker and then this thread: W4 ran at half the rate).
    let t1 = Instant::now();
    // Clones go in so the definition, engine and input are freed after the
    // clock stops (freeing W1's 1000 compiled states took ~1.4 ms).
    let job = runtime.spawn(run_executions(engine.clone(), sm.clone(), input.clone(), executions, name.clone()));
    let outcome = runtime.block_on(job).context("the execution loop panicked")?;
    let t2 = Instant::now();
    drop((engine, sm, input));

    let check_failures = match &outcome.output {
        None => vec!["no output".to_string()],
        Some(out) => check::check(out, &expect),
    };
    let timed_s = (t2 - t1).as_secs_f64();
    let units = units_per_execution * executions;
    let ok = outcome.failed == 0 && check_failures.is_empty();
    let result = json!({
        "peer": "stepbox",
        "peer_version": env!("CARGO_PKG_VERSION"),
        "runtime": format!(
            "wasmtime 48 ({} allocator, fuel {}), tokio {WORKERS} workers, mimalloc",
            match sandbox.allocator() { Allocator::Pooling => "pooling", Allocator::OnDemand => "on-demand" },
            if sandbox.config().fuel { "counted" } else { "off" },
        ),
        "workload": name,
        "executions": executions,
        "failed_executions": outcome.failed,
        "error": outcome.error,
        "setup_s": (t1 - t0).as_secs_f64(),
        "timed_s": timed_s,
        "units": units,
        "unit": unit,
        "throughput": units as f64 / timed_s,
        "check_failures": check_failures,
        "functions": functions,
        "component": args.component,
        "component_origin": origin.map(|o| match o { Origin::Compiled => "compiled", Origin::Cached => "cached" }),
        "task_invocations": invocations.load(Ordering::Relaxed),
        "warm_instances_taken": sandbox.warm_stats(None).taken,
    });
    println!("BENCH_RESULT {result}");
    // Don't wait for straggling runtime threads: the result is out.
    runtime.shutdown_background();
    Ok(ok)
}

// mimalloc instead of glibc malloc: every Task invocation builds and frees a
// wasmtime store, and glibc's allocator was ~17 % of a W5 profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let t0 = Instant::now();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("stepbox-bench-runner: {e:#}");
            return ExitCode::from(2);
        }
    };
    match run(args, t0) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(e) => {
            eprintln!("stepbox-bench-runner: {e:#}");
            ExitCode::from(2)
        }
    }
}
