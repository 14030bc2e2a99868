//! The built `promptops-lambda` under cargo-lambda's own emulator (`cargo lambda watch`),
//! invoked with `cargo lambda invoke` and the README's event and environment files (issue 26:
//! the emulator's deadline, `600000`, used to fail every invocation as timed out).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use promptops_tests::cargo_lambda::Watch;
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

fn classifier() -> &'static promptops_runtime::PromptDef {
    prompts::customer_support::intent_classifier().def()
}

#[test]
fn direct_and_function_url_events_under_cargo_lambda_watch() {
    let Some(watch) = Watch::start(
        "promptops-lambda under cargo lambda watch",
        "promptops-lambda",
        "promptops-lambda",
        Path::new(env!("CARGO_BIN_EXE_promptops-lambda")),
        &events_dir().join("local.env"),
        &[],
    ) else {
        return;
    };

    let direct = watch.invoke(&events_dir().join("direct.json")).json();
    assert_eq!(direct["intent"], "billing", "{direct}");
    assert_eq!(direct["prompt_id"], classifier().id);
    assert_eq!(direct["prompt_source"], "compiled");
    assert_eq!(direct["content_hash"], classifier().content_hash);

    let http = watch.invoke(&events_dir().join("function-url.json")).json();
    assert_eq!(http["statusCode"], 200, "{http}");
    assert_eq!(http["headers"]["content-type"], "application/json");
    let body: Value = serde_json::from_str(http["body"].as_str().unwrap_or_default())
        .unwrap_or_else(|err| panic!("{err}: {http}"));
    assert_eq!(body["intent"], "technical", "{body}");

    // The emulator's own Function URL endpoint (what `curl` reaches): it builds the payload v2
    // event itself and needs the v2 answer's `cookies` field.
    let (status, text) = watch.post_function_url(r#"{"message": "What does the pro plan cost?"}"#);
    assert_eq!(status, 200, "{text}");
    let body: Value = serde_json::from_str(&text).unwrap_or_else(|err| panic!("{err}: {text}"));
    assert_eq!(body["intent"], "sales", "{body}");

    // The emulator's deadline was ignored, and said so once.
    let started = Instant::now();
    let events = loop {
        let events = watch.function_events();
        let completed = events
            .iter()
            .filter(|e| e["event"] == "prompt_completed")
            .count();
        if completed == 3 || started.elapsed() > Duration::from_secs(10) {
            break events;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let ignored: Vec<&Value> = events
        .iter()
        .filter(|e| e["event"] == "lambda_deadline_ignored")
        .collect();
    assert_eq!(ignored.len(), 1, "{events:#?}");
    assert_eq!(
        ignored[0]["deadline_ms"], 600_000,
        "cargo-lambda 1.9.2's value"
    );
    assert_eq!(ignored[0]["reason"], "before_start");
    let failed = events
        .iter()
        .filter(|e| e["event"] == "prompt_failed")
        .count();
    assert_eq!(failed, 0, "{events:#?}");
}
