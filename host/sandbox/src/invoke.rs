//! One invocation: fresh store and instance, limits, WASI, classification of
//! every way a guest can fail into a named [`InvokeError`].

use std::sync::Arc;
use std::time::{Duration, Instant};

use wasmtime::{ResourceLimiter, Store, Trap, UpdateDeadline};
use wasmtime_wasi::{FsPerms, ResourceTable, WasiCtx, WasiCtxBuilder, WasiCtxView, WasiView};

use crate::bindings::stepbox::task::{host, types};
use crate::logs::{LogBuffer, Logs};
use crate::guests::GuestThreads;
use crate::warm::PrepKey;
use crate::{Function, Inner, InvokeError, Limits};

/// What the task is told about its invocation (the WIT `context` record).
#[derive(Debug, Clone, Default)]
pub struct TaskContext {
    pub execution_name: String,
    pub execution_arn: String,
    pub state_name: String,
    pub retry_count: u32,
    pub task_token: Option<String>,
    pub request_id: String,
}

/// One invocation's input and settings.
pub struct Request<'a> {
    /// The task input, JSON text.
    pub input: &'a str,
    pub context: TaskContext,
    pub limits: &'a Limits,
    /// Called on each `heartbeat()` from the guest.
    pub on_heartbeat: Option<Arc<dyn Fn() + Send + Sync>>,
}

/// The outcome of an invocation.
#[derive(Debug, Clone)]
pub struct Invocation {
    /// Output JSON text, or why it failed.
    pub result: Result<String, InvokeError>,
    pub logs: Logs,
    pub duration: Duration,
    /// Time from the start until the guest stopped running (returned,
    /// trapped or was cut off), before the store was torn down.
    pub stopped_after: Duration,
    /// Fuel used, when fuel is counted.
    pub fuel_consumed: Option<u64>,
    /// The most linear memory the guest held at once, in bytes (Lambda's
    /// "Max Memory Used"; 0 when no guest code ran).
    pub max_memory_used: u64,
}

/// The store's data for one invocation.
pub(crate) struct InvocationState {
    pub(crate) on_heartbeat: Option<Arc<dyn Fn() + Send + Sync>>,
    pub(crate) limiter: MemoryLimiter,
    /// Built on the guest's first WASI call: a component without WASI imports
    /// (a lean build) never pays for one.
    wasi: Option<WasiCtx>,
    /// The environment the WASI context is built with (see [`Limits::env`]).
    env: Arc<[(String, String)]>,
    table: ResourceTable,
    logs: LogBuffer,
}

impl InvocationState {
    /// Give the guest environment `env`: a WASI context made before (by a
    /// prepared instance's instantiation) is made again with it.
    pub(crate) fn set_env(&mut self, env: &Arc<[(String, String)]>) {
        if Arc::ptr_eq(&self.env, env) || (self.env.is_empty() && env.is_empty()) {
            return;
        }
        self.env = env.clone();
        if self.wasi.is_some() {
            self.wasi = Some(plain_wasi_ctx(&self.logs, &self.env));
        }
    }
}

impl WasiView for InvocationState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        let (logs, env) = (&self.logs, &self.env);
        let ctx = self.wasi.get_or_insert_with(|| plain_wasi_ctx(logs, env));
        WasiCtxView { ctx, table: &mut self.table }
    }
}

impl types::Host for InvocationState {}

impl host::Host for InvocationState {
    fn log(&mut self, level: host::LogLevel, message: String) {
        let prefix = match level {
            host::LogLevel::Trace => "TRACE",
            host::LogLevel::Debug => "DEBUG",
            host::LogLevel::Info => "INFO",
            host::LogLevel::Warn => "WARN",
            host::LogLevel::Error => "ERROR",
        };
        self.logs.append_line(prefix, &message);
    }

    fn heartbeat(&mut self) {
        if let Some(f) = &self.on_heartbeat {
            f();
        }
    }
}

/// Caps linear memory; remembers that the cap was hit so the resulting
/// allocation-failure trap is reported as `Sandbox.OutOfMemory`.
pub(crate) struct MemoryLimiter {
    limit: u64,
    exceeded: bool,
    /// The largest size a memory was let grow to (instantiation included).
    peak: u64,
}

impl ResourceLimiter for MemoryLimiter {
    fn memory_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        if desired as u64 > self.limit {
            self.exceeded = true;
            return Ok(false);
        }
        self.peak = self.peak.max(desired as u64);
        Ok(true)
    }

    fn table_growing(&mut self, _current: usize, desired: usize, _max: Option<usize>) -> wasmtime::Result<bool> {
        Ok(desired <= 1_000_000)
    }
}

/// The error the epoch callback raises when the deadline has passed.
#[derive(Debug)]
struct DeadlineReached;

impl std::fmt::Display for DeadlineReached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("deadline reached")
    }
}

impl std::error::Error for DeadlineReached {}

/// The store data of a new invocation; `logs` receives stdout, stderr and `log`
/// lines. Without a `wasi` context (no scratch directory) the plain one is
/// made when the guest first needs it.
pub(crate) fn new_state(
    wasi: Option<WasiCtx>,
    env: Arc<[(String, String)]>,
    memory_limit: u64,
    logs: &LogBuffer,
    on_heartbeat: Option<Arc<dyn Fn() + Send + Sync>>,
) -> InvocationState {
    InvocationState {
        wasi,
        env,
        table: ResourceTable::new(),
        limiter: MemoryLimiter { limit: memory_limit, exceeded: false, peak: 0 },
        logs: logs.clone(),
        on_heartbeat,
    }
}

/// WASI for a guest granted a scratch directory: stdout and stderr into
/// `logs`, the function's environment `env` and the private directory at
/// `/tmp`; no args, network or inherited stdio.
pub(crate) fn wasi_ctx(logs: &LogBuffer, env: &[(String, String)], scratch: &std::path::Path) -> wasmtime::Result<WasiCtx> {
    let mut wasi = wasi_builder(logs, env);
    wasi.preopened_dir(scratch, "/tmp", FsPerms::ReadWrite)?;
    Ok(wasi.build())
}

/// WASI for every other guest: stdout and stderr into `logs` and the
/// function's environment `env`, nothing else; nothing in it can fail.
fn plain_wasi_ctx(logs: &LogBuffer, env: &[(String, String)]) -> WasiCtx {
    wasi_builder(logs, env).build()
}

fn wasi_builder(logs: &LogBuffer, env: &[(String, String)]) -> WasiCtxBuilder {
    let mut wasi = WasiCtxBuilder::new();
    wasi.stdout(logs.clone()).stderr(logs.clone()).envs(env);
    wasi
}

/// Run `request` on the caller's runtime.
pub(crate) async fn run(inner: &Inner, function: &Arc<Function>, request: Request<'_>) -> Invocation {
    // Beyond `max_concurrent_instances` an invocation waits for a running one
    // to finish (the pool has no instance for it), as Lambda queues beyond
    // its concurrency; its timeout starts when it gets one. The permit is
    // held until the store is torn down or handed to the preparer.
    let _instance = inner.instances.acquire().await.expect("the instance semaphore is never closed");
    run_admitted(inner, function, request).await
}

/// Run `request` on the caller's runtime for up to `demote_after`, then, if
/// it is still running, move it to a low-priority guest thread (see
/// `guests.rs`). Dropping the returned future cancels the invocation (on a
/// guest thread, at the guest's next epoch tick).
pub(crate) async fn run_on(
    threads: &Arc<GuestThreads>,
    inner: &Arc<Inner>,
    function: &Arc<Function>,
    request: Request<'_>,
) -> Invocation {
    let permit = inner.instances.clone().acquire_owned().await.expect("the instance semaphore is never closed");
    let started = Instant::now();
    let (inner, function) = (inner.clone(), function.clone());
    let (input, limits) = (request.input.to_string(), request.limits.clone());
    let (context, on_heartbeat) = (request.context, request.on_heartbeat);
    let slice = inner.config.demote_after;
    let mut invocation = Box::pin(async move {
        let request = Request { input: &input, context, limits: &limits, on_heartbeat };
        let invocation = run_admitted(&inner, &function, request).await;
        drop(permit);
        invocation
    });
    // The guest yields at every epoch tick: once it has run (been polled) for
    // its slice, it stops here. Time waiting to be polled does not count, so
    // a short invocation on a busy runtime is not mistaken for a long one.
    let mut ran = Duration::ZERO;
    let inline = std::future::poll_fn(|cx| {
        let polled = Instant::now();
        let poll = invocation.as_mut().poll(cx);
        ran += polled.elapsed();
        match poll {
            std::task::Poll::Ready(done) => std::task::Poll::Ready(Some(done)),
            std::task::Poll::Pending if ran >= slice => std::task::Poll::Ready(None),
            std::task::Poll::Pending => std::task::Poll::Pending,
        }
    });
    if let Some(done) = inline.await {
        return done;
    }
    // Dropping the guest (this future dropped) aborts the invocation.
    match threads.spawn(invocation).await {
        Some(done) => done,
        None => failed_early(started, InvokeError::Internal("the guest thread stopped before the invocation finished".into())),
    }
}

async fn run_admitted(inner: &Inner, function: &Arc<Function>, request: Request<'_>) -> Invocation {
    let started = Instant::now();
    let limits = request.limits;
    let memory_limit = limits.memory_bytes.min(inner.config.max_memory_bytes);
    let fuel_budget = match (inner.config.fuel, limits.fuel) {
        (true, budget) => Some(budget.unwrap_or(u64::MAX)),
        (false, None) => None,
        (false, Some(budget)) => {
            let message = format!("a fuel budget ({budget}) needs a sandbox that counts fuel (SandboxConfig::fuel)");
            return failed_early(started, InvokeError::Internal(message));
        }
    };
    // An instance made ahead (warm.rs), unless this invocation gets a scratch directory.
    let prepared = match &inner.warm {
        Some(warm) if !limits.scratch_dir => {
            warm.take(function, PrepKey::new(limits, memory_limit, fuel_budget), limits.timeout)
        }
        _ => None,
    };

    // The scratch directory lives until the end of this function, then is removed.
    let mut scratch = None;
    let (mut store, task, logs, fuel_used) = match prepared {
        Some(p) => {
            let mut store = p.store;
            store.data_mut().on_heartbeat = request.on_heartbeat;
            store.data_mut().set_env(&limits.env);
            (store, Some(p.task), p.logs, p.fuel_used)
        }
        None => {
            let logs = LogBuffer::new(limits.max_log_bytes);
            scratch = match limits.scratch_dir.then(tempfile::tempdir).transpose() {
                Ok(dir) => dir,
                Err(e) => {
                    let error = InvokeError::Internal(format!("creating scratch directory: {e}"));
                    return failed_early(started, error);
                }
            };
            let wasi = match scratch.as_ref().map(|d| wasi_ctx(&logs, &limits.env, d.path())).transpose() {
                Ok(wasi) => wasi,
                Err(e) => {
                    let error = InvokeError::Internal(format!("granting scratch directory: {e:#}"));
                    return failed_early(started, error);
                }
            };
            let state = new_state(wasi, limits.env.clone(), memory_limit, &logs, request.on_heartbeat);
            let mut store = Store::new(&inner.engine, state);
            store.limiter(|s| &mut s.limiter);
            (store, None, logs, 0)
        }
    };
    let finish = |result, fuel_consumed, stopped_after, max_memory_used| Invocation {
        result,
        logs: logs.snapshot(),
        duration: started.elapsed(),
        stopped_after,
        fuel_consumed,
        max_memory_used,
    };
    if let Some(budget) = fuel_budget {
        store.set_fuel(budget.saturating_sub(fuel_used)).expect("fuel is enabled on the engine");
    }
    // Every tick the guest yields to the executor (so the outer timeout and
    // other tasks progress) unless its deadline has passed, which traps.
    let deadline = started + limits.timeout;
    store.set_epoch_deadline(1);
    store.epoch_deadline_callback(move |_| {
        if Instant::now() >= deadline {
            return Err(wasmtime::Error::new(DeadlineReached));
        }
        Ok(UpdateDeadline::Yield(1))
    });

    let remaining = limits.timeout.saturating_sub(started.elapsed());
    let ctx = types::Context {
        execution_name: request.context.execution_name,
        execution_arn: request.context.execution_arn,
        state_name: request.context.state_name,
        retry_count: request.context.retry_count,
        remaining_time_ms: remaining.as_millis() as u64,
        task_token: request.context.task_token,
        request_id: request.context.request_id,
    };
    let call = async {
        let task = match task {
            Some(task) => task,
            None => function.pre.instantiate_async(&mut store).await?,
        };
        task.call_handle(&mut store, request.input, &ctx).await
    };
    // The outer timeout guards host calls the epoch cannot interrupt (a guest
    // blocked in a WASI sleep or poll).
    let outcome = tokio::time::timeout_at(deadline.into(), call).await;
    let stopped_after = started.elapsed();
    let fuel_consumed = fuel_budget.map(|b| b - store.get_fuel().unwrap_or(0));
    let result = match outcome {
        Err(_elapsed) => Err(InvokeError::Timeout { limit: limits.timeout }),
        Ok(Ok(Ok(output))) if output.len() > limits.max_output_bytes => {
            Err(InvokeError::OutputTooLarge { size: output.len(), limit: limits.max_output_bytes })
        }
        Ok(Ok(Ok(output))) => Ok(output),
        // An interpreter turns a refused memory.grow into an exception of its
        // own (Python's MemoryError, SpiderMonkey's "out of memory") that its
        // adapter reports as the task's error: the cap is what failed it.
        Ok(Ok(Err(_))) if store.data().limiter.exceeded => {
            Err(InvokeError::OutOfMemory { limit: store.data().limiter.limit })
        }
        Ok(Ok(Err(e))) => Err(InvokeError::Task { error: e.error, cause: e.cause, stack_trace: e.stack_trace }),
        Ok(Err(e)) => Err(classify_trap(&e, store.data(), limits, fuel_budget, &logs)),
    };
    let max_memory_used = store.data().limiter.peak;
    // Tearing the store down resets its pool slot: the preparer does that off
    // this path when it can. A scratch directory's store goes first, here.
    match (&inner.warm, &scratch) {
        (Some(warm), None) => warm.retire(store),
        _ => drop(store),
    }
    drop(scratch);
    finish(result, fuel_consumed, stopped_after, max_memory_used)
}

/// An invocation that failed before any guest code could run.
fn failed_early(started: Instant, error: InvokeError) -> Invocation {
    Invocation {
        result: Err(error),
        logs: Logs::default(),
        duration: started.elapsed(),
        stopped_after: started.elapsed(),
        fuel_consumed: None,
        max_memory_used: 0,
    }
}

fn classify_trap(
    e: &wasmtime::Error,
    state: &InvocationState,
    limits: &Limits,
    fuel_budget: Option<u64>,
    logs: &LogBuffer,
) -> InvokeError {
    if e.downcast_ref::<DeadlineReached>().is_some() {
        return InvokeError::Timeout { limit: limits.timeout };
    }
    if state.limiter.exceeded {
        return InvokeError::OutOfMemory { limit: state.limiter.limit };
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => {
            InvokeError::OutOfFuel { budget: fuel_budget.unwrap_or_default() }
        }
        Some(trap) => {
            let trap_text = match trap {
                Trap::StackOverflow => "stack overflow: call stack exhausted".to_string(),
                other => other.to_string(),
            };
            let message = match panic_message(&logs.snapshot()) {
                Some(panic) => format!("{panic} ({trap_text})"),
                None => trap_text,
            };
            InvokeError::Trap { message }
        }
        None => InvokeError::Trap { message: format!("{e:#}") },
    }
}

/// A Rust guest's panic hook prints `panicked at FILE:LINE:COL:\nMESSAGE` to stderr.
fn panic_message(logs: &Logs) -> Option<String> {
    let start = logs.text.rfind("panicked at ")?;
    let rest = &logs.text[start..];
    let mut lines = rest.lines();
    let location = lines.next()?.trim_end_matches(':');
    let message = lines.next().unwrap_or("").trim();
    Some(format!("{location}: {message}"))
}
