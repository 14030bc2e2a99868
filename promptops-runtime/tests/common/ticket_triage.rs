//! A structured-output prompt as `promptops-build` generates it: its definition with an output
//! schema, its `Output` struct and `Intent` enum, its spec and its handle.

use std::sync::LazyLock;

use promptops_runtime::{
    structured, Answer, Inference, NoVars, OutputError, Prompt, PromptDef, PromptOutput,
    PromptSpec, Schema, Version,
};
use serde::{Deserialize, Serialize};

/// A model that can be forced to call a tool.
pub const HAIKU: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
/// A model that cannot: it is given the schema in the system prompt.
pub const TITAN: &str = "amazon.titan-text-express-v1";

/// The output schema, as the prompt file writes it (in JSON).
pub fn schema_json() -> serde_json::Value {
    serde_json::json!({
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["billing", "technical", "sales", "retention", "other"],
                       "description": "Why the customer wrote."},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
            "order_id": {"type": ["string", "null"], "description": "The order number, if given."},
            "summary": {"type": "string", "maxLength": 80},
            "products": {"type": "array", "items": {"type": "string"}, "maxItems": 3}
        },
        "required": ["intent", "urgency", "order_id", "summary", "products"]
    })
}

/// The definition, as the generated crate embeds it.
pub static DEF: LazyLock<PromptDef> = LazyLock::new(|| {
    let mut def = PromptDef::new(
        "customer-support.ticket-triage",
        Version::new(1),
        "customer-experience-team",
        "claude-3-5-haiku",
        "Triage this ticket.",
    );
    def.model_id = HAIKU.to_owned();
    def.description = Some("Triage a support ticket into a typed record.".into());
    def.system = Some("You triage customer support tickets.".into());
    def.inference = Inference {
        max_tokens: Some(400),
        ..Inference::default()
    };
    def.output_schema = Some(Schema::parse(&schema_json()).expect("a valid schema"));
    def.content_hash = "7a1c0000000000000000000000000000000000000000000000000000000000bb".into();
    def.refresh_contract_hash();
    def
});

/// The answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Output {
    pub intent: Intent,
    pub urgency: i64,
    pub order_id: Option<String>,
    pub summary: String,
    pub products: Vec<String>,
}

/// Why the customer wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Intent {
    Billing,
    Technical,
    Sales,
    Retention,
    Other,
}

impl PromptOutput for Output {
    fn from_answer(answer: Answer<'_>) -> Result<Self, OutputError> {
        structured::deserialize(answer)
    }
}

/// The spec: the input is the user turn, the `Output` struct is the answer.
pub struct Spec;

impl PromptSpec for Spec {
    type Vars<'a> = NoVars;
    type Output = Output;
}

/// The handle, as a generated handle function returns it.
pub fn handle() -> Prompt<Spec> {
    Prompt::__new(&DEF)
}
