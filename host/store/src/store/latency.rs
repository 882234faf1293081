//! How long the store's commits take, as its callers wait for them: from a
//! write's submission until it is durable (queueing in the writer included).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// Upper bounds of the histogram's buckets, in seconds.
pub const BUCKETS: [f64; 12] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5];

/// A histogram of commit latencies.
#[derive(Default)]
pub struct CommitLatency {
    /// Commits no longer than each of [`BUCKETS`] (not cumulative).
    buckets: [AtomicU64; BUCKETS.len()],
    count: AtomicU64,
    sum_nanos: AtomicU64,
}

/// A [`CommitLatency`] read at one time, as Prometheus' histograms count:
/// each bucket with its upper bound and the commits at most that long.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct LatencySnapshot {
    pub buckets: Vec<(f64, u64)>,
    pub count: u64,
    pub sum_seconds: f64,
}

impl CommitLatency {
    pub fn observe(&self, took: Duration) {
        let seconds = took.as_secs_f64();
        if let Some(i) = BUCKETS.iter().position(|le| seconds <= *le) {
            self.buckets[i].fetch_add(1, Ordering::Relaxed);
        }
        self.sum_nanos.fetch_add(took.as_nanos().min(u128::from(u64::MAX)) as u64, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> LatencySnapshot {
        let mut total = 0;
        let buckets = BUCKETS
            .iter()
            .zip(&self.buckets)
            .map(|(le, n)| {
                total += n.load(Ordering::Relaxed);
                (*le, total)
            })
            .collect();
        let count = self.count.load(Ordering::Relaxed).max(total);
        LatencySnapshot { buckets, count, sum_seconds: self.sum_nanos.load(Ordering::Relaxed) as f64 / 1e9 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_count_cumulatively() {
        let l = CommitLatency::default();
        l.observe(Duration::from_micros(300));
        l.observe(Duration::from_millis(3));
        l.observe(Duration::from_secs(10));
        let s = l.snapshot();
        assert_eq!(s.count, 3);
        assert_eq!(s.buckets[0], (0.0005, 1));
        assert_eq!(s.buckets[3], (0.005, 2));
        assert_eq!(s.buckets.last(), Some(&(2.5, 2)), "ten seconds is past every bucket but +Inf");
        assert!((s.sum_seconds - 10.0033).abs() < 1e-9, "{}", s.sum_seconds);
    }
}
