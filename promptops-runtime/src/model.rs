//! The model abstraction: one async call from rendered text to completion text.

use std::fmt;
use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::def::{Inference, PromptDef};
use crate::pricing::{self, Price};
use crate::structured::Schema;

/// Inference settings after applying per-call overrides to the prompt's `inference` block.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InferenceParams {
    /// Upper bound on generated tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature.
    pub temperature: Option<f32>,
    /// Nucleus sampling mass.
    pub top_p: Option<f32>,
    /// Strings that stop generation.
    pub stop_sequences: Vec<String>,
}

/// Per-call overrides of a prompt's inference settings; `None` keeps the prompt's value.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InferenceOverride {
    /// Replaces `max_tokens`.
    pub max_tokens: Option<u32>,
    /// Replaces `temperature`.
    pub temperature: Option<f32>,
    /// Replaces `top_p`.
    pub top_p: Option<f32>,
    /// Replaces `stop_sequences`.
    pub stop_sequences: Option<Vec<String>>,
}

impl InferenceParams {
    /// The prompt's declared settings with `overrides` applied.
    pub fn resolve(declared: &Inference, overrides: &InferenceOverride) -> Self {
        InferenceParams {
            max_tokens: overrides.max_tokens.or(declared.max_tokens),
            temperature: overrides.temperature.or(declared.temperature),
            top_p: overrides.top_p.or(declared.top_p),
            stop_sequences: match &overrides.stop_sequences {
                Some(stops) => stops.clone(),
                None => declared.stop_sequences.clone(),
            },
        }
    }
}

/// One request to a model.
#[derive(Debug, Clone, Copy)]
pub struct ModelRequest<'a> {
    /// The prompt being served (labels, id, ...).
    pub prompt: &'a PromptDef,
    /// The Bedrock model id to call.
    pub model_id: &'a str,
    /// System prompt, if any.
    pub system: Option<&'a str>,
    /// The user turn.
    pub user: &'a str,
    /// Resolved inference settings.
    pub inference: &'a InferenceParams,
    /// For a prompt with an output schema: how to ask for the structured answer, and the
    /// turns of this call so far. `None` for labels and free text.
    pub structured: Option<StructuredRequest<'a>>,
}

/// How a model is asked for a structured answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputMode {
    /// One tool whose input schema is the output schema, forced by the tool choice: the
    /// answer is the tool call's input ([`ModelResponse::tool_use`]).
    Tool,
    /// The schema in the system prompt: the answer is the first JSON object in the text.
    Text,
}

/// The name of the one tool a structured call offers and forces.
pub const OUTPUT_TOOL_NAME: &str = "answer";

/// The structured part of a [`ModelRequest`].
#[derive(Debug, Clone, Copy)]
pub struct StructuredRequest<'a> {
    /// The prompt's output schema.
    pub schema: &'a Schema,
    /// Its JSON form ([`Schema::to_json`]), computed once per call: the tool's input schema,
    /// or the schema quoted in the system prompt.
    pub schema_json: &'a Value,
    /// Tool or text.
    pub mode: OutputMode,
    /// The earlier answers of this call and what was wrong with each, oldest first: a repair
    /// turn sends them back before asking again.
    pub earlier: &'a [RepairTurn],
}

impl StructuredRequest<'_> {
    /// The instructions a [`OutputMode::Text`] call appends to the system prompt.
    pub fn text_instructions(&self) -> String {
        format!(
            "Answer with one JSON object that conforms to this JSON Schema, and nothing else:\n{}",
            self.schema_json
        )
    }
}

/// One earlier answer of a structured call, and the feedback that asks for a better one.
#[derive(Debug, Clone, PartialEq)]
pub struct RepairTurn {
    /// What the model answered.
    pub answer: ModelAnswer,
    /// What was wrong with it, one violation per line.
    pub feedback: String,
}

/// A model's answer as it appears in the conversation.
#[derive(Debug, Clone, PartialEq)]
pub enum ModelAnswer {
    /// A text turn.
    Text(String),
    /// A tool call.
    ToolUse(ToolUse),
}

/// A model's call of the output tool.
#[derive(Debug, Clone, PartialEq)]
pub struct ToolUse {
    /// The model's id for the call, which the tool result must name.
    pub id: String,
    /// The tool's name.
    pub name: String,
    /// The input: the structured answer.
    pub input: Value,
}

/// A model's answer.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ModelResponse {
    /// The completion text (empty when the model answered with a tool call only).
    pub text: String,
    /// The model's call of the output tool, when a structured call offered one.
    pub tool_use: Option<ToolUse>,
    /// Input tokens, when the model reports them.
    pub input_tokens: Option<u32>,
    /// Output tokens, when the model reports them.
    pub output_tokens: Option<u32>,
    /// The service's request id (`x-amzn-RequestId`), if any.
    pub provider_request_id: Option<String>,
}

/// How a model call failed, which decides whether it is retried.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ModelErrorKind {
    /// Rate limited (`ThrottlingException`): retried with backoff.
    Throttled,
    /// Transient service failure (5xx, `ServiceUnavailableException`, `InternalServerException`,
    /// connection failures): retried with backoff.
    Unavailable,
    /// `ModelNotReadyException`: retried with backoff.
    NotReady,
    /// The model or the attempt took too long (`ModelTimeoutException`, client-side attempt
    /// timeout): retried a bounded number of times.
    Timeout,
    /// The request was refused (`ValidationException`, `AccessDeniedException`,
    /// `ResourceNotFoundException`, quota, ...): fails fast.
    Rejected,
    /// The response could not be understood: fails fast.
    BadResponse,
    /// The client is misconfigured (no region, unsupported body format): fails fast.
    Config,
}

/// A failed model call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind:?}{}: {message}", code.as_deref().map(|code| format!(" ({code})")).unwrap_or_default())]
pub struct ModelError {
    /// The retry class.
    pub kind: ModelErrorKind,
    /// The service's error code (`ThrottlingException`, ...), if any.
    pub code: Option<String>,
    /// Human-readable detail.
    pub message: String,
    /// The service's request id, if any.
    pub provider_request_id: Option<String>,
}

impl ModelError {
    /// An error with no service code.
    pub fn new(kind: ModelErrorKind, message: impl Into<String>) -> Self {
        ModelError {
            kind,
            code: None,
            message: message.into(),
            provider_request_id: None,
        }
    }
}

/// The boxed future a [`Model`] returns (boxed so models can be `Arc<dyn Model>`).
pub type ModelFuture<'a> =
    Pin<Box<dyn Future<Output = Result<ModelResponse, ModelError>> + Send + 'a>>;

/// Something that turns a rendered prompt into completion text.
///
/// Object safe: runtimes hold an `Arc<dyn Model>` chosen by configuration
/// ([`ModelConfig`](crate::ModelConfig)).
pub trait Model: Send + Sync + fmt::Debug {
    /// Short backend name for events (`bedrock-converse`, `bedrock-invoke`, `local`).
    fn backend(&self) -> &'static str;

    /// Performs one attempt. Retries, timeouts and events are the runtime's job.
    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a>;

    /// How this model is asked for a structured answer: [`OutputMode::Tool`] for models that
    /// can be forced to call a tool, else [`OutputMode::Text`]. The default is
    /// [`output_mode_for`]'s table.
    fn output_mode(&self, model_id: &str) -> OutputMode {
        output_mode_for(model_id)
    }

    /// USD prices used for `cost_usd`; the default looks the model id up in the built-in table.
    fn price(&self, model_id: &str) -> Option<Price> {
        pricing::price_for(model_id)
    }
}

/// Model families that can be forced to call one named tool (Bedrock's `toolChoice.tool`):
/// "Only supported by Anthropic Claude 3 and Amazon Nova models" (Bedrock API reference,
/// `ToolChoice`), Claude 3 and later. A cross-region inference profile prefix (`us.`, `eu.`,
/// ...) is ignored.
pub const FORCED_TOOL_MODELS: &[&str] = &[
    "anthropic.claude-3",
    "anthropic.claude-sonnet-4",
    "anthropic.claude-opus-4",
    "anthropic.claude-haiku-4",
    "amazon.nova-",
];

/// Model families whose Converse requests may not carry a system prompt ("System prompts: No"
/// in Bedrock's Converse feature table): Amazon Titan text, Cohere Command (text), AI21
/// Jurassic-2. Their instructions open the user turn instead.
pub const NO_SYSTEM_PROMPT_MODELS: &[&str] = &[
    "amazon.titan-text",
    "cohere.command-text",
    "cohere.command-light-text",
    "ai21.j2",
];

/// Whether a Converse request for `model_id` may carry a system prompt
/// ([`NO_SYSTEM_PROMPT_MODELS`]; an inference profile prefix is ignored).
pub fn accepts_system_prompt(model_id: &str) -> bool {
    let base = pricing::without_profile_prefix(model_id);
    !NO_SYSTEM_PROMPT_MODELS
        .iter()
        .any(|family| base.starts_with(family))
}

/// The [`OutputMode`] for a Bedrock model id by [`FORCED_TOOL_MODELS`]: a tool for Claude 3 and
/// later and Nova, text for every other model (Titan, Llama, Mistral, Claude 2, ...).
pub fn output_mode_for(model_id: &str) -> OutputMode {
    let base = pricing::without_profile_prefix(model_id);
    if FORCED_TOOL_MODELS
        .iter()
        .any(|family| base.starts_with(family))
    {
        OutputMode::Tool
    } else {
        OutputMode::Text
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn titan_takes_no_system_prompt() {
        assert!(!accepts_system_prompt("amazon.titan-text-express-v1"));
        assert!(!accepts_system_prompt("us.amazon.titan-text-premier-v1:0"));
        assert!(accepts_system_prompt("amazon.nova-lite-v1:0"));
        assert!(accepts_system_prompt(
            "anthropic.claude-3-haiku-20240307-v1:0"
        ));
    }

    #[test]
    fn the_model_table_says_which_models_are_forced_to_a_tool() {
        for tool in [
            "anthropic.claude-3-haiku-20240307-v1:0",
            "us.anthropic.claude-3-5-sonnet-20241022-v2:0",
            "anthropic.claude-sonnet-4-20250514-v1:0",
            "amazon.nova-lite-v1:0",
            "eu.amazon.nova-pro-v1:0",
        ] {
            assert_eq!(output_mode_for(tool), OutputMode::Tool, "{tool}");
        }
        for text in [
            "amazon.titan-text-express-v1",
            "anthropic.claude-v2:1",
            "anthropic.claude-instant-v1",
            "meta.llama3-1-70b-instruct-v1:0",
            "mistral.mistral-large-2407-v1:0",
            "local",
        ] {
            assert_eq!(output_mode_for(text), OutputMode::Text, "{text}");
        }
    }

    #[test]
    fn per_call_overrides_win_field_by_field() {
        let declared = Inference {
            max_tokens: Some(300),
            temperature: Some(0.2),
            top_p: None,
            stop_sequences: vec!["END".to_owned()],
        };
        let resolved = InferenceParams::resolve(&declared, &InferenceOverride::default());
        assert_eq!(resolved.max_tokens, Some(300));
        assert_eq!(resolved.stop_sequences, vec!["END".to_owned()]);

        let overrides = InferenceOverride {
            max_tokens: Some(10),
            top_p: Some(0.5),
            stop_sequences: Some(vec![]),
            ..InferenceOverride::default()
        };
        let resolved = InferenceParams::resolve(&declared, &overrides);
        assert_eq!(
            resolved,
            InferenceParams {
                max_tokens: Some(10),
                temperature: Some(0.2),
                top_p: Some(0.5),
                stop_sequences: vec![],
            }
        );
    }
}

/// Which Bedrock API carries the call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum BedrockApi {
    /// The model-agnostic Converse API (default).
    #[default]
    Converse,
    /// InvokeModel with the model family's native body: Anthropic Messages
    /// (`anthropic_version: bedrock-2023-05-31`) or Amazon Titan text. Other families are a
    /// configuration error.
    InvokeModel,
}
