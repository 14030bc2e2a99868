// In development builds every prompt, drafts included, can be named; `prompt!` gives the same
// typed handle as the generated function.
use promptops_runtime::PromptOutput;

fn main() {
    let by_id = prompts::prompt!("customer-support.intent-classifier");
    let direct = prompts::customer_support::intent_classifier();
    assert_eq!(by_id.def() as *const _, direct.def() as *const _);

    let draft = prompts::prompt!("customer-support.escalation-summary");
    assert_eq!(draft.def().status, promptops_runtime::Status::Draft);

    let sentiment = prompts::prompt!("customer-support.sentiment");
    let label: prompts::customer_support::sentiment::Label = sentiment.parse_output("neutral").unwrap();
    assert_eq!(label, prompts::customer_support::sentiment::Label::Neutral);
    let _ = <String as PromptOutput>::from_answer(promptops_runtime::Answer::Text("free text"));

    let _vars = prompts::customer_support::reply_drafter::Vars {
        customer_name: "Ada",
        message: "Where is my invoice?",
        tone: Some("formal"),
        max_sentences: None,
    };
    assert_eq!(prompts::ENVIRONMENT, "development");

    // A structured answer is the generated struct, its enum matched exhaustively.
    use prompts::customer_support::ticket_triage::Intent;
    let triage = prompts::customer_support::ticket_triage()
        .parse_output(r#"{"intent": "retention", "urgency": 2, "order_id": null, "summary": "Wants to cancel.", "products": []}"#)
        .unwrap();
    let queue = match triage.intent {
        Intent::Billing => "billing",
        Intent::Technical => "technical",
        Intent::Sales => "sales",
        Intent::Retention => "retention",
        Intent::Other => "general",
    };
    assert_eq!((queue, triage.urgency, triage.order_id), ("retention", 2, None));
}
