// Ids are string literals.
fn main() {
    let _handle = prompts::prompt!(42);
}
