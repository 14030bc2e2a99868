//! `promptops-pipeline-lambda`: the pipeline as one AWS Lambda function, for S3 notifications,
//! Step Functions task inputs and the HTTP API. Configuration (README, "Deployment contract"):
//! `PIPELINE_ENV` and `BUCKET` (required), `DEFAULT_ENV`, `BEDROCK_MODEL_ID` and
//! `BEDROCK_REGION` (optional).

use std::sync::Arc;

use lambda_http::lambda_runtime::{self, service_fn, Diagnostic, LambdaEvent};
use promptops_pipeline::lambda::Handler;
use promptops_pipeline::{Bucket, Env, Pipeline, PipelineSettings, S3Bucket};
use promptops_runtime::bedrock::{https_client, BedrockModel};
use promptops_runtime::{BedrockApi, RetryPolicy, Runtime};

fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
        .ok_or_else(|| format!("{name} is required"))
}

fn optional(name: &str) -> Option<String> {
    std::env::var(name)
        .ok()
        .filter(|value| !value.trim().is_empty())
}

fn env_var(name: &str, value: &str) -> Result<Env, String> {
    value.parse().map_err(|err| format!("{name}: {err}"))
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), lambda_runtime::Error> {
    promptops_runtime::events::init_json_logging().map_err(|err| err.to_string())?;
    let own_env = env_var("PIPELINE_ENV", &required("PIPELINE_ENV")?)?;
    let bucket_name = required("BUCKET")?;
    let default_env = match optional("DEFAULT_ENV") {
        Some(value) => Some(env_var("DEFAULT_ENV", &value)?),
        None => None,
    };
    let settings = PipelineSettings {
        own_env,
        default_env,
        model_id: optional("BEDROCK_MODEL_ID"),
    };

    let bucket = S3Bucket::from_env(&bucket_name).await;
    // Bedrock's client: BEDROCK_REGION if set, else the standard region chain. Building it
    // makes no call; it is used only for configs with a model id (or BEDROCK_MODEL_ID).
    let mut loader =
        aws_config::defaults(aws_config::BehaviorVersion::latest()).http_client(https_client());
    if let Some(region) = optional("BEDROCK_REGION") {
        loader = loader.region(aws_config::Region::new(region));
    }
    let bedrock = BedrockModel::from_sdk_config(&loader.load().await, BedrockApi::Converse);
    let runtime = Runtime::new(Arc::new(bedrock)).with_retry(RetryPolicy::from_env());
    let pipeline = Pipeline::new(Bucket::S3(bucket), settings).with_bedrock(runtime);
    let handler = Arc::new(Handler::new(Arc::new(pipeline), bucket_name));

    lambda_runtime::run(service_fn(move |event: LambdaEvent<serde_json::Value>| {
        let handler = Arc::clone(&handler);
        // Boxed: the handler's future is deep (router, pipeline, SDK calls), and unboxed it
        // overflows rustc's layout query depth inside the runtime's own future.
        Box::pin(async move {
            let result: Result<serde_json::Value, Diagnostic> = handler
                .handle(event.payload, &event.context.request_id)
                .await;
            result
        })
    }))
    .await
}
