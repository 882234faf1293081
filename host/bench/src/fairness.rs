//! `stepbox-fairness-bench`: does a caller's spinning guests slow a
//! neighbour down? The neighbour runs Pass → Task → Succeed (an Express state
//! machine whose Task echoes) through StartSyncExecution, one request after
//! the other on one keep-alive connection, for `--seconds` (7) alone and then while an
//! attacker keeps three Standard executions of an 8-item Map running, each
//! item an infinite loop (24 spinning guests; the function's 3 s timeout
//! fails them, and the attacker starts another execution for each that
//! closes). Meanwhile a probe asks `GET /health` and DescribeStateMachine
//! every 10 ms. Prints the neighbour's p50/p99 alone and under attack, their
//! ratio, and the probe's slowest answers.
//!
//! ```text
//! stepbox-fairness-bench [--seconds S] [--in-runtime] [--no-warm] [--demote-after-us N]
//! ```
//!
//! `--in-runtime` runs guests on the server's own runtime (the sandbox's
//! `guest_threads` off), as stepbox did before guest threads.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use stepbox_sandbox::{Limits, Registry, Sandbox, SandboxConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};

mod http;
use http::Connection;

const USAGE: &str = "usage: stepbox-fairness-bench [--seconds S] [--in-runtime] [--no-warm] [--demote-after-us N]";
const ROLE: &str = "arn:aws:iam::111111111111:role/bench";
/// Attacking executions kept running, each a Map of this many spinning items.
const EXECUTIONS: usize = 3;
const ITEMS: usize = 8;

struct Args {
    /// How long each phase (alone, under attack) sends requests.
    seconds: f64,
    guest_threads: bool,
    warm: bool,
    demote_after: Duration,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { seconds: 7.0, guest_threads: true, warm: true, demote_after: SandboxConfig::default().demote_after };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        match arg.as_str() {
            "--seconds" => args.seconds = it.next().context("--seconds needs a value")?.parse().context("--seconds")?,
            "--in-runtime" => args.guest_threads = false,
            "--no-warm" => args.warm = false,
            "--demote-after-us" => {
                let us: u64 = it.next().context("--demote-after-us needs a value")?.parse().context("--demote-after-us")?;
                args.demote_after = Duration::from_micros(us);
            }
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

fn neighbour_definition() -> String {
    json!({"StartAt": "Prepare", "States": {
        "Prepare": {"Type": "Pass", "Parameters": {"order": 42, "items": [1, 2, 3]}, "Next": "Process"},
        "Process": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:echo", "Next": "Done"},
        "Done": {"Type": "Succeed"}}})
    .to_string()
}

fn attack_definition() -> String {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
        "ItemProcessor": {"StartAt": "Spin", "States": {"Spin": {
            "Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:spin",
            "Parameters": {"attack": "loop"}, "End": true}}},
        "End": true}}})
    .to_string()
}

/// Create a state machine over HTTP; its ARN.
async fn create(addr: SocketAddr, name: &str, definition: String, kind: &str) -> anyhow::Result<String> {
    let body = json!({"name": name, "definition": definition, "roleArn": ROLE, "type": kind}).to_string();
    let (status, reply) = Connection::open(addr).await?.call("CreateStateMachine", &body).await?;
    if status != 200 {
        bail!("CreateStateMachine answered {status}: {}", String::from_utf8_lossy(&reply));
    }
    Ok(serde_json::from_slice::<Value>(&reply)?["stateMachineArn"].as_str().context("no ARN")?.to_string())
}

/// Latencies of StartSyncExecution requests in sequence for `phase`, sorted.
async fn neighbour(addr: SocketAddr, arn: &str, phase: Duration) -> anyhow::Result<Vec<Duration>> {
    let mut conn = Connection::open(addr).await?;
    let body = json!({"stateMachineArn": arn, "input": "{}"}).to_string();
    let mut latencies = Vec::new();
    let started = Instant::now();
    while started.elapsed() < phase {
        let t = Instant::now();
        let (status, reply) = conn.call("StartSyncExecution", &body).await?;
        latencies.push(t.elapsed());
        let v: Value = serde_json::from_slice(&reply)?;
        if status != 200 || v["status"] != "SUCCEEDED" {
            bail!("the neighbour's execution did not succeed: {status} {v}");
        }
    }
    latencies.sort();
    Ok(latencies)
}

/// Keep [`EXECUTIONS`] attacking executions running until `stop`.
async fn attack(addr: SocketAddr, arn: String, stop: Arc<AtomicBool>) -> anyhow::Result<usize> {
    let mut conn = Connection::open(addr).await?;
    let input = json!({"items": vec![0; ITEMS]}).to_string();
    let start = json!({"stateMachineArn": arn, "input": input}).to_string();
    let (mut running, mut started) = (Vec::new(), 0);
    while !stop.load(Ordering::Relaxed) {
        while running.len() < EXECUTIONS {
            let (_, reply) = conn.call("StartExecution", &start).await?;
            let v: Value = serde_json::from_slice(&reply)?;
            running.push(v["executionArn"].as_str().context("StartExecution answered no ARN")?.to_string());
            started += 1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
        let mut still = Vec::new();
        for arn in running {
            let (_, reply) = conn.call("DescribeExecution", &json!({"executionArn": arn}).to_string()).await?;
            if serde_json::from_slice::<Value>(&reply)?["status"] == "RUNNING" {
                still.push(arn);
            }
        }
        running = still;
    }
    Ok(started)
}

/// The slowest `GET /health` and DescribeStateMachine answers, probing every 10 ms until `stop`.
async fn probe(addr: SocketAddr, arn: String, stop: Arc<AtomicBool>) -> anyhow::Result<(Duration, Duration)> {
    let mut conn = Connection::open(addr).await?;
    let describe = json!({"stateMachineArn": arn}).to_string();
    let (mut health, mut described) = (Duration::ZERO, Duration::ZERO);
    while !stop.load(Ordering::Relaxed) {
        let t = Instant::now();
        conn.get("/health").await?;
        health = health.max(t.elapsed());
        let t = Instant::now();
        conn.call("DescribeStateMachine", &describe).await?;
        described = described.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    Ok((health, described))
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn run(args: Args) -> anyhow::Result<()> {
    let sandbox = Sandbox::new(SandboxConfig {
        guest_threads: args.guest_threads,
        warm_instances: args.warm,
        demote_after: args.demote_after,
        ..SandboxConfig::default()
    })?;
    let registry = Registry::new(sandbox);
    let echo = stepbox_components::bytes("processed").context("the processed component")?;
    let spin = stepbox_components::bytes("hostile").context("the hostile component")?;
    registry.register("echo", &echo, Limits::default()).map_err(|e| anyhow::anyhow!("registering echo: {e}"))?;
    registry.register("spin", &spin, Limits::default()).map_err(|e| anyhow::anyhow!("registering spin: {e}"))?;

    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let state = AppState::in_memory(ServerConfig::default(), registry);
    let server = server_rt.block_on(RunningServer::start("127.0.0.1:0".parse()?, state))?;
    let addr = server.addr;
    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    client_rt.block_on(async {
        let quiet = create(addr, "neighbour", neighbour_definition(), "EXPRESS").await?;
        let spinning = create(addr, "attacker", attack_definition(), "STANDARD").await?;
        let phase = Duration::from_secs_f64(args.seconds);
        neighbour(addr, &quiet, Duration::from_millis(300)).await?;
        let alone = neighbour(addr, &quiet, phase).await?;

        let stop = Arc::new(AtomicBool::new(false));
        let attacker = tokio::spawn(attack(addr, spinning, stop.clone()));
        let prober = tokio::spawn(probe(addr, quiet.clone(), stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let attacked = neighbour(addr, &quiet, phase).await?;
        stop.store(true, Ordering::Relaxed);
        let started = attacker.await??;
        let (health, described) = prober.await??;
        report(&args, &alone, &attacked, started, health, described);
        anyhow::Ok(())
    })?;
    server_rt.block_on(server.shutdown())?;
    server_rt.shutdown_background();
    Ok(())
}

fn report(args: &Args, alone: &[Duration], attacked: &[Duration], started: usize, health: Duration, described: Duration) {
    let (a50, a99) = (percentile(alone, 0.5), percentile(alone, 0.99));
    let (u50, u99) = (percentile(attacked, 0.5), percentile(attacked, 0.99));
    let guests = if args.guest_threads { "guest threads past 1 ms" } else { "the server's runtime" };
    println!(
        "neighbour: Pass → Task → Succeed by StartSyncExecution in sequence, {} s alone ({} requests) and under attack ({}); guests on {guests}",
        args.seconds,
        alone.len(),
        attacked.len()
    );
    println!("attacker: {EXECUTIONS} executions of an {ITEMS}-item Map of infinite loops kept running ({started} started)");
    println!();
    println!("| | p50 ms | p99 ms |");
    println!("|---|---|---|");
    println!("| alone | {a50:.2} | {a99:.2} |");
    println!("| under attack | {u50:.2} | {u99:.2} |");
    println!("| ratio | {:.2}× | {:.2}× |", u50 / a50, u99 / a99);
    println!();
    let (h, d) = (health.as_secs_f64() * 1e3, described.as_secs_f64() * 1e3);
    println!("slowest answer under attack: GET /health {h:.2} ms, DescribeStateMachine {d:.2} ms");
    let result = json!({
        "guest_threads": args.guest_threads, "seconds": args.seconds,
        "requests": {"alone": alone.len(), "attacked": attacked.len()},
        "alone": {"p50_ms": a50, "p99_ms": a99}, "attacked": {"p50_ms": u50, "p99_ms": u99},
        "ratio": {"p50": u50 / a50, "p99": u99 / a99}, "slowest_health_ms": h, "slowest_describe_ms": d,
        "attacking_executions_started": started,
    });
    println!("\nBENCH_RESULT {result}");
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match parse_args().and_then(run) {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("stepbox-fairness-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
