//! Times what a prompts crate's build script does, in-process: discovery, validation and
//! generation (including the write), over a prompt tree. Used by `bench/build_bench.sh`.
//!
//! Usage: `cargo run --release -p promptops-build --example time_compile -- DIR [RUNS] [TYPED]`
//! (`TYPED` is `true`, the default, or `false` for the data-only output).
//! Prints medians in milliseconds: `prompts discover validate generate total`.

use std::time::Instant;

fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

fn main() {
    let mut args = std::env::args().skip(1);
    let Some(dir) = args.next() else {
        eprintln!("usage: time_compile DIR [RUNS]");
        std::process::exit(2);
    };
    let runs: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(11);
    let typed = args.next().is_none_or(|t| t != "false");
    let out = std::env::temp_dir().join("promptops-time-compile");
    if let Err(err) = std::fs::create_dir_all(&out) {
        eprintln!("cannot create {}: {err}", out.display());
        std::process::exit(1);
    }
    let mut config = promptops_build::Config::new();
    config
        .prompts_dir(&dir)
        .out_dir(&out)
        .cargo_directives(false);
    let (mut discover, mut validate, mut generate, mut total) = (vec![], vec![], vec![], vec![]);
    let mut prompts = 0;
    for _ in 0..runs {
        let start = Instant::now();
        let tree = match config.discover() {
            Ok(tree) => tree,
            Err(err) => {
                eprintln!("{err}");
                std::process::exit(1);
            }
        };
        let discovered = Instant::now();
        let validated = promptops_build::validate(&tree);
        let checked = Instant::now();
        if !validated.is_ok() {
            eprint!("{}", promptops_build::render_report(&validated.diagnostics));
            std::process::exit(1);
        }
        // Remove the previous output so every run pays for the write.
        let _ = std::fs::remove_file(out.join("prompts.rs"));
        let options = promptops_build::CodegenOptions {
            typed,
            ..Default::default()
        };
        let code = promptops_build::codegen::generate(&validated.prompts, &options);
        if let Err(err) = std::fs::write(out.join("prompts.rs"), code) {
            eprintln!("write failed: {err}");
            std::process::exit(1);
        }
        let done = Instant::now();
        prompts = validated.prompts.len();
        let ms = |a: Instant, b: Instant| (b - a).as_secs_f64() * 1e3;
        discover.push(ms(start, discovered));
        validate.push(ms(discovered, checked));
        generate.push(ms(checked, done));
        total.push(ms(start, done));
    }
    println!(
        "{prompts} {:.1} {:.1} {:.1} {:.1}",
        median(discover),
        median(validate),
        median(generate),
        median(total)
    );
}
