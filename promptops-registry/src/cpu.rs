//! CPU-heavy request work (push validation, diffs) off the async workers: on tokio's blocking
//! threads, a bounded number at once, each within a deadline.
//!
//! Why: an async worker that computes for seconds stalls every request it would otherwise have
//! polled (two diffs of unrelated 16k-line templates once held a production reader for 34 s).
//! Here the work runs on a blocking thread, so the workers keep answering; at most `slots` jobs
//! run at once, so heavy requests cannot multiply into a CPU or memory storm; a job that finds
//! no free slot within the queue timeout is answered 503 `busy`; a job that does not finish
//! within its deadline is answered 422 `too_complex`.
//!
//! Rust cannot stop a thread from outside, so a job past its deadline runs on to its end and
//! keeps its slot until then (which keeps the bound honest: a slot is free only when its CPU
//! is). Work that can stop itself is handed the deadline: the diff gives it to `similar`, which
//! then returns at the deadline.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::error::RegistryError;

/// The bounded pool of CPU slots, shared by every request of a router.
#[derive(Debug, Clone)]
pub struct CpuPool {
    slots: Arc<Semaphore>,
    size: usize,
    queue_timeout: Duration,
    deadline: Duration,
}

impl CpuPool {
    /// A pool of `slots` (at least 1) jobs at once; a job waits at most `queue_timeout` for a
    /// slot and runs at most `deadline`.
    pub fn new(slots: usize, queue_timeout: Duration, deadline: Duration) -> CpuPool {
        let size = slots.max(1);
        CpuPool {
            slots: Arc::new(Semaphore::new(size)),
            size,
            queue_timeout,
            deadline,
        }
    }

    /// How long one job may run.
    pub fn deadline(&self) -> Duration {
        self.deadline
    }

    /// Runs `work` on a blocking thread once a slot is free, and answers its result, or 503
    /// `busy` when no slot comes free within the queue timeout, or 422 `too_complex` when the
    /// work has not finished by its deadline (which `work` receives, to stop on its own).
    /// `what` names the work in those errors ("diffing support.greet 1 and 2").
    pub async fn run<T, F>(&self, what: &str, work: F) -> Result<T, RegistryError>
    where
        T: Send + 'static,
        F: FnOnce(Instant) -> Result<T, RegistryError> + Send + 'static,
    {
        let waited =
            tokio::time::timeout(self.queue_timeout, Arc::clone(&self.slots).acquire_owned()).await;
        let Ok(Ok(slot)) = waited else {
            return Err(RegistryError::Busy(format!(
                "{what}: all {} CPU slots stayed busy for {}; retry shortly",
                self.size,
                humantime::format_duration(self.queue_timeout)
            )));
        };
        let deadline = Instant::now() + self.deadline;
        let job = tokio::task::spawn_blocking(move || {
            // The slot is held until the work ends, even when nobody waits for it any more.
            let _slot = slot;
            work(deadline)
        });
        match tokio::time::timeout_at(deadline.into(), job).await {
            Ok(Ok(result)) => result,
            Ok(Err(join)) => {
                tracing::error!(target: "promptops::registry", error = %join, work = what, "CPU job panicked");
                Err(RegistryError::Internal(format!("{what}: {join}")))
            }
            Err(_) => Err(too_complex(what, self.deadline)),
        }
    }
}

/// The answer to work that ran past its deadline of `limit`.
pub fn too_complex(what: &str, limit: Duration) -> RegistryError {
    RegistryError::TooComplex(format!(
        "{what} did not finish within its CPU deadline of {}",
        humantime::format_duration(limit)
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_registry_api::ErrorCode;

    fn spin_until(deadline: Instant) {
        while Instant::now() < deadline {
            std::hint::spin_loop();
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_past_its_deadline_is_too_complex_and_keeps_its_slot() {
        let pool = CpuPool::new(1, Duration::from_millis(50), Duration::from_millis(100));
        let (release, released) = std::sync::mpsc::channel::<()>();
        let err = pool
            .run("spinning", move |_| {
                // Outlives its deadline, as validation that cannot stop does.
                let _ = released.recv_timeout(Duration::from_secs(10));
                Ok(())
            })
            .await
            .unwrap_err();
        assert_eq!(
            (err.status(), err.code()),
            (422, ErrorCode::TooComplex),
            "{err}"
        );
        assert!(err.to_string().contains("spinning"), "{err}");
        // The only slot is still taken by the job past its deadline: the next one is busy.
        let busy = pool.run("next", |_| Ok(())).await.unwrap_err();
        assert_eq!(
            (busy.status(), busy.code()),
            (503, ErrorCode::Busy),
            "{busy}"
        );
        assert_eq!(busy.retry_after(), Some(1));
        release.send(()).unwrap();
        // Once the job ends, its slot serves the next request.
        let mut answer = pool.run("after", |_| Ok(7)).await;
        for _ in 0..50 {
            if answer.is_ok() {
                break;
            }
            answer = pool.run("after", |_| Ok(7)).await;
        }
        assert_eq!(answer.unwrap(), 7);
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn work_gets_its_deadline_and_panics_are_internal_errors() {
        let pool = CpuPool::new(2, Duration::from_secs(5), Duration::from_secs(5));
        let before = Instant::now();
        let deadline = pool.run("deadline", Ok).await.unwrap();
        assert!(deadline > before + Duration::from_secs(4));
        let stops = pool
            .run("stops itself", |deadline| {
                spin_until(deadline.min(Instant::now() + Duration::from_millis(10)));
                Ok("done")
            })
            .await;
        assert_eq!(stops.unwrap(), "done");
        let panicked = pool
            .run("panicking", |_| -> Result<(), RegistryError> {
                panic!("a bug")
            })
            .await
            .unwrap_err();
        assert_eq!(
            (panicked.status(), panicked.code()),
            (500, ErrorCode::Internal)
        );
        assert!(!panicked.public_message().contains("a bug"));
    }
}
