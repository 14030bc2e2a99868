//! `prompts.lock` in real `cargo build` runs of a fixture crate: a locked version whose text
//! changed fails at its `version:` line, a bumped version builds, and a crate that requires a
//! lock says how to create a missing one. (The failing snapshots are also build-fail cases:
//! `locked-text-changed`, `invalid-lock`.)

use std::fs;

use promptops_build::lock::{self, Lock};
use promptops_build::Config;
use promptops_tests::{promptops_output, workspace_root, FixtureCrate};

fn prompt(version: u32, greeting: &str) -> String {
    format!(
        "id: support.greet\nversion: {version}\nowner: cx-team\nmodel: claude-3-5-sonnet\ntags: []\ntemplate: \"{greeting} {{{{ name }}}}!\"\n"
    )
}

/// Runs `promptops lock`'s update over the fixture's tree, as the CLI does.
fn lock_tree(fixture: &FixtureCrate) -> Vec<lock::Change> {
    let validated = Config::new()
        .prompts_dir(fixture.prompts())
        .cargo_directives(false)
        .validate()
        .expect("tree reads");
    let path = fixture.prompts().join(lock::FILE_NAME);
    let mut current = fs::read_to_string(&path)
        .map(|text| Lock::parse(&text).expect("lock parses"))
        .unwrap_or_else(|_| Lock::new());
    let changes = lock::update(&mut current, &validated.prompts).expect("no changed version");
    fs::write(&path, current.to_text()).expect("write lock");
    changes
}

#[test]
fn changed_text_under_a_locked_version_fails_and_a_bump_builds() {
    let fixture = FixtureCrate::create("lock", false).expect("fixture crate");
    let file = fixture.prompts().join("support/greet.yaml");
    fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    fs::write(&file, prompt(1, "Hello")).expect("write prompt");
    assert_eq!(lock_tree(&fixture).len(), 1);
    let run = fixture.cargo("build", &["--quiet"]).expect("cargo");
    assert!(run.success, "locked and unchanged: {}", run.stderr);

    // Same version, other text: the build fails at the version line.
    fs::write(&file, prompt(1, "Howdy")).expect("edit prompt");
    let run = fixture.cargo("build", &["--quiet"]).expect("cargo");
    assert!(!run.success, "a changed locked version must fail the build");
    let output = promptops_output(&run.stderr, &fixture.dir);
    assert!(output.contains("error[P0501]"), "{output}");
    assert!(
        output.contains("--> prompts/support/greet.yaml:2:10"),
        "{output}"
    );
    assert!(output.contains("bump `version`"), "{output}");

    // Bumped: builds (the lock does not know v2 yet), and `promptops lock` records it.
    fs::write(&file, prompt(2, "Howdy")).expect("bump prompt");
    let run = fixture.cargo("build", &["--quiet"]).expect("cargo");
    assert!(run.success, "a bumped version builds: {}", run.stderr);
    assert_eq!(
        lock_tree(&fixture),
        [lock::Change::NewVersion {
            id: "support.greet".into(),
            version: "2".into()
        }]
    );
    let locked =
        Lock::parse(&fs::read_to_string(fixture.prompts().join(lock::FILE_NAME)).expect("lock"))
            .expect("parses");
    assert_eq!(locked.prompts["support.greet"].len(), 2);
}

#[test]
fn a_crate_that_requires_a_lock_says_how_to_create_it() {
    let fixture = FixtureCrate::create("lock-missing", false).expect("fixture crate");
    fs::write(
        fixture.dir.join("build.rs"),
        "fn main() {\n    promptops_build::Config::new().prompts_dir(\"prompts\").require_lock(true).compile_or_exit();\n}\n",
    )
    .expect("build.rs");
    let file = fixture.prompts().join("support/greet.yaml");
    fs::create_dir_all(file.parent().expect("parent")).expect("dir");
    fs::write(&file, prompt(1, "Hello")).expect("write prompt");
    let run = fixture.cargo("build", &["--quiet"]).expect("cargo");
    assert!(!run.success, "a missing required lock must fail the build");
    assert!(
        run.stderr.contains(
            "prompts/prompts.lock is missing: this crate requires a prompts.lock; create it with `promptops lock prompts` and commit it"
        ),
        "{}",
        run.stderr
    );

    lock_tree(&fixture);
    let run = fixture.cargo("build", &["--quiet"]).expect("cargo");
    assert!(run.success, "with the lock: {}", run.stderr);
}

/// CI's `cargo test` fails when the committed `prompts/prompts.lock` misses a version (what
/// `promptops lock --check prompts` reports).
#[test]
fn the_shipped_lock_is_current() {
    let dir = workspace_root().join("prompts");
    let validated = Config::new()
        .prompts_dir(&dir)
        .cargo_directives(false)
        .validate()
        .expect("tree reads");
    assert!(validated.is_ok(), "{:?}", validated.diagnostics);
    let text = fs::read_to_string(dir.join(lock::FILE_NAME)).expect("prompts/prompts.lock");
    let mut locked = Lock::parse(&text).expect("lock parses");
    let changes = lock::update(&mut locked, &validated.prompts).expect("no changed version");
    assert!(
        changes.is_empty(),
        "prompts/prompts.lock is not current, run `promptops lock prompts`: {changes:?}"
    );
    assert_eq!(locked.to_text(), text, "the lock is in its canonical form");
}
