// Deprecated prompts carry the YAML's `deprecation_note`; deny the lint to see it as an error.
#![deny(deprecated)]

fn main() {
    let _direct = prompts::customer_support::legacy_router();
    let _by_id = prompts::prompt!("customer-support.legacy-router");
}
