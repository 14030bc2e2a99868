//! The typed handle generated code returns, and the traits that tie a prompt's
//! variables and output type to it.

use std::fmt;
use std::marker::PhantomData;

use crate::def::{PromptDef, Version};
use crate::structured::{self, InvalidOutput};

/// Compile-time contract of one prompt: which variables it takes and what its output parses into.
///
/// Generated crates implement this on a zero-sized marker type per prompt
/// (`prompts::customer_support::intent_classifier::Spec`). The definition itself travels with
/// the [`Prompt`] handle.
pub trait PromptSpec: 'static {
    /// The variables the template needs: a generated `Vars<'a>` struct, or [`NoVars`].
    type Vars<'a>: TemplateVars;
    /// What an answer is read into: a generated label enum or `Output` struct, or [`String`]
    /// for free text.
    type Output: PromptOutput;
}

/// A value handed to the template renderer.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum VarValue<'a> {
    /// A `string` variable.
    String(&'a str),
    /// An `integer` variable.
    Integer(i64),
    /// A `number` variable.
    Number(f64),
    /// A `boolean` variable.
    Boolean(bool),
    /// A `list` variable.
    List(&'a [&'a str]),
}

/// Receives a prompt's variables one by one: the renderer implements it, and so does any
/// closure `FnMut(&str, VarValue<'_>)`.
///
/// Generated `Vars` call the typed methods (`string`, `optional_list`, ...), which all end in
/// [`var`](Self::var): one call per field and no value to build keeps each generated `visit`
/// cheap for rustc to check (BENCHMARKS.md, "Build time").
pub trait VarVisitor {
    /// One supplied variable, under the name the template uses.
    fn var(&mut self, name: &str, value: VarValue<'_>);

    /// A `string` variable.
    fn string(&mut self, name: &str, value: &str) {
        self.var(name, VarValue::String(value));
    }

    /// An `integer` variable.
    fn integer(&mut self, name: &str, value: i64) {
        self.var(name, VarValue::Integer(value));
    }

    /// A `number` variable.
    fn number(&mut self, name: &str, value: f64) {
        self.var(name, VarValue::Number(value));
    }

    /// A `boolean` variable.
    fn boolean(&mut self, name: &str, value: bool) {
        self.var(name, VarValue::Boolean(value));
    }

    /// A `list` variable.
    fn list(&mut self, name: &str, value: &[&str]) {
        self.var(name, VarValue::List(value));
    }

    /// An optional `string` variable: visited only when set.
    fn optional_string(&mut self, name: &str, value: Option<&str>) {
        if let Some(value) = value {
            self.string(name, value);
        }
    }

    /// An optional `integer` variable: visited only when set.
    fn optional_integer(&mut self, name: &str, value: Option<i64>) {
        if let Some(value) = value {
            self.integer(name, value);
        }
    }

    /// An optional `number` variable: visited only when set.
    fn optional_number(&mut self, name: &str, value: Option<f64>) {
        if let Some(value) = value {
            self.number(name, value);
        }
    }

    /// An optional `boolean` variable: visited only when set.
    fn optional_boolean(&mut self, name: &str, value: Option<bool>) {
        if let Some(value) = value {
            self.boolean(name, value);
        }
    }

    /// An optional `list` variable: visited only when set.
    fn optional_list(&mut self, name: &str, value: Option<&[&str]>) {
        if let Some(value) = value {
            self.list(name, value);
        }
    }
}

impl<F: FnMut(&str, VarValue<'_>)> VarVisitor for F {
    fn var(&mut self, name: &str, value: VarValue<'_>) {
        self(name, value)
    }
}

/// Something that can hand its variables to the renderer, one by one.
///
/// Generated `Vars` structs implement it with one typed [`VarVisitor`] call per field; optional
/// fields that are `None` are simply not visited (the declared default then applies).
/// Implement it by hand for variables assembled another way (as [`DynVars`](crate::DynVars)
/// does).
///
/// ```
/// use promptops_runtime::{TemplateVars, VarValue, VarVisitor};
///
/// struct Greeting<'a> {
///     name: &'a str,
///     tone: Option<&'a str>,
/// }
///
/// impl TemplateVars for Greeting<'_> {
///     fn visit(&self, visitor: &mut dyn VarVisitor) {
///         visitor.string("name", self.name);
///         visitor.optional_string("tone", self.tone); // skipped when `None`
///     }
/// }
///
/// let mut seen = Vec::new();
/// Greeting { name: "Ada", tone: None }
///     .visit(&mut |name: &str, value: VarValue<'_>| seen.push(format!("{name}={value:?}")));
/// assert_eq!(seen, [r#"name=String("Ada")"#]);
/// ```
pub trait TemplateVars {
    /// Hands each supplied variable to `visitor`.
    fn visit(&self, visitor: &mut dyn VarVisitor);
}

/// The variables of a prompt whose template uses none: the caller's input is the user turn.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NoVars;

impl TemplateVars for NoVars {
    fn visit(&self, _visitor: &mut dyn VarVisitor) {}
}

/// A completion that is not one of the prompt's labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnexpectedOutput {
    /// The model's text, untouched.
    pub raw: String,
    /// The labels that would have been accepted.
    pub expected: Vec<String>,
}

impl fmt::Display for UnexpectedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "model output {:?} is not one of the labels [{}]",
            self.raw,
            self.expected.join(", ")
        )
    }
}

impl std::error::Error for UnexpectedOutput {}

/// A model's answer as the runtime hands it to [`PromptOutput::from_answer`].
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Answer<'a> {
    /// The model's text: what labels and free text are read from.
    Text(&'a str),
    /// A JSON answer that passed the prompt's output schema check
    /// ([`structured::check`](crate::structured::check)): what a generated `Output` struct is
    /// deserialized from.
    Checked(&'a serde_json::Value),
}

/// Why an answer could not be read into a prompt's output type.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OutputError {
    /// A classifier's answer names none of its labels.
    #[error(transparent)]
    Unexpected(#[from] UnexpectedOutput),
    /// A structured answer does not fill the output schema.
    #[error(transparent)]
    Invalid(#[from] InvalidOutput),
}

impl OutputError {
    /// The model's answer as it came.
    pub fn raw(&self) -> &str {
        match self {
            OutputError::Unexpected(unexpected) => &unexpected.raw,
            OutputError::Invalid(invalid) => &invalid.raw,
        }
    }
}

/// What a prompt's answer is read into: a generated label enum, a generated `Output` struct
/// (through [`structured::deserialize`](crate::structured::deserialize)), or [`String`].
pub trait PromptOutput: Sized {
    /// Reads the model's answer.
    fn from_answer(answer: Answer<'_>) -> Result<Self, OutputError>;
}

impl PromptOutput for String {
    /// The text as it came; a checked JSON answer as its JSON text.
    fn from_answer(answer: Answer<'_>) -> Result<Self, OutputError> {
        Ok(match answer {
            Answer::Text(text) => text.to_owned(),
            Answer::Checked(value) => value.to_string(),
        })
    }
}

/// The position in `labels` of the label a model's `text` names. Surrounding whitespace and
/// ASCII punctuation are ignored, and so is ASCII case (`" Billing.\n"` names `billing`). Every
/// classifier output is read by this one rule: generated enums, [`parse_label`], batch jobs and
/// the eval gate.
pub fn label_position<L: AsRef<str>>(labels: &[L], text: &str) -> Option<usize> {
    let cleaned = text
        .trim()
        .trim_matches(|c: char| c.is_ascii_punctuation() || c.is_whitespace());
    labels
        .iter()
        .position(|label| label.as_ref().eq_ignore_ascii_case(cleaned))
}

/// The declared label of `def` that a model's `text` names (by [`label_position`]'s rule), for
/// callers that hold a definition rather than a typed handle.
pub fn parse_label<'d>(def: &'d PromptDef, text: &str) -> Result<&'d str, UnexpectedOutput> {
    label_position(&def.labels, text)
        .and_then(|index| def.labels.get(index))
        .map(String::as_str)
        .ok_or_else(|| UnexpectedOutput {
            raw: text.to_owned(),
            expected: def.labels.clone(),
        })
}

/// A generated classifier enum: one variant per declared `output.labels` entry.
pub trait Label: Copy + Eq + fmt::Debug + 'static {
    /// The labels as written in the prompt file, in variant order.
    const LABELS: &'static [&'static str];
    /// Every variant, in the same order as [`LABELS`](Self::LABELS).
    const VARIANTS: &'static [Self];

    /// The label as written in the prompt file.
    fn as_str(self) -> &'static str {
        let index = Self::VARIANTS
            .iter()
            .position(|variant| *variant == self)
            .unwrap_or_default();
        Self::LABELS[index]
    }

    /// Parses model output by [`label_position`]'s rule.
    fn parse_label(text: &str) -> Result<Self, UnexpectedOutput> {
        label_position(Self::LABELS, text)
            .and_then(|index| Self::VARIANTS.get(index).copied())
            .ok_or_else(|| UnexpectedOutput {
                raw: text.to_owned(),
                expected: Self::LABELS
                    .iter()
                    .map(|label| (*label).to_owned())
                    .collect(),
            })
    }
}

// One blanket impl instead of one per generated enum: a crate with hundreds of classifier
// prompts would otherwise monomorphise `parse_label` once per enum inside the prompts crate.
impl<L: Label> PromptOutput for L {
    /// The label the text names; a JSON string answer is read the same way.
    fn from_answer(answer: Answer<'_>) -> Result<Self, OutputError> {
        let text = match answer {
            Answer::Text(text) => text,
            Answer::Checked(serde_json::Value::String(text)) => text,
            Answer::Checked(other) => &other.to_string(),
        };
        Ok(L::parse_label(text)?)
    }
}

/// A typed handle on one compiled-in prompt.
///
/// Obtained from a generated function such as `prompts::customer_support::intent_classifier()`.
/// It is `Copy` and costs one pointer; the type parameter carries the variables and output
/// contract, so passing the wrong `Vars` is a type error at the call site.
pub struct Prompt<S: PromptSpec> {
    def: &'static PromptDef,
    spec: PhantomData<fn() -> S>,
}

impl<S: PromptSpec> Prompt<S> {
    /// Creates the handle for `def`, which must be the definition `S` was generated for.
    /// Generated handle functions call this; users call those functions. Not a public API.
    #[doc(hidden)]
    #[inline]
    pub const fn __new(def: &'static PromptDef) -> Self {
        Prompt {
            def,
            spec: PhantomData,
        }
    }

    /// The prompt's static description (id, version, owner, model, template, ...).
    pub const fn def(&self) -> &'static PromptDef {
        self.def
    }

    /// Dotted id.
    pub fn id(&self) -> &'static str {
        &self.def.id
    }

    /// The compiled-in version.
    pub fn version(&self) -> Version {
        self.def.version
    }

    /// SHA-256 of the prompt file.
    pub fn content_hash(&self) -> &'static str {
        &self.def.content_hash
    }

    /// Reads a stored completion's text into this prompt's output type: the label it names,
    /// or, for a prompt with an output schema, the first JSON object in it, checked against the
    /// schema and deserialized.
    pub fn parse_output(&self, text: &str) -> Result<S::Output, OutputError> {
        read_output(self.def, text)
    }
}

/// Reads `text` as `def`'s answer into `T`: by the output schema when `def` has one, else as
/// text (labels, free text).
pub fn read_output<T: PromptOutput>(def: &PromptDef, text: &str) -> Result<T, OutputError> {
    match &def.output_schema {
        Some(schema) => {
            T::from_answer(Answer::Checked(&structured::checked_in_text(schema, text)?))
        }
        None => T::from_answer(Answer::Text(text)),
    }
}

impl<S: PromptSpec> Clone for Prompt<S> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<S: PromptSpec> Copy for Prompt<S> {}

impl<S: PromptSpec> fmt::Debug for Prompt<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Prompt")
            .field("id", &self.def.id)
            .field("version", &self.def.version)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    enum Mood {
        Happy,
        Sad,
    }

    impl Label for Mood {
        const LABELS: &'static [&'static str] = &["happy", "sad"];
        const VARIANTS: &'static [Self] = &[Mood::Happy, Mood::Sad];
    }

    #[test]
    fn labels_parse_case_insensitively_and_trimmed() {
        assert_eq!(Mood::parse_label("  Happy.\n"), Ok(Mood::Happy));
        assert_eq!(Mood::parse_label("SAD"), Ok(Mood::Sad));
        assert_eq!(Mood::Sad.as_str(), "sad");
    }

    #[test]
    fn typed_visitor_methods_end_in_var_and_skip_unset_options() {
        let mut seen = Vec::new();
        {
            let mut record = |name: &str, value: VarValue<'_>| {
                seen.push(format!("{name}={value:?}"));
            };
            let visitor: &mut dyn VarVisitor = &mut record;
            visitor.string("s", "a");
            visitor.integer("i", -1);
            visitor.number("n", 0.5);
            visitor.boolean("b", true);
            visitor.list("l", &["x"]);
            visitor.optional_string("os", Some("b"));
            visitor.optional_integer("oi", None);
            visitor.optional_number("on", Some(2.0));
            visitor.optional_boolean("ob", None);
            visitor.optional_list("ol", Some(&[]));
        }
        assert_eq!(
            seen,
            [
                "s=String(\"a\")",
                "i=Integer(-1)",
                "n=Number(0.5)",
                "b=Boolean(true)",
                "l=List([\"x\"])",
                "os=String(\"b\")",
                "on=Number(2.0)",
                "ol=List([])",
            ]
        );
    }

    #[test]
    fn one_rule_reads_every_label() {
        let labels = ["billing", "other"];
        assert_eq!(label_position(&labels, " Billing.\n"), Some(0));
        assert_eq!(label_position(&labels, "\"other\""), Some(1));
        assert_eq!(label_position(&labels, "billing please"), None);
        assert_eq!(label_position(&labels, ""), None);
        assert_eq!(Mood::parse_label(" SAD!"), Ok(Mood::Sad));
    }

    #[test]
    fn unknown_label_keeps_raw_text() {
        let err = Mood::parse_label("ecstatic!").unwrap_err();
        assert_eq!(err.raw, "ecstatic!");
        assert_eq!(err.expected, ["happy", "sad"]);
        assert!(err.to_string().contains("[happy, sad]"));
    }
}
