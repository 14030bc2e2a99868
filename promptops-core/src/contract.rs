//! A prompt's typed contract, and the rule that says when one prompt may stand in for another.
//!
//! Code that calls a compiled-in prompt was type-checked against that prompt's variables and
//! labels. A prompt from elsewhere (a registry version, say) may replace it only if every
//! call that type-checks against the compiled prompt also renders and parses with the
//! replacement. [`check_replacement`] is that rule:
//!
//! * every variable the replacement **requires** is declared by the compiled prompt, with the
//!   same type, and is required there too (a caller may leave an optional variable out, and
//!   the replacement would then fail to render);
//! * a variable both declare keeps its type;
//! * a variable only the replacement declares is optional (no caller supplies it);
//! * the output labels are identical, in the same order (the caller's label enum parses them);
//! * the output schemas are equal once descriptions are dropped and properties put in one order
//!   ([`Schema::normalized`](crate::output_schema::Schema::normalized)): the caller's `Output` struct deserializes the answer, and a
//!   looser or stricter schema would let through answers it cannot hold or refuse ones it
//!   expects.
//!
//! Descriptions, defaults, sensitivity, templates, models and inference settings are not part
//! of the contract. (Sensitivity is a data-handling property: a runtime that uses a
//! replacement treats a variable as sensitive if either side says so.)

use std::fmt;

use serde::Serialize;

use crate::{PromptDef, VarType};

/// One way a candidate prompt fails to honour a compiled prompt's contract.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContractDifference {
    /// The candidate requires a variable the compiled prompt does not declare.
    NewRequiredVariable {
        /// The variable's name.
        name: String,
    },
    /// The candidate requires a variable the compiled prompt declares as optional.
    RequiredVariableWasOptional {
        /// The variable's name.
        name: String,
    },
    /// A variable both declare has another type in the candidate.
    VariableTypeChanged {
        /// The variable's name.
        name: String,
        /// Its type in the compiled prompt.
        compiled: VarType,
        /// Its type in the candidate.
        candidate: VarType,
    },
    /// The output labels are not the same list.
    LabelsChanged {
        /// The compiled prompt's labels.
        compiled: Vec<String>,
        /// The candidate's labels.
        candidate: Vec<String>,
    },
    /// The output schemas differ (after normalizing), or only one prompt has one.
    OutputSchemaChanged {
        /// Where they first differ, as a JSON pointer into the normalized schema (`""` when
        /// one prompt has no schema).
        pointer: String,
        /// The compiled prompt's value there, as JSON (`None` when absent).
        compiled: Option<String>,
        /// The candidate's.
        candidate: Option<String>,
    },
}

impl fmt::Display for ContractDifference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ContractDifference::NewRequiredVariable { name } => write!(
                f,
                "requires variable `{name}`, which the compiled prompt does not declare"
            ),
            ContractDifference::RequiredVariableWasOptional { name } => write!(
                f,
                "requires variable `{name}`, which is optional in the compiled prompt"
            ),
            ContractDifference::VariableTypeChanged {
                name,
                compiled,
                candidate,
            } => write!(
                f,
                "variable `{name}` is {candidate}, the compiled prompt's is {compiled}"
            ),
            ContractDifference::LabelsChanged {
                compiled,
                candidate,
            } => write!(
                f,
                "labels are [{}], the compiled prompt's are [{}]",
                candidate.join(", "),
                compiled.join(", ")
            ),
            ContractDifference::OutputSchemaChanged {
                pointer,
                compiled,
                candidate,
            } => {
                let at = if pointer.is_empty() {
                    "output schema".to_owned()
                } else {
                    format!("output schema at `{pointer}`")
                };
                write!(
                    f,
                    "{at} is {}, the compiled prompt's is {}",
                    candidate.as_deref().unwrap_or("absent"),
                    compiled.as_deref().unwrap_or("absent")
                )
            }
        }
    }
}

/// Every reason `candidate` cannot replace `compiled`, in a stable order (variables by the
/// candidate's declaration order, then labels); empty when it can.
pub fn contract_differences(
    compiled: &PromptDef,
    candidate: &PromptDef,
) -> Vec<ContractDifference> {
    let mut differences = Vec::new();
    for var in &candidate.variables {
        match compiled.variable(&var.name) {
            None if var.required => differences.push(ContractDifference::NewRequiredVariable {
                name: var.name.clone(),
            }),
            None => {}
            Some(known) => {
                if known.ty != var.ty {
                    differences.push(ContractDifference::VariableTypeChanged {
                        name: var.name.clone(),
                        compiled: known.ty,
                        candidate: var.ty,
                    });
                }
                if var.required && !known.required {
                    differences.push(ContractDifference::RequiredVariableWasOptional {
                        name: var.name.clone(),
                    });
                }
            }
        }
    }
    if compiled.labels != candidate.labels {
        differences.push(ContractDifference::LabelsChanged {
            compiled: compiled.labels.clone(),
            candidate: candidate.labels.clone(),
        });
    }
    let normalized = |def: &PromptDef| {
        def.output_schema
            .as_ref()
            .map(|schema| schema.normalized().to_json())
    };
    let (compiled_schema, candidate_schema) = (normalized(compiled), normalized(candidate));
    if compiled_schema != candidate_schema {
        let (pointer, compiled, candidate) = match (&compiled_schema, &candidate_schema) {
            (Some(a), Some(b)) => first_difference(a, b, String::new()),
            (a, b) => (String::new(), a.as_ref(), b.as_ref()),
        };
        differences.push(ContractDifference::OutputSchemaChanged {
            pointer,
            compiled: compiled.map(ToString::to_string),
            candidate: candidate.map(ToString::to_string),
        });
    }
    differences
}

/// Where two JSON values first differ (in key order; `None` for a key only one has), so a
/// refusal names the changed keyword rather than printing two whole schemas.
fn first_difference<'v>(
    a: &'v serde_json::Value,
    b: &'v serde_json::Value,
    pointer: String,
) -> (
    String,
    Option<&'v serde_json::Value>,
    Option<&'v serde_json::Value>,
) {
    use serde_json::Value;
    match (a, b) {
        (Value::Object(left), Value::Object(right)) => {
            let keys: std::collections::BTreeSet<&String> =
                left.keys().chain(right.keys()).collect();
            for key in keys {
                let mut at = pointer.clone();
                crate::output_schema::push_token(&mut at, key);
                match (left.get(key), right.get(key)) {
                    (Some(x), Some(y)) if x == y => {}
                    (Some(x), Some(y)) => return first_difference(x, y, at),
                    (x, y) => return (at, x, y),
                }
            }
            (pointer, Some(a), Some(b))
        }
        (Value::Array(left), Value::Array(right)) if left.len() == right.len() => {
            for (index, (x, y)) in left.iter().zip(right).enumerate() {
                if x != y {
                    return first_difference(x, y, format!("{pointer}/{index}"));
                }
            }
            (pointer, Some(a), Some(b))
        }
        _ => (pointer, Some(a), Some(b)),
    }
}

/// Why a candidate prompt was refused: every [`ContractDifference`], with the two prompts named.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Incompatible {
    /// The compiled prompt, as `id@version`.
    pub compiled: String,
    /// The candidate, as `id@version`.
    pub candidate: String,
    /// What differs (never empty).
    pub differences: Vec<ContractDifference>,
}

impl fmt::Display for Incompatible {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} cannot replace compiled {}: ",
            self.candidate, self.compiled
        )?;
        for (index, difference) in self.differences.iter().enumerate() {
            if index > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{difference}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Incompatible {}

/// Whether `candidate` is a compatible replacement for `compiled` (see the [module
/// docs](self) for the rule).
pub fn check_replacement(compiled: &PromptDef, candidate: &PromptDef) -> Result<(), Incompatible> {
    let differences = contract_differences(compiled, candidate);
    if differences.is_empty() {
        Ok(())
    } else {
        Err(Incompatible {
            compiled: compiled.reference(),
            candidate: candidate.reference(),
            differences,
        })
    }
}

/// The part of a variable that belongs to the contract.
#[derive(Serialize)]
struct ContractVar<'a> {
    name: &'a str,
    #[serde(rename = "type")]
    ty: VarType,
    required: bool,
}

/// The canonical form the contract hash is taken over.
#[derive(Serialize)]
struct Contract<'a> {
    variables: Vec<ContractVar<'a>>,
    labels: &'a [String],
    /// Left out when absent, so prompts without a schema keep the hashes they had.
    #[serde(skip_serializing_if = "Option::is_none")]
    output_schema: Option<serde_json::Value>,
}

/// SHA-256 (lowercase hex) of a prompt's contract: its variables' names, types and
/// requiredness (sorted by name), its labels (in order) and its output schema, normalized (left
/// out when there is none, so such prompts keep their hashes). Two prompts with equal contract
/// hashes can replace each other; different hashes say only that *something* differs, and
/// [`check_replacement`] says whether it matters.
pub fn contract_hash(def: &PromptDef) -> String {
    let mut variables: Vec<ContractVar<'_>> = def
        .variables
        .iter()
        .map(|var| ContractVar {
            name: &var.name,
            ty: var.ty,
            required: var.required,
        })
        .collect();
    variables.sort_by(|a, b| a.name.cmp(b.name));
    let contract = Contract {
        variables,
        labels: &def.labels,
        output_schema: def
            .output_schema
            .as_ref()
            .map(|schema| schema.normalized().to_json()),
    };
    // Serializing plain structs of strings and bools cannot fail.
    let canonical = serde_json::to_vec(&contract).unwrap_or_default();
    crate::hash::sha256_hex(&canonical)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::output_schema::Schema;
    use crate::{VarDef, Version};

    fn with_schema(schema: serde_json::Value) -> PromptDef {
        let mut def = def(Vec::new(), &[]);
        def.output_schema = Some(Schema::parse(&schema).expect("a valid schema"));
        def.refresh_contract_hash();
        def
    }

    #[test]
    fn output_schemas_must_match_once_normalized() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "intent": {"type": "string", "enum": ["a", "b"], "description": "x"},
                "urgency": {"type": "integer", "minimum": 1, "maximum": 5}
            },
            "required": ["intent", "urgency"]
        });
        let compiled = with_schema(schema.clone());
        let mut reworded = schema.clone();
        reworded["properties"]["intent"]["description"] = "reworded".into();
        reworded["required"] = serde_json::json!(["urgency", "intent"]);
        let reworded = with_schema(reworded);
        assert_eq!(check_replacement(&compiled, &reworded), Ok(()));
        assert_eq!(compiled.contract_hash, reworded.contract_hash);

        let mut widened = schema.clone();
        widened["properties"]["urgency"]["maximum"] = 10.into();
        let widened = with_schema(widened);
        let refused = check_replacement(&compiled, &widened).expect_err("a wider range");
        assert!(matches!(
            refused.differences.as_slice(),
            [ContractDifference::OutputSchemaChanged { .. }]
        ));
        assert!(
            refused.to_string().contains(
                "output schema at `/properties/urgency/maximum` is 10, the compiled prompt's is 5"
            ),
            "{refused}"
        );
        assert_ne!(compiled.contract_hash, widened.contract_hash);

        // A schema where there was none, or none where there was one.
        let plain = def(Vec::new(), &[]);
        assert!(check_replacement(&plain, &compiled).is_err());
        assert!(check_replacement(&compiled, &plain).is_err());
    }

    #[test]
    fn a_prompt_without_a_schema_keeps_its_contract_hash() {
        // The hash of the seed classifier's contract before output schemas existed.
        let mut classifier = def(Vec::new(), &["billing", "technical"]);
        classifier.refresh_contract_hash();
        let canonical = r#"{"variables":[],"labels":["billing","technical"]}"#;
        assert_eq!(
            classifier.contract_hash,
            crate::hash::sha256_hex(canonical.as_bytes())
        );
    }

    fn def(variables: Vec<VarDef>, labels: &[&str]) -> PromptDef {
        let mut def = PromptDef::new("a.b", Version::new(1), "o", "m", "t");
        def.variables = variables;
        def.labels = labels.iter().map(|l| l.to_string()).collect();
        def
    }

    /// One variable's state in a prompt: absent, or declared with a type and requiredness.
    #[derive(Debug, Clone, Copy)]
    enum State {
        Absent,
        Declared(VarType, bool),
    }

    fn states() -> Vec<State> {
        let mut all = vec![State::Absent];
        for ty in VarType::ALL {
            all.push(State::Declared(ty, false));
            all.push(State::Declared(ty, true));
        }
        all
    }

    fn with(state: State) -> Vec<VarDef> {
        match state {
            State::Absent => Vec::new(),
            State::Declared(ty, true) => vec![VarDef::required("x", ty)],
            State::Declared(ty, false) => vec![VarDef::optional("x", ty)],
        }
    }

    /// The rule as the issue words it, as a truth table over one variable.
    fn expected_compatible(compiled: State, candidate: State) -> bool {
        match (compiled, candidate) {
            // Nothing on the candidate's side: nothing it needs.
            (_, State::Absent) => true,
            // Only the candidate has it: it must be optional.
            (State::Absent, State::Declared(_, required)) => !required,
            // Shared: same type, and a candidate-required one is required in the compiled too.
            (State::Declared(a_ty, a_req), State::Declared(b_ty, b_req)) => {
                a_ty == b_ty && (!b_req || a_req)
            }
        }
    }

    #[test]
    fn one_variable_every_combination_of_presence_type_and_requiredness() {
        let mut checked = 0;
        for compiled in states() {
            for candidate in states() {
                let a = def(with(compiled), &[]);
                let b = def(with(candidate), &[]);
                let verdict = check_replacement(&a, &b);
                assert_eq!(
                    verdict.is_ok(),
                    expected_compatible(compiled, candidate),
                    "compiled {compiled:?}, candidate {candidate:?}: {verdict:?}"
                );
                checked += 1;
            }
        }
        assert_eq!(checked, 11 * 11);
    }

    #[test]
    fn each_difference_is_named() {
        use ContractDifference::*;
        let cases = [
            (
                State::Absent,
                State::Declared(VarType::String, true),
                vec![NewRequiredVariable { name: "x".into() }],
            ),
            (
                State::Declared(VarType::String, false),
                State::Declared(VarType::String, true),
                vec![RequiredVariableWasOptional { name: "x".into() }],
            ),
            (
                State::Declared(VarType::Integer, true),
                State::Declared(VarType::Number, true),
                vec![VariableTypeChanged {
                    name: "x".into(),
                    compiled: VarType::Integer,
                    candidate: VarType::Number,
                }],
            ),
            (
                State::Declared(VarType::List, false),
                State::Declared(VarType::Boolean, true),
                vec![
                    VariableTypeChanged {
                        name: "x".into(),
                        compiled: VarType::List,
                        candidate: VarType::Boolean,
                    },
                    RequiredVariableWasOptional { name: "x".into() },
                ],
            ),
        ];
        for (compiled, candidate, expected) in cases {
            let found = contract_differences(&def(with(compiled), &[]), &def(with(candidate), &[]));
            assert_eq!(found, expected, "{compiled:?} -> {candidate:?}");
        }
    }

    #[test]
    fn labels_must_be_identical_in_order() {
        let yes_no = ["yes", "no"];
        let cases: [(&[&str], bool); 6] = [
            (&["yes", "no"], true),
            (&["no", "yes"], false),
            (&["yes"], false),
            (&["yes", "no", "maybe"], false),
            (&["Yes", "no"], false),
            (&[], false),
        ];
        for (candidate, ok) in cases {
            let verdict = check_replacement(&def(vec![], &yes_no), &def(vec![], candidate));
            assert_eq!(verdict.is_ok(), ok, "{candidate:?}");
        }
        // A free-text prompt cannot turn into a classifier either.
        assert!(check_replacement(&def(vec![], &[]), &def(vec![], &yes_no)).is_err());
        assert!(check_replacement(&def(vec![], &[]), &def(vec![], &[])).is_ok());
    }

    #[test]
    fn every_difference_is_reported_and_the_message_names_them() {
        let compiled = def(
            vec![
                VarDef::required("message", VarType::String),
                VarDef::optional("tone", VarType::String),
                VarDef::required("count", VarType::Integer),
            ],
            &["billing", "other"],
        );
        let mut candidate = def(
            vec![
                VarDef::required("message", VarType::String),
                VarDef::required("tone", VarType::String),
                VarDef::required("count", VarType::Number),
                VarDef::required("locale", VarType::String),
                VarDef::optional("extra", VarType::Boolean),
            ],
            &["billing", "sales", "other"],
        );
        candidate.version = Version::new(4);
        let err = check_replacement(&compiled, &candidate).unwrap_err();
        assert_eq!(err.differences.len(), 4, "{err}");
        let text = err.to_string();
        assert!(
            text.starts_with("a.b@4 cannot replace compiled a.b@1: "),
            "{text}"
        );
        for part in [
            "requires variable `tone`, which is optional in the compiled prompt",
            "variable `count` is number, the compiled prompt's is integer",
            "requires variable `locale`, which the compiled prompt does not declare",
            "labels are [billing, sales, other], the compiled prompt's are [billing, other]",
        ] {
            assert!(text.contains(part), "{text}\nmissing: {part}");
        }
        // Removing variables, loosening required to optional and adding optional ones is fine.
        let looser = def(
            vec![
                VarDef::optional("message", VarType::String),
                VarDef::optional("new", VarType::List),
            ],
            &["billing", "other"],
        );
        assert_eq!(check_replacement(&compiled, &looser), Ok(()));
        // Every prompt can replace itself.
        assert_eq!(check_replacement(&candidate, &candidate), Ok(()));
    }

    #[test]
    fn contract_hash_covers_names_types_requiredness_and_labels_only() {
        let base = def(
            vec![
                VarDef::required("a", VarType::String),
                VarDef::optional("b", VarType::Integer),
            ],
            &["x", "y"],
        );
        let hash = contract_hash(&base);
        assert_eq!(hash.len(), 64);
        assert!(hash
            .bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));

        // Declaration order, descriptions, defaults, sensitivity and the template do not count.
        let mut same = base.clone();
        same.variables.reverse();
        same.variables[0].description = Some("d".into());
        same.variables[0].default = Some(crate::Value::Integer(3));
        same.variables[1].sensitive = true;
        same.template = "other".into();
        assert_eq!(contract_hash(&same), hash);

        let mut changed = Vec::new();
        let mut renamed = base.clone();
        renamed.variables[0].name = "c".into();
        changed.push(renamed);
        let mut retyped = base.clone();
        retyped.variables[1].ty = VarType::Number;
        changed.push(retyped);
        let mut required = base.clone();
        required.variables[1].required = true;
        changed.push(required);
        let mut relabelled = base.clone();
        relabelled.labels.reverse();
        changed.push(relabelled);
        for other in changed {
            assert_ne!(contract_hash(&other), hash, "{other:?}");
        }
    }
}
