//! The input record contract: one JSON object per line.
//!
//! ```json
//! {"id": "msg-0001", "message": "I was charged twice", "channel": "email"}
//! {"id": 17, "input": "The app crashes on start"}
//! {"id": "t-9", "customer_name": "Ada", "message": "Where is my refund?", "tone": "formal"}
//! {"id": "t-10", "vars": {"customer_name": "Ada", "message": "Hi"}, "input": "..."}
//! ```
//!
//! * `id` — required: a non-empty string, or an integer (used as its decimal text). It names
//!   the record in the results, the errors file, the Bedrock export (`recordId`) and the events
//!   (`request_id`).
//! * the **input** (the user turn) — `input`, or for prompts without variables (the intent
//!   classifier) also `message`. Required for prompts without variables; optional otherwise
//!   (when present the rendered templates become the instructions and `input` the user turn).
//! * the **variables** of prompts that declare some — from the `vars` object when there is one
//!   (then every name in it must be declared), else from the top-level fields with the declared
//!   names (other top-level fields are ignored, so records may carry metadata). Types are
//!   checked against the prompt: `string` ← string, `integer` ← integer, `number` ← number,
//!   `boolean` ← boolean, `list` ← array of strings. `null` counts as absent: the declared
//!   default applies, and a required variable without a default is an error.
//!
//! Blank lines are skipped. Anything else that does not fit is a [`RecordError`], reported in
//! the errors file with its line number.

use promptops_runtime::render::{render_def, render_def_with_input, render_resolution};
pub use promptops_runtime::Value as OwnedValue;
use promptops_runtime::{DynVars, PromptDef, RenderError, Rendered, Resolution, VarType};
use serde_json::{Map, Value};

/// Why an input line could not become a call.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RecordError {
    /// The line is not UTF-8.
    #[error("line is not valid UTF-8")]
    InvalidUtf8,
    /// The line exceeds the length limit (it is skipped without being held in memory).
    #[error("line is longer than the limit of {limit} bytes")]
    TooLong {
        /// The limit in bytes.
        limit: usize,
    },
    /// The line is not JSON.
    #[error("invalid JSON: {0}")]
    BadJson(String),
    /// The line is JSON but not an object.
    #[error("a record must be a JSON object, found {0}")]
    NotObject(&'static str),
    /// No `id` field.
    #[error("missing `id`")]
    MissingId,
    /// `id` is neither a non-empty string nor an integer.
    #[error("`id` must be a non-empty string or an integer, found {0}")]
    BadId(String),
    /// An earlier line has the same id: only the first one is processed.
    #[error("duplicate id: an earlier line has the same id")]
    DuplicateId,
    /// No input for a prompt that needs one.
    #[error("missing input: prompt {prompt_id} takes the text from `input` or `message`")]
    MissingInput {
        /// The prompt's id.
        prompt_id: &'static str,
    },
    /// `input`/`message` is not a string.
    #[error("`{field}` must be a string, found {found}")]
    BadInput {
        /// The field name.
        field: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// `vars` is not an object.
    #[error("`vars` must be an object, found {0}")]
    BadVars(&'static str),
    /// A name in `vars` that the prompt does not declare.
    #[error("prompt {prompt_id} has no variable `{name}` (declared: {declared})")]
    UnknownVariable {
        /// The prompt's id.
        prompt_id: &'static str,
        /// The unknown name.
        name: String,
        /// The declared names.
        declared: String,
    },
    /// A variable of the wrong JSON type.
    #[error("variable `{name}` must be {expected}, found {found}")]
    BadVariable {
        /// The variable.
        name: &'static str,
        /// What its declared type accepts.
        expected: &'static str,
        /// The JSON type found.
        found: &'static str,
    },
    /// A required variable without a value or default.
    #[error("missing required variable `{name}`")]
    MissingVariable {
        /// The variable.
        name: &'static str,
    },
}

impl RecordError {
    /// A stable short name for the errors file's `error` field.
    pub fn kind(&self) -> &'static str {
        match self {
            RecordError::InvalidUtf8 => "invalid_utf8",
            RecordError::TooLong { .. } => "line_too_long",
            RecordError::BadJson(_) => "bad_json",
            RecordError::NotObject(_) => "not_object",
            RecordError::MissingId => "missing_id",
            RecordError::BadId(_) => "bad_id",
            RecordError::DuplicateId => "duplicate_id",
            RecordError::MissingInput { .. } => "missing_input",
            RecordError::BadInput { .. } => "bad_input",
            RecordError::BadVars(_) => "bad_vars",
            RecordError::UnknownVariable { .. } => "unknown_variable",
            RecordError::BadVariable { .. } => "bad_variable",
            RecordError::MissingVariable { .. } => "missing_variable",
        }
    }
}

/// The JSON type of a value, for messages (never the value itself: inputs may be sensitive).
pub fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "an integer",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A line whose id has been read; the rest is checked against a prompt by
/// [`into_record`](ParsedLine::into_record).
#[derive(Debug, Clone, PartialEq)]
pub struct ParsedLine {
    /// The record's id (integers as decimal text).
    pub id: String,
    fields: Map<String, Value>,
}

/// Parses one line (without its newline) and reads the id.
pub fn parse_line(text: &str) -> Result<ParsedLine, RecordError> {
    let value: Value =
        serde_json::from_str(text).map_err(|err| RecordError::BadJson(err.to_string()))?;
    let Value::Object(mut fields) = value else {
        return Err(RecordError::NotObject(json_type(&value)));
    };
    let id = match fields.remove("id") {
        None | Some(Value::Null) => return Err(RecordError::MissingId),
        Some(Value::String(id)) if !id.trim().is_empty() => id,
        Some(Value::Number(number)) if number.is_i64() || number.is_u64() => number.to_string(),
        Some(Value::String(_)) => return Err(RecordError::BadId("an empty string".into())),
        Some(other) => return Err(RecordError::BadId(json_type(&other).into())),
    };
    Ok(ParsedLine { id, fields })
}

/// A record ready to be rendered: its id, line, input and typed variables.
#[derive(Debug, Clone, PartialEq)]
pub struct Record {
    /// 1-based line number in the input.
    pub line: u64,
    /// The record's id.
    pub id: String,
    /// The user turn, when the record has one.
    pub input: Option<String>,
    /// Variable values, in declaration order.
    pub vars: Vec<(&'static str, OwnedValue)>,
}

fn convert(
    name: &'static str,
    ty: VarType,
    value: Value,
) -> Result<Option<OwnedValue>, RecordError> {
    let bad = |expected: &'static str, value: &Value| RecordError::BadVariable {
        name,
        expected,
        found: json_type(value),
    };
    Ok(Some(match (ty, value) {
        (_, Value::Null) => return Ok(None),
        (VarType::String, Value::String(text)) => OwnedValue::String(text),
        (VarType::String, other) => return Err(bad("a string", &other)),
        (VarType::Integer, Value::Number(number)) if number.is_i64() => {
            OwnedValue::Integer(number.as_i64().unwrap_or_default())
        }
        (VarType::Integer, other) => return Err(bad("an integer (i64)", &other)),
        (VarType::Number, Value::Number(number)) => {
            OwnedValue::Number(number.as_f64().unwrap_or_default())
        }
        (VarType::Number, other) => return Err(bad("a number", &other)),
        (VarType::Boolean, Value::Bool(flag)) => OwnedValue::Boolean(flag),
        (VarType::Boolean, other) => return Err(bad("a boolean", &other)),
        (VarType::List, Value::Array(items)) => {
            let mut list = Vec::with_capacity(items.len());
            for item in items {
                match item {
                    Value::String(text) => list.push(text),
                    other => return Err(bad("an array of strings", &other)),
                }
            }
            OwnedValue::List(list)
        }
        (VarType::List, other) => return Err(bad("an array of strings", &other)),
    }))
}

fn take_input(
    fields: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, RecordError> {
    match fields.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(RecordError::BadInput {
            field,
            found: json_type(&other),
        }),
    }
}

impl ParsedLine {
    /// Checks the line against `def` (see the module docs) and builds the record.
    pub fn into_record(self, def: &'static PromptDef, line: u64) -> Result<Record, RecordError> {
        let ParsedLine { id, mut fields } = self;
        // A prompt that declares a variable called `input` gets it as a variable.
        let mut input = match def.variable("input") {
            Some(_) => None,
            None => take_input(&mut fields, "input")?,
        };
        if def.variables.is_empty() {
            if input.is_none() {
                input = take_input(&mut fields, "message")?;
            }
            if input.is_none() {
                return Err(RecordError::MissingInput { prompt_id: &def.id });
            }
        }
        let explicit = match fields.remove("vars") {
            None | Some(Value::Null) => None,
            Some(Value::Object(vars)) => Some(vars),
            Some(other) => return Err(RecordError::BadVars(json_type(&other))),
        };
        let mut source = match explicit {
            Some(vars) => {
                if let Some(name) = vars.keys().find(|name| def.variable(name).is_none()) {
                    return Err(RecordError::UnknownVariable {
                        prompt_id: &def.id,
                        name: name.clone(),
                        declared: declared_names(def),
                    });
                }
                vars
            }
            None => fields,
        };
        let mut vars = Vec::with_capacity(def.variables.len());
        for var in &def.variables {
            let name = var.name.as_str();
            let value = match source.remove(name) {
                Some(value) => convert(name, var.ty, value)?,
                None => None,
            };
            match value {
                Some(value) => vars.push((name, value)),
                None if var.required && var.default.is_none() => {
                    return Err(RecordError::MissingVariable { name })
                }
                None => {}
            }
        }
        Ok(Record {
            line,
            id,
            input,
            vars,
        })
    }
}

fn declared_names(def: &PromptDef) -> String {
    if def.variables.is_empty() {
        return "none".into();
    }
    def.variables
        .iter()
        .map(|var| var.name.as_str())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Why a record could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderFailure {
    /// A variable name the prompt does not declare (cannot happen for records built by
    /// [`ParsedLine::into_record`]).
    #[error(transparent)]
    UnknownVariable(#[from] promptops_runtime::UnknownVariable),
    /// The template failed to render.
    #[error(transparent)]
    Render(#[from] RenderError),
}

impl Record {
    /// Renders `def` for this record: with the input as the user turn when there is one.
    pub fn render(&self, def: &'static PromptDef) -> Result<Rendered, RenderFailure> {
        let vars = DynVars::from_owned(def, self.vars.iter().map(|(name, value)| (*name, value)))?;
        Ok(match &self.input {
            Some(input) => render_def_with_input(def, &vars, input)?,
            None => render_def(def, &vars)?,
        })
    }

    /// Renders what the run resolved for `compiled` ([`render_resolution`]: the pinned version,
    /// or the compiled prompt when that version cannot render this record).
    pub fn render_resolution(
        &self,
        compiled: &'static PromptDef,
        resolution: &Resolution,
    ) -> Result<Rendered, RenderFailure> {
        let vars = DynVars::from_owned(
            &resolution.def,
            self.vars.iter().map(|(name, value)| (*name, value)),
        )?;
        Ok(render_resolution(
            compiled,
            resolution,
            &vars,
            self.input.as_deref(),
        )?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn classifier() -> &'static PromptDef {
        prompts::get("customer-support.intent-classifier").expect("compiled in")
    }

    fn drafter() -> &'static PromptDef {
        prompts::get("customer-support.reply-drafter").expect("compiled in")
    }

    fn record(def: &'static PromptDef, line: &str) -> Result<Record, RecordError> {
        parse_line(line)?.into_record(def, 7)
    }

    #[test]
    fn ids_are_strings_or_integers() {
        assert_eq!(parse_line(r#"{"id":"a-1"}"#).unwrap().id, "a-1");
        assert_eq!(parse_line(r#"{"id":42}"#).unwrap().id, "42");
        assert_eq!(
            parse_line(r#"{"id":18446744073709551615}"#).unwrap().id,
            "18446744073709551615"
        );
        for (line, kind) in [
            (r#"{"message":"x"}"#, "missing_id"),
            (r#"{"id":null}"#, "missing_id"),
            (r#"{"id":""}"#, "bad_id"),
            (r#"{"id":"  "}"#, "bad_id"),
            (r#"{"id":1.5}"#, "bad_id"),
            (r#"{"id":["a"]}"#, "bad_id"),
            (r#"{"id":true}"#, "bad_id"),
            (r#"["id"]"#, "not_object"),
            (r#""text""#, "not_object"),
            (r#"{"id":"a","#, "bad_json"),
            ("not json", "bad_json"),
        ] {
            assert_eq!(parse_line(line).unwrap_err().kind(), kind, "{line}");
        }
    }

    #[test]
    fn classifier_records_take_input_or_message() {
        let def = classifier();
        let with_message = record(def, r#"{"id":"1","message":"hi","channel":"chat"}"#).unwrap();
        assert_eq!(with_message.input.as_deref(), Some("hi"));
        assert_eq!(with_message.line, 7);
        assert!(with_message.vars.is_empty());
        let both = record(def, r#"{"id":"1","input":"in","message":"msg"}"#).unwrap();
        assert_eq!(both.input.as_deref(), Some("in"));
        assert_eq!(
            record(def, r#"{"id":"1"}"#).unwrap_err(),
            RecordError::MissingInput { prompt_id: &def.id }
        );
        assert_eq!(
            record(def, r#"{"id":"1","message":3}"#).unwrap_err().kind(),
            "bad_input"
        );
        assert_eq!(
            record(def, r#"{"id":"1","message":"x","vars":{"a":1}}"#)
                .unwrap_err()
                .kind(),
            "unknown_variable"
        );
        let rendered = with_message.render(def).unwrap();
        assert_eq!(rendered.user, "hi");
        assert!(rendered.system.unwrap().contains("intent classifier"));
    }

    #[test]
    fn variables_from_top_level_or_vars_with_types_checked() {
        let def = drafter();
        let top = record(
            def,
            r#"{"id":"t","customer_name":"Ada","message":"Where is my refund?","max_sentences":3,"ticket":"x"}"#,
        )
        .unwrap();
        assert_eq!(top.input, None);
        assert_eq!(
            top.vars,
            vec![
                ("customer_name", OwnedValue::String("Ada".into())),
                ("message", OwnedValue::String("Where is my refund?".into())),
                ("max_sentences", OwnedValue::Integer(3)),
            ]
        );
        let rendered = top.render(def).unwrap();
        assert!(rendered.user.contains("Customer name: Ada"));
        assert!(
            rendered.system.unwrap().contains("friendly tone"),
            "default applied"
        );

        let nested = record(
            def,
            r#"{"id":"t","vars":{"customer_name":"Bo","message":"hi","tone":null}}"#,
        )
        .unwrap();
        assert_eq!(nested.vars.len(), 2);

        for (line, kind) in [
            (r#"{"id":"t","message":"hi"}"#, "missing_variable"),
            (
                r#"{"id":"t","customer_name":"A","message":"hi","max_sentences":"3"}"#,
                "bad_variable",
            ),
            (
                r#"{"id":"t","customer_name":"A","message":"hi","max_sentences":2.5}"#,
                "bad_variable",
            ),
            (
                r#"{"id":"t","customer_name":7,"message":"hi"}"#,
                "bad_variable",
            ),
            (
                r#"{"id":"t","vars":{"customer_name":"A","message":"hi","mood":"x"}}"#,
                "unknown_variable",
            ),
            (r#"{"id":"t","vars":[1]}"#, "bad_vars"),
        ] {
            assert_eq!(record(def, line).unwrap_err().kind(), kind, "{line}");
        }
    }

    #[test]
    fn error_messages_never_echo_values() {
        let def = drafter();
        let err = record(
            def,
            r#"{"id":"t","customer_name":"SECRET-NAME-1","message":5}"#,
        )
        .unwrap_err();
        assert!(!err.to_string().contains("SECRET"), "{err}");
    }
}
