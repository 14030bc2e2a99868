//! Structured outputs: reading a model's JSON answer against a prompt's `output.schema`.
//!
//! A prompt with an output schema is answered with a JSON object. The runtime gets it from
//! the model (a forced tool call where the model supports one, else the first JSON object in
//! the text; see [`Runtime::complete`](crate::Runtime::complete)), checks it against the
//! schema with [`Schema::check`] (the ranges, lengths and sizes serde cannot express), and only
//! then deserializes it into the generated `Output` struct ([`deserialize`]). An answer that
//! fails is an [`InvalidOutput`]: the raw answer and every [`Violation`], each at a JSON
//! pointer.

use std::fmt;

use serde::de::DeserializeOwned;
use serde_json::Value;

pub use promptops_core::output_schema::{Kind, Property, Schema, Violation};

use crate::spec::{Answer, OutputError};

/// The most violations an error, an event or a repair turn lists; the count of the rest is
/// kept. A hostile or confused answer (a 10,000-element array of wrong types) must not turn
/// into a 10,000-line log record or model turn.
pub const MAX_LISTED_VIOLATIONS: usize = 20;

/// The most `{` positions [`json_in_text`] tries as the start of the answer's object: a bound
/// on the work one answer can cause, whatever it holds. An answer whose object comes after 64
/// other braces is not a usable answer anyway.
pub const MAX_OBJECT_STARTS: usize = 64;

/// A structured answer that does not fill the prompt's output schema.
#[derive(Debug, Clone, PartialEq)]
pub struct InvalidOutput {
    /// The model's answer as it came: the tool call's input as JSON, or the text.
    pub raw: String,
    /// What is wrong, at most [`MAX_LISTED_VIOLATIONS`] of them, in document order.
    pub violations: Vec<Violation>,
    /// How many violations were found in all (more than listed when the list was cut).
    pub total_violations: usize,
}

impl InvalidOutput {
    /// An answer with these violations (the list is cut to [`MAX_LISTED_VIOLATIONS`]).
    pub fn new(raw: impl Into<String>, mut violations: Vec<Violation>) -> Self {
        let total_violations = violations.len();
        violations.truncate(MAX_LISTED_VIOLATIONS);
        InvalidOutput {
            raw: raw.into(),
            violations,
            total_violations,
        }
    }

    /// An answer that is not a JSON object at all.
    pub fn not_json(raw: impl Into<String>) -> Self {
        Self::new(
            raw,
            vec![Violation {
                pointer: String::new(),
                message: "the answer is not a JSON object".to_owned(),
            }],
        )
    }

    /// The violations as lines (`/urgency: 7 is outside 1..=5`), with a last line counting
    /// those left out: what a repair turn tells the model.
    pub fn feedback(&self) -> String {
        let mut lines: Vec<String> = self.violations.iter().map(ToString::to_string).collect();
        let unlisted = self.total_violations.saturating_sub(self.violations.len());
        if unlisted > 0 {
            lines.push(format!("... and {unlisted} more"));
        }
        lines.join("\n")
    }
}

impl fmt::Display for InvalidOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the answer does not fill the output schema ({} violation(s)): {}",
            self.total_violations,
            self.feedback().replace('\n', "; ")
        )
    }
}

impl std::error::Error for InvalidOutput {}

/// The JSON object a text answer carries: the whole text when it is one, else the first JSON
/// object in it (models without tool use often wrap the object in prose or a ```json fence),
/// starting at one of the first [`MAX_OBJECT_STARTS`] `{`. `None` when there is none.
pub fn json_in_text(text: &str) -> Option<Value> {
    if let Ok(value @ Value::Object(_)) = serde_json::from_str(text.trim()) {
        return Some(value);
    }
    // Try each `{` in turn: the first one that starts a whole JSON object wins. The stream
    // deserializer stops at the end of the first value, so trailing prose does not matter.
    text.match_indices('{')
        .take(MAX_OBJECT_STARTS)
        .find_map(|(start, _)| {
            let mut values =
                serde_json::Deserializer::from_str(&text[start..]).into_iter::<Value>();
            match values.next() {
                Some(Ok(value @ Value::Object(_))) => Some(value),
                _ => None,
            }
        })
}

/// Checks `value` against `schema`: the answer, or everything wrong with it.
pub fn check(schema: &Schema, value: &Value) -> Result<(), InvalidOutput> {
    let violations = schema.check(value);
    if violations.is_empty() {
        Ok(())
    } else {
        Err(InvalidOutput::new(value.to_string(), violations))
    }
}

/// The checked JSON object of a text answer: [`json_in_text`], then [`check`]. The one way a
/// text is read as a structured answer, by the runtime and by `Prompt::parse_output`.
pub fn checked_in_text(schema: &Schema, text: &str) -> Result<Value, InvalidOutput> {
    let value = json_in_text(text).ok_or_else(|| InvalidOutput::not_json(text))?;
    check(schema, &value)?;
    Ok(value)
}

/// Deserializes a checked answer into a generated `Output` type: what its `PromptOutput` impl
/// calls.
///
/// An [`Answer::Checked`] value has passed [`check`], so serde only maps it onto the struct
/// (serde's own complaint, should it have one, becomes a violation at the answer's root). An
/// [`Answer::Text`] is refused: only the prompt's schema can check a text, so read one with
/// `Prompt::parse_output` (or [`checked_in_text`]).
pub fn deserialize<T: DeserializeOwned>(answer: Answer<'_>) -> Result<T, OutputError> {
    let value = match answer {
        Answer::Checked(value) => value,
        Answer::Text(text) => {
            return Err(OutputError::Invalid(InvalidOutput::new(
                text,
                vec![Violation {
                    pointer: String::new(),
                    message: "a structured answer must be checked against its prompt's schema \
                              first (Prompt::parse_output)"
                        .to_owned(),
                }],
            )))
        }
    };
    T::deserialize(value).map_err(|err| {
        OutputError::Invalid(InvalidOutput::new(
            value.to_string(),
            vec![Violation {
                pointer: String::new(),
                message: err.to_string(),
            }],
        ))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn the_first_json_object_in_a_text_is_the_answer() {
        let expected = json!({"intent": "billing", "urgency": 2});
        for text in [
            r#"{"intent": "billing", "urgency": 2}"#,
            "  {\"intent\": \"billing\", \"urgency\": 2}\n",
            "Here you are:\n```json\n{\"intent\": \"billing\", \"urgency\": 2}\n```\nAnything else?",
            "I think {not json} but {\"intent\": \"billing\", \"urgency\": 2} {\"second\": 1}",
        ] {
            assert_eq!(json_in_text(text), Some(expected.clone()), "{text}");
        }
        for text in [
            "",
            "billing",
            "[1, 2]",
            "{\"unclosed\": 1",
            "{}}"[..1].as_ref(),
        ] {
            assert_eq!(json_in_text(text), None, "{text}");
        }
        assert_eq!(json_in_text("{}"), Some(json!({})));
    }

    #[test]
    fn at_most_the_first_starts_are_tried() {
        // An object after the first MAX_OBJECT_STARTS `{` is not looked for.
        let late = format!("{}{{\"ok\": 1}}", "{ ".repeat(MAX_OBJECT_STARTS));
        assert_eq!(json_in_text(&late), None);
        let early = format!("{}{{\"ok\": 1}}", "{ ".repeat(MAX_OBJECT_STARTS - 1));
        assert_eq!(json_in_text(&early), Some(json!({"ok": 1})));
    }

    #[test]
    fn long_violation_lists_are_cut_and_counted() {
        let violations: Vec<Violation> = (0..50)
            .map(|index| Violation {
                pointer: format!("/items/{index}"),
                message: "must be a string, not a number".to_owned(),
            })
            .collect();
        let invalid = InvalidOutput::new("[...]", violations);
        assert_eq!(invalid.violations.len(), MAX_LISTED_VIOLATIONS);
        assert_eq!(invalid.total_violations, 50);
        let feedback = invalid.feedback();
        assert_eq!(feedback.lines().count(), MAX_LISTED_VIOLATIONS + 1);
        assert!(feedback.starts_with("/items/0: must be a string, not a number\n"));
        assert!(feedback.ends_with("... and 30 more"), "{feedback}");
        assert!(invalid.to_string().contains("(50 violation(s))"));
    }

    #[test]
    fn serde_errors_become_a_violation_at_the_root() {
        #[derive(Debug, serde::Deserialize)]
        #[allow(dead_code)]
        struct Small {
            count: u8,
        }
        let err = deserialize::<Small>(Answer::Checked(&json!({"count": 300}))).unwrap_err();
        let OutputError::Invalid(invalid) = err else {
            panic!("expected an invalid output, got {err:?}");
        };
        assert_eq!(invalid.violations[0].pointer, "");
        assert!(invalid.violations[0].message.contains("300"), "{invalid}");
        // A text has not been checked: it is refused, JSON or not.
        for text in ["no json here", "ok: {\"count\": 3}"] {
            let err = deserialize::<Small>(Answer::Text(text)).unwrap_err();
            assert!(
                err.to_string()
                    .contains("checked against its prompt's schema"),
                "{err}"
            );
        }
        let schema = Schema::parse(&json!({
            "type": "object",
            "properties": {"count": {"type": "integer", "maximum": 10}},
            "required": ["count"]
        }))
        .expect("a valid schema");
        assert_eq!(
            checked_in_text(&schema, "ok: {\"count\": 3}"),
            Ok(json!({"count": 3}))
        );
        let err = checked_in_text(&schema, "{\"count\": 30}").unwrap_err();
        assert_eq!(err.violations[0].pointer, "/count");
    }
}
