// An id that no prompt file declares, with nothing close to suggest.
fn main() {
    let _handle = prompts::prompt!("billing.refund-status");
}
