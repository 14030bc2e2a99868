//! Eval suites: `*.eval.yaml` files next to the prompts, validated at build time against the
//! prompts they test, so a suite can never name a missing prompt, expect a label the prompt
//! cannot produce, or pass variables its template does not take.
//!
//! ```yaml
//! prompt_id: customer-support.intent-classifier
//! description: Messages from the support inbox, labelled by the support team.
//! cases:
//!   - name: double charge
//!     input: I was charged twice for my subscription this month.
//!     expected: billing
//!   - vars: { customer_name: Ada, message: "Where is my invoice?" }
//!     expected: billing
//! ```
//!
//! A prompt without variables takes the case's `input` as the user turn; a prompt with
//! variables takes `vars` (every required variable, no undeclared one, each of its declared
//! type) and, optionally, an `input`.
//!
//! A prompt with an output schema is scored field by field: its cases give the values they
//! expect under `expect` (any of the answer's top-level fields), each checked against that
//! field's schema, so a field or enum value the schema lacks is a build error at its line:
//!
//! ```yaml
//! prompt_id: customer-support.ticket-triage
//! cases:
//!   - name: double charge
//!     vars: { message: "I was charged twice for order A-1234." }
//!     expect: { intent: billing, order_id: A-1234 }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use promptops_core::output_schema::{Kind, Property};

use crate::diagnostic::{did_you_mean, Code, Diagnostic, SourceText};
use crate::output_schema::Within;
use crate::schema::{Field, Parser, Prompt, Value, VarDef, VarType};
use crate::yaml::{Node, Region, Scalar};

/// File names ending in one of these are eval suites, not prompts.
pub const SUITE_SUFFIXES: &[&str] = &[".eval.yaml", ".eval.yml"];

/// Top-level fields of a suite file.
pub const SUITE_FIELDS: &[Field] = &[
    Field {
        name: "prompt_id",
        doc: "The id of the prompt under test; it must declare `output.labels` or `output.schema`.",
    },
    Field {
        name: "description",
        doc: "What the suite covers.",
    },
    Field {
        name: "cases",
        doc: "Labelled examples, at least one.",
    },
];

/// The required fields of a suite file, each with the line the help suggests adding.
pub const SUITE_REQUIRED: &[(&str, &str)] = &[
    ("prompt_id", "prompt_id: domain.prompt-name"),
    ("cases", "cases: [{ input: ..., expected: ... }]"),
];

/// Fields of one case.
pub const CASE_FIELDS: &[Field] = &[
    Field {
        name: "name",
        doc: "The name reports show for the case (default `case N`).",
    },
    Field {
        name: "input",
        doc: "The user turn to classify; needed when the prompt takes no variables.",
    },
    Field {
        name: "vars",
        doc: "Values for the prompt's variables: every required one, each of its declared type.",
    },
    Field {
        name: CASE_EXPECTED,
        doc: "The label the prompt should answer: one of its `output.labels`.",
    },
    Field {
        name: CASE_EXPECT,
        doc: "For a prompt with an output schema: the values some of the answer's fields should have.",
    },
];

/// The field of a case holding the expected label (classifiers).
pub const CASE_EXPECTED: &str = "expected";

/// The field of a case holding the expected field values (prompts with an output schema).
pub const CASE_EXPECT: &str = "expect";

/// What a case expects its prompt to answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Expected {
    /// A classifier's label (`expected: billing`).
    Label(String),
    /// Values of a structured answer's top-level fields (`expect: {intent: billing}`), in file
    /// order; each was checked against its field's schema.
    Fields(Vec<(String, serde_json::Value)>),
}

impl std::fmt::Display for Expected {
    /// The label, or the fields as a JSON object (`{"intent":"billing","urgency":4}`).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Expected::Label(label) => f.write_str(label),
            Expected::Fields(fields) => {
                let object: serde_json::Map<String, serde_json::Value> =
                    fields.iter().cloned().collect();
                write!(f, "{}", serde_json::Value::Object(object))
            }
        }
    }
}

/// Whether a file name (or path) names an eval suite.
pub fn is_suite_file(name: &str) -> bool {
    SUITE_SUFFIXES.iter().any(|suffix| name.ends_with(suffix))
}

/// A validated eval suite.
#[derive(Debug, Clone, PartialEq)]
pub struct Suite {
    /// The prompt under test.
    pub prompt_id: String,
    /// Path relative to the prompts root, `/`-separated.
    pub source_path: String,
    /// Path as shown in diagnostics and reports.
    pub display_path: String,
    /// Free text.
    pub description: Option<String>,
    /// The cases, in file order.
    pub cases: Vec<Case>,
}

/// One labelled example.
#[derive(Debug, Clone, PartialEq)]
pub struct Case {
    /// The case's `name`, or `case N` (1-based) when it has none.
    pub name: String,
    /// Line of the suite file where the case starts.
    pub line: usize,
    /// The user turn, for prompts that take one.
    pub input: Option<String>,
    /// Variable values, in file order; each was checked against its declared type.
    pub vars: Vec<(String, Value)>,
    /// What the prompt should answer.
    pub expected: Expected,
}

/// Where a suite file is and what the tree around it holds.
pub struct SuiteContext<'c> {
    /// Path relative to the prompts root.
    pub source_path: &'c str,
    /// Prompts that passed validation, by id.
    pub prompts: &'c [Prompt],
    /// Path stems (`customer_support/intent_classifier`) of every prompt file, valid or not,
    /// so a suite whose prompt has its own errors is not also reported as naming no prompt.
    pub prompt_stems: &'c BTreeSet<String>,
}

/// Validates one suite document; `None` when it has any problem (all pushed to `out`).
pub fn parse_suite<'a>(
    source: &SourceText<'a>,
    root: &Node<'a>,
    context: &SuiteContext<'_>,
    out: &mut Vec<Diagnostic>,
) -> Option<Suite> {
    let before = out.len();
    let mut parser = Parser::new(source, out);
    let suite = suite(&mut parser, root, context);
    if parser.out.len() == before {
        suite
    } else {
        None
    }
}

fn suite<'a>(p: &mut Parser<'_, 'a>, root: &Node<'a>, context: &SuiteContext<'_>) -> Option<Suite> {
    if root.as_map().is_none() {
        let diagnostic = p
            .at(
                Code::NotAMapping,
                root.region,
                format!(
                    "an eval suite must be a mapping of fields, found {}",
                    root.type_name()
                ),
            )
            .with_help("start the file with `prompt_id: ...` and `cases:`");
        p.push(diagnostic);
        return None;
    }
    let fields = p.fields(root, SUITE_FIELDS, "an eval suite")?;
    p.require(&fields, SUITE_REQUIRED, "this eval suite");
    let description = match fields.get("description") {
        Some(node) => Some(p.non_empty_string(node, "`description`")?),
        None => None,
    };
    let prompt_node = fields.get("prompt_id")?;
    let prompt_id = p.non_empty_string(prompt_node, "`prompt_id`")?;
    let prompt = context
        .prompts
        .iter()
        .find(|prompt| prompt.def.id == prompt_id);
    let prompt = match prompt {
        Some(prompt) => prompt,
        None => {
            let stem = crate::naming::id_to_path_stem(&prompt_id);
            if !context.prompt_stems.contains(&stem) {
                let mut diagnostic = p
                    .at(
                        Code::UnknownEvalPrompt,
                        prompt_node.region,
                        format!("no prompt has the id `{prompt_id}`"),
                    )
                    .with_label("unknown prompt");
                diagnostic = match did_you_mean(
                    &prompt_id,
                    context.prompts.iter().map(|prompt| prompt.def.id.as_str()),
                ) {
                    Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
                    None => diagnostic.with_help(format!(
                        "an eval suite tests one prompt of this tree; its id would live in `{stem}.yaml`"
                    )),
                };
                p.push(diagnostic);
            }
            // Otherwise the prompt's file has errors of its own, already reported.
            return None;
        }
    };
    if prompt.def.labels.is_empty() && prompt.def.output_schema.is_none() {
        let diagnostic = p
            .at(
                Code::EvalPromptNotClassifier,
                prompt_node.region,
                format!("`{prompt_id}` declares neither output labels nor an output schema, so its answers cannot be scored"),
            )
            .with_label("free-text prompt")
            .with_note(format!("the prompt is defined in {}", prompt.display_path))
            .with_help("declare `output: { labels: [...] }` or `output: { schema: ... }` in the prompt, or remove this suite");
        p.push(diagnostic);
        return None;
    }

    let cases_node = fields.get("cases")?;
    let Some(items) = cases_node.as_seq() else {
        p.wrong_type(cases_node, "`cases`", "a list of cases");
        return None;
    };
    if items.is_empty() {
        let diagnostic = p
            .at(
                Code::EmptyValue,
                cases_node.region,
                "`cases` must not be empty",
            )
            .with_help("add at least one `{ input: ..., expected: ... }` case");
        p.push(diagnostic);
        return None;
    }
    let contract = Contract::new(prompt);
    let mut cases = Vec::with_capacity(items.len());
    let mut ok = true;
    for (index, item) in items.iter().enumerate() {
        match case(p, item, index, &contract) {
            Some(case) => cases.push(case),
            None => ok = false,
        }
    }
    ok.then(|| Suite {
        prompt_id,
        source_path: context.source_path.to_owned(),
        display_path: p.source.display.to_owned(),
        description,
        cases,
    })
}

/// Names listed at most in one message (the labels of a prompt, the variables a case misses):
/// a suite of many cases against a prompt of many names would otherwise print every name
/// once per case.
pub const MAX_LISTED_NAMES: usize = 50;

/// `names` joined with `, `, the first [`MAX_LISTED_NAMES`] of `total`, then how many more.
fn listed(names: impl IntoIterator<Item = String>, total: usize) -> String {
    let mut list: Vec<String> = names.into_iter().take(MAX_LISTED_NAMES).collect();
    if total > list.len() {
        list.push(format!("… and {} more", total - list.len()));
    }
    list.join(", ")
}

/// The suite's prompt with the lookups its cases need, built once per suite: checking a case
/// then costs the case's size, not the prompt's.
struct Contract<'p> {
    prompt: &'p Prompt,
    variables: BTreeMap<&'p str, &'p VarDef>,
    required: usize,
    labels: BTreeSet<&'p str>,
    /// The first label of each ASCII-lowercase form.
    folded_labels: BTreeMap<String, &'p str>,
    /// The top-level fields of the output schema, for a structured prompt.
    fields: Option<&'p [Property]>,
}

impl<'p> Contract<'p> {
    fn new(prompt: &'p Prompt) -> Self {
        let mut folded_labels = BTreeMap::new();
        for label in &prompt.def.labels {
            folded_labels
                .entry(label.to_ascii_lowercase())
                .or_insert(label.as_str());
        }
        Contract {
            prompt,
            variables: prompt
                .def
                .variables
                .iter()
                .map(|var| (var.name.as_str(), var))
                .collect(),
            required: prompt.def.variables.iter().filter(|v| v.required).count(),
            labels: prompt.def.labels.iter().map(String::as_str).collect(),
            folded_labels,
            fields: prompt
                .def
                .output_schema
                .as_ref()
                .and_then(|schema| match &schema.kind {
                    Kind::Object(properties) => Some(properties.as_slice()),
                    _ => None,
                }),
        }
    }

    fn field_names(&self) -> String {
        let fields = self.fields.unwrap_or_default();
        listed(fields.iter().map(|field| field.name.clone()), fields.len())
    }

    fn labels(&self) -> String {
        let labels = &self.prompt.def.labels;
        listed(labels.iter().cloned(), labels.len())
    }
}

fn case<'a>(
    p: &mut Parser<'_, 'a>,
    node: &Node<'a>,
    index: usize,
    contract: &Contract<'_>,
) -> Option<Case> {
    let prompt = contract.prompt;
    let what = format!("case {}", index + 1);
    let fields = p.fields(node, CASE_FIELDS, &what)?;
    let name = match fields.get("name") {
        Some(node) => p.non_empty_string(node, &format!("the name of {what}")),
        None => Some(what.clone()),
    };
    let input = match fields.get("input") {
        Some(node) => p
            .non_empty_string(node, &format!("the input of {what}"))
            .map(Some),
        None => Some(None),
    };
    if let (Some(_), Some(key)) = (fields.get(CASE_EXPECTED), fields.key(CASE_EXPECT)) {
        let diagnostic = p
            .at(
                Code::UnknownExpectedField,
                key.region,
                format!("{what} sets both `expected` and `expect`"),
            )
            .with_label("one of the two")
            .with_help("a classifier's case names its label with `expected`; a case of a prompt with an output schema gives field values with `expect`");
        p.push(diagnostic);
        return None;
    }
    let expected = match (
        contract.fields,
        fields.get(CASE_EXPECTED),
        fields.get(CASE_EXPECT),
    ) {
        (None, Some(node), _) => expected_label(p, node, contract, &what).map(Expected::Label),
        (Some(_), _, Some(node)) => expected_fields(p, node, contract, &what),
        (None, None, Some(node)) => {
            let diagnostic = p
                .at(
                    Code::UnknownExpectedLabel,
                    node.region,
                    format!(
                        "`{}` is a classifier: {what} names its label with `expected`",
                        prompt.def.id
                    ),
                )
                .with_label("`expect` is for prompts with an output schema")
                .with_help(format!(
                    "write `expected: ` and one of: {}",
                    contract.labels()
                ));
            p.push(diagnostic);
            None
        }
        (Some(_), Some(node), None) => {
            let region = fields
                .key(CASE_EXPECTED)
                .map_or(node.region, |key| key.region);
            let diagnostic = p
                .at(
                    Code::UnknownExpectedField,
                    region,
                    format!("`{}` answers with an output schema: {what} gives field values under `expect`", prompt.def.id),
                )
                .with_label("`expected` is for classifiers")
                .with_help(format!(
                    "write `expect: {{ field: value }}` with fields of: {}",
                    contract.field_names()
                ));
            p.push(diagnostic);
            None
        }
        _ if fields.suggested.contains(CASE_EXPECTED) || fields.suggested.contains(CASE_EXPECT) => {
            None
        }
        (fields_of_schema, _, _) => {
            let (message, help) = match fields_of_schema {
                None => (
                    format!("{what} has no `expected` label"),
                    format!("add `expected: ` and one of: {}", contract.labels()),
                ),
                Some(_) => (
                    format!("{what} has no `expect` values"),
                    format!(
                        "add `expect: {{ field: value }}` with fields of: {}",
                        contract.field_names()
                    ),
                ),
            };
            let diagnostic = p
                .at(
                    Code::MissingField,
                    Region {
                        start: fields.region.start,
                        end: fields.region.start,
                    },
                    message,
                )
                .with_help(help);
            p.push(diagnostic);
            None
        }
    };
    let vars = match (fields.key("vars"), fields.get("vars")) {
        (Some(key), Some(node)) => case_vars(p, key, node, contract, &what),
        _ => {
            let case_start = Region {
                start: fields.region.start,
                end: fields.region.start,
            };
            missing_variables(p, case_start, contract, &what, &BTreeSet::new());
            Some(Vec::new())
        }
    };
    let (name, input, expected, vars) = (name?, input?, expected?, vars?);
    if prompt.def.variables.is_empty() && input.is_none() {
        let diagnostic = p
            .at(
                Code::EvalMissingInput,
                Region {
                    start: fields.region.start,
                    end: fields.region.start,
                },
                format!("{what} has no `input`"),
            )
            .with_label("nothing to classify")
            .with_note(format!(
                "`{}` takes no variables: the case's `input` is what the model classifies",
                prompt.def.id
            ))
            .with_help("add `input: <the message to classify>`");
        p.push(diagnostic);
        return None;
    }
    Some(Case {
        name,
        line: fields.region.start.line,
        input,
        vars,
        expected,
    })
}

fn expected_label(
    p: &mut Parser<'_, '_>,
    node: &Node<'_>,
    contract: &Contract<'_>,
    what: &str,
) -> Option<String> {
    let prompt = contract.prompt;
    let label = p.non_empty_string(node, &format!("the expected label of {what}"))?;
    if contract.labels.contains(label.as_str()) {
        return Some(label);
    }
    let mut diagnostic = p
        .at(
            Code::UnknownExpectedLabel,
            node.region,
            format!("`{label}` is not a label of `{}`", prompt.def.id),
        )
        .with_label("unknown label")
        .with_note(format!("its labels are: {}", contract.labels()));
    let close = p
        .suggestions
        .did_you_mean(&label, prompt.def.labels.iter().map(String::as_str));
    if let Some(close) = close {
        diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
    } else if let Some(same) = contract.folded_labels.get(&label.to_ascii_lowercase()) {
        diagnostic = diagnostic.with_help(format!("labels are case-sensitive: write `{same}`"));
    }
    p.push(diagnostic);
    None
}

/// A structured case's `expect`: a mapping of top-level fields of the output schema to values
/// that field's schema accepts.
fn expected_fields<'a>(
    p: &mut Parser<'_, 'a>,
    node: &Node<'a>,
    contract: &Contract<'_>,
    what: &str,
) -> Option<Expected> {
    let prompt = contract.prompt;
    let properties = contract.fields.unwrap_or_default();
    // Reports a value that is not a mapping, and non-string or duplicate keys.
    p.fields(node, &[], &format!("the `expect` of {what}"))?;
    let entries = node.as_map().unwrap_or_default();
    if entries.is_empty() {
        let diagnostic = p
            .at(
                Code::EmptyValue,
                node.region,
                format!("the `expect` of {what} is empty"),
            )
            .with_help(format!(
                "expect at least one field of: {}",
                contract.field_names()
            ));
        p.push(diagnostic);
        return None;
    }
    let within = Within {
        name: "`expect`",
        code: Code::UnknownExpectedField,
    };
    let mut values = Vec::with_capacity(entries.len());
    let mut ok = true;
    for (key, value) in entries {
        let Some(name) = key.as_str() else { continue };
        let Some(property) = properties.iter().find(|property| property.name == name) else {
            ok = false;
            let mut diagnostic = p
                .at(
                    Code::UnknownExpectedField,
                    key.region,
                    format!(
                        "the output schema of `{}` has no field `{name}`",
                        prompt.def.id
                    ),
                )
                .with_label("unknown field");
            let names = properties.iter().map(|property| property.name.as_str());
            diagnostic = match p.suggestions.did_you_mean(name, names) {
                Some(close) => diagnostic.with_help(format!("did you mean `{close}`?")),
                None => diagnostic.with_help(format!("its fields are: {}", contract.field_names())),
            };
            p.push(diagnostic);
            continue;
        };
        let Some(json) = p.json_value(value, within) else {
            ok = false;
            continue;
        };
        let violations = property.schema.check(&json);
        if let Some(first) = violations.first() {
            ok = false;
            let mut diagnostic = p
                .at(
                    Code::UnknownExpectedField,
                    value.region,
                    format!("`{name}{}` {}", first.pointer, first.message),
                )
                .with_label("the output schema does not allow this")
                .with_note(format!("`{name}` is declared in {}", prompt.display_path));
            if let (
                Kind::String {
                    values: allowed, ..
                },
                serde_json::Value::String(text),
            ) = (&property.schema.kind, &json)
            {
                if let Some(close) = p
                    .suggestions
                    .did_you_mean(text, allowed.iter().map(String::as_str))
                {
                    diagnostic = diagnostic.with_help(format!("did you mean `{close}`?"));
                }
            }
            p.push(diagnostic);
            continue;
        }
        // A `number` field's value is kept as a float, so the gate knows to compare it within
        // a tolerance, however the suite wrote it (`200` or `200.0`).
        let json = match (&property.schema.kind, json) {
            (Kind::Number { .. }, serde_json::Value::Number(number)) => number
                .as_f64()
                .and_then(serde_json::Number::from_f64)
                .map_or(serde_json::Value::Null, serde_json::Value::Number),
            (_, json) => json,
        };
        values.push((name.to_owned(), json));
    }
    ok.then_some(Expected::Fields(values))
}

fn case_vars<'a>(
    p: &mut Parser<'_, 'a>,
    key_node: &Node<'a>,
    node: &Node<'a>,
    contract: &Contract<'_>,
    what: &str,
) -> Option<Vec<(String, Value)>> {
    let prompt = contract.prompt;
    let context = format!("the vars of {what}");
    // `fields` reports non-mapping values, non-string and duplicate keys; with no known list
    // it accepts every name, which is checked against the prompt's declarations below.
    p.fields(node, &[], &context)?;
    let mut values = Vec::new();
    // Names given, plus declared names an unknown name was taken for: a misspelt variable is
    // reported once, as unknown, and not also as missing.
    let mut given = BTreeSet::new();
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for (key, value) in node.as_map().unwrap_or_default() {
        let Some(name) = key.as_str() else { continue };
        if !seen.insert(name) {
            continue; // a duplicate key, already reported
        }
        given.insert(name.to_owned());
        let Some(&variable) = contract.variables.get(name) else {
            ok = false;
            let mut diagnostic = p
                .at(
                    Code::EvalVariables,
                    key.region,
                    format!("`{}` has no variable `{name}`", prompt.def.id),
                )
                .with_label("not declared by the prompt");
            let declared = || prompt.def.variables.iter().map(|v| v.name.as_str());
            diagnostic = match p.suggestions.did_you_mean(name, declared()) {
                Some(close) => {
                    given.insert(close.to_owned());
                    diagnostic.with_help(format!("did you mean `{close}`?"))
                }
                None if prompt.def.variables.is_empty() => diagnostic
                    .with_help("the prompt takes no variables: put the text in `input` instead"),
                None => diagnostic.with_help(format!(
                    "its variables are: {}",
                    listed(declared().map(str::to_owned), prompt.def.variables.len())
                )),
            };
            p.push(diagnostic);
            continue;
        };
        match case_value(p, value, variable, prompt) {
            Some(value) => values.push((name.to_owned(), value)),
            None => ok = false,
        }
    }
    missing_variables(p, key_node.region, contract, what, &given);
    ok.then_some(values)
}

fn missing_variables(
    p: &mut Parser<'_, '_>,
    region: Region,
    contract: &Contract<'_>,
    what: &str,
    given: &BTreeSet<String>,
) {
    let prompt = contract.prompt;
    // Counted from what the case gives, so a complete case costs its own size.
    let given_required = given
        .iter()
        .filter(|name| {
            contract
                .variables
                .get(name.as_str())
                .is_some_and(|var| var.required)
        })
        .count();
    let missing_count = contract.required - given_required;
    if missing_count == 0 {
        return;
    }
    let missing: Vec<&str> = prompt
        .def
        .variables
        .iter()
        .filter(|var| var.required && !given.contains(&var.name))
        .map(|var| var.name.as_str())
        .take(MAX_LISTED_NAMES)
        .collect();
    let list = listed(
        missing.iter().map(|name| format!("`{name}`")),
        missing_count,
    );
    let diagnostic = p
        .at(
            Code::EvalVariables,
            region,
            format!(
                "{what} does not set the required {} {list} of `{}`",
                if missing_count == 1 {
                    "variable"
                } else {
                    "variables"
                },
                prompt.def.id
            ),
        )
        .with_label("incomplete")
        .with_help(format!(
            "set {} under `vars:`, e.g. `vars: {{ {}: ... }}`",
            if missing_count == 1 { "it" } else { "them" },
            missing[0]
        ));
    p.push(diagnostic);
}

fn case_value(
    p: &mut Parser<'_, '_>,
    node: &Node<'_>,
    variable: &VarDef,
    prompt: &Prompt,
) -> Option<Value> {
    let value = match (variable.ty, node.scalar()) {
        (VarType::String, Some(Scalar::Str(text))) => Some(Value::String(text.to_owned())),
        (VarType::Integer, Some(Scalar::Int(value))) => Some(Value::Integer(value)),
        (VarType::Number, Some(Scalar::Int(value))) => Some(Value::Number(value as f64)),
        (VarType::Number, Some(Scalar::Float(value))) if value.is_finite() => {
            Some(Value::Number(value))
        }
        (VarType::Boolean, Some(Scalar::Bool(value))) => Some(Value::Boolean(value)),
        (VarType::List, None) => node.as_seq().and_then(|items| {
            items
                .iter()
                .map(|item| item.as_str().map(str::to_owned))
                .collect::<Option<Vec<_>>>()
                .map(Value::List)
        }),
        _ => None,
    };
    if value.is_none() {
        let expected = match variable.ty {
            VarType::String => "a string",
            VarType::Integer => "an integer",
            VarType::Number => "a number",
            VarType::Boolean => "`true` or `false`",
            VarType::List => "a list of strings",
        };
        let diagnostic = p
            .at(
                Code::EvalVariables,
                node.region,
                format!(
                    "`{}` of `{}` must be {expected}, found {}",
                    variable.name,
                    prompt.def.id,
                    node.type_name()
                ),
            )
            .with_label(format!("expected {expected}"))
            .with_note(format!(
                "`{}` is declared as `{}` in {}",
                variable.name,
                variable.ty.as_str(),
                prompt.display_path
            ));
        p.push(diagnostic);
    }
    value
}
