// `urgency` is not a variable of the reply drafter.
use prompts::customer_support::reply_drafter;

fn main() {
    let _vars = reply_drafter::Vars {
        customer_name: "Ada",
        message: "Where is my invoice?",
        tone: None,
        max_sentences: None,
        urgency: "high",
    };
}
