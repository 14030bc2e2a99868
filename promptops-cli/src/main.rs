//! `promptops`: see `promptops --help`.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = promptops_cli::run(&args, &promptops_cli::Registry::shipped());
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    std::process::exit(outcome.code);
}
