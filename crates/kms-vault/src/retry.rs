//! Bounded retries with jittered exponential backoff, for calls that found the
//! server unavailable (no connection, a timeout, 429, or a 5xx).

use std::time::Duration;

use ring::rand::{SecureRandom, SystemRandom};

/// How often and how patiently to retry a call that found the server
/// unavailable. Answers that will not change on retry (403, 404, a failed
/// decryption, a soft-deleted key) are never retried.
///
/// A call takes at most `max_attempts` × the request timeout plus the delays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RetryPolicy {
    /// Requests per call, the first included; at least 1. Default 3.
    pub max_attempts: u32,
    /// The delay before the first retry, doubled for each further one.
    /// Default 100 ms.
    pub base_delay: Duration,
    /// The largest delay. Default 2 s.
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        Self {
            max_attempts: 3,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(2),
        }
    }
}

impl RetryPolicy {
    /// One attempt, no retries.
    pub fn never() -> Self {
        Self {
            max_attempts: 1,
            ..Self::default()
        }
    }

    /// `max_attempts` requests with the default delays.
    pub fn attempts(max_attempts: u32) -> Self {
        Self {
            max_attempts,
            ..Self::default()
        }
    }

    /// The delay after failed attempt `attempt` (1-based): half of the capped
    /// exponential step, plus a random part of the other half, so that clients
    /// that failed together do not retry together.
    pub(crate) fn delay_after(&self, attempt: u32) -> Duration {
        let mut random = [0u8; 4];
        // A failed draw only loses the jitter, never the bound.
        let _ = SystemRandom::new().fill(&mut random);
        self.delay_with(attempt, u32::from_le_bytes(random))
    }

    fn delay_with(&self, attempt: u32, random: u32) -> Duration {
        let factor = 1u32 << attempt.saturating_sub(1).min(16);
        let step = self.base_delay.saturating_mul(factor).min(self.max_delay);
        let half = step / 2;
        let fraction = f64::from(random) / f64::from(u32::MAX);
        half + half.mul_f64(fraction)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_grow_and_stay_bounded() {
        let policy = RetryPolicy::default();
        for attempt in 1..40 {
            let step = (policy.base_delay * (1 << (attempt - 1).min(16))).min(policy.max_delay);
            for random in [0, u32::MAX / 3, u32::MAX] {
                let delay = policy.delay_with(attempt, random);
                assert!(delay >= step / 2 && delay <= step, "{attempt}: {delay:?}");
            }
        }
        assert_eq!(policy.delay_with(1, 0), Duration::from_millis(50));
        assert_eq!(policy.delay_with(30, u32::MAX), policy.max_delay);
    }

    #[test]
    fn jitter_spreads_retries() {
        let policy = RetryPolicy::default();
        let delays: std::collections::HashSet<_> = (0..16).map(|_| policy.delay_after(3)).collect();
        assert!(delays.len() > 1, "every delay was the same");
    }
}
