//! `stepbox-polyglot-bench`: what a fresh instance per invocation costs for
//! a Python and a JavaScript echo handler (built from source with
//! `stepbox-toolchain`, as the server builds an upload) against the Rust
//! echo component, and how long an upload takes to become invocable.
//!
//! Prints, each with the machine's load average when it was taken:
//! - upload to Active: the uncached build of each handler (componentize-py,
//!   rolldown + componentize-js) and wasmtime's compilation of its component;
//! - p50/p99 of `Sandbox::invoke` (a fresh instance each time, instances
//!   prepared ahead as `serve` does) on one thread;
//! - throughput with two threads invoking at once.
//!
//! The components are written to `--out DIR` (default `target/polyglot-bench`)
//! for `cargo bench -p stepbox-sandbox --bench instance_cost -- NAME=PATH`,
//! which splits an invocation into its phases. host/bench/README.md has the figures.
//!
//! Run: `cargo run --release -p stepbox-bench --bin stepbox-polyglot-bench`
//! (`BENCH_ITERS`, default 2000 per handler; the toolchains installed with
//! `stepbox toolchain install python js`).

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::Context as _;
use stepbox_sandbox::{Function, Limits, Request, Sandbox, SandboxConfig, TaskContext};
use stepbox_toolchain::{BuildCache, BuildRequest, Runtime, Source, Toolchains};

const INPUT: &str = r#"{"id": 42, "name": "order-42", "items": [1, 2, 3]}"#;

const PYTHON_ECHO: &str = "def handler(event, context):\n    return event\n";
const JS_ECHO: &str = "export const handler = async (event) => event;\n";

fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(2000);
    let out = match std::env::args().skip_while(|a| a != "--out").nth(1) {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from("target/polyglot-bench"),
    };
    std::fs::create_dir_all(&out)?;
    let sources = tempfile_dir(&out.join("sources"))?;
    std::fs::write(sources.join("python").join("app.py"), PYTHON_ECHO)?;
    std::fs::write(sources.join("js").join("index.mjs"), JS_ECHO)?;

    println!("upload to Active (uncached build + compile, what CreateFunction waits for; wall time, CPU time)");
    let compiled_dir = out.join("compiled");
    let _ = std::fs::remove_dir_all(&compiled_dir);
    // Without Cranelift's incremental cache; with it, empty (a machine's
    // first upload of the language); with it, after that first upload.
    let uncached = Sandbox::new(SandboxConfig::default())?;
    let sandbox = Sandbox::new(SandboxConfig { compile_cache_dir: Some(compiled_dir.clone()), ..SandboxConfig::default() })?;
    let mut subjects = vec![("rust echo".to_string(), compile(&sandbox, &stepbox_components::bytes("echo")?)?)];
    for (name, runtime, handler, dir) in [
        ("python echo", Runtime::Python312, "app.handler", "python"),
        ("js echo", Runtime::Nodejs22, "index.handler", "js"),
    ] {
        let (wasm, built) = build(&sources, name, runtime, handler, dir, "")?;
        println!("  {name:<12}: build {built} ({:.1} MB component)", wasm.len() as f64 / 1e6);
        let (plain, _) = timed_compile(&uncached, &wasm)?;
        println!("  {name:<12}: compile without the compilation cache {plain}");
        let before = sandbox.compile_cache_stats();
        let (first, _) = timed_compile(&sandbox, &wasm)?;
        let stats = sandbox.compile_cache_stats();
        println!(
            "  {name:<12}: compile, first upload (empty cache) {first}; {} functions compiled, {} found (compiled earlier in the same component)",
            stats.misses - before.misses,
            stats.hits - before.hits,
        );
        // A different handler of the same language: what a next upload compiles.
        let (other, rebuilt) = build(&sources, name, runtime, handler, dir, "second")?;
        let (next, function) = timed_compile(&sandbox, &other)?;
        let after = sandbox.compile_cache_stats();
        println!(
            "  {name:<12}: next upload: build {rebuilt} + compile {next} = {:.2} s; {} functions from the cache, {} compiled",
            rebuilt.wall.as_secs_f64() + next.wall.as_secs_f64(),
            after.hits - stats.hits,
            after.misses - stats.misses,
        );
        std::fs::write(out.join(format!("{}.wasm", name.replace(' ', "_"))), &wasm)?;
        subjects.push((name.to_string(), function));
    }

    println!("fresh instance per invocation ({iterations} invocations each, one thread, {:?} allocator)", sandbox.allocator());
    for (name, function) in &subjects {
        let load = load_average();
        let mut times = latencies(&sandbox, function, iterations)?;
        times.sort();
        println!(
            "  {name:<12}: p50 {:>8.1} µs   p99 {:>8.1} µs   (load {load})",
            us(percentile(&times, 0.5)),
            us(percentile(&times, 0.99))
        );
    }
    println!("throughput, two threads invoking at once");
    for (name, function) in &subjects {
        let load = load_average();
        let per_second = throughput(&sandbox, function, 2, iterations)?;
        println!("  {name:<12}: {per_second:>8.0} invocations/s   (load {load})");
    }
    println!("components kept in {} for the instance_cost bench", out.display());
    Ok(())
}

/// How long a step took: wall time, CPU time (of the process, or of its
/// builder processes) and the load average before it.
struct Timed {
    wall: Duration,
    cpu: f64,
    load: String,
}

impl std::fmt::Display for Timed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:.2} s (CPU {:.2} s, load {})", self.wall.as_secs_f64(), self.cpu, self.load)
    }
}

/// User + system CPU seconds of this process (`libc::RUSAGE_SELF`) or of
/// its finished children (`libc::RUSAGE_CHILDREN`).
fn cpu_seconds(who: libc::c_int) -> f64 {
    // SAFETY: getrusage only writes the struct it is given.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    unsafe { libc::getrusage(who, &mut usage) };
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    secs(usage.ru_utime) + secs(usage.ru_stime)
}

fn timed<T>(who: libc::c_int, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Timed)> {
    let load = load_average();
    let (cpu, started) = (cpu_seconds(who), Instant::now());
    let value = f()?;
    Ok((value, Timed { wall: started.elapsed(), cpu: cpu_seconds(who) - cpu, load }))
}

/// Build the handler in `sources/dir` (with `variant` as a comment, so that
/// a variant is a different source), with no build cache.
fn build(sources: &Path, name: &str, runtime: Runtime, handler: &str, dir: &str, variant: &str) -> anyhow::Result<(Vec<u8>, Timed)> {
    let src = sources.join(dir);
    let file = if dir == "python" { src.join("app.py") } else { src.join("index.mjs") };
    let text = if dir == "python" { PYTHON_ECHO } else { JS_ECHO };
    let comment = if dir == "python" { "#" } else { "//" };
    std::fs::write(&file, format!("{text}{comment} {variant}\n"))?;
    let source = Source::Dir(src);
    timed(libc::RUSAGE_CHILDREN, || {
        Toolchains::from_env()
            .build(&BuildRequest { runtime, handler, source: &source }, &BuildCache::new(None))
            .with_context(|| format!("building the {name} handler"))
    })
}

/// Compile `wasm` on `sandbox`.
fn timed_compile(sandbox: &Sandbox, wasm: &[u8]) -> anyhow::Result<(Timed, Arc<Function>)> {
    let (function, t) = timed(libc::RUSAGE_SELF, || compile(sandbox, wasm))?;
    Ok((t, function))
}

/// `dir` emptied, with `python` and `js` subdirectories.
fn tempfile_dir(dir: &Path) -> anyhow::Result<PathBuf> {
    let _ = std::fs::remove_dir_all(dir);
    for sub in ["python", "js"] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    Ok(dir.to_path_buf())
}

fn compile(sandbox: &Sandbox, wasm: &[u8]) -> anyhow::Result<Arc<Function>> {
    sandbox.compile(wasm).map_err(|e| anyhow::anyhow!("{e}"))
}

fn invoke_once(rt: &tokio::runtime::Runtime, sandbox: &Sandbox, function: &Arc<Function>, limits: &Limits) -> anyhow::Result<()> {
    let request = Request { input: INPUT, context: TaskContext::default(), limits, on_heartbeat: None };
    let invocation = rt.block_on(sandbox.invoke(function, request));
    match invocation.result {
        Ok(out) if out.contains("order-42") => Ok(()),
        Ok(out) => anyhow::bail!("unexpected output {out}"),
        Err(e) => anyhow::bail!("{}: {}", e.error_name(), e.cause()),
    }
}

fn latencies(sandbox: &Sandbox, function: &Arc<Function>, iterations: usize) -> anyhow::Result<Vec<Duration>> {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let limits = Limits::default();
    for _ in 0..50 {
        invoke_once(&rt, sandbox, function, &limits)?;
    }
    let mut times = Vec::with_capacity(iterations);
    for _ in 0..iterations {
        let started = Instant::now();
        invoke_once(&rt, sandbox, function, &limits)?;
        times.push(started.elapsed());
    }
    Ok(times)
}

fn throughput(sandbox: &Sandbox, function: &Arc<Function>, threads: usize, per_thread: usize) -> anyhow::Result<f64> {
    let started = Instant::now();
    std::thread::scope(|s| -> anyhow::Result<()> {
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                s.spawn(move || -> anyhow::Result<()> {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
                    let limits = Limits::default();
                    for _ in 0..per_thread {
                        invoke_once(&rt, sandbox, function, &limits)?;
                    }
                    Ok(())
                })
            })
            .collect();
        for h in handles {
            h.join().map_err(|_| anyhow::anyhow!("a bench thread panicked"))??;
        }
        Ok(())
    })?;
    Ok((threads * per_thread) as f64 / started.elapsed().as_secs_f64())
}

/// The 1-minute load average (other work on the machine skews the figures).
fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg").ok().and_then(|s| s.split_whitespace().next().map(str::to_string)).unwrap_or_else(|| "?".into())
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
