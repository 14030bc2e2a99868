//! The prompt model: what a prompt is, wherever it lives.

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};

use crate::Version;

/// Lifecycle state of a prompt, used for environment gating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Work in progress: visible in development builds and dev/simulation modes only.
    Draft,
    /// Released; the default when a prompt file does not say otherwise.
    #[default]
    Stable,
    /// Still served, but callers should move to a replacement.
    Deprecated,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 3] = [Status::Draft, Status::Stable, Status::Deprecated];

    /// The spelling used in prompt files and on the wire (`draft`, `stable`, `deprecated`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Stable => "stable",
            Status::Deprecated => "deprecated",
        }
    }

    /// The status spelled `text`, if any.
    pub fn parse(text: &str) -> Option<Status> {
        Status::ALL
            .into_iter()
            .find(|status| status.as_str() == text)
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The declared type of a template variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum VarType {
    /// UTF-8 text (`&str` in generated `Vars`).
    String,
    /// A signed 64-bit integer (`i64`).
    Integer,
    /// A 64-bit float (`f64`).
    Number,
    /// `bool`.
    Boolean,
    /// A list of strings (`&[&str]`).
    List,
}

impl VarType {
    /// Every type, in the order the docs list them.
    pub const ALL: [VarType; 5] = [
        VarType::String,
        VarType::Integer,
        VarType::Number,
        VarType::Boolean,
        VarType::List,
    ];

    /// The spelling used in prompt files and on the wire.
    pub const fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Integer => "integer",
            VarType::Number => "number",
            VarType::Boolean => "boolean",
            VarType::List => "list",
        }
    }

    /// The type spelled `text`, if any.
    pub fn parse(text: &str) -> Option<VarType> {
        VarType::ALL.into_iter().find(|ty| ty.as_str() == text)
    }
}

impl fmt::Display for VarType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An owned variable value: a declared default, an eval case's input, a value parsed from a
/// JSON record or a command line. On the wire it is the plain JSON value (`"friendly"`, `5`,
/// `0.5`, `true`, `["a", "b"]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum Value {
    /// A `string` value.
    String(String),
    /// An `integer` value.
    Integer(i64),
    /// A `number` value.
    Number(f64),
    /// A `boolean` value.
    Boolean(bool),
    /// A `list` value.
    List(Vec<String>),
}

impl Value {
    /// The variable type this value belongs to. An integer also fits a `number` variable;
    /// [`fits`](Self::fits) says so.
    pub const fn var_type(&self) -> VarType {
        match self {
            Value::String(_) => VarType::String,
            Value::Integer(_) => VarType::Integer,
            Value::Number(_) => VarType::Number,
            Value::Boolean(_) => VarType::Boolean,
            Value::List(_) => VarType::List,
        }
    }

    /// Whether this value may be given to a variable of type `ty`.
    pub fn fits(&self, ty: VarType) -> bool {
        self.var_type() == ty || (ty == VarType::Number && matches!(self, Value::Integer(_)))
    }
}

/// One declared template variable.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct VarDef {
    /// The name used in the template (`{{ customer_name }}`).
    pub name: String,
    /// The declared type.
    #[serde(rename = "type")]
    pub ty: VarType,
    /// Free text from the prompt file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Whether the caller must supply it. Optional variables become `Option<_>` fields.
    pub required: bool,
    /// Value used when an optional variable is not supplied.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default: Option<Value>,
    /// Sensitive values never appear in events or error messages.
    #[serde(default, skip_serializing_if = "is_false")]
    pub sensitive: bool,
}

impl VarDef {
    /// A required, non-sensitive variable without description or default.
    pub fn required(name: impl Into<String>, ty: VarType) -> Self {
        VarDef {
            name: name.into(),
            ty,
            description: None,
            required: true,
            default: None,
            sensitive: false,
        }
    }

    /// An optional, non-sensitive variable without description or default.
    pub fn optional(name: impl Into<String>, ty: VarType) -> Self {
        VarDef {
            required: false,
            ..VarDef::required(name, ty)
        }
    }
}

fn is_false(value: &bool) -> bool {
    !*value
}

/// Measured and declared numbers attached to a prompt. On the wire the well-known metrics and
/// the others share one JSON object.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Metrics {
    /// Accuracy the eval gate must not fall below, in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub baseline_accuracy: Option<f64>,
    /// Expected cost of one call in US dollars.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cost_per_call_usd: Option<f64>,
    /// Any other numeric metric, by name.
    #[serde(flatten)]
    pub other: BTreeMap<String, f64>,
}

impl Metrics {
    /// Looks a metric up by name, including the two well-known ones.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "baseline_accuracy" => self.baseline_accuracy,
            "cost_per_call_usd" => self.cost_per_call_usd,
            _ => self.other.get(name).copied(),
        }
    }

    /// Whether no metric is declared.
    pub fn is_empty(&self) -> bool {
        self.baseline_accuracy.is_none()
            && self.cost_per_call_usd.is_none()
            && self.other.is_empty()
    }
}

/// Inference parameters declared by a prompt (each may be overridden per call).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct Inference {
    /// Upper bound on generated tokens.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_tokens: Option<u32>,
    /// Sampling temperature in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in `[0, 1]`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub top_p: Option<f32>,
    /// Strings that stop generation.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub stop_sequences: Vec<String>,
}

impl Inference {
    /// Whether nothing is declared (the model's defaults apply).
    pub fn is_empty(&self) -> bool {
        *self == Inference::default()
    }
}

/// Everything known about one prompt: the record a prompt file compiles to, a generated crate
/// embeds, and the registry stores and serves.
///
/// Serialized with serde; [`wire`](crate::wire) is the one JSON reader and writer. On the wire
/// the id is `prompt_id` and the user template is `content`, the names the registry's HTTP
/// contract uses.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PromptDef {
    /// Dotted id, e.g. `customer-support.intent-classifier`.
    #[serde(rename = "prompt_id")]
    pub id: String,
    /// The version.
    pub version: Version,
    /// Team or person who approves changes.
    pub owner: String,
    /// The model exactly as written in the prompt file (an alias or a Bedrock id); empty for a
    /// prompt pushed without one (the registry's JSON push), and then left off the wire.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model: String,
    /// The Bedrock model id the alias resolved to (empty when `model` is).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub model_id: String,
    /// The version this one was derived from (lineage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parent: Option<Version>,
    /// Lifecycle state.
    #[serde(default)]
    pub status: Status,
    /// Why the prompt is deprecated and what to use instead (only for `deprecated`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deprecation_note: Option<String>,
    /// Free-text description.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Search tags, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
    /// Declared metrics.
    #[serde(default, skip_serializing_if = "Metrics::is_empty")]
    pub metrics: Metrics,
    /// Declared variables, in file order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub variables: Vec<VarDef>,
    /// The user-turn template (minijinja syntax).
    #[serde(rename = "content")]
    pub template: String,
    /// The optional system-prompt template.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system: Option<String>,
    /// Declared inference parameters.
    #[serde(default, skip_serializing_if = "Inference::is_empty")]
    pub inference: Inference,
    /// Output labels for classifier prompts, in file order; empty for free-text prompts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    /// The shape of a structured answer (`output.schema`), for prompts that return one; never
    /// set together with [`labels`](Self::labels).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output_schema: Option<crate::output_schema::Schema>,
    /// ISO date the prompt was created.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created: Option<String>,
    /// ISO date the prompt was last updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub updated: Option<String>,
    /// SHA-256 of the prompt's source (the prompt file's bytes), lowercase hex.
    pub content_hash: String,
    /// SHA-256 of the prompt's typed contract ([`crate::contract::contract_hash`]): two
    /// prompts with the same contract hash take the same variables and produce the same
    /// labels or the same shape of structured answer.
    pub contract_hash: String,
    /// Path of the prompt file relative to the prompts directory, with `/` separators; `None`
    /// for prompts that did not come from a file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
}

impl PromptDef {
    /// A stable prompt with these fields, the model as its own model id, and everything else
    /// empty (no variables, labels, metrics or hashes of content); the contract hash is
    /// computed. Set more fields, then call [`refresh_contract_hash`](Self::refresh_contract_hash)
    /// if the variables, labels or output schema changed.
    pub fn new(
        id: impl Into<String>,
        version: Version,
        owner: impl Into<String>,
        model: impl Into<String>,
        template: impl Into<String>,
    ) -> Self {
        let model = model.into();
        let mut def = PromptDef {
            id: id.into(),
            version,
            owner: owner.into(),
            model_id: model.clone(),
            model,
            parent: None,
            status: Status::Stable,
            deprecation_note: None,
            description: None,
            tags: Vec::new(),
            metrics: Metrics::default(),
            variables: Vec::new(),
            template: template.into(),
            system: None,
            inference: Inference::default(),
            labels: Vec::new(),
            output_schema: None,
            created: None,
            updated: None,
            content_hash: String::new(),
            contract_hash: String::new(),
            source_path: None,
        };
        def.refresh_contract_hash();
        def
    }

    /// Sets [`contract_hash`](Self::contract_hash) from the current variables, labels and output
    /// schema.
    pub fn refresh_contract_hash(&mut self) {
        self.contract_hash = crate::contract::contract_hash(self);
    }

    /// The declared variable called `name`, if any.
    pub fn variable(&self, name: &str) -> Option<&VarDef> {
        self.variables.iter().find(|var| var.name == name)
    }

    /// Whether the output is parsed into one of [`labels`](Self::labels).
    pub fn is_classifier(&self) -> bool {
        !self.labels.is_empty()
    }

    /// `id@version`, the way logs and errors name a prompt version.
    pub fn reference(&self) -> String {
        format!("{}@{}", self.id, self.version)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_and_types_round_trip_their_spelling() {
        for status in Status::ALL {
            assert_eq!(Status::parse(status.as_str()), Some(status));
            assert_eq!(
                serde_json::to_string(&status).unwrap(),
                format!("\"{status}\"")
            );
        }
        for ty in VarType::ALL {
            assert_eq!(VarType::parse(ty.as_str()), Some(ty));
            assert_eq!(serde_json::to_string(&ty).unwrap(), format!("\"{ty}\""));
        }
        assert_eq!(Status::parse("stabel"), None);
        assert_eq!(VarType::parse("str"), None);
        assert_eq!(Status::default(), Status::Stable);
    }

    #[test]
    fn values_are_plain_json_and_know_their_type() {
        let cases = [
            ("\"hi\"", Value::String("hi".into()), VarType::String),
            ("5", Value::Integer(5), VarType::Integer),
            ("0.5", Value::Number(0.5), VarType::Number),
            ("true", Value::Boolean(true), VarType::Boolean),
            ("[\"a\"]", Value::List(vec!["a".into()]), VarType::List),
        ];
        for (json, value, ty) in cases {
            assert_eq!(serde_json::from_str::<Value>(json).unwrap(), value);
            assert_eq!(serde_json::to_string(&value).unwrap(), json);
            assert_eq!(value.var_type(), ty);
            assert!(value.fits(ty));
        }
        assert!(Value::Integer(1).fits(VarType::Number));
        assert!(!Value::Number(1.0).fits(VarType::Integer));
        assert!(!Value::String("1".into()).fits(VarType::Integer));
        assert!(serde_json::from_str::<Value>("{}").is_err());
        assert!(serde_json::from_str::<Value>("[1]").is_err());
    }

    #[test]
    fn metrics_share_one_object() {
        let metrics = Metrics {
            baseline_accuracy: Some(0.9),
            cost_per_call_usd: None,
            other: [("p95_ms".to_owned(), 900.0)].into(),
        };
        let json = serde_json::to_string(&metrics).unwrap();
        assert_eq!(json, r#"{"baseline_accuracy":0.9,"p95_ms":900.0}"#);
        assert_eq!(serde_json::from_str::<Metrics>(&json).unwrap(), metrics);
        assert_eq!(metrics.get("p95_ms"), Some(900.0));
        assert_eq!(metrics.get("baseline_accuracy"), Some(0.9));
        assert_eq!(metrics.get("cost_per_call_usd"), None);
        assert!(Metrics::default().is_empty() && !metrics.is_empty());
    }
}
