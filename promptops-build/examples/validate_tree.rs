//! Validates a prompt tree the way `cargo build` and the registry's push do, and prints one
//! line: how many prompts passed, how many diagnostics were found (by code), the size of the
//! rendered report and the time taken. Used by `bench/hostile/validate_attacks.sh`.
//!
//! Usage: `cargo run -p promptops-build --example validate_tree -- DIR [--report]`
//! (`--report` prints the rendered report first, to compare the diagnostics of two builds).

use std::collections::BTreeMap;
use std::time::Instant;

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: validate_tree DIR [--report]");
        std::process::exit(2);
    };
    let print_report = std::env::args().nth(2).is_some_and(|arg| arg == "--report");
    let start = Instant::now();
    let mut config = promptops_build::Config::new();
    config.prompts_dir(&dir).cargo_directives(false);
    let tree = match config.discover() {
        Ok(tree) => tree,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(1);
        }
    };
    let validated = promptops_build::validate(&tree);
    // The CLI prints the report: rendering is part of the cost.
    let report = promptops_build::render_report(&validated.diagnostics);
    let elapsed = start.elapsed();
    if print_report {
        print!("{report}");
    }
    let mut codes: BTreeMap<&str, usize> = BTreeMap::new();
    for diagnostic in &validated.diagnostics {
        *codes.entry(diagnostic.code.as_str()).or_default() += 1;
    }
    let codes: Vec<String> = codes
        .iter()
        .map(|(code, count)| format!("{code}x{count}"))
        .collect();
    let variables: usize = validated
        .prompts
        .iter()
        .map(|prompt| prompt.def.variables.len())
        .sum();
    println!(
        "prompts={} variables={} diagnostics={} codes=[{}] report_bytes={} seconds={:.2}",
        validated.prompts.len(),
        variables,
        validated.diagnostics.len(),
        codes.join(","),
        report.len(),
        elapsed.as_secs_f64()
    );
}
