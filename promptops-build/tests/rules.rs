//! One test (at least) per validation rule, over in-memory prompt trees.

use promptops_build::diagnostic::Location;
use promptops_build::{validate, Code, Diagnostic, SourceFile, Tree};

const VALID: &str = "\
id: support.reply
version: 2
parent: 1
owner: cx-team
model: claude-3-5-sonnet
tags: [generation]
variables:
  name:
    type: string
template: |
  Hello {{ name }}!
";

fn tree(files: &[(&str, &str)]) -> Tree {
    Tree {
        display_prefix: "prompts/".into(),
        files: files.iter().map(|(p, t)| SourceFile::new(*p, *t)).collect(),
        ..Tree::default()
    }
}

fn problems(files: &[(&str, &str)]) -> Vec<Diagnostic> {
    validate(&tree(files)).diagnostics
}

/// Exactly one diagnostic, with this code, at this line and column.
#[track_caller]
fn only(files: &[(&str, &str)], code: Code, line: usize, col: usize) -> Diagnostic {
    let found = problems(files);
    assert_eq!(
        found.len(),
        1,
        "expected one {code}, got:\n{}",
        render(&found)
    );
    let diagnostic = found.into_iter().next().unwrap();
    assert_eq!(diagnostic.code, code, "{diagnostic}");
    let pos = diagnostic.location.pos;
    assert_eq!((pos.line, pos.col), (line, col), "{diagnostic}");
    diagnostic
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect()
}

fn with(replace: &str, by: &str) -> String {
    assert!(
        VALID.contains(replace),
        "fixture does not contain {replace:?}"
    );
    VALID.replacen(replace, by, 1)
}

const PATH: &str = "support/reply.yaml";

#[test]
fn valid_prompt_has_no_problems() {
    let validated = validate(&tree(&[(PATH, VALID)]));
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    let prompt = &validated.prompts[0];
    assert_eq!(prompt.def.id, "support.reply");
    assert_eq!(
        prompt.def.model_id,
        "anthropic.claude-3-5-sonnet-20240620-v1:0"
    );
    assert_eq!(prompt.def.variables.len(), 1);
    assert_eq!(prompt.def.content_hash.len(), 64);
}

#[test]
fn missing_required_field() {
    let d = only(
        &[(PATH, &with("owner: cx-team\n", ""))],
        Code::MissingField,
        1,
        1,
    );
    assert!(d.message.contains("`owner`"));
    assert!(d.help.unwrap().contains("owner:"));
}

#[test]
fn every_missing_field_is_reported() {
    let found = problems(&[(PATH, "id: support.reply\n")]);
    let missing: Vec<_> = found
        .iter()
        .filter(|d| d.code == Code::MissingField)
        .collect();
    assert_eq!(missing.len(), 5, "{}", render(&found));
}

#[test]
fn unknown_field_suggests_the_closest() {
    let d = only(
        &[(PATH, &with("owner:", "ownr:"))],
        Code::UnknownField,
        4,
        1,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `owner`?"));
}

#[test]
fn wrong_type() {
    let d = only(
        &[(PATH, &with("owner: cx-team", "owner: [a, b]"))],
        Code::WrongType,
        4,
        8,
    );
    assert!(d.message.contains("must be a string, found a list"), "{d}");
    only(
        &[(PATH, &with("version: 2", "version: \"2\""))],
        Code::WrongType,
        2,
        10,
    );
    only(
        &[(PATH, &with("tags: [generation]", "tags: generation"))],
        Code::WrongType,
        6,
        7,
    );
}

#[test]
fn id_grammar() {
    let d = only(
        &[(PATH, &with("id: support.reply", "id: Support.Reply_v2"))],
        Code::InvalidId,
        1,
        5,
    );
    assert_eq!(d.help.as_deref(), Some("try `support.reply-v2`"));
}

#[test]
fn id_must_match_path() {
    let d = only(&[("support/other.yaml", VALID)], Code::IdPathMismatch, 1, 5);
    let help = d.help.unwrap();
    assert!(
        help.contains("`support.other`") && help.contains("`support/reply.yaml`"),
        "{help}"
    );
}

#[test]
fn version_at_least_one() {
    only(
        &[(PATH, &with("version: 2\nparent: 1\n", "version: 0\n"))],
        Code::InvalidVersion,
        2,
        10,
    );
}

#[test]
fn parent_below_version() {
    let d = only(
        &[(PATH, &with("parent: 1", "parent: 2"))],
        Code::InvalidParent,
        3,
        9,
    );
    assert!(d.message.contains("lower than version 2"));
}

#[test]
fn status_values() {
    let d = only(
        &[(PATH, &format!("{VALID}status: stabel\n"))],
        Code::InvalidStatus,
        12,
        9,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `stable`?"));
}

#[test]
fn deprecation_note_needs_deprecated_status() {
    only(
        &[(PATH, &format!("{VALID}deprecation_note: use v3\n"))],
        Code::MisplacedDeprecationNote,
        12,
        1,
    );
    assert!(problems(&[(
        PATH,
        &format!("{VALID}status: deprecated\ndeprecation_note: use v3\n")
    )])
    .is_empty());
}

#[test]
fn metric_ranges() {
    only(
        &[(PATH, &format!("{VALID}metrics:\n  baseline_accuracy: 94\n"))],
        Code::MetricOutOfRange,
        13,
        22,
    );
    only(
        &[(PATH, &format!("{VALID}metrics:\n  cost_per_call_usd: -1\n"))],
        Code::MetricOutOfRange,
        13,
        22,
    );
    only(
        &[(PATH, &format!("{VALID}metrics:\n  p95: fast\n"))],
        Code::WrongType,
        13,
        8,
    );
}

#[test]
fn inference_ranges() {
    only(
        &[(PATH, &format!("{VALID}inference:\n  temperature: 1.5\n"))],
        Code::InferenceOutOfRange,
        13,
        16,
    );
    only(
        &[(PATH, &format!("{VALID}inference:\n  top_p: -0.1\n"))],
        Code::InferenceOutOfRange,
        13,
        10,
    );
    only(
        &[(PATH, &format!("{VALID}inference:\n  max_tokens: 0\n"))],
        Code::InferenceOutOfRange,
        13,
        15,
    );
    only(
        &[(PATH, &format!("{VALID}inference:\n  max_token: 10\n"))],
        Code::UnknownField,
        13,
        3,
    );
}

#[test]
fn dates() {
    only(
        &[(PATH, &format!("{VALID}created: 2026-02-30\n"))],
        Code::InvalidDate,
        12,
        10,
    );
    let d = only(
        &[(
            PATH,
            &format!("{VALID}created: 2026-05-02\nupdated: 2026-05-01\n"),
        )],
        Code::InvalidDate,
        13,
        10,
    );
    assert!(d.message.contains("before `created`"));
}

#[test]
fn labels_non_empty_unique_and_nameable() {
    only(
        &[(PATH, &format!("{VALID}output:\n  labels: []\n"))],
        Code::InvalidLabels,
        13,
        11,
    );
    only(
        &[(PATH, &format!("{VALID}output:\n  labels: [yes, no, Yes]\n"))],
        Code::InvalidLabels,
        13,
        21,
    );
    only(
        &[(PATH, &format!("{VALID}output:\n  labels: [5-star, good]\n"))],
        Code::InvalidLabels,
        13,
        12,
    )
    .help
    .expect("help");
}

#[test]
fn labels_mapping_to_one_variant_collide() {
    let d = only(
        &[(
            PATH,
            &format!("{VALID}output:\n  labels: [needs-review, needs_review]\n"),
        )],
        Code::RustNameCollision,
        13,
        26,
    );
    assert!(d.message.contains("`NeedsReview`"));
}

#[test]
fn empty_owner() {
    only(
        &[(PATH, &with("owner: cx-team", "owner: \"  \""))],
        Code::EmptyValue,
        4,
        8,
    );
}

#[test]
fn unknown_model_alias() {
    let d = only(
        &[(PATH, &with("claude-3-5-sonnet", "claude-3-5-sonet"))],
        Code::UnknownModel,
        5,
        8,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `claude-3-5-sonnet`?"));
    assert!(problems(&[(
        PATH,
        &with("claude-3-5-sonnet", "amazon.titan-text-express-v1")
    )])
    .is_empty());
}

#[test]
fn model_table_override() {
    let mut t = tree(&[(PATH, &with("claude-3-5-sonnet", "house-model"))]);
    t.model_table = Some(SourceFile::new(
        "models.yaml",
        "house-model: amazon.nova-pro-v1:0\n",
    ));
    let validated = validate(&t);
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    assert_eq!(validated.prompts[0].def.model_id, "amazon.nova-pro-v1:0");

    t.model_table = Some(SourceFile::new("models.yaml", "house-model: gpt-4\n"));
    let found = validate(&t).diagnostics;
    let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
    assert_eq!(
        codes,
        vec![Code::InvalidModelTable, Code::UnknownModel],
        "{}",
        render(&found)
    );
    assert_eq!(found[0].file, "prompts/models.yaml");
}

#[test]
fn variable_declarations() {
    only(
        &[(PATH, &with("type: string", "type: strng"))],
        Code::InvalidVariable,
        9,
        11,
    )
    .help
    .filter(|h| h.contains("`string`"))
    .expect("suggests string");
    let required_with_default = with(
        "type: string\n",
        "type: string\n    default: x\n    required: true\n",
    );
    only(
        &[(PATH, &required_with_default)],
        Code::InvalidVariable,
        11,
        15,
    );
    let bad_default = with("type: string\n", "type: integer\n    default: many\n");
    only(&[(PATH, &bad_default)], Code::WrongType, 10, 14);
}

#[test]
fn variable_names_must_be_identifiers_and_nameable() {
    let text = with("  name:\n", "  first-name:\n").replace("{{ name }}", "{{ first }}");
    let found = problems(&[(PATH, &text)]);
    assert_eq!(found[0].code, Code::InvalidVariable, "{}", render(&found));
    let text = with("  name:\n", "  self:\n").replace("{{ name }}", "{{ self }}");
    let found = problems(&[(PATH, &text)]);
    assert!(
        found
            .iter()
            .any(|d| d.code == Code::InvalidVariable && d.message.contains("Rust")),
        "{}",
        render(&found)
    );
}

#[test]
fn template_syntax_error_points_into_the_block() {
    let d = only(
        &[(PATH, &with("Hello {{ name }}!", "Hello {{ name }!"))],
        Code::TemplateSyntax,
        11,
        17,
    );
    assert!(
        d.message.contains("template syntax error in `template`"),
        "{d}"
    );
}

#[test]
fn a_template_over_the_limits_is_refused_before_it_is_compiled() {
    // 5,000 links would overflow the stack of a debug build while compiling.
    let chain = format!("Hello {{{{ name{} }}}}!", "|upper".repeat(5_000));
    let d = only(
        &[(PATH, &with("Hello {{ name }}!", &chain))],
        Code::TemplateTooComplex,
        11,
        3 + chain.find("|upper").unwrap() + 256 * "|upper".len(),
    );
    assert!(d.message.contains("more than 256 operators"), "{d}");
}

#[test]
fn system_template_is_checked_too() {
    only(
        &[(PATH, &format!("{VALID}system: \"Be {{% if x %}} brief\"\n"))],
        Code::TemplateSyntax,
        12,
        23,
    );
}

#[test]
fn undeclared_variable_is_located_at_its_use() {
    let d = only(
        &[(
            PATH,
            &with("Hello {{ name }}!", "Hello {{ name }} from {{ nam }}"),
        )],
        Code::UndeclaredVariable,
        11,
        28,
    );
    assert!(d.help.unwrap().contains("did you mean `name`?"));
}

#[test]
fn unused_declared_variable() {
    let text = with(
        "template: |\n",
        "  extra:\n    type: integer\ntemplate: |\n",
    );
    let d = only(&[(PATH, &text)], Code::UnusedVariable, 10, 3);
    assert!(d.message.contains("`extra`"));
}

#[test]
fn globals_and_loop_locals_are_not_variables() {
    let text = with(
        "Hello {{ name }}!",
        "{% for i in range(3) %}{{ loop.index }}{{ name }}{% endfor %}{{ namespace() }}",
    );
    assert!(
        problems(&[(PATH, &text)]).is_empty(),
        "{}",
        render(&problems(&[(PATH, &text)]))
    );
}

#[test]
fn variables_are_inferred_when_not_declared() {
    let text = "id: a.b\nversion: 1\nowner: o\nmodel: nova-lite\ntags: []\ntemplate: \"{{ z }} {{ a }}\"\n";
    let validated = validate(&tree(&[("a/b.yaml", text)]));
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    let names: Vec<_> = validated.prompts[0]
        .def
        .variables
        .iter()
        .map(|v| v.name.as_str())
        .collect();
    assert_eq!(names, ["a", "z"]);
    assert!(validated.prompts[0]
        .def
        .variables
        .iter()
        .all(|v| v.required));
}

#[test]
fn duplicate_ids_across_files() {
    let found = problems(&[("support/reply.yaml", VALID), ("support/reply.yml", VALID)]);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].code, Code::DuplicateId);
    assert_eq!(found[0].file, "prompts/support/reply.yml");
    assert!(found[0].notes[0].contains("prompts/support/reply.yaml:1"));
}

#[test]
fn top_level_id_colliding_with_generated_items() {
    let text = VALID.replace("support.reply", "get");
    only(&[("get.yaml", &text)], Code::RustNameCollision, 1, 5);
}

#[test]
fn keywords_and_leading_digits_in_ids() {
    let text = VALID.replace("support.reply", "support.type");
    let validated = validate(&tree(&[("support/type.yaml", &text)]));
    assert!(
        validated.is_ok(),
        "raw identifiers handle keywords: {}",
        render(&validated.diagnostics)
    );
    let text = VALID.replace("support.reply", "support.2fa");
    let d = only(&[("support/2fa.yaml", &text)], Code::ReservedName, 1, 5);
    assert!(d.message.contains("starts with a digit"));
    let text = VALID.replace("support.reply", "support.self");
    only(&[("support/self.yaml", &text)], Code::ReservedName, 1, 5);
}

#[test]
fn empty_files() {
    for text in ["", "\n\n", "# only a comment\n", "~\n"] {
        let found = problems(&[(PATH, text)]);
        assert_eq!(found.len(), 1, "{text:?}: {}", render(&found));
        assert_eq!(found[0].code, Code::EmptyFile);
        assert_eq!(found[0].location, Location::whole_file());
    }
}

#[test]
fn non_utf8_files() {
    let t = Tree {
        files: vec![SourceFile::new(PATH, b"id: a\xff\n".to_vec())],
        ..Tree::default()
    };
    let found = validate(&t).diagnostics;
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, Code::NotUtf8);
    assert_eq!(found[0].location, Location::whole_file());
    assert!(found[0].notes[0].contains("offset 5"));
}

#[test]
fn yaml_syntax_errors() {
    let d = only(&[(PATH, "id: [a\nversion: 1\n")], Code::YamlSyntax, 2, 8);
    assert!(d.message.starts_with("invalid YAML"));
}

#[test]
fn document_must_be_a_single_mapping() {
    only(&[(PATH, "- a\n- b\n")], Code::NotAMapping, 1, 1);
    only(
        &[(PATH, &format!("{VALID}---\nid: x\n"))],
        Code::NotAMapping,
        13,
        1,
    );
}

#[test]
fn duplicate_keys() {
    let d = only(
        &[(PATH, &format!("{VALID}owner: other\n"))],
        Code::DuplicateKey,
        12,
        1,
    );
    assert!(d.notes[0].contains("line 4"));
}

#[test]
fn aliases_are_rejected() {
    let text = with("owner: cx-team", "owner: &o cx-team\ndescription: *o");
    only(&[(PATH, &text)], Code::Alias, 5, 14);
}

#[test]
fn all_problems_in_all_files_in_one_run_sorted() {
    let found = problems(&[
        (
            "support/z.yaml",
            &VALID
                .replace("support.reply", "support.z")
                .replace("owner: cx-team\n", ""),
        ),
        (
            "support/a.yaml",
            &VALID
                .replace("support.reply", "support.a")
                .replace("version: 2", "version: 0"),
        ),
        (PATH, &with("claude-3-5-sonnet", "nope")),
    ]);
    let summary: Vec<(String, Code)> = found.iter().map(|d| (d.file.clone(), d.code)).collect();
    assert_eq!(
        summary,
        vec![
            ("prompts/support/a.yaml".into(), Code::InvalidVersion),
            ("prompts/support/reply.yaml".into(), Code::UnknownModel),
            ("prompts/support/z.yaml".into(), Code::MissingField),
        ]
    );
}

#[test]
fn every_code_is_exercised_by_this_suite() {
    // Codes raised only by filesystem discovery are covered by the fixture builds.
    let discovery_only = [Code::Io, Code::OutsideTree];
    let source = concat!(include_str!("rules.rs"), include_str!("eval_rules.rs"));
    for code in Code::ALL {
        let name = format!("{code:?}");
        let mentioned = source.matches(&format!("Code::{name}")).count();
        assert!(
            discovery_only.contains(code) || mentioned >= 1,
            "no test mentions Code::{name}"
        );
    }
}

#[test]
fn a_locked_version_keeps_its_text() {
    use promptops_build::lock::{self, Lock};
    let validated = validate(&tree(&[(PATH, VALID)]));
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    let mut locked = Lock::new();
    lock::update(&mut locked, &validated.prompts).expect("a new prompt is recorded");
    assert!(lock::check(&locked, &validated.prompts).is_empty());

    let edited = validate(&tree(&[(PATH, &format!("{VALID}description: edited\n"))]));
    assert!(edited.is_ok(), "{}", render(&edited.diagnostics));
    let found = lock::check(&locked, &edited.prompts);
    assert_eq!(found.len(), 1);
    assert_eq!(found[0].code, Code::LockedVersionChanged);
    let version_line = VALID
        .lines()
        .position(|line| line.starts_with("version:"))
        .expect("VALID has a version")
        + 1;
    assert_eq!(found[0].location.pos.line, version_line, "{}", found[0]);
    assert_eq!(found[0].file, "prompts/support/reply.yaml");

    let err = Lock::parse("{}").expect_err("not a lock");
    let invalid = lock::invalid("prompts/prompts.lock".into(), &err);
    assert_eq!(invalid.code, Code::InvalidLock);
    assert!(
        invalid.to_string().contains("prompts/prompts.lock:1:1"),
        "{invalid}"
    );
}

/// `VALID` with `output.schema` set to `schema` (indented under `schema:`).
fn with_schema(schema: &str) -> String {
    let indented: String = schema.lines().map(|line| format!("    {line}\n")).collect();
    format!("{VALID}output:\n  schema:\n{indented}")
}

const TRIAGE_SCHEMA: &str = "\
type: object
properties:
  intent: {type: string, enum: [billing, technical], description: what the customer wants}
  urgency: {type: integer, minimum: 1, maximum: 5}
  order_id: {type: [string, \"null\"]}
  products: {type: array, items: {type: string}, maxItems: 10}
required: [intent, urgency, order_id, products]
";

#[test]
fn a_valid_output_schema_is_carried_in_the_definition() {
    let validated = validate(&tree(&[(PATH, &with_schema(TRIAGE_SCHEMA))]));
    assert!(
        validated.diagnostics.is_empty(),
        "{}",
        render(&validated.diagnostics)
    );
    let def = &validated.prompts[0].def;
    let schema = def.output_schema.as_ref().expect("the schema");
    assert_eq!(
        schema.to_json()["required"],
        serde_json::json!(["intent", "urgency", "order_id", "products"])
    );
    assert!(def.labels.is_empty());
}

#[test]
fn output_schema_problems_point_at_their_keyword() {
    // Line 12 is `output:`, 13 `schema:`, the schema starts on line 14.
    let unknown = only(
        &[(
            PATH,
            &with_schema(&TRIAGE_SCHEMA.replace("maxItems: 10", "maxItem: 10")),
        )],
        Code::InvalidOutputSchema,
        19,
        54,
    );
    assert_eq!(unknown.help.as_deref(), Some("did you mean `maxItems`?"));
    only(
        &[(
            PATH,
            &with_schema(&TRIAGE_SCHEMA.replace("maximum: 5", "maximum: 0")),
        )],
        Code::InvalidOutputSchema,
        17,
        41,
    );
    only(
        &[(
            PATH,
            &with_schema(&TRIAGE_SCHEMA.replace("enum: [billing, technical]", "enum: []")),
        )],
        Code::InvalidOutputSchema,
        16,
        36,
    );
    only(
        &[(
            PATH,
            &with_schema(&TRIAGE_SCHEMA.replace(
                "required: [intent, urgency, order_id, products]",
                "required: [intent, urgency, order_id, products, summary]",
            )),
        )],
        Code::InvalidOutputSchema,
        20,
        53,
    );
    let renamed = only(
        &[(
            PATH,
            &with_schema(
                &TRIAGE_SCHEMA
                    .replace("  order_id:", "  orderId:")
                    .replace("order_id, products]", "orderId, products]"),
            ),
        )],
        Code::InvalidOutputSchema,
        18,
        7,
    );
    assert_eq!(renamed.help.as_deref(), Some("rename it `order_id`"));
}

#[test]
fn output_schema_nesting_has_a_limit() {
    let mut schema = String::from("{type: string}");
    for _ in 0..=promptops_core::output_schema::MAX_DEPTH + 1 {
        schema = format!("{{type: object, properties: {{inner: {schema}}}, required: [inner]}}");
    }
    let found = problems(&[(PATH, &with_schema(&schema))]);
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].code, Code::InvalidOutputSchema);
    assert!(found[0].message.contains("nest more than"), "{}", found[0]);
}

#[test]
fn labels_and_schema_are_mutually_exclusive() {
    let text = format!("{VALID}output:\n  labels: [a, b]\n  schema: {{type: object}}\n");
    let d = only(&[(PATH, &text)], Code::InvalidOutputSchema, 14, 3);
    assert!(d.message.contains("both"), "{d}");
    only(
        &[(PATH, &format!("{VALID}output: {{}}\n"))],
        Code::MissingField,
        12,
        9,
    );
}
