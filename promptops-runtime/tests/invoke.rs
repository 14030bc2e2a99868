//! End-to-end calls: the real `aws-sdk-bedrockruntime` client against the local
//! Bedrock-compatible server, plus the local model; retries, timeouts, labels and events.

mod common;
/// Structured outputs: forced tool, repair turns, text answers.
mod structured;
#[path = "common/ticket_triage.rs"]
mod ticket_triage;

use std::sync::Arc;
use std::time::{Duration, Instant};

use common::intent_classifier::{self, Intent, SONNET};
use common::support_reply;
use promptops_bedrock_mock::{Fault, MockBedrock, Operation, Script};
use promptops_runtime::bedrock::sdk;
use promptops_runtime::events::EventCapture;
use promptops_runtime::{
    BedrockApi, BedrockModel, CallOptions, InvokeError, NoVars, Prompt, RetryPolicy, Runtime,
};
use serde_json::Value;

const SECRET: &str = "ACCT-7731-SECRET";
/// A second Bedrock model, for the per-call model override.
const TITAN: &str = "amazon.titan-text-express-v1";

fn fast_retry() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        timeout_attempts: 2,
        base_delay: Duration::from_millis(2),
        max_delay: Duration::from_millis(20),
        attempt_timeout: Duration::from_secs(5),
        total_timeout: Duration::from_secs(20),
    }
}

fn bedrock_runtime(mock: &MockBedrock, api: BedrockApi) -> Runtime {
    let conf = sdk::Config::builder()
        .behavior_version(sdk::config::BehaviorVersion::latest())
        .region(sdk::config::Region::new("us-east-1"))
        .endpoint_url(mock.endpoint_url())
        .credentials_provider(sdk::config::Credentials::new(
            "AKIDTESTTESTTEST",
            "test-secret-key",
            None,
            None,
            "promptops-tests",
        ))
        .build();
    Runtime::new(Arc::new(BedrockModel::from_conf(conf, api)))
        .with_retry(fast_retry())
        .with_name("test")
}

fn classifier() -> Prompt<intent_classifier::Spec> {
    intent_classifier::handle()
}

fn reply() -> Prompt<support_reply::Spec> {
    support_reply::handle()
}

fn reply_vars(message: &str) -> support_reply::Vars<'_> {
    support_reply::Vars {
        customer_name: "Ada",
        account_number: SECRET,
        message,
        tone: None,
        items: None,
        max_words: None,
    }
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-12
}

#[tokio::test]
async fn converse_classifies_and_reports_usage() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer(" Billing.\n").usage(120, 1));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);

    let done = classifier()
        .invoke_with_input(&runtime, &NoVars, "I was charged twice this month")
        .await
        .unwrap();
    assert_eq!(done.output, Intent::Billing);
    assert_eq!(done.text, " Billing.\n");
    assert_eq!(done.attempts, 1);
    assert_eq!(done.backend, "bedrock-converse");
    assert_eq!(
        (done.input_tokens, done.output_tokens),
        (Some(120), Some(1))
    );
    // claude-3-5-sonnet: $0.003 in / $0.015 out per 1k tokens.
    assert!(close(
        done.cost_usd.unwrap(),
        120.0 * 0.003 / 1000.0 + 0.015 / 1000.0
    ));
    assert!(done.provider_request_id.unwrap().starts_with("mock-"));

    let requests = mock.requests();
    assert_eq!(requests.len(), 1);
    let request = &requests[0];
    assert_eq!(request.operation, Operation::Converse);
    assert_eq!(
        request.model_id, SONNET,
        "the ':' in the id survives URL encoding"
    );
    assert!(
        request.signed,
        "the SDK signs with the static test credentials"
    );
    let body = &request.body;
    assert!(body["system"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("You are a customer support intent classifier."));
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(
        body["messages"][0]["content"][0]["text"],
        "I was charged twice this month"
    );
    assert_eq!(body["inferenceConfig"]["maxTokens"], 5);
    assert_eq!(body["inferenceConfig"]["temperature"], 0.0);
}

#[tokio::test]
async fn invoke_model_anthropic_messages_body() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("retention").usage(90, 1));
    let runtime = bedrock_runtime(&mock, BedrockApi::InvokeModel);

    let done = classifier()
        .invoke_with_input(&runtime, &NoVars, "please cancel my plan")
        .await
        .unwrap();
    assert_eq!(done.output, Intent::Retention);
    assert_eq!(done.backend, "bedrock-invoke");
    assert_eq!((done.input_tokens, done.output_tokens), (Some(90), Some(1)));

    let request = &mock.requests()[0];
    assert_eq!(request.operation, Operation::InvokeModel);
    let body = &request.body;
    assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
    assert_eq!(body["max_tokens"], 5);
    assert_eq!(body["temperature"], 0.0);
    assert!(body["system"]
        .as_str()
        .unwrap()
        .contains("Respond with only the single category label"));
    assert_eq!(body["messages"][0]["role"], "user");
    assert_eq!(body["messages"][0]["content"][0]["type"], "text");
    assert_eq!(
        body["messages"][0]["content"][0]["text"],
        "please cancel my plan"
    );
}

#[tokio::test]
async fn invoke_model_titan_text_body() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(
        TITAN,
        Script::answer("Dear Ada, your order ships today.").usage(40, 7),
    );
    let runtime = bedrock_runtime(&mock, BedrockApi::InvokeModel);
    let options = CallOptions {
        model_id: Some(TITAN.to_owned()),
        inference: promptops_runtime::InferenceOverride {
            max_tokens: Some(64),
            ..Default::default()
        },
        ..CallOptions::default()
    };

    let done = reply()
        .invoke_with(&runtime, &reply_vars("Where is my order?"), None, &options)
        .await
        .unwrap();
    assert_eq!(done.output, "Dear Ada, your order ships today.");
    assert_eq!(done.model_id, TITAN);
    // amazon.titan-text-express: $0.0002 in / $0.0006 out per 1k tokens.
    assert!(close(
        done.cost_usd.unwrap(),
        (40.0 * 0.0002 + 7.0 * 0.0006) / 1000.0
    ));

    let requests = mock.requests_for(TITAN);
    assert_eq!(requests.len(), 1);
    let body = &requests[0].body;
    let input = body["inputText"].as_str().unwrap();
    assert!(input.starts_with("You write friendly replies for ACME support.\n\nCustomer Ada"));
    assert!(input.contains("Where is my order?"));
    let config = &body["textGenerationConfig"];
    assert_eq!(config["maxTokenCount"], 64, "per-call override wins");
    assert_eq!(config["topP"], 0.9_f32 as f64);
    assert_eq!(config["stopSequences"][0], "\n\nCustomer:");
}

#[tokio::test]
async fn throttling_is_retried_until_success() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("technical").throttle(2));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);

    let done = classifier()
        .invoke_with_input(&runtime, &NoVars, "the app crashes")
        .await
        .unwrap();
    assert_eq!(done.output, Intent::Technical);
    assert_eq!(done.attempts, 3);
    let outcomes: Vec<String> = mock.requests().into_iter().map(|r| r.outcome).collect();
    assert_eq!(
        outcomes,
        ["ThrottlingException", "ThrottlingException", "ok"],
        "SDK retries are off: every attempt is ours"
    );
}

#[tokio::test]
async fn transient_5xx_and_not_ready_are_retried() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(
        SONNET,
        Script::answer("sales")
            .fail_first(1, Fault::ServiceUnavailable)
            .fail_first(1, Fault::InternalServer)
            .fail_first(1, Fault::ModelNotReady),
    );
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let done = classifier()
        .invoke_with_input(&runtime, &NoVars, "pricing?")
        .await
        .unwrap();
    assert_eq!((done.output, done.attempts), (Intent::Sales, 4));
}

#[tokio::test]
async fn retries_exhausted_reports_the_attempts() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::Throttling));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse).with_retry(RetryPolicy {
        max_attempts: 3,
        ..fast_retry()
    });
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::Throttled { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.kind(), "throttled");
    assert_eq!(mock.requests().len(), 3);

    mock.script(SONNET, Script::always(Fault::ServiceUnavailable));
    mock.clear_requests();
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::Unavailable { attempts: 3, .. }),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 3);
}

#[tokio::test]
async fn validation_and_access_errors_fail_fast() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::Validation));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    match &err {
        InvokeError::Rejected { attempts, code, .. } => {
            assert_eq!((*attempts, code.as_str()), (1, "ValidationException"));
        }
        other => panic!("expected Rejected, got {other:?}"),
    }
    assert_eq!(mock.requests().len(), 1);

    mock.script(SONNET, Script::always(Fault::AccessDenied));
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, InvokeError::Rejected { attempts: 1, code, .. } if code == "AccessDeniedException"),
        "{err:?}"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn model_timeout_gets_a_bounded_retry() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::ModelTimeout));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    assert!(
        matches!(err, InvokeError::TimedOut { attempts: 2, .. }),
        "max_attempts is 4 but timeouts stop at 2: {err:?}"
    );
    assert_eq!(mock.requests().len(), 2);
}

#[tokio::test]
async fn a_slow_attempt_times_out_client_side() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(
        SONNET,
        Script::answer("billing").latency(Duration::from_secs(3)),
    );
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse).with_retry(RetryPolicy {
        attempt_timeout: Duration::from_millis(150),
        ..fast_retry()
    });
    let started = Instant::now();
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    let elapsed = started.elapsed();
    assert!(
        matches!(err, InvokeError::TimedOut { attempts: 2, .. }),
        "{err:?}"
    );
    assert!(elapsed < Duration::from_millis(1500), "{elapsed:?}");
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
}

#[tokio::test]
async fn total_timeout_stops_the_retries() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::Throttling));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse).with_retry(RetryPolicy {
        max_attempts: 50,
        base_delay: Duration::from_millis(40),
        max_delay: Duration::from_millis(40),
        total_timeout: Duration::from_millis(400),
        ..fast_retry()
    });
    let started = Instant::now();
    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    assert!(started.elapsed() < Duration::from_millis(2000));
    // Usually the budget runs out between attempts (the last error, throttled, is reported);
    // if it runs out during an attempt, that attempt is cut short and the call timed out.
    assert!(matches!(err.kind(), "throttled" | "timed_out"), "{err}");
    let attempts = err.attempts();
    assert!((2..50).contains(&attempts), "{attempts}");
    let served = mock.requests().len() as u32;
    assert!(
        served == attempts || served + 1 == attempts,
        "{served} vs {attempts}"
    );
}

#[tokio::test]
async fn a_label_outside_the_set_is_a_typed_error_with_the_raw_text() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("I think this is about billing"));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let err = classifier()
        .invoke_with_input(&runtime, &NoVars, "refund?")
        .await
        .unwrap_err();
    match &err {
        InvokeError::BadOutput {
            raw,
            expected,
            attempts,
            ..
        } => {
            assert_eq!(raw, "I think this is about billing");
            assert_eq!(expected.len(), 5);
            assert_eq!(*attempts, 1);
        }
        other => panic!("expected BadOutput, got {other:?}"),
    }
    let events = capture.events();
    assert_eq!(events.len(), 2);
    assert_eq!(events[1]["event"], "prompt_failed");
    assert_eq!(events[1]["error"], "bad_output");
}

#[tokio::test]
async fn malformed_json_is_bad_output_and_not_retried() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::MalformedJson));
    for api in [BedrockApi::Converse, BedrockApi::InvokeModel] {
        mock.clear_requests();
        let runtime = bedrock_runtime(&mock, api);
        let err = classifier()
            .invoke_with_input(&runtime, &NoVars, "hello")
            .await
            .unwrap_err();
        assert!(
            matches!(err, InvokeError::BadOutput { attempts: 1, .. }),
            "{api:?}: {err:?}"
        );
        assert_eq!(mock.requests().len(), 1);
    }
}

fn field<'a>(event: &'a Value, name: &str) -> &'a Value {
    event
        .get(name)
        .unwrap_or_else(|| panic!("event has no `{name}`: {event}"))
}

#[tokio::test]
async fn events_carry_identity_usage_and_cost() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("billing").usage(200, 1).throttle(1));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    let options = CallOptions::with_request_id("req-42");
    classifier()
        .invoke_with(&runtime, &NoVars, Some("refund please"), &options)
        .await
        .unwrap();

    let events = capture.events();
    assert_eq!(events.len(), 2, "{}", capture.text());
    for event in &events {
        assert_eq!(
            field(event, "prompt_id"),
            "customer-support.intent-classifier"
        );
        assert_eq!(
            field(event, "prompt_version"),
            "2",
            "versions are strings on the wire"
        );
        assert_eq!(field(event, "prompt_owner"), "data-platform-team");
        assert_eq!(field(event, "prompt_model"), "claude-3-5-sonnet");
        assert_eq!(field(event, "model_id"), SONNET);
        assert_eq!(field(event, "backend"), "bedrock-converse");
        assert_eq!(field(event, "request_id"), "req-42");
        assert_eq!(field(event, "runtime"), "test");
        assert_eq!(field(event, "target"), "promptops");
    }
    assert_eq!(field(&events[0], "event"), "prompt_invoked");
    assert_eq!(field(&events[0], "level"), "INFO");
    let done = &events[1];
    assert_eq!(field(done, "event"), "prompt_completed");
    assert_eq!(field(done, "attempts"), 2);
    assert_eq!(field(done, "input_tokens"), 200);
    assert_eq!(field(done, "output_tokens"), 1);
    assert_eq!(field(done, "label"), "billing");
    assert!(field(done, "latency_ms").is_u64());
    let cost = field(done, "cost_usd").as_f64().unwrap();
    assert!(close(cost, (200.0 * 0.003 + 0.015) / 1000.0), "{cost}");
    assert!(field(done, "provider_request_id")
        .as_str()
        .unwrap()
        .starts_with("mock-"));
    // Nothing from the conversation itself.
    assert!(!capture.text().contains("refund please"));
}

#[tokio::test]
async fn failures_emit_prompt_failed_with_the_kind_and_code() {
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::always(Fault::Validation));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let _ = classifier()
        .invoke_with_input(&runtime, &NoVars, "hello")
        .await
        .unwrap_err();
    let events = capture.events();
    assert_eq!(events.len(), 2);
    let failed = &events[1];
    assert_eq!(field(failed, "event"), "prompt_failed");
    assert_eq!(field(failed, "level"), "WARN");
    assert_eq!(field(failed, "error"), "rejected");
    assert_eq!(field(failed, "error_code"), "ValidationException");
    assert_eq!(field(failed, "attempts"), 1);
    assert!(failed.get("input_tokens").is_none());
}

#[tokio::test]
async fn sensitive_values_never_reach_events_or_errors() {
    let mock = MockBedrock::start().await.unwrap();
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);

    // 1. The service's validation message echoes the request text, secret included.
    mock.script(SONNET, Script::always(Fault::Validation));
    let err = reply()
        .invoke(&runtime, &reply_vars("hi"))
        .await
        .unwrap_err();
    let echoed = mock.requests()[0].body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .to_owned();
    assert!(
        echoed.contains(SECRET),
        "the secret was really sent to the model"
    );
    for text in [err.to_string(), format!("{err:?}")] {
        assert!(!text.contains(SECRET), "{text}");
        assert!(text.contains("[redacted]"), "{text}");
    }

    // 2. A successful call whose answer repeats the secret.
    mock.script(
        SONNET,
        Script::answer(format!("Your account {SECRET} is fine.")),
    );
    let done = reply()
        .invoke(&runtime, &reply_vars("status?"))
        .await
        .unwrap();
    assert!(
        done.output.contains(SECRET),
        "the caller gets the answer as is"
    );

    let text = capture.text();
    assert_eq!(capture.events().len(), 4, "{text}");
    assert!(!text.contains(SECRET), "{text}");
    assert!(
        text.contains("[redacted]"),
        "the failure message is kept, redacted: {text}"
    );
}

#[tokio::test]
async fn the_local_model_needs_no_network_and_costs_nothing() {
    let runtime = Runtime::local().with_name("test");
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let cases = [
        ("I need a refund for the double charge", Intent::Billing),
        ("Login fails with error 500", Intent::Technical),
        ("Can I upgrade to the enterprise plan?", Intent::Sales),
        ("Please cancel my subscription", Intent::Retention),
        ("Hello there", Intent::Other),
    ];
    for (input, expected) in cases {
        let done = classifier()
            .invoke_with_input(&runtime, &NoVars, input)
            .await
            .unwrap();
        assert_eq!(done.output, expected, "{input}");
        assert_eq!(done.backend, "local");
        assert_eq!(done.cost_usd, Some(0.0));
    }
    let echo = reply()
        .invoke(&runtime, &reply_vars("Where is my order?"))
        .await
        .unwrap();
    assert!(
        echo.output
            .starts_with("[local model: customer-support.reply v3]"),
        "{}",
        echo.output
    );
    assert!(echo.output.contains("Where is my order?"));
    assert_eq!(capture.events().len(), 12);
    assert!(!capture.text().contains(SECRET));
}

#[tokio::test]
async fn a_render_failure_emits_prompt_failed_without_calling_the_model() {
    let broken: &'static promptops_runtime::PromptDef =
        Box::leak(Box::new(promptops_runtime::PromptDef {
            id: "tests.broken".into(),
            template: "Hello {{ nobody }}".into(),
            variables: Vec::new(),
            system: None,
            ..support_reply::DEF.clone()
        }));
    struct Broken;
    impl promptops_runtime::PromptSpec for Broken {
        type Vars<'a> = NoVars;
        type Output = String;
    }
    let mock = MockBedrock::start().await.unwrap();
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let err = Prompt::<Broken>::__new(broken)
        .invoke(&runtime, &NoVars)
        .await
        .unwrap_err();
    assert_eq!((err.kind(), err.attempts()), ("render", 0));
    let events = capture.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "prompt_failed");
    assert_eq!(events[0]["error"], "render");
    assert!(mock.requests().is_empty());

    // Callers that render themselves (batch jobs) report the same event.
    capture.clear();
    runtime.emit_render_failure(broken, &CallOptions::with_request_id("rec-7"), "bad record");
    let events = capture.events();
    assert_eq!(events.len(), 1);
    assert_eq!(events[0]["event"], "prompt_failed");
    assert_eq!(events[0]["error"], "render");
    assert_eq!(events[0]["attempts"], 0);
    assert_eq!(events[0]["request_id"], "rec-7");
    assert_eq!(events[0]["error_message"], "bad record");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn invoke_model_refuses_families_without_a_native_body() {
    let mock = MockBedrock::start().await.unwrap();
    let runtime = bedrock_runtime(&mock, BedrockApi::InvokeModel);
    let options = CallOptions {
        model_id: Some("meta.llama3-8b-instruct-v1:0".to_owned()),
        ..CallOptions::default()
    };
    let err = classifier()
        .invoke_with(&runtime, &NoVars, Some("hi"), &options)
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "config");
    assert!(mock.requests().is_empty());
}

#[tokio::test]
async fn the_local_model_classifies_the_seed_prompt_without_declared_labels() {
    // The seed file has no `output.labels`: its Output is String, the labels live in the text.
    let seed: &'static promptops_runtime::PromptDef =
        Box::leak(Box::new(promptops_runtime::PromptDef {
            labels: Vec::new(),
            ..intent_classifier::DEF.clone()
        }));
    struct Seed;
    impl promptops_runtime::PromptSpec for Seed {
        type Vars<'a> = NoVars;
        type Output = String;
    }
    let runtime = Runtime::local();
    let prompt = Prompt::<Seed>::__new(seed);
    for (input, expected) in [
        ("Why is there a second charge on my invoice?", "billing"),
        ("I want to downgrade", "retention"),
        ("Nice weather", "other"),
    ] {
        let done = prompt
            .invoke_with_input(&runtime, &NoVars, input)
            .await
            .unwrap();
        assert_eq!(done.output, expected, "{input}");
    }
    // Without the input split the template is the user turn: a readable echo.
    let echo = prompt.invoke(&runtime, &NoVars).await.unwrap();
    // (max_tokens 5 from the prompt's inference block caps the echo at five words.)
    assert_eq!(
        echo.output,
        "[local model: customer-support.intent-classifier v2] You"
    );
}

#[tokio::test]
async fn calls_are_send_so_they_can_be_spawned() {
    fn assert_send<T: Send>(value: T) -> T {
        value
    }
    let runtime = Runtime::local();
    let handle = tokio::spawn(async move {
        let vars = reply_vars("spawned");
        assert_send(reply().invoke(&runtime, &vars)).await
    });
    let done = handle.await.unwrap().unwrap();
    assert!(done.output.contains("spawned"));
}

#[tokio::test]
async fn prompts_found_at_run_time_take_variables_by_name() {
    use promptops_runtime::{DynVars, VarValue};
    let mock = MockBedrock::start().await.unwrap();
    mock.script(SONNET, Script::answer("Hello Ada"));
    let runtime = bedrock_runtime(&mock, BedrockApi::Converse);
    let def: &'static promptops_runtime::PromptDef = &support_reply::DEF;

    let vars = DynVars::new(
        def,
        [
            ("customer_name", VarValue::String("Ada")),
            ("account_number", VarValue::String(SECRET)),
            ("message", VarValue::String("hi")),
            ("max_words", VarValue::Integer(10)),
        ],
    )
    .unwrap();
    let done = runtime
        .invoke_def(def, &vars, None, &CallOptions::default())
        .await
        .unwrap();
    assert_eq!(done.output, "Hello Ada");
    let body = &mock.requests()[0].body;
    let user = body["messages"][0]["content"][0]["text"].as_str().unwrap();
    assert!(user.ends_with("Answer in at most 10 words."), "{user}");

    let err = DynVars::new(def, [("acount_number", VarValue::String("x"))]).unwrap_err();
    assert_eq!(err.name, "acount_number");
    assert!(err.declared.contains("account_number"));

    // A missing required variable is a render error, reported as an event, nothing sent.
    let (capture, subscriber) = EventCapture::new();
    let _guard = tracing::subscriber::set_default(subscriber);
    let partial = DynVars::new(def, [("customer_name", VarValue::String("Ada"))]).unwrap();
    let err = runtime
        .invoke_def(def, &partial, None, &CallOptions::default())
        .await
        .unwrap_err();
    assert_eq!(err.kind(), "render");
    assert_eq!(capture.events()[0]["error"], "render");
    assert_eq!(mock.requests().len(), 1);
}
