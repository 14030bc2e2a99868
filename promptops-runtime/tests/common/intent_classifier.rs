//! The seed's intent classifier as `promptops-build` generates it: its definition, its label
//! enum, its spec and its handle. A module of `common`, and included alone by the tests that
//! need only it.

use std::sync::LazyLock;

use promptops_runtime::{
    Inference, Label, Metrics, NoVars, Prompt, PromptDef, PromptSpec, Version,
};

/// The seed's intent classifier (seeds/002, section 1), verbatim.
pub const INTENT_TEMPLATE: &str = "You are a customer support intent classifier.
Given the user message and the previous conversation context,
classify the intent into exactly one of:
- billing      (questions about charges, invoices, refunds)
- technical    (product not working, errors, bugs)
- sales        (pricing, plans, upgrades, new accounts)
- retention    (cancellation, downgrade, dissatisfaction)
- other        (anything that doesn't fit above)
Respond with only the single category label, lowercase, no
punctuation or explanation.
";

/// The Bedrock model the classifier (and the reply) run on.
pub const SONNET: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";

/// The definition, as the generated crate embeds it.
pub static DEF: LazyLock<PromptDef> = LazyLock::new(|| {
    let mut def = PromptDef::new(
        "customer-support.intent-classifier",
        Version::new(2),
        "data-platform-team",
        "claude-3-5-sonnet",
        INTENT_TEMPLATE,
    );
    def.model_id = SONNET.to_owned();
    def.parent = Some(Version::new(1));
    def.tags = vec!["classification".into(), "customer-support".into()];
    def.metrics = Metrics {
        baseline_accuracy: Some(0.94),
        cost_per_call_usd: Some(0.003),
        ..Metrics::default()
    };
    def.inference = Inference {
        max_tokens: Some(5),
        temperature: Some(0.0),
        ..Inference::default()
    };
    def.labels = Intent::LABELS
        .iter()
        .map(|label| (*label).to_owned())
        .collect();
    def.created = Some("2026-04-15".into());
    def.updated = Some("2026-05-01".into());
    def.content_hash = "4f1c0000000000000000000000000000000000000000000000000000000000aa".into();
    def.source_path = Some("customer_support/intent_classifier.yaml".into());
    def.refresh_contract_hash();
    def
});

/// The label enum.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Intent {
    Billing,
    Technical,
    Sales,
    Retention,
    Other,
}

impl Label for Intent {
    const LABELS: &'static [&'static str] =
        &["billing", "technical", "sales", "retention", "other"];
    const VARIANTS: &'static [Self] = &[
        Intent::Billing,
        Intent::Technical,
        Intent::Sales,
        Intent::Retention,
        Intent::Other,
    ];
}

/// The spec: no variables, the label enum as output.
pub struct Spec;

impl PromptSpec for Spec {
    type Vars<'a> = NoVars;
    type Output = Intent;
}

/// The handle, as a generated handle function returns it.
pub fn handle() -> Prompt<Spec> {
    Prompt::__new(&DEF)
}
