//! An AWS Lambda function that classifies a customer-support message with the compiled-in
//! prompt [`prompts::customer_support::intent_classifier()`].
//!
//! The binary (`src/main.rs`) is a thin `lambda_runtime` shim; everything it does lives here so
//! it can be tested without Lambda:
//!
//! * [`handle`] takes the [`Runtime`] (built once at cold start by [`runtime_from_env`]), the
//!   Lambda request id and the raw event, and answers either a direct invocation or an HTTP
//!   event (Function URL / API Gateway HTTP API payload v2, REST payload v1 too);
//!   [`handle_with_deadline`] also keeps the model call inside Lambda's deadline;
//! * [`ClassifyRequest`] parses and validates `{"message": "...", "context": "...", "triage":
//!   true}`;
//! * [`classify`] calls the prompt and builds the [`ClassifyResponse`]; with `"triage": true` it
//!   also calls the structured prompt [`prompts::customer_support::ticket_triage()`] and the
//!   response carries its record as a JSON object ([`Triage`]);
//! * [`RequestError`] and [`HandlerError`] are the typed errors, with their HTTP status and
//!   Lambda `errorType`.
//!
//! Every prompt call emits the runtime's `prompt_invoked` then `prompt_completed` /
//! `prompt_failed` events with `runtime: "lambda"` and the Lambda request id; a request rejected
//! before the prompt is called emits one `request_rejected` event (same target, same identity
//! fields).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let runtime = promptops_lambda::runtime_from_env().await?;
//! let event = serde_json::json!({"message": "I was charged twice this month"});
//! let response = promptops_lambda::handle(&runtime, "req-1", event).await?;
//! println!("{}", serde_json::to_string(&response)?);
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use promptops_runtime::events::TARGET;
use promptops_runtime::{CallOptions, ConfigError, InvokeError, Label as _, NoVars, Runtime};
use prompts::customer_support::ticket_triage;
use serde::Serialize;
use serde_json::{json, Value};

/// The runtime name reported in every event (`runtime` field).
pub const RUNTIME_NAME: &str = "lambda";

/// Largest accepted `message`, in bytes of UTF-8 (16 KiB). Larger ones are refused with
/// `PayloadTooLarge` / HTTP 413.
pub const MAX_MESSAGE_BYTES: usize = 16 * 1024;

/// Largest accepted `context`, in bytes of UTF-8 (16 KiB). Larger ones are refused with
/// `PayloadTooLarge` / HTTP 413.
pub const MAX_CONTEXT_BYTES: usize = 16 * 1024;

/// Largest accepted HTTP body, in bytes after base64 decoding (64 KiB). Larger bodies are
/// refused with HTTP 413 before they are parsed.
pub const MAX_HTTP_BODY_BYTES: usize = 64 * 1024;

/// Time kept before Lambda's deadline to post the answer: a model call that would run past
/// `deadline - DEADLINE_MARGIN` is cut short and reported as a `ModelError` (`timed_out`).
pub const DEADLINE_MARGIN: Duration = Duration::from_millis(250);

/// Name of the event emitted when a request is refused before the prompt is called.
pub const EVENT_REJECTED: &str = "request_rejected";

/// Builds the runtime the function uses for its whole life: model and retry policy from the
/// environment ([`Runtime::from_env`]: `PROMPTOPS_MODEL=local` for the offline keyword model,
/// Bedrock when AWS settings are present, as they always are inside Lambda), named
/// [`RUNTIME_NAME`]. Call it once at cold start.
///
/// With a prompt registry configured (`PROMPT_REGISTRY_FUNCTION` or `PROMPT_REGISTRY_URL`), the classifier's prompt is
/// fetched here, during init, within the resolver's cold budget, so the first invocation finds
/// a warm cache.
pub async fn runtime_from_env() -> Result<Runtime, ConfigError> {
    let runtime = Runtime::from_env().await?.with_name(RUNTIME_NAME);
    if let Some(resolver) = runtime.resolver() {
        resolver
            // Only the classifier, which every invocation runs; the triage prompt resolves on
            // its first use (a request with `"triage": true`).
            .prefetch(&[prompts::customer_support::intent_classifier().def()])
            .await;
    }
    Ok(runtime)
}

/// Revalidates the registry's prompts that are past their TTL, waiting at most `budget`: call
/// it at the start of an invocation, because a frozen Lambda cannot refresh in the background
/// between invocations. Without a registry it does nothing.
pub async fn revalidate_prompts(runtime: &Runtime, budget: Duration) {
    if let Some(resolver) = runtime.resolver() {
        resolver.revalidate(budget).await;
    }
}

/// A validated classification request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClassifyRequest {
    /// The customer's message: non-blank, at most [`MAX_MESSAGE_BYTES`].
    pub message: String,
    /// Earlier conversation, if any: at most [`MAX_CONTEXT_BYTES`]; a blank context counts as
    /// none.
    pub context: Option<String>,
    /// Whether to triage the ticket too (`"triage": true`): a second, structured prompt call.
    pub triage: bool,
}

impl ClassifyRequest {
    /// Validates a request object. Unknown fields are ignored; `context: null` means no context.
    pub fn from_value(value: &Value) -> Result<Self, RequestError> {
        let Value::Object(fields) = value else {
            return Err(RequestError::NotAnObject {
                got: json_type(value),
            });
        };
        let message = match fields.get("message") {
            None => return Err(RequestError::MissingMessage),
            Some(Value::String(message)) => message,
            Some(other) => {
                return Err(RequestError::WrongType {
                    field: "message",
                    got: json_type(other),
                })
            }
        };
        if message.len() > MAX_MESSAGE_BYTES {
            return Err(RequestError::TooLarge {
                field: "message",
                len: message.len(),
                limit: MAX_MESSAGE_BYTES,
            });
        }
        if message.trim().is_empty() {
            return Err(RequestError::EmptyMessage);
        }
        let context = match fields.get("context") {
            None | Some(Value::Null) => None,
            Some(Value::String(context)) => Some(context),
            Some(other) => {
                return Err(RequestError::WrongType {
                    field: "context",
                    got: json_type(other),
                })
            }
        };
        if let Some(context) = context {
            if context.len() > MAX_CONTEXT_BYTES {
                return Err(RequestError::TooLarge {
                    field: "context",
                    len: context.len(),
                    limit: MAX_CONTEXT_BYTES,
                });
            }
        }
        let triage = match fields.get("triage") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(triage)) => *triage,
            Some(other) => {
                return Err(RequestError::WrongType {
                    field: "triage",
                    got: json_type(other),
                })
            }
        };
        Ok(ClassifyRequest {
            message: message.clone(),
            context: context
                .filter(|context| !context.trim().is_empty())
                .cloned(),
            triage,
        })
    }

    /// Parses and validates a JSON document (an HTTP body).
    pub fn from_json(bytes: &[u8]) -> Result<Self, RequestError> {
        let value: Value =
            serde_json::from_slice(bytes).map_err(|err| RequestError::InvalidJson {
                detail: err.to_string(),
            })?;
        Self::from_value(&value)
    }

    /// The user turn sent to the model: the message alone, or, with a context,
    /// `"Previous conversation context:\n{context}\n\nUser message:\n{message}"`.
    ///
    /// Without a context this is exactly the message, so a batch job classifying the same
    /// message with the same prompt sends the same text.
    pub fn model_input(&self) -> Cow<'_, str> {
        match &self.context {
            None => Cow::Borrowed(&self.message),
            Some(context) => Cow::Owned(format!(
                "Previous conversation context:\n{context}\n\nUser message:\n{}",
                self.message
            )),
        }
    }
}

/// A successful classification (the direct-invocation response, and the HTTP body).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ClassifyResponse {
    /// The prompt's id (`customer-support.intent-classifier`).
    pub prompt_id: &'static str,
    /// The version of the prompt that ran: the registry's when one is configured and its
    /// version honours the compiled contract, else the compiled-in one.
    pub prompt_version: promptops_runtime::Version,
    /// Where that prompt came from: `compiled`, `http` or `lambda` (the registry's tiers).
    pub prompt_source: &'static str,
    /// SHA-256 content hash of the prompt that ran.
    pub content_hash: String,
    /// The label: `billing`, `technical`, `sales`, `retention` or `other`.
    pub intent: &'static str,
    /// The Lambda request id (also in every event of this call).
    pub request_id: String,
    /// The triage record, when the request asked for one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub triage: Option<Triage>,
}

/// The structured answer of `customer-support.ticket-triage`, with the version that gave it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Triage {
    /// The version of the triage prompt that ran.
    pub prompt_version: promptops_runtime::Version,
    /// Where it came from: `compiled`, `http` or `lambda`.
    pub prompt_source: &'static str,
    /// How many repair turns the answer took.
    pub repair_turns: u32,
    /// The record: a JSON object shaped by the prompt's output schema.
    pub output: ticket_triage::Output,
}

/// An HTTP-style response for Function URL / API Gateway events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpResponse {
    /// The HTTP status code.
    pub status_code: u16,
    /// Response headers (lowercase names).
    pub headers: BTreeMap<String, String>,
    /// The JSON body, as text.
    pub body: String,
    /// Always `false`: the body is JSON text.
    pub is_base64_encoded: bool,
    /// `Some([])` in answers to payload v2 events (Function URL, HTTP API), which define the
    /// field: cargo-lambda's emulator refuses a v2 answer without it (a 500 from its Function URL
    /// endpoint). Absent for REST v1 events, whose format has no such field.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cookies: Option<Vec<String>>,
}

impl HttpResponse {
    /// A JSON response with `status` and `body`.
    pub fn json(status: u16, body: &impl Serialize) -> Self {
        let body = serde_json::to_string(body).unwrap_or_else(|_| {
            r#"{"error":"InternalError","message":"unserialisable response"}"#.into()
        });
        HttpResponse {
            status_code: status,
            headers: BTreeMap::from([("content-type".to_owned(), "application/json".to_owned())]),
            body,
            is_base64_encoded: false,
            cookies: None,
        }
    }

    /// This response in the shape of the payload version of `event`.
    fn for_event(mut self, event: &HttpEvent) -> Self {
        self.cookies = event.payload_v2.then(Vec::new);
        self
    }
}

/// What the handler answers: the bare result for a direct invocation, an HTTP response object
/// for an HTTP event (errors included, as 4xx/5xx responses).
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Response {
    /// Answer to a direct invocation.
    Direct(ClassifyResponse),
    /// Answer to a Function URL / API Gateway event.
    Http(HttpResponse),
}

/// A request the function refuses before calling the prompt.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// The event or body is not a JSON object.
    #[error("the request must be a JSON object with a `message` string, got {got}")]
    NotAnObject {
        /// The JSON type received.
        got: &'static str,
    },
    /// The HTTP body is not JSON.
    #[error("the request body is not valid JSON: {detail}")]
    InvalidJson {
        /// The parser's message (position only, never the content).
        detail: String,
    },
    /// No `message` field.
    #[error("missing required field `message` (a non-empty string)")]
    MissingMessage,
    /// A field has the wrong JSON type.
    #[error("field `{field}` must be a string, got {got}")]
    WrongType {
        /// The field.
        field: &'static str,
        /// The JSON type received.
        got: &'static str,
    },
    /// `message` is empty or only whitespace.
    #[error("field `message` must not be empty")]
    EmptyMessage,
    /// A field is longer than its limit.
    #[error("field `{field}` is {len} bytes, more than the limit of {limit} bytes")]
    TooLarge {
        /// The field.
        field: &'static str,
        /// Its size in bytes.
        len: usize,
        /// The limit in bytes.
        limit: usize,
    },
    /// The HTTP body is larger than [`MAX_HTTP_BODY_BYTES`].
    #[error("the request body is larger than the limit of {limit} bytes")]
    BodyTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// An HTTP event without a body.
    #[error("the request has no body; send a JSON object with a `message` string")]
    MissingBody,
    /// `isBase64Encoded` is true but the body is not base64.
    #[error("the request body is marked base64-encoded but is not valid base64: {detail}")]
    InvalidBase64 {
        /// The decoder's message.
        detail: String,
    },
    /// An HTTP method other than POST.
    #[error("method {method} is not allowed; use POST")]
    MethodNotAllowed {
        /// The method received (truncated to 16 characters).
        method: String,
    },
    /// An HTTP event whose `body` or `isBase64Encoded` has the wrong type.
    #[error("malformed HTTP event: {detail}")]
    MalformedEvent {
        /// What is wrong.
        detail: &'static str,
    },
}

impl RequestError {
    /// The HTTP status: 413 for oversized input, 405 for a wrong method, 400 otherwise.
    pub fn status(&self) -> u16 {
        match self {
            RequestError::TooLarge { .. } | RequestError::BodyTooLarge { .. } => 413,
            RequestError::MethodNotAllowed { .. } => 405,
            _ => 400,
        }
    }

    /// The Lambda `errorType`: `PayloadTooLarge`, `MethodNotAllowed` or `BadRequest`.
    pub fn error_type(&self) -> &'static str {
        match self.status() {
            413 => "PayloadTooLarge",
            405 => "MethodNotAllowed",
            _ => "BadRequest",
        }
    }
}

/// Why an invocation failed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum HandlerError {
    /// The request was refused before the prompt was called (4xx).
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The prompt call failed (5xx); the runtime already emitted `prompt_failed`.
    #[error(transparent)]
    Model(#[from] InvokeError),
}

impl HandlerError {
    /// The HTTP status: the request error's, 500 for a render failure (a bug, the template
    /// takes no variables), 502 for every model failure.
    pub fn status(&self) -> u16 {
        match self {
            HandlerError::Request(err) => err.status(),
            HandlerError::Model(InvokeError::Render(_)) => 500,
            HandlerError::Model(_) => 502,
        }
    }

    /// The Lambda `errorType`: the request error's, `InternalError`, or `ModelError`.
    pub fn error_type(&self) -> &'static str {
        match self {
            HandlerError::Request(err) => err.error_type(),
            HandlerError::Model(InvokeError::Render(_)) => "InternalError",
            HandlerError::Model(_) => "ModelError",
        }
    }

    /// The JSON error body of an HTTP response: `error` (the error type), `message`,
    /// `request_id`, and for model failures `kind` (`throttled`, `timed_out`, `rejected`,
    /// `unavailable`, `bad_output`, `output_invalid`, `config`).
    pub fn body(&self, request_id: &str) -> Value {
        let mut body = json!({
            "error": self.error_type(),
            "message": self.to_string(),
            "request_id": request_id,
        });
        if let HandlerError::Model(err) = self {
            body["kind"] = Value::from(err.kind());
        }
        body
    }

    /// The HTTP response for this error (with `allow: POST` for a wrong method).
    pub fn to_http(&self, request_id: &str) -> HttpResponse {
        let mut response = HttpResponse::json(self.status(), &self.body(request_id));
        if matches!(
            self,
            HandlerError::Request(RequestError::MethodNotAllowed { .. })
        ) {
            response
                .headers
                .insert("allow".to_owned(), "POST".to_owned());
        }
        response
    }
}

impl From<HandlerError> for lambda_runtime::Diagnostic {
    fn from(err: HandlerError) -> Self {
        lambda_runtime::Diagnostic {
            error_type: err.error_type().to_owned(),
            error_message: err.to_string(),
        }
    }
}

/// An incoming event, sorted by shape.
#[derive(Debug, Clone, PartialEq)]
pub enum Event {
    /// A direct invocation: the event is the request object.
    Direct(Value),
    /// A Function URL / API Gateway event (it has a `requestContext` object).
    Http(HttpEvent),
}

/// The parts of an HTTP event the function reads.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct HttpEvent {
    /// `requestContext.http.method` (payload v2) or `httpMethod` (v1), if present.
    pub method: Option<String>,
    /// The body, if any.
    pub body: Option<String>,
    /// Whether the body is base64-encoded.
    pub is_base64_encoded: bool,
    /// Whether this is a payload v2 event (it has `requestContext.http`): Function URL or HTTP
    /// API, whose answers carry `cookies`.
    pub payload_v2: bool,
}

impl Event {
    /// Sorts an event: an object with a `requestContext` object is an HTTP event (Function
    /// URL, API Gateway HTTP API v2 or REST v1), anything else a direct invocation.
    pub fn classify(event: Value) -> Result<Event, RequestError> {
        let is_http = event
            .get("requestContext")
            .is_some_and(|context| context.is_object());
        if !is_http {
            return Ok(Event::Direct(event));
        }
        let method = event
            .pointer("/requestContext/http/method")
            .or_else(|| event.get("httpMethod"))
            .and_then(Value::as_str)
            .map(str::to_owned);
        let body = match event.get("body") {
            None | Some(Value::Null) => None,
            Some(Value::String(body)) => Some(body.clone()),
            Some(_) => {
                return Err(RequestError::MalformedEvent {
                    detail: "`body` must be a string",
                })
            }
        };
        let is_base64_encoded = match event.get("isBase64Encoded") {
            None | Some(Value::Null) => false,
            Some(Value::Bool(flag)) => *flag,
            Some(_) => {
                return Err(RequestError::MalformedEvent {
                    detail: "`isBase64Encoded` must be a boolean",
                })
            }
        };
        let payload_v2 = event
            .pointer("/requestContext/http")
            .is_some_and(Value::is_object);
        Ok(Event::Http(HttpEvent {
            method,
            body,
            is_base64_encoded,
            payload_v2,
        }))
    }
}

impl HttpEvent {
    /// Checks the method and size, decodes the body and validates the request in it.
    pub fn request(&self) -> Result<ClassifyRequest, RequestError> {
        if let Some(method) = &self.method {
            if !method.eq_ignore_ascii_case("POST") {
                return Err(RequestError::MethodNotAllowed {
                    method: method.chars().take(16).collect(),
                });
            }
        }
        let body = self.body.as_deref().ok_or(RequestError::MissingBody)?;
        let bytes: Cow<'_, [u8]> = if self.is_base64_encoded {
            // Refuse before decoding: base64 is 4 characters per 3 bytes.
            if body.len() > MAX_HTTP_BODY_BYTES.div_ceil(3) * 4 {
                return Err(RequestError::BodyTooLarge {
                    limit: MAX_HTTP_BODY_BYTES,
                });
            }
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(body.trim())
                .map_err(|err| RequestError::InvalidBase64 {
                    detail: err.to_string(),
                })?;
            Cow::Owned(decoded)
        } else {
            Cow::Borrowed(body.as_bytes())
        };
        if bytes.len() > MAX_HTTP_BODY_BYTES {
            return Err(RequestError::BodyTooLarge {
                limit: MAX_HTTP_BODY_BYTES,
            });
        }
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Err(RequestError::MissingBody);
        }
        ClassifyRequest::from_json(&bytes)
    }
}

/// Handles one invocation: sorts the event, validates the request, calls the prompt.
///
/// A direct invocation answers [`Response::Direct`] or an error (which `lambda_runtime` posts
/// with the error's [`error_type`](HandlerError::error_type)). An HTTP event always answers
/// [`Response::Http`], errors included (400/405/413 for bad requests, 502 for model failures).
/// `request_id` is the Lambda request id: it goes into every event and the response.
pub async fn handle(
    runtime: &Runtime,
    request_id: &str,
    event: Value,
) -> Result<Response, HandlerError> {
    handle_with_deadline(runtime, request_id, None, event).await
}

/// [`handle`] for an invocation that must finish by `deadline` (Lambda's
/// `Lambda-Runtime-Deadline-Ms`): the model call's total timeout, retries included, is cut to
/// end [`DEADLINE_MARGIN`] before it, so a slow model is reported as a `ModelError`
/// (`timed_out`) instead of the function being killed by Lambda's timeout with no answer.
pub async fn handle_with_deadline(
    runtime: &Runtime,
    request_id: &str,
    deadline: Option<SystemTime>,
    event: Value,
) -> Result<Response, HandlerError> {
    let event = match Event::classify(event) {
        Ok(event) => event,
        Err(err) => {
            // A `requestContext` was there, so the caller speaks HTTP.
            let err = HandlerError::from(err);
            rejected(runtime, request_id, &err);
            return Ok(Response::Http(err.to_http(request_id)));
        }
    };
    match event {
        Event::Direct(value) => {
            let request = ClassifyRequest::from_value(&value).map_err(|err| {
                let err = HandlerError::from(err);
                rejected(runtime, request_id, &err);
                err
            })?;
            classify(runtime, request_id, deadline, &request)
                .await
                .map(Response::Direct)
        }
        Event::Http(http) => {
            let outcome = match http.request() {
                Ok(request) => classify(runtime, request_id, deadline, &request).await,
                Err(err) => {
                    let err = HandlerError::from(err);
                    rejected(runtime, request_id, &err);
                    Err(err)
                }
            };
            let response = match outcome {
                Ok(done) => HttpResponse::json(200, &done),
                Err(err) => err.to_http(request_id),
            };
            Ok(Response::Http(response.for_event(&http)))
        }
    }
}

/// Classifies a validated request with the intent classifier prompt, tagging the call's
/// events with `request_id`; with a `deadline`, the call gives up [`DEADLINE_MARGIN`] before it
/// (see [`call_options`]).
pub async fn classify(
    runtime: &Runtime,
    request_id: &str,
    deadline: Option<SystemTime>,
    request: &ClassifyRequest,
) -> Result<ClassifyResponse, HandlerError> {
    let prompt = prompts::customer_support::intent_classifier();
    let options = call_options(runtime, request_id, deadline, SystemTime::now());
    let input = request.model_input();
    let classified = prompt.invoke_with(runtime, &NoVars, Some(&input), &options);
    // The triage call runs beside the classification, inside the same deadline.
    let (done, triage) = if request.triage {
        let history: Vec<&str> = request.context.iter().map(String::as_str).collect();
        let vars = ticket_triage::Vars {
            message: &request.message,
            history: (!history.is_empty()).then_some(history.as_slice()),
        };
        let triage_prompt = prompts::customer_support::ticket_triage();
        let triaged = triage_prompt.invoke_with(runtime, &vars, None, &options);
        let (done, triaged) = tokio::join!(classified, triaged);
        // When both fail, the classifier's error is the one reported.
        let done = done?;
        let triaged = triaged?;
        let triage = Triage {
            prompt_version: triaged.prompt.version,
            prompt_source: triaged.source.as_str(),
            repair_turns: triaged.repair_turns,
            output: triaged.output,
        };
        (done, Some(triage))
    } else {
        (classified.await?, None)
    };
    Ok(ClassifyResponse {
        prompt_id: prompt.id(),
        prompt_version: done.prompt.version,
        prompt_source: done.source.as_str(),
        content_hash: done.prompt.content_hash.clone(),
        intent: done.output.as_str(),
        request_id: done.request_id,
        triage,
    })
}

/// The options of one prompt call: `request_id` for the events and, with a `deadline`, the
/// runtime's retry policy with its total timeout cut to end [`DEADLINE_MARGIN`] before the
/// deadline (as seen at `now`; zero when that is already past, which fails the call at once as
/// `timed_out`).
pub fn call_options(
    runtime: &Runtime,
    request_id: &str,
    deadline: Option<SystemTime>,
    now: SystemTime,
) -> CallOptions {
    let mut options = CallOptions::with_request_id(request_id);
    if let Some(deadline) = deadline {
        let left = deadline
            .duration_since(now)
            .unwrap_or_default()
            .saturating_sub(DEADLINE_MARGIN);
        let mut policy = *runtime.retry_policy();
        if left < policy.total_timeout {
            policy.total_timeout = left;
            options.retry = Some(policy);
        }
    }
    options
}

/// Emits `request_rejected` for a request refused before the prompt was called. No request
/// content is logged, only the error (types, sizes and positions).
fn rejected(runtime: &Runtime, request_id: &str, err: &HandlerError) {
    let prompt = prompts::customer_support::intent_classifier().def();
    tracing::warn!(
        target: TARGET,
        event = EVENT_REJECTED,
        prompt_id = prompt.id.as_str(),
        prompt_version = %prompt.version,
        prompt_owner = prompt.owner.as_str(),
        request_id = request_id,
        runtime = runtime.name(),
        status = err.status(),
        error = err.error_type(),
        error_message = %err,
    );
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}
