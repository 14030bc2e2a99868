//! The generated crate for the shipped prompts: a snapshot of the generated source, and the
//! typed API it gives callers.

use promptops_build::Environment;
use promptops_runtime::{Answer, Label as _, PromptOutput, TemplateVars, Value, VarValue, Version};
use promptops_tests::{check_snapshot, workspace_root};

/// Generates code for the shipped tree into `target/<dir>` and returns it. The environment is
/// explicit so a `PROMPTOPS_ENV` in the caller's shell cannot change the output.
fn generate_shipped(dir: &str, environment: Environment) -> String {
    let out = workspace_root().join("target").join(dir);
    std::fs::create_dir_all(&out).expect("out dir");
    promptops_build::Config::new()
        .prompts_dir(workspace_root().join("prompts"))
        .out_dir(&out)
        .environment(environment)
        .cargo_directives(false)
        .compile()
        .expect("shipped prompts are valid");
    std::fs::read_to_string(out.join("prompts.rs")).expect("generated file")
}

#[test]
fn generated_code_for_shipped_prompts_matches_snapshot() {
    let generated = generate_shipped("generated-snapshot", Environment::Development);
    assert!(generated.starts_with("// @generated"));
    assert!(!generated.contains("unsafe"), "generated code is safe Rust");
    let snapshot = workspace_root().join("tests/snapshots/prompts.rs.snap");
    check_snapshot(&snapshot, &generated).unwrap_or_else(|diff| panic!("{diff}"));
}

#[test]
fn generation_is_deterministic() {
    assert_eq!(
        generate_shipped("generated-twice/0", Environment::Development),
        generate_shipped("generated-twice/1", Environment::Development)
    );
}

#[test]
fn production_builds_leave_drafts_out() {
    let production = generate_shipped("generated-production", Environment::Production);
    assert!(production.contains("pub const ENVIRONMENT: &str = \"production\";"));
    assert!(!production.contains("pub fn escalation_summary()"));
    assert!(!production.contains("customer-support.escalation-summary,"));
    assert!(production.contains("\"customer-support.escalation-summary\" \"draft\","));
    assert!(production.contains("pub fn reply_drafter()"));
}

/// The seed's intent classifier (v2, kept verbatim in `tests/fixtures/seed/`) evolved into v3 by
/// declaring its labels, so eval suites can check `expected` against them. Only the lineage lines
/// and `output` may differ: the template the model sees is the seed's, byte for byte.
#[test]
fn seed_prompt_is_compiled_in_as_its_v3_successor() {
    let classifier = prompts::customer_support::intent_classifier();
    let def = classifier.def();
    assert_eq!(def.id, "customer-support.intent-classifier");
    assert_eq!(def.version, Version::new(3));
    assert_eq!(def.parent, Some(Version::new(2)));
    assert_eq!(def.owner, "data-platform-team");
    assert_eq!(def.model, "claude-3-5-sonnet");
    assert_eq!(def.model_id, "anthropic.claude-3-5-sonnet-20240620-v1:0");
    assert_eq!(def.tags, ["classification", "customer-support"]);
    assert_eq!(def.metrics.baseline_accuracy, Some(0.94));
    assert_eq!(def.metrics.get("cost_per_call_usd"), Some(0.003));
    assert_eq!(def.created.as_deref(), Some("2026-04-15"));
    assert_eq!(def.updated.as_deref(), Some("2026-11-23"));
    assert!(def.variables.is_empty());
    assert_eq!(
        def.labels,
        ["billing", "technical", "sales", "retention", "other"]
    );
    assert_eq!(
        def.source_path.as_deref(),
        Some("customer_support/intent_classifier.yaml")
    );

    let seed = std::fs::read_to_string(
        workspace_root().join("tests/fixtures/seed/intent_classifier.v2.yaml"),
    )
    .expect("read seed");
    let seed_template = seed
        .split_once("template: |\n")
        .map(|(_, body)| body.split_once("\ncreated:").map_or(body, |(t, _)| t))
        .expect("seed has a block template");
    let dedented: String = seed_template
        .lines()
        .map(|line| format!("{}\n", line.strip_prefix("  ").unwrap_or(line)))
        .collect();
    assert_eq!(def.template, dedented);

    // Apart from lineage and labels, the file is the seed's line for line.
    let bytes =
        std::fs::read(workspace_root().join("prompts/customer_support/intent_classifier.yaml"))
            .expect("read");
    let current = String::from_utf8(bytes.clone()).expect("utf-8");
    let kept = |line: &&str| {
        !(line.starts_with("version:")
            || line.starts_with("parent:")
            || line.starts_with("updated:")
            || line.starts_with("output:")
            || line.starts_with("  labels:"))
    };
    assert_eq!(
        current.lines().filter(kept).collect::<Vec<_>>(),
        seed.lines().filter(kept).collect::<Vec<_>>()
    );

    // The hash is of the file as checked in.
    assert_eq!(
        classifier.content_hash(),
        promptops_core::hash::content_hash(&bytes)
    );
}

#[test]
fn lookup_by_id_and_sorted_table() {
    let ids: Vec<&str> = prompts::ALL.iter().map(|def| def.id.as_str()).collect();
    let mut sorted = ids.clone();
    sorted.sort_unstable();
    assert_eq!(ids, sorted);
    assert!(ids.len() >= 3);
    for id in ids {
        assert_eq!(prompts::get(id).map(|def| def.id.as_str()), Some(id));
    }
    assert!(prompts::get("customer-support.intent-clasifier").is_none());
    assert!(std::ptr::eq(
        prompts::get("customer-support.reply-drafter").expect("present"),
        prompts::customer_support::reply_drafter().def()
    ));
}

#[test]
fn typed_vars_visit_only_what_was_supplied() {
    let vars = prompts::customer_support::reply_drafter::Vars {
        customer_name: "Ada",
        message: "My invoice is wrong",
        tone: None,
        max_sentences: Some(3),
    };
    let def = prompts::customer_support::reply_drafter().def();
    let mut seen = Vec::new();
    vars.visit(&mut |name: &str, value: VarValue<'_>| {
        seen.push((name.to_owned(), format!("{value:?}")))
    });
    assert_eq!(
        seen,
        vec![
            (
                "customer_name".to_owned(),
                format!("{:?}", VarValue::String("Ada"))
            ),
            (
                "message".to_owned(),
                format!("{:?}", VarValue::String("My invoice is wrong"))
            ),
            (
                "max_sentences".to_owned(),
                format!("{:?}", VarValue::Integer(3))
            ),
        ]
    );
    assert!(def.variable("customer_name").expect("declared").sensitive);
    assert_eq!(
        def.variable("tone").and_then(|v| v.default.clone()),
        Some(Value::String("friendly".into()))
    );
    assert!(def.system.is_some());
}

#[test]
fn classifier_output_parses_into_the_generated_enum() {
    use prompts::customer_support::sentiment::Label;
    let sentiment = prompts::customer_support::sentiment();
    assert_eq!(sentiment.parse_output(" Negative.\n"), Ok(Label::Negative));
    assert_eq!(
        <Label as PromptOutput>::from_answer(Answer::Text("positive")),
        Ok(Label::Positive)
    );
    let err = sentiment.parse_output("furious").unwrap_err();
    assert_eq!(err.raw(), "furious");
    assert_eq!(Label::Neutral.as_str(), "neutral");
    // The standard derives: equality, `Debug`, `Hash`, and structural equality, so a `const`
    // of the enum is a `match` pattern.
    assert_ne!(Label::Positive, Label::Negative);
    assert_eq!(format!("{:?}", Label::Neutral), "Neutral");
    let set: std::collections::HashSet<Label> = [Label::Positive, Label::Positive].into();
    assert_eq!(set.len(), 1);
    const ALARMING: Label = Label::Negative;
    let escalate = |label: Label| match label {
        ALARMING => true,
        Label::Positive | Label::Neutral => false,
    };
    assert!(escalate(Label::Negative) && !escalate(Label::Neutral));
    assert_eq!(
        <Label as promptops_runtime::Label>::LABELS,
        sentiment.def().labels
    );
}

#[test]
fn generated_prompts_render_through_the_runtime() {
    use prompts::customer_support::{intent_classifier, reply_drafter};
    let rendered = reply_drafter()
        .render(&reply_drafter::Vars {
            customer_name: "Ada",
            message: "My invoice shows {{ twice }} the amount",
            tone: None,
            max_sentences: Some(3),
        })
        .expect("all required variables supplied");
    let system = rendered
        .system
        .as_deref()
        .expect("reply drafter has a system template");
    assert!(
        system.contains("Write in a friendly tone"),
        "YAML default applies: {system}"
    );
    assert!(system.contains("under 3 sentences"), "{system}");
    assert!(rendered.user.contains("Customer name: Ada"));
    assert!(
        rendered.user.contains("{{ twice }}"),
        "values are data, not template code"
    );
    assert!(
        !format!("{rendered:?}").contains("Ada"),
        "Debug hides the sensitive name"
    );

    // The seed classifier has no variables: its template is the instruction, the input the turn.
    let rendered = intent_classifier()
        .render_with_input(&promptops_runtime::NoVars, "I want a refund")
        .expect("renders");
    assert!(rendered
        .system
        .as_deref()
        .is_some_and(|s| s.starts_with("You are a customer support intent classifier.")));
    assert_eq!(rendered.user, "I want a refund");
}

#[test]
fn generated_classifier_invokes_the_local_model_into_its_label_enum() {
    use prompts::customer_support::sentiment;
    let runtime = promptops_runtime::Runtime::local();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let done = tokio
        .block_on(sentiment().invoke(
            &runtime,
            &sentiment::Vars {
                message: "I am furious, this is terrible",
            },
        ))
        .expect("local model answers");
    assert_eq!(
        done.output,
        sentiment::Label::Negative,
        "raw text: {}",
        done.text
    );
    assert_eq!(done.prompt.id, "customer-support.sentiment");
    assert_eq!(done.attempts, 1);
}

/// The issue's example, as a user writes it: a typed call returns the generated struct, whose
/// enum is matched, and which serializes back to the JSON the schema describes.
#[test]
fn a_structured_prompt_returns_its_generated_struct() {
    use prompts::customer_support::ticket_triage::{self, Intent, Output};
    let runtime = promptops_runtime::Runtime::local();
    let tokio = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio");
    let history = ["Hi, I have a question about my bill."];
    let done = tokio
        .block_on(prompts::customer_support::ticket_triage().invoke(
            &runtime,
            &ticket_triage::Vars {
                message: "I was charged twice for order #A-1234, please refund me.",
                history: Some(&history),
            },
        ))
        .expect("local model answers");
    let triage: Output = done.output;
    assert_eq!(triage.intent, Intent::Billing);
    assert_eq!(triage.order_id.as_deref(), Some("A-1234"));
    assert!((1..=5).contains(&triage.urgency));
    assert!(triage.summary.chars().count() <= 280);
    assert_eq!(done.repair_turns, 0);
    let routed = match triage.intent {
        Intent::Billing | Intent::Retention => "accounts",
        Intent::Technical => "engineering",
        Intent::Sales => "sales",
        Intent::Other => "general",
    };
    assert_eq!(routed, "accounts");

    // serde through the runtime's re-export: the JSON form is the schema's, and fills it.
    let json = serde_json::to_value(&triage).expect("serializes");
    assert_eq!(json["intent"], "billing");
    let schema = prompts::customer_support::ticket_triage()
        .def()
        .output_schema
        .as_ref()
        .expect("a schema");
    assert_eq!(schema.check(&json), []);
    assert_eq!(
        serde_json::from_value::<Output>(json).expect("round trip"),
        triage
    );
    let read = prompts::customer_support::ticket_triage()
        .parse_output(&format!(
            "Sure: {}",
            serde_json::to_string(&triage).unwrap()
        ))
        .expect("a stored completion reads back");
    assert_eq!(read, triage);
    let err = prompts::customer_support::ticket_triage()
        .parse_output(r#"{"intent": "refunds", "urgency": 0, "order_id": null, "summary": "", "products": []}"#)
        .unwrap_err();
    assert!(err.to_string().contains("2 violation(s)"), "{err}");
}

/// The definitions are embedded in `promptops_core::wire`'s JSON form (written by the build,
/// read by the runtime's `Registry`): every shipped prompt, decoded at run time, equals the
/// `PromptDef` the build read from the prompt file, field for field (one model on both sides).
#[test]
fn every_decoded_definition_equals_its_prompt_file() {
    let validated = promptops_build::Config::new()
        .prompts_dir(workspace_root().join("prompts"))
        .environment(Environment::Development)
        .validate()
        .expect("shipped prompts are valid");
    assert_eq!(validated.prompts.len(), prompts::ALL.len());
    for prompt in &validated.prompts {
        let def = prompts::get(&prompt.def.id).expect("compiled in");
        assert_eq!(def, &prompt.def);
        assert_eq!(def.contract_hash, promptops_core::contract_hash(def));
    }
}
