//! A reply prompt with every kind of variable (a sensitive one, defaults, a list) and a system
//! prompt, as `promptops-build` generates it.

use std::sync::LazyLock;

use promptops_runtime::{
    Inference, Prompt, PromptDef, PromptSpec, TemplateVars, Value, VarDef, VarType, VarVisitor,
    Version,
};

use super::intent_classifier::SONNET;

/// The definition, as the generated crate embeds it.
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
        stop_sequences: vec!["\n\nCustomer:".into()],
    };
    def.content_hash = "9b2e0000000000000000000000000000000000000000000000000000000000bb".into();
    def.source_path = Some("customer_support/reply.yaml".into());
    def.refresh_contract_hash();
    def
});

/// The variables, in the shape promptops-build generates: plain fields and a visit per field.
pub struct Vars<'a> {
    /// `customer_name`.
    pub customer_name: &'a str,
    /// `account_number` (sensitive: never logged).
    pub account_number: &'a str,
    /// `message`.
    pub message: &'a str,
    /// `tone`, `friendly` when left out.
    pub tone: Option<&'a str>,
    /// `items`.
    pub items: Option<&'a [&'a str]>,
    /// `max_words`, 120 when left out.
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

/// The spec: the variables above, free text as output.
pub struct Spec;

impl PromptSpec for Spec {
    type Vars<'a> = Vars<'a>;
    type Output = String;
}

/// The handle, as a generated handle function returns it.
pub fn handle() -> Prompt<Spec> {
    Prompt::__new(&DEF)
}
