//! The static description of one prompt, as `promptops-build` generates it.
//!
//! Everything here is plain data with `'static` lifetimes. Generated crates do not spell
//! definitions out as struct literals (rustc checks those slowly); they embed each one as an
//! encoded string that [`Registry`](crate::Registry) decodes on first use (see
//! [`registry`](crate::registry) and `BENCHMARKS.md`, "Build time").

/// Lifecycle state of a prompt, used for environment gating.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Status {
    /// Work in progress: visible in development builds only.
    Draft,
    /// Released; the default when a prompt file does not say otherwise.
    Stable,
    /// Still served, but callers should move to a replacement.
    Deprecated,
}

impl Status {
    /// The spelling used in prompt files (`draft`, `stable`, `deprecated`).
    pub const fn as_str(self) -> &'static str {
        match self {
            Status::Draft => "draft",
            Status::Stable => "stable",
            Status::Deprecated => "deprecated",
        }
    }
}

impl std::fmt::Display for Status {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The declared type of a template variable.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
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
    /// The spelling used in prompt files.
    pub const fn as_str(self) -> &'static str {
        match self {
            VarType::String => "string",
            VarType::Integer => "integer",
            VarType::Number => "number",
            VarType::Boolean => "boolean",
            VarType::List => "list",
        }
    }
}

/// A default value declared for an optional variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VarDefault {
    /// Default for a `string` variable.
    String(&'static str),
    /// Default for an `integer` variable.
    Integer(i64),
    /// Default for a `number` variable.
    Number(f64),
    /// Default for a `boolean` variable.
    Boolean(bool),
    /// Default for a `list` variable.
    List(&'static [&'static str]),
}

/// One declared template variable.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct VarDef {
    /// The name used in the template (`{{ customer_name }}`).
    pub name: &'static str,
    /// The declared type.
    pub ty: VarType,
    /// Free text from the prompt file.
    pub description: Option<&'static str>,
    /// Whether the caller must supply it. Optional variables become `Option<_>` fields.
    pub required: bool,
    /// Value used when an optional variable is not supplied.
    pub default: Option<VarDefault>,
    /// Sensitive values never appear in events or error messages.
    pub sensitive: bool,
}

/// Measured and declared numbers attached to a prompt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Metrics {
    /// Accuracy the eval gate must not fall below, in `[0, 1]`.
    pub baseline_accuracy: Option<f64>,
    /// Expected cost of one call in US dollars.
    pub cost_per_call_usd: Option<f64>,
    /// Any other numeric metric, sorted by name.
    pub other: &'static [(&'static str, f64)],
}

impl Metrics {
    /// No metrics declared.
    pub const EMPTY: Metrics = Metrics {
        baseline_accuracy: None,
        cost_per_call_usd: None,
        other: &[],
    };

    /// Looks a metric up by name, including the two well-known ones.
    pub fn get(&self, name: &str) -> Option<f64> {
        match name {
            "baseline_accuracy" => self.baseline_accuracy,
            "cost_per_call_usd" => self.cost_per_call_usd,
            _ => self
                .other
                .iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| *value),
        }
    }
}

/// Inference parameters declared by a prompt (each may be overridden per call).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Inference {
    /// Upper bound on generated tokens.
    pub max_tokens: Option<u32>,
    /// Sampling temperature in `[0, 1]`.
    pub temperature: Option<f32>,
    /// Nucleus sampling mass in `[0, 1]`.
    pub top_p: Option<f32>,
    /// Strings that stop generation.
    pub stop_sequences: &'static [&'static str],
}

impl Inference {
    /// No inference settings declared: the model's defaults apply.
    pub const DEFAULT: Inference = Inference {
        max_tokens: None,
        temperature: None,
        top_p: None,
        stop_sequences: &[],
    };
}

/// Everything known about one prompt at compile time.
///
/// Generated crates expose every definition through `ALL` (sorted by id), `get(id)` and the
/// handles' [`def`](crate::Prompt::def).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct PromptDef {
    /// Dotted id, e.g. `customer-support.intent-classifier`.
    pub id: &'static str,
    /// Version number, ≥ 1.
    pub version: u32,
    /// Team or person who approves changes.
    pub owner: &'static str,
    /// The model exactly as written in the prompt file (an alias or a Bedrock id).
    pub model: &'static str,
    /// The Bedrock model id the alias resolved to.
    pub model_id: &'static str,
    /// The version this one was derived from.
    pub parent: Option<u32>,
    /// Lifecycle state.
    pub status: Status,
    /// Why the prompt is deprecated and what to use instead (only for `deprecated`).
    pub deprecation_note: Option<&'static str>,
    /// Free-text description.
    pub description: Option<&'static str>,
    /// Search tags, in file order.
    pub tags: &'static [&'static str],
    /// Declared metrics.
    pub metrics: Metrics,
    /// Declared variables, in file order.
    pub variables: &'static [VarDef],
    /// The user-turn template (minijinja syntax, validated at build time).
    pub template: &'static str,
    /// The optional system-prompt template.
    pub system: Option<&'static str>,
    /// Declared inference parameters.
    pub inference: Inference,
    /// Output labels for classifier prompts, in file order; empty for free-text prompts.
    pub labels: &'static [&'static str],
    /// ISO date the prompt was created.
    pub created: Option<&'static str>,
    /// ISO date the prompt was last updated.
    pub updated: Option<&'static str>,
    /// SHA-256 of the prompt file's bytes, lowercase hex.
    pub content_hash: &'static str,
    /// Path of the prompt file relative to the prompts directory, with `/` separators.
    pub source_path: &'static str,
}

/// A definition with every field at its default, for definitions written by hand (tests,
/// benchmarks): `PromptDef { id: …, ..PROMPT_DEF }`. Not a public API.
#[doc(hidden)]
pub const PROMPT_DEF: PromptDef = PromptDef {
    id: "",
    version: 1,
    owner: "",
    model: "",
    model_id: "",
    parent: None,
    status: Status::Stable,
    deprecation_note: None,
    description: None,
    tags: &[],
    metrics: Metrics::EMPTY,
    variables: &[],
    template: "",
    system: None,
    inference: Inference::DEFAULT,
    labels: &[],
    created: None,
    updated: None,
    content_hash: "",
    source_path: "",
};

/// A [`VarDef`] at its defaults (optional, not sensitive, no description or default), for
/// definitions written by hand. Not a public API.
#[doc(hidden)]
pub const VAR_DEF: VarDef = VarDef {
    name: "",
    ty: VarType::String,
    description: None,
    required: false,
    default: None,
    sensitive: false,
};

impl PromptDef {
    /// The declared label a model's `text` names (see [`label_position`](crate::spec::label_position)).
    pub fn parse_label(&self, text: &str) -> Result<&'static str, crate::UnexpectedOutput> {
        crate::spec::label_position(self.labels, text)
            .and_then(|index| self.labels.get(index).copied())
            .ok_or_else(|| crate::UnexpectedOutput {
                raw: text.to_owned(),
                expected: self.labels,
            })
    }

    /// The declared variable called `name`, if any.
    pub fn variable(&self, name: &str) -> Option<&'static VarDef> {
        self.variables.iter().find(|var| var.name == name)
    }

    /// Whether the output is parsed into one of [`labels`](Self::labels).
    pub fn is_classifier(&self) -> bool {
        !self.labels.is_empty()
    }
}

/// Finds a prompt by id in a table sorted by id (as generated `ALL` tables are).
pub fn lookup(table: &'static [&'static PromptDef], id: &str) -> Option<&'static PromptDef> {
    table
        .binary_search_by(|def| def.id.cmp(id))
        .ok()
        .map(|index| table[index])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn def(id: &'static str) -> PromptDef {
        PromptDef {
            id,
            owner: "o",
            model: "m",
            model_id: "m",
            template: "t",
            ..PROMPT_DEF
        }
    }

    #[test]
    fn binary_search_finds_exactly_the_listed_ids() {
        let defs: &'static [PromptDef] = Box::leak(
            ["a.b", "a.c", "b.a", "zz.top"]
                .map(def)
                .to_vec()
                .into_boxed_slice(),
        );
        let table: &'static [&'static PromptDef] =
            Box::leak(defs.iter().collect::<Vec<_>>().into_boxed_slice());
        for id in ["a.b", "a.c", "b.a", "zz.top"] {
            assert_eq!(lookup(table, id).map(|d| d.id), Some(id));
        }
        for id in ["a", "", "zz.top.x"] {
            assert!(lookup(table, id).is_none(), "{id}");
        }
        assert!(lookup(table, "b.a").is_some_and(|d| std::ptr::eq(d, &defs[2])));
    }
}
