//! The gate over the shipped prompt tree and its compiled-in prompts, with the offline model
//! and with scripted models that make it pass, regress or error.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use promptops_build::eval::Expected;
use promptops_build::Validated;
use promptops_eval::{plan, run, Answer, EvalError, Options, Report, Verdict};
use promptops_runtime::{
    Model, ModelError, ModelErrorKind, ModelFuture, ModelRequest, ModelResponse, RetryPolicy,
    Runtime,
};

const CLASSIFIER: &str = "customer-support.intent-classifier";

fn shipped_tree() -> Validated {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../prompts");
    let validated = promptops_build::Config::new()
        .prompts_dir(dir)
        .cargo_directives(false)
        .validate()
        .expect("discover the shipped prompts");
    assert!(
        validated.is_ok(),
        "{}",
        promptops_build::render_report(&validated.diagnostics)
    );
    validated
}

#[tokio::test]
async fn shipped_suites_pass_with_the_offline_model() {
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, None).expect("plan");
    let classifier = plans
        .iter()
        .find(|plan| plan.def.id == CLASSIFIER)
        .expect("the intent classifier has a suite");
    assert!(
        classifier.cases.len() >= 40,
        "{} cases",
        classifier.cases.len()
    );

    let report = run(&plans, &Runtime::local(), &Options::default()).await;
    let table = report.table();
    println!("{table}");
    assert!(report.passed(), "{table}");
    let prompt = &report.prompts[0];
    assert_eq!(prompt.prompt_id, CLASSIFIER);
    assert_eq!(prompt.version, promptops_runtime::Version::new(3));
    assert_eq!(prompt.baseline, Some(0.94));
    assert!(prompt.accuracy() >= 0.94, "{table}");
    assert!(table.contains("eval passed: "), "{table}");
}

/// A model that answers with `answer(user_turn, call_number)`.
struct Scripted {
    answer: fn(&str, usize) -> Result<String, ModelError>,
    calls: AtomicUsize,
}

impl std::fmt::Debug for Scripted {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Scripted")
    }
}

impl Model for Scripted {
    fn backend(&self) -> &'static str {
        "scripted"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        let call = self.calls.fetch_add(1, Ordering::SeqCst);
        let result = (self.answer)(request.user, call).map(|text| ModelResponse {
            text,
            ..ModelResponse::default()
        });
        Box::pin(async move { result })
    }
}

fn scripted(answer: fn(&str, usize) -> Result<String, ModelError>) -> Runtime {
    Runtime::new(Arc::new(Scripted {
        answer,
        calls: AtomicUsize::new(0),
    }))
    .with_retry(RetryPolicy::no_retries())
}

/// The expected label of every shipped case, by input.
fn expected_by_input(validated: &Validated) -> HashMap<String, String> {
    validated
        .suites
        .iter()
        .flat_map(|suite| &suite.cases)
        .filter_map(|case| match &case.expected {
            Expected::Label(label) => Some((case.input.clone()?, label.clone())),
            Expected::Fields(_) => None,
        })
        .collect()
}

/// The shipped classifier's suite run against a model that answers `other` to everything.
async fn classifier_scored_by_a_model_answering_other() -> Report {
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(CLASSIFIER)).expect("plan");
    run(
        &plans,
        &scripted(|_, _| Ok("other".into())),
        &Options::default(),
    )
    .await
}

#[tokio::test]
async fn a_model_that_answers_other_to_everything_is_a_regression() {
    // "other" is right for the suite's `other` cases only, far below the 94% baseline.
    let report = classifier_scored_by_a_model_answering_other().await;
    assert!(!report.passed());
    let prompt = &report.prompts[0];
    assert_eq!(prompt.verdict(), Verdict::Regression);
    let others = prompt
        .cases
        .iter()
        .filter(|c| c.expected == Expected::Label("other".into()))
        .count();
    assert_eq!(prompt.accuracy(), others as f64 / prompt.cases.len() as f64);
    let message = prompt.failure_message().expect("a failure message");
    assert_eq!(
        message,
        format!(
            "customer-support.intent-classifier v3 scored {:.1}% ({others}/{}), below its baseline_accuracy of 94.0%",
            prompt.accuracy() * 100.0,
            prompt.cases.len()
        )
    );
    let table = report.table();
    assert!(table.contains(&format!("error: {message}\n")), "{table}");
    assert!(
        table
            .contains("intent_classifier.eval.yaml:8 double charge: expected billing, got other\n"),
        "{table}"
    );
    assert!(table.contains("eval FAILED: "), "{table}");
}

#[tokio::test]
async fn model_failures_make_the_verdict_an_error_not_a_score() {
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(CLASSIFIER)).expect("plan");
    let runtime = scripted(|_, call| {
        if call == 0 {
            Err(ModelError::new(ModelErrorKind::Throttled, "slow down"))
        } else {
            Ok("other".into())
        }
    });
    let options = Options {
        repeat: 1,
        concurrency: 1,
    };
    let report = run(&plans, &runtime, &options).await;
    let prompt = &report.prompts[0];
    assert_eq!(prompt.verdict(), Verdict::Error);
    assert_eq!(prompt.errors(), 1);
    assert!(matches!(&prompt.cases[0].answers[0], Answer::Failed(e) if e.contains("slow down")));
    assert!(!report.passed());
    let json = report.json();
    assert_eq!(json["prompts"][0]["verdict"], "error");
    assert_eq!(json["prompts"][0]["errors"], 1);
}

#[tokio::test]
async fn repeat_reports_pass_all_for_a_flaky_model() {
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(CLASSIFIER)).expect("plan");
    // Right on two calls out of three (by call order), wrong on the third.
    let runtime = scripted(|user, call| {
        let expected = EXPECTED.get().and_then(|map| map.get(user).cloned());
        Ok(match (call % 3, expected) {
            (2, _) => "definitely not a label".into(),
            (_, Some(label)) => label,
            (_, None) => "other".into(),
        })
    });
    EXPECTED.get_or_init(|| expected_by_input(&validated));
    let options = Options {
        repeat: 3,
        concurrency: 1,
    };
    let report = run(&plans, &runtime, &options).await;
    let prompt = &report.prompts[0];
    assert_eq!(prompt.attempts(), prompt.cases.len() * 3);
    assert!(
        (prompt.accuracy() - 2.0 / 3.0).abs() < 1e-9,
        "{}",
        prompt.accuracy()
    );
    // Calls run one at a time in case order, so every case sees exactly one bad call.
    assert_eq!(prompt.pass_all(), 0.0);
    let table = report.table();
    assert!(table.contains("PASS^3"), "{table}");
    assert!(
        table.contains("got \"definitely not a label\" (not a label) [2/3 right]"),
        "{table}"
    );
}

static EXPECTED: std::sync::OnceLock<HashMap<String, String>> = std::sync::OnceLock::new();

#[test]
fn plan_refuses_unknown_prompts_prompts_without_suites_and_stale_files() {
    let validated = shipped_tree();
    assert_eq!(
        plan(
            &validated,
            &prompts::ALL,
            Some("customer-support.intent-clasifier")
        )
        .unwrap_err(),
        EvalError::UnknownPrompt {
            id: "customer-support.intent-clasifier".into(),
            suggestion: Some(CLASSIFIER.into()),
        }
    );
    assert_eq!(
        plan(
            &validated,
            &prompts::ALL,
            Some("customer-support.reply-drafter")
        )
        .unwrap_err(),
        EvalError::NoSuites(Some("customer-support.reply-drafter".into()))
    );

    let mut edited = validated.clone();
    for prompt in &mut edited.prompts {
        if prompt.def.id == CLASSIFIER {
            prompt.def.content_hash = "0".repeat(64);
        }
    }
    let err = plan(&edited, &prompts::ALL, None).unwrap_err();
    assert_eq!(
        err,
        EvalError::Stale {
            path: "prompts/customer_support/intent_classifier.yaml".into()
        }
    );
    assert!(err
        .to_string()
        .contains("changed since this binary was built"));

    let without_classifier: Vec<_> = prompts::ALL
        .iter()
        .copied()
        .filter(|def| def.id != CLASSIFIER)
        .collect();
    assert!(matches!(
        plan(&validated, &without_classifier, None),
        Err(EvalError::NotCompiled { prompt_id, .. }) if prompt_id == CLASSIFIER
    ));
}

#[tokio::test]
async fn junit_report_has_a_testcase_per_case_and_one_for_the_gate() {
    let report = classifier_scored_by_a_model_answering_other().await;
    let xml = report.junit();
    let cases = report.prompts[0].cases.len();
    let wrong = report.prompts[0].failing_cases().count();
    assert!(xml.starts_with(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"promptops eval\""
    ));
    assert_eq!(xml.matches("<testcase ").count(), cases + 1);
    assert_eq!(xml.matches("<failure ").count(), wrong + 1);
    assert!(xml.contains(&format!(
        "<testsuites name=\"promptops eval\" tests=\"{}\" failures=\"{}\" errors=\"0\"",
        cases + 1,
        wrong + 1
    )));
    assert!(xml.contains(
        "<testcase classname=\"customer-support.intent-classifier\" name=\"double charge\" file=\"prompts/customer_support/intent_classifier.eval.yaml\" line=\"8\">\n      <failure message=\"expected billing, got other\">0/1 attempts right</failure>"
    ), "{xml}");
    assert!(xml.contains("name=\"accuracy &gt;= baseline 94.0%\">\n      <failure message=\"customer-support.intent-classifier v3 scored"), "{xml}");
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

const TRIAGE: &str = "customer-support.ticket-triage";

/// The shipped ticket-triage suite (a prompt with an output schema) scored by `model`.
async fn triage_scored_by(answer: fn(&str, usize) -> Result<String, ModelError>) -> Report {
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(TRIAGE)).expect("plan");
    assert!(plans[0].cases.len() >= 40, "{} cases", plans[0].cases.len());
    run(&plans, &scripted(answer), &Options::default()).await
}

#[tokio::test]
async fn structured_prompts_are_scored_field_by_field_and_as_records() {
    // The offline model: every field over its baseline, the record too.
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(TRIAGE)).expect("plan");
    let report = run(&plans, &Runtime::local(), &Options::default()).await;
    let prompt = &report.prompts[0];
    assert_eq!(prompt.verdict(), Verdict::Pass, "{}", report.table());
    let names: Vec<String> = prompt.fields().iter().map(|f| f.name.clone()).collect();
    assert_eq!(names, ["intent", "order_id", "urgency"]);
    assert_eq!(prompt.field_baselines.get("intent"), Some(&0.95));

    // A model that calls everything billing, in a valid record: the intent field and the
    // record regress; `order_id: null` is right wherever the case expects null.
    let report = triage_scored_by(|_, _| {
        Ok(r#"{"intent": "billing", "urgency": 1, "order_id": null, "summary": "A ticket.", "products": []}"#.into())
    })
    .await;
    let prompt = &report.prompts[0];
    assert_eq!(prompt.verdict(), Verdict::Regression);
    let fields = prompt.fields();
    let intent = &fields[0];
    let billing_cases = prompt
        .cases
        .iter()
        .filter(|case| matches!(&case.expected, Expected::Fields(f) if f.iter().any(|(n, v)| n == "intent" && v == "billing")))
        .count();
    assert_eq!(
        (intent.correct, intent.attempts),
        (billing_cases, prompt.cases.len())
    );
    assert!(!intent.meets_baseline());
    let message = prompt.failure_message().expect("a failure message");
    assert!(
        message.starts_with("customer-support.ticket-triage v1 scored "),
        "{message}"
    );
    assert!(message.contains("; field `intent` scored "), "{message}");
    assert!(
        message.contains("below its baseline_accuracy.intent of 95.0%"),
        "{message}"
    );
    let json = report.json();
    assert_eq!(json["prompts"][0]["fields"][0]["name"], "intent");
    assert_eq!(json["prompts"][0]["fields"][0]["baseline_accuracy"], 0.95);
    assert!(json["prompts"][0]["failing_cases"][0]["expected"].is_object());
    assert!(report
        .table()
        .contains("customer-support.ticket-triage fields: intent "));

    // A field baseline that no case expects fails the gate, whatever the answers.
    let validated = shipped_tree();
    let plans = plan(&validated, &prompts::ALL, Some(TRIAGE)).expect("plan");
    let mut report = run(&plans, &Runtime::local(), &Options::default()).await;
    report.prompts[0]
        .field_baselines
        .insert("summary".into(), 0.5);
    let prompt = &report.prompts[0];
    assert_eq!(prompt.verdict(), Verdict::Regression);
    let message = prompt.failure_message().expect("a failure message");
    assert!(
        message.contains("field `summary` has a baseline_accuracy.summary but no case expects it"),
        "{message}"
    );

    // Answers that never fill the schema are wrong answers, not failed calls.
    let report = triage_scored_by(|_, _| Ok("I'd rather not say.".into())).await;
    let prompt = &report.prompts[0];
    assert_eq!(prompt.errors(), 0);
    assert_eq!(prompt.accuracy(), 0.0);
    assert_eq!(prompt.verdict(), Verdict::Regression);
    assert!(
        matches!(&prompt.cases[0].answers[0], Answer::Invalid(raw) if raw == "I'd rather not say.")
    );
    assert!(report.table().contains("(does not fill the output schema)"));
}

#[test]
fn numbers_match_within_the_tolerance_and_everything_else_exactly() {
    use promptops_eval::{field_matches, NUMBER_TOLERANCE};
    use serde_json::json;
    assert_eq!(NUMBER_TOLERANCE, 0.01);
    assert!(field_matches(&json!(0.5), Some(&json!(0.509))));
    assert!(!field_matches(&json!(0.5), Some(&json!(0.52))));
    assert!(field_matches(&json!(200.0), Some(&json!(201.9))));
    assert!(!field_matches(&json!(200.0), Some(&json!(203))));
    assert!(field_matches(&json!(4), Some(&json!(4))));
    assert!(
        !field_matches(&json!(4), Some(&json!(5))),
        "integers are exact"
    );
    assert!(
        field_matches(&json!(200.0), Some(&json!(201))),
        "an integer answer to a number field"
    );
    assert!(!field_matches(&json!(u64::MAX), Some(&json!(u64::MAX - 1))));
    assert!(field_matches(&json!(null), Some(&json!(null))));
    assert!(!field_matches(&json!("A-1"), Some(&json!("a-1"))));
    assert!(!field_matches(&json!(["x"]), Some(&json!(["x", "y"]))));
    assert!(
        !field_matches(&json!("x"), None),
        "a missing field is wrong"
    );
}
