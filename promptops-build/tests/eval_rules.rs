//! Eval suite rules (P04xx) over in-memory trees: a suite is checked against the prompt it
//! names, with every problem located in the suite file.

use promptops_build::eval::Expected;
use promptops_build::schema::Value;
use promptops_build::{validate, Code, Diagnostic, SourceFile, Tree, Validated};

const CLASSIFIER: &str = "\
id: support.intent
version: 1
owner: cx-team
model: claude-3-5-sonnet
tags: []
metrics:
  baseline_accuracy: 0.9
output:
  labels: [billing, technical, other]
template: |
  Classify the message as billing, technical or other.
";

const ROUTER: &str = "\
id: support.router
version: 1
owner: cx-team
model: claude-3-5-sonnet
tags: []
variables:
  message: { type: string }
  tier: { type: string, required: false }
  attempts: { type: integer }
  tags: { type: list, required: false }
output:
  labels: [human, bot]
template: |
  {{ message }} {{ tier }} {{ attempts }} {{ tags }}
";

const FREE_TEXT: &str = "\
id: support.reply
version: 1
owner: cx-team
model: claude-3-5-sonnet
tags: []
template: |
  Write a reply.
";

const TRIAGE: &str = "\
id: support.triage
version: 1
owner: cx-team
model: claude-3-5-haiku
tags: []
metrics:
  baseline_accuracy.intent: 0.9
output:
  schema:
    type: object
    properties:
      intent: { type: string, enum: [billing, technical, other] }
      urgency: { type: integer, minimum: 1, maximum: 5 }
      score: { type: number }
      order_id: { type: [string, \"null\"] }
    required: [intent, urgency, score, order_id]
template: |
  Triage the ticket.
";

const TRIAGE_SUITE: &str = "\
prompt_id: support.triage
cases:
  - name: double charge
    input: I was charged twice for order A-1.
    expect: { intent: billing, order_id: A-1, score: 0.5 }
  - input: Where is my invoice?
    expect: { order_id: null }
";

const SUITE: &str = "\
prompt_id: support.intent
description: Inbox samples.
cases:
  - name: refund
    input: I want my money back for the double charge.
    expected: billing
  - input: The app crashes on start.
    expected: technical
";

fn validated(suite: &str) -> Validated {
    let tree = Tree {
        display_prefix: "prompts/".into(),
        files: vec![
            SourceFile::new("support/intent.yaml", CLASSIFIER),
            SourceFile::new("support/router.yaml", ROUTER),
            SourceFile::new("support/reply.yaml", FREE_TEXT),
            SourceFile::new("support/triage.yaml", TRIAGE),
        ],
        eval_suites: vec![SourceFile::new("support/intent.eval.yaml", suite)],
        ..Tree::default()
    };
    validate(&tree)
}

fn render(diagnostics: &[Diagnostic]) -> String {
    diagnostics.iter().map(ToString::to_string).collect()
}

/// Exactly one diagnostic, with this code, at this line and column of the suite.
#[track_caller]
fn only(suite: &str, code: Code, line: usize, col: usize) -> Diagnostic {
    let found = validated(suite).diagnostics;
    assert_eq!(
        found.len(),
        1,
        "expected one {code}, got:\n{}",
        render(&found)
    );
    let diagnostic = found.into_iter().next().unwrap();
    assert_eq!(diagnostic.code, code, "{diagnostic}");
    assert_eq!(diagnostic.file, "prompts/support/intent.eval.yaml");
    let pos = diagnostic.location.pos;
    assert_eq!((pos.line, pos.col), (line, col), "{diagnostic}");
    diagnostic
}

#[test]
fn valid_suite_is_parsed_in_file_order() {
    let validated = validated(SUITE);
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    assert_eq!(validated.suites.len(), 1);
    let suite = &validated.suites[0];
    assert_eq!(suite.prompt_id, "support.intent");
    assert_eq!(suite.display_path, "prompts/support/intent.eval.yaml");
    assert_eq!(suite.description.as_deref(), Some("Inbox samples."));
    let names: Vec<&str> = suite.cases.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["refund", "case 2"]);
    assert_eq!(suite.cases[1].line, 7);
    assert_eq!(suite.cases[1].expected, Expected::Label("technical".into()));
    assert_eq!(
        suite.cases[0].input.as_deref(),
        Some("I want my money back for the double charge.")
    );
    // A suite is not a prompt: it neither needs an id matching its path nor shows up as one.
    assert_eq!(validated.prompts.len(), 4);
}

#[test]
fn unknown_prompt_suggests_the_closest_id() {
    let d = only(
        &SUITE.replace("support.intent", "support.intnet"),
        Code::UnknownEvalPrompt,
        1,
        12,
    );
    assert_eq!(d.message, "no prompt has the id `support.intnet`");
    assert_eq!(d.help.as_deref(), Some("did you mean `support.intent`?"));
}

#[test]
fn suite_of_a_prompt_with_its_own_errors_is_not_reported_twice() {
    let tree = Tree {
        display_prefix: "prompts/".into(),
        files: vec![SourceFile::new(
            "support/intent.yaml",
            CLASSIFIER.replace("owner: cx-team\n", ""),
        )],
        eval_suites: vec![SourceFile::new("support/intent.eval.yaml", SUITE)],
        ..Tree::default()
    };
    let found = validate(&tree).diagnostics;
    let codes: Vec<Code> = found.iter().map(|d| d.code).collect();
    assert_eq!(codes, [Code::MissingField], "{}", render(&found));
    assert_eq!(found[0].file, "prompts/support/intent.yaml");
}

#[test]
fn free_text_prompt_cannot_be_scored() {
    let d = only(
        &SUITE.replace("support.intent", "support.reply"),
        Code::EvalPromptNotClassifier,
        1,
        12,
    );
    assert!(
        d.message
            .contains("declares neither output labels nor an output schema"),
        "{d}"
    );
    assert_eq!(
        d.notes,
        ["the prompt is defined in prompts/support/reply.yaml"]
    );
}

#[test]
fn expected_must_be_a_declared_label() {
    let d = only(
        &SUITE.replace("expected: technical", "expected: tecnical"),
        Code::UnknownExpectedLabel,
        8,
        15,
    );
    assert_eq!(d.message, "`tecnical` is not a label of `support.intent`");
    assert_eq!(d.help.as_deref(), Some("did you mean `technical`?"));
    assert_eq!(d.notes, ["its labels are: billing, technical, other"]);

    let d = only(
        &SUITE.replace("expected: billing", "expected: BILLING"),
        Code::UnknownExpectedLabel,
        6,
        15,
    );
    assert_eq!(
        d.help.as_deref(),
        Some("labels are case-sensitive: write `billing`")
    );
}

#[test]
fn input_is_required_for_a_prompt_without_variables() {
    let d = only(
        &SUITE.replace(
            "  - input: The app crashes on start.\n",
            "  - name: no input\n",
        ),
        Code::EvalMissingInput,
        7,
        5,
    );
    assert_eq!(d.message, "case 2 has no `input`");
}

#[test]
fn variables_given_to_a_prompt_without_variables() {
    let d = only(
        &SUITE.replace(
            "    expected: technical\n",
            "    vars: { message: hi }\n    expected: technical\n",
        ),
        Code::EvalVariables,
        8,
        13,
    );
    assert_eq!(d.message, "`support.intent` has no variable `message`");
    assert_eq!(
        d.help.as_deref(),
        Some("the prompt takes no variables: put the text in `input` instead")
    );
}

const ROUTER_SUITE: &str = "\
prompt_id: support.router
cases:
  - vars:
      message: Please let me talk to a person.
      attempts: 3
      tags: [vip, angry]
    expected: human
";

#[test]
fn variables_are_typed_by_the_prompt_contract() {
    let validated = validated(ROUTER_SUITE);
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    assert_eq!(
        validated.suites[0].cases[0].vars,
        [
            (
                "message".to_owned(),
                Value::String("Please let me talk to a person.".into())
            ),
            ("attempts".to_owned(), Value::Integer(3)),
            (
                "tags".to_owned(),
                Value::List(vec!["vip".into(), "angry".into()])
            ),
        ]
    );

    let d = only(
        &ROUTER_SUITE.replace("attempts: 3", "attempts: three"),
        Code::EvalVariables,
        5,
        17,
    );
    assert_eq!(
        d.message,
        "`attempts` of `support.router` must be an integer, found a string"
    );
    assert_eq!(
        d.notes,
        ["`attempts` is declared as `integer` in prompts/support/router.yaml"]
    );
}

#[test]
fn undeclared_and_missing_variables() {
    let d = only(
        &ROUTER_SUITE.replace("tags: [vip, angry]", "tgas: [vip, angry]"),
        Code::EvalVariables,
        6,
        7,
    );
    assert_eq!(d.message, "`support.router` has no variable `tgas`");
    assert_eq!(d.help.as_deref(), Some("did you mean `tags`?"));

    let d = only(
        &ROUTER_SUITE.replace("      attempts: 3\n", ""),
        Code::EvalVariables,
        3,
        5,
    );
    assert_eq!(
        d.message,
        "case 1 does not set the required variable `attempts` of `support.router`"
    );
}

#[test]
fn suite_schema_problems_use_the_shared_codes() {
    let d = only(
        &SUITE.replace("prompt_id: support.intent\n", ""),
        Code::MissingField,
        1,
        1,
    );
    assert_eq!(d.message, "missing required field `prompt_id`");

    let d = only(
        &SUITE.replace("    expected: technical", "    expcted: technical"),
        Code::UnknownField,
        8,
        5,
    );
    assert_eq!(d.help.as_deref(), Some("did you mean `expected`?"));

    let d = only(
        "prompt_id: support.intent\ncases: []\n",
        Code::EmptyValue,
        2,
        8,
    );
    assert_eq!(d.message, "`cases` must not be empty");

    let found = validated("").diagnostics;
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].code, Code::EmptyFile);
    assert_eq!(found[0].message, "eval suite is empty");
    assert_eq!(
        found[0].help.as_deref(),
        Some("add `prompt_id:` and `cases:`, or delete the file")
    );
}

#[test]
fn every_problem_of_a_suite_is_reported_at_once() {
    let broken = SUITE
        .replace("expected: billing", "expected: refunds")
        .replace("expected: technical", "expected: tech");
    let found = validated(&broken).diagnostics;
    let lines: Vec<usize> = found.iter().map(|d| d.location.pos.line).collect();
    assert_eq!(lines, [6, 8], "{}", render(&found));
}

#[test]
fn structured_cases_expect_field_values_checked_against_the_schema() {
    let validated = validated(TRIAGE_SUITE);
    assert!(validated.is_ok(), "{}", render(&validated.diagnostics));
    let cases = &validated.suites[0].cases;
    assert_eq!(
        cases[0].expected,
        Expected::Fields(vec![
            ("intent".into(), serde_json::json!("billing")),
            ("order_id".into(), serde_json::json!("A-1")),
            ("score".into(), serde_json::json!(0.5)),
        ])
    );
    assert_eq!(
        cases[1].expected,
        Expected::Fields(vec![("order_id".into(), serde_json::Value::Null)])
    );
    assert_eq!(
        cases[0].expected.to_string(),
        r#"{"intent":"billing","order_id":"A-1","score":0.5}"#
    );
    // A `number` field's value is a float however it is written; an integer's stays whole.
    let rewritten = self::validated(&TRIAGE_SUITE.replace("score: 0.5", "score: 2, urgency: 3"));
    let Expected::Fields(fields) = &rewritten.suites[0].cases[0].expected else {
        panic!("fields expected");
    };
    assert!(fields
        .iter()
        .any(|(name, value)| name == "score" && value.is_f64()));
    assert!(fields
        .iter()
        .any(|(name, value)| name == "urgency" && value.is_i64()));
}

#[test]
fn a_field_or_value_the_schema_lacks_is_an_error_at_its_line() {
    let unknown = only(
        &TRIAGE_SUITE.replace("{ order_id: null }", "{ ordre_id: null }"),
        Code::UnknownExpectedField,
        7,
        15,
    );
    assert_eq!(
        unknown.message,
        "the output schema of `support.triage` has no field `ordre_id`"
    );
    assert_eq!(unknown.help.as_deref(), Some("did you mean `order_id`?"));

    let value = only(
        &TRIAGE_SUITE.replace("intent: billing", "intent: biling"),
        Code::UnknownExpectedField,
        5,
        23,
    );
    assert_eq!(
        value.message,
        "`intent` \"biling\" is not one of [billing, technical, other]"
    );
    assert_eq!(value.help.as_deref(), Some("did you mean `billing`?"));
    assert_eq!(
        value.notes,
        ["`intent` is declared in prompts/support/triage.yaml"]
    );

    let range = only(
        &TRIAGE_SUITE.replace("{ order_id: null }", "{ urgency: 9 }"),
        Code::UnknownExpectedField,
        7,
        24,
    );
    assert_eq!(range.message, "`urgency` 9 is outside 1..=5");
    let null = only(
        &TRIAGE_SUITE.replace("{ order_id: null }", "{ intent: null }"),
        Code::UnknownExpectedField,
        7,
        23,
    );
    assert_eq!(null.message, "`intent` must be a string, not null");
}

#[test]
fn labels_and_field_values_are_not_interchangeable() {
    let label_for_fields = only(
        &TRIAGE_SUITE.replace("expect: { order_id: null }", "expected: billing"),
        Code::UnknownExpectedField,
        7,
        5,
    );
    assert!(
        label_for_fields
            .message
            .contains("answers with an output schema: case 2 gives field values under `expect`"),
        "{label_for_fields}"
    );
    assert_eq!(
        label_for_fields.help.as_deref(),
        Some("write `expect: { field: value }` with fields of: intent, urgency, score, order_id")
    );
    let fields_for_label = only(
        &SUITE.replace("expected: technical", "expect: { intent: technical }"),
        Code::UnknownExpectedLabel,
        8,
        13,
    );
    assert!(
        fields_for_label.message.contains("is a classifier"),
        "{fields_for_label}"
    );
    let both = only(
        &TRIAGE_SUITE.replace(
            "expect: { order_id: null }",
            "expect: { order_id: null }\n    expected: billing",
        ),
        Code::UnknownExpectedField,
        7,
        5,
    );
    assert_eq!(both.message, "case 2 sets both `expected` and `expect`");
    let missing = only(
        &TRIAGE_SUITE.replace("    expect: { order_id: null }\n", ""),
        Code::MissingField,
        6,
        5,
    );
    assert_eq!(missing.message, "case 2 has no `expect` values");
    let empty = only(
        &TRIAGE_SUITE.replace("{ order_id: null }", "{}"),
        Code::EmptyValue,
        7,
        13,
    );
    assert_eq!(empty.message, "the `expect` of case 2 is empty");
}

#[test]
fn field_baselines_name_fields_of_the_schema() {
    let tree = |triage: String| Tree {
        display_prefix: "prompts/".into(),
        files: vec![SourceFile::new("support/triage.yaml", triage)],
        ..Tree::default()
    };
    let found = validate(&tree(TRIAGE.replace(
        "baseline_accuracy.intent: 0.9",
        "baseline_accuracy.intnet: 0.9",
    )))
    .diagnostics;
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(found[0].code, Code::MetricOutOfRange);
    assert_eq!(
        found[0].message,
        "`baseline_accuracy.intnet` names no field of the output schema"
    );
    assert_eq!(
        found[0].help.as_deref(),
        Some("did you mean `baseline_accuracy.intent`?")
    );
    let found = validate(&tree(TRIAGE.replace(
        "baseline_accuracy.intent: 0.9",
        "baseline_accuracy.intent: 90",
    )))
    .diagnostics;
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(
        found[0].message,
        "`baseline_accuracy.intent` must be between 0 and 1, found 90"
    );
    let classifier = CLASSIFIER.replace(
        "baseline_accuracy: 0.9",
        "baseline_accuracy: 0.9\n  baseline_accuracy.billing: 0.9",
    );
    let found = validate(&Tree {
        display_prefix: "prompts/".into(),
        files: vec![SourceFile::new("support/intent.yaml", classifier)],
        ..Tree::default()
    })
    .diagnostics;
    assert_eq!(found.len(), 1, "{}", render(&found));
    assert_eq!(
        found[0].help.as_deref(),
        Some("per-field baselines need `output.schema`; a classifier has only `baseline_accuracy`")
    );
}
