// The sentiment classifier declares positive, neutral and negative: `Angry` does not exist,
// and a match that forgets `Neutral` is not exhaustive.
use prompts::customer_support::sentiment::Label;

fn describe(label: Label) -> &'static str {
    match label {
        Label::Positive => "happy",
        Label::Negative => "unhappy",
    }
}

fn main() {
    let _ = describe(Label::Angry);
}
