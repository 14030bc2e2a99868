// In a production build (PROMPTOPS_ENV=production or the `production` feature of `prompts`)
// draft prompts are not compiled in.
fn main() {
    let _by_id = prompts::prompt!("customer-support.escalation-summary");
    let _direct = prompts::customer_support::escalation_summary();
}
