//! A tenant's quotas ([`Quotas`](super::Quotas)) as the APIs answer them.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use stepbox_invoker::Slots;
use tokio::sync::Semaphore;

/// Sandbox instances running at once, per account: `concurrent_invocations`
/// permits. A Task waits for one (only its tenant's work queues); the
/// function API's synchronous Invoke is TooManyRequestsException without one.
#[derive(Default)]
pub(crate) struct Concurrency {
    by_account: Mutex<HashMap<String, (u32, Slots)>>,
}

impl Concurrency {
    /// `account`'s slots for `limit` at once (new ones once a reload changed the limit).
    pub(crate) fn slots(&self, account: &str, limit: u32) -> Slots {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        let new = || Arc::new(Semaphore::new(limit as usize));
        let entry = map
            .entry(account.to_string())
            .or_insert_with(|| (limit, Slots { semaphore: new(), waiting: Arc::default() }));
        if entry.0 != limit {
            entry.0 = limit;
            entry.1.semaphore = new();
        }
        entry.1.clone()
    }

    /// Invocations waiting for a slot, per account.
    pub(crate) fn waiting(&self) -> HashMap<String, usize> {
        let map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(a, (_, s))| (a.clone(), s.waiting.load(std::sync::atomic::Ordering::Relaxed))).collect()
    }
}

/// Standard executions open (RUNNING) on this host, per account: what
/// `open_executions` bounds. An execution is counted from its start (or
/// redrive, or its resumption at start-up) until it closes, however it
/// closes (finished, stopped, failed to resume); counting by ARN makes every
/// close idempotent.
#[derive(Default)]
pub(crate) struct OpenExecutions {
    by_account: Mutex<HashMap<String, HashSet<String>>>,
}

/// Whether [`OpenExecutions::admit`] counted an execution.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admitted {
    /// Counted now: undo with [`OpenExecutions::close`] if it does not start.
    New,
    /// It was open already (an idempotent StartExecution).
    AlreadyOpen,
    /// `limit` executions are open: ExecutionLimitExceeded.
    Refused,
}

impl OpenExecutions {
    /// Counts execution `arn` open unless its account has `limit` open already
    /// (no limit: always counted).
    pub(crate) fn admit(&self, arn: &str, limit: Option<u64>) -> Admitted {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        let open = map.entry(account_of(arn).to_string()).or_default();
        if open.contains(arn) {
            Admitted::AlreadyOpen
        } else if limit.is_some_and(|limit| open.len() as u64 >= limit) {
            Admitted::Refused
        } else {
            open.insert(arn.to_string());
            Admitted::New
        }
    }

    /// Execution `arn` is no longer open; false if it was not counted.
    pub(crate) fn close(&self, arn: &str) -> bool {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.get_mut(account_of(arn)).is_some_and(|open| open.remove(arn))
    }

    /// Open executions per account.
    pub(crate) fn counts(&self) -> HashMap<String, usize> {
        let map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(a, open)| (a.clone(), open.len())).collect()
    }
}

/// The account of an execution ARN (`arn:aws:states:REGION:ACCOUNT:execution:…`).
pub(crate) fn account_of(arn: &str) -> &str {
    arn.split(':').nth(4).unwrap_or_default()
}

/// Executions started per second, per account: a token bucket holding up to
/// `start_rate` starts, refilled at `start_rate` a second.
#[derive(Default)]
pub(crate) struct StartRates {
    buckets: Mutex<HashMap<String, Bucket>>,
}

struct Bucket {
    tokens: f64,
    at: DateTime<Utc>,
}

impl StartRates {
    /// Takes one start for `account` at `now`; false when its bucket is empty.
    pub(crate) fn take(&self, account: &str, rate: u32, now: DateTime<Utc>) -> bool {
        let rate = f64::from(rate);
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let bucket = buckets.entry(account.to_string()).or_insert(Bucket { tokens: rate, at: now });
        let elapsed = (now - bucket.at).num_microseconds().unwrap_or(i64::MAX).max(0) as f64 / 1e6;
        bucket.tokens = (bucket.tokens + elapsed * rate).min(rate);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_executions_are_counted_per_account_by_arn() {
        let open = OpenExecutions::default();
        let arn = |account: &str, name: &str| format!("arn:aws:states:us-east-1:{account}:execution:m:{name}");
        assert_eq!(open.admit(&arn("111111111111", "a"), Some(2)), Admitted::New);
        assert_eq!(open.admit(&arn("111111111111", "a"), Some(2)), Admitted::AlreadyOpen);
        assert_eq!(open.admit(&arn("111111111111", "b"), Some(2)), Admitted::New);
        assert_eq!(open.admit(&arn("111111111111", "c"), Some(2)), Admitted::Refused);
        assert_eq!(open.admit(&arn("222222222222", "c"), Some(2)), Admitted::New, "another account counts apart");
        assert!(open.close(&arn("111111111111", "a")));
        assert!(!open.close(&arn("111111111111", "a")));
        assert_eq!(open.admit(&arn("111111111111", "c"), Some(2)), Admitted::New);
        assert_eq!(open.admit(&arn("111111111111", "e"), Some(2)), Admitted::Refused, "a second close changed nothing");
        assert_eq!(open.admit(&arn("111111111111", "d"), None), Admitted::New, "no limit");
    }

    #[test]
    fn a_bucket_holds_rate_starts_and_refills_at_rate_a_second() {
        let rates = StartRates::default();
        let t = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z").unwrap().with_timezone(&Utc);
        assert!(rates.take("a", 2, t) && rates.take("a", 2, t));
        assert!(!rates.take("a", 2, t), "the third start in the same instant");
        assert!(rates.take("b", 2, t), "another account has its own bucket");
        let later = t + chrono::Duration::milliseconds(500);
        assert!(rates.take("a", 2, later), "half a second refills one");
        assert!(!rates.take("a", 2, later));
        let much_later = t + chrono::Duration::seconds(60);
        assert!(rates.take("a", 2, much_later) && rates.take("a", 2, much_later));
        assert!(!rates.take("a", 2, much_later), "never more than the rate at once");
    }
}
