//! Durable executions, measured in one run (`cargo bench -p stepbox-server --bench durable`):
//!
//! 1. W5 (Pass → Task → Succeed, the `processed` component) × N in process,
//!    at each level of concurrent clients (`STEPBOX_BENCH_LEVELS`, default
//!    64 and 256): in-memory Express (no history; a client waits for the
//!    result, as StartSyncExecution does) vs durable Standard on redb with
//!    group commit, started as the server starts it (`ExecutionJournal::begin`:
//!    the run starts at once, the client is answered once the execution
//!    record is durable, as StartExecution answers; every event written;
//!    executions/s counted until the last one's final status is committed),
//!    and the Standard figure when each client also waits for its
//!    execution's durable close.
//! 2. The same W5 through one durable server's HTTP API per level, as
//!    clients see it: StartSyncExecution of an Express state machine vs
//!    StartExecution of a Standard one (counted until all durably finished),
//!    that many keep-alive connections.
//! 3. 100,000 executions started over HTTP into a 1-hour Wait on a durable
//!    server: RSS once they all wait on timers (target ≤ 300 MiB).
//!
//! For 1 and 2 it prints each level's figures and then each kind's best
//! throughput over the levels and their ratio (target ≥ 0.5×): throughput
//! is what a kind sustains with enough clients. A durable start waits for a
//! commit (an fsync), so at 64 clients part of a durable run waits with
//! cores idle, which more clients fill; Express, bound by CPU alone, gains
//! little from them.
//!
//! `STEPBOX_BENCH_W5=N` and `STEPBOX_BENCH_WAITING=N` resize the runs;
//! `STEPBOX_BENCH_ONLY=express`, `=durable` or `=http` runs only that W5
//! figure (three times, no waiting run), for profilers (`=http-standard`:
//! the HTTP run's StartExecution half alone), at
//! `STEPBOX_BENCH_IN_FLIGHT=N` clients (default 64). With
//! `STEPBOX_BENCH_DATABASE_URL=postgres://…` (a user who may create
//! databases), `=http` also runs each round's durable W5 on PostgreSQL, on a
//! new database, right after the redb one.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stepbox_asl::StateMachine;
use stepbox_engine::{Engine, ExecutionOptions, ExecutionOutcome, ExecutionStatus, NullSink, Progress, TokioClock};
use stepbox_invoker::SandboxInvoker;
use stepbox_sandbox::{Limits, Registry, Sandbox, SandboxConfig};
use stepbox_server::durable::DurableConfig;
use stepbox_server::{AppState, RunningServer, ServerConfig};
use stepbox_store::{Begun, ExecutionJournal, ExecutionRecord, Store};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};

// The allocator `stepbox serve` runs with (see host/cli/src/main.rs), for
// both the Express and the durable figures.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn env_count(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn in_flight() -> usize {
    env_count("STEPBOX_BENCH_IN_FLIGHT", 64).max(1)
}

/// `STEPBOX_BENCH_ONLY=http-standard`: the HTTP run without its Express
/// half, for a profile of the durable path alone.
fn standard_only() -> bool {
    std::env::var("STEPBOX_BENCH_ONLY").is_ok_and(|v| v == "http-standard")
}

/// The numbers of clients the full run measures W5 at
/// (`STEPBOX_BENCH_LEVELS=64,256`): a durable start waits for a commit, so
/// at few clients part of a durable run is spent waiting on fsyncs with
/// cores idle; each kind's throughput is its best over these levels.
fn levels() -> Vec<usize> {
    let levels: Vec<usize> = std::env::var("STEPBOX_BENCH_LEVELS")
        .unwrap_or_else(|_| "64,256".into())
        .split(',')
        .filter_map(|l| l.trim().parse().ok())
        .filter(|&l| l > 0)
        .collect();
    if levels.is_empty() { vec![64, 256] } else { levels }
}

/// The best figure of each kind over the levels, and the level it came at.
#[derive(Default, Clone, Copy)]
struct Peak {
    rate: f64,
    clients: usize,
}

impl Peak {
    fn offer(&mut self, rate: f64, clients: usize) {
        if rate > self.rate {
            *self = Peak { rate, clients };
        }
    }
}

fn rss_mib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / 1024.0)
}

/// CPU time each group of this process's threads has run so far, in ns
/// (`/proc/self/task/*/schedstat`): on a loaded machine the CPU an execution
/// costs is steadier than the executions/s it reaches.
fn cpu_by_thread_group() -> std::collections::BTreeMap<&'static str, u64> {
    let mut groups = std::collections::BTreeMap::new();
    for task in std::fs::read_dir("/proc/self/task").into_iter().flatten().flatten() {
        let read = |f: &str| std::fs::read_to_string(task.path().join(f)).unwrap_or_default();
        let ran: u64 = read("schedstat").split_whitespace().next().and_then(|v| v.parse().ok()).unwrap_or(0);
        let group = match read("comm").trim() {
            "tokio-rt-worker" => "workers",
            "stepbox-store-w" => "writer",
            "stepbox-warm" => "preparer",
            _ => "other",
        };
        *groups.entry(group).or_insert(0) += ran;
    }
    groups
}

/// Bytes this process has handed to write system calls so far (`wchar` in
/// `/proc/self/io`): the store's page writes, which unlike CPU time hardly
/// move with the machine's load.
fn bytes_written() -> u64 {
    std::fs::read_to_string("/proc/self/io")
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("wchar:"))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(0)
}

/// CPU (and bytes written) accumulated over measured runs, per execution.
#[derive(Default)]
struct CpuPerExecution {
    nanos: std::collections::BTreeMap<&'static str, u64>,
    written: u64,
    executions: usize,
}

impl CpuPerExecution {
    async fn measure(&mut self, n: usize, run: impl std::future::Future<Output = f64>) -> f64 {
        let before = cpu_by_thread_group();
        let written = bytes_written();
        let rate = run.await;
        self.written += bytes_written().saturating_sub(written);
        for (group, after) in cpu_by_thread_group() {
            *self.nanos.entry(group).or_insert(0) += after.saturating_sub(before.get(group).copied().unwrap_or(0));
        }
        self.executions += n;
        rate
    }
    fn total_micros(&self) -> f64 {
        self.nanos.values().sum::<u64>() as f64 / self.executions.max(1) as f64 / 1e3
    }
    /// `total X µs (workers a, writer b, …)`, and the bytes written (over
    /// HTTP, requests and responses written to the loopback sockets too).
    fn describe(&self) -> String {
        let parts: Vec<String> = self
            .nanos
            .iter()
            .filter(|(_, ns)| **ns > 0)
            .map(|(g, ns)| format!("{g} {:.0}", *ns as f64 / self.executions.max(1) as f64 / 1e3))
            .collect();
        let written = match self.written as f64 / self.executions.max(1) as f64 {
            0.0 => String::new(),
            bytes => format!(", {bytes:.0} bytes written"),
        };
        format!("{:.0} µs ({}){written}", self.total_micros(), parts.join(", "))
    }
}

/// W5's definition text (what CreateStateMachine gets), made once: the
/// server too keeps it and clones it into each record.
fn w5_definition() -> String {
    static TEXT: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        json!({"StartAt": "Prep", "States": {
            "Prep": {"Type": "Pass", "Parameters": {"id.$": "$.id", "greeting": "hello"}, "Next": "Work"},
            "Work": {"Type": "Task", "Resource": "arn:aws:lambda:us-east-1:111111111111:function:processed", "Next": "Done"},
            "Done": {"Type": "Succeed"}
        }})
        .to_string()
    });
    TEXT.clone()
}

fn w5() -> Arc<StateMachine> {
    Arc::new(StateMachine::parse(&w5_definition()).expect("W5 parses"))
}

/// Execution names stay unique across the runs sharing one store.
static NEXT_RUN: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

fn record(i: usize) -> ExecutionRecord {
    let run = NEXT_RUN.load(std::sync::atomic::Ordering::Relaxed);
    ExecutionRecord {
        // Names in no order, as clients give them (UUIDs), not ascending.
        arn: format!(
            "arn:aws:states:us-east-1:111111111111:execution:w5:{:016x}-r{run}-e{i}",
            (i as u64 ^ 0x5bd1e995).wrapping_mul(0x9e37_79b9_7f4a_7c15)
        ),
        name: format!("e{i}"),
        state_machine_arn: "arn:aws:states:us-east-1:111111111111:stateMachine:w5".into(),
        status: "RUNNING".into(),
        input: json!({"id": i}).to_string(),
        output: None,
        error: None,
        cause: None,
        start_date: chrono::Utc::now(),
        stop_date: None,
        express: false,
        wake_at: None,
        // As the server records it: the text the execution runs.
        definition: w5_definition(),
        revision_id: String::new(),
        state_machine_version_arn: None,
        state_machine_alias_arn: None,
        extra: Default::default(),
    }
}

/// How long a durable W5 client waits before its next start.
#[derive(Clone, Copy, PartialEq)]
enum Slot {
    /// Until StartExecution would answer (the record is durable), as a client
    /// of AWS's asynchronous StartExecution does; the execution runs on its
    /// own task, as the server's `spawn_run` runs it.
    Start,
    /// Until the execution is durably closed.
    Close,
}

/// Runs `n` executions from `clients` clients, each starting its next
/// execution once the last one answered, as clients on their own connections
/// do (and as the server's request handlers run them: Express inline in the
/// handler until its result, durable Standard answered once its record is
/// durable, the run on a task of its own). Express runs in memory (`store`
/// None); returns executions/s, counted until the last one is finished
/// (durably closed).
async fn w5_run(engine: &Engine, n: usize, clients: usize, store: Option<(Store, Slot)>) -> f64 {
    NEXT_RUN.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let sm = w5();
    let next = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..clients {
        let (engine, sm, store, next) = (engine.clone(), sm.clone(), store.clone(), next.clone());
        tasks.spawn(async move {
            let mut runs = Vec::new();
            loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= n {
                    break;
                }
                let opts = ExecutionOptions {
                    name: format!("e{i}"),
                    state_machine_name: "w5".into(),
                    ..Default::default()
                };
                let input = json!({"id": i});
                match &store {
                    None => {
                        let outcome = engine.start(sm.clone(), input, opts, Arc::new(NullSink)).await;
                        assert_succeeded(&outcome);
                    }
                    Some((store, slot)) => {
                        // As the server's StartExecution: the run starts at once, the
                        // client is answered once the record is durable.
                        let Begun::Recording { journal, recorded } =
                            ExecutionJournal::begin(store, record(i)).expect("begin")
                        else {
                            panic!("a new execution name")
                        };
                        let run = tokio::spawn(durable_run(engine.clone(), sm.clone(), input, opts, journal, *slot));
                        recorded.await.expect("insert").expect("new execution");
                        match slot {
                            Slot::Start => runs.push(run),
                            Slot::Close => run.await.expect("execution task"),
                        }
                    }
                }
            }
            for run in runs {
                run.await.expect("execution task");
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.expect("client");
    }
    if let Some((store, _)) = &store {
        // Writes commit in order: once this one is durable, every close is.
        store.submit(|_| Ok(())).await.expect("last commit");
    }
    n as f64 / started.elapsed().as_secs_f64()
}

/// A W5 execution must succeed; a failure names its error and cause.
fn assert_succeeded(outcome: &ExecutionOutcome) {
    assert_eq!(outcome.status, ExecutionStatus::Succeeded, "{:?}: {:?}", outcome.error, outcome.cause);
}

/// A durable execution's run and close, as the server's `spawn_run` does it.
async fn durable_run(
    engine: Engine,
    sm: Arc<StateMachine>,
    input: Value,
    opts: ExecutionOptions,
    journal: ExecutionJournal,
    slot: Slot,
) {
    let journal = Arc::new(journal);
    let Progress::Finished(outcome) = engine.start_durable(sm, input, opts, journal.clone()).await
    else {
        panic!("W5 never suspends")
    };
    assert_succeeded(&outcome);
    let close = move |r: &mut ExecutionRecord| {
        r.status = outcome.status.as_str().into();
        r.output = outcome.output.as_ref().map(|o| o.to_string());
        r.stop_date = Some(outcome.stop_date);
    };
    // As the server closes an execution: its last events and status in one
    // write, nobody waiting (`w5_run` waits for all writes at the end),
    // unless the client waits for it.
    match slot {
        Slot::Start => journal.close_logged(close),
        Slot::Close => drop(journal.close(close).await.expect("close")),
    }
}

/// One keep-alive HTTP/1.1 connection speaking awsJson1_0.
struct Http {
    stream: BufReader<tokio::net::TcpStream>,
}

impl Http {
    async fn connect(addr: std::net::SocketAddr) -> Self {
        let stream = tokio::net::TcpStream::connect(addr).await.expect("connect");
        stream.set_nodelay(true).ok();
        Http {
            stream: BufReader::new(stream),
        }
    }
    async fn call(&mut self, op: &str, body: &Value) -> Value {
        let body = body.to_string();
        let req = format!(
            "POST / HTTP/1.1\r\nHost: bench\r\nContent-Type: application/x-amz-json-1.0\r\n\
             X-Amz-Target: AWSStepFunctions.{op}\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        );
        self.stream
            .get_mut()
            .write_all(req.as_bytes())
            .await
            .expect("send");
        let mut len = 0usize;
        let mut status = String::new();
        loop {
            let mut line = String::new();
            self.stream.read_line(&mut line).await.expect("read");
            if status.is_empty() {
                status = line.trim().to_string();
            }
            if let Some(v) = line.to_ascii_lowercase().strip_prefix("content-length:") {
                len = v.trim().parse().expect("content-length");
            }
            if line == "\r\n" {
                break;
            }
        }
        let mut buf = vec![0; len];
        self.stream.read_exact(&mut buf).await.expect("body");
        let v: Value = serde_json::from_slice(&buf).expect("JSON body");
        assert!(status.contains(" 200 "), "{op}: {status} {v}");
        v
    }
}

async fn waiting_rss(registry: Registry, n: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = stepbox_store::open_dir(dir.path()).expect("store");
    let before = rss_mib();
    let state = AppState::durable(
        ServerConfig::default(),
        registry,
        store,
        DurableConfig::default(),
    );
    state.recover().await.expect("recover");
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone())
        .await
        .expect("server");
    let mut http = Http::connect(server.addr).await;
    let def = json!({"StartAt": "Nap", "States": {"Nap": {"Type": "Wait", "Seconds": 3600, "End": true}}});
    let sm = http
        .call("CreateStateMachine", &json!({"name": "nap", "definition": def.to_string(), "roleArn": "arn:aws:iam::111111111111:role/r"}))
        .await;
    let sm_arn = sm["stateMachineArn"].as_str().expect("arn").to_string();
    let started = Instant::now();
    let workers = 16;
    let mut set = tokio::task::JoinSet::new();
    for w in 0..workers {
        let (addr, sm_arn) = (server.addr, sm_arn.clone());
        set.spawn(async move {
            let mut http = Http::connect(addr).await;
            for i in (w..n).step_by(workers) {
                let input =
                    json!({"order": i, "note": "a small payload kept on disk, not in memory"})
                        .to_string();
                http.call(
                    "StartExecution",
                    &json!({"stateMachineArn": sm_arn, "name": format!("nap-{i}"), "input": input}),
                )
                .await;
            }
        });
    }
    while let Some(r) = set.join_next().await {
        r.expect("client");
    }
    let durability = state.durability.clone();
    while durability.waiting() < n {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let elapsed = started.elapsed().as_secs_f64();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let after = rss_mib();
    println!(
        "waiting: {n} executions in a 1 h Wait: RSS {after:.0} MiB ({:+.0} MiB over {before:.0} MiB before the server; target ≤ 300 MiB); started in {elapsed:.1} s ({:.0}/s over HTTP)",
        after - before,
        n as f64 / elapsed
    );
    server.shutdown().await.ok();
}

/// W5 through a durable server's HTTP API, as clients see it: `n`
/// StartSyncExecution calls of an Express state machine, then `n`
/// StartExecution calls of the same definition as a Standard one (answered
/// once the record is durable), counted until the last has durably finished;
/// `connections` keep-alive connections, each sending one request after the
/// other. Returns executions/s of both and the CPU per execution.
async fn w5_http(registry: Registry, n: usize, connections: usize) -> ((f64, f64), (CpuPerExecution, CpuPerExecution)) {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = stepbox_store::open_dir(dir.path()).expect("store");
    w5_http_on(store, registry, n, connections).await
}

/// `STEPBOX_BENCH_DATABASE_URL`: a PostgreSQL server (a user who may create
/// databases) on which `=http` also runs each round's durable W5, on a new
/// database, right after the redb one.
fn bench_database() -> Option<String> {
    std::env::var("STEPBOX_BENCH_DATABASE_URL").ok().filter(|u| !u.is_empty())
}

/// [`w5_http`] on a new database of the PostgreSQL server at `admin_url`.
async fn w5_http_postgres(admin_url: &str, round: usize, registry: Registry, n: usize, connections: usize) -> ((f64, f64), (CpuPerExecution, CpuPerExecution)) {
    let name = format!("stepbox_bench_{}_{round}", std::process::id());
    let url = stepbox_store::PostgresBackend::create_database(admin_url, &name).expect("create the bench database");
    let store = stepbox_store::open_postgres(&url).expect("open the PostgreSQL store");
    w5_http_on(store, registry, n, connections).await
}

/// [`w5_http`] on `store`.
async fn w5_http_on(store: Store, registry: Registry, n: usize, connections: usize) -> ((f64, f64), (CpuPerExecution, CpuPerExecution)) {
    let state = AppState::durable(ServerConfig::default(), registry, store, DurableConfig::default());
    let server = RunningServer::start("127.0.0.1:0".parse().unwrap(), state.clone())
        .await
        .expect("server");
    let definition = w5_definition();
    let mut http = Http::connect(server.addr).await;
    let mut arns = Vec::new();
    for kind in ["EXPRESS", "STANDARD"] {
        let created = http
            .call(
                "CreateStateMachine",
                &json!({"name": format!("w5-{kind}"), "definition": definition, "type": kind,
                        "roleArn": "arn:aws:iam::111111111111:role/r"}),
            )
            .await;
        arns.push(created["stateMachineArn"].as_str().expect("arn").to_string());
    }
    /// `n` requests over the pool's connections; returns the pool.
    async fn drive(pool: Vec<Http>, op: &'static str, sm: &str, from: usize, n: usize) -> Vec<Http> {
        let next = Arc::new(std::sync::atomic::AtomicUsize::new(from));
        let mut clients = tokio::task::JoinSet::new();
        for mut http in pool {
            let (next, sm) = (next.clone(), sm.to_string());
            clients.spawn(async move {
                loop {
                    let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                    if i >= from + n {
                        break;
                    }
                    // Names in no order, as clients give them (UUIDs).
                    let name = format!("{:016x}-e{i}", (i as u64 ^ 0x5bd1e995).wrapping_mul(0x9e37_79b9_7f4a_7c15));
                    let body = json!({"stateMachineArn": sm, "name": name, "input": json!({"id": i}).to_string()});
                    let reply = http.call(op, &body).await;
                    if op == "StartSyncExecution" {
                        assert_eq!(reply["status"], "SUCCEEDED", "{reply}");
                    }
                }
                http
            });
        }
        let mut pool = Vec::new();
        while let Some(r) = clients.join_next().await {
            pool.push(r.expect("client"));
        }
        pool
    }
    // Connected before any clock starts: hundreds of connections opened at
    // once can overflow the listen backlog, and a dropped SYN is resent
    // only after a second.
    let mut pool = Vec::with_capacity(connections);
    for _ in 0..connections {
        pool.push(Http::connect(server.addr).await);
    }
    let durability = state.durability.clone();
    // Warm-up, then Express and Standard in turn, twice, the best of each.
    pool = drive(pool, "StartSyncExecution", &arns[0], 0, n / 10).await;
    pool = drive(pool, "StartExecution", &arns[1], 0, n / 10).await;
    let (mut express, mut standard) = (0f64, 0f64);
    let (mut express_cpu, mut standard_cpu) = (CpuPerExecution::default(), CpuPerExecution::default());
    for round in 1..=2 {
        let from = round * n;
        if !standard_only() {
            let sync = async {
                let started = Instant::now();
                pool = drive(std::mem::take(&mut pool), "StartSyncExecution", &arns[0], from, n).await;
                n as f64 / started.elapsed().as_secs_f64()
            };
            express = express.max(express_cpu.measure(n, sync).await);
        }
        let standard_run = async {
            let started = Instant::now();
            pool = drive(std::mem::take(&mut pool), "StartExecution", &arns[1], from, n).await;
            // Until every one has durably finished: all answered, so all
            // recorded; none left in the running index.
            while !durability.store.running_executions().await.expect("running").is_empty() {
                tokio::time::sleep(Duration::from_micros(500)).await;
            }
            n as f64 / started.elapsed().as_secs_f64()
        };
        standard = standard.max(standard_cpu.measure(n, standard_run).await);
    }
    drop(pool);
    let running = durability.store.running_executions().await.expect("running");
    assert!(running.is_empty(), "{} executions still RUNNING", running.len());
    server.shutdown().await.ok();
    ((express, standard), (express_cpu, standard_cpu))
}

/// `STEPBOX_BENCH_ONLY`: one kind of W5 run, three times, for a profiler.
async fn profile_one(registry: &Registry, only: &str, n: usize) -> anyhow::Result<()> {
    let engine = Engine::new(Arc::new(SandboxInvoker::new(registry.clone())), Arc::new(TokioClock));
    let dir = tempfile::tempdir()?;
    let backend = Arc::new(stepbox_store::RedbBackend::open(&dir.path().join("w5.redb"), 64 << 20)?);
    let stats = backend.stats().clone();
    let store = match only {
        "express" => None,
        "durable" => Some((Store::new(backend), Slot::Start)),
        "http" | "http-standard" => {
            for round in 0..3 {
                let ((e, d), (e_cpu, d_cpu)) = w5_http(registry.clone(), n, in_flight()).await;
                println!(
                    "W5 over HTTP ({n} executions, {} connections): express {e:.0}/s, durable {d:.0}/s = {:.2}x; CPU per execution express {}, durable {}",
                    in_flight(),
                    d / e,
                    e_cpu.describe(),
                    d_cpu.describe()
                );
                if let Some(url) = bench_database() {
                    let ((pe, pd), (_, pd_cpu)) = w5_http_postgres(&url, round, registry.clone(), n, in_flight()).await;
                    println!(
                        "  on PostgreSQL: express {pe:.0}/s, durable {pd:.0}/s = {:.2}x of express, {:.2}x of redb's durable; CPU per durable execution {} (this process only)",
                        pd / pe,
                        pd / d,
                        pd_cpu.describe()
                    );
                }
            }
            return Ok(());
        }
        other => anyhow::bail!("STEPBOX_BENCH_ONLY={other}: expected express, durable, http or http-standard"),
    };
    for _ in 0..3 {
        let mut cpu = CpuPerExecution::default();
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let before = (load(&stats.commits), load(&stats.ops));
        let rate = cpu.measure(n, w5_run(&engine, n, in_flight(), store.clone())).await;
        println!(
            "W5 {only} ({n} executions, {} clients): {rate:.0} executions/s; CPU per execution {}; {} commits, {} writes",
            in_flight(),
            cpu.describe(),
            load(&stats.commits) - before.0,
            load(&stats.ops) - before.1,
        );
    }
    Ok(())
}

/// Each kind's best throughput over the levels and their ratio: the target.
fn print_peaks(how: &str, express: Peak, durable: Peak) {
    println!(
        "W5 {how}, each kind at its best level: express {:.0}/s ({} clients), durable {:.0}/s ({} clients): ratio {:.2}x (target >= 0.5x)",
        express.rate,
        express.clients,
        durable.rate,
        durable.clients,
        durable.rate / express.rate
    );
}

fn main() -> anyhow::Result<()> {
    let n_w5 = env_count("STEPBOX_BENCH_W5", 10_000);
    let n_waiting = env_count("STEPBOX_BENCH_WAITING", 100_000);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let registry = Registry::new(sandbox);
    registry
        .register(
            "processed",
            &stepbox_components::bytes("processed")?,
            Limits::default(),
        )
        .map_err(|e| anyhow::anyhow!("registering processed: {e}"))?;
    let only = std::env::var("STEPBOX_BENCH_ONLY").ok();
    runtime.block_on(async {
        if let Some(only) = only {
            return profile_one(&registry, &only, n_w5).await;
        }
        // Measured first, on a fresh process (the W5 runs grow the allocator's pools).
        waiting_rss(registry.clone(), n_waiting).await;

        let engine = Engine::new(Arc::new(SandboxInvoker::new(registry.clone())), Arc::new(TokioClock));
        let dir = tempfile::tempdir().expect("tempdir");
        let backend = Arc::new(stepbox_store::RedbBackend::open(&dir.path().join("w5.redb"), 64 << 20)?);
        let stats = backend.stats().clone();
        let store = Store::new(backend);
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let best = |v: &[f64]| v.iter().cloned().fold(0.0, f64::max);
        let (mut express_peak, mut durable_peak) = (Peak::default(), Peak::default());
        for clients in levels() {
            // Warm-up, then alternate so all see the same machine state.
            w5_run(&engine, n_w5 / 10, clients, None).await;
            w5_run(&engine, n_w5 / 10, clients, Some((store.clone(), Slot::Close))).await;
            let (mut express, mut to_start, mut to_close) = (Vec::new(), Vec::new(), Vec::new());
            let (mut commits, mut ops, mut apply, mut commit) = (0, 0, 0, 0);
            let (mut express_cpu, mut durable_cpu) = (CpuPerExecution::default(), CpuPerExecution::default());
            for _ in 0..2 {
                express.push(express_cpu.measure(n_w5, w5_run(&engine, n_w5, clients, None)).await);
                let before = (load(&stats.commits), load(&stats.ops), load(&stats.apply_nanos), load(&stats.commit_nanos));
                let durable = w5_run(&engine, n_w5, clients, Some((store.clone(), Slot::Start)));
                to_start.push(durable_cpu.measure(n_w5, durable).await);
                commits += load(&stats.commits) - before.0;
                ops += load(&stats.ops) - before.1;
                apply += load(&stats.apply_nanos) - before.2;
                commit += load(&stats.commit_nanos) - before.3;
                to_close.push(w5_run(&engine, n_w5, clients, Some((store.clone(), Slot::Close))).await);
            }
            let (e, d, c) = (best(&express), best(&to_start), best(&to_close));
            express_peak.offer(e, clients);
            durable_peak.offer(d, clients);
            let per_commit = |nanos: u64| nanos as f64 / commits.max(1) as f64 / 1e3;
            println!("W5 in process ({n_w5} executions, {clients} clients, best of 2):");
            println!("  express, in memory:      {e:>8.0} executions/s (each client waits for the result)");
            println!(
                "  standard, durable redb:  {d:>8.0} executions/s until all durably finished (each client waits for its start to be durable; {} commits, {:.0} writes per commit)",
                commits / 2,
                ops as f64 / commits.max(1) as f64
            );
            println!(
                "  writer per commit:       {:.0} µs applying ops, {:.0} µs committing (page writes, fsync)",
                per_commit(apply),
                per_commit(commit)
            );
            println!("  ratio durable/express:   {:.2}x", d / e);
            println!(
                "  CPU per execution:       express {}; durable {}; express/durable {:.2}",
                express_cpu.describe(),
                durable_cpu.describe(),
                express_cpu.total_micros() / durable_cpu.total_micros()
            );
            println!("  standard, each client waiting for its execution's durable close: {c:.0} executions/s = {:.2}x", c / e);
        }
        print_peaks("in process", express_peak, durable_peak);

        let (mut express_peak, mut durable_peak) = (Peak::default(), Peak::default());
        for connections in levels() {
            let ((e, d), (e_cpu, d_cpu)) = w5_http(registry.clone(), n_w5, connections).await;
            express_peak.offer(e, connections);
            durable_peak.offer(d, connections);
            println!("W5 over HTTP ({n_w5} executions, {connections} keep-alive connections, best of 2):");
            println!("  express, StartSyncExecution:   {e:>8.0} executions/s");
            println!("  standard, StartExecution:      {d:>8.0} executions/s until all durably finished");
            println!("  ratio durable/express:         {:.2}x", d / e);
            println!("  CPU per execution:             express {}; durable {}", e_cpu.describe(), d_cpu.describe());
        }
        print_peaks("over HTTP", express_peak, durable_peak);
        anyhow::Ok(())
    })?;
    Ok(())
}
