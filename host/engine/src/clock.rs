//! Time: the real tokio clock and a manual/virtual clock for tests.

use chrono::{DateTime, Utc};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::Duration;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Wall time and sleeping, abstracted so tests can run on virtual time.
pub trait Clock: Send + Sync {
    /// Current wall time (for timestamps, history and Wait Timestamp).
    fn now(&self) -> DateTime<Utc>;
    /// Sleeps for `d`.
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()>;
    /// Sleeps until wall time `t` (returns at once if `t` is past).
    fn sleep_until(&self, t: DateTime<Utc>) -> BoxFuture<'static, ()> {
        let d = (t - self.now()).to_std().unwrap_or(Duration::ZERO);
        self.sleep(d)
    }
}

/// The real clock: `Utc::now()` and `tokio::time::sleep`.
#[derive(Debug, Default, Clone, Copy)]
pub struct TokioClock;

impl Clock for TokioClock {
    fn now(&self) -> DateTime<Utc> {
        Utc::now()
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        Box::pin(tokio::time::sleep(d))
    }
}

struct Waiter {
    deadline: DateTime<Utc>,
    tx: tokio::sync::oneshot::Sender<()>,
}

struct ManualInner {
    now: DateTime<Utc>,
    waiters: Vec<Waiter>,
    sleeps: Vec<Duration>,
}

/// A virtual clock for tests. Sleeps block until virtual time passes their
/// deadline: either explicitly through [`advance`](ManualClock::advance), or
/// automatically with [`auto`](ManualClock::auto), which spawns a driver that
/// jumps to the earliest deadline whenever the (current-thread) runtime has
/// nothing else to do. Long waits, timeouts and back-offs thus run instantly
/// while `now()` and [`sleeps`](ManualClock::sleeps) show the virtual timing.
pub struct ManualClock {
    inner: Mutex<ManualInner>,
    notify: Arc<tokio::sync::Notify>,
    /// Work running off the runtime (a task on the sandbox's threads): see [`hold`](Self::hold).
    busy: std::sync::atomic::AtomicUsize,
}

/// While alive, an [`auto`](ManualClock::auto) clock waits (up to
/// [`HOLD_GRACE`] of real time) before it jumps ahead.
pub struct ClockHold(Arc<ManualClock>);

impl Drop for ClockHold {
    fn drop(&mut self) {
        self.0.busy.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
        self.0.notify.notify_one();
    }
}

/// How long an auto clock waits for held work before it jumps anyway: a
/// task that sleeps for real (a Lambda that outlives its TimeoutSeconds)
/// must still see its timeout.
pub const HOLD_GRACE: Duration = Duration::from_secs(2);

impl ManualClock {
    /// A clock that only moves on [`advance`](Self::advance).
    pub fn new(start: DateTime<Utc>) -> Arc<Self> {
        Arc::new(ManualClock {
            inner: Mutex::new(ManualInner {
                now: start,
                waiters: Vec::new(),
                sleeps: Vec::new(),
            }),
            notify: Arc::new(tokio::sync::Notify::new()),
            busy: std::sync::atomic::AtomicUsize::new(0),
        })
    }

    /// Marks work running where the runtime cannot see it (the runtime looks
    /// idle meanwhile): an auto clock does not jump ahead while it runs,
    /// for up to [`HOLD_GRACE`] of real time, so a task that answers at
    /// once is not timed out by virtual time passing under load.
    pub fn hold(self: &Arc<Self>) -> ClockHold {
        self.busy.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        ClockHold(self.clone())
    }

    /// A clock that advances by itself when the runtime is idle. Must be
    /// called inside a tokio runtime (meant for a current-thread one).
    pub fn auto(start: DateTime<Utc>) -> Arc<Self> {
        let c = Self::new(start);
        let weak = Arc::downgrade(&c);
        let notify = c.notify.clone();
        tokio::spawn(async move {
            loop {
                let pending = match weak.upgrade() {
                    Some(c) => c.pending(),
                    None => return,
                };
                if pending == 0 {
                    let n = notify.notified();
                    // re-check to avoid a lost wake-up
                    match weak.upgrade() {
                        Some(c) if c.pending() > 0 => {}
                        Some(_) => n.await,
                        None => return,
                    }
                    continue;
                }
                for _ in 0..32 {
                    tokio::task::yield_now().await;
                }
                let held = weak.upgrade().is_some_and(|c| c.busy.load(std::sync::atomic::Ordering::SeqCst) > 0);
                if held {
                    let released = notify.notified();
                    if tokio::time::timeout(HOLD_GRACE, released).await.is_ok() {
                        // The work ended: let the runtime take its result first.
                        continue;
                    }
                }
                let Some(c) = weak.upgrade() else { return };
                c.advance_to_next();
            }
        });
        c
    }

    /// Moves time forward, waking sleepers whose deadline has passed.
    pub fn advance(&self, d: Duration) {
        let mut g = self.inner.lock().expect("clock");
        g.now += chrono::Duration::from_std(d).unwrap_or_default();
        Self::wake(g);
    }

    /// Jumps to the earliest pending deadline (if any) and wakes its sleepers.
    pub fn advance_to_next(&self) {
        let mut g = self.inner.lock().expect("clock");
        g.waiters.retain(|w| !w.tx.is_closed());
        if let Some(min) = g.waiters.iter().map(|w| w.deadline).min()
            && min > g.now
        {
            g.now = min;
        }
        Self::wake(g);
    }

    fn wake(mut g: std::sync::MutexGuard<'_, ManualInner>) {
        let now = g.now;
        let (due, keep): (Vec<Waiter>, Vec<Waiter>) = std::mem::take(&mut g.waiters)
            .into_iter()
            .partition(|w| w.deadline <= now);
        g.waiters = keep;
        drop(g);
        for w in due {
            let _ = w.tx.send(());
        }
    }

    /// Number of sleepers currently blocked.
    pub fn pending(&self) -> usize {
        let mut g = self.inner.lock().expect("clock");
        g.waiters.retain(|w| !w.tx.is_closed());
        g.waiters.len()
    }

    /// Every sleep duration requested so far, in order.
    pub fn sleeps(&self) -> Vec<Duration> {
        self.inner.lock().expect("clock").sleeps.clone()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> DateTime<Utc> {
        self.inner.lock().expect("clock").now
    }
    fn sleep(&self, d: Duration) -> BoxFuture<'static, ()> {
        let mut g = self.inner.lock().expect("clock");
        g.sleeps.push(d);
        let deadline = g.now + chrono::Duration::from_std(d).unwrap_or_default();
        if deadline <= g.now {
            return Box::pin(std::future::ready(()));
        }
        let (tx, rx) = tokio::sync::oneshot::channel();
        g.waiters.push(Waiter { deadline, tx });
        drop(g);
        self.notify.notify_one();
        Box::pin(async move {
            let _ = rx.await;
        })
    }
}
