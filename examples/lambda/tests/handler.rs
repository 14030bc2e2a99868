//! The handler called directly (no Lambda): request shapes, every bad-input case, model
//! failures, and the events each invocation emits.

use std::future::Future;
use std::sync::{Arc, Mutex};

use lambda_runtime::Diagnostic;
use promptops_lambda::{
    call_options, handle, handle_with_deadline, ClassifyRequest, HandlerError, HttpResponse,
    RequestError, Response, DEADLINE_MARGIN, MAX_CONTEXT_BYTES, MAX_HTTP_BODY_BYTES,
    MAX_MESSAGE_BYTES,
};
use promptops_runtime::events::EventCapture;
use promptops_runtime::{
    InvokeError, Model, ModelError, ModelErrorKind, ModelFuture, ModelRequest, ModelResponse,
    RetryPolicy, Runtime,
};
use promptops_tests::events::{base64_encoded, http_v1_event, http_v2_event};
use serde_json::{json, Value};
use std::time::{Duration, Instant, SystemTime};

/// The runtime the function builds, over `model`, without retries (so failures are fast).
fn lambda_runtime_over(model: impl Model + 'static) -> Runtime {
    Runtime::new(Arc::new(model))
        .with_name(promptops_lambda::RUNTIME_NAME)
        .with_retry(RetryPolicy::no_retries())
}

/// The function's runtime over the offline keyword model.
fn local_runtime() -> Runtime {
    Runtime::local().with_name(promptops_lambda::RUNTIME_NAME)
}

/// Runs `future` on this thread with prompt events captured; returns its output and the events.
async fn captured<T>(future: impl Future<Output = T>) -> (T, Vec<Value>) {
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let output = future.await;
    (output, capture.events())
}

/// The `event` names of `events` whose `request_id` is `request_id`, in order.
fn event_names(events: &[Value], request_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["request_id"] == request_id)
        .filter_map(|event| event["event"].as_str().map(str::to_owned))
        .collect()
}

/// A model that always fails with `kind` / `code`.
#[derive(Debug, Clone)]
struct FailingModel {
    /// How every call fails.
    kind: ModelErrorKind,
    /// The error code it reports, if any.
    code: Option<&'static str>,
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
type SeenRequest = (Option<String>, String);

/// A model that answers `answer` after `delay`.
#[derive(Debug, Clone)]
struct SlowModel {
    /// What it answers.
    answer: &'static str,
    /// How long it takes.
    delay: std::time::Duration,
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
struct RecordingModel {
    /// What it answers.
    answer: &'static str,
    /// Every request so far.
    seen: Arc<Mutex<Vec<SeenRequest>>>,
}

impl RecordingModel {
    /// A model answering `answer`, with nothing seen yet.
    fn answering(answer: &'static str) -> Self {
        RecordingModel {
            answer,
            seen: Arc::default(),
        }
    }

    /// `(system, user)` of every request so far.
    fn seen(&self) -> Vec<SeenRequest> {
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

fn classifier() -> &'static promptops_runtime::PromptDef {
    prompts::customer_support::intent_classifier().def()
}

/// Asserts the events of one successful call: `prompt_invoked` then `prompt_completed`, both
/// with runtime `lambda` and the Lambda request id, the completed one with `label`.
fn assert_completed_events(events: &[Value], request_id: &str, label: &str) {
    assert_eq!(
        event_names(events, request_id),
        ["prompt_invoked", "prompt_completed"],
        "{events:#?}"
    );
    for event in events.iter().filter(|e| e["request_id"] == request_id) {
        assert_eq!(event["runtime"], "lambda", "{event}");
        assert_eq!(event["prompt_id"], classifier().id, "{event}");
        assert_eq!(
            event["prompt_version"],
            classifier().version.to_string(),
            "{event}"
        );
    }
    let completed = events
        .iter()
        .find(|e| e["event"] == "prompt_completed")
        .expect("a prompt_completed event");
    assert_eq!(completed["label"], label);
}

/// Asserts that a rejected request emitted exactly one `request_rejected` and never called
/// the prompt.
fn assert_rejected_event(events: &[Value], request_id: &str, error_type: &str) {
    assert_eq!(
        event_names(events, request_id),
        ["request_rejected"],
        "{events:#?}"
    );
    let event = &events[0];
    assert_eq!(event["runtime"], "lambda");
    assert_eq!(event["error"], error_type);
    assert_eq!(event["prompt_id"], classifier().id);
}

fn as_http(response: Response) -> (HttpResponse, Value) {
    match response {
        Response::Http(http) => {
            let body = serde_json::from_str(&http.body).expect("the body is JSON");
            (http, body)
        }
        Response::Direct(direct) => panic!("expected an HTTP response, got {direct:?}"),
    }
}

#[tokio::test]
async fn direct_invocation_returns_the_intent_and_the_prompt_identity() {
    let runtime = local_runtime();
    let event = json!({"message": "I was charged twice this month, please refund me"});
    let (response, events) = captured(handle(&runtime, "req-direct-1", event)).await;

    let Ok(Response::Direct(done)) = response else {
        panic!("expected a direct response, got {response:?}");
    };
    assert_eq!(done.intent, "billing");
    assert_eq!(done.request_id, "req-direct-1");
    assert_eq!(done.prompt_id, "customer-support.intent-classifier");
    assert_eq!(done.prompt_version, classifier().version);
    assert_eq!(done.content_hash, classifier().content_hash);
    assert_eq!(done.content_hash.len(), 64);

    // The wire shape: exactly these keys.
    let wire = serde_json::to_value(Response::Direct(done)).unwrap();
    assert_eq!(
        wire,
        json!({
            "prompt_id": "customer-support.intent-classifier",
            "prompt_version": classifier().version,
            "prompt_source": "compiled",
            "content_hash": classifier().content_hash,
            "intent": "billing",
            "request_id": "req-direct-1",
        })
    );
    assert_completed_events(&events, "req-direct-1", "billing");
}

#[tokio::test]
async fn every_label_comes_back_through_the_handler() {
    let runtime = local_runtime();
    let cases = [
        ("The app crashes with an error when I upload", "technical"),
        ("What does the enterprise plan cost?", "sales"),
        ("I want to cancel my subscription", "retention"),
        ("Where is your office?", "other"),
    ];
    for (message, intent) in cases {
        let Ok(Response::Direct(done)) = handle(&runtime, "r", json!({ "message": message })).await
        else {
            panic!("{message}: no direct response");
        };
        assert_eq!(done.intent, intent, "{message}");
    }
}

#[tokio::test]
async fn the_message_is_the_user_turn_and_context_travels_with_it() {
    let model = RecordingModel::answering("Sales.");
    let runtime = lambda_runtime_over(model.clone());

    let alone = json!({"message": "How much is the pro plan?"});
    let Ok(Response::Direct(done)) = handle(&runtime, "r1", alone).await else {
        panic!("no direct response");
    };
    assert_eq!(done.intent, "sales", "labels are parsed leniently");

    let with_context = json!({
        "message": "And for ten seats?",
        "context": "Customer asked about the pro plan yesterday.",
    });
    let Ok(Response::Direct(_)) = handle(&runtime, "r2", with_context).await else {
        panic!("no direct response");
    };
    let blank_context = json!({"message": "Hi", "context": "   "});
    let Ok(Response::Direct(_)) = handle(&runtime, "r3", blank_context).await else {
        panic!("no direct response");
    };

    let seen = model.seen();
    assert_eq!(seen.len(), 3);
    // The prompt's template is the system part; the caller's text is the user turn.
    let system = seen[0].0.as_deref().unwrap_or_default();
    assert!(
        system.contains("customer support intent classifier"),
        "{system}"
    );
    assert_eq!(seen[0].1, "How much is the pro plan?");
    assert_eq!(
        seen[1].1,
        "Previous conversation context:\nCustomer asked about the pro plan yesterday.\n\n\
         User message:\nAnd for ten seats?"
    );
    assert_eq!(seen[2].1, "Hi", "a blank context is no context");
}

#[tokio::test]
async fn function_url_event_gets_an_http_response() {
    let runtime = local_runtime();
    let body = r#"{"message": "My login fails with an error"}"#;
    for base64 in [false, true] {
        let event = if base64 {
            base64_encoded(http_v2_event("POST", "/", "", Some(body)))
        } else {
            http_v2_event("POST", "/", "", Some(body))
        };
        let (response, events) = captured(handle(&runtime, "req-http-1", event)).await;
        let (http, json) = as_http(response.expect("HTTP events always answer Ok"));
        assert_eq!(http.status_code, 200, "base64={base64}");
        assert_eq!(http.headers["content-type"], "application/json");
        assert!(!http.is_base64_encoded);
        assert_eq!(json["intent"], "technical");
        assert_eq!(json["request_id"], "req-http-1");
        assert_eq!(json["content_hash"], classifier().content_hash);
        assert_completed_events(&events, "req-http-1", "technical");
    }

    // The HTTP response's wire shape.
    let event = http_v2_event("POST", "/", "", Some(body));
    let wire = serde_json::to_value(handle(&runtime, "r", event).await.unwrap()).unwrap();
    let mut keys: Vec<&str> = wire
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    keys.sort_unstable();
    assert_eq!(
        keys,
        [
            "body",
            "cookies",
            "headers",
            "isBase64Encoded",
            "statusCode"
        ]
    );
    assert_eq!(wire["cookies"], json!([]), "payload v2 defines cookies");
}

#[tokio::test]
async fn rest_api_v1_event_is_served_too() {
    let runtime = local_runtime();
    let event = http_v1_event("POST", r#"{"message": "Please send my invoice"}"#);
    let (http, json) = as_http(handle(&runtime, "r", event).await.unwrap());
    assert_eq!(http.status_code, 200);
    assert_eq!(json["intent"], "billing");
    assert_eq!(http.cookies, None, "REST v1 answers have no cookies field");

    let (http, json) = as_http(
        handle(&runtime, "r", http_v1_event("DELETE", "{}"))
            .await
            .unwrap(),
    );
    assert_eq!(http.status_code, 405);
    assert_eq!(json["error"], "MethodNotAllowed");
}

#[tokio::test]
async fn bad_direct_requests_are_typed_errors_and_never_reach_the_model() {
    let runtime = lambda_runtime_over(RecordingModel::answering("other"));
    let big = "a".repeat(MAX_MESSAGE_BYTES + 1);
    let big_context = "c".repeat(MAX_CONTEXT_BYTES + 1);
    let cases: Vec<(Value, &str, &str)> = vec![
        (json!({}), "BadRequest", "missing required field `message`"),
        (
            json!({"msg": "hi"}),
            "BadRequest",
            "missing required field `message`",
        ),
        (
            json!({"message": 42}),
            "BadRequest",
            "`message` must be a string, got a number",
        ),
        (
            json!({"message": null}),
            "BadRequest",
            "`message` must be a string, got null",
        ),
        (json!({"message": ["a"]}), "BadRequest", "got an array"),
        (
            json!({"message": {"text": "a"}}),
            "BadRequest",
            "got an object",
        ),
        (
            json!({"message": ""}),
            "BadRequest",
            "`message` must not be empty",
        ),
        (
            json!({"message": " \n\t "}),
            "BadRequest",
            "`message` must not be empty",
        ),
        (
            json!({"message": "hi", "context": 7}),
            "BadRequest",
            "`context` must be a string",
        ),
        (
            json!({"message": "hi", "context": true}),
            "BadRequest",
            "got a boolean",
        ),
        (
            json!("just a string"),
            "BadRequest",
            "must be a JSON object",
        ),
        (json!([1, 2]), "BadRequest", "must be a JSON object"),
        (Value::Null, "BadRequest", "got null"),
        (
            json!({"message": big}),
            "PayloadTooLarge",
            "`message` is 16385 bytes, more than the limit of 16384 bytes",
        ),
        (
            json!({"message": "hi", "context": big_context}),
            "PayloadTooLarge",
            "`context` is 16385 bytes",
        ),
    ];
    for (index, (event, error_type, needle)) in cases.into_iter().enumerate() {
        let request_id = format!("bad-{index}");
        let (outcome, events) = captured(handle(&runtime, &request_id, event.clone())).await;
        let Err(err) = outcome else {
            panic!("{event}: accepted");
        };
        assert!(matches!(err, HandlerError::Request(_)), "{event}: {err:?}");
        assert!(err.to_string().contains(needle), "{event}: {err}");
        assert_eq!(err.error_type(), error_type, "{event}");
        let status = if error_type == "PayloadTooLarge" {
            413
        } else {
            400
        };
        assert_eq!(err.status(), status, "{event}");

        let diagnostic = Diagnostic::from(err.clone());
        assert_eq!(diagnostic.error_type, error_type);
        assert_eq!(diagnostic.error_message, err.to_string());
        assert_rejected_event(&events, &request_id, error_type);
    }
}

#[tokio::test]
async fn limits_are_inclusive() {
    let runtime = local_runtime();
    let message = format!("refund {}", "x".repeat(MAX_MESSAGE_BYTES - 7));
    assert_eq!(message.len(), MAX_MESSAGE_BYTES);
    let event = json!({"message": message, "context": "y".repeat(MAX_CONTEXT_BYTES)});
    let Ok(Response::Direct(done)) = handle(&runtime, "r", event).await else {
        panic!("a message of exactly the limit is accepted");
    };
    assert_eq!(done.intent, "billing");

    // Multi-byte characters count in bytes: 5,462 × 3 bytes > 16 KiB.
    let wide = "€".repeat(5_462);
    let err = ClassifyRequest::from_value(&json!({ "message": wide })).unwrap_err();
    assert!(
        matches!(err, RequestError::TooLarge { len: 16_386, .. }),
        "{err:?}"
    );
}

#[tokio::test]
async fn bad_http_requests_get_4xx_responses_with_json_bodies() {
    let runtime = lambda_runtime_over(RecordingModel::answering("other"));
    let huge_body = format!(r#"{{"message": "{}"}}"#, "a".repeat(MAX_HTTP_BODY_BYTES));
    let big_message = format!(r#"{{"message": "{}"}}"#, "a".repeat(MAX_MESSAGE_BYTES + 1));
    let mut malformed_body = http_v2_event("POST", "/", "", None);
    malformed_body["body"] = json!({"message": "an object, not a string"});
    let mut malformed_flag = http_v2_event("POST", "/", "", Some("{}"));
    malformed_flag["isBase64Encoded"] = json!("yes");
    let mut bad_base64 = http_v2_event("POST", "/", "", None);
    bad_base64["body"] = json!("not base64 at all!");
    bad_base64["isBase64Encoded"] = json!(true);

    let cases: Vec<(Value, u16, &str, &str)> = vec![
        (
            http_v2_event("POST", "/", "", Some("{not json")),
            400,
            "BadRequest",
            "not valid JSON",
        ),
        (
            http_v2_event("POST", "/", "", Some(r#""a string""#)),
            400,
            "BadRequest",
            "must be a JSON object",
        ),
        (
            http_v2_event("POST", "/", "", Some(r#"{"message": 1}"#)),
            400,
            "BadRequest",
            "must be a string",
        ),
        (
            http_v2_event("POST", "/", "", Some(r#"{"message": ""}"#)),
            400,
            "BadRequest",
            "must not be empty",
        ),
        (
            base64_encoded(http_v2_event("POST", "/", "", Some("{}"))),
            400,
            "BadRequest",
            "missing required field",
        ),
        (
            http_v2_event("POST", "/", "", None),
            400,
            "BadRequest",
            "no body",
        ),
        (
            http_v2_event("POST", "/", "", Some("  ")),
            400,
            "BadRequest",
            "no body",
        ),
        (malformed_body, 400, "BadRequest", "`body` must be a string"),
        (
            malformed_flag,
            400,
            "BadRequest",
            "`isBase64Encoded` must be a boolean",
        ),
        (bad_base64, 400, "BadRequest", "not valid base64"),
        (
            http_v2_event("GET", "/", "", None),
            405,
            "MethodNotAllowed",
            "method GET is not allowed",
        ),
        (
            http_v2_event("POST", "/", "", Some(&huge_body)),
            413,
            "PayloadTooLarge",
            "larger than the limit of 65536 bytes",
        ),
        (
            base64_encoded(http_v2_event("POST", "/", "", Some(&huge_body))),
            413,
            "PayloadTooLarge",
            "larger than the limit",
        ),
        (
            http_v2_event("POST", "/", "", Some(&big_message)),
            413,
            "PayloadTooLarge",
            "`message` is 16385 bytes",
        ),
    ];
    for (index, (event, status, error_type, needle)) in cases.into_iter().enumerate() {
        let request_id = format!("http-bad-{index}");
        let (outcome, events) = captured(handle(&runtime, &request_id, event)).await;
        let (http, body) = as_http(outcome.expect("HTTP events always answer Ok"));
        assert_eq!(http.status_code, status, "case {index}: {body}");
        assert_eq!(http.headers["content-type"], "application/json");
        assert_eq!(body["error"], error_type, "case {index}");
        assert_eq!(body["request_id"], request_id.as_str());
        let message = body["message"].as_str().unwrap_or_default();
        assert!(message.contains(needle), "case {index}: {message}");
        if status == 405 {
            assert_eq!(http.headers["allow"], "POST");
        }
        assert_rejected_event(&events, &request_id, error_type);
    }
}

#[tokio::test]
async fn model_failure_is_a_model_error_with_prompt_failed_event() {
    let runtime = lambda_runtime_over(FailingModel {
        kind: ModelErrorKind::Rejected,
        code: Some("AccessDeniedException"),
    });
    let event = json!({"message": "I was charged twice"});
    let (outcome, events) = captured(handle(&runtime, "req-fail-1", event)).await;
    let Err(err) = outcome else {
        panic!("a failing model must fail the invocation");
    };
    assert!(
        matches!(&err, HandlerError::Model(InvokeError::Rejected { code, .. }) if code == "AccessDeniedException"),
        "{err:?}"
    );
    assert_eq!(err.error_type(), "ModelError");
    assert_eq!(err.status(), 502);
    let diagnostic = Diagnostic::from(err.clone());
    assert_eq!(diagnostic.error_type, "ModelError");
    assert!(diagnostic.error_message.contains("AccessDeniedException"));

    assert_eq!(
        event_names(&events, "req-fail-1"),
        ["prompt_invoked", "prompt_failed"]
    );
    let failed = &events[1];
    assert_eq!(failed["runtime"], "lambda");
    assert_eq!(failed["error"], "rejected");
    assert_eq!(failed["backend"], "failing");

    // The same failure behind a Function URL: a 502 with the kind.
    let event = http_v2_event("POST", "/", "", Some(r#"{"message": "hello"}"#));
    let (http, body) = as_http(handle(&runtime, "req-fail-2", event).await.unwrap());
    assert_eq!(http.status_code, 502);
    assert_eq!(body["error"], "ModelError");
    assert_eq!(body["kind"], "rejected");
    assert_eq!(body["request_id"], "req-fail-2");
}

#[tokio::test]
async fn unavailable_model_and_unusable_output_are_model_errors_too() {
    let unavailable = lambda_runtime_over(FailingModel {
        kind: ModelErrorKind::Unavailable,
        code: None,
    });
    let err = handle(&unavailable, "r", json!({"message": "hi"}))
        .await
        .unwrap_err();
    assert_eq!(err.error_type(), "ModelError");
    assert_eq!(err.body("r")["kind"], "unavailable");

    // A model that answers something that is not a label.
    let rambling = lambda_runtime_over(RecordingModel::answering("I think it's about money"));
    let (outcome, events) = captured(handle(
        &rambling,
        "req-bad-output",
        json!({"message": "hi"}),
    ))
    .await;
    let err = outcome.unwrap_err();
    assert!(
        matches!(err, HandlerError::Model(InvokeError::BadOutput { .. })),
        "{err:?}"
    );
    assert_eq!(err.status(), 502);
    assert_eq!(err.body("r")["kind"], "bad_output");
    assert_eq!(
        event_names(&events, "req-bad-output"),
        ["prompt_invoked", "prompt_failed"]
    );
}

#[tokio::test]
async fn odd_events_never_panic() {
    let runtime = local_runtime();
    let deep = (0..64).fold(json!("x"), |inner, _| json!({ "message": inner }));
    let events = vec![
        json!(0),
        json!(true),
        json!({"requestContext": "not an object", "message": "a refund"}),
        json!({"requestContext": {}}),
        json!({"requestContext": {"http": {"method": 5}}, "body": "{\"message\":\"hi\"}"}),
        json!({"requestContext": {"http": null}, "body": null}),
        json!({"message": "\u{0000}\u{FFFF} emoji 🎉 right-to-left \u{202E}"}),
        json!({"message": "x", "context": null, "extra": [1, 2, 3]}),
        http_v2_event("POST", "/", "", Some("\u{FEFF}{\"message\":\"bom\"}")),
        http_v2_event("POST", "/", "", Some("{\"message\":\"\\ud800\"}")),
        base64_encoded(http_v2_event("POST", "/", "", Some("[]"))),
        http_v2_event("post", "/", "", Some("{\"message\":\"lowercase method\"}")),
        http_v2_event(&"P".repeat(10_000), "/", "", Some("{}")),
        deep,
    ];
    for event in events {
        // Ok or a typed error; the point is that nothing panics.
        let _ = handle(&runtime, "odd", event).await;
    }
}

#[tokio::test]
async fn runtime_from_env_is_named_lambda() {
    // The only test in this binary that touches the environment.
    std::env::set_var("PROMPTOPS_MODEL", "local");
    std::env::set_var("PROMPTOPS_RUNTIME", "batch");
    let runtime = promptops_lambda::runtime_from_env().await.unwrap();
    assert_eq!(runtime.name(), "lambda", "the function names itself");
    assert_eq!(runtime.model().backend(), "local");

    std::env::set_var("PROMPTOPS_MODEL", "openai");
    assert!(promptops_lambda::runtime_from_env().await.is_err());
    std::env::set_var("PROMPTOPS_MODEL", "local");
}

#[test]
fn the_deadline_caps_the_model_calls_total_timeout() {
    let runtime = local_runtime();
    let now = SystemTime::now();
    let default_total = runtime.retry_policy().total_timeout;

    let options = call_options(&runtime, "r", None, now);
    assert_eq!(options.request_id.as_deref(), Some("r"));
    assert_eq!(options.retry, None, "no deadline: the runtime's policy");

    let far = now + default_total + Duration::from_secs(60);
    assert_eq!(call_options(&runtime, "r", Some(far), now).retry, None);

    let soon = now + Duration::from_secs(10);
    let policy = call_options(&runtime, "r", Some(soon), now).retry.unwrap();
    assert_eq!(
        policy.total_timeout,
        Duration::from_secs(10) - DEADLINE_MARGIN
    );
    assert_eq!(policy.max_attempts, runtime.retry_policy().max_attempts);

    let past = now - Duration::from_secs(1);
    let policy = call_options(&runtime, "r", Some(past), now).retry.unwrap();
    assert_eq!(policy.total_timeout, Duration::ZERO);
}

#[tokio::test]
async fn a_model_slower_than_the_deadline_is_a_timed_out_model_error() {
    let runtime = lambda_runtime_over(SlowModel {
        answer: "billing",
        delay: Duration::from_secs(30),
    });
    let deadline = SystemTime::now() + DEADLINE_MARGIN + Duration::from_millis(300);
    let started = Instant::now();
    let event = json!({"message": "refund please"});
    let (outcome, events) = captured(handle_with_deadline(
        &runtime,
        "req-slow",
        Some(deadline),
        event,
    ))
    .await;
    let elapsed = started.elapsed();

    let err = outcome.unwrap_err();
    assert!(
        matches!(err, HandlerError::Model(InvokeError::TimedOut { .. })),
        "{err:?}"
    );
    assert_eq!(err.error_type(), "ModelError");
    assert!(
        elapsed < Duration::from_secs(5),
        "gave up after {elapsed:?}"
    );
    assert!(
        elapsed >= Duration::from_millis(250),
        "gave up after {elapsed:?}"
    );
    assert_eq!(
        event_names(&events, "req-slow"),
        ["prompt_invoked", "prompt_failed"]
    );
    assert_eq!(events[1]["error"], "timed_out");

    // With time to spare the same model answers.
    let fast = lambda_runtime_over(SlowModel {
        answer: "billing",
        delay: Duration::from_millis(10),
    });
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let event = json!({"message": "refund please"});
    let Ok(Response::Direct(done)) = handle_with_deadline(&fast, "r", Some(deadline), event).await
    else {
        panic!("answered in time");
    };
    assert_eq!(done.intent, "billing");
}

/// `"triage": true` adds the structured prompt's record to the answer, as a JSON object (not a
/// string), over HTTP as well as directly; `triage` of the wrong type is a 400.
#[tokio::test]
async fn triage_comes_back_as_a_json_object() {
    let runtime = local_runtime();
    let event = json!({
        "message": "I was charged twice for order #A-1234, please refund me",
        "context": "I wrote about my invoice yesterday.",
        "triage": true
    });
    let (response, events) = captured(handle(&runtime, "req-triage-1", event.clone())).await;
    let Ok(Response::Direct(done)) = response else {
        panic!("expected a direct response, got {response:?}");
    };
    assert_eq!(done.intent, "billing");
    let triage = done.triage.as_ref().expect("a triage record");
    assert_eq!(triage.output.order_id.as_deref(), Some("A-1234"));
    assert_eq!(triage.repair_turns, 0);
    let json = serde_json::to_value(&done).unwrap();
    assert!(json["triage"]["output"].is_object(), "{json}");
    assert_eq!(json["triage"]["output"]["intent"], "billing");
    assert_eq!(json["triage"]["prompt_version"], "1");
    // Two prompt calls, each with its own completed event under the one request id.
    let completed: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "prompt_completed" && e["request_id"] == "req-triage-1")
        .collect();
    assert_eq!(completed.len(), 2, "{events:#?}");
    let triaged = completed
        .iter()
        .find(|e| e["prompt_id"] == "customer-support.ticket-triage")
        .expect("the triage call's event");
    assert_eq!(triaged["output_valid"], true);
    assert_eq!(triaged["repair_turns"], 0);

    // Without `triage`, the answer has no such field.
    let (plain, _) = captured(handle(
        &runtime,
        "req-triage-2",
        json!({"message": "I was charged twice"}),
    ))
    .await;
    let Ok(Response::Direct(plain)) = plain else {
        panic!("expected a direct response");
    };
    assert!(serde_json::to_value(&plain)
        .unwrap()
        .get("triage")
        .is_none());

    // Over a Function URL.
    let http = http_v2_event("POST", "/", "", Some(&event.to_string()));
    let (response, _) = captured(handle(&runtime, "req-triage-3", http)).await;
    let (answer, body) = as_http(response.expect("an HTTP answer"));
    assert_eq!(answer.status_code, 200);
    assert_eq!(body["triage"]["output"]["order_id"], "A-1234");

    let bad = json!({"message": "hi", "triage": "yes"});
    let (response, _) = captured(handle(&runtime, "req-triage-4", bad)).await;
    assert!(
        matches!(
            response,
            Err(HandlerError::Request(RequestError::WrongType {
                field: "triage",
                ..
            }))
        ),
        "{response:?}"
    );
}

/// A model that classifies correctly but never fills the triage schema.
#[derive(Debug)]
struct NoRecordModel;

impl Model for NoRecordModel {
    fn backend(&self) -> &'static str {
        "no-record"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        let text = match request.structured {
            Some(_) => "I cannot fill that in.",
            None => "billing",
        };
        Box::pin(async move {
            Ok(ModelResponse {
                text: text.to_owned(),
                ..ModelResponse::default()
            })
        })
    }
}

/// A triage answer that never fills the schema is a model error, `output_invalid`: 502 over
/// HTTP, with the classification not returned half-done.
#[tokio::test]
async fn a_triage_that_never_fills_the_schema_is_a_model_error() {
    let runtime = lambda_runtime_over(NoRecordModel);
    let event = json!({"message": "I was charged twice", "triage": true});
    let (response, events) = captured(handle(&runtime, "req-triage-bad", event.clone())).await;
    let Err(HandlerError::Model(err)) = &response else {
        panic!("expected a model error, got {response:?}");
    };
    assert_eq!(err.kind(), "output_invalid");
    assert!(events
        .iter()
        .any(|e| e["event"] == "prompt_failed" && e["error"] == "output_invalid"));

    let http = http_v2_event("POST", "/", "", Some(&event.to_string()));
    let (response, _) = captured(handle(&runtime, "req-triage-bad-2", http)).await;
    let (answer, body) = as_http(response.expect("an HTTP answer"));
    assert_eq!(answer.status_code, 502);
    assert_eq!(body["error"], "ModelError");
    assert_eq!(body["kind"], "output_invalid");
}
