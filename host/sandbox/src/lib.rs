//! stepbox's sandbox: runs Task states as WebAssembly components of the
//! `stepbox:task@0.2.0` world (see `wit/task.wit`) on wasmtime.
//!
//! - One [`Sandbox`] per process owns the wasmtime engine (pooling allocator,
//!   epoch ticker, optional fuel) and an on-disk cache of precompiled
//!   artifacts; a [`Registry`] may also keep them in an [`ArtifactStore`]
//!   (a durable server's data directory).
//! - [`Sandbox::compile`] validates a component against the world, precompiles
//!   it once (or loads the cached artifact) and keeps an `InstancePre`; the
//!   invocation path never compiles.
//! - [`Sandbox::invoke`] runs one invocation in a fresh store and instance
//!   under its [`Limits`]: a deadline (epoch-checked, also guarding host
//!   calls), a memory cap, an optional fuel budget, an output cap, and WASI with
//!   only the function's own environment variables, no args, no network, no
//!   inherited stdio and at most a private scratch directory.

mod cache;
mod config;
mod error;
mod guests;
mod invoke;
mod logs;
mod registry;
mod runtime;
mod validate;
mod warm;

use std::sync::Arc;

pub use cache::{ArtifactStore, Origin, artifact_key, wasm_sha256};
pub use config::{Limits, MAX_PAYLOAD_BYTES, SandboxConfig};
pub use error::{InvokeError, RegisterError};
pub use invoke::{Invocation, Request, TaskContext};
pub use logs::Logs;
pub use registry::{Loader, Registry, RegisteredFunction};
pub use runtime::Allocator;
pub use warm::WarmStats;

use invoke::InvocationState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../../wit",
        world: "task",
        exports: { default: async },
    });
}

/// A compiled, validated component, ready to instantiate.
pub struct Function {
    /// Hex SHA-256 of the component bytes.
    pub sha256: String,
    /// Size of the component bytes.
    pub code_size: usize,
    /// Whether this load compiled the component or found it in the cache.
    pub origin: Origin,
    pre: bindings::TaskPre<InvocationState>,
    warm: warm::WarmSlot,
}

impl std::fmt::Debug for Function {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Function").field("sha256", &self.sha256).field("code_size", &self.code_size).finish()
    }
}

struct Inner {
    engine: wasmtime::Engine,
    allocator: Allocator,
    linker: wasmtime::component::Linker<InvocationState>,
    cache: cache::ArtifactCache,
    config: SandboxConfig,
    /// Prepares instances ahead on idle CPU; `None` when configured off.
    warm: Option<warm::Warm>,
    /// One permit per instance an invocation may hold at once
    /// (`max_concurrent_instances`): further invocations wait for one.
    instances: Arc<tokio::sync::Semaphore>,
    /// Where invocations run, unless on the caller's runtime (`SandboxConfig::guest_threads`).
    guests: Option<Arc<guests::GuestThreads>>,
    _ticker: runtime::EpochTicker,
}

/// The process-wide sandbox. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> anyhow::Result<Self> {
        let (engine, allocator) = runtime::build_engine(&config)?;
        let mut linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Task::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)?;
        let cache = cache::ArtifactCache::new(&engine, config.cache_dir.as_deref())?;
        let ticker = runtime::EpochTicker::start(engine.clone(), config.epoch_tick);
        let warm = config.warm_instances.then(|| {
            let max_ready = warm::max_ready(config.max_concurrent_instances);
            warm::Warm::start(engine.clone(), config.epoch_tick, max_ready, config.warm_idle)
        });
        tracing::debug!(?allocator, "sandbox ready");
        let instances = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_instances as usize));
        let guests = config.guest_threads.then(guests::GuestThreads::new);
        let inner = Inner { engine, allocator, linker, cache, config, warm, instances, guests, _ticker: ticker };
        Ok(Sandbox { inner: Arc::new(inner) })
    }

    /// The key its artifact of the wasm with hex SHA-256 `sha256` is kept
    /// under ([`artifact_key`] with this engine's fingerprint).
    pub fn artifact_key(&self, sha256: &str) -> String {
        artifact_key(sha256, self.inner.cache.fingerprint())
    }

    /// Which instance allocator is in use (pooling unless its reservation failed).
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Instances running now (of [`SandboxConfig::max_concurrent_instances`]).
    pub fn instances_in_use(&self) -> usize {
        (self.inner.config.max_concurrent_instances as usize).saturating_sub(self.inner.instances.available_permits())
    }

    /// The wasmtime engine (for benchmarks comparing against raw wasmtime).
    pub fn engine(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// Validate `wasm` against the task world, precompile it (or load the
    /// cached artifact) and prepare its `InstancePre`.
    pub fn compile(&self, wasm: &[u8]) -> Result<Arc<Function>, RegisterError> {
        self.compile_with(wasm, None)
    }

    /// [`compile`](Self::compile), looking for the artifact in `store` first
    /// and keeping it there.
    pub fn compile_with(&self, wasm: &[u8], store: Option<&dyn ArtifactStore>) -> Result<Arc<Function>, RegisterError> {
        validate::check_is_component(wasm)?;
        let sha256 = cache::wasm_sha256(wasm);
        let (component, origin) = self
            .inner
            .cache
            .load_or_compile(&self.inner.engine, wasm, &sha256, store)
            .map_err(RegisterError::Compile)?;
        validate::check_exports(&self.inner.engine, &component)?;
        let instance_pre = self
            .inner
            .linker
            .instantiate_pre(&component)
            .map_err(|e| RegisterError::WrongWorld(validate::describe_import_error(&e)))?;
        let pre = bindings::TaskPre::new(instance_pre)
            .map_err(|e| RegisterError::WrongWorld(format!("export `handle` has the wrong type: {e:#}")))?;
        Ok(Arc::new(Function { sha256, code_size: wasm.len(), origin, pre, warm: Default::default() }))
    }

    /// Run `function` once. Never panics and never fails the host: every
    /// failure of the guest is an [`InvokeError`] in the returned invocation.
    pub async fn invoke(&self, function: &Arc<Function>, request: Request<'_>) -> Invocation {
        match &self.inner.guests {
            Some(threads) => invoke::run_on(threads, &self.inner, function, request).await,
            None => invoke::run(&self.inner, function, request).await,
        }
    }

    /// Counters of the warm instances (all functions', or whether `function`
    /// has one ready); zero when [`SandboxConfig::warm_instances`] is off.
    pub fn warm_stats(&self, function: Option<&Function>) -> WarmStats {
        self.inner.warm.as_ref().map(|w| w.stats(function)).unwrap_or_default()
    }
}
