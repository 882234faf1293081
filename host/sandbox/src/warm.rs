//! Warm instances: fresh instances created before they are needed, on spare
//! CPU time.
//!
//! Creating a store and instantiating a component, and tearing the store down
//! afterwards (the pool slot's reset), are most of a small invocation's cost.
//! A preparer thread in the lowest scheduling class (`SCHED_IDLE`: it runs
//! only on a core nothing else wants) keeps a couple of never-called
//! instances ready per recently invoked function, and drops finished
//! stores. Each invocation still runs in its own new instance; only when
//! that instance is made changes. When every core is busy the preparer gets
//! no time, and invocations instantiate and tear down inline, as without it.
//!
//! Hand-offs never wait: an invocation takes a ready instance only if the
//! slot is free at that moment, and a finished store the preparer cannot take
//! yet (its queue is full) is dropped inline. The preparer spins briefly for
//! new work before it sleeps, so a steady stream of invocations never pays
//! for waking it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::thread::{JoinHandle, Thread};
use std::time::{Duration, Instant};

use wasmtime::Store;

use crate::bindings;
use crate::invoke::{InvocationState, new_state};
use crate::logs::LogBuffer;
use crate::{Function, Limits};

/// Instances kept ready per function: two absorb the preparer's jitter
/// (a store to drop, a moment descheduled) in a steady stream of invocations.
const DEPTH: usize = 2;
/// How long the preparer looks for new work before it sleeps.
const SPIN: Duration = Duration::from_micros(200);
/// Finished stores waiting for the preparer; beyond this they are dropped inline.
const MAX_RETIRED: usize = 4;

/// Ready instances may hold at most this many pool slots, a quarter of
/// what invocations may use at once.
pub(crate) fn max_ready(max_concurrent_instances: u32) -> usize {
    (max_concurrent_instances as usize / 4).max(1)
}

/// Pool slots beyond `max_concurrent_instances` that warm instances may
/// hold (ready, queued for teardown, or being made), so invocations keep
/// every slot they are promised.
pub(crate) fn pool_reserve(max_concurrent_instances: u32) -> u32 {
    (max_ready(max_concurrent_instances) + MAX_RETIRED + 1) as u32
}

/// The limits a prepared instance was made under; an invocation takes it
/// only when its own limits agree.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct PrepKey {
    pub memory_limit: u64,
    pub max_log_bytes: usize,
    pub fuel_budget: Option<u64>,
}

impl PrepKey {
    pub fn new(limits: &Limits, memory_limit: u64, fuel_budget: Option<u64>) -> Self {
        PrepKey { memory_limit, max_log_bytes: limits.max_log_bytes, fuel_budget }
    }
}

/// A store holding an instantiated, never-called instance.
pub(crate) struct Prepared {
    pub store: Store<InvocationState>,
    pub task: bindings::Task,
    pub logs: LogBuffer,
    /// Fuel instantiation used (start functions), charged to the invocation.
    pub fuel_used: u64,
    made: Instant,
    /// `None` once the instance no longer counts as ready (evicted).
    counted: Option<ReadyCount>,
}

/// Counts a prepared instance in [`Shared::ready_count`] until it is taken,
/// evicted or dropped with its function.
struct ReadyCount(Arc<AtomicUsize>);

impl ReadyCount {
    fn new(count: &Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        ReadyCount(count.clone())
    }
}

impl Drop for ReadyCount {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// A function's ready instances (at most [`DEPTH`]) and its preparer bookkeeping.
#[derive(Default)]
pub(crate) struct WarmSlot {
    state: Mutex<SlotState>,
    /// A refill is queued with the preparer.
    requested: AtomicBool,
    /// Preparing failed once (instantiation trapped, or exceeded its limits):
    /// invocations of this function report such failures themselves.
    disabled: AtomicBool,
}

#[derive(Default)]
struct SlotState {
    ready: Vec<Prepared>,
    /// The limits (and timeout) of the latest invocation: what the next
    /// instances are prepared under.
    wanted: Option<(PrepKey, Duration)>,
}

struct Shared {
    engine: wasmtime::Engine,
    epoch_tick: Duration,
    /// A ready instance not taken for this long is dropped (its pool slot freed).
    idle: Duration,
    /// Ready instances may hold at most this many pool slots at once.
    max_ready: usize,
    ready_count: Arc<AtomicUsize>,
    requests: Mutex<Vec<Arc<Function>>>,
    retired: Mutex<Vec<Store<InvocationState>>>,
    /// Set after a push to `requests` or `retired`; what the preparer spins on.
    pending: AtomicBool,
    sleeping: AtomicBool,
    stop: AtomicBool,
    thread: OnceLock<Thread>,
    taken: AtomicUsize,
}

/// Counters of the warm-instance machinery.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WarmStats {
    /// Invocations that ran in an instance prepared ahead.
    pub taken: usize,
    /// Instances ready now.
    pub ready: usize,
}

/// The preparer thread and its queues.
pub(crate) struct Warm {
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Warm {
    pub fn start(engine: wasmtime::Engine, epoch_tick: Duration, max_ready: usize, idle: Duration, idle_cpu: bool) -> Self {
        let shared = Arc::new(Shared {
            engine,
            epoch_tick,
            idle,
            max_ready,
            ready_count: Arc::new(AtomicUsize::new(0)),
            requests: Mutex::new(Vec::new()),
            retired: Mutex::new(Vec::new()),
            pending: AtomicBool::new(false),
            sleeping: AtomicBool::new(false),
            stop: AtomicBool::new(false),
            thread: OnceLock::new(),
            taken: AtomicUsize::new(0),
        });
        let worker = shared.clone();
        let thread = std::thread::Builder::new()
            .name("stepbox-warm".into())
            .spawn(move || {
                if idle_cpu {
                    lowest_priority();
                }
                preparer(worker)
            })
            .expect("spawning the warm-instance preparer thread");
        let _ = shared.thread.set(thread.thread().clone());
        Warm { shared, thread: Some(thread) }
    }

    /// Take one of `function`'s ready instances, made under `key` and
    /// `timeout`, and ask for more either way.
    pub fn take(&self, function: &Arc<Function>, key: PrepKey, timeout: Duration) -> Option<Prepared> {
        let slot = &function.warm;
        // Never wait for the preparer: if it holds the slot this moment,
        // this invocation instantiates inline.
        let Ok(mut state) = slot.state.try_lock() else { return None };
        if state.wanted.is_none_or(|(k, t)| k != key || t != timeout) {
            // Instances made under other limits are of no use any more.
            state.wanted = Some((key, timeout));
            // Under new limits, instantiation may succeed (or fail) anew.
            slot.disabled.store(false, Ordering::Relaxed);
            let stale = std::mem::take(&mut state.ready);
            drop(state);
            for p in stale {
                self.retire(p.store);
            }
            self.request(function);
            return None;
        }
        if slot.disabled.load(Ordering::Relaxed) {
            return None;
        }
        let taken = state.ready.pop();
        drop(state);
        self.request(function);
        if taken.is_some() {
            self.shared.taken.fetch_add(1, Ordering::Relaxed);
        }
        taken
    }

    /// Ask the preparer to top `function`'s instances up (once until it has).
    fn request(&self, function: &Arc<Function>) {
        if !function.warm.requested.swap(true, Ordering::AcqRel) {
            // As in `retire`: never wait for the preparer; ask again next time.
            let Ok(mut requests) = self.shared.requests.try_lock() else {
                function.warm.requested.store(false, Ordering::Release);
                return;
            };
            requests.push(function.clone());
            drop(requests);
            self.shared.wake();
        }
    }

    /// Hand a finished store to the preparer to drop (the slot reset), or
    /// drop it here when the preparer is behind.
    pub fn retire(&self, store: Store<InvocationState>) {
        // Never wait for the preparer: it runs at the lowest priority and may
        // be descheduled for long while holding the lock.
        let Ok(mut retired) = self.shared.retired.try_lock() else { return drop(store) };
        if retired.len() >= MAX_RETIRED {
            drop(retired);
            drop(store);
            return;
        }
        retired.push(store);
        drop(retired);
        self.shared.wake();
    }

    pub fn stats(&self, function: Option<&Function>) -> WarmStats {
        let ready = match function {
            Some(f) => f.warm.state.lock().map(|s| s.ready.len()).unwrap_or(0),
            None => self.shared.ready_count.load(Ordering::Relaxed),
        };
        WarmStats { taken: self.shared.taken.load(Ordering::Relaxed), ready }
    }
}

impl Drop for Warm {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            t.thread().unpark();
            let _ = t.join();
        }
    }
}

impl Shared {
    fn wake(&self) {
        self.pending.store(true, Ordering::SeqCst);
        if self.sleeping.load(Ordering::SeqCst)
            && let Some(t) = self.thread.get()
        {
            t.unpark();
        }
    }

    /// A fresh instance of `function` under `key`. Instantiation runs under
    /// the function's timeout (a start function that never returns traps)
    /// and its fuel budget.
    async fn prepare(&self, function: &Function, key: PrepKey, timeout: Duration) -> wasmtime::Result<Prepared> {
        let logs = LogBuffer::new(key.max_log_bytes);
        let state = new_state(None, Arc::from([]), key.memory_limit, &logs, None);
        let mut store = Store::new(&self.engine, state);
        store.limiter(|s| &mut s.limiter);
        if let Some(budget) = key.fuel_budget {
            store.set_fuel(budget)?;
        }
        let ticks = (timeout.as_nanos() / self.epoch_tick.as_nanos().max(1)) as u64 + 1;
        store.epoch_deadline_trap();
        store.set_epoch_deadline(ticks);
        let task = function.pre.instantiate_async(&mut store).await?;
        let fuel_used = match key.fuel_budget {
            Some(budget) => budget - store.get_fuel().unwrap_or(0),
            None => 0,
        };
        Ok(Prepared { store, task, logs, fuel_used, made: Instant::now(), counted: Some(ReadyCount::new(&self.ready_count)) })
    }
}

/// The preparer: drops retired stores, refills requested slots, evicts
/// instances nobody took for a while; spins briefly, then sleeps.
fn preparer(shared: Arc<Shared>) {
    let rt = match tokio::runtime::Builder::new_current_thread().build() {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!(error = %e, "warm instances disabled: no executor for the preparer");
            return;
        }
    };
    // Functions that may hold a ready instance, for eviction.
    let mut holding: Vec<Weak<Function>> = Vec::new();
    let mut last_work = Instant::now();
    let mut last_eviction = Instant::now();
    while !shared.stop.load(Ordering::SeqCst) {
        // Refills first: the next invocation may be about to look for one.
        let requests = std::mem::take(&mut *shared.requests.lock().unwrap_or_else(|e| e.into_inner()));
        if !requests.is_empty() {
            for function in requests {
                refill(&shared, &rt, &function, &mut holding);
            }
            last_work = Instant::now();
            continue;
        }
        // Then one finished store at a time, looking for refills in between.
        let retired = shared.retired.lock().unwrap_or_else(|e| e.into_inner()).pop();
        if let Some(store) = retired {
            drop(store);
            last_work = Instant::now();
            continue;
        }
        if shared.pending.swap(false, Ordering::SeqCst) {
            continue;
        }
        if last_eviction.elapsed() >= shared.idle / 4 {
            evict_idle(&mut holding, shared.idle);
            last_eviction = Instant::now();
        }
        if last_work.elapsed() < SPIN {
            for _ in 0..64 {
                std::hint::spin_loop();
            }
            continue;
        }
        shared.sleeping.store(true, Ordering::SeqCst);
        if !shared.pending.load(Ordering::SeqCst) && !shared.stop.load(Ordering::SeqCst) {
            std::thread::park_timeout(shared.idle / 4);
        }
        shared.sleeping.store(false, Ordering::SeqCst);
    }
}

fn refill(shared: &Shared, rt: &tokio::runtime::Runtime, function: &Arc<Function>, holding: &mut Vec<Weak<Function>>) {
    let slot = &function.warm;
    slot.requested.store(false, Ordering::Release);
    while !slot.disabled.load(Ordering::Relaxed) && shared.ready_count.load(Ordering::Relaxed) < shared.max_ready {
        let wanted = {
            let state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
            match state.wanted {
                Some(wanted) if state.ready.len() < DEPTH => wanted,
                _ => return,
            }
        };
        let (key, timeout) = wanted;
        match rt.block_on(shared.prepare(function, key, timeout)) {
            Ok(prepared) => {
                let mut state = slot.state.lock().unwrap_or_else(|e| e.into_inner());
                // Limits changed meanwhile: this one is dropped (out of the lock).
                let stale = if state.wanted == Some(wanted) {
                    state.ready.push(prepared);
                    None
                } else {
                    Some(prepared)
                };
                drop(state);
                drop(stale);
                if !holding.iter().any(|w| w.as_ptr() == Arc::as_ptr(function)) {
                    holding.push(Arc::downgrade(function));
                }
            }
            Err(e) => {
                tracing::debug!(
                    error = format!("{e:#}"),
                    "not preparing instances of a function whose instantiation fails"
                );
                slot.disabled.store(true, Ordering::Relaxed);
            }
        }
    }
}

fn evict_idle(holding: &mut Vec<Weak<Function>>, idle: Duration) {
    holding.retain(|weak| {
        let Some(function) = weak.upgrade() else { return false };
        let mut state = function.warm.state.lock().unwrap_or_else(|e| e.into_inner());
        let (keep, mut old): (Vec<_>, Vec<_>) =
            std::mem::take(&mut state.ready).into_iter().partition(|p| p.made.elapsed() < idle);
        state.ready = keep;
        // Uncounted under the lock: the global count never lags the slot's
        // while the evicted stores are torn down below.
        for evicted in &mut old {
            evicted.counted = None;
        }
        let holds = !state.ready.is_empty();
        drop(state);
        drop(old);
        holds
    });
}

/// `SCHED_IDLE`: the preparer only ever uses a core that would otherwise idle.
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        let param = libc::sched_param { sched_priority: 0 };
        // Through pthreads, which keeps the class it reports in step.
        // SAFETY: the calling thread, with a valid parameter.
        let rc = unsafe { libc::pthread_setschedparam(libc::pthread_self(), libc::SCHED_IDLE, &param) };
        if rc != 0 {
            tracing::debug!("SCHED_IDLE unavailable for the warm-instance preparer");
        }
    }
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use std::os::unix::thread::JoinHandleExt;

    use super::*;

    /// The scheduling policy of a running preparer thread.
    fn policy(warm: &Warm) -> libc::c_int {
        let handle = warm.thread.as_ref().expect("preparer running").as_pthread_t();
        let mut policy = -1;
        let mut param = libc::sched_param { sched_priority: 0 };
        // SAFETY: the thread is alive (joined only on drop); both pointers are valid.
        let rc = unsafe { libc::pthread_getschedparam(handle, &mut policy, &mut param) };
        assert_eq!(rc, 0);
        policy
    }

    #[test]
    fn the_preparer_runs_on_idle_cpu_unless_told_otherwise() {
        let engine = wasmtime::Engine::default();
        let idle = Warm::start(engine.clone(), Duration::from_millis(1), 2, Duration::from_secs(1), true);
        let normal = Warm::start(engine, Duration::from_millis(1), 2, Duration::from_secs(1), false);
        let deadline = Instant::now() + Duration::from_secs(10);
        // The preparer sets its own class as it starts.
        while policy(&idle) != libc::SCHED_IDLE && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(1));
        }
        assert_eq!(policy(&idle), libc::SCHED_IDLE);
        assert_eq!(policy(&normal), libc::SCHED_OTHER);
    }
}
