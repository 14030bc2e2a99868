// `max_sentences` is declared `type: integer`, so it is an `Option<i64>`, not text.
use prompts::customer_support::reply_drafter;

fn main() {
    let _vars = reply_drafter::Vars {
        customer_name: "Ada",
        message: "Where is my invoice?",
        tone: None,
        max_sentences: Some("five"),
    };
}
