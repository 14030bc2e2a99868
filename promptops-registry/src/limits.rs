//! The limits of the HTTP contract: what the router itself bounds, under `promptops registry
//! serve` and under `lambda_http` alike. Socket-level limits (timeouts, the connection cap) are
//! the server's: [`crate::server::ServerLimits`]. The crate's README has the table of both.

use std::time::Duration;

use crate::cpu::CpuPool;

/// Router-level limits; [`Limits::default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest request body, in bytes: a larger `Content-Length` is 413 before any of the body
    /// is read; a body without one is cut off and answered 413 at this size.
    pub max_body_bytes: usize,
    /// Longest query string, in bytes (400 above it).
    pub max_query_bytes: usize,
    /// Most query parameters (400 above it).
    pub max_query_params: usize,
    /// Time from a request's head to its answer: a body still arriving then is 408
    /// `body_timeout`; an answer not ready then is 503 `timeout`.
    pub request_timeout: Duration,
    /// CPU-heavy jobs (push validation, diffs) running at once, on blocking threads.
    pub cpu_slots: usize,
    /// How long a CPU-heavy request waits for a free slot (then 503 `busy`).
    pub cpu_queue_timeout: Duration,
    /// How long one CPU-heavy job may run (then 422 `too_complex`).
    pub cpu_deadline: Duration,
}

/// The default request body limit, 1 MiB.
pub const DEFAULT_MAX_BODY_BYTES: usize = 1024 * 1024;

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            max_query_bytes: 2048,
            max_query_params: 16,
            request_timeout: Duration::from_secs(30),
            cpu_slots: std::thread::available_parallelism().map_or(2, usize::from),
            cpu_queue_timeout: Duration::from_secs(5),
            cpu_deadline: Duration::from_secs(10),
        }
    }
}

impl Limits {
    /// Checks that the limits make sense together: every count at least 1, and a CPU job's
    /// wait plus its deadline inside the request timeout (else the request timeout would
    /// answer 503 before the job's own 503 `busy` or 422 `too_complex` could).
    pub fn check(&self) -> Result<(), String> {
        for (name, value) in [
            ("max body bytes", self.max_body_bytes),
            ("max query bytes", self.max_query_bytes),
            ("max query params", self.max_query_params),
            ("CPU slots", self.cpu_slots),
        ] {
            if value == 0 {
                return Err(format!("the {name} must be at least 1"));
            }
        }
        if self.cpu_queue_timeout + self.cpu_deadline >= self.request_timeout {
            return Err(format!(
                "the CPU queue timeout ({}) plus the CPU deadline ({}) must be shorter than the \
                 request timeout ({})",
                humantime::format_duration(self.cpu_queue_timeout),
                humantime::format_duration(self.cpu_deadline),
                humantime::format_duration(self.request_timeout)
            ));
        }
        Ok(())
    }

    /// The CPU pool these limits describe.
    pub fn cpu_pool(&self) -> CpuPool {
        CpuPool::new(self.cpu_slots, self.cpu_queue_timeout, self.cpu_deadline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_together_and_bad_combinations_are_refused() {
        assert_eq!(Limits::default().check(), Ok(()));
        let zero = Limits {
            max_query_params: 0,
            ..Limits::default()
        };
        assert!(zero.check().unwrap_err().contains("query params"));
        let slow = Limits {
            cpu_deadline: Duration::from_secs(30),
            ..Limits::default()
        };
        assert!(slow.check().unwrap_err().contains("request timeout"));
    }
}
