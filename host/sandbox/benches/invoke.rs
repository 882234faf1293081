//! Invocation cost of the echo guest: raw wasmtime floor vs `Sandbox::invoke`.
//!
//! The floor is the least a host can do per call with the same engine
//! (pooling allocator, epochs; fuel when configured): a fresh `Store` with an empty WASI
//! context, `InstancePre::instantiate_async`, one call of `handle`. stepbox
//! adds limits, log capture, the deadline guard and error classification.
//! Prints p50/p99 of both and their ratio (target ≤ 1.5×), then echo
//! throughput on one and two threads (target ≥ 1.6×), with warm instances
//! (the default) and without, each with the cores the process used meanwhile
//! (CPU time over wall time: the warm-instance preparer runs beside the
//! invoking threads) and the invocations per CPU-second (what two threads
//! cost each, whatever share of the cores a loaded machine leaves them), and
//! the load average before and after.
//!
//! Run: `cargo bench -p stepbox-sandbox --bench invoke`

use std::sync::Arc;
use std::time::{Duration, Instant};

use stepbox_sandbox::{Limits, Request, Sandbox, SandboxConfig, TaskContext};
use wasmtime::Store;
use wasmtime::component::{HasSelf, Linker};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxView, WasiView};

mod floor {
    wasmtime::component::bindgen!({ path: "../../wit", world: "task", exports: { default: async } });
}

struct FloorState {
    wasi: WasiCtx,
    table: ResourceTable,
}

impl WasiView for FloorState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
impl floor::stepbox::task::types::Host for FloorState {}
impl floor::stepbox::task::host::Host for FloorState {
    fn log(&mut self, _: floor::stepbox::task::host::LogLevel, _: String) {}
    fn heartbeat(&mut self) {}
}

const INPUT: &str = r#"{"id": 42, "name": "order-42", "items": [1, 2, 3]}"#;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(5000);
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let wasm = std::fs::read(stepbox_components::ECHO)?;
    let function = sandbox.compile(&wasm)?;
    let engine = sandbox.engine().clone();
    let mut linker = Linker::<FloorState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    floor::Task::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;
    let component = unsafe { wasmtime::component::Component::deserialize(&engine, engine.precompile_component(&wasm)?)? };
    let pre = floor::TaskPre::new(linker.instantiate_pre(&component)?)?;
    let limits = Limits::default();
    let ctx = floor::stepbox::task::types::Context {
        execution_name: String::new(),
        execution_arn: String::new(),
        state_name: String::new(),
        retry_count: 0,
        remaining_time_ms: 3000,
        task_token: None,
        request_id: String::new(),
    };

    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    let floor_call = || async {
        let mut store = Store::new(&engine, FloorState { wasi: WasiCtx::builder().build(), table: ResourceTable::new() });
        store.set_epoch_deadline(u64::MAX / 2);
        if sandbox.config().fuel {
            store.set_fuel(u64::MAX).unwrap();
        }
        let task = pre.instantiate_async(&mut store).await.unwrap();
        let out = task.call_handle(&mut store, INPUT, &ctx).await.unwrap().unwrap();
        assert!(out.starts_with("{"));
    };
    let stepbox_call = || async {
        let inv = sandbox
            .invoke(&function, Request { input: INPUT, context: TaskContext::default(), limits: &limits, on_heartbeat: None })
            .await;
        assert!(inv.result.is_ok());
    };

    // Interleave blocks of both so drift on a noisy machine hits both alike.
    let (mut floor_t, mut stepbox_t) = (Vec::new(), Vec::new());
    rt.block_on(async {
        for _ in 0..200 {
            floor_call().await;
            stepbox_call().await;
        }
        for _ in 0..iterations / 100 {
            for _ in 0..100 {
                let t = Instant::now();
                floor_call().await;
                floor_t.push(t.elapsed());
            }
            for _ in 0..100 {
                let t = Instant::now();
                stepbox_call().await;
                stepbox_t.push(t.elapsed());
            }
        }
    });
    floor_t.sort();
    stepbox_t.sort();
    let (f50, f99) = (percentile(&floor_t, 0.5), percentile(&floor_t, 0.99));
    let (s50, s99) = (percentile(&stepbox_t, 0.5), percentile(&stepbox_t, 0.99));
    println!("echo invocation latency ({} samples each, {:?} allocator)", floor_t.len(), sandbox.allocator());
    println!("  raw wasmtime floor : p50 {:>8.1} µs   p99 {:>8.1} µs", us(f50), us(f99));
    println!("  stepbox invoke     : p50 {:>8.1} µs   p99 {:>8.1} µs", us(s50), us(s99));
    println!(
        "  ratio stepbox/floor: p50 {:.2}×   p99 {:.2}×   (target p50 ≤ 1.5×)",
        us(s50) / us(f50),
        us(s99) / us(f99)
    );

    // Throughput: one thread, then two threads sharing the same sandbox;
    // with warm instances (this sandbox), then without (a second one).
    let cold = Sandbox::new(SandboxConfig { warm_instances: false, ..SandboxConfig::default() })?;
    let cold_function = cold.compile(&wasm)?;
    println!("load average before: {}", load_average());
    throughput("warm instances on (the default)", &sandbox, &function, &limits, iterations);
    throughput("warm instances off", &cold, &cold_function, &limits, iterations);
    println!("load average after : {}", load_average());
    Ok(())
}

/// Echo throughput of `sandbox` on one thread, then two, and the cores the
/// process used meanwhile.
fn throughput(label: &str, sandbox: &Sandbox, function: &Arc<stepbox_sandbox::Function>, limits: &Limits, per_thread: usize) {
    let run_threads = |threads: usize| -> (f64, f64) {
        let (start, cpu) = (Instant::now(), cpu_time());
        std::thread::scope(|s| {
            for _ in 0..threads {
                let sandbox = sandbox.clone();
                let function = Arc::clone(&function);
                let limits = limits.clone();
                s.spawn(move || {
                    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
                    rt.block_on(async {
                        for _ in 0..per_thread {
                            let inv = sandbox
                                .invoke(
                                    &function,
                                    Request { input: INPUT, context: TaskContext::default(), limits: &limits, on_heartbeat: None },
                                )
                                .await;
                            assert!(inv.result.is_ok());
                        }
                    });
                });
            }
        });
        let wall = start.elapsed().as_secs_f64();
        ((threads * per_thread) as f64 / wall, (cpu_time() - cpu).as_secs_f64() / wall)
    };
    let (one, one_cores) = run_threads(1);
    let (two, two_cores) = run_threads(2);
    println!("echo throughput, {label}");
    println!("  1 thread : {one:>10.0} invocations/s   {one_cores:.2} cores busy   {:>8.0} per CPU-second", one / one_cores);
    println!("  2 threads: {two:>10.0} invocations/s   {two_cores:.2} cores busy   {:>8.0} per CPU-second", two / two_cores);
    println!(
        "  ratio 2/1: {:.2}×   (target ≥ 1.6×); per CPU-second {:.2}× (1.00×: two threads cost no more each)",
        two / one,
        (two / two_cores) / (one / one_cores)
    );
}

/// CPU time of this process so far (every thread's, user and system).
fn cpu_time() -> Duration {
    // SAFETY: getrusage fills the struct it is given.
    let usage = unsafe {
        let mut usage: libc::rusage = std::mem::zeroed();
        libc::getrusage(libc::RUSAGE_SELF, &mut usage);
        usage
    };
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(usage.ru_utime) + tv(usage.ru_stime)
}

/// The first three fields of /proc/loadavg (empty where there is none).
fn load_average() -> String {
    let text = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    text.split_whitespace().take(3).collect::<Vec<_>>().join(" ")
}

fn us(d: Duration) -> f64 {
    d.as_secs_f64() * 1e6
}
