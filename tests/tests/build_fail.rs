//! Real `cargo build` runs of a fixture crate over broken prompt trees.
//!
//! Each directory under `tests/fixtures/build-fail/` is one case: its `prompts/` tree (plus any
//! sibling files and a `symlinks` list) is loaded into the fixture crate, `cargo build` must
//! fail, and what promptops printed must equal `expected.stderr`.
//! Refresh snapshots with `PROMPTOPS_BLESS=1 cargo test -p promptops-tests --test build_fail`.

use std::fs;
use std::path::PathBuf;

use promptops_tests::{check_snapshot, promptops_output, workspace_root, FixtureCrate};

fn cases() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/fixtures/build-fail");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture directory exists")
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

#[test]
fn every_broken_tree_fails_the_build_with_its_diagnostics() {
    let fixture = FixtureCrate::create("build-fail", false).expect("create fixture crate");
    let cases = cases();
    assert!(
        cases.len() >= 30,
        "expected a case per rule, found {}",
        cases.len()
    );
    let mut failures = Vec::new();
    for case in &cases {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        fixture.load_case(case).expect("load case");
        let run = fixture.cargo("build", &["--quiet"]).expect("run cargo");
        if run.success {
            failures.push(format!("{name}: cargo build succeeded but must fail"));
            continue;
        }
        let output = promptops_output(&run.stderr, &fixture.dir);
        if !output.contains("error[P") {
            failures.push(format!(
                "{name}: no promptops diagnostic in cargo's output:\n{}",
                run.stderr
            ));
            continue;
        }
        if let Err(mismatch) = check_snapshot(&case.join("expected.stderr"), &output) {
            failures.push(format!("{name}: {mismatch}"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn cargo_check_fails_the_same_way() {
    let fixture = FixtureCrate::create("check-fail", false).expect("create fixture crate");
    let case = workspace_root().join("tests/fixtures/build-fail/unknown-field");
    fixture.load_case(&case).expect("load case");
    let run = fixture.cargo("check", &["--quiet"]).expect("run cargo");
    assert!(!run.success, "cargo check must fail on a bad prompt");
    let expected = fs::read_to_string(case.join("expected.stderr")).expect("snapshot");
    assert_eq!(promptops_output(&run.stderr, &fixture.dir), expected);
}

#[test]
fn every_diagnostic_code_has_a_fixture_case() {
    let snapshots: String = cases()
        .iter()
        .map(|case| fs::read_to_string(case.join("expected.stderr")).unwrap_or_default())
        .collect();
    let missing: Vec<&str> = promptops_build::Code::ALL
        .iter()
        .map(|code| code.as_str())
        .filter(|code| !snapshots.contains(&format!("error[{code}]")))
        .collect();
    assert!(
        missing.is_empty(),
        "codes without a fixture case: {missing:?}"
    );
}

/// Every diagnostic points at `file:LINE:COL`, whole-file problems (empty, not UTF-8,
/// unreadable, outside the tree) included, so editors and problem matchers can place it.
#[test]
fn every_diagnostic_has_a_line_and_column() {
    let mut missing = Vec::new();
    for case in cases() {
        let snapshot = fs::read_to_string(case.join("expected.stderr")).unwrap_or_default();
        for arrow in snapshot
            .lines()
            .filter(|line| line.trim_start().starts_with("--> "))
        {
            let mut parts = arrow.rsplitn(3, ':');
            let column = parts.next().and_then(|c| c.parse::<usize>().ok());
            let line = parts.next().and_then(|l| l.parse::<usize>().ok());
            if !matches!((line, column), (Some(l), Some(c)) if l >= 1 && c >= 1) {
                missing.push(format!("{}: {arrow}", case.display()));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "diagnostics without line:col:\n{}",
        missing.join("\n")
    );
}

/// The generated code for awkward but valid names compiles and works: keyword segments
/// (`r#type`), prompts with sub-prompts, keyword variables, lifetime-free `Vars`, labels with
/// punctuation, strings that need escaping, and `get` below the top level.
#[test]
fn awkward_valid_names_generate_code_that_compiles() {
    let fixture = FixtureCrate::create("build-pass", true).expect("create fixture crate");
    let case = workspace_root().join("tests/fixtures/build-pass/edge-names");
    fixture.load_case(&case).expect("load case");
    fs::copy(case.join("main.rs"), fixture.dir.join("src/main.rs")).expect("main.rs");
    let run = fixture.cargo("run", &["-q"]).expect("run cargo");
    assert!(run.success, "generated code must compile:\n{}", run.stderr);
    assert_eq!(
        run.stdout,
        "edge.type edge.type.loop edge.type.loop\n\
         [\"self-serve\", \"in_progress\", \"Needs Review\", \"x2\"] NeedsReview SelfServe\n\
         quotes \" and back\\slashes survive\n\
         r2.get\n\
         m (async)|3 x 0.5|xy\n"
    );
}

/// `Config::typed(false)` generates data only (for very large registries): the same awkward
/// prompts must compile, under `deny(missing_docs)`, with `ALL`, `get` and `prompt!`.
#[test]
fn data_only_mode_generates_code_that_compiles() {
    let fixture = FixtureCrate::create("build-pass-data-only", true).expect("create fixture crate");
    let case = workspace_root().join("tests/fixtures/build-pass/edge-names");
    fixture.load_case(&case).expect("load case");
    fs::copy(
        case.join("data_only_main.rs"),
        fixture.dir.join("src/main.rs"),
    )
    .expect("main.rs");
    fs::write(
        fixture.dir.join("build.rs"),
        "fn main() {\n    promptops_build::Config::new().prompts_dir(\"prompts\").typed(false).compile_or_exit();\n}\n",
    )
    .expect("build.rs");
    let run = fixture.cargo("run", &["-q"]).expect("run cargo");
    assert!(run.success, "data-only code must compile:\n{}", run.stderr);
    assert_eq!(
        run.stdout,
        "edge.type edge.type.loop 4\n[\"self-serve\", \"in_progress\", \"Needs Review\", \"x2\"]\n"
    );
}
