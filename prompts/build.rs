// Validates every prompt under this crate's directory and generates `$OUT_DIR/prompts.rs`.
// The committed `prompts.lock` is required: a released version's text never changes without a
// version bump (`promptops lock` records new versions; CI runs `promptops lock --check`).
fn main() {
    promptops_build::Config::new()
        .prompts_dir(".")
        .require_lock(true)
        .compile_or_exit();
}
