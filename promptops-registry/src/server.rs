//! The hardened HTTP/1 server under `promptops registry serve`: the router ([`crate::http`])
//! behind socket-level defences that a Lambda Function URL gets from AWS and a plain
//! `axum::serve` does not have.
//!
//! * **Header-read and idle timeout** (hyper's `header_read_timeout`): a connection must send
//!   a complete request head within [`ServerLimits::header_timeout`] of opening, and again of
//!   each answer (so an idle keep-alive connection is closed after the same time). A slow or
//!   silent connection is closed without an answer: it has not asked anything yet.
//! * **Connection cap**: at most [`ServerLimits::max_connections`] connections are served at
//!   once. One more is answered `503` with the JSON error `too_many_connections`,
//!   `Retry-After: 1` and `Connection: close`, as soon as its request head arrives (it gets
//!   [`REFUSAL_HEAD_TIMEOUT`] at most to send it). At most [`ServerLimits::max_refused`] such
//!   refusals run at once; beyond them a connection is closed at once without an answer, so
//!   refusals cannot use up the file descriptors the cap protects.
//! * The request deadline, authentication before the body, the body and query limits and the
//!   bounded CPU work are the router's ([`crate::limits::Limits`]), so Lambda has them too.
//!
//! HTTP/1.1 only (as `axum::serve` was here): HTTP/2 would need version detection that reads
//! from the socket before any timeout applies, and brings its own attack surface.

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use axum::response::IntoResponse;
use axum::Router;
use hyper::server::conn::http1;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::server::graceful::GracefulShutdown;
use hyper_util::service::TowerToHyperService;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;

use crate::error::RegistryError;

/// The longest a refused connection may take to send its request head before it is closed
/// without an answer (or the header timeout, when that is shorter).
pub const REFUSAL_HEAD_TIMEOUT: Duration = Duration::from_secs(1);

/// Socket-level limits; [`ServerLimits::default`] gives the documented defaults.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once; one more is refused with 503 `too_many_connections`.
    pub max_connections: usize,
    /// Refusals answered at once; beyond them a connection is closed without an answer.
    pub max_refused: usize,
    /// Time to send a complete request head, from the connection's start or its previous
    /// answer (so also the keep-alive idle timeout).
    pub header_timeout: Duration,
    /// On shutdown, how long connections get to finish their requests.
    pub shutdown_grace: Duration,
}

impl Default for ServerLimits {
    /// 512 connections and 64 refusals at once, which together stay well under the usual
    /// default of 1,024 open files; a 10 s header timeout; 30 s to finish on shutdown (the
    /// default request timeout).
    fn default() -> Self {
        ServerLimits {
            max_connections: 512,
            max_refused: 64,
            header_timeout: Duration::from_secs(10),
            shutdown_grace: Duration::from_secs(30),
        }
    }
}

impl ServerLimits {
    /// Checks that the counts are at least 1 and the header timeout is not zero.
    pub fn check(&self) -> Result<(), String> {
        if self.max_connections == 0 || self.max_refused == 0 {
            return Err("the connection cap and the refusal cap must be at least 1".to_owned());
        }
        if self.header_timeout.is_zero() {
            return Err("the header timeout must be longer than zero".to_owned());
        }
        Ok(())
    }

    /// A warning when the process's open-file limit is too low for these caps (Linux only:
    /// read from `/proc/self/limits`): past it, `accept` fails and clients wait unanswered
    /// instead of being refused clearly.
    pub fn open_files_warning(&self) -> Option<String> {
        let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
        let soft: u64 = limits
            .lines()
            .find(|line| line.starts_with("Max open files"))?
            .split_whitespace()
            .nth(3)?
            .parse()
            .ok()?;
        // The store, the listener and the runtime need a few descriptors of their own.
        let needed = (self.max_connections + self.max_refused) as u64 + 64;
        (soft < needed).then(|| {
            format!(
                "the open-file limit ({soft}) is below what {} connections and {} refusals \
                 need (about {needed}): raise it (`ulimit -n`) or lower --max-connections",
                self.max_connections, self.max_refused
            )
        })
    }
}

/// Serves `app` on `listener` within `limits` until `shutdown` completes; then stops
/// accepting and gives open connections [`ServerLimits::shutdown_grace`] to finish.
pub async fn serve(
    listener: TcpListener,
    app: Router,
    limits: &ServerLimits,
    shutdown: impl Future<Output = ()>,
) {
    let mut http = http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.header_timeout);
    let mut refusal = http1::Builder::new();
    refusal
        .timer(TokioTimer::new())
        .header_read_timeout(REFUSAL_HEAD_TIMEOUT.min(limits.header_timeout))
        .keep_alive(false);
    let connections = Arc::new(Semaphore::new(limits.max_connections.max(1)));
    let refusals = Arc::new(Semaphore::new(limits.max_refused.max(1)));
    let refused_answer = RefusedAnswer(limits.max_connections);
    let graceful = GracefulShutdown::new();
    let mut shutdown = std::pin::pin!(shutdown);
    loop {
        let stream = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => stream,
                Err(err) => {
                    accept_failed(&err).await;
                    continue;
                }
            },
            () = &mut shutdown => break,
        };
        // Answers are small and written whole: no reason to wait for more to send.
        let _ = stream.set_nodelay(true);
        if let Ok(slot) = Arc::clone(&connections).try_acquire_owned() {
            let service = TowerToHyperService::new(app.clone());
            let connection = graceful.watch(http.serve_connection(TokioIo::new(stream), service));
            tokio::spawn(async move {
                // Errors here are the client's (a reset, a header timeout): nothing to answer.
                let _ = connection.await;
                drop(slot);
            });
        } else if let Ok(slot) = Arc::clone(&refusals).try_acquire_owned() {
            let refused = refuse(&refusal, stream, refused_answer);
            tokio::spawn(async move {
                refused.await;
                drop(slot);
            });
        } else {
            // Over both caps: close at once (the client sees the connection end).
            drop(stream);
        }
    }
    drop(listener);
    if tokio::time::timeout(limits.shutdown_grace, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!(target: "promptops::registry", "connections still open after the shutdown grace; closing them");
    }
}

/// The answer to a connection over the cap.
#[derive(Debug, Clone, Copy)]
struct RefusedAnswer(usize);

impl RefusedAnswer {
    fn response(self) -> axum::response::Response {
        let mut response = RegistryError::TooManyConnections(format!(
            "the registry is serving its maximum of {} connections; retry shortly",
            self.0
        ))
        .into_response();
        response.headers_mut().insert(
            axum::http::header::CONNECTION,
            axum::http::HeaderValue::from_static("close"),
        );
        response
    }
}

/// Answers a refused connection's first request 503 `too_many_connections` and closes it.
fn refuse(
    builder: &http1::Builder,
    stream: TcpStream,
    answer: RefusedAnswer,
) -> impl Future<Output = ()> + Send + 'static {
    let service = hyper::service::service_fn(move |_request| async move {
        Ok::<_, Infallible>(answer.response())
    });
    let connection = builder.serve_connection(TokioIo::new(stream), service);
    async move {
        // Bounded by the head timeout; the answer is small enough for the socket's buffer.
        let _ = tokio::time::timeout(REFUSAL_HEAD_TIMEOUT * 2, connection).await;
    }
}

/// After a failed `accept`: a client that gave up is nothing; anything else (out of file
/// descriptors, say) is logged and waited out briefly rather than spun on.
async fn accept_failed(err: &std::io::Error) {
    use std::io::ErrorKind::{ConnectionAborted, ConnectionRefused, ConnectionReset};
    if matches!(
        err.kind(),
        ConnectionAborted | ConnectionRefused | ConnectionReset
    ) {
        return;
    }
    tracing::warn!(target: "promptops::registry", error = %err, "accept failed");
    tokio::time::sleep(Duration::from_millis(100)).await;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_defaults_hold_and_zero_caps_are_refused() {
        assert_eq!(ServerLimits::default().check(), Ok(()));
        let zero = ServerLimits {
            max_connections: 0,
            ..ServerLimits::default()
        };
        assert!(zero.check().is_err());
        let instant = ServerLimits {
            header_timeout: Duration::ZERO,
            ..ServerLimits::default()
        };
        assert!(instant.check().is_err());
    }

    #[test]
    fn a_low_open_file_limit_is_reported() {
        let huge = ServerLimits {
            max_connections: usize::MAX / 4,
            ..ServerLimits::default()
        };
        if std::path::Path::new("/proc/self/limits").exists() {
            let warning = huge.open_files_warning().expect("no limit is that high");
            assert!(warning.contains("open-file limit"), "{warning}");
        }
    }
}
