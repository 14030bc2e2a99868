//! A local, scriptable HTTP server that speaks the Amazon Bedrock Runtime wire formats.
//!
//! Tests (and benchmarks) start it on a loopback port and point the real
//! `aws-sdk-bedrockruntime` client at it (`endpoint_url`, dummy static credentials, any region).
//! It understands:
//!
//! * `POST /model/{modelId}/converse` — the Converse API (JSON in, JSON out);
//! * `POST /model/{modelId}/invoke` — InvokeModel with the native bodies of Anthropic Messages
//!   (`anthropic_version: bedrock-2023-05-31`) and Amazon Titan text (`inputText`).
//!
//! Model ids contain `:` and arrive percent-encoded in the path; they are decoded before lookup.
//! Each model id is scripted with a [`Script`]: the answer text, an artificial latency, and a queue
//! of faults served first (throttling, 503, 408, 400, 500, malformed JSON, ...). Errors are sent as
//! Bedrock sends them: a status code, an `x-amzn-ErrorType` header and a `{"message": ...}` body.
//! Every request is recorded for assertions ([`MockBedrock::requests`]).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use promptops_bedrock_mock::{Fault, MockBedrock, Script};
//! let mock = MockBedrock::start().await?;
//! mock.script("anthropic.claude-3-haiku-20240307-v1:0", Script::answer("billing").fail_first(2, Fault::Throttling));
//! let endpoint = mock.endpoint_url(); // "http://127.0.0.1:PORT"
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::collections::{HashMap, VecDeque};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// A failure the server can be scripted to return instead of an answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// 429 `ThrottlingException`.
    Throttling,
    /// 503 `ServiceUnavailableException`.
    ServiceUnavailable,
    /// 500 `InternalServerException`.
    InternalServer,
    /// 429 `ModelNotReadyException`.
    ModelNotReady,
    /// 408 `ModelTimeoutException`.
    ModelTimeout,
    /// 400 `ValidationException`. The message echoes the start of the request's text, as real
    /// validation messages sometimes do (useful to check that callers redact what they log).
    Validation,
    /// 403 `AccessDeniedException`.
    AccessDenied,
    /// 200 with a body that is not valid JSON.
    MalformedJson,
}

impl Fault {
    fn status_and_type(&self) -> (StatusCode, &'static str) {
        match self {
            Fault::Throttling => (StatusCode::TOO_MANY_REQUESTS, "ThrottlingException"),
            Fault::ServiceUnavailable => (
                StatusCode::SERVICE_UNAVAILABLE,
                "ServiceUnavailableException",
            ),
            Fault::InternalServer => (StatusCode::INTERNAL_SERVER_ERROR, "InternalServerException"),
            Fault::ModelNotReady => (StatusCode::TOO_MANY_REQUESTS, "ModelNotReadyException"),
            Fault::ModelTimeout => (StatusCode::REQUEST_TIMEOUT, "ModelTimeoutException"),
            Fault::Validation => (StatusCode::BAD_REQUEST, "ValidationException"),
            Fault::AccessDenied => (StatusCode::FORBIDDEN, "AccessDeniedException"),
            Fault::MalformedJson => (StatusCode::OK, ""),
        }
    }
}

/// How the server answers requests for one model id.
///
/// Queued faults are served first, one per request, in order; afterwards every request gets the
/// steady-state reply (an answer, or a fault repeated forever).
#[derive(Debug, Clone)]
pub struct Script {
    queue: VecDeque<Fault>,
    steady: Result<String, Fault>,
    latency: Duration,
    usage: Option<(u32, u32)>,
}

impl Script {
    /// Answers every request with `text`.
    pub fn answer(text: impl Into<String>) -> Self {
        Script {
            queue: VecDeque::new(),
            steady: Ok(text.into()),
            latency: Duration::ZERO,
            usage: None,
        }
    }

    /// Fails every request with `fault`.
    pub fn always(fault: Fault) -> Self {
        Script {
            queue: VecDeque::new(),
            steady: Err(fault),
            latency: Duration::ZERO,
            usage: None,
        }
    }

    /// Serves `fault` to the next `n` requests before the steady-state reply.
    pub fn fail_first(mut self, n: usize, fault: Fault) -> Self {
        self.queue.extend(std::iter::repeat_n(fault, n));
        self
    }

    /// Shorthand for `fail_first(n, Fault::Throttling)`.
    pub fn throttle(self, n: usize) -> Self {
        self.fail_first(n, Fault::Throttling)
    }

    /// Waits `latency` before every reply (faults included).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Reports these token counts instead of the default word counts.
    pub fn usage(mut self, input_tokens: u32, output_tokens: u32) -> Self {
        self.usage = Some((input_tokens, output_tokens));
        self
    }
}

/// Which API a recorded request used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Operation {
    /// `POST /model/{id}/converse`.
    Converse,
    /// `POST /model/{id}/invoke`.
    InvokeModel,
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct RecordedRequest {
    /// Which API.
    pub operation: Operation,
    /// The decoded model id from the path.
    pub model_id: String,
    /// The request body parsed as JSON (`Value::Null` if it was not JSON).
    pub body: Value,
    /// Whether the request carried a SigV4 `authorization` header.
    pub signed: bool,
    /// What the server answered: `"ok"` or the fault's error type / `"malformed"`.
    pub outcome: String,
}

#[derive(Default)]
struct State {
    scripts: HashMap<String, Script>,
    default_script: Option<Script>,
    requests: Vec<RecordedRequest>,
}

struct Shared {
    state: Mutex<State>,
    counter: AtomicU64,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while holding the lock cannot leave the state half-updated in a way that
        // matters to a test double, so recover from poisoning.
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// A running mock server. Dropping it stops the server.
pub struct MockBedrock {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl std::fmt::Debug for MockBedrock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockBedrock")
            .field("addr", &self.addr)
            .finish()
    }
}

impl MockBedrock {
    /// Binds `127.0.0.1:0` and serves on the current tokio runtime.
    pub async fn start() -> std::io::Result<MockBedrock> {
        let listener = TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = new_shared();
        let (tx, rx) = oneshot::channel();
        tokio::spawn(serve(listener, Arc::clone(&shared), rx));
        Ok(MockBedrock {
            addr,
            shared,
            shutdown: Some(tx),
            thread: None,
        })
    }

    /// Starts the server on its own thread with its own runtime, for synchronous callers
    /// (benchmarks, tests that are not async).
    pub fn start_in_background() -> std::io::Result<MockBedrock> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?;
        let std_listener = std::net::TcpListener::bind(("127.0.0.1", 0))?;
        std_listener.set_nonblocking(true)?;
        let addr = std_listener.local_addr()?;
        let shared = new_shared();
        let (tx, rx) = oneshot::channel();
        let thread_shared = Arc::clone(&shared);
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("bedrock-mock".into())
            .spawn(move || {
                runtime.block_on(async move {
                    match TcpListener::from_std(std_listener) {
                        Ok(listener) => {
                            let _ = ready_tx.send(Ok(()));
                            serve(listener, thread_shared, rx).await;
                        }
                        Err(err) => {
                            let _ = ready_tx.send(Err(err));
                        }
                    }
                });
            })?;
        ready_rx
            .recv()
            .map_err(|_| std::io::Error::other("mock server thread exited early"))??;
        Ok(MockBedrock {
            addr,
            shared,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The socket address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`, for `endpoint_url` / `AWS_ENDPOINT_URL_BEDROCK_RUNTIME`.
    pub fn endpoint_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Sets (or replaces) the script for one model id.
    pub fn script(&self, model_id: &str, script: Script) {
        self.shared
            .lock()
            .scripts
            .insert(model_id.to_owned(), script);
    }

    /// Sets the script used for model ids without their own. Without one, unknown model ids
    /// get 404 `ResourceNotFoundException`.
    pub fn script_default(&self, script: Script) {
        self.shared.lock().default_script = Some(script);
    }

    /// Every request received so far, in arrival order.
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.lock().requests.clone()
    }

    /// The requests received for one model id.
    pub fn requests_for(&self, model_id: &str) -> Vec<RecordedRequest> {
        self.shared
            .lock()
            .requests
            .iter()
            .filter(|request| request.model_id == model_id)
            .cloned()
            .collect()
    }

    /// Forgets the recorded requests.
    pub fn clear_requests(&self) {
        self.shared.lock().requests.clear();
    }
}

impl Drop for MockBedrock {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn new_shared() -> Arc<Shared> {
    Arc::new(Shared {
        state: Mutex::new(State::default()),
        counter: AtomicU64::new(0),
    })
}

async fn serve(listener: TcpListener, shared: Arc<Shared>, mut shutdown: oneshot::Receiver<()>) {
    loop {
        tokio::select! {
            _ = &mut shutdown => break,
            accepted = listener.accept() => {
                let Ok((stream, _)) = accepted else { continue };
                let _ = stream.set_nodelay(true);
                let shared = Arc::clone(&shared);
                tokio::spawn(async move {
                    let service = service_fn(move |request| {
                        let shared = Arc::clone(&shared);
                        async move { Ok::<_, Infallible>(handle(request, &shared).await) }
                    });
                    let _ = http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        }
    }
}

type HttpResponse = Response<Full<Bytes>>;

async fn handle(request: Request<Incoming>, shared: &Shared) -> HttpResponse {
    let request_id = format!(
        "mock-{:08}",
        shared.counter.fetch_add(1, Ordering::Relaxed) + 1
    );
    let path = request.uri().path().to_owned();
    let method = request.method().clone();
    let signed = request.headers().contains_key("authorization");
    let body_bytes = match request.into_body().collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(_) => Bytes::new(),
    };

    let Some((model_id, operation)) = parse_path(&path) else {
        return error_response(
            &request_id,
            StatusCode::NOT_FOUND,
            "UnknownOperationException",
            &format!("no such operation: {path}"),
        );
    };
    if method != Method::POST {
        return error_response(
            &request_id,
            StatusCode::METHOD_NOT_ALLOWED,
            "UnknownOperationException",
            "only POST is supported",
        );
    }
    let body: Value = serde_json::from_slice(&body_bytes).unwrap_or(Value::Null);

    // Decide the reply under the lock, then sleep and build the response outside it.
    let (reply, latency, usage) = {
        let mut state = shared.lock();
        let script = match state.scripts.get_mut(&model_id) {
            Some(script) => Some(script),
            None => state.default_script.as_mut(),
        };
        match script {
            None => (None, Duration::ZERO, None),
            Some(script) => {
                let reply = match script.queue.pop_front() {
                    Some(fault) => Err(fault),
                    None => script.steady.clone(),
                };
                (Some(reply), script.latency, script.usage)
            }
        }
    };

    let outcome = match &reply {
        None => "ResourceNotFoundException".to_owned(),
        Some(Ok(_)) => "ok".to_owned(),
        Some(Err(Fault::MalformedJson)) => "malformed".to_owned(),
        Some(Err(fault)) => fault.status_and_type().1.to_owned(),
    };
    shared.lock().requests.push(RecordedRequest {
        operation,
        model_id: model_id.clone(),
        body: body.clone(),
        signed,
        outcome,
    });

    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    let reply = match reply {
        None => {
            return error_response(
                &request_id,
                StatusCode::NOT_FOUND,
                "ResourceNotFoundException",
                &format!("model {model_id} is not scripted"),
            )
        }
        Some(reply) => reply,
    };

    let text_in = request_text(operation, &body);
    match reply {
        Err(Fault::MalformedJson) => raw_response(
            &request_id,
            StatusCode::OK,
            Bytes::from_static(b"{\"output\": {\"message\": "),
        ),
        Err(Fault::Validation) => {
            let echo: String = text_in.chars().take(200).collect();
            error_response(
                &request_id,
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("Malformed input request, please reformat your input: {echo}"),
            )
        }
        Err(fault) => {
            let (status, error_type) = fault.status_and_type();
            error_response(
                &request_id,
                status,
                error_type,
                &format!("mock {error_type} for {model_id}"),
            )
        }
        Ok(answer) => {
            let (input_tokens, output_tokens) =
                usage.unwrap_or_else(|| (word_count(&text_in), word_count(&answer)));
            match operation {
                Operation::Converse => {
                    if let Err(problem) = validate_converse(&body) {
                        return validation(&request_id, &problem);
                    }
                    converse_response(&request_id, &answer, input_tokens, output_tokens)
                }
                Operation::InvokeModel => invoke_response(
                    &request_id,
                    &model_id,
                    &body,
                    &answer,
                    input_tokens,
                    output_tokens,
                ),
            }
        }
    }
}

/// `/model/{id}/converse` or `/model/{id}/invoke`, id percent-decoded.
fn parse_path(path: &str) -> Option<(String, Operation)> {
    let rest = path.strip_prefix("/model/")?;
    let (raw_id, operation) = rest.rsplit_once('/')?;
    let operation = match operation {
        "converse" => Operation::Converse,
        "invoke" => Operation::InvokeModel,
        _ => return None,
    };
    Some((percent_decode(raw_id)?, operation))
}

fn percent_decode(input: &str) -> Option<String> {
    let bytes = input.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut index = 0;
    while index < bytes.len() {
        if bytes[index] == b'%' {
            let hex = input.get(index + 1..index + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            index += 3;
        } else {
            out.push(bytes[index]);
            index += 1;
        }
    }
    String::from_utf8(out).ok()
}

fn word_count(text: &str) -> u32 {
    u32::try_from(text.split_whitespace().count()).unwrap_or(u32::MAX)
}

/// All text the request carries (system + messages), for token counts and echoes.
fn request_text(operation: Operation, body: &Value) -> String {
    let mut parts: Vec<&str> = Vec::new();
    match operation {
        Operation::Converse => {
            collect_texts(&body["system"], &mut parts);
            if let Some(messages) = body["messages"].as_array() {
                for message in messages {
                    collect_texts(&message["content"], &mut parts);
                }
            }
        }
        Operation::InvokeModel => {
            if let Some(system) = body["system"].as_str() {
                parts.push(system);
            }
            if let Some(messages) = body["messages"].as_array() {
                for message in messages {
                    match &message["content"] {
                        Value::String(text) => parts.push(text),
                        content => collect_texts(content, &mut parts),
                    }
                }
            }
            if let Some(input) = body["inputText"].as_str() {
                parts.push(input);
            }
        }
    }
    parts.join("\n")
}

fn collect_texts<'a>(blocks: &'a Value, out: &mut Vec<&'a str>) {
    if let Some(blocks) = blocks.as_array() {
        for block in blocks {
            if let Some(text) = block["text"].as_str() {
                out.push(text);
            }
        }
    }
}

fn validate_converse(body: &Value) -> Result<(), String> {
    let messages = body["messages"]
        .as_array()
        .ok_or("messages: required list")?;
    if messages.is_empty() {
        return Err("messages: must not be empty".into());
    }
    if messages[0]["role"] != "user" {
        return Err("messages: the first message must have role user".into());
    }
    if let Some(config) = body.get("inferenceConfig") {
        if let Some(max) = config.get("maxTokens") {
            if max.as_u64().is_none_or(|max| max == 0) {
                return Err("inferenceConfig.maxTokens: must be a positive integer".into());
            }
        }
    }
    Ok(())
}

fn converse_response(request_id: &str, answer: &str, input: u32, output: u32) -> HttpResponse {
    let body = json!({
        "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
        "stopReason": "end_turn",
        "usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
        "metrics": {"latencyMs": 1},
    });
    json_response(request_id, StatusCode::OK, &body)
}

fn invoke_response(
    request_id: &str,
    model_id: &str,
    body: &Value,
    answer: &str,
    input: u32,
    output: u32,
) -> HttpResponse {
    let anthropic = body.get("anthropic_version").is_some() || model_id.contains("anthropic.");
    if anthropic {
        if body["anthropic_version"] != "bedrock-2023-05-31" {
            return validation(request_id, "anthropic_version: must be bedrock-2023-05-31");
        }
        if body["max_tokens"].as_u64().is_none_or(|max| max == 0) {
            return validation(request_id, "max_tokens: required positive integer");
        }
        let valid_messages = body["messages"]
            .as_array()
            .is_some_and(|messages| !messages.is_empty() && messages[0]["role"] == "user");
        if !valid_messages {
            return validation(request_id, "messages: first message must have role user");
        }
        let response = json!({
            "id": format!("msg_{request_id}"),
            "type": "message",
            "role": "assistant",
            "model": model_id,
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "end_turn",
            "stop_sequence": null,
            "usage": {"input_tokens": input, "output_tokens": output},
        });
        return json_response(request_id, StatusCode::OK, &response);
    }
    if body.get("inputText").is_some() || model_id.contains("titan-text") {
        if !body["inputText"].is_string() {
            return validation(request_id, "inputText: required string");
        }
        let response = json!({
            "inputTextTokenCount": input,
            "results": [{"tokenCount": output, "outputText": answer, "completionReason": "FINISH"}],
        });
        return json_response(request_id, StatusCode::OK, &response);
    }
    validation(
        request_id,
        "the mock only understands Anthropic Messages and Titan text bodies",
    )
}

fn validation(request_id: &str, problem: &str) -> HttpResponse {
    error_response(
        request_id,
        StatusCode::BAD_REQUEST,
        "ValidationException",
        problem,
    )
}

fn error_response(
    request_id: &str,
    status: StatusCode,
    error_type: &str,
    message: &str,
) -> HttpResponse {
    let mut response = json_response(request_id, status, &json!({ "message": message }));
    if let Ok(value) = hyper::header::HeaderValue::from_str(error_type) {
        response.headers_mut().insert("x-amzn-ErrorType", value);
    }
    response
}

fn json_response(request_id: &str, status: StatusCode, body: &Value) -> HttpResponse {
    raw_response(request_id, status, Bytes::from(body.to_string()))
}

fn raw_response(request_id: &str, status: StatusCode, body: Bytes) -> HttpResponse {
    let mut response = Response::new(Full::new(body));
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = hyper::header::HeaderValue::from_str(request_id) {
        headers.insert("x-amzn-RequestId", value);
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_decode_model_ids() {
        assert_eq!(
            parse_path("/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse"),
            Some((
                "anthropic.claude-3-haiku-20240307-v1:0".to_owned(),
                Operation::Converse
            ))
        );
        assert_eq!(
            parse_path("/model/amazon.titan-text-express-v1/invoke"),
            Some((
                "amazon.titan-text-express-v1".to_owned(),
                Operation::InvokeModel
            ))
        );
        assert_eq!(parse_path("/model/x/converse-stream"), None);
        assert_eq!(parse_path("/model/bad%zz/invoke"), None);
    }

    #[test]
    fn scripts_serve_faults_first() {
        let script = Script::answer("hi")
            .throttle(2)
            .fail_first(1, Fault::ModelTimeout);
        assert_eq!(
            script.queue,
            VecDeque::from(vec![
                Fault::Throttling,
                Fault::Throttling,
                Fault::ModelTimeout
            ])
        );
        assert_eq!(script.steady, Ok("hi".to_owned()));
    }
}
