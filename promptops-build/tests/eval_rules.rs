//! Eval suite rules (P04xx) over in-memory trees: a suite is checked against the prompt it
//! names, with every problem located in the suite file.

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
    assert_eq!(suite.cases[1].expected, "technical");
    assert_eq!(
        suite.cases[0].input.as_deref(),
        Some("I want my money back for the double charge.")
    );
    // A suite is not a prompt: it neither needs an id matching its path nor shows up as one.
    assert_eq!(validated.prompts.len(), 3);
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
    assert!(d.message.contains("declares no output labels"), "{d}");
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
        &SUITE.replace("    expected: technical", "    expect: technical"),
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
