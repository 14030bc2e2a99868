//! The built `promptops-registry-lambda` under cargo-lambda's own emulator (`cargo lambda
//! watch`), invoked with `cargo lambda invoke` and the README's Function URL event files and
//! environment file: push as an author, promote as a releaser, resolve as anyone; on the
//! embedded store, and on DynamoDB + S3 (moto).

#[path = "common/moto.rs"]
mod moto;

use std::path::{Path, PathBuf};

use promptops_tests::cargo_lambda::{Invoked, Watch};
use promptops_tests::moto::Moto;
use serde_json::Value;

fn events_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("events")
}

/// Status and JSON body of a Function URL answer.
fn http(invoked: &Invoked) -> (u64, Value) {
    let response = invoked.json();
    let status = response["statusCode"].as_u64().unwrap_or_default();
    let body = response["body"].as_str().unwrap_or_default();
    let body = serde_json::from_str(body).unwrap_or_else(|err| panic!("{err}: {response}"));
    (status, body)
}

/// The README's walk through the event files, with the README's environment file and the
/// store settings in `store` in its place.
fn lifecycle(what: &str, store: &[(&str, String)]) {
    let Some(watch) = Watch::start(
        what,
        "promptops-registry",
        "promptops-registry-lambda",
        Path::new(env!("CARGO_BIN_EXE_promptops-registry-lambda")),
        &events_dir().join("local.env"),
        store,
    ) else {
        return;
    };
    let stderr = || watch.function_stderr();

    let (status, body) = http(&watch.invoke(&events_dir().join("push.json")));
    assert_eq!(status, 201, "{body} {:?}", stderr());
    assert_eq!(body["prompt_id"], "greeting");
    assert_eq!(body["status"], "draft");

    let (status, body) = http(&watch.invoke(&events_dir().join("promote.json")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "stable");
    assert_eq!(body["previous_stable"], Value::Null);

    let (status, body) = http(&watch.invoke(&events_dir().join("get.json")));
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["prompt_id"], "greeting");
    assert_eq!(body["version"], "1.0.0");
    assert_eq!(body["status"], "stable");
    assert_eq!(body["content"], "Hello {{ name }}, welcome aboard.");

    // The push again is a replay: 200, nothing new.
    let (status, body) = http(&watch.invoke(&events_dir().join("push.json")));
    assert_eq!(status, 200, "{body}");
}

#[test]
fn function_url_events_under_cargo_lambda_watch_on_the_embedded_store() {
    let dir = promptops_tests::TempDir::new("registry-watch");
    let store = format!("sqlite:{}", dir.join("registry.db").display());
    lifecycle(
        "promptops-registry-lambda (SQLite) under cargo lambda watch",
        &[("PROMPTOPS_REGISTRY_STORE", store)],
    );
}

#[test]
fn function_url_events_under_cargo_lambda_watch_on_dynamodb_and_s3() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let Some(moto) = runtime.block_on(Moto::start(moto::WHAT)) else {
        return;
    };
    let store = runtime.block_on(moto::fresh_store(&moto));
    lifecycle(
        "promptops-registry-lambda (DynamoDB + S3) under cargo lambda watch",
        &[
            ("DYNAMODB_TABLE", store.table().to_owned()),
            ("S3_BUCKET", store.bucket().to_owned()),
            ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
            ("AWS_REGION", "us-east-1".to_owned()),
            ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
            ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
            ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ],
    );
}
