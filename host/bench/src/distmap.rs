//! `stepbox-distmap-bench`: a DISTRIBUTED Map over N items (1,000,000 by
//! default) read from a JSONL object in a local bucket directory, each item an
//! EXPRESS child execution running W3's Task (the `processed` component,
//! lean build), its results written by ResultWriter (per-child entries, as
//! JSONL) to the same bucket: items/s from StartExecution to the parent's end
//! and the process's peak RSS during the run, against W3 (an INLINE Map of the
//! kit's 10,000 items, MaxConcurrency 40, the same Task) run on the same
//! server's engine before and after it.
//!
//! ```text
//! stepbox-distmap-bench [--bench-dir DIR] [--items N] [--concurrency C] [--w3-rounds R]
//! ```
//!
//! The server runs in process on a 2-worker tokio runtime (`serve --data DIR
//! --buckets DIR`, or `--in-memory`); the parent is started and polled over
//! HTTP on loopback.

use std::io::{BufRead as _, Write as _};
use std::path::{Path, PathBuf};
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

const USAGE: &str = "usage: stepbox-distmap-bench [--bench-dir DIR] [--items N] [--concurrency C] [--w3-rounds R] [--in-memory]";
/// The function W3's Task state invokes.
const FUNCTION: &str = "bench-echo";
const RESOURCE: &str = "arn:aws:lambda:us-east-1:123456789012:function:bench-echo";
const BUCKET: &str = "bench";

struct Args {
    bench_dir: Option<PathBuf>,
    items: usize,
    concurrency: usize,
    w3_rounds: usize,
    /// `serve --in-memory` instead of a data directory (`serve`'s default).
    in_memory: bool,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args {
        bench_dir: std::env::var_os("BENCH_DIR").filter(|d| !d.is_empty()).map(PathBuf::from),
        items: 1_000_000,
        concurrency: 40,
        w3_rounds: 3,
        in_memory: false,
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bench-dir" => args.bench_dir = Some(value("--bench-dir")?.into()),
            "--items" => args.items = value("--items")?.parse().context("--items")?,
            "--concurrency" => args.concurrency = value("--concurrency")?.parse().context("--concurrency")?,
            "--w3-rounds" => args.w3_rounds = value("--w3-rounds")?.parse().context("--w3-rounds")?,
            "--in-memory" => args.in_memory = true,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if args.items == 0 || args.concurrency == 0 || args.w3_rounds == 0 {
        bail!("--items, --concurrency and --w3-rounds must be positive\n{USAGE}");
    }
    Ok(args)
}

/// The distributed Map: items from `s3://bench/items.jsonl`, EXPRESS
/// children running W3's Task, results under `s3://bench/results/`.
fn definition(concurrency: usize) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "MaxConcurrency": concurrency,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": BUCKET, "Key": "items.jsonl"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "EXPRESS"},
            "StartAt": "Work",
            "States": {"Work": {"Type": "Task", "Resource": RESOURCE, "End": true}}
        },
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "WriterConfig": {"OutputType": "JSONL"},
                         "Parameters": {"Bucket": BUCKET, "Prefix": "results"}},
        "End": true
    }}})
}

/// The process's user and system CPU time so far, in seconds.
fn cpu_seconds() -> f64 {
    // SAFETY: getrusage writes the struct it is given and nothing else.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    if unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut u) } != 0 {
        return f64::NAN;
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(u.ru_utime) + secs(u.ru_stime)
}

/// `/proc/self/status`'s `field` in KiB.
fn status_kib(field: &str) -> Option<u64> {
    let text = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = text.lines().find(|l| l.starts_with(field))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Resets the peak RSS (VmHWM) to the current RSS.
fn reset_peak_rss() -> bool {
    std::fs::write("/proc/self/clear_refs", "5").is_ok()
}

fn write_items(path: &Path, n: usize) -> anyhow::Result<()> {
    let mut out = std::io::BufWriter::new(std::fs::File::create(path)?);
    for i in 0..n {
        writeln!(out, "{{\"id\":{i}}}")?;
    }
    out.flush()?;
    Ok(())
}

/// Lines of the SUCCEEDED results file the manifest `key` lists (and that none failed).
fn results_written(buckets: &Path, manifest_key: &str) -> anyhow::Result<usize> {
    let manifest: Value = serde_json::from_slice(&std::fs::read(buckets.join(BUCKET).join(manifest_key))?)?;
    let files = &manifest["ResultFiles"];
    for status in ["FAILED", "PENDING"] {
        if files[status].as_array().is_some_and(|a| !a.is_empty()) {
            bail!("the manifest lists {status} results: {manifest}");
        }
    }
    let mut lines = 0;
    for f in files["SUCCEEDED"].as_array().into_iter().flatten() {
        let key = f["Key"].as_str().context("a result file without a key")?;
        let file = std::io::BufReader::new(std::fs::File::open(buckets.join(BUCKET).join(key))?);
        for (i, line) in file.lines().enumerate() {
            let line = line?;
            if i == 0 && !line.contains("processed") {
                bail!("the first result has no output of the Task: {line}");
            }
            lines += 1;
        }
    }
    Ok(lines)
}

/// Starts the parent and polls it until it ends: its status, output (else
/// its description), wall time, and when its map run's children had all
/// closed (as DescribeMapRun counts them).
async fn run_parent(addr: std::net::SocketAddr, machine: &str, items: usize) -> anyhow::Result<(String, Value, Duration, Option<Duration>)> {
    let mut conn = Connection::open(addr).await?;
    let start = json!({"stateMachineArn": machine, "input": "{}"}).to_string();
    let started = Instant::now();
    let (status, reply) = conn.call("StartExecution", &start).await?;
    if status != 200 {
        bail!("StartExecution answered {status}: {}", String::from_utf8_lossy(&reply));
    }
    let arn = serde_json::from_slice::<Value>(&reply)?["executionArn"].clone();
    let describe = json!({"executionArn": arn}).to_string();
    let mut children_closed = None;
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        if children_closed.is_none() && closed_items(&mut conn, &describe).await? >= items as u64 {
            children_closed = Some(started.elapsed());
        }
        let (_, reply) = conn.call("DescribeExecution", &describe).await?;
        let d: Value = serde_json::from_slice(&reply)?;
        let status = d["status"].as_str().unwrap_or_default().to_string();
        if status != "RUNNING" {
            let wall = started.elapsed();
            let output = d["output"].as_str().and_then(|o| serde_json::from_str(o).ok()).unwrap_or(Value::Null);
            return Ok((status, if output.is_null() { d } else { output }, wall, children_closed));
        }
    }
}

/// How many items the execution's map run has closed (0 before it has one).
async fn closed_items(conn: &mut Connection, execution: &str) -> anyhow::Result<u64> {
    let (_, reply) = conn.call("ListMapRuns", execution).await?;
    let runs: Value = serde_json::from_slice(&reply)?;
    let Some(run) = runs["mapRuns"][0]["mapRunArn"].as_str() else { return Ok(0) };
    let (_, reply) = conn.call("DescribeMapRun", &json!({"mapRunArn": run}).to_string()).await?;
    let counts = serde_json::from_slice::<Value>(&reply)?["itemCounts"].clone();
    Ok(["succeeded", "failed", "timedOut", "aborted"].iter().filter_map(|k| counts[k].as_u64()).sum())
}

fn run(args: Args) -> anyhow::Result<bool> {
    let Some(bench_dir) = &args.bench_dir else {
        bail!("no benchmark kit: pass --bench-dir DIR or set BENCH_DIR (the directory holding workloads/w3-map-fanout.asl.json)\n{USAGE}");
    };
    let workloads = bench_dir.join("workloads");
    let w3_text = std::fs::read_to_string(workloads.join("w3-map-fanout.asl.json")).context("reading W3")?;
    let w3_input: Value = serde_json::from_str(&std::fs::read_to_string(workloads.join("w3-map-fanout.input.json"))?)?;
    let w3_items = w3_input["items"].as_array().map_or(0, Vec::len);
    let w3 = Arc::new(StateMachine::parse(&w3_text).map_err(|d| anyhow::anyhow!("W3 definition: {d:?}"))?);

    let buckets = std::env::temp_dir().join(format!("stepbox-distmap-bench-{}", std::process::id()));
    std::fs::create_dir_all(buckets.join(BUCKET))?;
    write_items(&buckets.join(BUCKET).join("items.jsonl"), args.items)?;
    let result = measure(&args, &buckets, w3, w3_input, w3_items);
    let _ = std::fs::remove_dir_all(&buckets);
    result
}

fn measure(args: &Args, buckets: &Path, w3: Arc<StateMachine>, w3_input: Value, w3_items: usize) -> anyhow::Result<bool> {
    let registry = Registry::new(Sandbox::new(SandboxConfig::default())?);
    let wasm = stepbox_components::bytes("processed_lean").context("reading the processed_lean component")?;
    registry.register(FUNCTION, &wasm, Limits::default()).map_err(|e| anyhow::anyhow!("registering {FUNCTION}: {e}"))?;
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let config = ServerConfig { buckets: Some(buckets.to_path_buf()), ..ServerConfig::default() };
    let _inside = server_rt.enter();
    let mut kept_store = None;
    let state = if args.in_memory {
        AppState::in_memory(config, registry)
    } else {
        let store = stepbox_store::open_dir(&buckets.join("data"))?;
        kept_store = Some(store.clone());
        let state = AppState::durable(config, registry, store, stepbox_server::durable::DurableConfig::default());
        server_rt.block_on(state.recover())?;
        state
    };
    let server = server_rt.block_on(RunningServer::start("127.0.0.1:0".parse()?, state.clone()))?;
    let addr = server.addr;
    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;

    // W3 on the server's engine: items/s of one execution, rounds in sequence
    // (and the process's CPU time per item, in `w3_cpu`).
    let w3_cpu = std::sync::Mutex::new(Vec::new());
    let inline_w3 = |rounds: usize| -> Vec<f64> {
        let (engine, w3, input, w3_cpu) = (state.engine.clone(), w3.clone(), w3_input.clone(), &w3_cpu);
        server_rt.block_on(async move {
            let mut rates = Vec::new();
            for i in 0..rounds {
                let options = ExecutionOptions { name: format!("w3-{i}"), state_machine_name: "w3".into(), ..Default::default() };
                let (started, cpu) = (Instant::now(), cpu_seconds());
                let outcome = engine.start(w3.clone(), input.clone(), options, Arc::new(NullSink)).await;
                let rate = w3_items as f64 / started.elapsed().as_secs_f64();
                w3_cpu.lock().unwrap().push((cpu_seconds() - cpu) / w3_items as f64);
                let count = outcome.output.as_ref().and_then(|o| o["count"].as_u64());
                if outcome.status != ExecutionStatus::Succeeded || count != Some(w3_items as u64) {
                    rates.push(f64::NAN);
                } else {
                    rates.push(rate);
                }
            }
            rates
        })
    };
    inline_w3(1);
    w3_cpu.lock().unwrap().clear();
    let mut w3_rates = inline_w3(args.w3_rounds);

    let create = json!({"name": "distmap", "definition": definition(args.concurrency).to_string(),
                        "roleArn": "arn:aws:iam::111111111111:role/bench"});
    let (status, reply) = client_rt.block_on(async { Connection::open(addr).await?.call("CreateStateMachine", &create.to_string()).await })?;
    if status != 200 {
        bail!("CreateStateMachine answered {status}: {}", String::from_utf8_lossy(&reply));
    }
    let machine = serde_json::from_slice::<Value>(&reply)?["stateMachineArn"].as_str().unwrap_or_default().to_string();
    let rss_before = status_kib("VmRSS:").unwrap_or(0);
    let reset = reset_peak_rss();
    let cpu = cpu_seconds();
    let (status, output, wall, children_closed) = client_rt.block_on(run_parent(addr, &machine, args.items))?;
    let run_cpu = (cpu_seconds() - cpu) / args.items as f64;
    let peak = status_kib("VmHWM:").unwrap_or(0);
    // The parent's finished parts are deleted after its close, in writes of
    // their own: W3 runs again once they are.
    let swept = Instant::now();
    while kept_store.as_ref().is_some_and(|s| s.sweeps_left().unwrap_or(0) > 0) && swept.elapsed() < Duration::from_secs(120) {
        std::thread::sleep(Duration::from_millis(20));
    }
    let swept = swept.elapsed();
    w3_rates.extend(inline_w3(args.w3_rounds));
    server_rt.block_on(server.shutdown())?;
    server_rt.shutdown_background();

    if status != "SUCCEEDED" {
        bail!("the distributed Map ended {status}: {output}");
    }
    let manifest = output["ResultWriterDetails"]["Key"].as_str().context("no ResultWriterDetails in the output")?;
    let written = results_written(buckets, manifest)?;
    let rate = args.items as f64 / wall.as_secs_f64();
    let w3_ok = w3_rates.iter().all(|r| r.is_finite());
    let w3_mean = w3_rates.iter().sum::<f64>() / w3_rates.len() as f64;
    let rates: Vec<String> = w3_rates.iter().map(|r| format!("{r:.0}")).collect();
    let store = if args.in_memory { "in memory" } else { "durable store" };
    println!("distributed Map, EXPRESS children, {} items from JSONL, MaxConcurrency {}, {store}:", args.items, args.concurrency);
    println!("  {:.1} s, {rate:.0} items/s; {written} results written", wall.as_secs_f64());
    if let Some(closed) = children_closed {
        println!("  its children all closed {:.1} s after the start; the result files and the close took {:.1} s more", closed.as_secs_f64(), (wall - closed).as_secs_f64());
    }
    println!("  the parent's finished parts deleted {:.1} s after its end", swept.as_secs_f64());
    println!("  peak RSS during the run {:.0} MiB (RSS before it {:.0} MiB{})", peak as f64 / 1024.0, rss_before as f64 / 1024.0,
        if reset { "" } else { "; peak not reset: the process's peak" });
    println!("inline W3 ({w3_items} items, rounds before and after): {} items/s", rates.join(", "));
    println!("ratio distributed ÷ inline W3: {:.2}× (target ≥ 0.8×), peak RSS target ≤ 300 MiB", rate / w3_mean);
    let w3_cpu = w3_cpu.into_inner().unwrap();
    let w3_cpu_mean = w3_cpu.iter().sum::<f64>() / w3_cpu.len().max(1) as f64;
    println!("process CPU per item: distributed {:.1} µs, inline W3 {:.1} µs (ratio {:.2}×: a measure the other programs running on the machine move less)",
        run_cpu * 1e6, w3_cpu_mean * 1e6, w3_cpu_mean / run_cpu);
    let result = json!({
        "items": args.items, "concurrency": args.concurrency, "in_memory": args.in_memory, "seconds": wall.as_secs_f64(), "items_per_s": rate, "cpu_us_per_item": run_cpu * 1e6, "w3_cpu_us_per_item": w3_cpu_mean * 1e6,
        "results_written": written, "peak_rss_mib": peak as f64 / 1024.0, "rss_before_mib": rss_before as f64 / 1024.0,
        "w3_items_per_s": w3_rates, "ratio_to_w3": rate / w3_mean,
    });
    println!("\nBENCH_RESULT {result}");
    Ok(written == args.items && w3_ok)
}

// As the other benchmarks: every Task invocation builds and frees a wasmtime store.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match parse_args().and_then(run) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("stepbox-distmap-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
