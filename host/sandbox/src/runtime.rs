//! The one wasmtime [`Engine`] of a process: component model, pooling
//! allocator sized from config (on-demand when the address-space reservation
//! fails), epoch interruption driven by a ticker thread, optional fuel.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;

use anyhow::Context as _;
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};

use crate::SandboxConfig;
use crate::compile_cache::DiskCacheStore;

/// Which instance allocator the engine ended up with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Allocator {
    Pooling,
    OnDemand,
}

fn base_config(config: &SandboxConfig, compile_cache: Option<&Arc<DiskCacheStore>>) -> anyhow::Result<Config> {
    let mut c = Config::new();
    if let Some(store) = compile_cache {
        c.enable_incremental_compilation(store.clone())?;
    }
    c.wasm_component_model(true)
        .epoch_interruption(true)
        .consume_fuel(config.fuel)
        .max_wasm_stack(config.max_wasm_stack_bytes)
        // The async fiber stack must hold the wasm stack plus host frames.
        .async_stack_size(config.max_wasm_stack_bytes + (1 << 20));
    Ok(c)
}

fn pooling_config(config: &SandboxConfig) -> PoolingAllocationConfig {
    // Warm instances (ready, or waiting for teardown) get slots of their own.
    let n = config.max_concurrent_instances
        + if config.warm_instances { crate::warm::pool_reserve(config.max_concurrent_instances) } else { 0 };
    let mut pool = PoolingAllocationConfig::default();
    // A Rust wasip2 component has a few core instances (main module plus
    // shims) with one memory and a couple of tables.
    pool.total_component_instances(n)
        .total_core_instances(n * 8)
        .total_memories(n * 2)
        .total_tables(n * 4)
        .total_stacks(n)
        .max_core_instances_per_component(16)
        .max_memories_per_component(4)
        .max_tables_per_component(8)
        .max_memory_size(config.max_memory_bytes as usize)
        .max_unused_warm_slots(n.min(64))
        // Every invocation is a fresh instance: reset a reused slot's memory
        // (a small task dirties ~1-2 MiB: shadow stack, data, heap) with
        // memset over the pages PAGEMAP_SCAN reports dirty instead of
        // madvise + page faults + TLB shootdowns; ~2x invocations/s.
        .linear_memory_keep_resident(2 << 20)
        .table_keep_resident(64 << 10)
        .pagemap_scan(wasmtime::Enabled::Auto)
        .decommit_batch_size(32);
    pool
}

/// Build the engine, falling back to on-demand allocation (and saying so)
/// when the pooling allocator's virtual-memory reservation is refused.
/// `compile_cache`: Cranelift's incremental cache, when there is one.
pub fn build_engine(config: &SandboxConfig, compile_cache: Option<&Arc<DiskCacheStore>>) -> anyhow::Result<(Engine, Allocator)> {
    if config.pooling {
        let mut c = base_config(config, compile_cache)?;
        c.allocation_strategy(InstanceAllocationStrategy::Pooling(pooling_config(config)));
        match Engine::new(&c) {
            Ok(engine) => return Ok((engine, Allocator::Pooling)),
            Err(e) => tracing::warn!(
                error = format!("{e:#}"),
                "pooling allocator unavailable (address-space reservation failed); \
                 falling back to on-demand instance allocation"
            ),
        }
    }
    let engine = Engine::new(&base_config(config, compile_cache)?)
        .map_err(anyhow::Error::from)
        .context("creating the wasmtime engine")?;
    Ok((engine, Allocator::OnDemand))
}

/// Increments the engine's epoch every `tick` until dropped.
pub struct EpochTicker {
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl EpochTicker {
    pub fn start(engine: Engine, tick: std::time::Duration) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let thread = std::thread::Builder::new()
            .name("stepbox-epoch".into())
            .spawn(move || {
                while !flag.load(Ordering::Relaxed) {
                    std::thread::sleep(tick);
                    engine.increment_epoch();
                }
            })
            .expect("spawning the epoch ticker thread");
        EpochTicker { stop, thread: Some(thread) }
    }
}

impl Drop for EpochTicker {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
