//! Lambda's invocation deadline (`Lambda-Runtime-Deadline-Ms`), used only when it is plausible.
//!
//! AWS sends the deadline as milliseconds since the Unix epoch. Local emulators do not all
//! agree: `cargo lambda watch` (1.9.2) sends `600000`, a *duration*; awslambdarpc sends `0`;
//! SAM sends none. Read as a timestamp, such a value lies in 1970, and a function that honours
//! it gives its model call no time at all: every invocation fails as timed out. So a deadline
//! that cannot be real is treated as absent, and the function runs with its configured
//! timeouts instead.
//!
//! The rule lives here once, as a pure function ([`plausible_deadline`]), and every function
//! that reads the deadline goes through a [`DeadlineReader`] made at cold start, which also
//! says (once per process, with a `lambda_deadline_ignored` event) that it ignored one.

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::events::{EVENT_DEADLINE_IGNORED, TARGET};

/// How far ahead of now a deadline may be and still be believed. Lambda's longest timeout is
/// 15 minutes; a day leaves room for emulators configured with long timeouts, while a value in
/// another unit (microseconds since the epoch lands tens of thousands of years ahead) is
/// refused.
pub const MAX_AHEAD: Duration = Duration::from_secs(24 * 60 * 60);

/// Why a deadline was not believed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ImplausibleDeadline {
    /// The deadline is earlier than the start of the process that received it (`0`, or a
    /// duration such as `600000` read as a timestamp).
    #[error("the deadline {deadline_ms} ms since the epoch is before this process started")]
    BeforeStart {
        /// The value received.
        deadline_ms: u64,
    },
    /// The deadline is more than [`MAX_AHEAD`] after now.
    #[error("the deadline {deadline_ms} ms since the epoch is more than {} s from now", MAX_AHEAD.as_secs())]
    TooFarAhead {
        /// The value received.
        deadline_ms: u64,
    },
}

impl ImplausibleDeadline {
    /// The `reason` field of the event: `before_start` or `too_far_ahead`.
    pub fn reason(&self) -> &'static str {
        match self {
            ImplausibleDeadline::BeforeStart { .. } => "before_start",
            ImplausibleDeadline::TooFarAhead { .. } => "too_far_ahead",
        }
    }

    /// The value received.
    pub fn deadline_ms(&self) -> u64 {
        match *self {
            ImplausibleDeadline::BeforeStart { deadline_ms }
            | ImplausibleDeadline::TooFarAhead { deadline_ms } => deadline_ms,
        }
    }
}

/// The deadline `deadline_ms` (milliseconds since the Unix epoch) as a time, if it is
/// plausible for a process that started at `started`, seen at `now`: not before `started`, and
/// at most [`MAX_AHEAD`] after `now`. A plausible deadline that has already passed is returned
/// as is (the caller then has no time left, as on AWS).
pub fn plausible_deadline(
    deadline_ms: u64,
    started: SystemTime,
    now: SystemTime,
) -> Result<SystemTime, ImplausibleDeadline> {
    // `checked_add`: a value near u64::MAX must be refused, not overflow SystemTime.
    let Some(deadline) = UNIX_EPOCH.checked_add(Duration::from_millis(deadline_ms)) else {
        return Err(ImplausibleDeadline::TooFarAhead { deadline_ms });
    };
    if deadline < started {
        return Err(ImplausibleDeadline::BeforeStart { deadline_ms });
    }
    match now.checked_add(MAX_AHEAD) {
        Some(latest) if deadline <= latest => Ok(deadline),
        _ => Err(ImplausibleDeadline::TooFarAhead { deadline_ms }),
    }
}

/// Reads each invocation's deadline through [`plausible_deadline`]. Make one at cold start (it
/// records the start time) and keep it for the life of the process: the first deadline it
/// refuses emits one `lambda_deadline_ignored` event, later ones stay quiet (an emulator sends
/// the same wrong value every time).
#[derive(Debug)]
pub struct DeadlineReader {
    started: SystemTime,
    reported: AtomicBool,
}

impl DeadlineReader {
    /// A reader for a process that starts now.
    pub fn new() -> Self {
        Self::started_at(SystemTime::now())
    }

    /// A reader for a process that started at `started`.
    pub fn started_at(started: SystemTime) -> Self {
        DeadlineReader {
            started,
            reported: AtomicBool::new(false),
        }
    }

    /// The invocation's deadline, or `None` when `deadline_ms` is implausible (see
    /// [`plausible_deadline`]); the first refusal emits `lambda_deadline_ignored` with
    /// `deadline_ms`, `reason`, the invocation's `request_id` and the `runtime` name.
    pub fn read(&self, deadline_ms: u64, request_id: &str, runtime: &str) -> Option<SystemTime> {
        match plausible_deadline(deadline_ms, self.started, SystemTime::now()) {
            Ok(deadline) => Some(deadline),
            Err(err) => {
                if !self.reported.swap(true, Ordering::Relaxed) {
                    tracing::warn!(
                        target: TARGET,
                        event = EVENT_DEADLINE_IGNORED,
                        deadline_ms = err.deadline_ms(),
                        reason = err.reason(),
                        request_id = request_id,
                        runtime = runtime,
                        error_message = %err,
                    );
                }
                None
            }
        }
    }
}

impl Default for DeadlineReader {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_millis(ms)
    }

    /// 2026-12-07T00:00:00Z, a process started a minute before.
    const NOW: u64 = 1_796_601_600_000;
    const STARTED: u64 = NOW - 60_000;

    #[test]
    fn the_rule_in_a_table() {
        let day = MAX_AHEAD.as_millis() as u64;
        let cases: &[(&str, u64, Result<u64, &str>)] = &[
            (
                "AWS: now + the function timeout",
                NOW + 30_000,
                Ok(NOW + 30_000),
            ),
            ("AWS: 15 minutes", NOW + 900_000, Ok(NOW + 900_000)),
            ("already past, after the start", NOW - 1, Ok(NOW - 1)),
            ("exactly the start", STARTED, Ok(STARTED)),
            ("exactly a day ahead", NOW + day, Ok(NOW + day)),
            (
                "cargo lambda watch: a duration",
                600_000,
                Err("before_start"),
            ),
            ("awslambdarpc: zero", 0, Err("before_start")),
            ("seconds, not milliseconds", NOW / 1000, Err("before_start")),
            ("just before the start", STARTED - 1, Err("before_start")),
            ("more than a day ahead", NOW + day + 1, Err("too_far_ahead")),
            ("microseconds", NOW * 1000, Err("too_far_ahead")),
            ("u64::MAX", u64::MAX, Err("too_far_ahead")),
        ];
        for (what, deadline_ms, expected) in cases {
            let got = plausible_deadline(*deadline_ms, at(STARTED), at(NOW));
            match (got, expected) {
                (Ok(deadline), Ok(ms)) => assert_eq!(deadline, at(*ms), "{what}"),
                (Err(err), Err(reason)) => {
                    assert_eq!(err.reason(), *reason, "{what}");
                    assert_eq!(err.deadline_ms(), *deadline_ms, "{what}");
                }
                (got, _) => panic!("{what}: expected {expected:?}, got {got:?}"),
            }
        }
    }

    #[test]
    fn the_reader_believes_real_deadlines_and_reports_the_first_refusal_only() {
        let (capture, subscriber) = crate::events::EventCapture::new();
        let _guard = tracing::subscriber::set_default(subscriber);
        let reader = DeadlineReader::new();
        let real = SystemTime::now() + Duration::from_secs(30);
        let real_ms = real.duration_since(UNIX_EPOCH).unwrap().as_millis() as u64;

        assert_eq!(reader.read(real_ms, "r1", "lambda"), Some(at(real_ms)));
        assert!(capture.events().is_empty(), "a real deadline is quiet");
        assert_eq!(reader.read(600_000, "r2", "lambda"), None);
        assert_eq!(reader.read(0, "r3", "lambda"), None);
        assert_eq!(reader.read(u64::MAX, "r4", "lambda"), None);
        assert_eq!(reader.read(real_ms, "r5", "lambda"), Some(at(real_ms)));

        let events = capture.events();
        assert_eq!(events.len(), 1, "{events:#?}");
        let event = &events[0];
        assert_eq!(event["event"], "lambda_deadline_ignored");
        assert_eq!(event["target"], "promptops");
        assert_eq!(event["level"], "WARN");
        assert_eq!(event["deadline_ms"], 600_000);
        assert_eq!(event["reason"], "before_start");
        assert_eq!(event["request_id"], "r2");
        assert_eq!(event["runtime"], "lambda");
        assert!(event["error_message"]
            .as_str()
            .is_some_and(|m| m.contains("before this process started")));
    }
}
