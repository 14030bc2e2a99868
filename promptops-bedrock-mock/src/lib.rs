//! A local, scriptable HTTP server that speaks the Amazon Bedrock Runtime wire formats.
//!
//! Tests (and benchmarks) start it on a loopback port and point the real
//! `aws-sdk-bedrockruntime` client at it (`endpoint_url`, dummy static credentials, any region).
//! It understands:
//!
//! * `POST /model/{modelId}/converse` — the Converse API (JSON in, JSON out), tool use included;
//! * `POST /model/{modelId}/invoke` — InvokeModel with the native bodies of Anthropic Messages
//!   (`anthropic_version: bedrock-2023-05-31`, tool use included) and Amazon Titan text
//!   (`inputText`, no tools).
//!
//! Model ids contain `:` and arrive percent-encoded in the path; they are decoded before lookup.
//! Every request is recorded for assertions ([`MockBedrock::requests`]).
//!
//! # Scripts and sequences
//!
//! Each model id is scripted with a [`Script`]: a sequence of replies (answer texts and faults)
//! served one per request in order, the last one repeated forever, plus an artificial latency.
//! [`Script::answer`] / [`Script::always`] start the sequence, [`Script::then`] /
//! [`Script::then_fail`] append to it, and [`Script::fail_first`] / [`Script::throttle`] put
//! faults *before* the first reply whatever the call order (so `answer("x").throttle(1)` means
//! "throttle once, then answer `x` forever"). Errors are sent as Bedrock sends them: a status
//! code, an `x-amzn-ErrorType` header and a `{"message": ...}` body.
//!
//! A fault is served without looking at the request. When the next reply is an answer, the
//! request is validated first (roles, content blocks, tool configuration, ...); an invalid
//! request gets 400 `ValidationException` and does **not** consume the answer, so the next valid
//! request still gets it.
//!
//! # Tool use (structured outputs)
//!
//! A Converse request may carry `toolConfig` (`tools: [{toolSpec: {name, description?,
//! inputSchema: {json: {"type": "object", ...}}}}]`, `toolChoice: {auto: {}} | {any: {}} |
//! {tool: {name}}`); an Anthropic native body may carry `tools: [{name, description?,
//! input_schema}]` and `tool_choice: {type: auto|any|tool|none, name?}`. Both are validated as
//! Bedrock does. When tools are offered and the scripted answer text parses as a JSON **object**,
//! the model "calls" a tool: the forced one (`toolChoice.tool` / `tool_choice.type = tool`), else
//! the first declared one, with that object as its input:
//!
//! * Converse: `content: [{"toolUse": {"toolUseId": "tooluse_…", "name": …, "input": {…}}}]`,
//!   `stopReason: "tool_use"`;
//! * Anthropic: `content: [{"type": "tool_use", "id": "toolu_…", "name": …, "input": {…}}]`,
//!   `stop_reason: "tool_use"`.
//!
//! Any other answer text is returned as a text block with `end_turn` (a model that ignored the
//! tool). Conversations may replay the assistant's tool call and answer it with a `toolResult`
//! (`tool_result`) block, e.g. `status: "error"` for a repair turn; the ids must pair up with the
//! immediately preceding assistant message. [`Script::no_tools`] scripts a model without tool
//! support: requests that offer tools get 400 `This model doesn't support tool use.`
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use promptops_bedrock_mock::{Fault, MockBedrock, Script};
//! let mock = MockBedrock::start().await?;
//! mock.script("anthropic.claude-3-haiku-20240307-v1:0", Script::answer("billing").fail_first(2, Fault::Throttling));
//! // A forced-tool answer that fails validation, then a repaired one.
//! mock.script("anthropic.claude-3-5-sonnet-20240620-v1:0", Script::answer(r#"{"label": 7}"#).then(r#"{"label": "billing"}"#));
//! // A model without tool support, answering JSON as text.
//! mock.script("mistral.mistral-7b-instruct-v0:2", Script::answer(r#"{"label": "billing"}"#).no_tools());
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

/// One scripted reply: an answer text or a fault.
type Reply = Result<String, Fault>;

/// How the server answers requests for one model id.
///
/// A script is a sequence of replies, each an answer text or a [`Fault`], served one per
/// request in order; the last reply is repeated forever.
///
/// * [`Script::answer`] / [`Script::always`] start the sequence with one reply;
/// * [`Script::then`] / [`Script::then_fail`] append a reply at the end;
/// * [`Script::fail_first`] / [`Script::throttle`] insert faults *before* the reply given to
///   `answer`/`always` (after the faults of earlier `fail_first` calls), whatever the call order.
///
/// So `Script::answer("a").then("b")` answers `a`, then `b` forever;
/// `Script::answer("x").fail_first(1, Fault::Throttling)` throttles once, then answers `x`
/// forever; `Script::answer("a").then_fail(Fault::Throttling).then("b")` answers `a`, throttles
/// once, then answers `b` forever.
///
/// Faults are served without looking at the request. Before an answer is served the request is
/// validated; a request refused with 400 `ValidationException` does not consume the answer.
#[derive(Debug, Clone)]
pub struct Script {
    /// Replies served once each, in order, before `steady`.
    queue: VecDeque<Reply>,
    /// How many of the first `queue` entries were put there by `fail_first`.
    leading_faults: usize,
    /// The last reply, repeated forever once `queue` is empty.
    steady: Reply,
    latency: Duration,
    usage: Option<(u32, u32)>,
    tools: bool,
    system: bool,
}

impl Script {
    fn starting_with(reply: Reply) -> Self {
        Script {
            queue: VecDeque::new(),
            leading_faults: 0,
            steady: reply,
            latency: Duration::ZERO,
            usage: None,
            tools: true,
            system: true,
        }
    }

    /// Answers every request with `text` (until [`Script::then`] / [`Script::then_fail`]
    /// append further replies).
    ///
    /// When the request offers tools and `text` parses as a JSON object, the answer is a tool
    /// call with that object as its input; otherwise it is a text answer.
    pub fn answer(text: impl Into<String>) -> Self {
        Script::starting_with(Ok(text.into()))
    }

    /// Fails every request with `fault` (until [`Script::then`] / [`Script::then_fail`] append
    /// further replies).
    pub fn always(fault: Fault) -> Self {
        Script::starting_with(Err(fault))
    }

    /// Appends the answer `text`: it is served once every reply scripted before it has been
    /// served, and repeated forever if nothing is appended after it.
    pub fn then(mut self, text: impl Into<String>) -> Self {
        self.push(Ok(text.into()));
        self
    }

    /// Appends one `fault`: it is served once every reply scripted before it has been served,
    /// and repeated forever if nothing is appended after it.
    pub fn then_fail(mut self, fault: Fault) -> Self {
        self.push(Err(fault));
        self
    }

    fn push(&mut self, reply: Reply) {
        let previous = std::mem::replace(&mut self.steady, reply);
        self.queue.push_back(previous);
    }

    /// Serves `fault` to the next `n` requests before the first reply (the one given to
    /// [`Script::answer`] / [`Script::always`]), after faults queued by earlier calls.
    pub fn fail_first(mut self, n: usize, fault: Fault) -> Self {
        for _ in 0..n {
            self.queue.insert(self.leading_faults, Err(fault.clone()));
            self.leading_faults += 1;
        }
        self
    }

    /// Shorthand for `fail_first(n, Fault::Throttling)`.
    pub fn throttle(self, n: usize) -> Self {
        self.fail_first(n, Fault::Throttling)
    }

    /// Waits `latency` before every reply (faults and validation errors included).
    pub fn latency(mut self, latency: Duration) -> Self {
        self.latency = latency;
        self
    }

    /// Reports these token counts instead of the default word counts.
    pub fn usage(mut self, input_tokens: u32, output_tokens: u32) -> Self {
        self.usage = Some((input_tokens, output_tokens));
        self
    }

    /// Makes this a model without tool support: a Converse request with `toolConfig`, or an
    /// Anthropic native body with `tools`, gets 400 `ValidationException` with the message
    /// `This model doesn't support tool use.` Requests without tools are answered normally (a
    /// JSON answer text is then returned as text).
    pub fn no_tools(mut self) -> Self {
        self.tools = false;
        self
    }

    /// Makes this a model without system prompts (Amazon Titan in the Converse feature table):
    /// a Converse request with `system` gets 400 `ValidationException` with the message
    /// `This model doesn't support system messages.`
    pub fn no_system(mut self) -> Self {
        self.system = false;
        self
    }

    /// The reply the next request gets (not consumed).
    fn peek(&self) -> Reply {
        self.queue.front().unwrap_or(&self.steady).clone()
    }

    /// Consumes the reply returned by [`Script::peek`] (the steady reply is never consumed).
    fn advance(&mut self) {
        self.queue.pop_front();
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
    /// What the server answered: `"ok"` (an answer, text or tool call), the fault's error type,
    /// `"malformed"`, `"ValidationException"` for a request refused as invalid, or
    /// `"ResourceNotFoundException"` for a model id without a script.
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

/// What the server does with one request, decided under the state lock.
enum Decision {
    /// No script for the model id: 404.
    NotScripted,
    /// A scripted fault.
    Fault(Fault),
    /// The request is invalid: 400 `ValidationException` with this message.
    Refuse(String),
    /// A scripted answer text, for a request that passed validation.
    Answer { text: String, plan: Plan },
}

/// How a valid request is answered.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Plan {
    /// Converse; `tool` is the tool a JSON-object answer calls (`None`: no tools offered).
    Converse { tool: Option<String> },
    /// InvokeModel, Anthropic Messages body; `tool` as for Converse.
    Anthropic { tool: Option<String> },
    /// InvokeModel, Titan text body.
    Titan,
}

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
    let (decision, latency, usage) = {
        let mut state = shared.lock();
        let script = match state.scripts.get_mut(&model_id) {
            Some(script) => Some(script),
            None => state.default_script.as_mut(),
        };
        match script {
            None => (Decision::NotScripted, Duration::ZERO, None),
            Some(script) => {
                let decision = match script.peek() {
                    Err(fault) => {
                        script.advance();
                        Decision::Fault(fault)
                    }
                    Ok(text) => match validate(operation, &model_id, &body, script) {
                        Err(problem) => Decision::Refuse(problem),
                        Ok(plan) => {
                            script.advance();
                            Decision::Answer { text, plan }
                        }
                    },
                };
                (decision, script.latency, script.usage)
            }
        }
    };

    let outcome = match &decision {
        Decision::NotScripted => "ResourceNotFoundException",
        Decision::Fault(Fault::MalformedJson) => "malformed",
        Decision::Fault(fault) => fault.status_and_type().1,
        Decision::Refuse(_) => "ValidationException",
        Decision::Answer { .. } => "ok",
    };
    shared.lock().requests.push(RecordedRequest {
        operation,
        model_id: model_id.clone(),
        body: body.clone(),
        signed,
        outcome: outcome.to_owned(),
    });

    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }

    match decision {
        Decision::NotScripted => error_response(
            &request_id,
            StatusCode::NOT_FOUND,
            "ResourceNotFoundException",
            &format!("model {model_id} is not scripted"),
        ),
        Decision::Refuse(problem) => validation(&request_id, &problem),
        Decision::Fault(Fault::MalformedJson) => raw_response(
            &request_id,
            StatusCode::OK,
            Bytes::from_static(b"{\"output\": {\"message\": "),
        ),
        Decision::Fault(Fault::Validation) => {
            let echo: String = request_text(operation, &body).chars().take(200).collect();
            error_response(
                &request_id,
                StatusCode::BAD_REQUEST,
                "ValidationException",
                &format!("Malformed input request, please reformat your input: {echo}"),
            )
        }
        Decision::Fault(fault) => {
            let (status, error_type) = fault.status_and_type();
            error_response(
                &request_id,
                status,
                error_type,
                &format!("mock {error_type} for {model_id}"),
            )
        }
        Decision::Answer { text, plan } => {
            let input_words = word_count(&request_text(operation, &body));
            let body = answer_body(&request_id, &model_id, &plan, &text, input_words, usage);
            json_response(&request_id, StatusCode::OK, &body)
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

/// All text the request carries, for token counts and echoes: the system prompt, the messages'
/// text blocks, the serialized inputs of their tool calls, and the text (or serialized JSON) of
/// their tool results.
fn request_text(operation: Operation, body: &Value) -> String {
    let mut parts: Vec<String> = Vec::new();
    match operation {
        Operation::Converse => {
            collect_texts(&body["system"], &mut parts);
            for message in body["messages"].as_array().into_iter().flatten() {
                for block in message["content"].as_array().into_iter().flatten() {
                    if let Some(text) = block["text"].as_str() {
                        parts.push(text.to_owned());
                    }
                    if let Some(input) = block["toolUse"].get("input") {
                        parts.push(input.to_string());
                    }
                    for item in block["toolResult"]["content"]
                        .as_array()
                        .into_iter()
                        .flatten()
                    {
                        if let Some(text) = item["text"].as_str() {
                            parts.push(text.to_owned());
                        }
                        if let Some(json) = item.get("json") {
                            parts.push(json.to_string());
                        }
                    }
                }
            }
        }
        Operation::InvokeModel => {
            match &body["system"] {
                Value::String(system) => parts.push(system.clone()),
                system => collect_texts(system, &mut parts),
            }
            for message in body["messages"].as_array().into_iter().flatten() {
                match &message["content"] {
                    Value::String(text) => parts.push(text.clone()),
                    content => {
                        for block in content.as_array().into_iter().flatten() {
                            match block["type"].as_str() {
                                Some("tool_use") => {
                                    if let Some(input) = block.get("input") {
                                        parts.push(input.to_string());
                                    }
                                }
                                Some("tool_result") => match &block["content"] {
                                    Value::String(text) => parts.push(text.clone()),
                                    content => collect_texts(content, &mut parts),
                                },
                                _ => {
                                    if let Some(text) = block["text"].as_str() {
                                        parts.push(text.to_owned());
                                    }
                                }
                            }
                        }
                    }
                }
            }
            if let Some(input) = body["inputText"].as_str() {
                parts.push(input.to_owned());
            }
        }
    }
    parts.join("\n")
}

fn collect_texts(blocks: &Value, out: &mut Vec<String>) {
    for block in blocks.as_array().into_iter().flatten() {
        if let Some(text) = block["text"].as_str() {
            out.push(text.to_owned());
        }
    }
}

/// The message for a request that offers tools to a [`Script::no_tools`] model.
const NO_TOOL_SUPPORT: &str = "This model doesn't support tool use.";
const NO_SYSTEM_SUPPORT: &str = "This model doesn't support system messages.";
/// Converse: `toolUse`/`toolResult` blocks without `toolConfig`.
const TOOL_CONFIG_REQUIRED: &str =
    "The toolConfig field must be defined when using toolUse and toolResult content blocks.";
/// Converse: two consecutive messages with the same role.
const ALTERNATE_ROLES: &str = "A conversation must alternate between user and assistant roles. \
     Make sure the conversation alternates between user and assistant roles and try again.";
/// Anthropic: `tool_use`/`tool_result` blocks without `tools`.
const ANTHROPIC_TOOLS_REQUIRED: &str =
    "Requests which include `tool_use` or `tool_result` blocks must define tools.";
/// The pattern tool names must match (Converse and Anthropic).
const TOOL_NAME_PATTERN: &str = "^[a-zA-Z0-9_-]{1,64}$";

fn is_tool_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Validates a request the way Bedrock does before invoking the model, and says how to answer.
fn validate(
    operation: Operation,
    model_id: &str,
    body: &Value,
    script: &Script,
) -> Result<Plan, String> {
    match operation {
        Operation::Converse => {
            if !script.system && present(body, "system").is_some() {
                return Err(NO_SYSTEM_SUPPORT.into());
            }
            validate_converse(body, script.tools).map(|tool| Plan::Converse { tool })
        }
        Operation::InvokeModel => validate_invoke(model_id, body, script.tools),
    }
}

/// A value that is present and not `null`.
fn present<'a>(body: &'a Value, key: &str) -> Option<&'a Value> {
    body.get(key).filter(|value| !value.is_null())
}

/// Validates a Converse body; returns the tool a JSON-object answer calls (`None` without
/// `toolConfig`).
fn validate_converse(body: &Value, tools_supported: bool) -> Result<Option<String>, String> {
    let tool_config = present(body, "toolConfig");
    if tool_config.is_some() && !tools_supported {
        return Err(NO_TOOL_SUPPORT.into());
    }
    let tool = tool_config.map(validate_tool_config).transpose()?;

    let messages = body["messages"]
        .as_array()
        .ok_or("messages: required list")?;
    if messages.is_empty() {
        return Err("messages: must not be empty".into());
    }
    if messages[0]["role"] != "user" {
        return Err("messages: the first message must have role user".into());
    }
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = match message["role"].as_str() {
            Some(role @ ("user" | "assistant")) => role,
            _ => return Err(format!("messages.{i}.role: must be user or assistant")),
        };
        if turns.last().is_some_and(|previous| previous.role == role) {
            return Err(ALTERNATE_ROLES.into());
        }
        let blocks = message["content"]
            .as_array()
            .filter(|blocks| !blocks.is_empty())
            .ok_or_else(|| {
                format!(
                    "The content field in the Message object at messages.{i} is empty. \
                     Add a ContentBlock object to the content field and try again."
                )
            })?;
        let mut turn = Turn {
            role,
            uses: Vec::new(),
            results: Vec::new(),
        };
        for (j, block) in blocks.iter().enumerate() {
            let at = format!("messages.{i}.content.{j}");
            if !block.is_object() {
                return Err(format!("{at}: must be a content block object"));
            }
            if let Some(text) = block.get("text") {
                if !text.is_string() {
                    return Err(format!("{at}.text: must be a string"));
                }
            }
            if let Some(tool_use) = block.get("toolUse") {
                if role != "assistant" {
                    return Err(format!(
                        "{at}: toolUse blocks may only appear in assistant messages"
                    ));
                }
                turn.uses.push(converse_tool_use(tool_use, &at)?);
            }
            if let Some(result) = block.get("toolResult") {
                if role != "user" {
                    return Err(format!(
                        "{at}: toolResult blocks may only appear in user messages"
                    ));
                }
                turn.results.push((j, converse_tool_result(result, &at)?));
            }
        }
        turns.push(turn);
    }
    if turns.last().is_some_and(|last| last.role != "user") {
        return Err(format!(
            "messages.{}: the last message must have role user",
            turns.len() - 1
        ));
    }
    let has_tool_blocks = turns
        .iter()
        .any(|turn| !turn.uses.is_empty() || !turn.results.is_empty());
    if has_tool_blocks && tool_config.is_none() {
        return Err(TOOL_CONFIG_REQUIRED.into());
    }
    check_tool_pairs(&turns, Dialect::Converse)?;

    if let Some(config) = body.get("inferenceConfig") {
        if let Some(max) = config.get("maxTokens") {
            if max.as_u64().is_none_or(|max| max == 0) {
                return Err("inferenceConfig.maxTokens: must be a positive integer".into());
            }
        }
    }
    Ok(tool)
}

/// Validates Converse `toolConfig`; returns the tool a JSON-object answer calls: the one named
/// by `toolChoice.tool`, else the first declared.
fn validate_tool_config(config: &Value) -> Result<String, String> {
    let config = config.as_object().ok_or("toolConfig: must be an object")?;
    let tools = config
        .get("tools")
        .and_then(Value::as_array)
        .filter(|tools| !tools.is_empty())
        .ok_or("toolConfig.tools: required non-empty list of tools")?;
    let mut names: Vec<&str> = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("toolConfig.tools.{i}");
        let tool = tool
            .as_object()
            .ok_or_else(|| format!("{at}: must be an object"))?;
        if tool.len() == 1 && tool.contains_key("cachePoint") {
            continue;
        }
        let spec = tool
            .get("toolSpec")
            .filter(|_| tool.len() == 1)
            .and_then(Value::as_object)
            .ok_or_else(|| format!("{at}: must be exactly one of toolSpec or cachePoint"))?;
        let name = spec
            .get("name")
            .and_then(Value::as_str)
            .ok_or_else(|| format!("{at}.toolSpec.name: required string"))?;
        if !is_tool_name(name) {
            return Err(format!(
                "{at}.toolSpec.name: `{name}` must match the pattern {TOOL_NAME_PATTERN}"
            ));
        }
        if let Some(description) = spec
            .get("description")
            .filter(|description| !description.is_null())
        {
            if description.as_str().is_none_or(str::is_empty) {
                return Err(format!(
                    "{at}.toolSpec.description: must be a non-empty string"
                ));
            }
        }
        let schema = spec
            .get("inputSchema")
            .and_then(|schema| schema.get("json"))
            .ok_or_else(|| {
                format!("{at}.toolSpec.inputSchema: required, as {{\"json\": {{...}}}}")
            })?;
        check_input_schema(schema, &format!("{at}.toolSpec.inputSchema.json"))?;
        if names.contains(&name) {
            return Err(format!(
                "toolConfig.tools: tool names must be unique; `{name}` is declared more than once"
            ));
        }
        names.push(name);
    }
    let first = names
        .first()
        .ok_or("toolConfig.tools: must declare at least one toolSpec")?;
    let Some(choice) = config.get("toolChoice").filter(|choice| !choice.is_null()) else {
        return Ok((*first).to_owned());
    };
    let members = choice
        .as_object()
        .filter(|members| members.len() == 1)
        .ok_or("toolConfig.toolChoice: must have exactly one member: auto, any or tool")?;
    let (kind, value) = members
        .iter()
        .next()
        .ok_or("toolConfig.toolChoice: must have exactly one member: auto, any or tool")?;
    if !value.is_object() {
        return Err(format!("toolConfig.toolChoice.{kind}: must be an object"));
    }
    match kind.as_str() {
        "auto" | "any" => Ok((*first).to_owned()),
        "tool" => {
            let name = value["name"]
                .as_str()
                .ok_or("toolConfig.toolChoice.tool.name: required string")?;
            if names.contains(&name) {
                Ok(name.to_owned())
            } else {
                Err(format!(
                    "toolConfig.toolChoice.tool.name: `{name}` is not one of the tools declared \
                     in toolConfig.tools ({})",
                    names.join(", ")
                ))
            }
        }
        other => Err(format!(
            "toolConfig.toolChoice: unknown member `{other}`; expected auto, any or tool"
        )),
    }
}

/// A tool's input schema must be a JSON object describing an object.
fn check_input_schema(schema: &Value, at: &str) -> Result<(), String> {
    if !schema.is_object() {
        return Err(format!("{at}: must be a JSON object (a JSON Schema)"));
    }
    if schema["type"] != "object" {
        return Err(format!("{at}.type: must be \"object\""));
    }
    Ok(())
}

/// Checks a Converse `toolUse` block; returns its id.
fn converse_tool_use<'a>(tool_use: &'a Value, at: &str) -> Result<&'a str, String> {
    let id = tool_use["toolUseId"]
        .as_str()
        .ok_or_else(|| format!("{at}.toolUse.toolUseId: required string"))?;
    if !is_tool_name(id) {
        return Err(format!(
            "{at}.toolUse.toolUseId: `{id}` must match the pattern {TOOL_NAME_PATTERN}"
        ));
    }
    if !tool_use["name"].is_string() {
        return Err(format!("{at}.toolUse.name: required string"));
    }
    if !tool_use["input"].is_object() {
        return Err(format!("{at}.toolUse.input: must be a JSON object"));
    }
    Ok(id)
}

/// Checks a Converse `toolResult` block; returns the id it answers.
fn converse_tool_result<'a>(result: &'a Value, at: &str) -> Result<&'a str, String> {
    let id = result["toolUseId"]
        .as_str()
        .ok_or_else(|| format!("{at}.toolResult.toolUseId: required string"))?;
    let content = result["content"]
        .as_array()
        .ok_or_else(|| format!("{at}.toolResult.content: required list of content blocks"))?;
    for (k, item) in content.iter().enumerate() {
        let known = item.as_object().is_some_and(|item| {
            item.len() == 1
                && ["text", "json", "image", "document", "video", "searchResult"]
                    .iter()
                    .any(|key| item.contains_key(*key))
        });
        if !known {
            return Err(format!(
                "{at}.toolResult.content.{k}: must be exactly one of text, json, image, \
                 document, video or searchResult"
            ));
        }
        if item.get("text").is_some_and(|text| !text.is_string()) {
            return Err(format!(
                "{at}.toolResult.content.{k}.text: must be a string"
            ));
        }
    }
    match present(result, "status").map(Value::as_str) {
        None | Some(Some("success")) => {}
        Some(Some("error")) => {
            if content.is_empty() {
                return Err(format!(
                    "The content field at {at}.toolResult cannot be empty when status value is error."
                ));
            }
        }
        Some(_) => {
            return Err(format!(
                "{at}.toolResult.status: must be \"success\" or \"error\""
            ))
        }
    }
    Ok(id)
}

/// One message's tool blocks, for pairing calls with results.
struct Turn<'a> {
    role: &'a str,
    /// The ids of its tool calls.
    uses: Vec<&'a str>,
    /// (block index, id answered) of its tool results.
    results: Vec<(usize, &'a str)>,
}

/// Which API's wording the pairing errors use.
#[derive(Clone, Copy)]
enum Dialect {
    Converse,
    Anthropic,
}

/// Every tool result answers a tool call of the immediately preceding assistant message, at
/// most once; every tool call of an assistant message is answered by the next message.
fn check_tool_pairs(turns: &[Turn<'_>], dialect: Dialect) -> Result<(), String> {
    for (i, turn) in turns.iter().enumerate() {
        let previous = i
            .checked_sub(1)
            .and_then(|p| turns.get(p))
            .filter(|previous| previous.role == "assistant");
        let previous_uses: &[&str] = previous.map_or(&[], |previous| &previous.uses);
        let mut answered: Vec<&str> = Vec::new();
        for &(j, id) in &turn.results {
            if !previous_uses.contains(&id) {
                return Err(match dialect {
                    Dialect::Converse => format!(
                        "messages.{i}.content.{j}.toolResult.toolUseId: `{id}` does not match \
                         any toolUse block of the previous assistant message. Each toolResult \
                         block must answer a toolUse block of the immediately preceding turn."
                    ),
                    Dialect::Anthropic => format!(
                        "messages.{i}.content.{j}: unexpected `tool_use_id` found in \
                         `tool_result` blocks: {id}. Each `tool_result` block must have a \
                         corresponding `tool_use` block in the previous message."
                    ),
                });
            }
            if answered.contains(&id) {
                return Err(match dialect {
                    Dialect::Converse => format!(
                        "The number of toolResult blocks at messages.{i}.content exceeds the \
                         number of toolUse blocks of previous turn."
                    ),
                    Dialect::Anthropic => format!(
                        "messages.{i}.content.{j}: each `tool_use` must have a single result. \
                         Found multiple `tool_result` blocks with id: {id}"
                    ),
                });
            }
            answered.push(id);
        }
        let missing: Vec<&str> = previous_uses
            .iter()
            .copied()
            .filter(|id| !answered.contains(id))
            .collect();
        if !missing.is_empty() {
            let ids = missing.join(", ");
            return Err(match dialect {
                Dialect::Converse => format!(
                    "Expected toolResult blocks at messages.{i}.content for the following Ids: {ids}"
                ),
                Dialect::Anthropic => format!(
                    "messages.{}: `tool_use` ids were found without `tool_result` blocks \
                     immediately after: {ids}. Each `tool_use` block must have a corresponding \
                     `tool_result` block in the next message.",
                    i - 1
                ),
            });
        }
    }
    Ok(())
}

/// Validates an InvokeModel native body (Anthropic Messages or Titan text).
fn validate_invoke(model_id: &str, body: &Value, tools_supported: bool) -> Result<Plan, String> {
    let anthropic = body.get("anthropic_version").is_some() || model_id.contains("anthropic.");
    if anthropic {
        return validate_anthropic(body, tools_supported).map(|tool| Plan::Anthropic { tool });
    }
    if body.get("inputText").is_some() || model_id.contains("titan-text") {
        if !body["inputText"].is_string() {
            return Err("inputText: required string".into());
        }
        if let Some(key) = body
            .as_object()
            .into_iter()
            .flat_map(|body| body.keys())
            .find(|key| !matches!(key.as_str(), "inputText" | "textGenerationConfig"))
        {
            return Err(format!(
                "Malformed input request: #: extraneous key [{key}] is not permitted, please \
                 reformat your input and try again."
            ));
        }
        return Ok(Plan::Titan);
    }
    Err("the mock only understands Anthropic Messages and Titan text bodies".into())
}

/// Validates an Anthropic Messages body; returns the tool a JSON-object answer calls (`None`
/// without tools or with `tool_choice.type = none`).
fn validate_anthropic(body: &Value, tools_supported: bool) -> Result<Option<String>, String> {
    if body["anthropic_version"] != "bedrock-2023-05-31" {
        return Err("anthropic_version: must be bedrock-2023-05-31".into());
    }
    if body["max_tokens"].as_u64().is_none_or(|max| max == 0) {
        return Err("max_tokens: required positive integer".into());
    }
    let tools = present(body, "tools");
    if tools.is_some() && !tools_supported {
        return Err(NO_TOOL_SUPPORT.into());
    }
    let tool = match tools {
        Some(tools) => anthropic_tools(tools, present(body, "tool_choice"))?,
        None if present(body, "tool_choice").is_some() => {
            return Err("tool_choice: may only be specified while providing tools".into())
        }
        None => None,
    };

    let messages = body["messages"]
        .as_array()
        .filter(|messages| !messages.is_empty() && messages[0]["role"] == "user")
        .ok_or("messages: first message must have role user")?;
    let mut turns: Vec<Turn<'_>> = Vec::with_capacity(messages.len());
    for (i, message) in messages.iter().enumerate() {
        let role = match message["role"].as_str() {
            Some(role @ ("user" | "assistant")) => role,
            _ => return Err(format!("messages.{i}.role: must be user or assistant")),
        };
        let mut turn = Turn {
            role,
            uses: Vec::new(),
            results: Vec::new(),
        };
        let final_assistant = role == "assistant" && i + 1 == messages.len();
        let empty = match &message["content"] {
            Value::String(text) => text.is_empty(),
            Value::Array(blocks) => {
                for (j, block) in blocks.iter().enumerate() {
                    anthropic_block(block, &format!("messages.{i}.content.{j}"), j, &mut turn)?;
                }
                blocks.is_empty()
            }
            _ => {
                return Err(format!(
                    "messages.{i}.content: must be a string or a list of content blocks"
                ))
            }
        };
        if empty && !final_assistant {
            return Err(format!(
                "messages.{i}: all messages must have non-empty content except for the \
                 optional final assistant message"
            ));
        }
        turns.push(turn);
    }
    let has_tool_blocks = turns
        .iter()
        .any(|turn| !turn.uses.is_empty() || !turn.results.is_empty());
    if has_tool_blocks && tools.is_none() {
        return Err(ANTHROPIC_TOOLS_REQUIRED.into());
    }
    check_tool_pairs(&turns, Dialect::Anthropic)?;
    Ok(tool)
}

/// Checks one Anthropic content block, recording tool calls and results in `turn`.
fn anthropic_block<'a>(
    block: &'a Value,
    at: &str,
    index: usize,
    turn: &mut Turn<'a>,
) -> Result<(), String> {
    let kind = block["type"]
        .as_str()
        .ok_or_else(|| format!("{at}.type: required string"))?;
    match kind {
        "text" if !block["text"].is_string() => {
            return Err(format!("{at}.text: required string"));
        }
        "tool_use" => {
            if turn.role != "assistant" {
                return Err(format!(
                    "{at}: tool_use blocks may only appear in assistant messages"
                ));
            }
            let id = block["id"]
                .as_str()
                .filter(|id| is_tool_name(id))
                .ok_or_else(|| format!("{at}.id: must match the pattern {TOOL_NAME_PATTERN}"))?;
            if !block["name"].is_string() {
                return Err(format!("{at}.name: required string"));
            }
            if !block["input"].is_object() {
                return Err(format!("{at}.input: must be a JSON object"));
            }
            turn.uses.push(id);
        }
        "tool_result" => {
            if turn.role != "user" {
                return Err(format!(
                    "{at}: tool_result blocks may only appear in user messages"
                ));
            }
            let id = block["tool_use_id"]
                .as_str()
                .ok_or_else(|| format!("{at}.tool_use_id: required string"))?;
            match &block["content"] {
                Value::Null | Value::String(_) => {}
                Value::Array(items) => {
                    for (k, item) in items.iter().enumerate() {
                        if !item["type"].is_string() {
                            return Err(format!("{at}.content.{k}.type: required string"));
                        }
                        if item["type"] == "text" && !item["text"].is_string() {
                            return Err(format!("{at}.content.{k}.text: required string"));
                        }
                    }
                }
                _ => {
                    return Err(format!(
                        "{at}.content: must be a string or a list of content blocks"
                    ))
                }
            }
            if present(block, "is_error").is_some_and(|flag| !flag.is_boolean()) {
                return Err(format!("{at}.is_error: must be a boolean"));
            }
            turn.results.push((index, id));
        }
        _ => {}
    }
    Ok(())
}

/// Validates Anthropic `tools` and `tool_choice`; returns the tool a JSON-object answer calls.
fn anthropic_tools(tools: &Value, choice: Option<&Value>) -> Result<Option<String>, String> {
    let tools = tools
        .as_array()
        .filter(|tools| !tools.is_empty())
        .ok_or("tools: required non-empty list of tools")?;
    let mut names: Vec<&str> = Vec::new();
    for (i, tool) in tools.iter().enumerate() {
        let at = format!("tools.{i}");
        if !tool.is_object() {
            return Err(format!("{at}: must be an object"));
        }
        if present(tool, "type").is_some_and(|kind| kind != "custom") {
            return Err(format!(
                "{at}.type: the mock only supports custom tools (no `type`, or `custom`)"
            ));
        }
        let name = tool["name"]
            .as_str()
            .ok_or_else(|| format!("{at}.name: required string"))?;
        if !is_tool_name(name) {
            return Err(format!(
                "{at}.name: String should match pattern '{TOOL_NAME_PATTERN}'"
            ));
        }
        if present(tool, "description").is_some_and(|description| !description.is_string()) {
            return Err(format!("{at}.description: must be a string"));
        }
        let schema =
            present(tool, "input_schema").ok_or_else(|| format!("{at}.input_schema: required"))?;
        check_input_schema(schema, &format!("{at}.input_schema"))?;
        if names.contains(&name) {
            return Err(format!(
                "tools: Tool names must be unique; `{name}` is declared more than once"
            ));
        }
        names.push(name);
    }
    let first = names.first().map(|name| (*name).to_owned());
    let Some(choice) = choice else {
        return Ok(first);
    };
    match choice["type"].as_str() {
        Some("auto" | "any") => Ok(first),
        Some("none") => Ok(None),
        Some("tool") => {
            let name = choice["name"]
                .as_str()
                .ok_or("tool_choice.name: required string when tool_choice.type is tool")?;
            if names.contains(&name) {
                Ok(Some(name.to_owned()))
            } else {
                Err(format!(
                    "tool_choice.name: tool `{name}` is not one of the provided tools ({})",
                    names.join(", ")
                ))
            }
        }
        _ => Err("tool_choice.type: must be one of auto, any, tool or none".into()),
    }
}

/// The scripted answer as a tool input, when a tool is offered and the answer is a JSON object.
fn tool_call(tool: Option<&str>, answer: &str) -> Option<(String, Value)> {
    let name = tool?;
    match serde_json::from_str::<Value>(answer) {
        Ok(input @ Value::Object(_)) => Some((name.to_owned(), input)),
        _ => None,
    }
}

/// Ids for tool calls, unique in the process.
static TOOL_CALLS: AtomicU64 = AtomicU64::new(0);

fn tool_call_id(prefix: &str) -> String {
    format!(
        "{prefix}mock{:06}",
        TOOL_CALLS.fetch_add(1, Ordering::Relaxed) + 1
    )
}

/// The 200 body for a validated request.
fn answer_body(
    request_id: &str,
    model_id: &str,
    plan: &Plan,
    answer: &str,
    input_words: u32,
    usage: Option<(u32, u32)>,
) -> Value {
    let counts = |output_words: u32| usage.unwrap_or((input_words, output_words));
    match plan {
        Plan::Converse { tool } => {
            let (content, stop_reason, output_words) = match tool_call(tool.as_deref(), answer) {
                Some((name, input)) => {
                    let words = word_count(&input.to_string());
                    let block = json!({"toolUse": {
                        "toolUseId": tool_call_id("tooluse_"),
                        "name": name,
                        "input": input,
                    }});
                    (block, "tool_use", words)
                }
                None => (json!({ "text": answer }), "end_turn", word_count(answer)),
            };
            let (input, output) = counts(output_words);
            json!({
                "output": {"message": {"role": "assistant", "content": [content]}},
                "stopReason": stop_reason,
                "usage": {"inputTokens": input, "outputTokens": output, "totalTokens": input + output},
                "metrics": {"latencyMs": 1},
            })
        }
        Plan::Anthropic { tool } => {
            let (content, stop_reason, output_words) = match tool_call(tool.as_deref(), answer) {
                Some((name, input)) => {
                    let words = word_count(&input.to_string());
                    let block = json!({
                        "type": "tool_use",
                        "id": tool_call_id("toolu_"),
                        "name": name,
                        "input": input,
                    });
                    (block, "tool_use", words)
                }
                None => (
                    json!({"type": "text", "text": answer}),
                    "end_turn",
                    word_count(answer),
                ),
            };
            let (input, output) = counts(output_words);
            json!({
                "id": format!("msg_{request_id}"),
                "type": "message",
                "role": "assistant",
                "model": model_id,
                "content": [content],
                "stop_reason": stop_reason,
                "stop_sequence": null,
                "usage": {"input_tokens": input, "output_tokens": output},
            })
        }
        Plan::Titan => {
            let (input, output) = counts(word_count(answer));
            json!({
                "inputTextTokenCount": input,
                "results": [{"tokenCount": output, "outputText": answer, "completionReason": "FINISH"}],
            })
        }
    }
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
                Err(Fault::Throttling),
                Err(Fault::Throttling),
                Err(Fault::ModelTimeout)
            ])
        );
        assert_eq!(script.steady, Ok("hi".to_owned()));
    }

    /// Serves `n` requests from `script` (no validation), as the server would.
    fn serve(script: &mut Script, n: usize) -> Vec<Reply> {
        (0..n)
            .map(|_| {
                let reply = script.peek();
                script.advance();
                reply
            })
            .collect()
    }

    fn ok(text: &str) -> Reply {
        Ok(text.to_owned())
    }

    #[test]
    fn sequences_serve_replies_in_script_order_and_repeat_the_last() {
        let mut script = Script::answer("a").then("b");
        assert_eq!(serve(&mut script, 3), vec![ok("a"), ok("b"), ok("b")]);

        // fail_first keeps its meaning: faults before the first reply, whatever the call order.
        let mut script = Script::answer("x").fail_first(1, Fault::Throttling);
        assert_eq!(
            serve(&mut script, 3),
            vec![Err(Fault::Throttling), ok("x"), ok("x")]
        );
        let mut script = Script::answer("a")
            .then_fail(Fault::ServiceUnavailable)
            .then("b")
            .throttle(1)
            .fail_first(1, Fault::ModelTimeout);
        assert_eq!(
            serve(&mut script, 6),
            vec![
                Err(Fault::Throttling),
                Err(Fault::ModelTimeout),
                ok("a"),
                Err(Fault::ServiceUnavailable),
                ok("b"),
                ok("b"),
            ]
        );
        let mut script = Script::always(Fault::InternalServer).then("recovered");
        assert_eq!(
            serve(&mut script, 3),
            vec![Err(Fault::InternalServer), ok("recovered"), ok("recovered")]
        );
        let mut script = Script::answer("a").then_fail(Fault::AccessDenied);
        assert_eq!(
            serve(&mut script, 3),
            vec![ok("a"), Err(Fault::AccessDenied), Err(Fault::AccessDenied)]
        );
    }

    const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";
    const CONVERSE_PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse";
    const INVOKE_PATH: &str = "/model/anthropic.claude-3-haiku-20240307-v1%3A0/invoke";

    /// Posts `body` over plain HTTP/1.1; returns (status, x-amzn-ErrorType, JSON body).
    async fn post(mock: &MockBedrock, path: &str, body: &Value) -> (u16, String, Value) {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let body = body.to_string();
        let mut stream = tokio::net::TcpStream::connect(mock.addr()).await.unwrap();
        let request = format!(
            "POST {path} HTTP/1.1\r\nhost: localhost\r\ncontent-type: application/json\r\n\
             content-length: {}\r\nconnection: close\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = String::new();
        stream.read_to_string(&mut response).await.unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        let status = head[9..12].parse().unwrap();
        let error_type = head
            .lines()
            .find_map(|line| {
                line.to_ascii_lowercase()
                    .strip_prefix("x-amzn-errortype: ")
                    .map(str::to_owned)
            })
            .unwrap_or_default();
        (status, error_type, serde_json::from_str(body).unwrap())
    }

    fn label_schema() -> Value {
        json!({
            "type": "object",
            "properties": {"label": {"type": "string"}},
            "required": ["label"],
        })
    }

    fn tool_config(choice: Value) -> Value {
        json!({
            "tools": [
                {"toolSpec": {"name": "other", "inputSchema": {"json": {"type": "object"}}}},
                {"toolSpec": {
                    "name": "classify",
                    "description": "Return the answer.",
                    "inputSchema": {"json": label_schema()},
                }},
            ],
            "toolChoice": choice,
        })
    }

    fn user_text(text: &str) -> Value {
        json!({"role": "user", "content": [{"text": text}]})
    }

    #[tokio::test]
    async fn converse_forced_tool_then_repair_turn() {
        let mock = MockBedrock::start().await.unwrap();
        mock.script(
            MODEL,
            Script::answer(r#"{"label": 7}"#).then(r#"{"label": "billing"}"#),
        );
        let config = tool_config(json!({"tool": {"name": "classify"}}));
        let first = json!({
            "system": [{"text": "Classify the ticket."}],
            "messages": [user_text("my invoice is wrong")],
            "toolConfig": config,
        });
        let (status, _, body) = post(&mock, CONVERSE_PATH, &first).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stopReason"], "tool_use");
        let message = &body["output"]["message"];
        assert_eq!(message["role"], "assistant");
        assert_eq!(message["content"].as_array().unwrap().len(), 1);
        let tool_use = &message["content"][0]["toolUse"];
        assert_eq!(tool_use["name"], "classify");
        assert_eq!(tool_use["input"], json!({"label": 7}));
        let id = tool_use["toolUseId"].as_str().unwrap().to_owned();
        assert!(id.starts_with("tooluse_") && is_tool_name(&id), "{id}");
        // Input: "Classify the ticket." + "my invoice is wrong"; output: `{"label":7}`.
        assert_eq!(body["usage"]["inputTokens"], 7);
        assert_eq!(body["usage"]["outputTokens"], 1);
        assert_eq!(body["usage"]["totalTokens"], 8);

        // The repair turn: the call replayed, the problems sent back as an error result.
        let repair = json!({
            "messages": [
                user_text("my invoice is wrong"),
                message,
                {"role": "user", "content": [{"toolResult": {
                    "toolUseId": id,
                    "content": [{"text": "label: expected a string"}],
                    "status": "error",
                }}]},
            ],
            "toolConfig": config,
        });
        let (status, _, body) = post(&mock, CONVERSE_PATH, &repair).await;
        assert_eq!(status, 200, "{body}");
        let tool_use = &body["output"]["message"]["content"][0]["toolUse"];
        assert_eq!(tool_use["input"], json!({"label": "billing"}));
        assert_ne!(tool_use["toolUseId"], id.as_str());
        // Input counts the call's serialized input and the result's text.
        assert_eq!(body["usage"]["inputTokens"], 4 + 1 + 4);

        let outcomes: Vec<String> = mock.requests().into_iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, vec!["ok", "ok"]);
    }

    #[tokio::test]
    async fn converse_any_and_auto_call_the_first_tool_and_non_objects_stay_text() {
        let mock = MockBedrock::start().await.unwrap();
        mock.script(
            MODEL,
            Script::answer(r#"{"label": "billing"}"#)
                .then(r#"{"label": "billing"}"#)
                .then("[1, 2]")
                .then("Sure! The label is billing."),
        );
        for choice in [json!({"any": {}}), json!({"auto": {}})] {
            let request = json!({"messages": [user_text("x")], "toolConfig": tool_config(choice)});
            let (status, _, body) = post(&mock, CONVERSE_PATH, &request).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(
                body["output"]["message"]["content"][0]["toolUse"]["name"],
                "other"
            );
        }
        for expected in ["[1, 2]", "Sure! The label is billing."] {
            let request = json!({
                "messages": [user_text("x")],
                "toolConfig": tool_config(json!({"tool": {"name": "classify"}})),
            });
            let (status, _, body) = post(&mock, CONVERSE_PATH, &request).await;
            assert_eq!(status, 200, "{body}");
            assert_eq!(body["stopReason"], "end_turn");
            assert_eq!(
                body["output"]["message"]["content"],
                json!([{ "text": expected }])
            );
        }
        // Without toolConfig a JSON answer is plain text.
        let (_, _, body) = post(&mock, CONVERSE_PATH, &json!({"messages": [user_text("x")]})).await;
        assert_eq!(body["stopReason"], "end_turn");
    }

    #[tokio::test]
    async fn refusals_do_not_consume_the_answer() {
        let mock = MockBedrock::start().await.unwrap();
        mock.script(MODEL, Script::answer(r#"{"label": "a"}"#).then("second"));
        let bad = json!({
            "messages": [user_text("x")],
            "toolConfig": tool_config(json!({"tool": {"name": "missing"}})),
        });
        let (status, error_type, body) = post(&mock, CONVERSE_PATH, &bad).await;
        assert_eq!((status, error_type.as_str()), (400, "validationexception"));
        assert!(
            body["message"]
                .as_str()
                .unwrap()
                .contains("`missing` is not one of the tools"),
            "{body}"
        );
        let good =
            json!({"messages": [user_text("x")], "toolConfig": tool_config(json!({"any": {}}))});
        let (status, _, body) = post(&mock, CONVERSE_PATH, &good).await;
        assert_eq!(status, 200);
        assert_eq!(
            body["output"]["message"]["content"][0]["toolUse"]["input"]["label"],
            "a"
        );
        let outcomes: Vec<String> = mock.requests().into_iter().map(|r| r.outcome).collect();
        assert_eq!(outcomes, vec!["ValidationException", "ok"]);
    }

    #[tokio::test]
    async fn models_without_tool_support_refuse_tools_and_answer_text() {
        let mock = MockBedrock::start().await.unwrap();
        let answer = r#"{"label": "billing"}"#;
        mock.script(MODEL, Script::answer(answer).no_tools());
        let with_tools =
            json!({"messages": [user_text("x")], "toolConfig": tool_config(json!({"any": {}}))});
        let (status, error_type, body) = post(&mock, CONVERSE_PATH, &with_tools).await;
        assert_eq!((status, error_type.as_str()), (400, "validationexception"));
        assert_eq!(body["message"], "This model doesn't support tool use.");

        let plain = json!({"system": [{"text": "Answer JSON matching this schema: ..."}], "messages": [user_text("x")]});
        let (status, _, body) = post(&mock, CONVERSE_PATH, &plain).await;
        assert_eq!(status, 200);
        assert_eq!(body["output"]["message"]["content"][0]["text"], answer);
        assert_eq!(body["stopReason"], "end_turn");

        let native = json!({
            "anthropic_version": "bedrock-2023-05-31",
            "max_tokens": 10,
            "messages": [{"role": "user", "content": "x"}],
            "tools": [{"name": "classify", "input_schema": label_schema()}],
        });
        let (status, _, body) = post(&mock, INVOKE_PATH, &native).await;
        assert_eq!(status, 400);
        assert_eq!(body["message"], "This model doesn't support tool use.");
    }

    /// The refusal message `validate_converse` gives `body`.
    fn converse_refusal(body: Value) -> String {
        match validate_converse(&body, true) {
            Err(message) => message,
            Ok(tool) => panic!("accepted {body} (tool {tool:?})"),
        }
    }

    #[test]
    fn converse_tool_config_is_validated() {
        let with_tools = |tools: Value, choice: Value| {
            converse_refusal(json!({
                "messages": [user_text("x")],
                "toolConfig": {"tools": tools, "toolChoice": choice},
            }))
        };
        let spec = |name: &str, schema: Value| json!({"toolSpec": {"name": name, "inputSchema": {"json": schema}}});
        let object = json!({"type": "object"});
        assert_eq!(
            with_tools(json!([spec("bad name", object.clone())]), Value::Null),
            "toolConfig.tools.0.toolSpec.name: `bad name` must match the pattern ^[a-zA-Z0-9_-]{1,64}$"
        );
        assert!(
            with_tools(json!([spec(&"x".repeat(65), object.clone())]), Value::Null)
                .contains("must match")
        );
        assert_eq!(
            with_tools(json!([spec("a", object.clone())]), json!({"tool": {"name": "b"}})),
            "toolConfig.toolChoice.tool.name: `b` is not one of the tools declared in toolConfig.tools (a)"
        );
        assert_eq!(
            with_tools(json!([]), Value::Null),
            "toolConfig.tools: required non-empty list of tools"
        );
        assert_eq!(
            with_tools(
                json!([spec("a", object.clone()), spec("a", object.clone())]),
                Value::Null
            ),
            "toolConfig.tools: tool names must be unique; `a` is declared more than once"
        );
        assert_eq!(
            with_tools(json!([spec("a", json!({"type": "string"}))]), Value::Null),
            "toolConfig.tools.0.toolSpec.inputSchema.json.type: must be \"object\""
        );
        assert_eq!(
            with_tools(
                json!([spec("a", json!("{\"type\": \"object\"}"))]),
                Value::Null
            ),
            "toolConfig.tools.0.toolSpec.inputSchema.json: must be a JSON object (a JSON Schema)"
        );
        assert_eq!(
            with_tools(json!([{"toolSpec": {"name": "a"}}]), Value::Null),
            "toolConfig.tools.0.toolSpec.inputSchema: required, as {\"json\": {...}}"
        );
        assert_eq!(
            with_tools(
                json!([spec("a", object.clone())]),
                json!({"auto": {}, "any": {}})
            ),
            "toolConfig.toolChoice: must have exactly one member: auto, any or tool"
        );
        assert_eq!(
            with_tools(json!([spec("a", object.clone())]), json!({"none": {}})),
            "toolConfig.toolChoice: unknown member `none`; expected auto, any or tool"
        );
        // A cache point among the tools is fine.
        let accepted = validate_converse(
            &json!({
                "messages": [user_text("x")],
                "toolConfig": {"tools": [spec("a", object.clone()), {"cachePoint": {"type": "default"}}, spec("b", object)],
                               "toolChoice": {"tool": {"name": "b"}}},
            }),
            true,
        );
        assert_eq!(accepted, Ok(Some("b".to_owned())));
    }

    #[test]
    fn converse_conversations_are_validated() {
        let config = tool_config(json!({"tool": {"name": "classify"}}));
        let call = |id: &str| json!({"role": "assistant", "content": [{"toolUse": {"toolUseId": id, "name": "classify", "input": {"label": 1}}}]});
        let result = |id: &str| json!({"role": "user", "content": [{"toolResult": {"toolUseId": id, "content": [{"text": "bad"}], "status": "error"}}]});

        assert_eq!(
            converse_refusal(json!({"messages": [user_text("x"), call("tooluse_a"), result("tooluse_b")], "toolConfig": config})),
            "messages.2.content.0.toolResult.toolUseId: `tooluse_b` does not match any toolUse block of the previous \
             assistant message. Each toolResult block must answer a toolUse block of the immediately preceding turn."
        );
        assert_eq!(
            converse_refusal(
                json!({"messages": [user_text("x"), call("tooluse_a"), user_text("again")], "toolConfig": config})
            ),
            "Expected toolResult blocks at messages.2.content for the following Ids: tooluse_a"
        );
        assert_eq!(
            converse_refusal(
                json!({"messages": [user_text("x"), call("tooluse_a"), result("tooluse_a")]})
            ),
            TOOL_CONFIG_REQUIRED
        );
        assert_eq!(
            converse_refusal(json!({"messages": [user_text("x"), user_text("y")]})),
            ALTERNATE_ROLES
        );
        assert_eq!(
            converse_refusal(
                json!({"messages": [user_text("x"), {"role": "assistant", "content": [{"text": "y"}]}]})
            ),
            "messages.1: the last message must have role user"
        );
        assert_eq!(
            converse_refusal(
                json!({"messages": [{"role": "assistant", "content": [{"text": "y"}]}, user_text("x")]})
            ),
            "messages: the first message must have role user"
        );
        assert_eq!(
            converse_refusal(json!({"messages": [{"role": "user", "content": []}]})),
            "The content field in the Message object at messages.0 is empty. Add a ContentBlock object to the content field and try again."
        );
        let empty_error = json!({"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_a", "content": [], "status": "error"}}]});
        assert_eq!(
            converse_refusal(json!({"messages": [user_text("x"), call("tooluse_a"), empty_error], "toolConfig": config})),
            "The content field at messages.2.content.0.toolResult cannot be empty when status value is error."
        );
        let json_result = json!({"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_a", "content": [{"json": {"ok": false}}], "status": "maybe"}}]});
        assert_eq!(
            converse_refusal(
                json!({"messages": [user_text("x"), call("tooluse_a"), json_result], "toolConfig": config})
            ),
            "messages.2.content.0.toolResult.status: must be \"success\" or \"error\""
        );
        // A result in a user message, with text beside it, answering the previous call: fine.
        let mut answered = result("tooluse_a");
        answered["content"]
            .as_array_mut()
            .unwrap()
            .push(json!({"text": "Try again."}));
        assert_eq!(
            validate_converse(
                &json!({"messages": [user_text("x"), call("tooluse_a"), answered], "toolConfig": config}),
                true
            ),
            Ok(Some("classify".to_owned()))
        );
    }

    #[test]
    fn request_text_includes_tool_calls_and_results() {
        let body = json!({
            "system": [{"text": "sys"}],
            "messages": [
                user_text("question"),
                {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t", "name": "n", "input": {"label": 7}}}]},
                {"role": "user", "content": [{"toolResult": {"toolUseId": "t", "content": [{"text": "label: wrong type"}, {"json": {"k": 1}}]}}]},
            ],
        });
        assert_eq!(
            request_text(Operation::Converse, &body),
            "sys\nquestion\n{\"label\":7}\nlabel: wrong type\n{\"k\":1}"
        );
        let native = json!({
            "system": "sys",
            "messages": [
                {"role": "user", "content": "question"},
                {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "n", "input": {"label": 7}}]},
                {"role": "user", "content": [
                    {"type": "tool_result", "tool_use_id": "t", "content": "wrong", "is_error": true},
                    {"type": "tool_result", "tool_use_id": "u", "content": [{"type": "text", "text": "also"}]},
                    {"type": "text", "text": "again"},
                ]},
            ],
        });
        assert_eq!(
            request_text(Operation::InvokeModel, &native),
            "sys\nquestion\n{\"label\":7}\nwrong\nalso\nagain"
        );
    }

    fn anthropic_body(messages: Value, tools: Value, choice: Value) -> Value {
        let mut body = json!({"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100, "messages": messages});
        if !tools.is_null() {
            body["tools"] = tools;
        }
        if !choice.is_null() {
            body["tool_choice"] = choice;
        }
        body
    }

    fn anthropic_tools_list() -> Value {
        json!([
            {"name": "other", "input_schema": {"type": "object"}},
            {"name": "classify", "description": "Return the answer.", "input_schema": label_schema()},
        ])
    }

    #[tokio::test]
    async fn anthropic_native_tool_use_and_repair() {
        let mock = MockBedrock::start().await.unwrap();
        mock.script(
            MODEL,
            Script::answer(r#"{"label": 7}"#)
                .then(r#"{"label": "billing"}"#)
                .then("plain"),
        );
        let question = json!({"role": "user", "content": [{"type": "text", "text": "my invoice"}]});
        let first = anthropic_body(
            json!([question]),
            anthropic_tools_list(),
            json!({"type": "tool", "name": "classify"}),
        );
        let (status, _, body) = post(&mock, INVOKE_PATH, &first).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["stop_reason"], "tool_use");
        assert_eq!(body["role"], "assistant");
        let call = &body["content"][0];
        assert_eq!(call["type"], "tool_use");
        assert_eq!(call["name"], "classify");
        assert_eq!(call["input"], json!({"label": 7}));
        let id = call["id"].as_str().unwrap().to_owned();
        assert!(id.starts_with("toolu_"), "{id}");
        assert_eq!(body["usage"]["output_tokens"], 1);

        let assistant = json!({"role": "assistant", "content": body["content"]});
        let wrong = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_other", "content": "x", "is_error": true}]});
        let (status, _, refusal) = post(
            &mock,
            INVOKE_PATH,
            &anthropic_body(
                json!([question, assistant, wrong]),
                anthropic_tools_list(),
                Value::Null,
            ),
        )
        .await;
        assert_eq!(status, 400);
        assert_eq!(
            refusal["message"],
            "messages.2.content.0: unexpected `tool_use_id` found in `tool_result` blocks: toolu_other. \
             Each `tool_result` block must have a corresponding `tool_use` block in the previous message."
        );

        let repair = json!({"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": id, "content": [{"type": "text", "text": "label: expected a string"}], "is_error": true},
        ]});
        let (status, _, body) = post(
            &mock,
            INVOKE_PATH,
            &anthropic_body(
                json!([question, assistant, repair]),
                anthropic_tools_list(),
                json!({"type": "any"}),
            ),
        )
        .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["content"][0]["name"], "other");
        assert_eq!(body["content"][0]["input"], json!({"label": "billing"}));

        // Not an object: text.
        let (_, _, body) = post(&mock, INVOKE_PATH, &first).await;
        assert_eq!(body["content"], json!([{"type": "text", "text": "plain"}]));
        assert_eq!(body["stop_reason"], "end_turn");
    }

    #[test]
    fn anthropic_bodies_are_validated() {
        let refusal = |body: Value| match validate_anthropic(&body, true) {
            Err(message) => message,
            Ok(tool) => panic!("accepted {body} (tool {tool:?})"),
        };
        let question = json!({"role": "user", "content": "x"});
        assert_eq!(
            refusal(anthropic_body(
                json!([question]),
                json!([{"name": "bad name", "input_schema": {"type": "object"}}]),
                Value::Null
            )),
            "tools.0.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'"
        );
        assert_eq!(
            refusal(anthropic_body(
                json!([question]),
                anthropic_tools_list(),
                json!({"type": "tool", "name": "nope"})
            )),
            "tool_choice.name: tool `nope` is not one of the provided tools (other, classify)"
        );
        assert_eq!(
            refusal(anthropic_body(
                json!([question]),
                Value::Null,
                json!({"type": "any"})
            )),
            "tool_choice: may only be specified while providing tools"
        );
        let call = json!({"role": "assistant", "content": [{"type": "tool_use", "id": "toolu_a", "name": "classify", "input": {}}]});
        let result = json!({"role": "user", "content": [{"type": "tool_result", "tool_use_id": "toolu_a", "content": "ok"}]});
        assert_eq!(
            refusal(anthropic_body(
                json!([question, call, result]),
                Value::Null,
                Value::Null
            )),
            ANTHROPIC_TOOLS_REQUIRED
        );
        assert_eq!(
            refusal(anthropic_body(json!([question, call, question]), anthropic_tools_list(), Value::Null)),
            "messages.1: `tool_use` ids were found without `tool_result` blocks immediately after: toolu_a. \
             Each `tool_use` block must have a corresponding `tool_result` block in the next message."
        );
        assert_eq!(
            validate_anthropic(
                &anthropic_body(
                    json!([question, call, result]),
                    anthropic_tools_list(),
                    json!({"type": "none"})
                ),
                true
            ),
            Ok(None)
        );
    }

    #[test]
    fn titan_bodies_have_no_tools() {
        let body = json!({"inputText": "x", "textGenerationConfig": {}, "tools": []});
        assert_eq!(
            validate_invoke("amazon.titan-text-express-v1", &body, true),
            Err("Malformed input request: #: extraneous key [tools] is not permitted, please reformat your input and try again.".to_owned())
        );
        let body = json!({"inputText": "x", "textGenerationConfig": {"maxTokenCount": 5}});
        assert_eq!(
            validate_invoke("amazon.titan-text-express-v1", &body, true),
            Ok(Plan::Titan)
        );
    }
}
