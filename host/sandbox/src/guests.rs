//! Where long-running guests go: threads of their own at the lowest
//! priority, so a spinning guest never holds a worker of the runtime that
//! serves the API and runs the engine.
//!
//! An invocation starts on the caller's runtime, as any task; if it is still
//! running after [`SandboxConfig::demote_after`](crate::SandboxConfig::demote_after)
//! (checked when the guest yields, at every epoch tick), its future moves to a
//! guest thread (`invoke::run_on`). A two-level feedback queue on the OS
//! scheduler: short invocations (most Tasks) pay nothing and run at the
//! caller's priority; long ones run at nice 19 (Linux), where the API's
//! threads and short invocations outweigh them and they share among
//! themselves what CPU those leave.
//!
//! - Each guest thread polls one moved invocation at a time on a
//!   current-thread tokio runtime of its own (WASI's host calls and the
//!   deadline timer need one). The caller awaits the outcome; dropping its
//!   future cancels the invocation at the guest's next epoch tick.
//! - Idle threads wait [`IDLE_KEEP`] for another invocation, then exit.
//!   There are never more busy threads than instances may run at once (an
//!   invocation holds its instance permit wherever it runs).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak, mpsc};
use std::time::Duration;

/// How long an idle guest thread waits for another invocation before it exits.
pub const IDLE_KEEP: Duration = Duration::from_secs(10);

/// Work handed to a guest thread; what it returns delivers the result, once
/// the thread is idle again (so a caller that hands over the next job as soon
/// as it has the result finds this thread waiting for it).
type Job = Box<dyn FnOnce(&tokio::runtime::Runtime) -> Deliver + Send>;
type Deliver = Box<dyn FnOnce() + Send>;

struct Idle {
    id: u64,
    jobs: mpsc::Sender<Job>,
}

/// The guest threads of one sandbox.
pub(crate) struct GuestThreads {
    idle: Mutex<Vec<Idle>>,
    next_id: AtomicU64,
}

impl GuestThreads {
    pub(crate) fn new() -> Arc<Self> {
        Arc::new(GuestThreads { idle: Mutex::new(Vec::new()), next_id: AtomicU64::new(0) })
    }

    fn idle(&self) -> std::sync::MutexGuard<'_, Vec<Idle>> {
        self.idle.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Run `work` on a guest thread (an idle one, else a new one); the
    /// receiver gets its result, or an error if the thread could not run it.
    pub(crate) fn run<T: Send + 'static>(
        self: &Arc<Self>,
        work: impl FnOnce(&tokio::runtime::Runtime) -> T + Send + 'static,
    ) -> tokio::sync::oneshot::Receiver<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let mut job: Job = Box::new(move |rt| {
            let result = work(rt);
            Box::new(move || {
                let _ = tx.send(result);
            })
        });
        loop {
            let Some(idle) = self.idle().pop() else {
                self.spawn(job);
                return rx;
            };
            match idle.jobs.send(job) {
                Ok(()) => return rx,
                // It exited meanwhile: try the next.
                Err(mpsc::SendError(back)) => job = back,
            }
        }
    }

    fn spawn(self: &Arc<Self>, first: Job) {
        let threads = Arc::downgrade(self);
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let spawned =
            std::thread::Builder::new().name("stepbox-guest".into()).spawn(move || worker(threads, id, first));
        if let Err(e) = spawned {
            // The job (and its sender) is dropped: the caller sees the thread fail.
            tracing::error!(error = %e, "cannot start a guest thread");
        }
    }
}

/// A guest thread, at the lowest priority: runs jobs until it has been idle
/// for [`IDLE_KEEP`] or the sandbox is gone.
fn worker(threads: Weak<GuestThreads>, id: u64, first: Job) {
    lowest_priority();
    let rt = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => return tracing::error!(error = %e, "cannot build a guest thread's runtime"),
    };
    let (tx, rx) = mpsc::channel::<Job>();
    let mut job = first;
    loop {
        let deliver = job(&rt);
        let Some(pool) = threads.upgrade() else { return deliver() };
        pool.idle().push(Idle { id, jobs: tx.clone() });
        deliver();
        job = match rx.recv_timeout(IDLE_KEEP) {
            Ok(job) => job,
            Err(_) => {
                let mut idle = pool.idle();
                match idle.iter().position(|i| i.id == id) {
                    Some(at) => {
                        idle.remove(at);
                        return;
                    }
                    // Taken just now: its job is on the way.
                    None => {
                        drop(idle);
                        match rx.recv() {
                            Ok(job) => job,
                            Err(_) => return,
                        }
                    }
                }
            }
        };
    }
}

/// Nice 19 in the normal class (Linux: a thread's own nice value): the API's
/// threads and short invocations win the CPU whenever they want it, yet a
/// guest thread still gets its small share on a machine that is never idle.
/// (`SCHED_IDLE`, tried before, runs a thread only on a core nobody else
/// wants: on a machine kept busy, a guest could wait there without end and
/// its Task fail with States.Timeout, and a guest preempted while it held a
/// lock the host's threads wanted could stall them.)
fn lowest_priority() {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: plain syscall on the calling thread (who = 0: this thread).
        let rc = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, GUEST_NICE) };
        if rc != 0 {
            tracing::debug!("cannot lower a guest thread's priority");
        }
    }
}

/// The nice value of guest threads.
#[cfg(target_os = "linux")]
const GUEST_NICE: libc::c_int = 19;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_run_on_reused_threads_and_the_results_come_back() {
        let threads = GuestThreads::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let first = rt.block_on(threads.run(|_| std::thread::current().id())).unwrap();
        let second = rt.block_on(threads.run(|_| std::thread::current().id())).unwrap();
        assert_eq!(first, second, "an idle thread takes the next job");
        assert_ne!(first, std::thread::current().id());
    }

    #[test]
    fn guest_threads_run_at_the_lowest_nice_value() {
        let threads = GuestThreads::new();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // SAFETY: reads the calling thread's scheduling policy and nice value.
        let (policy, nice) = rt
            .block_on(threads.run(|_| unsafe { (libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, 0)) }))
            .unwrap();
        #[cfg(target_os = "linux")]
        {
            assert_eq!(policy, libc::SCHED_OTHER, "guests keep the normal class, so they always progress");
            assert_eq!(nice, GUEST_NICE);
        }
        // The caller's own thread keeps its priority.
        // SAFETY: as above, on this thread.
        assert_ne!(unsafe { libc::getpriority(libc::PRIO_PROCESS, 0) }, 19);
    }
}
