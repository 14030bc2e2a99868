//! The serialized form of a [`PromptDef`]: one JSON object, written and read only here.
//!
//! The build embeds each compiled-in prompt in its generated crate in this form, the runtime
//! reads it back (once per prompt), and the registry stores and serves it, so a remote prompt
//! and a compiled-in one decode through the same function.
//!
//! The object is the prompt's serde form with one extra member, `"format"`, first: the
//! version of this layout. A reader refuses any other format with a [`DecodeError::Format`]
//! that names both, rather than misreading it. Unknown members are ignored, so a writer may add
//! optional members without a new format number; removing or retyping a member needs one.
//!
//! ```
//! # use promptops_core::{wire, PromptDef};
//! # fn demo(def: &PromptDef) -> Result<(), wire::DecodeError> {
//! let json = wire::to_json(def);
//! assert!(json.starts_with(r#"{"format":1,"prompt_id":"#));
//! assert_eq!(&wire::from_json(&json)?, def);
//! # Ok(()) }
//! ```

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::contract::contract_hash;
use crate::PromptDef;

/// The layout version this crate writes and reads.
pub const FORMAT: u32 = 1;

/// A document that is not a prompt definition this crate can read.
#[derive(Debug)]
pub enum DecodeError {
    /// The document is in another layout version (or names none).
    Format {
        /// The `format` member, if the document has one.
        found: Option<u64>,
    },
    /// The JSON is malformed, or a member is missing or of the wrong type.
    Json(serde_json::Error),
    /// The recorded contract hash is not the hash of the prompt's contract: the document was
    /// edited by hand or written by something else.
    ContractHash {
        /// What the document says.
        recorded: String,
        /// What the prompt's variables and labels hash to.
        computed: String,
    },
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DecodeError::Format { found: Some(found) } => write!(
                f,
                "prompt definition is in format {found}, but this promptops reads format \
                 {FORMAT}: build the prompts crate and the runtime from the same promptops \
                 release"
            ),
            DecodeError::Format { found: None } => write!(
                f,
                "prompt definition has no `format` member (expected format {FORMAT}): it was \
                 not written by promptops"
            ),
            DecodeError::Json(err) => write!(f, "prompt definition does not decode: {err}"),
            DecodeError::ContractHash { recorded, computed } => write!(
                f,
                "prompt definition's contract hash {recorded} does not match its variables and \
                 labels ({computed})"
            ),
        }
    }
}

impl std::error::Error for DecodeError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            DecodeError::Json(err) => Some(err),
            _ => None,
        }
    }
}

#[derive(Serialize)]
struct Document<'a> {
    format: u32,
    #[serde(flatten)]
    prompt: &'a PromptDef,
}

/// Reads only the `format` member (any other member is skipped, whatever its type).
#[derive(Deserialize)]
struct FormatProbe {
    format: Option<serde_json::Value>,
}

/// The JSON form of `def`: one line, `"format"` first, then the members in declaration order.
pub fn to_json(def: &PromptDef) -> String {
    let document = Document {
        format: FORMAT,
        prompt: def,
    };
    // Every member is a string, number, bool, list or map with string keys, and numbers are
    // finite (the build refuses NaN and infinities), so serialization cannot fail; if it
    // ever did, the reader would refuse the empty document loudly.
    serde_json::to_string(&document).unwrap_or_default()
}

/// Reads a prompt definition written by [`to_json`] (by this or an earlier release of the same
/// format), checking its format and its contract hash.
pub fn from_json(text: &str) -> Result<PromptDef, DecodeError> {
    let probe: FormatProbe = serde_json::from_str(text).map_err(DecodeError::Json)?;
    match probe.format {
        Some(serde_json::Value::Number(n)) if n.as_u64() == Some(u64::from(FORMAT)) => {}
        Some(serde_json::Value::Number(n)) => {
            return Err(DecodeError::Format { found: n.as_u64() })
        }
        _ => return Err(DecodeError::Format { found: None }),
    }
    let def: PromptDef = serde_json::from_str(text).map_err(DecodeError::Json)?;
    let computed = contract_hash(&def);
    if def.contract_hash != computed {
        return Err(DecodeError::ContractHash {
            recorded: def.contract_hash,
            computed,
        });
    }
    Ok(def)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Inference, Metrics, Status, Value, VarDef, VarType, Version};

    fn full() -> PromptDef {
        let mut def = PromptDef {
            id: "support.classifier".into(),
            version: "3".parse().unwrap(),
            owner: "té:am \"quoted\"".into(),
            model: "claude-3-5-sonnet".into(),
            model_id: "anthropic.claude-3-5-sonnet-20240620-v1:0".into(),
            parent: Some(Version::new(2)),
            status: Status::Deprecated,
            deprecation_note: Some("use v4".into()),
            description: Some("Routes a mail\nsecond line".into()),
            tags: vec!["classify".into(), "support".into()],
            metrics: Metrics {
                baseline_accuracy: Some(0.94),
                cost_per_call_usd: Some(0.002),
                other: [("latency_ms".to_owned(), 120.0)].into(),
            },
            variables: vec![
                VarDef {
                    sensitive: true,
                    description: Some("Who.".into()),
                    ..VarDef::required("name", VarType::String)
                },
                VarDef {
                    default: Some(Value::Integer(3)),
                    ..VarDef::optional("tries", VarType::Integer)
                },
                VarDef {
                    default: Some(Value::Number(0.5)),
                    ..VarDef::optional("ratio", VarType::Number)
                },
                VarDef {
                    default: Some(Value::List(vec!["a".into()])),
                    ..VarDef::optional("items", VarType::List)
                },
                VarDef {
                    default: Some(Value::Boolean(false)),
                    ..VarDef::optional("flag", VarType::Boolean)
                },
                VarDef {
                    default: Some(Value::String("x".into())),
                    ..VarDef::optional("tone", VarType::String)
                },
            ],
            template: "Hi {{ name }}, é \u{1F600} \\ \"".into(),
            system: Some("sys".into()),
            inference: Inference {
                max_tokens: Some(300),
                temperature: Some(0.2),
                top_p: Some(0.9),
                stop_sequences: vec!["STOP".into()],
            },
            labels: vec!["yes".into(), "no".into()],
            output_schema: None,
            created: Some("2026-01-01".into()),
            updated: Some("2026-02-01".into()),
            content_hash: "abcd".into(),
            contract_hash: String::new(),
            source_path: Some("support/classifier.yaml".into()),
        };
        def.contract_hash = contract_hash(&def);
        def
    }

    fn minimal() -> PromptDef {
        let mut def = PromptDef::new("a.b", Version::new(1), "o", "m", "t");
        def.content_hash = "h".into();
        def
    }

    #[test]
    fn every_field_round_trips() {
        for def in [full(), minimal()] {
            let json = to_json(&def);
            assert!(json.starts_with(r#"{"format":1,"prompt_id":""#), "{json}");
            assert!(!json.contains('\n'), "one line: {json}");
            let back = from_json(&json).expect("decodes");
            assert_eq!(back, def);
            // Floats come back bit for bit (f32 temperature included).
            assert_eq!(back.inference.temperature, def.inference.temperature);
        }
    }

    #[test]
    fn absent_optional_members_are_left_out() {
        let json = to_json(&minimal());
        let hash = contract_hash(&minimal());
        assert_eq!(
            json,
            format!(
                r#"{{"format":1,"prompt_id":"a.b","version":"1","owner":"o","model":"m","model_id":"m","status":"stable","content":"t","content_hash":"h","contract_hash":"{hash}"}}"#
            )
        );
    }

    #[test]
    fn another_format_is_named_in_the_error() {
        let json = to_json(&minimal()).replacen(r#""format":1"#, r#""format":2"#, 1);
        let err = from_json(&json).unwrap_err();
        assert!(
            matches!(err, DecodeError::Format { found: Some(2) }),
            "{err:?}"
        );
        assert!(err.to_string().contains("format 2"), "{err}");
        assert!(err.to_string().contains("same promptops release"), "{err}");

        let none = to_json(&minimal()).replacen(r#""format":1,"#, "", 1);
        assert!(matches!(
            from_json(&none),
            Err(DecodeError::Format { found: None })
        ));
        let text = to_json(&minimal()).replacen(r#""format":1"#, r#""format":"1""#, 1);
        assert!(matches!(
            from_json(&text),
            Err(DecodeError::Format { found: None })
        ));
    }

    #[test]
    fn damaged_documents_are_errors_not_panics() {
        let json = to_json(&full());
        for cut in 0..json.len() {
            if json.is_char_boundary(cut) {
                assert!(
                    from_json(&json[..cut]).is_err(),
                    "prefix of {cut} bytes decoded"
                );
            }
        }
        for (from, to) in [
            (r#""status":"deprecated""#, r#""status":"stabel""#),
            (r#""version":"3""#, r#""version":"03""#),
            (r#""type":"integer""#, r#""type":"int""#),
            (r#""max_tokens":300"#, r#""max_tokens":-1"#),
        ] {
            assert!(json.contains(from), "{from}");
            let damaged = json.replacen(from, to, 1);
            assert!(
                matches!(from_json(&damaged), Err(DecodeError::Json(_))),
                "{to}"
            );
        }
        for text in ["", "null", "[]", "{", "\"x\""] {
            assert!(from_json(text).is_err(), "{text}");
        }
    }

    #[test]
    fn a_contract_hash_that_does_not_match_is_refused() {
        let mut def = full();
        let json = to_json(&def);
        def.labels.push("maybe".into());
        let edited = to_json(&def); // labels changed, hash not recomputed
        assert!(from_json(&json).is_ok());
        let err = from_json(&edited).unwrap_err();
        assert!(matches!(err, DecodeError::ContractHash { .. }), "{err:?}");
        assert!(err.to_string().contains("does not match"), "{err}");
    }

    #[test]
    fn unknown_members_are_ignored() {
        let json = to_json(&minimal()).replacen('{', r#"{"served_by":"registry","#, 1);
        assert_eq!(from_json(&json).expect("decodes"), minimal());
    }
}
