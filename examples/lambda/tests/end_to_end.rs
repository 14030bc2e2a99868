//! The real `promptops-lambda` binary, driven through a local Lambda Runtime API: events in,
//! responses and errors posted back, JSON events on stdout.

mod common;

use common::{printed_events, response_json, spawn_function, WAIT};
use promptops_bedrock_mock::{Fault, MockBedrock, Script};
use promptops_tests::events::{base64_encoded, http_v2_event};
use promptops_tests::lambda_runtime::{Report, RuntimeApi};
use serde_json::{json, Value};
use std::time::Duration;

fn classifier() -> &'static promptops_runtime::PromptDef {
    prompts::customer_support::intent_classifier().def()
}

fn error_json(report: &Report) -> Value {
    match report {
        Report::Error {
            error_type_header, ..
        } => {
            assert_eq!(error_type_header.as_deref(), Some("unhandled"));
            report.json().expect("a JSON error")
        }
        other => panic!("expected an error, got {other:?}"),
    }
}

/// The `event` names of the prompt events printed for `request_id`, checking that each carries
/// runtime `lambda` and the prompt's identity.
fn events_for(events: &[Value], request_id: &str) -> Vec<String> {
    events
        .iter()
        .filter(|event| event["request_id"] == request_id && event["target"] == "promptops")
        .map(|event| {
            assert_eq!(event["runtime"], "lambda", "{event}");
            assert_eq!(event["prompt_id"], classifier().id, "{event}");
            event["event"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_serves_direct_http_and_bad_events_over_the_runtime_api() {
    let mut api = RuntimeApi::start().await.unwrap();
    let function = spawn_function(&api, &[("PROMPTOPS_MODEL", "local")]);

    // 1. A direct invocation.
    let event = json!({"message": "I was charged twice, I want a refund"});
    let report = api.invoke("e2e-direct-1", &event, WAIT).await;
    assert_eq!(
        response_json(&report),
        json!({
            "prompt_id": classifier().id,
            "prompt_version": classifier().version,
            "prompt_source": "compiled",
            "content_hash": classifier().content_hash,
            "intent": "billing",
            "request_id": "e2e-direct-1",
        })
    );

    // 2. A Function URL event, base64 body.
    let event = base64_encoded(http_v2_event(
        "POST",
        "/",
        "",
        Some(r#"{"message": "The app crashes on login"}"#),
    ));
    let http = response_json(&api.invoke("e2e-http-2", &event, WAIT).await);
    assert_eq!(http["statusCode"], 200, "{http}");
    assert_eq!(http["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(http["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["intent"], "technical");
    assert_eq!(body["request_id"], "e2e-http-2");
    assert_eq!(body["content_hash"], classifier().content_hash);

    // 3. A bad direct invocation: posted to /error with the typed errorType.
    let event = json!({"message": 42});
    let error = error_json(&api.invoke("e2e-bad-3", &event, WAIT).await);
    assert_eq!(error["errorType"], "BadRequest");
    assert_eq!(
        error["errorMessage"],
        "field `message` must be a string, got a number"
    );

    // 4. An oversized message behind a Function URL: a 413 response, not a function error.
    let body = json!({ "message": "x".repeat(promptops_lambda::MAX_MESSAGE_BYTES + 1) });
    let event = http_v2_event("POST", "/", "", Some(&body.to_string()));
    let http = response_json(&api.invoke("e2e-big-4", &event, WAIT).await);
    assert_eq!(http["statusCode"], 413);
    let body: Value = serde_json::from_str(http["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["error"], "PayloadTooLarge");

    // 5. A payload that is not JSON at all: lambda_runtime refuses it, the process lives on.
    api.enqueue_raw("e2e-garbage-5", b"not json".to_vec());
    let report = api.next_outcome(WAIT).await.expect("an answer");
    assert!(
        matches!(&report, Report::Error { request_id, .. } if request_id == "e2e-garbage-5"),
        "{report:?}"
    );

    // 6. Still serving after the errors.
    let event =
        json!({"message": "Can I get a demo of the enterprise plan?", "context": "first contact"});
    let done = response_json(&api.invoke("e2e-direct-6", &event, WAIT).await);
    assert_eq!(done["intent"], "sales");

    let events = printed_events(function).await;
    for id in ["e2e-direct-1", "e2e-http-2", "e2e-direct-6"] {
        assert_eq!(
            events_for(&events, id),
            ["prompt_invoked", "prompt_completed"],
            "{id}: {events:#?}"
        );
    }
    for id in ["e2e-bad-3", "e2e-big-4"] {
        assert_eq!(events_for(&events, id), ["request_rejected"], "{id}");
    }
    let completed = events
        .iter()
        .find(|e| e["request_id"] == "e2e-direct-1" && e["event"] == "prompt_completed")
        .unwrap();
    assert_eq!(completed["label"], "billing");
    assert_eq!(completed["backend"], "local");
    // No message text in the logs.
    for event in &events {
        let line = event.to_string();
        assert!(!line.contains("charged twice"), "{line}");
        assert!(!line.contains("crashes on login"), "{line}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn binary_calls_bedrock_and_reports_model_errors() {
    let mock = MockBedrock::start().await.unwrap();
    let model_id = classifier().model_id.as_str();
    mock.script(model_id, Script::answer("retention"));

    let missing = std::env::temp_dir().join("promptops-lambda-no-such-aws-file");
    let missing = missing.to_string_lossy().into_owned();
    let endpoint = mock.endpoint_url();
    let mut api = RuntimeApi::start().await.unwrap();
    let function = spawn_function(
        &api,
        &[
            ("PROMPTOPS_MODEL", "bedrock"),
            ("PROMPTOPS_MAX_ATTEMPTS", "1"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDLAMBDATEST"),
            ("AWS_SECRET_ACCESS_KEY", "lambda-test-secret"),
            ("AWS_SESSION_TOKEN", "lambda-test-token"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &endpoint),
            ("AWS_CONFIG_FILE", &missing),
            ("AWS_SHARED_CREDENTIALS_FILE", &missing),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );

    let event = json!({"message": "I am leaving for a competitor"});
    let done = response_json(&api.invoke("e2e-bedrock-1", &event, WAIT).await);
    assert_eq!(done["intent"], "retention");
    let requests = mock.requests_for(model_id);
    assert_eq!(requests.len(), 1);
    assert!(requests[0].signed, "the SDK signed the call");

    mock.script(model_id, Script::always(Fault::AccessDenied));
    let event = json!({"message": "hello"});
    let error = error_json(&api.invoke("e2e-bedrock-2", &event, WAIT).await);
    assert_eq!(error["errorType"], "ModelError");
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("AccessDeniedException"), "{message}");

    // A model slower than the function's timeout: the binary passes Lambda's deadline on, so
    // it answers a timed-out ModelError before the deadline instead of being killed silently.
    mock.script(
        model_id,
        Script::answer("billing").latency(Duration::from_secs(30)),
    );
    let started = std::time::Instant::now();
    let event = json!({"message": "refund please"}).to_string().into_bytes();
    api.enqueue_with_timeout("e2e-bedrock-3", event, Duration::from_millis(1500));
    let report = api
        .next_outcome(WAIT)
        .await
        .expect("an answer before the deadline");
    let elapsed = started.elapsed();
    let error = error_json(&report);
    assert_eq!(error["errorType"], "ModelError", "{error}");
    assert!(
        error["errorMessage"]
            .as_str()
            .unwrap()
            .contains("timed out"),
        "{error}"
    );
    assert!(
        elapsed < Duration::from_millis(1500),
        "answered after {elapsed:?}"
    );

    let events = printed_events(function).await;
    assert_eq!(
        events_for(&events, "e2e-bedrock-1"),
        ["prompt_invoked", "prompt_completed"]
    );
    assert_eq!(
        events_for(&events, "e2e-bedrock-3"),
        ["prompt_invoked", "prompt_failed"]
    );
    assert_eq!(
        events_for(&events, "e2e-bedrock-2"),
        ["prompt_invoked", "prompt_failed"]
    );
    let failed = events
        .iter()
        .find(|e| e["request_id"] == "e2e-bedrock-2" && e["event"] == "prompt_failed")
        .unwrap();
    assert_eq!(failed["backend"], "bedrock-converse");
    assert_eq!(failed["error"], "rejected");
    assert_eq!(failed["error_code"], "AccessDeniedException");
}

/// Issue 26: local emulators send a deadline that is no timestamp (cargo-lambda 1.9.2's
/// `600000`, a duration; awslambdarpc's `0`). Read as one, it lies in 1970 and left the model
/// no time: every call failed as timed out. Now it is ignored, said once, and the call runs
/// with the configured timeouts; a real deadline still cuts a slow model short.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_emulators_deadline_is_no_deadline_and_is_reported_once() {
    let mock = MockBedrock::start().await.unwrap();
    let model_id = classifier().model_id.as_str();
    let missing = std::env::temp_dir().join("promptops-lambda-no-such-aws-file");
    let missing = missing.to_string_lossy().into_owned();
    let endpoint = mock.endpoint_url();
    let mut api = RuntimeApi::start().await.unwrap();
    let function = spawn_function(
        &api,
        &[
            ("PROMPTOPS_MODEL", "bedrock"),
            ("PROMPTOPS_MAX_ATTEMPTS", "1"),
            ("AWS_REGION", "us-east-1"),
            ("AWS_ACCESS_KEY_ID", "AKIDLAMBDATEST"),
            ("AWS_SECRET_ACCESS_KEY", "lambda-test-secret"),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", &endpoint),
            ("AWS_CONFIG_FILE", &missing),
            ("AWS_SHARED_CREDENTIALS_FILE", &missing),
            ("AWS_EC2_METADATA_DISABLED", "true"),
        ],
    );
    // A model that takes a moment: with the 1970 deadline it never got the chance.
    mock.script(
        model_id,
        Script::answer("billing").latency(Duration::from_millis(300)),
    );
    for (id, deadline_ms) in [("emu-600000", 600_000), ("emu-zero", 0)] {
        let event = json!({"message": "I was charged twice this month"});
        api.enqueue_with_raw_deadline(id, event.to_string().into_bytes(), deadline_ms);
        let report = api.next_outcome(WAIT).await.expect("an answer");
        let done = response_json(&report);
        assert_eq!(done["intent"], "billing", "{id}: {done}");
        assert_eq!(done["request_id"], id);
    }
    // A real deadline keeps working as before: 1 s for a 30 s model is a timed-out ModelError
    // before the deadline.
    mock.script(
        model_id,
        Script::answer("billing").latency(Duration::from_secs(30)),
    );
    let started = std::time::Instant::now();
    let event = json!({"message": "refund please"}).to_string().into_bytes();
    api.enqueue_with_timeout("real-deadline", event, Duration::from_millis(1000));
    let error = error_json(&api.next_outcome(WAIT).await.expect("an answer"));
    assert_eq!(error["errorType"], "ModelError", "{error}");
    assert!(started.elapsed() < Duration::from_millis(1000));

    let events = printed_events(function).await;
    let ignored: Vec<&Value> = events
        .iter()
        .filter(|event| event["event"] == "lambda_deadline_ignored")
        .collect();
    assert_eq!(ignored.len(), 1, "once per process: {events:#?}");
    assert_eq!(ignored[0]["deadline_ms"], 600_000);
    assert_eq!(ignored[0]["reason"], "before_start");
    assert_eq!(ignored[0]["request_id"], "emu-600000");
    assert_eq!(ignored[0]["runtime"], "lambda");
    assert_eq!(ignored[0]["target"], "promptops");
}
