//! Rendering: strict undefined, defaults, values as data, input as the user turn.

mod common;

use common::intent_classifier::{self, INTENT_TEMPLATE};
use common::support_reply;
use promptops_runtime::render::render_def;
use promptops_runtime::{NoVars, Prompt, PromptDef, TemplateVars, VarValue, VarVisitor};

fn reply_vars<'a>(message: &'a str) -> support_reply::Vars<'a> {
    support_reply::Vars {
        customer_name: "Ada",
        account_number: "ACCT-7731-SECRET",
        message,
        tone: None,
        items: None,
        max_words: None,
    }
}

#[test]
fn classifier_template_is_the_system_part_and_input_the_user_turn() {
    let prompt: Prompt<intent_classifier::Spec> = intent_classifier::handle();
    let rendered = prompt
        .render_with_input(&NoVars, "I was charged twice")
        .unwrap();
    // minijinja drops the block scalar's single trailing newline, like Jinja2.
    assert_eq!(
        rendered.system.as_deref(),
        Some(INTENT_TEMPLATE.trim_end_matches('\n'))
    );
    assert_eq!(rendered.user, "I was charged twice");
    assert_eq!(rendered.prompt.id, "customer-support.intent-classifier");

    let plain = prompt.render(&NoVars).unwrap();
    assert_eq!(plain.system, None);
    assert_eq!(plain.user, INTENT_TEMPLATE.trim_end_matches('\n'));
}

#[test]
fn variables_defaults_and_system_template() {
    let prompt: Prompt<support_reply::Spec> = support_reply::handle();
    let rendered = prompt.render(&reply_vars("Where is my order?")).unwrap();
    assert_eq!(
        rendered.system.as_deref(),
        Some("You write friendly replies for ACME support.")
    );
    assert_eq!(
        rendered.user,
        "Customer Ada (account ACCT-7731-SECRET) wrote:\nWhere is my order?\nAnswer in at most 120 words."
    );

    let items: &[&str] = &["kettle", "toaster"];
    let vars = support_reply::Vars {
        tone: Some("formal"),
        items: Some(items),
        max_words: Some(40),
        ..reply_vars("Refund please")
    };
    let rendered = prompt.render(&vars).unwrap();
    assert_eq!(
        rendered.system.as_deref(),
        Some("You write formal replies for ACME support.")
    );
    assert!(
        rendered.user.contains("Items: kettle, toaster\n"),
        "{}",
        rendered.user
    );
    assert!(rendered.user.ends_with("at most 40 words."));
}

#[test]
fn values_are_data_not_template_code() {
    let prompt: Prompt<support_reply::Spec> = support_reply::handle();
    let hostile = "{{ account_number }} {% for x in range(3) %}X{% endfor %} {# c #}";
    let rendered = prompt.render(&reply_vars(hostile)).unwrap();
    assert!(
        rendered.user.contains(&format!("wrote:\n{hostile}\n")),
        "{}",
        rendered.user
    );
    assert_eq!(rendered.user.matches("ACCT-7731-SECRET").count(), 1);
}

struct Partial;

impl TemplateVars for Partial {
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        visitor.var("customer_name", VarValue::String("Ada"));
        visitor.var("account_number", VarValue::String("ACCT-7731-SECRET"));
    }
}

#[test]
fn missing_required_variable_is_a_strict_error() {
    let err = render_def(&*support_reply::DEF, &Partial).unwrap_err();
    assert_eq!(err.prompt_id, "customer-support.reply");
    assert_eq!(err.part, "user");
    assert!(err.to_string().contains("undefined"), "{err}");
    assert!(!err.to_string().contains("ACCT-7731-SECRET"));
}

/// `support_reply` at its own id and version with another text and no variables.
fn retexted(template: &str) -> &'static PromptDef {
    let mut def = PromptDef {
        template: template.to_owned(),
        variables: Vec::new(),
        system: None,
        ..support_reply::DEF.clone()
    };
    def.refresh_contract_hash();
    Box::leak(Box::new(def))
}

struct X;

impl TemplateVars for X {
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        visitor.var("x", VarValue::Integer(7));
    }
}

#[test]
fn same_id_and_version_with_other_text_is_not_served_stale() {
    let (v1, v1_edited) = (retexted("first {{ x }}"), retexted("second {{ x }}"));
    assert_eq!(render_def(v1, &X).unwrap().user, "first 7");
    assert_eq!(render_def(v1_edited, &X).unwrap().user, "second 7");
    assert_eq!(render_def(v1, &X).unwrap().user, "first 7");
}

#[test]
fn renders_concurrently_from_many_threads() {
    let handles: Vec<_> = (0..4)
        .map(|n| {
            std::thread::spawn(move || {
                let prompt: Prompt<support_reply::Spec> = support_reply::handle();
                let message = format!("thread {n}");
                for _ in 0..200 {
                    let rendered = prompt.render(&reply_vars(&message)).unwrap();
                    assert!(rendered.user.contains(&message));
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
}

#[test]
fn debug_output_hides_the_text() {
    let prompt: Prompt<support_reply::Spec> = support_reply::handle();
    let rendered = prompt.render(&reply_vars("hello")).unwrap();
    let debug = format!("{rendered:?}");
    assert!(!debug.contains("ACCT-7731-SECRET"), "{debug}");
    assert_eq!(rendered.redact("id ACCT-7731-SECRET!"), "id [redacted]!");
}
