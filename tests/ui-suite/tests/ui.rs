//! Compile-fail UI suite: code that names prompts cannot drift from the prompt tree.
//!
//! `ui/dev/*.rs` must fail to compile in a development build, `ui/production/*.rs` in a
//! production build (`PROMPTOPS_ENV=production`), and `ui/pass/*.rs` must compile and run in
//! development (paths relative to this crate, `tests/ui-suite/`). Each failing case's rustc
//! output is compared with the `.stderr` file beside it. Refresh the snapshots after an
//! intended change with
//! `TRYBUILD=overwrite cargo test -p promptops-ui-tests --test ui` and review the diff.
//!
//! rustc's wording changes between releases, so the snapshots are pinned to the toolchain in
//! `ui/RUSTC_VERSION`; trybuild normalises paths and hides rustc's own line numbers.

use std::process::Command;

fn rustc_release() -> String {
    let rustc = std::env::var_os("RUSTC").unwrap_or_else(|| "rustc".into());
    let output = Command::new(rustc)
        .arg("--version")
        .output()
        .expect("run rustc --version");
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    text.split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned()
}

#[test]
fn ui() {
    let pinned = include_str!("../ui/RUSTC_VERSION").trim();
    let actual = rustc_release();
    assert_eq!(
        actual, pinned,
        "the UI snapshots were recorded with rustc {pinned}; with rustc {actual}, refresh them \
         (TRYBUILD=overwrite cargo test -p promptops-ui-tests --test ui), review, and update tests/ui-suite/ui/RUSTC_VERSION"
    );

    // One test, run in sequence: the environment variable is process-wide and trybuild's cargo
    // inherits it, so the production build must not overlap the development one.
    std::env::remove_var("PROMPTOPS_ENV");
    {
        let dev = trybuild::TestCases::new();
        dev.compile_fail("ui/dev/*.rs");
        dev.pass("ui/pass/*.rs");
    }
    std::env::set_var("PROMPTOPS_ENV", "production");
    {
        let production = trybuild::TestCases::new();
        production.compile_fail("ui/production/*.rs");
    }
    std::env::remove_var("PROMPTOPS_ENV");
}
