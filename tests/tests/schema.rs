//! The JSON Schemas for editors (`schemas/*.schema.json`): current with the build's rules, and
//! judging files as the build does, checked with a maintained validator (`jsonschema`).
//!
//! Every file the build rejects must fail the schema too, unless every rule it breaks is one a
//! schema cannot express; those are listed here, case by case, in [`BEYOND_THE_SCHEMA`]. No
//! file the build accepts may fail the schema. Each check runs under draft 2020-12 (the
//! schemas' dialect) and draft-07 (what the YAML language server implements).
//! Refresh the shipped files with `PROMPTOPS_BLESS=1 cargo test -p promptops-tests --test schema`.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use jsonschema::{Draft, Validator};
use promptops_build::json_schema::{self, SchemaKind};
use promptops_build::yaml::{self, NodeKind, Scalar};
use promptops_build::{Code, Config, SourceFile, Tree};
use promptops_tests::{check_snapshot, workspace_root, FixtureCrate};
use serde_json::Value;

/// Fixture cases whose files the schema accepts although the build rejects them, with the
/// rules (codes) each breaks that no JSON Schema can express, and why.
const BEYOND_THE_SCHEMA: &[(&str, Code, &str)] = &[
    (
        "output-schema-rules",
        Code::InvalidOutputSchema,
        "`minimum` <= `maximum`, `required` against the properties, enum variants and nesting compare values across keywords",
    ),
    (
        "broken-symlink",
        Code::Io,
        "a symlink to nothing has no content to judge",
    ),
    (
        "created-after-updated",
        Code::InvalidDate,
        "`created` <= `updated` compares two fields",
    ),
    (
        "duplicate-id",
        Code::DuplicateId,
        "ids are unique across files",
    ),
    (
        "duplicate-key",
        Code::DuplicateKey,
        "a JSON view of the YAML keeps one of the two values",
    ),
    (
        "duplicate-labels",
        Code::InvalidLabels,
        "labels are unique ignoring case; `uniqueItems` compares exactly",
    ),
    (
        "eval-missing-input",
        Code::EvalMissingInput,
        "whether a case needs `input` depends on its prompt",
    ),
    (
        "eval-not-classifier",
        Code::EvalPromptNotClassifier,
        "depends on the prompt the suite names",
    ),
    (
        "eval-unknown-label",
        Code::UnknownExpectedLabel,
        "the labels are the prompt's",
    ),
    (
        "eval-unknown-field",
        Code::UnknownExpectedField,
        "the fields and the values they allow are the prompt's output schema's",
    ),
    (
        "eval-unknown-prompt",
        Code::UnknownEvalPrompt,
        "which prompts exist is the tree's business",
    ),
    (
        "eval-variables",
        Code::EvalVariables,
        "the variables and their types are the prompt's",
    ),
    (
        "id-path-mismatch",
        Code::IdPathMismatch,
        "the id must match the file's path",
    ),
    (
        "invalid-model-table",
        Code::InvalidModelTable,
        "`models.yaml` has no schema",
    ),
    (
        "invalid-model-table",
        Code::UnknownModel,
        "aliases come from the tree's model table",
    ),
    (
        "label-variant-collision",
        Code::RustNameCollision,
        "two labels may map to one Rust variant",
    ),
    (
        "many-problems-many-files",
        Code::TemplateSyntax,
        "templates are compiled by minijinja",
    ),
    ("not-utf8", Code::NotUtf8, "not text, so not YAML"),
    (
        "parent-not-lower",
        Code::InvalidParent,
        "`parent` < `version` compares two fields",
    ),
    (
        "symlink-outside-tree",
        Code::OutsideTree,
        "where a symlink points is not content",
    ),
    (
        "system-template-syntax",
        Code::TemplateSyntax,
        "templates are compiled by minijinja",
    ),
    (
        "template-syntax",
        Code::TemplateSyntax,
        "templates are compiled by minijinja",
    ),
    (
        "template-too-complex",
        Code::TemplateTooComplex,
        "the template limits count tags, operators and brackets inside the text",
    ),
    (
        "undeclared-variable",
        Code::UndeclaredVariable,
        "template variables are found by compiling",
    ),
    (
        "unknown-model",
        Code::UnknownModel,
        "aliases come from the tree's model table",
    ),
    (
        "unused-variable",
        Code::UnusedVariable,
        "template variables are found by compiling",
    ),
    (
        "yaml-alias",
        Code::Alias,
        "a schema sees the data an alias stands for",
    ),
    (
        "yaml-syntax",
        Code::YamlSyntax,
        "the YAML parser reports it before any schema runs",
    ),
    (
        "invalid-lock",
        Code::InvalidLock,
        "prompts.lock is not a prompt file: no schema judges it",
    ),
    (
        "locked-text-changed",
        Code::LockedVersionChanged,
        "whether a version's text changed is a comparison with prompts.lock",
    ),
];

/// The generated schemas compiled for both drafts.
struct Schemas {
    validators: Vec<(SchemaKind, Draft, Validator)>,
}

impl Schemas {
    fn new() -> Self {
        let mut validators = Vec::new();
        for kind in SchemaKind::ALL {
            let schema = kind.schema();
            for draft in [Draft::Draft202012, Draft::Draft7] {
                let validator = jsonschema::options()
                    .with_draft(draft)
                    .should_validate_formats(true)
                    .build(&schema)
                    .unwrap_or_else(|err| panic!("{} schema ({draft:?}): {err}", kind.as_str()));
                validators.push((kind, draft, validator));
            }
        }
        Schemas { validators }
    }

    /// The schema's errors for `instance` (empty when valid); both drafts must agree.
    fn errors(&self, kind: SchemaKind, instance: &Value, what: &str) -> Vec<String> {
        let verdicts: Vec<Vec<String>> = self
            .validators
            .iter()
            .filter(|(k, _, _)| *k == kind)
            .map(|(_, _, validator)| {
                validator
                    .iter_errors(instance)
                    .map(|err| format!("{}: {err}", err.instance_path()))
                    .collect()
            })
            .collect();
        assert_eq!(
            verdicts[0].is_empty(),
            verdicts[1].is_empty(),
            "{what}: draft 2020-12 and draft-07 disagree: {verdicts:?}"
        );
        verdicts[0].clone()
    }
}

/// A YAML file as the schema sees it: JSON under the YAML 1.2 core schema, as the build and
/// the YAML language server read it. `None` when there is no such view: not UTF-8, not YAML,
/// several documents, aliases or non-scalar keys.
fn json_view(bytes: &[u8]) -> Option<Value> {
    let text = std::str::from_utf8(bytes).ok()?;
    let documents = yaml::parse(text).ok()?;
    match documents.as_slice() {
        [] => Some(Value::Null),
        [root] => to_json(root),
        _ => None,
    }
}

fn to_json(node: &yaml::Node<'_>) -> Option<Value> {
    match &node.kind {
        NodeKind::Scalar { .. } => Some(match node.scalar()? {
            Scalar::Null => Value::Null,
            Scalar::Bool(value) => Value::Bool(value),
            Scalar::Int(value) => Value::from(value),
            // JSON has no infinity or NaN; as a string they fail every number field, as in the build.
            Scalar::Float(value) => serde_json::Number::from_f64(value)
                .map_or_else(|| Value::String(value.to_string()), Value::Number),
            Scalar::Str(text) => Value::String(text.to_owned()),
        }),
        NodeKind::Seq(items) => items.iter().map(to_json).collect::<Option<_>>(),
        NodeKind::Map(entries) => {
            let mut map = serde_json::Map::new();
            for (key, value) in entries {
                let key = match key.scalar()? {
                    Scalar::Str(text) => text.to_owned(),
                    Scalar::Null => "null".to_owned(),
                    Scalar::Bool(value) => value.to_string(),
                    Scalar::Int(value) => value.to_string(),
                    Scalar::Float(value) => value.to_string(),
                };
                map.insert(key, to_json(value)?);
            }
            Some(Value::Object(map))
        }
        NodeKind::Alias => None,
    }
}

/// Every YAML file under `dir` with its path relative to `base`, following symlinks; files
/// that cannot be read are listed with no content.
fn yaml_files(base: &Path, dir: &Path, out: &mut Vec<(String, Option<Vec<u8>>)>) {
    let mut entries: Vec<PathBuf> = fs::read_dir(dir)
        .expect("read dir")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            yaml_files(base, &path, out);
        } else if path.extension().is_some_and(|e| e == "yaml" || e == "yml") {
            let relative = path
                .strip_prefix(base)
                .expect("under base")
                .to_string_lossy()
                .replace('\\', "/");
            out.push((relative, fs::read(&path).ok()));
        }
    }
}

fn build_fail_cases() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/fixtures/build-fail");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

/// The build's codes per file (display paths relative to `display_root`).
fn build_verdicts(prompts: &Path, display_root: &Path) -> BTreeMap<String, BTreeSet<Code>> {
    let validated = Config::new()
        .prompts_dir(prompts)
        .display_root(display_root)
        .cargo_directives(false)
        .validate()
        .expect("validate");
    let mut verdicts: BTreeMap<String, BTreeSet<Code>> = BTreeMap::new();
    for diagnostic in validated.diagnostics {
        verdicts
            .entry(diagnostic.file)
            .or_default()
            .insert(diagnostic.code);
    }
    verdicts
}

#[test]
fn shipped_schemas_are_current() {
    let dir = workspace_root().join("schemas");
    for kind in SchemaKind::ALL {
        let text = kind.render().expect("render");
        if let Err(mismatch) = check_snapshot(&dir.join(kind.file_name()), &text) {
            panic!(
                "{mismatch}\nregenerate with `cargo run -p promptops-cli -- schema --out schemas`"
            );
        }
        let schema: Value = serde_json::from_str(&text).expect("schema is JSON");
        assert_eq!(schema["$schema"], json_schema::DIALECT);
        assert!(
            jsonschema::draft202012::meta::is_valid(&schema),
            "{} is not a valid draft 2020-12 schema",
            kind.file_name()
        );
        assert!(
            jsonschema::draft7::meta::is_valid(&schema),
            "{} is not a valid draft-07 schema",
            kind.file_name()
        );
    }
}

/// The shipped prompts and suites, and the build-pass fixtures (awkward but valid names), all
/// pass; so does the seed prompt.
#[test]
fn every_valid_file_passes_the_schema() {
    let schemas = Schemas::new();
    let root = workspace_root();
    let trees = [
        root.join("prompts"),
        root.join("tests/fixtures/build-pass/edge-names/prompts"),
    ];
    let mut checked = 0;
    for tree in &trees {
        assert!(
            build_verdicts(tree, &root).is_empty(),
            "{} must build",
            tree.display()
        );
        let discovered: Tree = Config::new()
            .prompts_dir(tree)
            .display_root(&root)
            .discover()
            .expect("discover");
        let files: Vec<&SourceFile> = discovered
            .files
            .iter()
            .chain(&discovered.eval_suites)
            .collect();
        for file in files {
            let what = format!("{}/{}", tree.display(), file.path);
            let instance = json_view(&file.bytes).unwrap_or_else(|| panic!("{what}: no JSON view"));
            let errors = schemas.errors(SchemaKind::for_path(&file.path), &instance, &what);
            assert!(
                errors.is_empty(),
                "{what} fails the schema:\n{}",
                errors.join("\n")
            );
            checked += 1;
        }
    }
    let seed = fs::read(root.join("tests/fixtures/seed/intent_classifier.v2.yaml")).expect("seed");
    let instance = json_view(&seed).expect("seed is YAML");
    let errors = schemas.errors(SchemaKind::Prompt, &instance, "seed");
    assert!(
        errors.is_empty(),
        "the seed prompt fails the schema:\n{}",
        errors.join("\n")
    );
    assert!(checked >= 10, "only {checked} files checked");
}

/// Over the broken-prompt corpus: a file the schema rejects is one the build rejects, and a
/// file the build rejects fails the schema unless all its rules are beyond the schema.
#[test]
fn the_schema_rejects_what_the_build_rejects() {
    let schemas = Schemas::new();
    let fixture = FixtureCrate::create("schema-corpus", false).expect("fixture crate");
    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    for case in build_fail_cases() {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        fixture.load_case(&case).expect("load case");
        let build = build_verdicts(&fixture.prompts(), &fixture.dir);
        assert!(!build.is_empty(), "{name}: the build accepts the case");
        let mut files = Vec::new();
        yaml_files(&fixture.dir, &fixture.prompts(), &mut files);
        let mut judged = BTreeSet::new();
        for (path, bytes) in &files {
            let is_model_table = path == "prompts/models.yaml";
            let view = bytes
                .as_deref()
                .and_then(json_view)
                .filter(|_| !is_model_table);
            let schema_errors = match &view {
                Some(instance) => schemas.errors(SchemaKind::for_path(path), instance, path),
                None => Vec::new(),
            };
            judged.insert(path.clone());
            let codes = build.get(path).cloned().unwrap_or_default();
            if !schema_errors.is_empty() {
                if codes.is_empty() {
                    failures.push(format!(
                        "{name}: {path} fails the schema but builds:\n  {}",
                        schema_errors.join("\n  ")
                    ));
                }
                continue;
            }
            check_beyond(&name, path, &codes, &mut used, &mut failures);
        }
        // Problems with paths that are no readable YAML file (a broken symlink).
        for (path, codes) in &build {
            if !judged.contains(path) {
                check_beyond(&name, path, codes, &mut used, &mut failures);
            }
        }
    }
    for (case, code, why) in BEYOND_THE_SCHEMA {
        if !used.contains(&(*case, *code)) {
            failures.push(format!(
                "allow-list entry ({case}, {code}: {why}) is not needed"
            ));
        }
        assert!(
            json_schema::BEYOND_THE_SCHEMA
                .iter()
                .any(|(c, _)| c == code),
            "{code} is missing from promptops_build::json_schema::BEYOND_THE_SCHEMA"
        );
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `codes` (the build's, for a file the schema accepts) must all be allow-listed for `case`.
fn check_beyond(
    case: &str,
    path: &str,
    codes: &BTreeSet<Code>,
    used: &mut BTreeSet<(&'static str, Code)>,
    failures: &mut Vec<String>,
) {
    for code in codes {
        match BEYOND_THE_SCHEMA
            .iter()
            .find(|(c, allowed, _)| *c == case && allowed == code)
        {
            Some((c, allowed, _)) => {
                used.insert((c, *allowed));
            }
            None => failures.push(format!(
                "{case}: the build rejects {path} with {code} ({}), but the schema accepts it",
                code.summary()
            )),
        }
    }
}

/// One prompt file built in memory, and the verdicts of the build and the schema on it.
fn both_verdicts(schemas: &Schemas, path: &str, text: &str) -> (bool, bool) {
    let tree = Tree {
        files: vec![SourceFile::new(path, text)],
        ..Tree::default()
    };
    let build_ok = promptops_build::validate(&tree).is_ok();
    let instance = json_view(text.as_bytes()).expect("YAML");
    let schema_ok = schemas
        .errors(SchemaKind::Prompt, &instance, text)
        .is_empty();
    (build_ok, schema_ok)
}

const PROMPT: &str = "\
id: ID
version: 1
owner: team
model: claude-3-5-sonnet
tags: []
variables:
  VAR: { type: string }
output:
  labels: [LABEL, other]
template: |
  {{ VAR }}
";

/// The id grammar, variable names and labels: the schema's patterns decide as the build does.
#[test]
fn names_are_judged_as_the_build_judges_them() {
    let schemas = Schemas::new();
    let mut failures = Vec::new();
    let prompt = |id: &str, var: &str, label: &str| {
        PROMPT
            .replacen("ID", &format!("'{id}'"), 1)
            .replace("VAR", var)
            .replacen("LABEL", &format!("'{label}'"), 1)
    };
    for id in [
        "a",
        "a.b",
        "a-b.c-d",
        "a1.b2",
        "2fa",
        "a.2fa",
        "a.b2fa",
        "self",
        "a.self",
        "a.selfish",
        "a.crate",
        "super.a",
        "get",
        "a.get",
        "A.b",
        "a_b",
        "a..b",
        "a.",
        "-a",
        "a--b",
        "a.b-",
        "a b",
        "",
        "a.type",
        "r2.get",
    ] {
        let path = format!(
            "{}.yaml",
            id.split('.')
                .map(|s| s.replace('-', "_"))
                .collect::<Vec<_>>()
                .join("/")
        );
        let (build, schema) = both_verdicts(&schemas, &path, &prompt(id, "message", "billing"));
        if build != schema {
            failures.push(format!("id {id:?}: build {build}, schema {schema}"));
        }
    }
    for var in [
        "message", "_x", "x1", "type", "self", "Self", "super", "crate", "1x", "a-b", "a b", "é",
    ] {
        let (build, schema) = both_verdicts(&schemas, "a/b.yaml", &prompt("a.b", var, "billing"));
        if build != schema {
            failures.push(format!("variable {var:?}: build {build}, schema {schema}"));
        }
    }
    for label in [
        "billing",
        "needs-review",
        "Needs Review",
        "x2",
        "_x",
        "5-star",
        "-5",
        "self",
        "Self",
        "self-",
        "selfish",
        "SELF",
        "--",
        "",
        " ",
        "é",
        "éa",
    ] {
        let (build, schema) = both_verdicts(&schemas, "a/b.yaml", &prompt("a.b", "message", label));
        if build != schema {
            failures.push(format!("label {label:?}: build {build}, schema {schema}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// Types, ranges, enums and conditional rules, one mutation of a valid prompt at a time.
#[test]
fn values_are_judged_as_the_build_judges_them() {
    let schemas = Schemas::new();
    let valid = PROMPT
        .replacen("ID", "a.b", 1)
        .replace("VAR", "message")
        .replacen("LABEL", "billing", 1);
    let mut failures = Vec::new();
    let cases: &[(&str, &str)] = &[
        ("version: 1", "version: 0"),
        ("version: 1", "version: 4294967295"),
        ("version: 1", "version: 4294967296"),
        ("version: 1", "version: '1'"),
        ("owner: team", "owner: ' '"),
        ("owner: team", "owner: [a]"),
        ("tags: []", "tags:"),
        ("tags: []", "tags: ['']"),
        ("tags: []", "tags: x"),
        ("tags: []", "tags: [1]"),
        ("tags: []", "tags: []\nstatus: draft"),
        ("tags: []", "tags: []\nstatus: Draft"),
        (
            "tags: []",
            "tags: []\nstatus: deprecated\ndeprecation_note: use c.d",
        ),
        ("tags: []", "tags: []\ndeprecation_note: use c.d"),
        (
            "tags: []",
            "tags: []\nstatus: draft\ndeprecation_note: use c.d",
        ),
        ("tags: []", "tags: []\nparent: 0"),
        (
            "tags: []",
            "tags: []\nmetrics: { baseline_accuracy: 1, cost_per_call_usd: 0, p95: 3 }",
        ),
        ("tags: []", "tags: []\nmetrics: { baseline_accuracy: 1.01 }"),
        ("tags: []", "tags: []\nmetrics: { cost_per_call_usd: -0.1 }"),
        ("tags: []", "tags: []\nmetrics: { p95: fast }"),
        ("tags: []", "tags: []\nmetrics:"),
        (
            "tags: []",
            "tags: []\ninference: { max_tokens: 1000000, temperature: 0, top_p: 1 }",
        ),
        ("tags: []", "tags: []\ninference: { max_tokens: 1000001 }"),
        ("tags: []", "tags: []\ninference: { top_p: -0.5 }"),
        ("tags: []", "tags: []\ninference: { stop_sequences: [END] }"),
        ("tags: []", "tags: []\ninference: { stop_sequences: [''] }"),
        ("tags: []", "tags: []\ninference: { seed: 3 }"),
        (
            "tags: []",
            "tags: []\ncreated: 2024-02-29\nupdated: 2024-03-01",
        ),
        ("tags: []", "tags: []\ncreated: 2023-02-29"),
        ("tags: []", "tags: []\ncreated: 2023-2-1"),
        ("tags: []", "tags: []\ndescription: ''"),
        ("tags: []", "tags: []\nsystem: Be brief."),
        ("tags: []", "tags: []\nownr: x"),
        ("output:\n  labels: [billing, other]\n", ""),
        ("  labels: [billing, other]", "  labels: []"),
        ("  labels: [billing, other]", "  labels: [billing, billing]"),
        ("  labels: [billing, other]", "  labels:"),
        ("  labels: [billing, other]", "  kinds: [a]"),
        ("{ type: string }", "integer"),
        ("{ type: string }", "text"),
        ("{ type: string }", ""),
        ("{ type: string }", "{ type: integer, default: 3 }"),
        ("{ type: string }", "{ type: integer, default: three }"),
        ("{ type: string }", "{ type: number, default: 0.5 }"),
        ("{ type: string }", "{ type: boolean, default: 1 }"),
        ("{ type: string }", "{ type: list, default: [a, b] }"),
        ("{ type: string }", "{ type: list, default: a }"),
        ("{ type: string }", "{ default: friendly }"),
        ("{ type: string }", "{ default: 3 }"),
        ("{ type: string }", "{ default: x, required: true }"),
        ("{ type: string }", "{ default: x, required: false }"),
        (
            "{ type: string }",
            "{ required: true, sensitive: true, description: The text. }",
        ),
        ("{ type: string }", "{ sensitive: yes }"),
        ("{ type: string }", "{ description: '' }"),
        ("{ type: string }", "{ kind: string }"),
        ("{ type: string }", "5"),
    ];
    for (from, to) in cases {
        assert!(valid.contains(from), "{from:?} not in the prompt");
        let text = valid.replacen(from, to, 1);
        let (build, schema) = both_verdicts(&schemas, "a/b.yaml", &text);
        if build != schema {
            failures.push(format!(
                "{from:?} -> {to:?}: build {build}, schema {schema}"
            ));
        }
    }
    let (build, schema) = both_verdicts(&schemas, "a/b.yaml", &valid);
    assert!(build && schema, "the base prompt is valid");
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// An eval suite: structure only (what it says about its prompt is the tree's business).
#[test]
fn suites_are_judged_by_their_structure() {
    let schemas = Schemas::new();
    let suite = |body: &str| -> bool {
        let instance = json_view(body.as_bytes()).expect("YAML");
        schemas
            .errors(SchemaKind::EvalSuite, &instance, body)
            .is_empty()
    };
    let ok = "prompt_id: a.b\ncases:\n  - { input: hi, expected: billing }\n";
    assert!(suite(ok));
    assert!(suite("prompt_id: a.b\ndescription: x\ncases:\n  - { name: n, vars: { n: 3, s: x, b: true, l: [a] }, expected: x }\n"));
    for broken in [
        "cases:\n  - { input: hi, expected: billing }\n",
        "prompt_id: a.b\n",
        "prompt_id: a.b\ncases: []\n",
        "prompt_id: A.b\ncases:\n  - { input: hi, expected: billing }\n",
        "prompt_id: a.b\ncases:\n  - { input: hi }\n",
        "prompt_id: a.b\ncases:\n  - { input: '', expected: x }\n",
        "prompt_id: a.b\ncases:\n  - { input: hi, expected: x, weight: 2 }\n",
        "prompt_id: a.b\ncases:\n  - { vars: { n: { a: 1 } }, expected: x }\n",
        "prompt_id: a.b\ncases:\n  - { vars: { n: }, expected: x }\n",
        "prompt_id: a.b\ncases:\n  - { vars:, expected: x }\n",
        "prompt_id: a.b\nsuite: x\ncases:\n  - { input: hi, expected: billing }\n",
    ] {
        assert!(!suite(broken), "the schema accepts:\n{broken}");
    }
    // The same structural problems fail the build.
    let prompt = "id: a.b\nversion: 1\nowner: t\nmodel: claude-3-5-sonnet\ntags: []\noutput: { labels: [billing] }\ntemplate: Classify.\n";
    for broken in [
        "prompt_id: a.b\ncases: []\n",
        "prompt_id: a.b\ncases:\n  - { input: hi }\n",
        "prompt_id: a.b\ncases:\n  - { input: hi, expected: billing, weight: 2 }\n",
    ] {
        let tree = Tree {
            files: vec![SourceFile::new("a/b.yaml", prompt)],
            eval_suites: vec![SourceFile::new("a/b.eval.yaml", broken)],
            ..Tree::default()
        };
        assert!(
            !promptops_build::validate(&tree).is_ok(),
            "the build accepts:\n{broken}"
        );
    }
    let tree = Tree {
        files: vec![SourceFile::new("a/b.yaml", prompt)],
        eval_suites: vec![SourceFile::new("a/b.eval.yaml", ok)],
        ..Tree::default()
    };
    assert!(promptops_build::validate(&tree).is_ok());
}

/// `output.schema`: a valid structured prompt passes both; keyword, type and shape mistakes
/// fail both (the cross-keyword rules are the build's alone, in [`BEYOND_THE_SCHEMA`]).
#[test]
fn output_schemas_are_judged_as_the_build_judges_them() {
    let schemas = Schemas::new();
    let valid = "\
id: a.triage
version: 1
owner: team
model: claude-3-5-sonnet
tags: []
variables:
  message: { type: string }
template: |
  {{ message }}
output:
  schema:
    type: object
    properties:
      intent: { type: string, enum: [billing, other], description: why }
      urgency: { type: integer, minimum: 1, maximum: 5 }
      order_id: { type: [string, \"null\"] }
      items:
        type: array
        maxItems: 3
        items:
          type: object
          properties:
            sku: { type: string, maxLength: 20 }
            price: { type: [number, \"null\"], minimum: 0 }
          required: [sku, price]
    required: [intent, urgency, order_id, items]
";
    assert_eq!(
        both_verdicts(&schemas, "a/triage.yaml", valid),
        (true, true),
        "a valid structured prompt passes both"
    );
    let mut failures = Vec::new();
    let cases: &[(&str, &str)] = &[
        ("maxItems: 3", "maxItem: 3"),
        ("maxLength: 20", "pattern: x"),
        ("type: [number, \"null\"]", "type: [number, string]"),
        ("type: [number, \"null\"]", "type: decimal"),
        ("      order_id:", "      orderId:"),
        (
            "    type: object\n    properties:",
            "    type: array\n    properties:",
        ),
        ("enum: [billing, other]", "enum: []"),
        ("output:\n  schema:", "output:\n  labels: [a]\n  schema:"),
        ("minimum: 1,", "minimum: one,"),
        (
            "required: [sku, price]",
            "required: [sku, price]\n          additionalProperties: true",
        ),
        ("type: [number, \"null\"]", "type: [\"null\", \"null\"]"),
        (
            "type: [number, \"null\"], minimum: 0",
            "type: number, minimum: .inf",
        ),
    ];
    for (from, to) in cases {
        assert!(
            valid.contains(from),
            "the case {from:?} is not in the prompt"
        );
        let text = valid.replacen(from, to, 1);
        let verdicts = both_verdicts(&schemas, "a/triage.yaml", &text);
        if verdicts != (false, false) {
            failures.push(format!(
                "{from:?} -> {to:?}: (build, schema) = {verdicts:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
