//! Shared by the pipeline's Lambda tests: moto for S3, the local Runtime API, S3 events, and
//! the function process.
#![allow(dead_code)]

pub mod moto;

pub use promptops_tests::lambda_runtime as runtime_api;

use std::process::Stdio;
use std::time::Duration;

use promptops_tests::lambda_runtime::{lambda_env, Report, RuntimeApi};
use serde_json::{json, Value};
use tokio::process::{Child, Command};

/// How long one invocation may take.
pub const WAIT: Duration = Duration::from_secs(60);

/// A key written the way S3 notifications write it: form-encoded (`+` for a space, `%XX` for
/// everything but unreserved characters and `/`).
pub fn s3_event_key(key: &str) -> String {
    let mut out = String::new();
    for byte in key.bytes() {
        match byte {
            b' ' => out.push('+'),
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'/' | b'*' => {
                out.push(byte as char)
            }
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// One S3 `ObjectCreated:Put` record.
pub fn s3_record(bucket: &str, key: &str) -> Value {
    json!({
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": "us-east-1",
        "eventTime": "2026-11-26T01:00:00.000Z",
        "eventName": "ObjectCreated:Put",
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": "prompt-inputs",
            "bucket": {"name": bucket, "arn": format!("arn:aws:s3:::{bucket}")},
            "object": {"key": s3_event_key(key), "size": 100, "sequencer": "0055AED6DCD90281E5"}
        }
    })
}

/// The environment pointing the function's SDK clients at moto (S3) and the Bedrock mock.
pub fn aws_env(moto_endpoint: &str, bedrock_endpoint: &str) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL_S3", moto_endpoint.to_owned()),
        (
            "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
            bedrock_endpoint.to_owned(),
        ),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        // Short backoff: throttling is retried in milliseconds, not seconds.
        ("PROMPTOPS_BACKOFF_BASE_MS", "5".to_owned()),
        ("PROMPTOPS_BACKOFF_MAX_MS", "20".to_owned()),
    ]
}

/// The real `promptops-pipeline-lambda` process polling `api`.
pub fn spawn(api: &RuntimeApi, env: &[(&str, String)]) -> Child {
    spawn_command(
        Command::new(env!("CARGO_BIN_EXE_promptops-pipeline-lambda")),
        api,
        env,
    )
}

/// The function process under `prlimit --as=LIMIT` (util-linux; `prlimit` execs the binary, so
/// the child's pid is the function's): a memory blow-up is a failed allocation, not a swapped
/// test machine.
pub fn spawn_limited(api: &RuntimeApi, env: &[(&str, String)], address_space: u64) -> Child {
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={address_space}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_promptops-pipeline-lambda"));
    spawn_command(command, api, env)
}

/// Peak resident set of a running process in KiB (`VmHWM` in `/proc/PID/status`).
pub fn peak_rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn spawn_command(mut command: Command, api: &RuntimeApi, env: &[(&str, String)]) -> Child {
    command
        .envs(lambda_env(&api.address()))
        .env_remove("DEFAULT_ENV")
        .env_remove("BEDROCK_MODEL_ID")
        .env_remove("BEDROCK_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().map(|(k, v)| (*k, v.as_str())))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .kill_on_drop(true)
        .spawn()
        .expect("spawn promptops-pipeline-lambda")
}

/// Invokes the function once; `Ok(response)` or `Err((errorType, errorMessage))`.
pub async fn invoke(
    api: &mut RuntimeApi,
    id: &str,
    event: &Value,
) -> Result<Value, (String, String)> {
    api.enqueue(id, event);
    match api.next_outcome(WAIT).await {
        Some(Report::Response { body, .. }) => {
            Ok(serde_json::from_str(&body).expect("a JSON response"))
        }
        Some(report @ Report::Error { .. }) => {
            let body = report.json().expect("a JSON error");
            Err((
                body["errorType"].as_str().unwrap_or_default().to_owned(),
                body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            ))
        }
        other => panic!("no outcome for {id}: {other:?}"),
    }
}

/// An API Gateway HTTP API (payload 2.0) request event.
pub fn http_event(method: &str, path: &str, query: &str, body: Option<&str>) -> Value {
    let mut event = json!({
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": path,
        "rawQueryString": query,
        "headers": {"content-type": "application/json", "host": "api.example.com"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "api",
            "domainName": "api.example.com",
            "domainPrefix": "api",
            "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "203.0.113.7", "userAgent": "test"},
            "requestId": "req",
            "routeKey": "$default",
            "stage": "$default",
            "time": "26/Nov/2026:01:00:00 +0000",
            "timeEpoch": 1_795_000_000_000_u64
        },
        "isBase64Encoded": false
    });
    if let Some(body) = body {
        event["body"] = json!(body);
    }
    event
}

/// Status and JSON body of an HTTP API response.
pub fn http_answer(response: &Value) -> (u64, Value) {
    let status = response["statusCode"].as_u64().unwrap_or_default();
    let body = response["body"].as_str().unwrap_or_default();
    (status, serde_json::from_str(body).unwrap_or(Value::Null))
}
