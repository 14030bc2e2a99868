//! `lock`: keeps the tree's `prompts.lock` current (see `promptops_build::lock`).
//!
//! `promptops lock [DIR]` validates the tree with the build's rules, then records every prompt
//! version the lock does not know yet; a locked version whose text changed is refused (bump
//! the version). `--check` writes nothing and fails when the lock is not current: the CI step.
//!
//! Exit codes: 0 the lock is current (or was updated); 1 a problem in the tree, a changed
//! locked version, or (`--check`) a lock that needs updating; 2 the lock or the tree cannot be
//! read or written.

use std::path::PathBuf;

use promptops_build::lock::{self, Lock};
use promptops_build::{render_report, Config};

use crate::Outcome;

/// Arguments of `promptops lock`.
#[derive(Debug, clap::Args)]
pub struct LockArgs {
    /// The prompt tree; the lock is `DIR/prompts.lock`.
    #[arg(default_value = "prompts")]
    dir: PathBuf,
    /// Write nothing; fail when the lock is missing or not current (for CI).
    #[arg(long)]
    check: bool,
}

/// Runs `promptops lock`.
pub fn run(args: &LockArgs) -> Outcome {
    let path = args.dir.join(lock::FILE_NAME);
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut config = Config::new();
    config
        .prompts_dir(cwd.join(&args.dir))
        .display_root(&cwd)
        .cargo_directives(false);
    let tree = match config.discover() {
        Ok(tree) => tree,
        Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
    };
    let validated = promptops_build::validate(&tree);
    if !validated.is_ok() {
        return Outcome::fail(render_report(&validated.diagnostics), 1);
    }
    let (mut current, existed) = match std::fs::read_to_string(&path) {
        Ok(text) => match Lock::parse(&text) {
            Ok(lock) => (lock, true),
            Err(err) => {
                return Outcome::fail(format!("error: {}: {err}\n", path.display()), 2);
            }
        },
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => (Lock::new(), false),
        Err(err) => return Outcome::fail(format!("error: {}: {err}\n", path.display()), 2),
    };
    let changes = match lock::update(&mut current, &validated.prompts) {
        Ok(changes) => changes,
        Err(diagnostics) => return Outcome::fail(render_report(&diagnostics), 1),
    };
    let mut report = String::new();
    for change in &changes {
        report.push_str(&format!("{change}\n"));
    }
    if args.check {
        if !existed || !changes.is_empty() {
            return Outcome::fail(
                format!(
                    "{report}error: {} is not current: run `promptops lock {}` and commit it\n",
                    path.display(),
                    args.dir.display()
                ),
                1,
            );
        }
        return Outcome::ok(format!("{} is current\n", path.display()));
    }
    if existed && changes.is_empty() {
        return Outcome::ok(format!("{} is current\n", path.display()));
    }
    if let Err(err) = std::fs::write(&path, current.to_text()) {
        return Outcome::fail(
            format!("error: cannot write {}: {err}\n", path.display()),
            2,
        );
    }
    Outcome::ok(format!("{report}wrote {}\n", path.display()))
}
