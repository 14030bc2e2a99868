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
use aws_sdk_bedrockruntime::error::{
    BuildError, DisplayErrorContext, ProvideErrorMetadata, SdkError,
};
use aws_sdk_bedrockruntime::operation::RequestId;
use aws_sdk_bedrockruntime::primitives::Blob;
use aws_sdk_bedrockruntime::types::{
    ContentBlock, ConversationRole, ConverseOutput, InferenceConfiguration, Message,
    SpecificToolChoice, SystemContentBlock, Tool, ToolChoice, ToolConfiguration, ToolInputSchema,
    ToolResultBlock, ToolResultContentBlock, ToolResultStatus, ToolSpecification, ToolUseBlock,
};
use aws_sdk_bedrockruntime::Client;
use aws_smithy_types::{Document, Number};
use serde_json::{json, Value};

use crate::model::{
    accepts_system_prompt, InferenceParams, Model, ModelAnswer, ModelError, ModelErrorKind,
    ModelFuture, ModelRequest, ModelResponse, OutputMode, StructuredRequest, ToolUse,
    OUTPUT_TOOL_NAME,
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
        // A model without system prompts (Titan) gets the instructions at the head of the
        // user turn, as its native body has them.
        let system = system_text(&request);
        let (system, preamble) = if accepts_system_prompt(request.model_id) {
            (system, None)
        } else {
            (None, system)
        };
        let messages = converse_messages(&request, preamble.as_deref()).map_err(config_error)?;
        let mut call = self
            .client
            .converse()
            .model_id(request.model_id)
            .set_messages(Some(messages))
            .set_inference_config(converse_inference(request.inference));
        if let Some(system) = system {
            call = call.system(SystemContentBlock::Text(system));
        }
        if let Some(structured) = request.structured.filter(|s| s.mode == OutputMode::Tool) {
            call =
                call.tool_config(output_tool(request.prompt, &structured).map_err(config_error)?);
        }
        let output = call.send().await.map_err(map_sdk_error)?;
        let provider_request_id = output.request_id().map(str::to_owned);
        let (text, tool_use) = match output.output() {
            Some(ConverseOutput::Message(message)) => {
                let text = message
                    .content()
                    .iter()
                    .filter_map(|block| block.as_text().ok())
                    .map(String::as_str)
                    .collect::<Vec<_>>()
                    .join("");
                let tool_use = message
                    .content()
                    .iter()
                    .filter_map(|block| block.as_tool_use().ok())
                    .find(|block| block.name() == OUTPUT_TOOL_NAME)
                    .map(|block| ToolUse {
                        id: block.tool_use_id().to_owned(),
                        name: block.name().to_owned(),
                        input: document_to_json(block.input()),
                    });
                (text, tool_use)
            }
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
            tool_use,
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

fn config_error(err: impl std::fmt::Display) -> ModelError {
    ModelError::new(ModelErrorKind::Config, err.to_string())
}

/// The system prompt: the prompt's own, and for a structured call in text mode the schema
/// instructions after it.
fn system_text(request: &ModelRequest<'_>) -> Option<String> {
    let instructions = request
        .structured
        .filter(|structured| structured.mode == OutputMode::Text)
        .map(|structured| structured.text_instructions());
    match (request.system, instructions) {
        (Some(system), Some(instructions)) => Some(format!("{system}\n\n{instructions}")),
        (Some(system), None) => Some(system.to_owned()),
        (None, instructions) => instructions,
    }
}

/// The Converse messages: the user turn (after `preamble`, the instructions of a model without
/// system prompts), then for each repair turn the model's earlier answer (a tool call, or text)
/// and the feedback on it (the tool's result with status `error`, or a user turn).
fn converse_messages(
    request: &ModelRequest<'_>,
    preamble: Option<&str>,
) -> Result<Vec<Message>, BuildError> {
    let user = match preamble {
        Some(preamble) => format!("{preamble}\n\n{}", request.user),
        None => request.user.to_owned(),
    };
    let mut messages = vec![Message::builder()
        .role(ConversationRole::User)
        .content(ContentBlock::Text(user))
        .build()?];
    let earlier = request.structured.map(|s| s.earlier).unwrap_or_default();
    for turn in earlier {
        let (answer, feedback) = match &turn.answer {
            ModelAnswer::ToolUse(tool_use) => (
                ContentBlock::ToolUse(
                    ToolUseBlock::builder()
                        .tool_use_id(&tool_use.id)
                        .name(&tool_use.name)
                        .input(json_to_document(&tool_use.input))
                        .build()?,
                ),
                ContentBlock::ToolResult(
                    ToolResultBlock::builder()
                        .tool_use_id(&tool_use.id)
                        .content(ToolResultContentBlock::Text(repair_text(&turn.feedback)))
                        .status(ToolResultStatus::Error)
                        .build()?,
                ),
            ),
            ModelAnswer::Text(text) => (
                ContentBlock::Text(non_blank(text)),
                ContentBlock::Text(repair_text(&turn.feedback)),
            ),
        };
        messages.push(
            Message::builder()
                .role(ConversationRole::Assistant)
                .content(answer)
                .build()?,
        );
        messages.push(
            Message::builder()
                .role(ConversationRole::User)
                .content(feedback)
                .build()?,
        );
    }
    Ok(messages)
}

/// What a repair turn says: the problems, and the request to answer again.
pub fn repair_text(feedback: &str) -> String {
    format!(
        "That answer does not conform to the schema:\n{feedback}\nAnswer again, fixing every problem."
    )
}

/// Bedrock refuses blank text blocks; an empty earlier answer is sent as a placeholder.
fn non_blank(text: &str) -> String {
    if text.trim().is_empty() {
        "(no answer)".to_owned()
    } else {
        text.to_owned()
    }
}

/// The one tool of a structured call, forced by the tool choice: its input schema is the
/// prompt's output schema.
fn output_tool(
    prompt: &crate::def::PromptDef,
    structured: &StructuredRequest<'_>,
) -> Result<ToolConfiguration, BuildError> {
    let description = prompt
        .description
        .clone()
        .unwrap_or_else(|| format!("Records the answer of `{}`.", prompt.id));
    let spec = ToolSpecification::builder()
        .name(OUTPUT_TOOL_NAME)
        .description(description)
        .input_schema(ToolInputSchema::Json(json_to_document(
            structured.schema_json,
        )))
        .build()?;
    ToolConfiguration::builder()
        .tools(Tool::ToolSpec(spec))
        .tool_choice(ToolChoice::Tool(
            SpecificToolChoice::builder()
                .name(OUTPUT_TOOL_NAME)
                .build()?,
        ))
        .build()
}

/// A `serde_json` value as the SDK's `Document`.
pub fn json_to_document(value: &Value) -> Document {
    match value {
        Value::Null => Document::Null,
        Value::Bool(flag) => Document::Bool(*flag),
        Value::Number(number) => Document::Number(match (number.as_u64(), number.as_i64()) {
            (Some(positive), _) => Number::PosInt(positive),
            (None, Some(negative)) => Number::NegInt(negative),
            _ => Number::Float(number.as_f64().unwrap_or(f64::NAN)),
        }),
        Value::String(text) => Document::String(text.clone()),
        Value::Array(items) => Document::Array(items.iter().map(json_to_document).collect()),
        Value::Object(map) => Document::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), json_to_document(value)))
                .collect(),
        ),
    }
}

/// The SDK's `Document` as a `serde_json` value (a non-finite float, which JSON cannot hold,
/// becomes `null`).
pub fn document_to_json(document: &Document) -> Value {
    match document {
        Document::Null => Value::Null,
        Document::Bool(flag) => Value::Bool(*flag),
        Document::Number(Number::PosInt(positive)) => Value::from(*positive),
        Document::Number(Number::NegInt(negative)) => Value::from(*negative),
        Document::Number(Number::Float(float)) => serde_json::Number::from_f64(*float)
            .map(Value::Number)
            .unwrap_or(Value::Null),
        Document::String(text) => Value::String(text.clone()),
        Document::Array(items) => Value::Array(items.iter().map(document_to_json).collect()),
        Document::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| (key.clone(), document_to_json(value)))
                .collect(),
        ),
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
    let system = system_text(request);
    match format {
        NativeFormat::AnthropicMessages => {
            let mut body = json!({
                "anthropic_version": "bedrock-2023-05-31",
                "max_tokens": params.max_tokens.unwrap_or(DEFAULT_ANTHROPIC_MAX_TOKENS),
                "messages": anthropic_messages(request),
            });
            if let Some(system) = system {
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
            if let Some(structured) = request.structured.filter(|s| s.mode == OutputMode::Tool) {
                let description =
                    request.prompt.description.clone().unwrap_or_else(|| {
                        format!("Records the answer of `{}`.", request.prompt.id)
                    });
                body["tools"] = json!([{
                    "name": OUTPUT_TOOL_NAME,
                    "description": description,
                    "input_schema": structured.schema_json,
                }]);
                body["tool_choice"] = json!({"type": "tool", "name": OUTPUT_TOOL_NAME});
            }
            body
        }
        NativeFormat::TitanText => {
            // Titan text has no system field and no conversation: the instructions precede the
            // user turn, and a repair turn's earlier answers and feedback follow it.
            let mut input_text = match system {
                Some(system) => format!("{system}\n\n{}", request.user),
                None => request.user.to_owned(),
            };
            for turn in request.structured.map(|s| s.earlier).unwrap_or_default() {
                let answer = match &turn.answer {
                    ModelAnswer::Text(text) => text.clone(),
                    ModelAnswer::ToolUse(tool_use) => tool_use.input.to_string(),
                };
                input_text.push_str(&format!(
                    "\n\nYour answer: {answer}\n\n{}",
                    repair_text(&turn.feedback)
                ));
            }
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

/// Anthropic Messages: the user turn, then each repair turn's earlier answer (a `tool_use`
/// block, or text) and the feedback on it (a `tool_result` with `is_error`, or text).
fn anthropic_messages(request: &ModelRequest<'_>) -> Value {
    let mut messages = vec![json!({
        "role": "user",
        "content": [{"type": "text", "text": request.user}],
    })];
    for turn in request.structured.map(|s| s.earlier).unwrap_or_default() {
        let (answer, feedback) = match &turn.answer {
            ModelAnswer::ToolUse(tool_use) => (
                json!({"type": "tool_use", "id": tool_use.id, "name": tool_use.name, "input": tool_use.input}),
                json!({
                    "type": "tool_result",
                    "tool_use_id": tool_use.id,
                    "content": repair_text(&turn.feedback),
                    "is_error": true,
                }),
            ),
            ModelAnswer::Text(text) => (
                json!({"type": "text", "text": non_blank(text)}),
                json!({"type": "text", "text": repair_text(&turn.feedback)}),
            ),
        };
        messages.push(json!({"role": "assistant", "content": [answer]}));
        messages.push(json!({"role": "user", "content": [feedback]}));
    }
    Value::Array(messages)
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
            let tool_use = blocks
                .iter()
                .filter(|block| block["type"] == "tool_use" && block["name"] == OUTPUT_TOOL_NAME)
                .find_map(|block| {
                    Some(ToolUse {
                        id: block["id"].as_str()?.to_owned(),
                        name: OUTPUT_TOOL_NAME.to_owned(),
                        input: block.get("input")?.clone(),
                    })
                });
            Ok(ModelResponse {
                text,
                tool_use,
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
                tool_use: None,
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
