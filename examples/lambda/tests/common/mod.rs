//! Helpers shared by the test binaries: a fake Runtime API, scripted models and event capture.

#![allow(dead_code)]

pub use promptops_tests::lambda_runtime as runtime_api;

use std::future::Future;
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use runtime_api::{lambda_env, Report, RuntimeApi};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::task::JoinHandle;

use promptops_runtime::events::EventCapture;
use promptops_runtime::{
    Model, ModelError, ModelErrorKind, ModelFuture, ModelRequest, ModelResponse, RetryPolicy,
    Runtime,
};
use serde_json::Value;

/// The runtime the function builds, over `model`, without retries (so failures are fast).
pub fn lambda_runtime_over(model: impl Model + 'static) -> Runtime {
    Runtime::new(Arc::new(model))
        .with_name(promptops_lambda::RUNTIME_NAME)
        .with_retry(RetryPolicy::no_retries())
}

/// The function's runtime over the offline keyword model.
pub fn local_runtime() -> Runtime {
    Runtime::local().with_name(promptops_lambda::RUNTIME_NAME)
}

/// Runs `future` on this thread with prompt events captured; returns its output and the events.
pub async fn captured<T>(future: impl Future<Output = T>) -> (T, Vec<Value>) {
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let output = future.await;
    (output, capture.events())
}

/// The `event` names of `events` whose `request_id` is `request_id`, in order.
pub fn event_names(events: &[Value], request_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["request_id"] == request_id)
        .filter_map(|event| event["event"].as_str().map(str::to_owned))
        .collect()
}

/// A model that always fails with `kind` / `code`.
#[derive(Debug, Clone)]
pub struct FailingModel {
    pub kind: ModelErrorKind,
    pub code: Option<&'static str>,
}

impl Model for FailingModel {
    fn backend(&self) -> &'static str {
        "failing"
    }

    fn complete<'a>(&'a self, _request: ModelRequest<'a>) -> ModelFuture<'a> {
        let mut err = ModelError::new(self.kind, "scripted failure");
        err.code = self.code.map(str::to_owned);
        Box::pin(async move { Err(err) })
    }
}

/// `(system, user)` of one model request.
pub type SeenRequest = (Option<String>, String);

/// A model that answers `answer` after `delay`.
#[derive(Debug, Clone)]
pub struct SlowModel {
    pub answer: &'static str,
    pub delay: std::time::Duration,
}

impl Model for SlowModel {
    fn backend(&self) -> &'static str {
        "slow"
    }

    fn complete<'a>(&'a self, _request: ModelRequest<'a>) -> ModelFuture<'a> {
        let (text, delay) = (self.answer.to_owned(), self.delay);
        Box::pin(async move {
            tokio::time::sleep(delay).await;
            Ok(ModelResponse {
                text,
                ..ModelResponse::default()
            })
        })
    }
}

/// A model that answers `answer` and records every user turn and system prompt it is sent.
#[derive(Debug, Clone, Default)]
pub struct RecordingModel {
    pub answer: &'static str,
    pub seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl RecordingModel {
    pub fn answering(answer: &'static str) -> Self {
        RecordingModel {
            answer,
            seen: Arc::default(),
        }
    }

    /// `(system, user)` of every request so far.
    pub fn seen(&self) -> Vec<SeenRequest> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .clone()
    }
}

impl Model for RecordingModel {
    fn backend(&self) -> &'static str {
        "recording"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        self.seen
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .push((request.system.map(str::to_owned), request.user.to_owned()));
        let text = self.answer.to_owned();
        Box::pin(async move {
            Ok(ModelResponse {
                text,
                ..ModelResponse::default()
            })
        })
    }
}

/// A Function URL / API Gateway HTTP API (payload v2) event, as Lambda delivers it.
pub fn http_v2_event(method: &str, body: Option<&str>, base64: bool) -> Value {
    let body = match body {
        None => Value::Null,
        Some(text) if base64 => {
            use base64::Engine as _;
            Value::from(base64::engine::general_purpose::STANDARD.encode(text))
        }
        Some(text) => Value::from(text),
    };
    serde_json::json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/",
        "rawQueryString": "",
        "headers": {
            "content-type": "application/json",
            "host": "abcdefghij.lambda-url.us-east-1.on.aws",
            "user-agent": "curl/8.5.0"
        },
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "abcdefghij",
            "domainName": "abcdefghij.lambda-url.us-east-1.on.aws",
            "domainPrefix": "abcdefghij",
            "http": {
                "method": method,
                "path": "/",
                "protocol": "HTTP/1.1",
                "sourceIp": "203.0.113.7",
                "userAgent": "curl/8.5.0"
            },
            "requestId": "f1c2d3e4-0000-4000-8000-000000000001",
            "routeKey": "$default",
            "stage": "$default",
            "time": "01/Jan/2026:00:00:00 +0000",
            "timeEpoch": 1767225600000u64
        },
        "body": body,
        "isBase64Encoded": base64
    })
}

/// An API Gateway REST API (payload v1) event.
pub fn http_v1_event(method: &str, body: &str) -> Value {
    serde_json::json!({
        "resource": "/classify",
        "path": "/classify",
        "httpMethod": method,
        "headers": {"Content-Type": "application/json"},
        "queryStringParameters": null,
        "requestContext": {
            "resourcePath": "/classify",
            "httpMethod": method,
            "stage": "prod",
            "requestId": "c6af9ac6-7b61-11e6-9a41-93e8deadbeef"
        },
        "body": body,
        "isBase64Encoded": false
    })
}

/// How long a test waits for the function.
pub const WAIT: Duration = Duration::from_secs(60);

/// The function process, its stdout lines collected as they come.
pub struct Function {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    reader: JoinHandle<()>,
}

impl Function {
    /// Spawns the built binary against `api` with the Lambda environment plus `env`.
    pub fn spawn(api: &RuntimeApi, env: &[(&str, &str)]) -> Function {
        let mut command = Command::new(env!("CARGO_BIN_EXE_promptops-lambda"));
        command
            .envs(lambda_env(&api.address()))
            .env("RUST_LOG", "info")
            // `with_name("lambda")` must win over this.
            .env("PROMPTOPS_RUNTIME", "batch")
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .kill_on_drop(true);
        let mut child = command.spawn().expect("spawn the lambda binary");
        let stdout = Arc::new(Mutex::new(Vec::new()));
        let lines = Arc::clone(&stdout);
        let pipe = child.stdout.take().expect("stdout is piped");
        let reader = tokio::spawn(async move {
            let mut reader = BufReader::new(pipe).lines();
            while let Ok(Some(line)) = reader.next_line().await {
                lines.lock().unwrap().push(line);
            }
        });
        Function {
            child,
            stdout,
            reader,
        }
    }

    /// Kills the process and returns every JSON object it printed.
    pub async fn kill(mut self) -> Vec<Value> {
        self.child.kill().await.expect("kill the function");
        let _ = tokio::time::timeout(WAIT, self.reader).await;
        let lines = self.stdout.lock().unwrap().clone();
        lines
            .iter()
            .map(|line| {
                serde_json::from_str(line)
                    .unwrap_or_else(|err| panic!("{line:?} is not JSON: {err}"))
            })
            .collect()
    }
}

/// Queues `event` and returns what the function posted for it.
pub async fn invoke(api: &mut RuntimeApi, request_id: &str, event: &Value) -> Report {
    api.enqueue(request_id, event);
    let report = api
        .next_outcome(WAIT)
        .await
        .unwrap_or_else(|| panic!("{request_id}: no response within {WAIT:?}"));
    match &report {
        Report::Response { request_id: id, .. } | Report::Error { request_id: id, .. } => {
            assert_eq!(id, request_id, "posted under the right request id")
        }
        other => panic!("{request_id}: unexpected {other:?}"),
    }
    report
}

pub fn response_json(report: &Report) -> Value {
    match report {
        Report::Response { .. } => report.json().expect("a JSON response"),
        other => panic!("expected a response, got {other:?}"),
    }
}
