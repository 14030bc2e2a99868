//! A local stand-in for the AWS Lambda Runtime API (the HTTP interface a custom runtime polls),
//! enough to drive a real function binary (`promptops-lambda`, the registry's and the
//! pipeline's): the endpoints
//!
//! * `GET /2018-06-01/runtime/invocation/next` — long-polls until an event is queued, then
//!   answers it with the `Lambda-Runtime-Aws-Request-Id`, `Lambda-Runtime-Deadline-Ms`,
//!   `Lambda-Runtime-Invoked-Function-Arn` and `Lambda-Runtime-Trace-Id` headers;
//! * `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error`;
//! * `POST /2018-06-01/runtime/init/error`.
//!
//! Everything the function does is reported, timestamped, on a channel ([`Report`]).
//!
//! The same server also answers the Lambda service's own `Invoke` operation
//! (`POST /2015-03-31/functions/{name}/invocations`, what `aws-sdk-lambda`'s `invoke` sends),
//! so a real SDK client pointed at [`RuntimeApi::endpoint_url`] invokes the function process
//! polling this server: the event is queued, and the function's response (or error, with
//! `X-Amz-Function-Error`) becomes the `Invoke` answer. An unknown function name is the
//! service's `ResourceNotFoundException`.
//!
//! One server per function process: a poll left pending by a killed process would otherwise
//! take the next event.
//!
//! [`FunctionCommand`] starts a function binary against a [`RuntimeApi`] with the environment
//! Lambda sets ([`lambda_env`]), optionally under `prlimit --as` and with its standard output
//! collected; [`RuntimeApi::invoke`] queues one event and waits for the function's answer.

use std::collections::HashMap;
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot, Mutex};
use tokio::task::JoinHandle;

/// The function ARN sent with every event.
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:promptops-lambda";

/// The function's name: what the `Invoke` operation accepts (as the name, or inside
/// [`FUNCTION_ARN`]).
pub const FUNCTION_NAME: &str = "promptops-lambda";

/// How long an `Invoke` waits for the function's answer.
const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// The function timeout used for deadlines unless an event says otherwise.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

const PREFIX: &str = "/2018-06-01/runtime/";
const INVOKE_PREFIX: &str = "/2015-03-31/functions/";

/// Something the function did, with the time the server saw it.
#[derive(Debug, Clone)]
pub enum Report {
    /// `GET .../invocation/next` arrived (the function is ready for an event).
    NextPolled {
        /// When.
        at: Instant,
    },
    /// `POST .../invocation/{id}/response`.
    Response {
        /// The request id in the path.
        request_id: String,
        /// The response body (lossy UTF-8).
        body: String,
        /// When.
        at: Instant,
    },
    /// `POST .../invocation/{id}/error`.
    Error {
        /// The request id in the path.
        request_id: String,
        /// The `Lambda-Runtime-Function-Error-Type` header.
        error_type_header: Option<String>,
        /// The body (`{"errorType": ..., "errorMessage": ...}`).
        body: String,
        /// When.
        at: Instant,
    },
    /// `POST .../init/error`.
    InitError {
        /// The body.
        body: String,
        /// When.
        at: Instant,
    },
    /// Any other request (a bug in the function or in this server).
    Unexpected {
        /// Method and path.
        what: String,
        /// When.
        at: Instant,
    },
}

impl Report {
    /// The body parsed as JSON, for responses and errors.
    pub fn json(&self) -> Option<serde_json::Value> {
        match self {
            Report::Response { body, .. }
            | Report::Error { body, .. }
            | Report::InitError { body, .. } => serde_json::from_str(body).ok(),
            _ => None,
        }
    }
}

struct Invocation {
    request_id: String,
    payload: Vec<u8>,
    deadline: Deadline,
}

/// What the `Lambda-Runtime-Deadline-Ms` header of an event says.
enum Deadline {
    /// AWS's: the time the function gets, from the moment the event is handed out, sent as
    /// milliseconds since the epoch.
    After(Duration),
    /// Exactly this value, as local emulators send it (`600000`, `0`).
    Raw(u64),
}

/// How the function finished an invocation queued by `Invoke`.
enum Outcome {
    Response(String),
    Error(String),
}

struct State {
    queue: Mutex<mpsc::UnboundedReceiver<Invocation>>,
    reports: mpsc::UnboundedSender<Report>,
    /// Queues invocations for `Invoke` requests.
    events: mpsc::UnboundedSender<Invocation>,
    /// `Invoke` requests waiting for the function, by request id.
    waiting: std::sync::Mutex<HashMap<String, oneshot::Sender<Outcome>>>,
    /// Numbers the request ids of `Invoke` requests.
    invokes: AtomicU64,
}

/// A running fake Runtime API on a loopback port. Dropping it stops the server.
pub struct RuntimeApi {
    addr: SocketAddr,
    events: mpsc::UnboundedSender<Invocation>,
    reports: mpsc::UnboundedReceiver<Report>,
    server: JoinHandle<()>,
}

impl RuntimeApi {
    /// Starts a server on `127.0.0.1` (any free port) on the current tokio runtime.
    pub async fn start() -> io::Result<RuntimeApi> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let (events, queue) = mpsc::unbounded_channel();
        let (report_tx, reports) = mpsc::unbounded_channel();
        let state = Arc::new(State {
            queue: Mutex::new(queue),
            reports: report_tx,
            events: events.clone(),
            waiting: std::sync::Mutex::new(HashMap::new()),
            invokes: AtomicU64::new(0),
        });
        let server = tokio::spawn(async move {
            // Connections live in this set, so stopping the server stops them too.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    continue;
                };
                let state = Arc::clone(&state);
                connections.spawn(async move {
                    let service = hyper::service::service_fn(move |request| {
                        serve(request, Arc::clone(&state))
                    });
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
                while connections.try_join_next().is_some() {}
            }
        });
        Ok(RuntimeApi {
            addr,
            events,
            reports,
            server,
        })
    }

    /// `127.0.0.1:PORT`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn address(&self) -> String {
        self.addr.to_string()
    }

    /// `http://127.0.0.1:PORT`: the endpoint URL for an `aws-sdk-lambda` client whose `invoke`
    /// should reach the function polling this server.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Queues an event: the next `GET .../next` answers it.
    pub fn enqueue(&self, request_id: &str, payload: &serde_json::Value) {
        self.enqueue_raw(request_id, payload.to_string().into_bytes());
    }

    /// Queues an event body as is (it need not be JSON).
    pub fn enqueue_raw(&self, request_id: &str, payload: Vec<u8>) {
        self.enqueue_with_timeout(request_id, payload, DEFAULT_TIMEOUT);
    }

    /// Queues an event whose `Lambda-Runtime-Deadline-Ms` is `timeout` after it is handed out
    /// (the function's configured timeout; [`DEFAULT_TIMEOUT`] for the other `enqueue`s).
    pub fn enqueue_with_timeout(&self, request_id: &str, payload: Vec<u8>, timeout: Duration) {
        let _ = self.events.send(Invocation {
            request_id: request_id.to_owned(),
            payload,
            deadline: Deadline::After(timeout),
        });
    }

    /// Queues an event whose `Lambda-Runtime-Deadline-Ms` is exactly `deadline_ms`, not a
    /// timestamp: what local emulators send (cargo-lambda 1.9.2's `600000`, awslambdarpc's `0`).
    pub fn enqueue_with_raw_deadline(&self, request_id: &str, payload: Vec<u8>, deadline_ms: u64) {
        let _ = self.events.send(Invocation {
            request_id: request_id.to_owned(),
            payload,
            deadline: Deadline::Raw(deadline_ms),
        });
    }

    /// The next report, or `None` after `timeout`.
    pub async fn next_report(&mut self, timeout: Duration) -> Option<Report> {
        tokio::time::timeout(timeout, self.reports.recv())
            .await
            .ok()
            .flatten()
    }

    /// The next report that is not a poll (a response or an error), or `None` after `timeout`.
    pub async fn next_outcome(&mut self, timeout: Duration) -> Option<Report> {
        let deadline = tokio::time::Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.next_report(left).await? {
                Report::NextPolled { .. } => continue,
                other => return Some(other),
            }
        }
    }
    /// Queues `payload` as `request_id` and returns what the function posted for it: a
    /// [`Report::Response`] or a [`Report::Error`] under that request id.
    ///
    /// Panics when nothing comes within `timeout` or the outcome belongs to another request:
    /// a test cannot go on from either.
    pub async fn invoke(
        &mut self,
        request_id: &str,
        payload: &serde_json::Value,
        timeout: Duration,
    ) -> Report {
        self.enqueue(request_id, payload);
        let report = self
            .next_outcome(timeout)
            .await
            .unwrap_or_else(|| panic!("{request_id}: no response within {timeout:?}"));
        match &report {
            Report::Response { request_id: id, .. } | Report::Error { request_id: id, .. } => {
                assert_eq!(id, request_id, "the outcome is posted under its request id")
            }
            other => panic!("{request_id}: unexpected {other:?}"),
        }
        report
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

/// The environment a function process needs besides `AWS_LAMBDA_RUNTIME_API` (which is the
/// first pair): the variables Lambda sets for custom runtimes.
pub fn lambda_env(api_address: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_LAMBDA_RUNTIME_API", api_address.to_owned()),
        ("AWS_LAMBDA_FUNCTION_NAME", "promptops-lambda".to_owned()),
        ("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128".to_owned()),
        ("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST".to_owned()),
        (
            "AWS_LAMBDA_LOG_STREAM_NAME",
            "2026/01/01/[$LATEST]0123456789abcdef".to_owned(),
        ),
        (
            "AWS_LAMBDA_LOG_GROUP_NAME",
            "/aws/lambda/promptops-lambda".to_owned(),
        ),
    ]
}

async fn serve(
    request: Request<Incoming>,
    state: Arc<State>,
) -> Result<Response<Full<Bytes>>, Infallible> {
    let method = request.method().clone();
    let path = request.uri().path().to_owned();
    let error_type_header = request
        .headers()
        .get("lambda-runtime-function-error-type")
        .and_then(|value| value.to_str().ok())
        .map(str::to_owned);
    let body = match request.into_body().collect().await {
        Ok(collected) => String::from_utf8_lossy(&collected.to_bytes()).into_owned(),
        Err(_) => String::new(),
    };
    let at = Instant::now();
    if let Some(function) = path
        .strip_prefix(INVOKE_PREFIX)
        .and_then(|rest| rest.strip_suffix("/invocations"))
    {
        if method == Method::POST {
            return Ok(invoke(
                &state,
                &percent_encoding::percent_decode_str(function).decode_utf8_lossy(),
                body,
            )
            .await);
        }
    }
    let route = path.strip_prefix(PREFIX).unwrap_or("");

    if method == Method::GET && route == "invocation/next" {
        let _ = state.reports.send(Report::NextPolled { at });
        let invocation = state.queue.lock().await.recv().await;
        return Ok(match invocation {
            Some(invocation) => next_response(invocation),
            None => reply(StatusCode::GONE, r#"{"errorMessage":"no more events"}"#),
        });
    }
    if method == Method::POST && route == "init/error" {
        let _ = state.reports.send(Report::InitError { body, at });
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    if method == Method::POST {
        if let Some(rest) = route.strip_prefix("invocation/") {
            if let Some((request_id, action)) = rest.rsplit_once('/') {
                let request_id = request_id.to_owned();
                let report = match action {
                    "response" => Some(Report::Response {
                        request_id,
                        body,
                        at,
                    }),
                    "error" => Some(Report::Error {
                        request_id,
                        error_type_header,
                        body,
                        at,
                    }),
                    _ => None,
                };
                if let Some(report) = report {
                    answer_invoke(&state, &report);
                    let _ = state.reports.send(report);
                    return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
                }
            }
        }
    }
    let _ = state.reports.send(Report::Unexpected {
        what: format!("{method} {path}"),
        at,
    });
    Ok(reply(
        StatusCode::NOT_FOUND,
        r#"{"errorMessage":"unknown"}"#,
    ))
}

/// The Lambda service's `Invoke` (request-response): queue the payload as an event for the
/// function and answer with what it returns.
async fn invoke(state: &State, function: &str, payload: String) -> Response<Full<Bytes>> {
    if function != FUNCTION_NAME && function != FUNCTION_ARN {
        let body = serde_json::json!({
            "Type": "User",
            "message": format!("Function not found: {function}"),
        });
        return Response::builder()
            .status(StatusCode::NOT_FOUND)
            .header("content-type", "application/json")
            .header("x-amzn-errortype", "ResourceNotFoundException")
            .body(Full::new(Bytes::from(body.to_string())))
            .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "{}"));
    }
    let number = state.invokes.fetch_add(1, Ordering::Relaxed);
    let request_id = format!("invoke-{number:08}");
    let (answer, outcome) = oneshot::channel();
    state
        .waiting
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .insert(request_id.clone(), answer);
    let _ = state.events.send(Invocation {
        request_id: request_id.clone(),
        payload: payload.into_bytes(),
        deadline: Deadline::After(DEFAULT_TIMEOUT),
    });
    let builder = Response::builder()
        .header("content-type", "application/json")
        .header("x-amz-executed-version", "$LATEST")
        .header("x-amzn-requestid", &request_id);
    let response = match tokio::time::timeout(INVOKE_TIMEOUT, outcome).await {
        Ok(Ok(Outcome::Response(body))) => builder
            .status(StatusCode::OK)
            .body(Full::new(Bytes::from(body))),
        Ok(Ok(Outcome::Error(body))) => builder
            .status(StatusCode::OK)
            .header("x-amz-function-error", "Unhandled")
            .body(Full::new(Bytes::from(body))),
        // The function never answered: what the service reports for a timed-out function.
        _ => builder
            .status(StatusCode::OK)
            .header("x-amz-function-error", "Unhandled")
            .body(Full::new(Bytes::from(
                r#"{"errorType":"Sandbox.Timedout","errorMessage":"Task timed out"}"#,
            ))),
    };
    response.unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "{}"))
}

/// Hands a function's response or error to the `Invoke` request waiting for it, if any.
fn answer_invoke(state: &State, report: &Report) {
    let (request_id, outcome) = match report {
        Report::Response {
            request_id, body, ..
        } => (request_id, Outcome::Response(body.clone())),
        Report::Error {
            request_id, body, ..
        } => (request_id, Outcome::Error(body.clone())),
        _ => return,
    };
    let waiting = state
        .waiting
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .remove(request_id);
    if let Some(waiting) = waiting {
        let _ = waiting.send(outcome);
    }
}

fn next_response(invocation: Invocation) -> Response<Full<Bytes>> {
    let deadline_ms = match invocation.deadline {
        Deadline::After(timeout) => (SystemTime::now() + timeout)
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default()
            .as_millis(),
        Deadline::Raw(deadline_ms) => u128::from(deadline_ms),
    };
    let trace_id = format!(
        "Root=1-00000000-{:024x};Parent=0000000000000001;Sampled=0",
        invocation.request_id.len()
    );
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .header("lambda-runtime-aws-request-id", &invocation.request_id)
        .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
        .header("lambda-runtime-invoked-function-arn", FUNCTION_ARN)
        .header("lambda-runtime-trace-id", trace_id)
        .body(Full::new(Bytes::from(invocation.payload)))
        .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "{}"))
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

/// How to start a [`Function`]: a Lambda function binary polling a [`RuntimeApi`].
pub struct FunctionCommand {
    binary: std::ffi::OsString,
    api_address: String,
    env: Vec<(std::ffi::OsString, Option<std::ffi::OsString>)>,
    address_space: Option<u64>,
    capture_stdout: bool,
}

impl FunctionCommand {
    /// `binary` polling `api`, with the variables Lambda sets ([`lambda_env`]), nothing on
    /// standard input, standard error inherited (a failing test shows the function's log) and
    /// standard output discarded unless [`FunctionCommand::capture_stdout`] asks for it.
    pub fn new(binary: impl AsRef<std::ffi::OsStr>, api: &RuntimeApi) -> FunctionCommand {
        FunctionCommand {
            binary: binary.as_ref().to_owned(),
            api_address: api.address(),
            env: Vec::new(),
            address_space: None,
            capture_stdout: false,
        }
    }

    /// Runs the function under `prlimit --as=BYTES` (util-linux): a memory blow-up is a failed
    /// allocation, not a swapped test machine. `prlimit` execs the binary, so the child's pid
    /// is the function's.
    pub fn address_space(mut self, bytes: u64) -> FunctionCommand {
        self.address_space = Some(bytes);
        self
    }

    /// Sets an environment variable of the function.
    pub fn env(
        mut self,
        name: impl AsRef<std::ffi::OsStr>,
        value: impl AsRef<std::ffi::OsStr>,
    ) -> FunctionCommand {
        self.env
            .push((name.as_ref().to_owned(), Some(value.as_ref().to_owned())));
        self
    }

    /// Sets several environment variables of the function.
    pub fn envs<K, V>(mut self, vars: impl IntoIterator<Item = (K, V)>) -> FunctionCommand
    where
        K: AsRef<std::ffi::OsStr>,
        V: AsRef<std::ffi::OsStr>,
    {
        for (name, value) in vars {
            self = self.env(name, value);
        }
        self
    }

    /// Removes a variable the test process has (and the function must not inherit).
    pub fn env_remove(mut self, name: impl AsRef<std::ffi::OsStr>) -> FunctionCommand {
        self.env.push((name.as_ref().to_owned(), None));
        self
    }

    /// Collects what the function prints on standard output, line by line, for
    /// [`Function::stop`] to return.
    pub fn capture_stdout(mut self) -> FunctionCommand {
        self.capture_stdout = true;
        self
    }

    fn command(&self) -> tokio::process::Command {
        let mut command = match self.address_space {
            Some(bytes) => {
                let mut command = tokio::process::Command::new("prlimit");
                command
                    .arg(format!("--as={bytes}"))
                    .arg("--")
                    .arg(&self.binary);
                command
            }
            None => tokio::process::Command::new(&self.binary),
        };
        command.envs(lambda_env(&self.api_address));
        for (name, value) in &self.env {
            match value {
                Some(value) => command.env(name, value),
                None => command.env_remove(name),
            };
        }
        let stdout = if self.capture_stdout {
            std::process::Stdio::piped()
        } else {
            std::process::Stdio::null()
        };
        command
            .stdin(std::process::Stdio::null())
            .stdout(stdout)
            .stderr(std::process::Stdio::inherit())
            .kill_on_drop(true);
        command
    }

    /// Starts the process (on the current tokio runtime); panics when it cannot start.
    pub fn spawn(self) -> Function {
        let mut child = self.command().spawn().unwrap_or_else(|err| {
            panic!(
                "spawn the function {}: {err}",
                self.binary.to_string_lossy()
            )
        });
        let stdout = child.stdout.take().map(|pipe| {
            let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
            let collected = Arc::clone(&lines);
            let reader = tokio::spawn(async move {
                use tokio::io::AsyncBufReadExt;
                let mut reader = tokio::io::BufReader::new(pipe).lines();
                while let Ok(Some(line)) = reader.next_line().await {
                    collected
                        .lock()
                        .unwrap_or_else(|poisoned| poisoned.into_inner())
                        .push(line);
                }
            });
            (lines, reader)
        });
        Function { child, stdout }
    }
}

/// The lines a process printed so far, and the task that reads them.
type CapturedLines = (Arc<std::sync::Mutex<Vec<String>>>, JoinHandle<()>);

/// A running Lambda function process (see [`FunctionCommand`]); killed when dropped.
pub struct Function {
    child: tokio::process::Child,
    stdout: Option<CapturedLines>,
}

impl Function {
    /// The process id, while it runs.
    pub fn id(&self) -> Option<u32> {
        self.child.id()
    }

    /// The process's peak resident set in KiB (`VmHWM` in `/proc/PID/status`), while it runs.
    pub fn peak_rss_kib(&self) -> Option<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.id()?)).ok()?;
        let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
        line.split_whitespace().nth(1)?.parse().ok()
    }

    /// How the process ended, if it has (without waiting for it).
    pub fn exit_status(&mut self) -> Option<std::process::ExitStatus> {
        self.child
            .try_wait()
            .unwrap_or_else(|err| panic!("the function's status: {err}"))
    }

    /// Kills the process and returns the lines it printed on standard output (none unless
    /// they were captured).
    pub async fn stop(mut self) -> Vec<String> {
        // An exited process cannot be killed, and that is fine; anything else is a test bug.
        if self.exit_status().is_none() {
            self.child
                .kill()
                .await
                .unwrap_or_else(|err| panic!("kill the function: {err}"));
        }
        let Some((lines, reader)) = self.stdout.take() else {
            return Vec::new();
        };
        let _ = tokio::time::timeout(DEFAULT_TIMEOUT, reader).await;
        let lines = lines
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        lines.clone()
    }
}
