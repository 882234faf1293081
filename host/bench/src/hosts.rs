//! `stepbox-hosts-bench`: several `stepbox serve` processes on one
//! PostgreSQL database.
//!
//! 1. Durable W5 (Pass → Task → Succeed, Standard) started with
//!    StartExecution over HTTP, spread over 1, 2, 3… hosts on one database
//!    (each client connection talks to one host, in turn): executions/s
//!    until every one has durably finished.
//! 2. With `--takeover N`: three hosts, N executions looping on 1 s Waits
//!    started on the first, which is then killed with SIGKILL: how long
//!    after the kill each execution has written an event again on another
//!    host (first, median, last; its 1 s Waits included).
//!
//! Each figure is printed with the load average at its end (the machine is
//! shared). The hosts run the `stepbox` binary given, a database is made for
//! each run on the PostgreSQL server at `--database-url` (a user who may
//! create databases).
//!
//! ```text
//! stepbox-hosts-bench --stepbox PATH --database-url URL [--hosts 1,2,3]
//!     [--executions N] [--connections N] [--takeover N] [--lease-seconds S]
//! ```

use std::ffi::OsStr;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context as _, bail};
use serde_json::{Value, json};

mod child;
mod http;
use child::Server as Host;
use http::Connection;

const USAGE: &str = "usage: stepbox-hosts-bench --stepbox PATH --database-url URL [--hosts 1,2,3] \
                     [--executions N] [--connections N] [--takeover N] [--lease-seconds S]";
const ROLE: &str = "arn:aws:iam::111111111111:role/bench";

struct Args {
    stepbox: PathBuf,
    database_url: String,
    hosts: Vec<usize>,
    executions: usize,
    connections: usize,
    takeover: usize,
    lease_seconds: String,
}

fn parse_args() -> anyhow::Result<Args> {
    let (mut stepbox, mut database_url) = (None, None);
    let mut args = Args {
        stepbox: PathBuf::new(),
        database_url: String::new(),
        hosts: vec![1, 2, 3],
        executions: 5000,
        connections: 64,
        takeover: 0,
        lease_seconds: "10".into(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--stepbox" => stepbox = Some(PathBuf::from(value("--stepbox")?)),
            "--database-url" => database_url = Some(value("--database-url")?),
            "--executions" => args.executions = value("--executions")?.parse().context("--executions")?,
            "--connections" => args.connections = value("--connections")?.parse().context("--connections")?,
            "--takeover" => args.takeover = value("--takeover")?.parse().context("--takeover")?,
            "--lease-seconds" => args.lease_seconds = value("--lease-seconds")?,
            "--hosts" => {
                args.hosts = value("--hosts")?.split(',').map(|h| h.trim().parse()).collect::<Result<_, _>>().context("--hosts")?
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    args.stepbox = stepbox.context(USAGE)?;
    args.database_url = database_url.context(USAGE)?;
    Ok(args)
}

fn serve(args: &Args, url: &str, functions: &Path) -> anyhow::Result<Host> {
    let serve_args = [OsStr::new("--lease-seconds"), OsStr::new(&args.lease_seconds), OsStr::new("--database-url"), OsStr::new(url), OsStr::new("--functions"), functions.as_os_str()];
    child::serve(&args.stepbox, serve_args, Stdio::null())
}

async fn call(c: &mut Connection, op: &str, body: Value) -> anyhow::Result<Value> {
    let (status, reply) = c.call(op, &body.to_string()).await?;
    let v: Value = serde_json::from_slice(&reply).unwrap_or(Value::Null);
    if status != 200 {
        bail!("{op}: HTTP {status}: {v}");
    }
    Ok(v)
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").map(|l| l.split_whitespace().take(3).collect::<Vec<_>>().join(" ")).unwrap_or_default()
}

/// A new database for one run.
fn database(args: &Args, run: &str) -> anyhow::Result<String> {
    let name = format!("stepbox_hosts_bench_{}_{run}", std::process::id());
    Ok(stepbox_store::PostgresBackend::create_database(&args.database_url, &name)?)
}

async fn create_machine(c: &mut Connection, name: &str, definition: Value) -> anyhow::Result<String> {
    let created = call(c, "CreateStateMachine", json!({"name": name, "definition": definition.to_string(), "roleArn": ROLE})).await?;
    Ok(created["stateMachineArn"].as_str().context("stateMachineArn")?.to_string())
}

/// `n` StartExecution calls from `from` on, over `pool` (connections to the hosts in turn).
async fn drive(pool: Vec<Connection>, sm: &str, from: usize, n: usize) -> anyhow::Result<Vec<Connection>> {
    let next = Arc::new(AtomicUsize::new(from));
    let mut clients = tokio::task::JoinSet::new();
    for mut c in pool {
        let (next, sm) = (next.clone(), sm.to_string());
        clients.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= from + n {
                    return anyhow::Ok(c);
                }
                call(&mut c, "StartExecution", json!({"stateMachineArn": sm, "name": format!("e{i}"), "input": json!({"id": i}).to_string()}))
                    .await?;
            }
        });
    }
    let mut pool = Vec::new();
    while let Some(c) = clients.join_next().await {
        pool.push(c??);
    }
    Ok(pool)
}

/// Waits until no execution of the database at `store` runs.
async fn until_finished(store: &stepbox_store::Store) -> anyhow::Result<()> {
    while !store.running_executions()?.is_empty() {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    Ok(())
}

/// Durable W5 over HTTP on `hosts` hosts sharing one database.
async fn w5_on_hosts(args: &Args, functions: &Path, hosts: usize) -> anyhow::Result<f64> {
    let url = database(args, &format!("w5_{hosts}"))?;
    let servers: Vec<Host> = (0..hosts).map(|_| serve(args, &url, functions)).collect::<anyhow::Result<_>>()?;
    let mut first = Connection::open(servers[0].addr).await?;
    let definition = json!({"StartAt": "Prep", "States": {
        "Prep": {"Type": "Pass", "Parameters": {"id.$": "$.id", "greeting": "hello"}, "Next": "Work"},
        "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:processed", "Next": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let sm = create_machine(&mut first, "w5", definition).await?;
    let mut pool = Vec::new();
    for i in 0..args.connections {
        pool.push(Connection::open(servers[i % hosts].addr).await?);
    }
    // A store beside them, only to read the running index.
    let watcher = stepbox_store::open_postgres(&url)?;
    let warm = (args.executions / 10).max(1);
    pool = drive(pool, &sm, 0, warm).await?;
    until_finished(&watcher).await?;
    let started = Instant::now();
    drop(drive(pool, &sm, warm, args.executions).await?);
    until_finished(&watcher).await?;
    Ok(args.executions as f64 / started.elapsed().as_secs_f64())
}

fn epoch_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap_or_default().as_secs_f64()
}

/// Three hosts; `n` executions looping on 1 s Waits started on the first,
/// which is killed: seconds from the kill until each wrote an event again.
async fn takeover(args: &Args, functions: &Path, n: usize) -> anyhow::Result<Vec<f64>> {
    let url = database(args, "takeover")?;
    let mut servers: Vec<Host> = (0..3).map(|_| serve(args, &url, functions)).collect::<anyhow::Result<_>>()?;
    let mut first = Connection::open(servers[0].addr).await?;
    let looping = json!({"StartAt": "Tick", "States": {
        "Tick": {"Type": "Wait", "Seconds": 1, "Next": "Count"},
        "Count": {"Type": "Pass", "Parameters": {"n.$": "States.MathAdd($.n, 1)"}, "Next": "More"},
        "More": {"Type": "Choice", "Choices": [{"Variable": "$.n", "NumericLessThan": 600, "Next": "Tick"}], "Default": "Done"},
        "Done": {"Type": "Succeed"}
    }});
    let sm = create_machine(&mut first, "looping", looping).await?;
    let mut arns = Vec::new();
    for i in 0..n {
        let started = call(&mut first, "StartExecution", json!({"stateMachineArn": sm, "name": format!("l{i}"), "input": r#"{"n":0}"#})).await?;
        arns.push(started["executionArn"].as_str().context("executionArn")?.to_string());
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    let mut killed = servers.remove(0);
    killed.child.kill()?; // SIGKILL
    let killed_at = (Instant::now(), epoch_now());
    killed.child.wait()?;
    let mut other = Connection::open(servers[0].addr).await?;
    let mut resumed: Vec<Option<f64>> = vec![None; n];
    while resumed.iter().any(Option::is_none) {
        if killed_at.0.elapsed() > Duration::from_secs(300) {
            bail!("executions not resumed 300 s after the kill");
        }
        for (i, arn) in arns.iter().enumerate() {
            if resumed[i].is_some() {
                continue;
            }
            let history = call(&mut other, "GetExecutionHistory", json!({"executionArn": arn, "reverseOrder": true, "maxResults": 1})).await?;
            let last = history["events"][0]["timestamp"].as_f64().unwrap_or(0.0);
            if last > killed_at.1 {
                resumed[i] = Some(killed_at.0.elapsed().as_secs_f64());
            }
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let mut seconds: Vec<f64> = resumed.into_iter().flatten().collect();
    seconds.sort_by(f64::total_cmp);
    Ok(seconds)
}

fn main() -> anyhow::Result<()> {
    let args = parse_args()?;
    let functions = std::env::temp_dir().join(format!("stepbox-hosts-bench-{}", std::process::id()));
    stepbox_components::export_to(&functions)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    runtime.block_on(async {
        println!("durable W5 (Standard, StartExecution) over HTTP, {} executions, {} connections, lease {} s:", args.executions, args.connections, args.lease_seconds);
        for &hosts in &args.hosts {
            let rate = w5_on_hosts(&args, &functions, hosts).await?;
            println!("  {hosts} host(s) on one database: {rate:>8.0} executions/s until all durably finished (load average {})", load_average());
        }
        if args.takeover > 0 {
            let s = takeover(&args, &functions, args.takeover).await?;
            println!(
                "kill -9 of one of three hosts (lease {} s), {} executions it ran: written again elsewhere after first {:.2} s, median {:.2} s, last {:.2} s (1 s Waits included; load average {})",
                args.lease_seconds,
                s.len(),
                s[0],
                s[s.len() / 2],
                s[s.len() - 1],
                load_average()
            );
        }
        anyhow::Ok(())
    })?;
    let _ = std::fs::remove_dir_all(&functions);
    Ok(())
}
