// The reply drafter's template needs `message`; leaving it out is rustc's own error here.
use prompts::customer_support::reply_drafter;

fn main() {
    let _vars = reply_drafter::Vars {
        customer_name: "Ada",
        tone: None,
        max_sentences: None,
    };
}
