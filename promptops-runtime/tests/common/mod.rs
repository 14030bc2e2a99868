//! Prompt specs written the way `promptops-build` generates them, for the runtime's tests.
#![allow(dead_code)]

use promptops_runtime::def::{PROMPT_DEF, VAR_DEF};
use promptops_runtime::{
    Inference, Label, Metrics, NoVars, PromptDef, PromptSpec, TemplateVars, VarDef, VarDefault,
    VarType, VarValue,
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
        const DEF: &'static PromptDef = &DEF;
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

    pub struct Vars<'a> {
        pub customer_name: &'a str,
        pub account_number: &'a str,
        pub message: &'a str,
        pub tone: Option<&'a str>,
        pub items: Option<&'a [&'a str]>,
        pub max_words: Option<i64>,
    }

    impl TemplateVars for Vars<'_> {
        fn visit(&self, visit: &mut dyn FnMut(&'static str, VarValue<'_>)) {
            visit("customer_name", VarValue::String(self.customer_name));
            visit("account_number", VarValue::String(self.account_number));
            visit("message", VarValue::String(self.message));
            if let Some(tone) = self.tone {
                visit("tone", VarValue::String(tone));
            }
            if let Some(items) = self.items {
                visit("items", VarValue::List(items));
            }
            if let Some(max_words) = self.max_words {
                visit("max_words", VarValue::Integer(max_words));
            }
        }
    }

    pub struct Spec;

    impl PromptSpec for Spec {
        type Vars<'a> = Vars<'a>;
        type Output = String;
        const DEF: &'static PromptDef = &DEF;
    }
}
