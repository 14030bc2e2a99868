//! JSON Schemas (draft 2020-12) for prompt files and eval suites, so an editor checks the YAML
//! while it is typed: completion, hover text and squiggles through the YAML language server.
//!
//! The schemas are generated from the constants the validator itself uses (field lists and
//! their docs, required fields, statuses, variable types, ranges, the id grammar), so they
//! cannot drift from the build. A schema judges one file as plain data, so some rules stay the
//! build's alone; [`BEYOND_THE_SCHEMA`] lists them. The schemas only use keywords that draft-07
//! validators read the same way (no `$ref`, `dependentSchemas` or `prefixItems`), because the
//! YAML language server validates with draft-07 semantics.

use serde_json::{json, Map, Value};

use crate::diagnostic::Code;
use crate::eval::{self, CASE_EXPECT, CASE_EXPECTED, CASE_FIELDS, SUITE_FIELDS, SUITE_REQUIRED};
use crate::models::ModelTable;
use crate::naming;
use crate::schema::{
    Field, Status, VarType, BASELINE_ACCURACY, BASELINE_ACCURACY_RANGE, COST_PER_CALL_USD,
    DEFAULT_VAR_TYPE, FIELDS, INFERENCE_FIELDS, ISO_DATE_PATTERN, KNOWN_METRICS, MAX_TOKENS_RANGE,
    MIN_COST_PER_CALL_USD, MIN_VERSION, OUTPUT_FIELDS, REQUIRED, SAMPLING_RANGE, VARIABLE_FIELDS,
};

/// The JSON Schema dialect of the generated schemas.
pub const DIALECT: &str = "https://json-schema.org/draft/2020-12/schema";

/// Rules the build enforces that a JSON Schema cannot express, with the code that reports each.
/// A file that breaks only these passes the schema and still fails `cargo build`.
pub const BEYOND_THE_SCHEMA: &[(Code, &str)] = &[
    (Code::Io, "the file (or symlink) can be read"),
    (Code::NotUtf8, "the file is UTF-8"),
    (
        Code::YamlSyntax,
        "the file is valid YAML (the YAML language server reports this itself)",
    ),
    (Code::NotAMapping, "the file holds exactly one YAML document"),
    (Code::OutsideTree, "symlinks stay inside the prompts directory"),
    (
        Code::Alias,
        "no YAML anchors or aliases (a schema sees the data they stand for)",
    ),
    (
        Code::DuplicateKey,
        "no key appears twice in one mapping (a schema sees only one of the values)",
    ),
    (Code::IdPathMismatch, "the id matches the file's path"),
    (Code::InvalidParent, "`parent` is lower than `version`"),
    (Code::InvalidDate, "`created` is not after `updated`"),
    (
        Code::InvalidLabels,
        "labels are unique ignoring case (`uniqueItems` compares them exactly)",
    ),
    (
        Code::RustNameCollision,
        "no two labels become the same Rust enum variant (`needs-review`, `needs_review`)",
    ),
    (
        Code::UnknownModel,
        "the model is a known alias or a Bedrock id (a tree's `models.yaml` may add aliases, so the schema only suggests the built-in ones)",
    ),
    (Code::TemplateSyntax, "templates compile"),
    (Code::TemplateTooComplex, "templates stay within the template limits"),
    (
        Code::UndeclaredVariable,
        "every variable a template uses is declared",
    ),
    (
        Code::UnusedVariable,
        "every declared variable is used by a template",
    ),
    (Code::DuplicateId, "no two files declare the same id"),
    (
        Code::InvalidModelTable,
        "the tree's `models.yaml` maps aliases to Bedrock ids (it has no schema)",
    ),
    (
        Code::UnknownEvalPrompt,
        "an eval suite's prompt exists in the tree",
    ),
    (
        Code::EvalPromptNotClassifier,
        "an eval suite's prompt declares output labels or an output schema",
    ),
    (
        Code::UnknownExpectedLabel,
        "each case of a classifier expects one of the prompt's labels (with `expected`)",
    ),
    (
        Code::UnknownExpectedField,
        "each case of a prompt with an output schema expects (with `expect`) fields of that schema, with values it allows",
    ),
    (
        Code::EvalVariables,
        "a case's `vars` match the prompt's variables and their types",
    ),
    (
        Code::EvalMissingInput,
        "a case has an `input` when its prompt takes no variables",
    ),
    (
        Code::LockedVersionChanged,
        "a version recorded in `prompts.lock` keeps its text (bump `version` to change it)",
    ),
    (Code::InvalidLock, "the tree's `prompts.lock` is valid"),
    (
        Code::InvalidOutputSchema,
        "an output schema's rules across keywords and levels: `minimum` <= `maximum`, `required` lists exactly the properties, keywords that apply to another type, an array's `items` and an object's `properties` being there, enum values making distinct Rust variants, property names that are Rust keywords, nesting within the limit (the editor's schema checks keywords and types, three levels deep)",
    ),
];

/// The two kinds of YAML file in a prompt tree that have a schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SchemaKind {
    /// A prompt file, `<domain>/<name>.yaml`.
    Prompt,
    /// An eval suite, `*.eval.yaml`.
    EvalSuite,
}

impl SchemaKind {
    /// Both kinds.
    pub const ALL: [SchemaKind; 2] = [SchemaKind::Prompt, SchemaKind::EvalSuite];

    /// The name on the command line (`prompt`, `eval-suite`).
    pub const fn as_str(self) -> &'static str {
        match self {
            SchemaKind::Prompt => "prompt",
            SchemaKind::EvalSuite => "eval-suite",
        }
    }

    /// The kind spelled `text`, if any.
    pub fn parse(text: &str) -> Option<SchemaKind> {
        SchemaKind::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
    }

    /// The file the repository ships the schema in (`prompt.schema.json`, ...).
    pub fn file_name(self) -> String {
        format!("{}.schema.json", self.as_str())
    }

    /// The kind of schema that applies to the file at `path`, by its name.
    pub fn for_path(path: &str) -> SchemaKind {
        if eval::is_suite_file(path) {
            SchemaKind::EvalSuite
        } else {
            SchemaKind::Prompt
        }
    }

    /// The schema.
    pub fn schema(self) -> Value {
        match self {
            SchemaKind::Prompt => prompt_schema(),
            SchemaKind::EvalSuite => eval_suite_schema(),
        }
    }

    /// The schema as the repository ships it: pretty-printed with sorted keys and a final
    /// newline, so the output is the same whatever serde_json features are enabled.
    pub fn render(self) -> serde_json::Result<String> {
        let mut text = serde_json::to_string_pretty(&sorted(self.schema()))?;
        text.push('\n');
        Ok(text)
    }
}

/// The schema of a prompt file.
pub fn prompt_schema() -> Value {
    json!({
        "$schema": DIALECT,
        "title": "promptops prompt file",
        "description": "One prompt: `prompts/<domain>/<name>.yaml`, validated by `cargo build` through promptops-build.",
        "$comment": beyond_the_schema_comment(),
        "type": "object",
        "properties": properties(FIELDS, prompt_field),
        "required": REQUIRED.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "additionalProperties": false,
        // `deprecation_note` only on a deprecated prompt.
        "if": { "required": ["deprecation_note"] },
        "then": {
            "required": ["status"],
            "properties": { "status": { "const": Status::Deprecated.as_str() } }
        }
    })
}

/// The schema of an eval suite (`*.eval.yaml`).
pub fn eval_suite_schema() -> Value {
    json!({
        "$schema": DIALECT,
        "title": "promptops eval suite",
        "description": "Labelled cases for one prompt (a classifier, or a prompt with an output schema): `*.eval.yaml` next to the prompts, validated by `cargo build` and run by `promptops eval`.",
        "$comment": beyond_the_schema_comment(),
        "type": "object",
        "properties": properties(SUITE_FIELDS, suite_field),
        "required": SUITE_REQUIRED.iter().map(|(name, _)| *name).collect::<Vec<_>>(),
        "additionalProperties": false
    })
}

fn beyond_the_schema_comment() -> String {
    let rules: Vec<String> = BEYOND_THE_SCHEMA
        .iter()
        .map(|(code, rule)| format!("{code} {rule}"))
        .collect();
    format!(
        "Generated by `promptops schema` from promptops-build's own rules; do not edit. `cargo build` also checks what no schema can express: {}.",
        rules.join("; ")
    )
}

/// The schema of one field of a table, by name.
type FieldSchema = fn(&str) -> Value;

/// `properties` for `fields`: each field's schema with its doc as the description.
fn properties(fields: &[Field], schema: FieldSchema) -> Value {
    let map: Map<String, Value> = fields
        .iter()
        .map(|field| {
            (
                field.name.to_owned(),
                described(schema(field.name), field.doc),
            )
        })
        .collect();
    Value::Object(map)
}

fn described(mut schema: Value, doc: &str) -> Value {
    if let Value::Object(map) = &mut schema {
        map.insert("description".to_owned(), Value::from(doc));
    }
    schema
}

/// A mapping with exactly `fields`.
fn closed_object(fields: &[Field], schema: FieldSchema) -> Value {
    json!({
        "type": "object",
        "properties": properties(fields, schema),
        "additionalProperties": false
    })
}

fn prompt_field(name: &str) -> Value {
    match name {
        "id" => id(),
        "version" | "parent" => version(),
        "owner" | "template" | "description" | "deprecation_note" | "system" => non_empty_string(),
        "model" => {
            let table = ModelTable::builtin();
            let mut schema = non_empty_string();
            schema["examples"] = table.aliases().map(|(alias, _)| alias).collect();
            schema
        }
        "tags" => string_list(),
        "status" => json!({
            "type": "string",
            "enum": Status::ALL.map(Status::as_str),
            "default": Status::default().as_str()
        }),
        "metrics" => metrics(),
        "variables" => variables(),
        "inference" => closed_object(INFERENCE_FIELDS, inference_field),
        "output" => {
            let mut schema = closed_object(OUTPUT_FIELDS, output_field);
            // One of the two, never both.
            schema["oneOf"] = json!([{ "required": ["labels"] }, { "required": ["schema"] }]);
            schema
        }
        "created" | "updated" => json!({
            "type": "string",
            "pattern": ISO_DATE_PATTERN,
            "format": "date"
        }),
        _ => json!({}),
    }
}

fn id() -> Value {
    json!({
        "type": "string",
        "pattern": naming::ID_PATTERN,
        "not": {
            "anyOf": [
                { "pattern": naming::unnameable_segment_pattern() },
                { "enum": naming::RESERVED_ROOT_NAMES }
            ]
        }
    })
}

fn version() -> Value {
    json!({ "type": "integer", "minimum": MIN_VERSION, "maximum": u32::MAX })
}

/// A string with something other than whitespace in it.
fn non_empty_string() -> Value {
    json!({ "type": "string", "pattern": "\\S" })
}

/// A list of non-empty strings; nothing (`tags:`) means an empty list.
fn string_list() -> Value {
    json!({ "type": ["array", "null"], "items": non_empty_string() })
}

fn metrics() -> Value {
    json!({
        "type": "object",
        "properties": properties(KNOWN_METRICS, metric),
        "additionalProperties": { "type": "number" }
    })
}

fn metric(name: &str) -> Value {
    match name {
        BASELINE_ACCURACY => json!({
            "type": "number",
            "minimum": BASELINE_ACCURACY_RANGE.start(),
            "maximum": BASELINE_ACCURACY_RANGE.end()
        }),
        COST_PER_CALL_USD => json!({ "type": "number", "minimum": MIN_COST_PER_CALL_USD }),
        _ => json!({ "type": "number" }),
    }
}

fn variables() -> Value {
    let types: Vec<&str> = VarType::ALL.iter().map(|ty| ty.as_str()).collect();
    // A declaration's `default` has the declared type, or the default type when none is given.
    let mut rules: Vec<Value> = VarType::ALL
        .iter()
        .map(|ty| {
            json!({
                "if": { "required": ["type"], "properties": { "type": { "const": ty.as_str() } } },
                "then": { "properties": { "default": value(*ty) } }
            })
        })
        .collect();
    rules.push(json!({
        "if": { "not": { "required": ["type"] } },
        "then": { "properties": { "default": value(DEFAULT_VAR_TYPE) } }
    }));
    // A variable with a default is optional.
    rules.push(json!({
        "if": { "required": ["default"] },
        "then": { "properties": { "required": { "const": false } } }
    }));
    let mut declaration = closed_object(VARIABLE_FIELDS, variable_field);
    declaration["allOf"] = Value::Array(rules);
    json!({
        "type": ["object", "null"],
        "propertyNames": {
            "pattern": naming::TEMPLATE_IDENTIFIER_PATTERN,
            "not": { "enum": naming::NON_RAW_KEYWORDS }
        },
        "additionalProperties": {
            "anyOf": [
                { "type": "null", "description": "A required string." },
                {
                    "type": "string",
                    "enum": types,
                    "description": "Shorthand: the type of a required variable."
                },
                declaration
            ]
        }
    })
}

fn variable_field(name: &str) -> Value {
    match name {
        "type" => json!({
            "type": "string",
            "enum": VarType::ALL.map(VarType::as_str),
            "default": DEFAULT_VAR_TYPE.as_str()
        }),
        "description" => non_empty_string(),
        "required" | "sensitive" => json!({ "type": "boolean" }),
        _ => json!({}),
    }
}

/// A value of variable type `ty`, as a declaration's `default` holds it.
fn value(ty: VarType) -> Value {
    match ty {
        VarType::String => json!({ "type": "string" }),
        VarType::Integer => json!({ "type": "integer" }),
        VarType::Number => json!({ "type": "number" }),
        VarType::Boolean => json!({ "type": "boolean" }),
        VarType::List => string_list(),
    }
}

fn inference_field(name: &str) -> Value {
    match name {
        "max_tokens" => json!({
            "type": "integer",
            "minimum": MAX_TOKENS_RANGE.start(),
            "maximum": MAX_TOKENS_RANGE.end()
        }),
        "temperature" | "top_p" => json!({
            "type": "number",
            "minimum": SAMPLING_RANGE.start(),
            "maximum": SAMPLING_RANGE.end()
        }),
        "stop_sequences" => string_list(),
        _ => json!({}),
    }
}

fn output_field(name: &str) -> Value {
    match name {
        "labels" => json!({
            "type": "array",
            "minItems": 1,
            "uniqueItems": true,
            "items": {
                "type": "string",
                "pattern": naming::VARIANT_PATTERN,
                "not": { "pattern": naming::SELF_VARIANT_PATTERN }
            }
        }),
        "schema" => {
            let mut root = schema_node(0);
            root["properties"]["type"] = json!({ "const": "object" });
            root
        }
        _ => json!({}),
    }
}

/// How many levels of `output.schema` the editor's schema spells out: each level holds the
/// next one twice (under `properties` and `items`), so the file doubles per level. Deeper
/// nodes are accepted as any mapping here and checked by the build.
const EDITOR_SCHEMA_DEPTH: usize = 3;

/// One node of `output.schema`: the subset's keywords, nothing else.
fn schema_node(depth: usize) -> Value {
    use promptops_core::output_schema::{KEYWORDS, MAX_ENUM_VALUES, MAX_PROPERTIES, TYPES};
    let child = if depth < EDITOR_SCHEMA_DEPTH {
        schema_node(depth + 1)
    } else {
        json!({ "type": "object" })
    };
    let types = TYPES;
    let count = json!({ "type": "integer", "minimum": 0 });
    let mut properties = Map::new();
    for keyword in KEYWORDS {
        let schema = match *keyword {
            "type" => json!({
                "anyOf": [
                    { "enum": types },
                    {
                        "type": "array",
                        "minItems": 2,
                        "maxItems": 2,
                        "uniqueItems": true,
                        "items": { "enum": types.iter().copied().chain(["null"]).collect::<Vec<_>>() },
                        "contains": { "const": "null" }
                    }
                ]
            }),
            "description" => json!({ "type": "string" }),
            "properties" => json!({
                "type": "object",
                "minProperties": 1,
                "maxProperties": MAX_PROPERTIES,
                "propertyNames": { "pattern": "^[a-z][a-z0-9_]*$" },
                "additionalProperties": child.clone()
            }),
            "required" => json!({ "type": "array", "items": { "type": "string" } }),
            "additionalProperties" => json!({ "const": false }),
            "enum" => json!({
                "type": "array",
                "minItems": 1,
                "maxItems": MAX_ENUM_VALUES,
                "uniqueItems": true,
                "items": { "type": ["string", "null"] }
            }),
            "maxLength" | "maxItems" => count.clone(),
            "minimum" | "maximum" => json!({ "type": "number" }),
            "items" => child.clone(),
            _ => json!({}),
        };
        properties.insert((*keyword).to_owned(), schema);
    }
    json!({
        "type": "object",
        "properties": properties,
        "required": ["type"],
        "additionalProperties": false
    })
}

fn suite_field(name: &str) -> Value {
    match name {
        "prompt_id" => json!({ "type": "string", "pattern": naming::ID_PATTERN }),
        "description" => non_empty_string(),
        "cases" => {
            let mut case = closed_object(CASE_FIELDS, case_field);
            // A label for a classifier, field values for a prompt with an output schema.
            case["oneOf"] = json!([
                { "required": [CASE_EXPECTED] },
                { "required": [CASE_EXPECT] }
            ]);
            json!({ "type": "array", "minItems": 1, "items": case })
        }
        _ => json!({}),
    }
}

fn case_field(name: &str) -> Value {
    match name {
        "name" | "input" | CASE_EXPECTED => non_empty_string(),
        // Which fields and values depends on the prompt's output schema.
        CASE_EXPECT => json!({ "type": "object", "minProperties": 1 }),
        // Which names and types depends on the prompt; no variable type takes null or a mapping.
        "vars" => json!({
            "type": "object",
            "additionalProperties": {
                "type": ["string", "number", "boolean", "array"],
                "items": { "type": "string" }
            }
        }),
        _ => json!({}),
    }
}

/// `value` with every object's keys in sorted order.
fn sorted(value: Value) -> Value {
    match value {
        Value::Object(map) => {
            let mut entries: Vec<(String, Value)> = map.into_iter().collect();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            Value::Object(entries.into_iter().map(|(k, v)| (k, sorted(v))).collect())
        }
        Value::Array(items) => Value::Array(items.into_iter().map(sorted).collect()),
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every field of every table has a schema of its own, not the catch-all `{}`.
    #[test]
    fn every_field_has_a_schema() {
        let tables: [(&[Field], FieldSchema); 6] = [
            (FIELDS, prompt_field),
            (VARIABLE_FIELDS, variable_field),
            (INFERENCE_FIELDS, inference_field),
            (OUTPUT_FIELDS, output_field),
            (SUITE_FIELDS, suite_field),
            (CASE_FIELDS, case_field),
        ];
        for (fields, schema) in tables {
            for field in fields {
                if field.name == "default" {
                    continue; // typed by the declaration's `type`, in `variables()`
                }
                assert_ne!(schema(field.name), json!({}), "{}", field.name);
            }
        }
    }

    #[test]
    fn required_fields_and_enums_come_from_the_build() {
        let schema = prompt_schema();
        assert_eq!(
            schema["required"],
            json!(["id", "version", "owner", "model", "template", "tags"])
        );
        assert_eq!(
            schema["properties"]["status"]["enum"],
            json!(["draft", "stable", "deprecated"])
        );
        assert_eq!(
            schema["properties"]["inference"]["properties"]["max_tokens"]["maximum"],
            json!(crate::schema::MAX_TOKENS_LIMIT)
        );
        assert_eq!(
            schema["properties"].as_object().map(|p| p.len()),
            Some(FIELDS.len())
        );
    }

    #[test]
    fn rendering_sorts_keys_and_ends_with_a_newline() {
        let text = SchemaKind::Prompt.render().expect("render");
        assert!(text.starts_with("{\n  \"$comment\": "), "{text}");
        assert!(text.ends_with("}\n"));
        assert_eq!(SchemaKind::for_path("a/b.eval.yaml"), SchemaKind::EvalSuite);
        assert_eq!(SchemaKind::parse("prompt"), Some(SchemaKind::Prompt));
    }
}
