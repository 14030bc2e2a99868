// A structured answer is a plain struct: a misspelt field (or a made-up enum variant) is a
// compile error in the caller's code, not a `None` at run time.
use prompts::customer_support::ticket_triage::{Intent, Output};

fn route(triage: &Output) -> &'static str {
    if triage.urgancy >= 4 {
        return "on-call";
    }
    match triage.intent {
        Intent::Billing => "billing-queue",
        Intent::Refunds => "refunds-queue",
        _ => "general-queue",
    }
}

fn main() {
    let _ = route;
}
