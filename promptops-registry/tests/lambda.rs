//! The real `promptops-registry-lambda` binary under the real `lambda_http` loop, driven by a
//! local Lambda Runtime API with Function URL events: IAM callers map to roles, a direct
//! invoke (no authorizer) reads only, and errors stay JSON.

#[path = "common/moto.rs"]
mod moto;

use std::time::Duration;

use promptops_tests::events::{base64_encoded, http_answer, http_v2_event, with_iam_caller};
use promptops_tests::lambda_runtime::{Function, FunctionCommand, Report, RuntimeApi};
use promptops_tests::moto::Moto;
use serde_json::{json, Value};

const WAIT: Duration = Duration::from_secs(30);
const RELEASER_ARN: &str = "arn:aws:iam::123456789012:role/release-pipeline";
const AUTHOR_ARN: &str = "arn:aws:iam::123456789012:role/prompt-authors";

/// A Function URL (payload 2.0) event with a base64 body; `arn` is the signed caller, `None`
/// for no authorizer.
fn function_url_event(
    method: &str,
    path: &str,
    query: &str,
    body: Option<&str>,
    arn: Option<&str>,
) -> Value {
    let mut event = http_v2_event(method, path, query, body);
    if body.is_some() {
        event = base64_encoded(event);
    }
    match arn {
        Some(arn) => with_iam_caller(event, arn),
        None => event,
    }
}

/// The function process with the Lambda environment, the IAM role map and `store_env`.
fn spawn(api: &RuntimeApi, store_env: &[(&str, String)]) -> Function {
    FunctionCommand::new(env!("CARGO_BIN_EXE_promptops-registry-lambda"), api)
        .env(
            "PROMPTOPS_REGISTRY_IAM_ROLES",
            format!("{RELEASER_ARN}=releaser,{AUTHOR_ARN}=author"),
        )
        .env_remove("DYNAMODB_TABLE")
        .env_remove("S3_BUCKET")
        .env_remove("PROMPTOPS_REGISTRY_STORE")
        .envs(
            store_env
                .iter()
                .map(|(name, value)| (*name, value.as_str())),
        )
        .spawn()
}

/// Invokes the function with `event`; returns the Function URL response (status, JSON body).
async fn invoke(api: &mut RuntimeApi, id: &str, event: &Value) -> (u64, Value) {
    match api.invoke(id, event, WAIT).await {
        Report::Response { body, .. } => {
            http_answer(&serde_json::from_str(&body).expect("a JSON response"))
        }
        other => panic!("no response for {id}: {other:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_runs_under_lambda_http_on_the_embedded_store() {
    let dir = promptops_tests::TempDir::new("registry-lambda");
    let db = format!("sqlite:{}", dir.join("registry.db").display());
    lifecycle_through_function_url_events(&[("PROMPTOPS_REGISTRY_STORE", db)]).await;
}

/// The seed's configuration: `DYNAMODB_TABLE` and `S3_BUCKET`, with the standard AWS
/// configuration pointing both SDK clients at moto.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_router_runs_under_lambda_http_on_dynamodb_and_s3() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    lifecycle_through_function_url_events(&[
        ("DYNAMODB_TABLE", store.table().to_owned()),
        ("S3_BUCKET", store.bucket().to_owned()),
        ("AWS_ENDPOINT_URL", moto.endpoint().to_owned()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "testing".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "testing".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
    ])
    .await;
}

async fn lifecycle_through_function_url_events(store_env: &[(&str, String)]) {
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = spawn(&api, store_env);

    let push = json!({"prompt_id": "my_agent", "version": "1.0.0", "content": "Hello {{ name }}"})
        .to_string();
    // A direct invoke without an authorizer is read-only.
    let (status, body) = invoke(
        &mut api,
        "e1",
        &function_url_event("POST", "/prompts", "", Some(&push), None),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (403, Some("forbidden")),
        "{body}"
    );
    // An author pushes; an unmapped ARN is a reader.
    let (status, body) = invoke(
        &mut api,
        "e2",
        &function_url_event("POST", "/prompts", "", Some(&push), Some(AUTHOR_ARN)),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["status"], "draft");
    let promote = json!({"version": "1.0.0", "reason": "launch"}).to_string();
    let (status, _) = invoke(
        &mut api,
        "e3",
        &function_url_event(
            "POST",
            "/prompts/my_agent/promote",
            "",
            Some(&promote),
            Some("arn:aws:iam::1:role/other"),
        ),
    )
    .await;
    assert_eq!(status, 403);
    let (status, body) = invoke(
        &mut api,
        "e4",
        &function_url_event(
            "POST",
            "/prompts/my_agent/promote",
            "",
            Some(&promote),
            Some(RELEASER_ARN),
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["previous_stable"], Value::Null);
    // Anyone may resolve in production, by the seed's spelling too.
    let (status, body) = invoke(
        &mut api,
        "e5",
        &function_url_event(
            "GET",
            "/prompts/my_agent_v1.0.0",
            "mode=production",
            None,
            None,
        ),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["content"], "Hello {{ name }}");
    // The history names the IAM caller.
    let (_, body) = invoke(
        &mut api,
        "e6",
        &function_url_event("GET", "/prompts/my_agent/history", "", None, None),
    )
    .await;
    assert_eq!(body["events"][0]["actor"], RELEASER_ARN);
    // Errors are JSON answers, not function errors.
    let (status, body) = invoke(
        &mut api,
        "e7",
        &function_url_event("GET", "/prompts/my_agent", "mode=prod", None, None),
    )
    .await;
    assert_eq!((status, body["code"].as_str()), (400, Some("bad_request")));
    let (status, body) = invoke(
        &mut api,
        "e8",
        &function_url_event("DELETE", "/prompts/my_agent", "", None, Some(RELEASER_ARN)),
    )
    .await;
    assert_eq!(
        (status, body["code"].as_str()),
        (405, Some("method_not_allowed"))
    );

    function.stop().await;
}
