// A typo in a prompt id: the error lands on the literal and suggests the real id.
fn main() {
    let _handle = prompts::prompt!("customer-support.intent-clasifier");
}
