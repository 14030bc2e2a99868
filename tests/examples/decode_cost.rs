//! What decoding an embedded definition costs at run time: the one-off price a process pays
//! the first time it uses each prompt (`promptops_runtime::Registry` caches the result).
//!
//! Run: `cargo run --release -p promptops-tests --example decode_cost`. Writes the shipped
//! prompts with `promptops_core::wire::to_json` (what the build script embeds), then times
//! `promptops_core::wire::from_json` (what the registry calls: format check, serde decode,
//! contract-hash check) on each and prints the median of 11 rounds of 1,000.

use std::time::Instant;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../prompts");
    let validated = promptops_build::Config::new()
        .prompts_dir(root)
        .environment(promptops_build::Environment::Development)
        .validate()?;
    println!("{:<40} {:>8} {:>12}", "prompt", "bytes", "decode (ns)");
    for prompt in &validated.prompts {
        let text = promptops_core::wire::to_json(&prompt.def);
        let mut rounds = Vec::new();
        for _ in 0..11 {
            let start = Instant::now();
            for _ in 0..1_000 {
                std::hint::black_box(promptops_core::wire::from_json(std::hint::black_box(
                    &text,
                ))?);
            }
            rounds.push(start.elapsed().as_nanos() as f64 / 1_000.0);
        }
        rounds.sort_by(f64::total_cmp);
        println!(
            "{:<40} {:>8} {:>12.0}",
            prompt.def.id,
            text.len(),
            rounds[5]
        );
    }
    Ok(())
}
