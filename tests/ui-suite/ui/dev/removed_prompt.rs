// `customer-support.faq-answerer` was deleted from the prompt tree; both ways of naming it
// stop compiling.
fn main() {
    let _direct = prompts::customer_support::faq_answerer();
    let _by_id = prompts::prompt!("customer-support.faq-answerer");
}
