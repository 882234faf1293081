//! A tenant's quotas ([`Quotas`](super::Quotas)) as the APIs answer them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};
use tokio::sync::Semaphore;

/// Sandbox instances running at once, per account: `concurrent_invocations`
/// permits. A Task waits for one (only its tenant's work queues); the
/// function API's synchronous Invoke is TooManyRequestsException without one.
#[derive(Default)]
pub(crate) struct Concurrency {
    by_account: Mutex<HashMap<String, (u32, Arc<Semaphore>)>>,
}

impl Concurrency {
    /// `account`'s permits for `limit` at once (new ones once a reload changed the limit).
    pub(crate) fn semaphore(&self, account: &str, limit: u32) -> Arc<Semaphore> {
        let mut map = self.by_account.lock().unwrap_or_else(|e| e.into_inner());
        let entry = map.entry(account.to_string()).or_insert_with(|| (limit, Arc::new(Semaphore::new(limit as usize))));
        if entry.0 != limit {
            *entry = (limit, Arc::new(Semaphore::new(limit as usize)));
        }
        entry.1.clone()
    }
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
