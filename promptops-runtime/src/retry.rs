//! Retry policy: exponential backoff with jitter, per-attempt and total timeouts.

use std::time::Duration;

use crate::model::ModelErrorKind;

/// How failed attempts are retried.
///
/// Throttling, 5xx/unavailable and `ModelNotReady` are retried up to
/// [`max_attempts`](Self::max_attempts); timeouts (the model's `ModelTimeoutException` or the
/// client-side [`attempt_timeout`](Self::attempt_timeout)) up to
/// [`timeout_attempts`](Self::timeout_attempts); validation, access and output errors fail fast.
/// No attempt starts, and no backoff sleeps, past [`total_timeout`](Self::total_timeout).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in total, the first included (≥ 1). Default 4.
    pub max_attempts: u32,
    /// Attempts in total when attempts time out (≥ 1, ≤ `max_attempts`). Default 2.
    pub timeout_attempts: u32,
    /// Backoff before the first retry; doubles per retry. Default 200 ms.
    pub base_delay: Duration,
    /// Upper bound of one backoff. Default 5 s.
    pub max_delay: Duration,
    /// Limit of one attempt. Default 60 s.
    pub attempt_timeout: Duration,
    /// Limit of the whole call, retries and backoff included. Default 120 s.
    pub total_timeout: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: 4,
            timeout_attempts: 2,
            base_delay: Duration::from_millis(200),
            max_delay: Duration::from_secs(5),
            attempt_timeout: Duration::from_secs(60),
            total_timeout: Duration::from_secs(120),
        }
    }
}

/// Reads a millisecond or count setting; unset or unparsable values keep the default.
fn env_u64(name: &str) -> Option<u64> {
    std::env::var(name).ok()?.trim().parse().ok()
}

impl RetryPolicy {
    /// A policy that never retries.
    pub fn no_retries() -> Self {
        RetryPolicy {
            max_attempts: 1,
            timeout_attempts: 1,
            ..RetryPolicy::default()
        }
    }

    /// The defaults, overridden by `PROMPTOPS_MAX_ATTEMPTS`, `PROMPTOPS_TIMEOUT_ATTEMPTS`,
    /// `PROMPTOPS_BACKOFF_BASE_MS`, `PROMPTOPS_BACKOFF_MAX_MS`, `PROMPTOPS_ATTEMPT_TIMEOUT_MS`
    /// and `PROMPTOPS_TOTAL_TIMEOUT_MS` when set.
    pub fn from_env() -> Self {
        let mut policy = RetryPolicy::default();
        if let Some(value) = env_u64("PROMPTOPS_MAX_ATTEMPTS") {
            policy.max_attempts = u32::try_from(value).unwrap_or(u32::MAX).max(1);
        }
        if let Some(value) = env_u64("PROMPTOPS_TIMEOUT_ATTEMPTS") {
            policy.timeout_attempts = u32::try_from(value).unwrap_or(u32::MAX).max(1);
        }
        if let Some(value) = env_u64("PROMPTOPS_BACKOFF_BASE_MS") {
            policy.base_delay = Duration::from_millis(value);
        }
        if let Some(value) = env_u64("PROMPTOPS_BACKOFF_MAX_MS") {
            policy.max_delay = Duration::from_millis(value);
        }
        if let Some(value) = env_u64("PROMPTOPS_ATTEMPT_TIMEOUT_MS") {
            policy.attempt_timeout = Duration::from_millis(value);
        }
        if let Some(value) = env_u64("PROMPTOPS_TOTAL_TIMEOUT_MS") {
            policy.total_timeout = Duration::from_millis(value);
        }
        policy
    }

    /// Whether a failure of `kind` after `attempts` attempts may be retried (budget permitting).
    pub fn should_retry(&self, kind: ModelErrorKind, attempts: u32) -> bool {
        match kind {
            ModelErrorKind::Throttled | ModelErrorKind::Unavailable | ModelErrorKind::NotReady => {
                attempts < self.max_attempts
            }
            ModelErrorKind::Timeout => attempts < self.max_attempts.min(self.timeout_attempts),
            ModelErrorKind::Rejected | ModelErrorKind::BadResponse | ModelErrorKind::Config => {
                false
            }
        }
    }

    /// The backoff before retry number `retry` (1 for the first retry): the exponential delay
    /// `base · 2^(retry-1)` capped at `max_delay`, of which a random half is kept ("equal jitter").
    pub fn backoff(&self, retry: u32) -> Duration {
        let exponent = retry.saturating_sub(1).min(30);
        let delay = self
            .base_delay
            .saturating_mul(1u32 << exponent)
            .min(self.max_delay);
        let half = delay / 2;
        let jitter_nanos = u64::try_from(half.as_nanos()).unwrap_or(u64::MAX);
        half + Duration::from_nanos(fastrand::u64(0..=jitter_nanos))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_and_is_capped_with_jitter() {
        let policy = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(1000),
            ..RetryPolicy::default()
        };
        for _ in 0..100 {
            let first = policy.backoff(1);
            assert!(first >= Duration::from_millis(50) && first <= Duration::from_millis(100));
            let third = policy.backoff(3);
            assert!(third >= Duration::from_millis(200) && third <= Duration::from_millis(400));
            let capped = policy.backoff(20);
            assert!(capped >= Duration::from_millis(500) && capped <= Duration::from_millis(1000));
        }
    }

    #[test]
    fn retry_classes() {
        let policy = RetryPolicy::default();
        assert!(policy.should_retry(ModelErrorKind::Throttled, 3));
        assert!(!policy.should_retry(ModelErrorKind::Throttled, 4));
        assert!(policy.should_retry(ModelErrorKind::Timeout, 1));
        assert!(!policy.should_retry(ModelErrorKind::Timeout, 2));
        assert!(!policy.should_retry(ModelErrorKind::Rejected, 1));
        assert!(!policy.should_retry(ModelErrorKind::BadResponse, 1));
    }
}
