// Validates every prompt under this crate's directory and generates `$OUT_DIR/prompts.rs`.
fn main() {
    promptops_build::compile_prompts(".");
}
