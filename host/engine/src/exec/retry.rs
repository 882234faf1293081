//! Retry: which retrier matches a failure and how long its back-off is.

use super::running::Exec;
use super::failure::Failure;
use std::time::Duration;
use stepbox_asl::{Jitter, State, error_matches};

impl Exec {
    /// The back-off before retrying `st` after `f`, counting the attempt in
    /// `counts` (one per retrier); `None` when no retrier matches or its
    /// attempts are used up.
    pub(super) fn retry_delay(&self, st: &State, f: &Failure, counts: &mut [u32]) -> Option<Duration> {
        let (i, r) = st
            .retry
            .iter()
            .enumerate()
            .find(|(_, r)| error_matches(&r.error_equals, f.error_name()))?;
        if counts[i] >= r.max_attempts {
            return None;
        }
        let mut secs = r.interval_seconds * r.backoff_rate.powi(counts[i] as i32);
        if let Some(m) = r.max_delay_seconds {
            secs = secs.min(m);
        }
        if r.jitter == Jitter::Full {
            secs *= self.random.fraction();
        }
        secs *= self.config.wait_time_scale.clamp(0.0, 1.0);
        counts[i] += 1;
        if !secs.is_finite() {
            secs = 1.0e9;
        }
        Some(Duration::from_secs_f64(secs.clamp(0.0, 1.0e9)))
    }
}
