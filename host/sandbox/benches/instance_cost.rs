//! What one fresh instance of a task component costs, phase by phase.
//!
//! For each component (the `processed` example as a `wasm32-wasip2` std guest
//! and in its lean build, and any `NAME=PATH.wasm` given as arguments) it prints the median cost per
//! invocation of the whole `Sandbox::invoke` path and of its parts done by
//! hand on the same engine: building the WASI context, creating the store,
//! instantiating, calling `handle`, dropping the store (the pool slot reset).
//! Blocks of every component are interleaved so drift hits all alike. The
//! last line counts the WASI calls (context lookups) one invocation made.
//!
//! host/bench/README.md has the figures.
//!
//! Run: `cargo bench -p stepbox-sandbox --bench instance_cost [-- NAME=PATH.wasm …]`
//! (`BENCH_ITERS`, default 20000 per component).

use std::time::{Duration, Instant};

use stepbox_sandbox::{Limits, Request, Sandbox, SandboxConfig, TaskContext};
use wasmtime::Store;
use wasmtime::component::{Component, HasSelf, Linker};
use wasmtime_wasi::{ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

mod raw {
    wasmtime::component::bindgen!({ path: "../../wit", world: "task", exports: { default: async } });
}

struct RawState {
    wasi: WasiCtx,
    table: ResourceTable,
    wasi_views: u32,
}

impl WasiView for RawState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        self.wasi_views += 1;
        WasiCtxView { ctx: &mut self.wasi, table: &mut self.table }
    }
}
impl raw::stepbox::task::types::Host for RawState {}
impl raw::stepbox::task::host::Host for RawState {
    fn log(&mut self, _: raw::stepbox::task::host::LogLevel, _: String) {}
    fn heartbeat(&mut self) {}
}

/// What W5's Task state receives (its Pass state builds `{"id", "greeting"}`).
const INPUT: &str = r#"{"id":1,"greeting":"hello"}"#;

const PHASES: [&str; 6] = ["invoke (whole)", "wasi ctx build", "store new", "instantiate", "call handle", "store drop"];

struct Subject {
    name: String,
    function: std::sync::Arc<stepbox_sandbox::Function>,
    pre: raw::TaskPre<RawState>,
    samples: [Vec<Duration>; 6],
    /// WASI context lookups (one or more per WASI call) in the last invocation.
    wasi_views: u32,
}

fn main() -> anyhow::Result<()> {
    let iterations: usize = std::env::var("BENCH_ITERS").ok().and_then(|s| s.parse().ok()).unwrap_or(20000);
    let sandbox = Sandbox::new(SandboxConfig::default())?;
    let engine = sandbox.engine().clone();
    let mut linker = Linker::<RawState>::new(&engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    raw::Task::add_to_linker::<_, HasSelf<_>>(&mut linker, |s| s)?;

    let mut components = vec![
        ("processed".to_string(), stepbox_components::PROCESSED.to_string()),
        ("processed_lean".to_string(), stepbox_components::PROCESSED_LEAN.to_string()),
    ];
    for arg in std::env::args().skip(1).filter(|a| a.contains('=')) {
        let (name, path) = arg.split_once('=').unwrap();
        components.push((name.to_string(), path.to_string()));
    }
    let mut subjects = Vec::new();
    for (name, path) in components {
        let wasm = std::fs::read(&path)?;
        let function = sandbox.compile(&wasm).map_err(|e| anyhow::anyhow!("{name}: {e}"))?;
        let component = unsafe { Component::deserialize(&engine, engine.precompile_component(&wasm)?)? };
        let pre = raw::TaskPre::new(linker.instantiate_pre(&component)?)?;
        subjects.push(Subject { name, function, pre, samples: Default::default(), wasi_views: 0 });
    }

    let limits = Limits::default();
    let ctx = raw::stepbox::task::types::Context {
        execution_name: String::new(),
        execution_arn: String::new(),
        state_name: String::new(),
        retry_count: 0,
        remaining_time_ms: 3000,
        task_token: None,
        request_id: String::new(),
    };
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    rt.block_on(async {
        for round in 0..(iterations / 500).max(1) + 1 {
            for subject in &mut subjects {
                for _ in 0..500 {
                    let t0 = Instant::now();
                    let inv = sandbox
                        .invoke(
                            &subject.function,
                            Request { input: INPUT, context: TaskContext::default(), limits: &limits, on_heartbeat: None },
                        )
                        .await;
                    let t1 = Instant::now();
                    assert!(inv.result.is_ok(), "{}: {:?}", subject.name, inv.result);

                    let mut builder = WasiCtxBuilder::new();
                    builder.stdout(std::io::empty()).stderr(std::io::empty());
                    let wasi = builder.build();
                    let t2 = Instant::now();
                    let mut store = Store::new(&engine, RawState { wasi, table: ResourceTable::new(), wasi_views: 0 });
                    store.set_epoch_deadline(u64::MAX / 2);
                    let t3 = Instant::now();
                    let task = subject.pre.instantiate_async(&mut store).await.unwrap();
                    let t4 = Instant::now();
                    let out = task.call_handle(&mut store, INPUT, &ctx).await.unwrap().unwrap();
                    let t5 = Instant::now();
                    subject.wasi_views = store.data().wasi_views;
                    drop(store);
                    let t6 = Instant::now();
                    // The `processed` builds add a member; a component given as an argument (an echo) need not.
                    let expected = if subject.name.starts_with("processed") { "\"processed\":true" } else { "{" };
                    assert!(out.contains(expected), "{}: {out}", subject.name);
                    if round > 0 {
                        for (i, d) in [t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5].into_iter().enumerate() {
                            subject.samples[i].push(d);
                        }
                    }
                }
            }
        }
    });

    print!("{:<16}", "median µs");
    for subject in &subjects {
        print!("{:>16}", subject.name);
    }
    println!();
    for (i, phase) in PHASES.iter().enumerate() {
        print!("{phase:<16}");
        for subject in &mut subjects {
            subject.samples[i].sort();
            let median = subject.samples[i][subject.samples[i].len() / 2];
            print!("{:>16.2}", median.as_secs_f64() * 1e6);
        }
        println!();
    }
    print!("{:<16}", "WASI lookups");
    for subject in &subjects {
        print!("{:>16}", subject.wasi_views);
    }
    println!();
    Ok(())
}
