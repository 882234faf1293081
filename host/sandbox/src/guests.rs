//! Where long-running guests go: a few threads of their own at the lowest
//! priority, so a spinning guest never holds a worker of the runtime that
//! serves the API and runs the engine.
//!
//! An invocation starts on the caller's runtime, as any task; if it is still
//! running after [`SandboxConfig::demote_after`](crate::SandboxConfig::demote_after)
//! (checked when the guest yields, at every epoch tick), its future moves to
//! the guest threads (`invoke::run_on`). A two-level feedback queue on the OS
//! scheduler: short invocations (most Tasks) pay nothing and run at the
//! caller's priority; long ones run at nice 19 (Linux), where the API's
//! threads and short invocations outweigh them.
//!
//! - The guest threads are the workers of one multi-thread tokio runtime,
//!   as many as the machine has cores (WASI's host calls and the deadline
//!   timer need a runtime). Moved invocations are its tasks: a guest yields
//!   at every epoch tick, so however many spin, they take turns on these few
//!   threads, a tick each. Few runnable low-priority threads is what keeps
//!   the host's threads from waiting: the kernel lets each thread it picks
//!   run until its next tick (4 ms), and with one thread per invocation a
//!   woken API thread waited behind one guest after the other (up to 75 ms
//!   with 24 spinning guests; see the README).
//! - The caller awaits the outcome; dropping its future aborts the task, at
//!   the guest's next epoch tick.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

/// The guest threads of one sandbox.
pub(crate) struct GuestThreads {
    /// `None` only while dropping.
    rt: Option<tokio::runtime::Runtime>,
}

impl GuestThreads {
    /// One guest thread per core (`available_parallelism`), at least one.
    pub(crate) fn new() -> std::io::Result<Arc<Self>> {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        Self::with_threads(cores)
    }

    pub(crate) fn with_threads(threads: usize) -> std::io::Result<Arc<Self>> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(threads.max(1))
            .thread_name("stepbox-guest")
            .on_thread_start(lowest_priority)
            .enable_all()
            .build()?;
        Ok(Arc::new(GuestThreads { rt: Some(rt) }))
    }

    /// Run `work` on the guest threads; the returned future has its
    /// outcome (an error if the task panicked), and dropping it aborts it.
    pub(crate) fn spawn<F>(&self, work: F) -> Guest<F::Output>
    where
        F: Future + Send + 'static,
        F::Output: Send + 'static,
    {
        match &self.rt {
            Some(rt) => Guest(Some(rt.spawn(work))),
            None => Guest(None),
        }
    }
}

impl Drop for GuestThreads {
    fn drop(&mut self) {
        // Dropping a runtime blocks, which a caller's async context forbids.
        if let Some(rt) = self.rt.take() {
            rt.shutdown_background();
        }
    }
}

/// A task on the guest threads; dropping it aborts the task.
pub(crate) struct Guest<T>(Option<tokio::task::JoinHandle<T>>);

impl<T> Future for Guest<T> {
    type Output = Option<T>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<T>> {
        match self.0.as_mut() {
            Some(handle) => Pin::new(handle).poll(cx).map(Result::ok),
            None => Poll::Ready(None),
        }
    }
}

impl<T> Drop for Guest<T> {
    fn drop(&mut self) {
        if let Some(handle) = &self.0 {
            handle.abort();
        }
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
    use std::collections::HashSet;

    #[test]
    fn many_guests_take_turns_on_the_guest_threads() {
        let threads = GuestThreads::with_threads(2).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // Eight guests that are all running at once (none finishes before
        // every one has started) still run on two threads.
        let started = Arc::new(tokio::sync::Barrier::new(8));
        let guests: Vec<_> = (0..8)
            .map(|_| {
                let started = started.clone();
                threads.spawn(async move {
                    let first = std::thread::current().id();
                    started.wait().await;
                    first
                })
            })
            .collect();
        let ids: HashSet<_> = rt.block_on(async {
            let mut ids = HashSet::new();
            for guest in guests {
                ids.insert(guest.await.unwrap());
            }
            ids
        });
        assert!(ids.len() <= 2, "eight guests ran on {} threads", ids.len());
        assert!(!ids.contains(&std::thread::current().id()));
    }

    #[test]
    fn dropping_a_guest_aborts_it() {
        let threads = GuestThreads::with_threads(1).unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let guest = threads.spawn(async move {
            let _tx = tx;
            std::future::pending::<()>().await;
        });
        drop(guest);
        // The task is dropped with its sender: the receiver sees it closed.
        assert!(rt.block_on(rx).is_err());
    }

    #[test]
    fn guest_threads_run_at_the_lowest_nice_value() {
        let threads = GuestThreads::new().unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().build().unwrap();
        // SAFETY: reads the calling thread's scheduling policy and nice value.
        let (policy, nice) = rt
            .block_on(threads.spawn(async { unsafe { (libc::sched_getscheduler(0), libc::getpriority(libc::PRIO_PROCESS, 0)) } }))
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
