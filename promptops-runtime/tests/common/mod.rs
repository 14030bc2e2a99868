//! Prompt specs written the way `promptops-build` generates them, for the runtime's tests.
#![allow(dead_code)]

use promptops_runtime::__private::{field, GeneratedVars};
use promptops_runtime::def::{PROMPT_DEF, VAR_DEF};
use promptops_runtime::{
    Inference, Label, Metrics, NoVars, Prompt, PromptDef, PromptSpec, VarDef, VarDefault, VarType,
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

pub const SONNET: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
pub const TITAN: &str = "amazon.titan-text-express-v1";

pub mod intent_classifier {
    use super::*;

    pub const DEF: PromptDef = PromptDef {
        id: "customer-support.intent-classifier",
        version: 2,
        owner: "data-platform-team",
        model: "claude-3-5-sonnet",
        model_id: SONNET,
        parent: Some(1),
        tags: &["classification", "customer-support"],
        metrics: Metrics {
            baseline_accuracy: Some(0.94),
            cost_per_call_usd: Some(0.003),
            other: &[],
        },
        template: INTENT_TEMPLATE,
        inference: Inference {
            max_tokens: Some(5),
            temperature: Some(0.0),
            top_p: None,
            stop_sequences: &[],
        },
        labels: &["billing", "technical", "sales", "retention", "other"],
        created: Some("2026-04-15"),
        updated: Some("2026-05-01"),
        content_hash: "4f1c0000000000000000000000000000000000000000000000000000000000aa",
        source_path: "customer_support/intent_classifier.yaml",
        ..PROMPT_DEF
    };

    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub enum Intent {
        Billing,
        Technical,
        Sales,
        Retention,
        Other,
    }

    impl Label for Intent {
        const LABELS: &'static [&'static str] = DEF.labels;
        const VARIANTS: &'static [Self] = &[
            Intent::Billing,
            Intent::Technical,
            Intent::Sales,
            Intent::Retention,
            Intent::Other,
        ];
    }

    pub struct Spec;

    impl PromptSpec for Spec {
        type Vars<'a> = NoVars;
        type Output = Intent;
    }

    /// The handle, as a generated handle function returns it.
    pub fn handle() -> Prompt<Spec> {
        Prompt::__new(&DEF)
    }
}

pub mod support_reply {
    use super::*;

    pub const DEF: PromptDef = PromptDef {
        id: "customer-support.reply",
        version: 3,
        owner: "support-team",
        model: "claude-3-5-sonnet",
        model_id: SONNET,
        description: Some("Drafts a reply to a customer."),
        variables: &[
            VarDef {
                name: "customer_name",
                required: true,
                ..VAR_DEF
            },
            VarDef {
                name: "account_number",
                description: Some("never logged"),
                required: true,
                sensitive: true,
                ..VAR_DEF
            },
            VarDef {
                name: "message",
                required: true,
                ..VAR_DEF
            },
            VarDef {
                name: "tone",
                default: Some(VarDefault::String("friendly")),
                ..VAR_DEF
            },
            VarDef {
                name: "items",
                ty: VarType::List,
                ..VAR_DEF
            },
            VarDef {
                name: "max_words",
                ty: VarType::Integer,
                default: Some(VarDefault::Integer(120)),
                ..VAR_DEF
            },
        ],
        template: "Customer {{ customer_name }} (account {{ account_number }}) wrote:\n{{ message }}\n{% if items %}Items: {{ items | join(', ') }}\n{% endif %}Answer in at most {{ max_words }} words.\n",
        system: Some("You write {{ tone }} replies for ACME support."),
        inference: Inference {
            max_tokens: Some(300),
            temperature: Some(0.2),
            top_p: Some(0.9),
            stop_sequences: &["\n\nCustomer:"],
        },
        content_hash: "9b2e0000000000000000000000000000000000000000000000000000000000bb",
        source_path: "customer_support/reply.yaml",
        ..PROMPT_DEF
    };

    // The shape promptops-build generates: `#[repr(C)]` and a field list.
    #[repr(C)]
    pub struct Vars<'a> {
        pub customer_name: &'a str,
        pub account_number: &'a str,
        pub message: &'a str,
        pub tone: Option<&'a str>,
        pub items: Option<&'a [&'a str]>,
        pub max_words: Option<i64>,
    }

    // SAFETY: `#[repr(C)]`, and `Fields` names every field's type, in declaration order.
    unsafe impl GeneratedVars for Vars<'_> {
        type Fields = (
            field::Str,
            (
                field::Str,
                (
                    field::Str,
                    (field::OptStr, (field::OptList, (field::OptInt, ()))),
                ),
            ),
        );
    }

    pub struct Spec;

    impl PromptSpec for Spec {
        type Vars<'a> = Vars<'a>;
        type Output = String;
    }

    /// The handle, as a generated handle function returns it.
    pub fn handle() -> Prompt<Spec> {
        Prompt::__new(&DEF)
    }
}
