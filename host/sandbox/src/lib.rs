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
mod compile_cache;
mod config;
mod error;
mod guests;
mod invoke;
mod logs;
mod registry;
mod runtime;
mod validate;
mod warm;

use std::sync::{Arc, OnceLock};

pub use cache::{ArtifactStore, Origin, artifact_key, wasm_sha256};
pub use compile_cache::CompileCacheStats;
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
    /// Compiled for the sandbox's fuel-counting engine (see [`Sandbox::compile_counting`]).
    counting: bool,
    /// The component's bytes, to compile it again for the other engine
    /// when a budget is given or taken later ([`Sandbox::for_counting`]).
    wasm: Arc<[u8]>,
}

impl Function {
    /// Whether invocations of this function can count fuel (it was compiled
    /// for an engine that counts it).
    pub fn counts_fuel(&self) -> bool {
        self.counting
    }
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
    /// Cranelift's incremental cache ([`SandboxConfig::compile_cache_dir`]),
    /// shared with the fuel-counting engine.
    compile_cache: Option<Arc<compile_cache::DiskCacheStore>>,
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

impl Inner {
    /// An engine and everything bound to it; `instances` and `guests` may be
    /// another engine's (the fuel-counting one shares the plain one's).
    fn new(
        config: SandboxConfig,
        compile_cache: Option<Arc<compile_cache::DiskCacheStore>>,
        instances: Arc<tokio::sync::Semaphore>,
        guests: Option<Arc<guests::GuestThreads>>,
    ) -> anyhow::Result<Self> {
        let (engine, allocator) = runtime::build_engine(&config, compile_cache.as_ref())?;
        let mut linker = wasmtime::component::Linker::new(&engine);
        wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
        bindings::Task::add_to_linker::<_, wasmtime::component::HasSelf<_>>(&mut linker, |s| s)?;
        let cache = cache::ArtifactCache::new(&engine, config.cache_dir.as_deref())?;
        let ticker = runtime::EpochTicker::start(engine.clone(), config.epoch_tick);
        let warm = config.warm_instances.then(|| {
            let max_ready = warm::max_ready(config.max_concurrent_instances);
            warm::Warm::start(engine.clone(), config.epoch_tick, max_ready, config.warm_idle, config.warm_on_idle_cpu)
        });
        tracing::debug!(?allocator, fuel = config.fuel, "sandbox engine ready");
        Ok(Inner { engine, allocator, linker, cache, compile_cache, config, warm, instances, guests, _ticker: ticker })
    }

    /// Validate `wasm`, precompile it for this engine (or load the artifact)
    /// and prepare its `InstancePre`.
    fn compile(&self, wasm: &[u8], store: Option<&dyn ArtifactStore>, counting: bool) -> Result<Arc<Function>, RegisterError> {
        validate::check_is_component(wasm)?;
        let sha256 = cache::wasm_sha256(wasm);
        let (component, origin) =
            self.cache.load_or_compile(&self.engine, wasm, &sha256, store).map_err(RegisterError::Compile)?;
        validate::check_exports(&self.engine, &component)?;
        let instance_pre = self
            .linker
            .instantiate_pre(&component)
            .map_err(|e| RegisterError::WrongWorld(validate::describe_import_error(&e)))?;
        let pre = bindings::TaskPre::new(instance_pre)
            .map_err(|e| RegisterError::WrongWorld(format!("export `handle` has the wrong type: {e:#}")))?;
        let (code_size, wasm) = (wasm.len(), Arc::from(wasm));
        Ok(Arc::new(Function { sha256, code_size, origin, pre, warm: Default::default(), counting, wasm }))
    }
}

/// The process-wide sandbox. Cloning is cheap and shares everything.
#[derive(Clone)]
pub struct Sandbox {
    inner: Arc<Inner>,
    /// A second engine that counts fuel, made on first use, for the
    /// functions with a fuel budget when `inner` does not count it (counting
    /// costs every guest basic block a check, so the others never pay).
    /// It shares `inner`'s instance permits and guest threads.
    counting: Arc<OnceLock<Result<Arc<Inner>, String>>>,
}

impl Sandbox {
    pub fn new(config: SandboxConfig) -> anyhow::Result<Self> {
        let instances = Arc::new(tokio::sync::Semaphore::new(config.max_concurrent_instances as usize));
        let guests = match config.guest_threads {
            true => Some(guests::GuestThreads::new().map_err(|e| anyhow::anyhow!("starting the guest threads: {e}"))?),
            false => None,
        };
        let compile_cache = match &config.compile_cache_dir {
            Some(dir) => Some(Arc::new(compile_cache::DiskCacheStore::new(dir).map_err(|e| {
                anyhow::anyhow!("creating the compilation cache {}: {e}", dir.display())
            })?)),
            None => None,
        };
        let inner = Inner::new(config, compile_cache, instances, guests)?;
        Ok(Sandbox { inner: Arc::new(inner), counting: Default::default() })
    }

    /// The engine that counts fuel: this one when configured to
    /// ([`SandboxConfig::fuel`]), else the second engine (made now if need be).
    fn counting_inner(&self) -> Result<Arc<Inner>, RegisterError> {
        if self.inner.config.fuel {
            return Ok(self.inner.clone());
        }
        let made = self.counting.get_or_init(|| {
            let config = SandboxConfig { fuel: true, ..self.inner.config.clone() };
            let (instances, guests) = (self.inner.instances.clone(), self.inner.guests.clone());
            let inner = Inner::new(config, self.inner.compile_cache.clone(), instances, guests);
            inner.map(Arc::new).map_err(|e| format!("{e:#}"))
        });
        made.clone().map_err(|e| RegisterError::Compile(anyhow::anyhow!("creating the fuel-counting engine: {e}")))
    }

    /// The engine `function` was compiled for.
    fn inner_of(&self, function: &Function) -> &Arc<Inner> {
        match (function.counting, self.counting.get()) {
            (true, Some(Ok(counting))) => counting,
            _ => &self.inner,
        }
    }

    /// The key its artifact of the wasm with hex SHA-256 `sha256` is kept
    /// under ([`artifact_key`] with this engine's fingerprint).
    pub fn artifact_key(&self, sha256: &str) -> String {
        artifact_key(sha256, self.inner.cache.fingerprint())
    }

    /// The key `function`'s artifact is kept under (its engine's: a
    /// fuel-counting function's differs from [`artifact_key`](Self::artifact_key)).
    pub fn artifact_key_of(&self, function: &Function) -> String {
        artifact_key(&function.sha256, self.inner_of(function).cache.fingerprint())
    }

    /// Which instance allocator is in use (pooling unless its reservation failed).
    pub fn allocator(&self) -> Allocator {
        self.inner.allocator
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.inner.config
    }

    /// Functions the compilation cache supplied or missed since this
    /// sandbox started (zero without [`SandboxConfig::compile_cache_dir`]).
    pub fn compile_cache_stats(&self) -> CompileCacheStats {
        self.inner.compile_cache.as_ref().map(|c| c.stats()).unwrap_or_default()
    }

    /// Instances running now (of [`SandboxConfig::max_concurrent_instances`]).
    pub fn instances_in_use(&self) -> usize {
        // Shared with the fuel-counting engine: one count for both.
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
        self.inner.compile(wasm, store, self.inner.config.fuel)
    }

    /// [`compile_with`](Self::compile_with) for an engine that counts fuel,
    /// so that invocations with a [`Limits::fuel`] budget can run: this
    /// sandbox's own engine when it counts fuel, else a second one made for
    /// such functions on first use (the others keep running uncounted).
    pub fn compile_counting(&self, wasm: &[u8], store: Option<&dyn ArtifactStore>) -> Result<Arc<Function>, RegisterError> {
        self.counting_inner()?.compile(wasm, store, true)
    }

    /// `function` compiled for the engine that counts fuel (`counting`) or
    /// for this sandbox's own: itself when it is already, else its component
    /// compiled again (a function given a fuel budget after it was
    /// registered, or whose budget was taken away).
    pub fn for_counting(&self, function: &Arc<Function>, counting: bool, store: Option<&dyn ArtifactStore>) -> Result<Arc<Function>, RegisterError> {
        let counting = counting || self.inner.config.fuel;
        match (counting, function.counting) {
            (wanted, has) if wanted == has => Ok(function.clone()),
            (true, _) => self.compile_counting(&function.wasm, store),
            (false, _) => self.compile_with(&function.wasm, store),
        }
    }

    /// Run `function` once. Never panics and never fails the host: every
    /// failure of the guest is an [`InvokeError`] in the returned invocation.
    pub async fn invoke(&self, function: &Arc<Function>, request: Request<'_>) -> Invocation {
        let inner = self.inner_of(function);
        match &inner.guests {
            Some(threads) => invoke::run_on(threads, inner, function, request).await,
            None => invoke::run(inner, function, request).await,
        }
    }

    /// Counters of the warm instances (all functions', or whether `function`
    /// has one ready); zero when [`SandboxConfig::warm_instances`] is off.
    pub fn warm_stats(&self, function: Option<&Function>) -> WarmStats {
        let stats = |inner: &Inner| inner.warm.as_ref().map(|w| w.stats(function)).unwrap_or_default();
        match (function, self.counting.get()) {
            (Some(f), _) => stats(self.inner_of(f)),
            (None, Some(Ok(counting))) => {
                let (plain, counting) = (stats(&self.inner), stats(counting));
                WarmStats { taken: plain.taken + counting.taken, ready: plain.ready + counting.ready }
            }
            (None, _) => stats(&self.inner),
        }
    }
}
