//! Shared by the tests that run the pipeline's Lambda binary against a local Runtime API, S3
//! on moto and Bedrock on the mock (`lambda.rs`, `hostile.rs`).

use std::time::Duration;

use promptops_tests::lambda_runtime::{FunctionCommand, Report, RuntimeApi};
use serde_json::Value;

/// How long one invocation may take.
pub const WAIT: Duration = Duration::from_secs(60);

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

/// The real `promptops-pipeline-lambda` process polling `api`, with `env` and without the
/// developer's own AWS and pipeline settings (the test's environment decides), ready to spawn.
pub fn pipeline_function(api: &RuntimeApi, env: &[(&str, String)]) -> FunctionCommand {
    FunctionCommand::new(env!("CARGO_BIN_EXE_promptops-pipeline-lambda"), api)
        .env_remove("DEFAULT_ENV")
        .env_remove("BEDROCK_MODEL_ID")
        .env_remove("BEDROCK_REGION")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("AWS_PROFILE")
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
}

/// Invokes the function once; `Ok(response)` or `Err((errorType, errorMessage))`.
pub async fn invoke(
    api: &mut RuntimeApi,
    id: &str,
    event: &Value,
) -> Result<Value, (String, String)> {
    match api.invoke(id, event, WAIT).await {
        Report::Response { body, .. } => Ok(serde_json::from_str(&body).expect("a JSON response")),
        report => {
            let body = report.json().expect("a JSON error");
            Err((
                body["errorType"].as_str().unwrap_or_default().to_owned(),
                body["errorMessage"].as_str().unwrap_or_default().to_owned(),
            ))
        }
    }
}
