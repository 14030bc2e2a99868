//! Amazon Bedrock through `aws-sdk-bedrockruntime`: Converse, or InvokeModel with the native
//! bodies of Anthropic Messages and Amazon Titan text.
//!
//! Configuration comes from the standard AWS chain (`aws-config`): region (`AWS_REGION`,
//! profile), credentials (env, profile, SSO, process, web identity, container, IMDS) and the
//! endpoint (`AWS_ENDPOINT_URL_BEDROCK_RUNTIME` / `AWS_ENDPOINT_URL`). The SDK's own retries are
//! disabled: the runtime's [`RetryPolicy`](crate::RetryPolicy) does the retrying, so attempts are
//! counted in one place.
//!
//! TLS: the SDK's default HTTPS client uses rustls with aws-lc-rs, whose `aws-lc-sys` C build is
//! heavy; this crate builds the client with rustls + *ring* instead ([`https_client`]), which
//! needs only a C compiler. Plain `http://` endpoints (the local mock) work through the same
//! client.

use aws_sdk_bedrockruntime::config::retry::RetryConfig;
use aws_sdk_bedrockruntime::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SystemContentBlock,
};
use aws_sdk_bedrockruntime::Client;
use serde_json::{json, Value};

use crate::model::{
    InferenceParams, Model, ModelError, ModelErrorKind, ModelFuture, ModelRequest, ModelResponse,
};

/// The AWS SDK for Bedrock Runtime, re-exported so callers configure it with the same version.
pub use aws_sdk_bedrockruntime as sdk;

pub use crate::model::BedrockApi;

/// The native InvokeModel body format of a model id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NativeFormat {
    /// Anthropic Messages API on Bedrock.
    AnthropicMessages,
    /// Amazon Titan text generation.
    TitanText,
}

impl NativeFormat {
    /// The format for a model id (`anthropic.…`, `us.anthropic.…`, `amazon.titan-text-…`).
    pub fn for_model(model_id: &str) -> Option<Self> {
        if model_id.starts_with("anthropic.") || model_id.contains(".anthropic.") {
            Some(NativeFormat::AnthropicMessages)
        } else if model_id.starts_with("amazon.titan-text")
            || model_id.contains(".amazon.titan-text")
        {
            Some(NativeFormat::TitanText)
        } else {
            None
        }
    }
}

/// `max_tokens` sent to Anthropic when the prompt does not declare one (the field is required).
pub const DEFAULT_ANTHROPIC_MAX_TOKENS: u32 = 1024;

pub use promptops_aws::https_client;

/// A [`Model`] served by Amazon Bedrock.
#[derive(Debug, Clone)]
pub struct BedrockModel {
    client: Client,
    api: BedrockApi,
}

impl BedrockModel {
    /// Loads the standard AWS configuration chain and builds the client.
    pub async fn from_env(api: BedrockApi) -> Self {
        let config = promptops_aws::load().await;
        Self::from_sdk_config(&config, api)
    }

    /// Builds the client from a loaded `aws-config` [`SdkConfig`](aws_config::SdkConfig)
    /// (service-specific settings such as `AWS_ENDPOINT_URL_BEDROCK_RUNTIME` apply).
    pub fn from_sdk_config(config: &aws_config::SdkConfig, api: BedrockApi) -> Self {
        let conf = sdk::config::Builder::from(config).build();
        Self::from_conf(conf, api)
    }

    /// Builds the client from an explicit service configuration. SDK retries are turned off,
    /// and the rustls/ring client is installed when the configuration has none.
    pub fn from_conf(conf: sdk::Config, api: BedrockApi) -> Self {
        let mut builder = conf.to_builder().retry_config(RetryConfig::disabled());
        if conf.http_client().is_none() {
            builder = builder.http_client(https_client());
        }
        BedrockModel {
            client: Client::from_conf(builder.build()),
            api,
        }
    }

    /// The API this model uses.
    pub fn api(&self) -> BedrockApi {
        self.api
    }

    /// The underlying SDK client.
    pub fn client(&self) -> &Client {
        &self.client
    }

    async fn converse(&self, request: ModelRequest<'_>) -> Result<ModelResponse, ModelError> {
        let message = Message::builder()
            .role(ConversationRole::User)
            .content(ContentBlock::Text(request.user.to_owned()))
            .build()
            .map_err(|err| ModelError::new(ModelErrorKind::Config, err.to_string()))?;
        let mut call = self
            .client
            .converse()
            .model_id(request.model_id)
            .messages(message)
            .set_inference_config(converse_inference(request.inference));
        if let Some(system) = request.system {
            call = call.system(SystemContentBlock::Text(system.to_owned()));
        }
        let output = call.send().await.map_err(map_sdk_error)?;
        let provider_request_id = output.request_id().map(str::to_owned);
        let text = match output.output() {
            Some(ConverseOutput::Message(message)) => message
                .content()
                .iter()
                .filter_map(|block| block.as_text().ok())
                .map(String::as_str)
                .collect::<Vec<_>>()
                .join(""),
            _ => {
                return Err(ModelError {
                    kind: ModelErrorKind::BadResponse,
                    code: None,
                    message: "Converse returned no message".into(),
                    provider_request_id,
                })
            }
        };
        let usage = output.usage();
        Ok(ModelResponse {
            text,
            input_tokens: usage.and_then(|usage| u32::try_from(usage.input_tokens()).ok()),
            output_tokens: usage.and_then(|usage| u32::try_from(usage.output_tokens()).ok()),
            provider_request_id,
        })
    }

    async fn invoke(&self, request: ModelRequest<'_>) -> Result<ModelResponse, ModelError> {
        let format = NativeFormat::for_model(request.model_id).ok_or_else(|| {
            ModelError::new(
                ModelErrorKind::Config,
                format!(
                    "InvokeModel has no native body format for {}; use the Converse API",
                    request.model_id
                ),
            )
        })?;
        let body = native_body(format, &request);
        let output = self
            .client
            .invoke_model()
            .model_id(request.model_id)
            .content_type("application/json")
            .accept("application/json")
            .body(Blob::new(body.to_string()))
            .send()
            .await
            .map_err(map_sdk_error)?;
        let provider_request_id = output.request_id().map(str::to_owned);
        parse_native(format, output.body().as_ref())
            .map(|mut response| {
                response.provider_request_id = provider_request_id.clone();
                response
            })
            .map_err(|message| ModelError {
                kind: ModelErrorKind::BadResponse,
                code: None,
                message,
                provider_request_id,
            })
    }
}

impl Model for BedrockModel {
    fn backend(&self) -> &'static str {
        match self.api {
            BedrockApi::Converse => "bedrock-converse",
            BedrockApi::InvokeModel => "bedrock-invoke",
        }
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        Box::pin(async move {
            match self.api {
                BedrockApi::Converse => self.converse(request).await,
                BedrockApi::InvokeModel => self.invoke(request).await,
            }
        })
    }
}

/// The Converse `inferenceConfig`, or `None` when the prompt and the call set nothing (the
/// model's defaults then apply).
fn converse_inference(params: &InferenceParams) -> Option<InferenceConfiguration> {
    if *params == InferenceParams::default() {
        return None;
    }
    let stops = (!params.stop_sequences.is_empty()).then(|| params.stop_sequences.clone());
    let config = InferenceConfiguration::builder()
        .set_max_tokens(params.max_tokens.and_then(|max| i32::try_from(max).ok()))
        .set_temperature(params.temperature)
        .set_top_p(params.top_p)
        .set_stop_sequences(stops)
        .build();
    Some(config)
}

/// The native InvokeModel request body.
pub fn native_body(format: NativeFormat, request: &ModelRequest<'_>) -> Value {
    let params = request.inference;
    match format {
        NativeFormat::AnthropicMessages => {
            let mut body = json!({
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": params.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
                "messages": [{
                    "role": "user",
                    "content": [{"type": "text", "text": request.user}],
                }],
            });
            if let Some(system) = request.system {
                body["system"] = json!(system);
            }
            if let Some(temperature) = params.temperature {
                body["temperature"] = json!(temperature);
            }
            if let Some(top_p) = params.top_p {
                body["top_p"] = json!(top_p);
            }
            if !params.stop_sequences.is_empty() {
                body["stop_sequences"] = json!(params.stop_sequences);
            }
            body
        }
        NativeFormat::TitanText => {
            // Titan text has no system field: the instructions precede the user turn.
            let input_text = match request.system {
                Some(system) => format!("{system}\n\n{}", request.user),
                None => request.user.to_owned(),
            };
            let mut config = serde_json::Map::new();
            if let Some(max) = params.max_tokens {
                config.insert("maxTokenCount".into(), json!(max));
            }
            if let Some(temperature) = params.temperature {
                config.insert("temperature".into(), json!(temperature));
            }
            if let Some(top_p) = params.top_p {
                config.insert("topP".into(), json!(top_p));
            }
            if !params.stop_sequences.is_empty() {
                config.insert("stopSequences".into(), json!(params.stop_sequences));
            }
            json!({"inputText": input_text, "textGenerationConfig": config})
        }
    }
}

fn token_count(value: &Value) -> Option<u32> {
    value.as_u64().and_then(|count| u32::try_from(count).ok())
}

/// Parses a native InvokeModel response body.
pub fn parse_native(format: NativeFormat, body: &[u8]) -> Result<ModelResponse, String> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|err| format!("InvokeModel response is not JSON: {err}"))?;
    match format {
        NativeFormat::AnthropicMessages => {
            let blocks = value["content"]
                .as_array()
                .ok_or("Anthropic response has no `content` list")?;
            let text = blocks
                .iter()
                .filter(|block| block["type"] == "text")
                .filter_map(|block| block["text"].as_str())
                .collect::<Vec<_>>()
                .join("");
            Ok(ModelResponse {
                text,
                input_tokens: token_count(&value["usage"]["input_tokens"]),
                output_tokens: token_count(&value["usage"]["output_tokens"]),
                provider_request_id: None,
            })
        }
        NativeFormat::TitanText => {
            let result = value["results"]
                .get(0)
                .ok_or("Titan response has no `results`")?;
            let text = result["outputText"]
                .as_str()
                .ok_or("Titan result has no `outputText`")?;
            Ok(ModelResponse {
                text: text.to_owned(),
                input_tokens: token_count(&value["inputTextTokenCount"]),
                output_tokens: token_count(&result["tokenCount"]),
                provider_request_id: None,
            })
        }
    }
}

/// Classifies an SDK error into the runtime's retry classes.
fn map_sdk_error<E>(
    err: SdkError<E, aws_sdk_bedrockruntime::config::http::HttpResponse>,
) -> ModelError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let provider_request_id = err.request_id().map(str::to_owned);
    match &err {
        SdkError::ServiceError(context) => {
            let service_error = context.err();
            let status = context.raw().status().as_u16();
            let code = service_error.code().map(str::to_owned);
            let kind = match code.as_deref() {
                Some("ThrottlingException") => ModelErrorKind::Throttled,
                Some("ServiceUnavailableException" | "InternalServerException") => {
                    ModelErrorKind::Unavailable
                }
                Some("ModelNotReadyException") => ModelErrorKind::NotReady,
                Some("ModelTimeoutException") => ModelErrorKind::Timeout,
                Some(
                    "ValidationException"
                    | "AccessDeniedException"
                    | "ResourceNotFoundException"
                    | "ServiceQuotaExceededException"
                    | "ModelErrorException",
                ) => ModelErrorKind::Rejected,
                // A 2xx the SDK could not deserialize (malformed body).
                _ if (200..300).contains(&status) => ModelErrorKind::BadResponse,
                _ => match status {
                    429 => ModelErrorKind::Throttled,
                    408 => ModelErrorKind::Timeout,
                    500..=599 => ModelErrorKind::Unavailable,
                    _ => ModelErrorKind::Rejected,
                },
            };
            let message = match service_error.message() {
                Some(message) if kind != ModelErrorKind::BadResponse => message.to_owned(),
                _ => format!("HTTP {status}: {}", DisplayErrorContext(&err)),
            };
            ModelError {
                kind,
                code,
                message,
                provider_request_id,
            }
        }
        SdkError::TimeoutError(_) => ModelError {
            kind: ModelErrorKind::Timeout,
            code: None,
            message: DisplayErrorContext(&err).to_string(),
            provider_request_id,
        },
        SdkError::DispatchFailure(failure) => {
            let kind = if failure.is_timeout() {
                ModelErrorKind::Timeout
            } else if failure.is_user() {
                ModelErrorKind::Config
            } else {
                ModelErrorKind::Unavailable
            };
            ModelError {
                kind,
                code: None,
                message: DisplayErrorContext(&err).to_string(),
                provider_request_id,
            }
        }
        SdkError::ResponseError(_) => ModelError {
            kind: ModelErrorKind::BadResponse,
            code: None,
            message: DisplayErrorContext(&err).to_string(),
            provider_request_id,
        },
        _ => ModelError {
            kind: ModelErrorKind::Config,
            code: None,
            message: DisplayErrorContext(&err).to_string(),
            provider_request_id,
        },
    }
}
