//! Prompt specs written the way `promptops-build` generates them, for the runtime's tests.
#![allow(dead_code)]

use std::sync::LazyLock;

use promptops_runtime::{
    Inference, Label, Metrics, NoVars, Prompt, PromptDef, PromptSpec, TemplateVars, Value, VarDef,
    VarType, VarVisitor, Version,
};

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|item| (*item).to_owned()).collect()
}

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
        def.tags = strings(&["classification", "customer-support"]);
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
        def.labels = strings(Intent::LABELS);
        def.created = Some("2026-04-15".into());
        def.updated = Some("2026-05-01".into());
        def.content_hash =
            "4f1c0000000000000000000000000000000000000000000000000000000000aa".into();
        def.source_path = Some("customer_support/intent_classifier.yaml".into());
        def.refresh_contract_hash();
        def
    });

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

    pub static DEF: LazyLock<PromptDef> = LazyLock::new(|| {
        let mut def = PromptDef::new(
            "customer-support.reply",
            Version::new(3),
            "support-team",
            "claude-3-5-sonnet",
            "Customer {{ customer_name }} (account {{ account_number }}) wrote:\n{{ message }}\n{% if items %}Items: {{ items | join(', ') }}\n{% endif %}Answer in at most {{ max_words }} words.\n",
        );
        def.model_id = SONNET.to_owned();
        def.description = Some("Drafts a reply to a customer.".into());
        def.variables = vec![
            VarDef::required("customer_name", VarType::String),
            VarDef {
                description: Some("never logged".into()),
                sensitive: true,
                ..VarDef::required("account_number", VarType::String)
            },
            VarDef::required("message", VarType::String),
            VarDef {
                default: Some(Value::String("friendly".into())),
                ..VarDef::optional("tone", VarType::String)
            },
            VarDef::optional("items", VarType::List),
            VarDef {
                default: Some(Value::Integer(120)),
                ..VarDef::optional("max_words", VarType::Integer)
            },
        ];
        def.system = Some("You write {{ tone }} replies for ACME support.".into());
        def.inference = Inference {
            max_tokens: Some(300),
            temperature: Some(0.2),
            top_p: Some(0.9),
            stop_sequences: strings(&["\n\nCustomer:"]),
        };
        def.content_hash =
            "9b2e0000000000000000000000000000000000000000000000000000000000bb".into();
        def.source_path = Some("customer_support/reply.yaml".into());
        def.refresh_contract_hash();
        def
    });

    // The shape promptops-build generates: plain fields and a visit per field.
    pub struct Vars<'a> {
        pub customer_name: &'a str,
        pub account_number: &'a str,
        pub message: &'a str,
        pub tone: Option<&'a str>,
        pub items: Option<&'a [&'a str]>,
        pub max_words: Option<i64>,
    }

    impl TemplateVars for Vars<'_> {
        fn visit(&self, visitor: &mut dyn VarVisitor) {
            visitor.string("customer_name", self.customer_name);
            visitor.string("account_number", self.account_number);
            visitor.string("message", self.message);
            visitor.optional_string("tone", self.tone);
            visitor.optional_list("items", self.items);
            visitor.optional_integer("max_words", self.max_words);
        }
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
