//! `stepbox-tenants-bench`: is a tenant slowed down, or throttled, by
//! another that floods its own quota? Two tenants on one server with
//! `--tenants` (every request SigV4-signed): tenant B (`globex`) runs W5
//! (Pass → Task → Succeed, Express) by StartSyncExecution, one request after
//! the other on one keep-alive connection, for `--seconds` (7) alone and then
//! as long again while tenant A (`acme`, `concurrent_invocations = 8`) keeps
//! a Standard execution of a 72-item Map of infinite loops running: 8 guests
//! spin and 64 invocations wait for A's slots (the first guest to reach the
//! function's 3 s timeout fails the Map, and A starts another). B's
//! `start_rate` is raised out of the way of its back-to-back requests: the
//! question is whether A's flood throttles B. `GET /metrics` is sampled every 100 ms during the attack for
//! A's queue depth and B's throttles. Prints B's p50/p99 alone and under
//! attack, their ratio, A's queue depth and B's failures and throttles.
//!
//! ```text
//! stepbox-tenants-bench [--bench-dir DIR] [--seconds S]
//! ```

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context as _, bail};
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{SignableBody, SignableRequest, SigningSettings, sign};
use aws_sigv4::sign::v4;
use serde_json::{Value, json};
use stepbox_sandbox::{Registry, Sandbox, SandboxConfig};
use stepbox_server::tenants::{TenantSet, TenantsConfig};
use stepbox_server::{AppState, RunningServer, ServerConfig};

mod http;
use http::Connection;

const USAGE: &str = "usage: stepbox-tenants-bench [--bench-dir DIR] [--seconds S]";
/// A's slots, and the invocations it keeps waiting for them.
const QUOTA: usize = 8;
const QUEUED: usize = 64;

const TENANTS: &str = r#"
[[tenant]]
name = "acme"
account = "111111111111"
keys = [{ access_key_id = "AKIDACME0001", secret_access_key = "acme-secret" }]
[tenant.quotas]
concurrent_invocations = 8

[[tenant]]
name = "globex"
account = "222222222222"
keys = [{ access_key_id = "AKIDGLOBEX01", secret_access_key = "globex-secret" }]
[tenant.quotas]
start_rate = 1000000
"#;

/// A tenant's key and account.
#[derive(Clone, Copy)]
struct Tenant {
    id: &'static str,
    secret: &'static str,
    account: &'static str,
}

const ACME: Tenant = Tenant { id: "AKIDACME0001", secret: "acme-secret", account: "111111111111" };
const GLOBEX: Tenant = Tenant { id: "AKIDGLOBEX01", secret: "globex-secret", account: "222222222222" };

struct Args {
    bench_dir: Option<PathBuf>,
    seconds: f64,
}

fn parse_args() -> anyhow::Result<Args> {
    let mut args = Args { bench_dir: std::env::var_os("BENCH_DIR").filter(|d| !d.is_empty()).map(PathBuf::from), seconds: 7.0 };
    let mut it = std::env::args().skip(1);
    while let Some(arg) = it.next() {
        let mut value = |name: &str| it.next().with_context(|| format!("{name} needs a value\n{USAGE}"));
        match arg.as_str() {
            "--bench-dir" => args.bench_dir = Some(value("--bench-dir")?.into()),
            "--seconds" => args.seconds = value("--seconds")?.parse().context("--seconds")?,
            "-h" | "--help" => {
                println!("{USAGE}");
                std::process::exit(0);
            }
            other => bail!("unknown argument {other}\n{USAGE}"),
        }
    }
    Ok(args)
}

/// A connection whose requests are signed with one tenant's key.
struct Signed {
    conn: Connection,
    host: String,
    tenant: Tenant,
}

impl Signed {
    async fn open(addr: SocketAddr, tenant: Tenant) -> anyhow::Result<Self> {
        Ok(Signed { conn: Connection::open(addr).await?, host: addr.to_string(), tenant })
    }

    /// `method path` with `headers` and `body`, signed for `service` as an SDK signs.
    async fn request(&mut self, service: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> anyhow::Result<(u16, Vec<u8>)> {
        let identity = Credentials::new(self.tenant.id, self.tenant.secret, None, None, "bench").into();
        let params = v4::SigningParams::builder()
            .identity(&identity)
            .region("us-east-1")
            .name(service)
            .time(SystemTime::now())
            .settings(SigningSettings::default())
            .build()?
            .into();
        let url = format!("http://{}{path}", self.host);
        let mut all = vec![("host", self.host.as_str())];
        all.extend_from_slice(headers);
        let signable = SignableRequest::new(method, &url, all.iter().copied(), SignableBody::Bytes(body))?;
        let (instructions, _) = sign(signable, &params)?.into_parts();
        let mut head = format!("{method} {path} HTTP/1.1");
        for (k, v) in all.iter().copied().chain(instructions.headers()) {
            head.push_str(&format!("\r\n{k}: {v}"));
        }
        self.conn.send(&head, body).await
    }

    /// A Step Functions operation; its answer as JSON, or the error.
    async fn call(&mut self, operation: &str, body: &Value) -> anyhow::Result<(u16, Value)> {
        let target = format!("AWSStepFunctions.{operation}");
        let headers = [("content-type", "application/x-amz-json-1.0"), ("x-amz-target", target.as_str())];
        let (status, reply) = self.request("states", "POST", "/", &headers, body.to_string().as_bytes()).await?;
        Ok((status, serde_json::from_slice(&reply).unwrap_or(Value::Null)))
    }

    /// A call that must answer 200.
    async fn ok(&mut self, operation: &str, body: &Value) -> anyhow::Result<Value> {
        match self.call(operation, body).await? {
            (200, v) => Ok(v),
            (status, v) => bail!("{operation} answered {status}: {v}"),
        }
    }

    /// CreateFunction of component `component` as `name`.
    async fn create_function(&mut self, name: &str, component: &str) -> anyhow::Result<()> {
        let wasm = stepbox_components::bytes(component).with_context(|| format!("the {component} component"))?;
        let body = json!({"FunctionName": name, "Role": role(self.tenant), "Runtime": "provided.al2023",
            "Handler": "component", "Timeout": 3, "Code": {"ZipFile": stepbox_asl::base64::encode(&wasm)}});
        let headers = [("content-type", "application/json")];
        let (status, reply) = self.request("lambda", "POST", "/2015-03-31/functions", &headers, body.to_string().as_bytes()).await?;
        if status != 201 {
            bail!("CreateFunction {name} answered {status}: {}", String::from_utf8_lossy(&reply));
        }
        Ok(())
    }

    async fn create_machine(&mut self, name: &str, definition: &str, kind: &str) -> anyhow::Result<String> {
        let body = json!({"name": name, "definition": definition, "roleArn": role(self.tenant), "type": kind});
        let v = self.ok("CreateStateMachine", &body).await?;
        Ok(v["stateMachineArn"].as_str().context("no ARN")?.to_string())
    }
}

fn role(t: Tenant) -> String {
    format!("arn:aws:iam::{}:role/bench", t.account)
}

/// A's flood: a Map of `QUOTA + QUEUED` infinite loops at once.
fn flood_definition() -> String {
    json!({"StartAt": "Fan", "States": {"Fan": {
        "Type": "Map", "ItemsPath": "$.items", "MaxConcurrency": 0,
        "ItemProcessor": {"StartAt": "Spin", "States": {"Spin": {
            "Type": "Task", "Resource": format!("arn:aws:lambda:us-east-1:{}:function:spin", ACME.account),
            "Parameters": {"attack": "loop"}, "End": true}}},
        "End": true}}})
    .to_string()
}

/// B's W5 latencies (sorted) for `phase`, and how many requests failed or were throttled.
async fn neighbour(addr: SocketAddr, body: &Value, phase: Duration) -> anyhow::Result<(Vec<Duration>, usize)> {
    let mut conn = Signed::open(addr, GLOBEX).await?;
    let (mut latencies, mut failed) = (Vec::new(), 0);
    let started = Instant::now();
    while started.elapsed() < phase {
        let t = Instant::now();
        let (status, v) = conn.call("StartSyncExecution", body).await?;
        latencies.push(t.elapsed());
        if status != 200 || v["status"] != "SUCCEEDED" {
            failed += 1;
            eprintln!("B's execution did not succeed: {status} {v}");
        }
    }
    latencies.sort();
    Ok((latencies, failed))
}

/// Keeps one flood execution running until `stop`; how many it started.
async fn flood(addr: SocketAddr, arn: String, stop: Arc<AtomicBool>) -> anyhow::Result<usize> {
    let mut conn = Signed::open(addr, ACME).await?;
    let start = json!({"stateMachineArn": arn, "input": json!({"items": vec![0; QUOTA + QUEUED]}).to_string()});
    let (mut running, mut started) = (None::<String>, 0);
    while !stop.load(Ordering::Relaxed) {
        if running.is_none() {
            let v = conn.ok("StartExecution", &start).await?;
            running = Some(v["executionArn"].as_str().context("no execution ARN")?.to_string());
            started += 1;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
        if let Some(arn) = &running {
            let d = conn.ok("DescribeExecution", &json!({"executionArn": arn})).await?;
            if d["status"] != "RUNNING" {
                running = None;
            }
        }
    }
    if let Some(arn) = running {
        conn.ok("StopExecution", &json!({"executionArn": arn})).await?;
    }
    Ok(started)
}

/// One sample of `name{tenant="…"…}` in a `GET /metrics` exposition (0 when absent).
fn sample(text: &str, name: &str, tenant: &str, extra: &str) -> f64 {
    let prefix = format!("{name}{{tenant=\"{tenant}\",");
    text.lines()
        .filter(|l| l.starts_with(&prefix) && l.contains(extra))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<f64>().ok())
        .fold(0.0, |sum, v| sum + v)
}

/// A's queue depth every 100 ms until `stop` (loopback: unsigned).
async fn watch_queue(addr: SocketAddr, stop: Arc<AtomicBool>) -> anyhow::Result<Vec<f64>> {
    let mut conn = Connection::open(addr).await?;
    let mut depths = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let (_, body) = conn.get("/metrics").await?;
        depths.push(sample(&String::from_utf8_lossy(&body), "stepbox_invocations_queued", "acme", ""));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    depths.sort_by(f64::total_cmp);
    Ok(depths)
}

fn percentile(sorted: &[Duration], p: f64) -> f64 {
    let i = ((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i].as_secs_f64() * 1e3
}

fn run(args: Args) -> anyhow::Result<bool> {
    let Some(bench_dir) = &args.bench_dir else {
        bail!("no benchmark kit: pass --bench-dir DIR or set BENCH_DIR to the shared benchmark kit (the directory holding workloads/w5-small.asl.json)\n{USAGE}");
    };
    let workloads = bench_dir.join("workloads");
    let w5 = std::fs::read_to_string(workloads.join("w5-small.asl.json"))
        .with_context(|| format!("reading W5 from {}", workloads.display()))?;
    let input = std::fs::read_to_string(workloads.join("w5-small.input.json"))?;
    // W5's Task names its kit's account: B's function is in B's.
    let w5 = w5.replace(":123456789012:", &format!(":{}:", GLOBEX.account));

    let tenants = TenantSet::fixed(TenantsConfig::parse(TENANTS).map_err(|e| anyhow::anyhow!("{e}"))?);
    let config = ServerConfig { tenants: Some(Arc::new(tenants)), ..ServerConfig::default() };
    let registry = Registry::new(Sandbox::new(SandboxConfig::default())?);
    let server_rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?;
    let server = server_rt.block_on(RunningServer::start("127.0.0.1:0".parse()?, AppState::in_memory(config, registry)))?;
    let addr = server.addr;
    let client_rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let outcome = client_rt.block_on(async {
        let mut a = Signed::open(addr, ACME).await?;
        a.create_function("spin", "hostile").await?;
        let flood_arn = a.create_machine("flood", &flood_definition(), "STANDARD").await?;
        let mut b = Signed::open(addr, GLOBEX).await?;
        b.create_function("bench-echo", "processed").await?;
        let w5_arn = b.create_machine("w5", &w5, "EXPRESS").await?;
        let body = json!({"stateMachineArn": w5_arn, "input": input});
        let phase = Duration::from_secs_f64(args.seconds);
        neighbour(addr, &body, Duration::from_millis(300)).await?;
        let alone = neighbour(addr, &body, phase).await?;

        let stop = Arc::new(AtomicBool::new(false));
        let flooding = tokio::spawn(flood(addr, flood_arn, stop.clone()));
        tokio::time::sleep(Duration::from_millis(500)).await;
        let watching = tokio::spawn(watch_queue(addr, stop.clone()));
        let attacked = neighbour(addr, &body, phase).await?;
        stop.store(true, Ordering::Relaxed);
        let started = flooding.await??;
        let depths = watching.await??;
        let (_, metrics) = Connection::open(addr).await?.get("/metrics").await?;
        let metrics = String::from_utf8_lossy(&metrics).into_owned();
        anyhow::Ok((alone, attacked, started, depths, metrics))
    });
    server_rt.block_on(server.shutdown())?;
    server_rt.shutdown_background();
    let ((alone, alone_failed), (attacked, attacked_failed), started, depths, metrics) = outcome?;
    let b_throttles = sample(&metrics, "stepbox_throttles_total", "globex", "");
    let a_waits = sample(&metrics, "stepbox_throttles_total", "acme", "concurrent_invocations");
    let a_timeouts = sample(&metrics, "stepbox_invocation_errors_total", "acme", "Sandbox.Timedout");
    let (a50, a99) = (percentile(&alone, 0.5), percentile(&alone, 0.99));
    let (u50, u99) = (percentile(&attacked, 0.5), percentile(&attacked, 0.99));
    let depth = |p: f64| depths.get(((depths.len() as f64 - 1.0) * p).round() as usize).copied().unwrap_or(0.0);
    println!(
        "B (globex): W5 by StartSyncExecution in sequence, signed, {} s alone ({} requests) and while A floods ({})",
        args.seconds,
        alone.len(),
        attacked.len()
    );
    println!(
        "A (acme, concurrent_invocations = {QUOTA}): a {}-item Map of infinite loops kept running ({started} started); \
         A's queue depth sampled {} times: min {}, median {}, max {}",
        QUOTA + QUEUED,
        depths.len(),
        depth(0.0),
        depth(0.5),
        depth(1.0)
    );
    println!();
    println!("| B | p50 ms | p99 ms | failed |");
    println!("|---|---|---|---|");
    println!("| alone | {a50:.2} | {a99:.2} | {alone_failed} |");
    println!("| while A floods | {u50:.2} | {u99:.2} | {attacked_failed} |");
    println!("| ratio | {:.2}× | {:.2}× | |", u50 / a50, u99 / a99);
    println!();
    println!("B's throttles: {b_throttles}; A's invocations that waited for a slot: {a_waits}, timed out: {a_timeouts}");
    let result = json!({
        "seconds": args.seconds, "requests": {"alone": alone.len(), "attacked": attacked.len()},
        "alone": {"p50_ms": a50, "p99_ms": a99}, "attacked": {"p50_ms": u50, "p99_ms": u99},
        "ratio": {"p50": u50 / a50, "p99": u99 / a99}, "b_failed": alone_failed + attacked_failed,
        "b_throttles": b_throttles, "a_queue_depth": {"min": depth(0.0), "median": depth(0.5), "max": depth(1.0)},
        "a_waits": a_waits, "a_timeouts": a_timeouts, "a_executions_started": started,
    });
    println!("\nBENCH_RESULT {result}");
    Ok(alone_failed + attacked_failed == 0 && b_throttles == 0.0)
}

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    match parse_args().and_then(run) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("stepbox-tenants-bench: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
