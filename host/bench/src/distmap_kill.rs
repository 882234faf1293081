//! `stepbox-distmap-kill`: kill -9 of `stepbox serve` half-way through a
//! distributed Map of N items (100,000 by default) with STANDARD children,
//! then a restart on the same data directory. Each child calls an HTTP
//! endpoint of this program for its item (`GET /k/N`, counted per item) and
//! ResultWriter writes the children's outputs (JSONL, COMPACT) to a bucket.
//! Checks, after the run ends: it SUCCEEDED; every item's result is in the
//! result files exactly once; no child that had closed before the kill
//! called its endpoint again (a child running at the kill may: its call
//! had no durable answer yet). Prints the counts and times.
//!
//! ```text
//! stepbox-distmap-kill --stepbox target/release/stepbox [--items N] [--concurrency C] [--kill-at F]
//! ```

use std::collections::HashMap;
use std::io::{BufRead as _, Write as _};
use std::ffi::OsStr;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt as _, AsyncWriteExt as _, BufReader};

mod child;
mod http;
use child::Server;
use http::Connection;

const USAGE: &str = "usage: stepbox-distmap-kill --stepbox PATH [--items N] [--concurrency C] [--kill-at FRACTION]";
const BUCKET: &str = "bench";

struct Args {
    stepbox: PathBuf,
    items: usize,
    concurrency: usize,
    kill_at: f64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { stepbox: PathBuf::new(), items: 100_000, concurrency: 100, kill_at: 0.5 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--stepbox" => args.stepbox = value("--stepbox")?.into(),
            "--items" => args.items = value("--items")?.parse().context("--items")?,
            "--concurrency" => args.concurrency = value("--concurrency")?.parse().context("--concurrency")?,
            "--kill-at" => args.kill_at = value("--kill-at")?.parse().context("--kill-at")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    if args.stepbox.as_os_str().is_empty() {
        bail!("--stepbox is required\n{USAGE}");
    }
    if args.items == 0 || args.concurrency == 0 || !(0.0..1.0).contains(&args.kill_at) {
        bail!("--items and --concurrency must be positive, --kill-at within [0, 1)\n{USAGE}");
    }
    Ok(args)
}

/// Calls per item, answered by `GET /k/N` with `{"k": N}`.
struct Counter {
    calls: Vec<AtomicU32>,
    total: AtomicU64,
}

impl Counter {
    async fn serve(self: Arc<Self>) -> anyhow::Result<SocketAddr> {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let this = self.clone();
                tokio::spawn(async move {
                    let _ = this.connection(stream).await;
                });
            }
        });
        Ok(addr)
    }

    /// Keep-alive requests without bodies, one after the other.
    async fn connection(&self, stream: tokio::net::TcpStream) -> std::io::Result<()> {
        let mut stream = BufReader::new(stream);
        let mut line = String::new();
        loop {
            line.clear();
            if stream.read_line(&mut line).await? == 0 {
                return Ok(());
            }
            let n: Option<usize> = line.split_whitespace().nth(1).and_then(|p| p.strip_prefix("/k/")).and_then(|n| n.parse().ok());
            let mut header = String::new();
            loop {
                header.clear();
                if stream.read_line(&mut header).await? == 0 || header == "\r\n" || header == "\n" {
                    break;
                }
            }
            let (status, body) = match n.and_then(|n| self.calls.get(n).map(|c| (n, c))) {
                Some((n, c)) => {
                    c.fetch_add(1, Ordering::Relaxed);
                    self.total.fetch_add(1, Ordering::Relaxed);
                    ("200 OK", json!({"k": n}).to_string())
                }
                None => ("404 Not Found", "{}".to_string()),
            };
            let reply = format!("HTTP/1.1 {status}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}", body.len());
            stream.get_mut().write_all(reply.as_bytes()).await?;
        }
    }
}

fn definition(endpoint: SocketAddr, concurrency: usize) -> Value {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map",
        "MaxConcurrency": concurrency,
        "ItemReader": {"Resource": "arn:aws:states:::s3:getObject",
                       "ReaderConfig": {"InputType": "JSONL"},
                       "Parameters": {"Bucket": BUCKET, "Key": "items.jsonl"}},
        "ItemProcessor": {
            "ProcessorConfig": {"Mode": "DISTRIBUTED", "ExecutionType": "STANDARD"},
            "StartAt": "Call",
            "States": {"Call": {"Type": "Task", "Resource": "arn:aws:states:::http:invoke", "Parameters": {
                "ApiEndpoint.$": format!("States.Format('http://{endpoint}/k/{{}}', $.n)"),
                "Method": "GET",
                "Authentication": {"ConnectionArn": "arn:aws:events:us-east-1:111111111111:connection/c/1"}},
                "ResultSelector": {"k.$": "$.ResponseBody.k"}, "End": true}}
        },
        "ResultWriter": {"Resource": "arn:aws:states:::s3:putObject",
                         "WriterConfig": {"OutputType": "JSONL", "Transformation": "COMPACT"},
                         "Parameters": {"Bucket": BUCKET, "Prefix": "results"}},
        "End": true
    }}})
}

/// `stepbox serve` on `data` and `buckets`, its log appended to `log`.
fn serve(stepbox: &Path, data: &Path, buckets: &Path, log: &Path) -> anyhow::Result<Server> {
    let log = std::fs::OpenOptions::new().create(true).append(true).open(log)?;
    let args = [OsStr::new("--data"), data.as_os_str(), OsStr::new("--buckets"), buckets.as_os_str()];
    child::serve(stepbox, args, Stdio::from(log))
}

async fn call(addr: SocketAddr, op: &str, body: Value) -> anyhow::Result<Value> {
    let mut c = Connection::open(addr).await?;
    let (status, reply) = c.call(op, &body.to_string()).await?;
    let v: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    if status != 200 {
        bail!("{op}: HTTP {status}: {v}");
    }
    Ok(v)
}

/// The map run's children that had closed by `before` (epoch seconds), as item indexes.
async fn closed_before(addr: SocketAddr, run: &str, names: &HashMap<String, usize>, before: f64) -> anyhow::Result<Vec<usize>> {
    let mut out = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut req = json!({"mapRunArn": run, "maxResults": 1000});
        if let Some(t) = &token {
            req["nextToken"] = json!(t);
        }
        let page = call(addr, "ListExecutions", req).await?;
        for e in page["executions"].as_array().into_iter().flatten() {
            let stopped = e["stopDate"].as_f64();
            if e["status"] != "RUNNING" && stopped.is_some_and(|s| s < before) {
                let name = e["name"].as_str().unwrap_or_default();
                out.push(*names.get(name).with_context(|| format!("a child not of this run: {name}"))?);
            }
        }
        match page["nextToken"].as_str() {
            Some(t) => token = Some(t.to_string()),
            None => return Ok(out),
        }
    }
}

/// Each item's count in the result files the manifest lists.
fn results(buckets: &Path, manifest_key: &str, items: usize) -> anyhow::Result<Vec<u32>> {
    let manifest: Value = serde_json::from_slice(&std::fs::read(buckets.join(BUCKET).join(manifest_key))?)?;
    let mut seen = vec![0u32; items];
    for status in ["FAILED", "PENDING"] {
        if manifest["ResultFiles"][status].as_array().is_some_and(|a| !a.is_empty()) {
            bail!("the manifest lists {status} results: {manifest}");
        }
    }
    for f in manifest["ResultFiles"]["SUCCEEDED"].as_array().into_iter().flatten() {
        let key = f["Key"].as_str().context("a result file without a key")?;
        let file = std::io::BufReader::new(std::fs::File::open(buckets.join(BUCKET).join(key))?);
        for line in file.lines() {
            let v: Value = serde_json::from_str(&line?)?;
            let k = v["k"].as_u64().with_context(|| format!("a result without k: {v}"))? as usize;
            *seen.get_mut(k).with_context(|| format!("a result for no item: {v}"))? += 1;
        }
    }
    Ok(seen)
}

fn epoch_now() -> f64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0.0, |d| d.as_secs_f64())
}

async fn run(args: Args) -> anyhow::Result<bool> {
    let dir = tempfile_dir()?;
    let (data, buckets, log) = (dir.join("data"), dir.join("buckets"), dir.join("serve.log"));
    std::fs::create_dir_all(buckets.join(BUCKET))?;
    let mut items = std::io::BufWriter::new(std::fs::File::create(buckets.join(BUCKET).join("items.jsonl"))?);
    for i in 0..args.items {
        writeln!(items, "{{\"n\":{i}}}")?;
    }
    items.flush()?;
    drop(items);
    let counter = Arc::new(Counter { calls: (0..args.items).map(|_| AtomicU32::new(0)).collect(), total: AtomicU64::new(0) });
    let endpoint = counter.clone().serve().await?;

    let server = serve(&args.stepbox, &data, &buckets, &log)?;
    let created = call(server.addr, "CreateStateMachine", json!({"name": "distmap-kill",
        "definition": definition(endpoint, args.concurrency).to_string(), "roleArn": "arn:aws:iam::111111111111:role/bench"})).await?;
    let started = Instant::now();
    let execution = call(server.addr, "StartExecution", json!({"stateMachineArn": created["stateMachineArn"], "input": "{}"})).await?;
    let arn = execution["executionArn"].as_str().context("no executionArn")?.to_string();
    let threshold = (args.items as f64 * args.kill_at) as u64;
    while counter.total.load(Ordering::Relaxed) < threshold {
        if started.elapsed() > Duration::from_secs(3600) {
            bail!("fewer than {threshold} calls after an hour");
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut server = server;
    server.child.kill()?; // SIGKILL
    server.child.wait()?;
    let killed_at = epoch_now();
    let before_kill = started.elapsed();
    let calls_at_kill = counter.total.load(Ordering::Relaxed);
    drop(server);

    let restarted = Instant::now();
    let server = serve(&args.stepbox, &data, &buckets, &log)?;
    let describe = json!({"executionArn": arn});
    let (status, output) = loop {
        let d = call(server.addr, "DescribeExecution", describe.clone()).await?;
        if d["status"] != "RUNNING" {
            break (d["status"].as_str().unwrap_or_default().to_string(), d);
        }
        if restarted.elapsed() > Duration::from_secs(3600) {
            bail!("still running an hour after the restart");
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    let after_restart = restarted.elapsed();
    if status != "SUCCEEDED" {
        bail!("the execution ended {status}: {output}");
    }
    let out: Value = serde_json::from_str(output["output"].as_str().unwrap_or("null"))?;
    let run = out["MapRunArn"].as_str().context("no MapRunArn in the output")?.to_string();
    let manifest = out["ResultWriterDetails"]["Key"].as_str().context("no ResultWriterDetails in the output")?;
    let seen = results(&buckets, manifest, args.items)?;
    let names: HashMap<String, usize> = (0..args.items).map(|i| (stepbox_engine::map_runs::child_name(&run, i), i)).collect();
    let closed = closed_before(server.addr, &run, &names, killed_at).await?;

    let calls: Vec<u32> = counter.calls.iter().map(|c| c.load(Ordering::Relaxed)).collect();
    let missing = seen.iter().filter(|&&c| c == 0).count();
    let doubled = seen.iter().filter(|&&c| c > 1).count();
    let again: Vec<usize> = closed.iter().copied().filter(|&i| calls[i] > 1).collect();
    let called_twice = calls.iter().filter(|&&c| c > 1).count();
    let never_called = calls.iter().filter(|&&c| c == 0).count();
    println!("distributed Map, STANDARD children, {} items, MaxConcurrency {}:", args.items, args.concurrency);
    println!("  killed after {:.1} s at {calls_at_kill} calls; {} children had closed", before_kill.as_secs_f64(), closed.len());
    println!("  after the restart: SUCCEEDED in {:.1} s", after_restart.as_secs_f64());
    println!("  result files: {} items once, {missing} missing, {doubled} more than once", args.items - missing - doubled);
    println!("  calls: {} in all, {called_twice} items called twice (running at the kill), {never_called} never", calls.iter().map(|&c| u64::from(c)).sum::<u64>());
    println!("  children closed before the kill that called again: {}", again.len());
    let result = json!({"items": args.items, "concurrency": args.concurrency, "seconds_before_kill": before_kill.as_secs_f64(),
        "calls_at_kill": calls_at_kill, "closed_before_kill": closed.len(), "seconds_after_restart": after_restart.as_secs_f64(),
        "missing": missing, "doubled": doubled, "called_twice": called_twice, "closed_and_called_again": again.len()});
    println!("\nBENCH_RESULT {result}");
    let ok = missing == 0 && doubled == 0 && again.is_empty() && never_called == 0 && called_twice <= args.concurrency;
    if ok {
        let _ = std::fs::remove_dir_all(&dir);
    } else {
        println!("kept for a look: {}", dir.display());
    }
    Ok(ok)
}

fn tempfile_dir() -> anyhow::Result<PathBuf> {
    let dir = std::env::temp_dir().join(format!("stepbox-distmap-kill-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    Ok(dir)
}

fn main() -> std::process::ExitCode {
    let rt = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("stepbox-distmap-kill: {e}");
            return std::process::ExitCode::from(2);
        }
    };
    match parse_args().and_then(|a| rt.block_on(run(a))) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("stepbox-distmap-kill: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
