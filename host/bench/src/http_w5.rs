//! `stepbox-http-bench`: the W5 workload (Pass → Task → Succeed) through
//! `stepbox serve`'s HTTP API. StartSyncExecution of an Express state machine
//! from a load generator on loopback, at 1, 16 and 64 concurrent clients
//! (each a keep-alive connection sending one request after the other):
//! requests/s and p50/p99 latency, and the ratio to the in-process W5 figure
//! (the same engine and sandbox driven directly, executions in sequence)
//! measured in the same run.
//!
//! ```text
//! stepbox-http-bench [--bench-dir DIR] [--requests N] [--clients 1,16,64] [--inprocess N]
//! ```
//!
//! The server runs on its own 2-worker tokio runtime, the load generator on a
//! single thread: on a 2-core machine they share the cores, as a client and a
//! local endpoint would.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{ExecutionOptions, ExecutionStatus, NullSink};
use stepbox_sandbox::{Limits, Registry, Sandbox, SandboxConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};

mod http;
use http::Connection;

const USAGE: &str =
    "usage: stepbox-http-bench [--bench-dir DIR] [--requests N] [--clients 1,16,64] [--inprocess N]";
/// The function name W5's Task state invokes.
const FUNCTION: &str = "bench-echo";
const WARMUP: usize = 200;

struct Args {
    /// The shared benchmark kit (`--bench-dir`, else `$BENCH_DIR`).
    bench_dir: Option<PathBuf>,
    requests: usize,
    clients: Vec<usize>,
    inprocess: usize,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        bench_dir: std::env::var_os("BENCH_DIR").filter(|d| !d.is_empty()).map(PathBuf::from),
        requests: 5000,
        clients: vec![1, 16, 64],
        inprocess: 5000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bench-dir" => args.bench_dir = Some(value("--bench-dir")?.into()),
            "--requests" => args.requests = value("--requests")?.parse().context("--requests")?,
            "--inprocess" => args.inprocess = value("--inprocess")?.parse().context("--inprocess")?,
            "--clients" => {
                args.clients = value("--clients")?
                    .split(',')
                    .map(|c| c.trim().parse::<usize>().context("--clients"))
                    .collect::<Result<_, _>>()?;
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if args.clients.contains(&0) || args.requests == 0 || args.inprocess == 0 {
        bail!("--clients, --requests and --inprocess must be positive\n{USAGE}");
    }
    Ok(args)
}

/// What one concurrency level measured.
struct Level {
    clients: usize,
    requests: usize,
    failed: usize,
    wall: Duration,
    latencies: Vec<Duration>,
}

impl Level {
    fn rate(&self) -> f64 {
        self.requests as f64 / self.wall.as_secs_f64()
    }
    fn percentile(&self, p: f64) -> Duration {
        let i = ((self.latencies.len() as f64 * p).ceil() as usize).clamp(1, self.latencies.len()) - 1;
        self.latencies[i]
    }
}

/// `clients` connections, each sending `per_client` StartSyncExecution requests in sequence.
async fn load(addr: std::net::SocketAddr, body: Arc<String>, clients: usize, per_client: usize) -> anyhow::Result<Level> {
    let mut connections = Vec::with_capacity(clients);
    for _ in 0..clients {
        connections.push(Connection::open(addr).await?);
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for mut conn in connections {
        let body = body.clone();
        tasks.spawn(async move {
            let mut latencies = Vec::with_capacity(per_client);
            let mut failed = 0;
            for _ in 0..per_client {
                let t = Instant::now();
                let (status, reply) = conn.call("StartSyncExecution", &body).await?;
                latencies.push(t.elapsed());
                let succeeded = status == 200
                    && serde_json::from_slice::<Value>(&reply).ok().and_then(|v| v["status"].as_str().map(|s| s == "SUCCEEDED"))
                        == Some(true);
                if !succeeded {
                    failed += 1;
                }
            }
            anyhow::Ok((latencies, failed))
        });
    }
    let mut level = Level { clients, requests: clients * per_client, failed: 0, wall: Duration::ZERO, latencies: Vec::new() };
    while let Some(done) = tasks.join_next().await {
        let (latencies, failed) = done.context("a client panicked")??;
        level.latencies.extend(latencies);
        level.failed += failed;
    }
    level.wall = started.elapsed();
    level.latencies.sort();
    Ok(level)
}

fn run(args: Args) -> anyhow::Result<bool> {
    let Some(bench_dir) = &args.bench_dir else {
        bail!("no benchmark kit: pass --bench-dir DIR or set BENCH_DIR to the shared benchmark kit (the directory holding workloads/w5-small.asl.json)\n{USAGE}");
    };
    let workloads = bench_dir.join("workloads");
    let definition = std::fs::read_to_string(workloads.join("w5-small.asl.json"))
        .with_context(|| format!("reading W5 from {}", workloads.display()))?;
    let input = std::fs::read_to_string(workloads.join("w5-small.input.json"))?;

    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let registry = Registry::new(sandbox);
    let wasm = stepbox_components::bytes("processed").context("reading the processed component")?;
    registry.register(FUNCTION, &wasm, Limits::default()).map_err(|e| anyhow::anyhow!("registering {FUNCTION}: {e}"))?;

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let state = AppState::in_memory(ServerConfig::default(), registry);
    let server = server_rt.block_on(RunningServer::start("127.0.0.1:0".parse()?, state.clone()))?;
    let addr = server.addr;
    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    // The Express state machine, created over HTTP like any client would.
    let create = json!({"name": "w5", "definition": definition, "roleArn": "arn:aws:iam::111111111111:role/bench", "type": "EXPRESS"});
    let (status, reply) = client_rt.block_on(async { Connection::open(addr).await?.call("CreateStateMachine", &create.to_string()).await })?;
    if status != 200 {
        bail!("CreateStateMachine answered {status}: {}", String::from_utf8_lossy(&reply));
    }
    let arn: Value = serde_json::from_slice(&reply)?;
    let body = Arc::new(json!({"stateMachineArn": arn["stateMachineArn"], "input": input}).to_string());

    // In process: the server's own engine, executions one after the other (as the W5 runner),
    // measured before and after every HTTP level so each ratio compares like load with like.
    let machine = Arc::new(StateMachine::parse(&definition).map_err(|d| anyhow::anyhow!("W5 definition: {d:?}"))?);
    let input_value: Value = serde_json::from_str(&input)?;
    let in_process = |n: usize| {
        let (engine, machine, input) = (state.engine.clone(), machine.clone(), input_value.clone());
        server_rt.block_on(async move {
            let started = Instant::now();
            let mut failed = 0usize;
            for i in 0..n {
                let options = ExecutionOptions { name: format!("w5-{i}"), state_machine_name: "w5".into(), ..Default::default() };
                let outcome = engine.start(machine.clone(), input.clone(), options, Arc::new(NullSink)).await;
                failed += usize::from(outcome.status != ExecutionStatus::Succeeded);
            }
            (n as f64 / started.elapsed().as_secs_f64(), failed)
        })
    };

    in_process(WARMUP);
    let mut baselines = vec![in_process(args.inprocess)];
    let mut levels = Vec::new();
    for &clients in &args.clients {
        let per_client = args.requests.div_ceil(clients);
        client_rt.block_on(load(addr, body.clone(), clients, WARMUP.div_ceil(clients)))?;
        levels.push(client_rt.block_on(load(addr, body.clone(), clients, per_client))?);
        baselines.push(in_process(args.inprocess));
    }
    server_rt.block_on(server.shutdown())?;

    let inprocess_failed: usize = baselines.iter().map(|b| b.1).sum();
    let rates: Vec<String> = baselines.iter().map(|b| format!("{:.0}", b.0)).collect();
    println!("W5 (Pass → Task → Succeed): StartSyncExecution over HTTP on loopback vs. the engine in process");
    println!(
        "in process: {} executions in sequence per round, rounds before/between/after the levels: {} executions/s ({inprocess_failed} failed)",
        args.inprocess,
        rates.join(", ")
    );
    println!();
    println!("| clients | requests | failed | requests/s | p50 ms | p99 ms | in process (rounds around it) | ratio |");
    println!("|---|---|---|---|---|---|---|---|");
    let mut ok = inprocess_failed == 0;
    let mut rows = Vec::new();
    for (i, l) in levels.iter().enumerate() {
        let around = (baselines[i].0 + baselines[i + 1].0) / 2.0;
        let (p50, p99) = (l.percentile(0.50).as_secs_f64() * 1e3, l.percentile(0.99).as_secs_f64() * 1e3);
        println!(
            "| {} | {} | {} | {:.0} | {p50:.2} | {p99:.2} | {around:.0} executions/s | {:.2}× |",
            l.clients,
            l.requests,
            l.failed,
            l.rate(),
            l.rate() / around
        );
        ok &= l.failed == 0;
        rows.push(json!({
            "clients": l.clients, "requests": l.requests, "failed": l.failed, "requests_per_s": l.rate(),
            "p50_ms": p50, "p99_ms": p99, "inprocess_executions_per_s": around, "ratio_to_inprocess": l.rate() / around,
        }));
    }
    let result = json!({"workload": "w5-small over HTTP (StartSyncExecution)", "levels": rows});
    println!("\nBENCH_RESULT {result}");
    server_rt.shutdown_background();
    Ok(ok)
}

// mimalloc instead of glibc malloc: every Task invocation builds and frees a
// wasmtime store, and glibc's allocator was ~17 % of a W5 profile.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    let outcome = parse_args().and_then(run);
    match outcome {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("stepbox-http-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
