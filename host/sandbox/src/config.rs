//! Sandbox-wide configuration and per-invocation limits.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// How the wasmtime engine is set up; one per process.
#[derive(Debug, Clone)]
pub struct SandboxConfig {
    /// Where precompiled artifacts are kept (content-addressed). `None`: memory only.
    pub cache_dir: Option<PathBuf>,
    /// Where Cranelift keeps each compiled function (its incremental
    /// cache), so functions compiled once (CPython's and SpiderMonkey's,
    /// shared by every Python and JavaScript component) are not compiled
    /// again. `None`: every compilation compiles every function.
    pub compile_cache_dir: Option<PathBuf>,
    /// Instances that may run at once; sizes the pooling allocator.
    pub max_concurrent_instances: u32,
    /// Largest linear memory any instance may grow to; sizes each pool slot.
    /// Per-invocation [`Limits::memory_bytes`] must not exceed it.
    pub max_memory_bytes: u64,
    /// Period of the epoch ticker; a timeout is noticed within one tick.
    pub epoch_tick: Duration,
    /// Count fuel (instructions) so [`Limits::fuel`] can be enforced. Off by
    /// default: counting costs every guest basic block a check, so only a
    /// sandbox that runs functions with fuel budgets turns it on (invoking
    /// with a budget on a sandbox that does not count fails, never silently).
    pub fuel: bool,
    /// Use the pooling allocator when the address-space reservation succeeds.
    pub pooling: bool,
    /// Native stack for guest code (wasm call depth is bounded by it).
    pub max_wasm_stack_bytes: usize,
    /// Prepare each recently invoked function's next instance ahead, and
    /// tear finished ones down, on a thread that only uses idle CPU. Every
    /// invocation still runs in a new instance.
    pub warm_instances: bool,
    /// A prepared instance not taken within this time is dropped, freeing
    /// its pool slot.
    pub warm_idle: Duration,
    /// The preparer runs in the lowest scheduling class (Linux `SCHED_IDLE`),
    /// on CPU nothing else wants. Off: at the creating thread's priority,
    /// so instances are prepared on a busy machine too, at the cost of CPU
    /// the invocations could have had (tests that must see an instance
    /// prepared while the rest of a suite keeps every core busy).
    pub warm_on_idle_cpu: bool,
    /// Move an invocation still running after [`demote_after`](Self::demote_after)
    /// off the caller's runtime to a guest thread at the lowest priority
    /// (see `guests.rs`), so long-running guests cannot starve the caller's
    /// other tasks. Off: every invocation runs on the caller's runtime.
    pub guest_threads: bool,
    /// How long an invocation runs on the caller's runtime before it moves.
    pub demote_after: Duration,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            cache_dir: None,
            compile_cache_dir: None,
            max_concurrent_instances: 128,
            max_memory_bytes: 512 << 20,
            epoch_tick: Duration::from_millis(1),
            fuel: false,
            pooling: true,
            max_wasm_stack_bytes: 1 << 20,
            warm_instances: true,
            warm_idle: Duration::from_secs(10),
            warm_on_idle_cpu: true,
            guest_threads: true,
            demote_after: Duration::from_millis(1),
        }
    }
}

/// Limits of one invocation (a function's configuration, like a Lambda's
/// Timeout and MemorySize).
#[derive(Debug, Clone)]
pub struct Limits {
    /// The function's own timeout; exceeding it fails with `Sandbox.Timedout`.
    pub timeout: Duration,
    /// Linear-memory cap; exceeding it fails with `Sandbox.OutOfMemory`.
    pub memory_bytes: u64,
    /// Instruction budget; running out fails with `Sandbox.OutOfFuel`. Needs
    /// a sandbox with [`SandboxConfig::fuel`]. `None`: unlimited.
    pub fuel: Option<u64>,
    /// Largest output accepted; more fails with `States.DataLimitExceeded`.
    pub max_output_bytes: usize,
    /// Captured log bytes kept (stdout, stderr and `log` lines together).
    pub max_log_bytes: usize,
    /// Grant a private, empty scratch directory mounted at `/tmp`, removed afterwards.
    pub scratch_dir: bool,
    /// The guest's environment variables (a Lambda function's runtime
    /// variables and its `Environment.Variables`); empty by default.
    pub env: Arc<[(String, String)]>,
}

/// Step Functions' payload limit (256 KiB), also a Lambda response's practical cap here.
pub const MAX_PAYLOAD_BYTES: usize = 256 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            timeout: Duration::from_secs(3),
            memory_bytes: 128 << 20,
            fuel: None,
            max_output_bytes: MAX_PAYLOAD_BYTES,
            max_log_bytes: 64 * 1024,
            scratch_dir: false,
            env: Arc::from([]),
        }
    }
}
