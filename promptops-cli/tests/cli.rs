//! The CLI against the real compiled-in registry and real prompt trees.

use std::path::{Path, PathBuf};
use std::process::Command;

use promptops_cli::{run, Registry};

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn list_shows_every_prompt_in_id_order() {
    let out = run(&args(&["list"]), &Registry::shipped());
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("MODEL"));
    assert!(prompts::ALL.len() >= 5);
    for (line, def) in lines[1..].iter().zip(prompts::ALL.iter()) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                def.id.as_str(),
                &def.version.to_string(),
                def.status.as_str(),
                &def.owner,
                &def.model
            ]
        );
    }
    assert!(out
        .stdout
        .ends_with(&format!("\n{} prompts\n", prompts::ALL.len())));
}

#[test]
fn show_prints_metadata_and_template() {
    let out = run(
        &args(&["show", "customer-support.reply-drafter"]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out
        .stdout
        .starts_with("customer-support.reply-drafter v3\n"));
    assert!(out
        .stdout
        .contains("customer_name (string, required, sensitive)"));
    assert!(out.stdout.contains("tone (string, optional)"));
    assert!(out.stdout.contains("  Customer name: {{ customer_name }}"));
}

#[test]
fn show_unknown_id_suggests() {
    let out = run(
        &args(&["show", "customer-support.reply-drafer"]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("did you mean `customer-support.reply-drafter`?"),
        "{}",
        out.stderr
    );
}

#[test]
fn validate_accepts_the_shipped_tree_and_rejects_a_broken_one() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = run(
        &args(&["validate", &root.join("prompts").display().to_string()]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    // Every YAML file in the tree's directories (customer_support/, marketing/, ...).
    let names: Vec<String> = std::fs::read_dir(root.join("prompts"))
        .expect("prompt tree")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.path().is_dir())
        .flat_map(|dir| std::fs::read_dir(dir.path()).expect("prompt directory"))
        .filter_map(|entry| entry.ok()?.file_name().into_string().ok())
        .collect();
    let suites = names.iter().filter(|n| n.ends_with(".eval.yaml")).count();
    let prompts = names.iter().filter(|n| n.ends_with(".yaml")).count() - suites;
    assert!(suites >= 1);
    assert!(
        out.stdout
            .contains(&format!("ok: {prompts} prompts and {suites} eval suite")),
        "{}",
        out.stdout
    );

    let broken = root.join("tests/fixtures/build-fail/many-problems-many-files/prompts");
    let out = run(
        &args(&["validate", &broken.display().to_string()]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr
            .contains("error[P0114]: unknown model `claude-3-5-sonet`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr
            .ends_with("error: 3 problems in 2 prompt files\n"),
        "{}",
        out.stderr
    );
}

#[test]
fn bad_arguments_exit_2_with_usage() {
    let out = run(&args(&["frobnicate"]), &Registry::shipped());
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("unrecognized subcommand 'frobnicate'"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("Usage: promptops <COMMAND>"),
        "{}",
        out.stderr
    );
    let help = run(&args(&["--help"]), &Registry::shipped());
    assert_eq!(help.code, 0);
    for command in [
        "list", "show", "validate", "schema", "render", "diff", "eval",
    ] {
        assert!(
            help.stdout.contains(&format!("\n  {command} ")),
            "{}",
            help.stdout
        );
    }
}

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The real `promptops` binary in `dir`, inside GitHub Actions or not.
fn promptops(dir: &Path, list: &[&str], github_actions: bool) -> (i32, String, String) {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops"));
    command.args(list).current_dir(dir);
    if github_actions {
        command.env("GITHUB_ACTIONS", "true");
    } else {
        command.env_remove("GITHUB_ACTIONS");
    }
    let output = command.output().expect("run promptops");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|err| panic!("{}: {err}", path.display()))
}

/// The SARIF 2.1.0 schema vendored in `tests/schemas/` (see its README).
fn sarif_validator() -> promptops_tests::jsonschema::Validator {
    promptops_tests::sarif_validator().unwrap_or_else(|err| panic!("{err}"))
}

/// `validate --format` over a broken tree: the build's report, GitHub annotations, JSON lines
/// and SARIF, each equal to the snapshots `tests/tests/formats.rs` keeps for the same case.
#[test]
fn validate_prints_each_format() {
    let case = workspace().join("tests/fixtures/build-fail/many-problems-many-files");
    let snapshots = workspace().join("tests/snapshots/formats");
    let build_report = read(&case.join("expected.stderr"));
    let (_, report) = build_report.split_once('\n').expect("cargo's line first");

    let (code, stdout, stderr) = promptops(&case, &["validate", "prompts"], false);
    assert_eq!((code, stdout.as_str()), (1, ""), "{stderr}");
    assert_eq!(stderr, report);

    let (code, stdout, stderr) = promptops(&case, &["validate", "prompts"], true);
    assert_eq!(code, 1);
    assert_eq!(stderr, report);
    assert_eq!(
        stdout,
        read(&snapshots.join("many-problems-many-files.github.txt"))
    );
    assert!(
        stdout.starts_with("::error file=prompts/billing/refund.yaml,line=11,col=34,"),
        "{stdout}"
    );

    let (code, stdout, stderr) =
        promptops(&case, &["validate", "prompts", "--format", "json"], true);
    assert_eq!((code, stderr.as_str()), (1, ""));
    assert_eq!(
        stdout,
        read(&snapshots.join("many-problems-many-files.jsonl"))
    );
    assert_eq!(stdout.lines().count(), 3);

    let (code, stdout, stderr) =
        promptops(&case, &["validate", "prompts", "--format", "sarif"], false);
    assert_eq!((code, stderr.as_str()), (1, ""));
    assert_eq!(
        stdout,
        read(&snapshots.join("many-problems-many-files.sarif.json"))
    );
    let log: serde_json::Value = serde_json::from_str(&stdout).expect("SARIF is JSON");
    let errors: Vec<String> = sarif_validator()
        .iter_errors(&log)
        .map(|e| e.to_string())
        .collect();
    assert!(errors.is_empty(), "{}", errors.join("\n"));
}

#[test]
fn validate_of_a_clean_tree_in_machine_formats() {
    let (code, stdout, stderr) = promptops(
        &workspace(),
        &["validate", "prompts", "--format", "json"],
        true,
    );
    assert_eq!((code, stdout.as_str(), stderr.as_str()), (0, "", ""));
    let (code, stdout, _) = promptops(&workspace(), &["validate", "--format", "sarif"], false);
    assert_eq!(code, 0);
    let log: serde_json::Value = serde_json::from_str(&stdout).expect("SARIF is JSON");
    assert_eq!(log["runs"][0]["results"], serde_json::json!([]));
    assert!(sarif_validator().is_valid(&log));
    let (code, _, stderr) = promptops(&workspace(), &["validate", "--format", "xml"], false);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("possible values: human, json, sarif"),
        "{stderr}"
    );
}

/// `promptops schema` prints the schemas the repository ships, and `--out` writes both.
#[test]
fn schema_prints_the_shipped_schemas() {
    let schemas = workspace().join("schemas");
    let (code, stdout, _) = promptops(&workspace(), &["schema"], false);
    assert_eq!(code, 0);
    assert_eq!(stdout, read(&schemas.join("prompt.schema.json")));
    let (code, stdout, _) = promptops(&workspace(), &["schema", "eval-suite"], false);
    assert_eq!(code, 0);
    assert_eq!(stdout, read(&schemas.join("eval-suite.schema.json")));

    let dir = std::env::temp_dir().join(format!("promptops-cli-schema-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    let (code, stdout, stderr) = promptops(
        &workspace(),
        &["schema", "--out", &dir.display().to_string()],
        false,
    );
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.lines().count(), 2, "{stdout}");
    for name in ["prompt.schema.json", "eval-suite.schema.json"] {
        assert_eq!(read(&dir.join(name)), read(&schemas.join(name)), "{name}");
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn render_parses_typed_variables_and_keeps_values_literal() {
    let out = run(
        &args(&[
            "render",
            "customer-support.reply-drafter",
            "--var",
            "customer_name=Ada",
            "--var",
            "message=Where is my {{ invoice }}?",
            "--var",
            "max_sentences=2",
        ]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out.stdout.starts_with("── system ──\n"), "{}", out.stdout);
    assert!(out.stdout.contains("under 2 sentences"), "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "── user ──\nCustomer name: Ada\nCustomer message:\nWhere is my {{ invoice }}?\n"
        ),
        "{}",
        out.stdout
    );
}

#[test]
fn render_explains_bad_variables() {
    let registry = Registry::shipped();
    let render = |extra: &[&str]| {
        let mut list = vec!["render", "customer-support.reply-drafter"];
        list.extend_from_slice(extra);
        run(&args(&list), &registry)
    };
    let out = render(&["--var", "customer_name=Ada"]);
    assert_eq!(out.code, 1);
    assert_eq!(
        out.stderr,
        "error: customer-support.reply-drafter needs --var message=<string>\n"
    );
    let out = render(&["--var", "customer_nam=Ada", "--var", "message=hi"]);
    assert_eq!(
        out.stderr,
        "error: customer-support.reply-drafter has no variable `customer_nam` (did you mean `customer_name`?)\n"
    );
    let out = render(&[
        "--var",
        "customer_name=Ada",
        "--var",
        "message=hi",
        "--var",
        "max_sentences=two",
    ]);
    assert_eq!(
        out.stderr,
        "error: `max_sentences` is declared as an integer, but `two` is not one\n"
    );
    let out = render(&["--var", "customer_name"]);
    assert_eq!(
        out.stderr,
        "error: `--var customer_name` is not `name=value`\n"
    );

    let out = run(
        &args(&["render", "customer-support.intent-classifier"]),
        &registry,
    );
    assert_eq!(out.code, 1);
    assert!(
        out.stderr.contains("pass `--input \"...\"`"),
        "{}",
        out.stderr
    );
    let out = run(
        &args(&[
            "render",
            "customer-support.intent-classifier",
            "--input",
            "I want a refund",
        ]),
        &registry,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert!(out
        .stdout
        .starts_with("── system ──\nYou are a customer support intent classifier.\n"));
    assert!(
        out.stdout.ends_with("── user ──\nI want a refund\n"),
        "{}",
        out.stdout
    );
}

fn git(dir: &Path, list: &[&str]) {
    let status = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(["-c", "user.name=t", "-c", "user.email=t@example.com"])
        .args(list)
        .status()
        .expect("run git");
    assert!(status.success(), "git {list:?}");
}

#[test]
fn diff_of_two_files_and_against_a_git_revision() {
    let dir = std::env::temp_dir().join(format!("promptops-cli-diff-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("support")).expect("mkdir");
    let file = dir.join("support/reply.yaml");
    let v1 = "id: support.reply\nversion: 1\ntemplate: |\n  Hello!\n";
    let v2 = "id: support.reply\nversion: 2\nparent: 1\ntemplate: |\n  Hello there!\n";
    std::fs::write(&file, v1).expect("write");
    git(&dir, &["init", "-q"]);
    git(&dir, &["add", "."]);
    git(&dir, &["commit", "-q", "-m", "v1"]);
    std::fs::write(&file, v2).expect("write");
    let path = file.display().to_string();

    // One file: against HEAD.
    let out = run(&args(&["diff", &path]), &Registry::shipped());
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stdout.starts_with(&format!(
            "# version 1 → 2; fields changed: +parent, template, version\n--- HEAD:{path}\n+++ {path}\n"
        )),
        "{}",
        out.stdout
    );
    assert!(
        out.stdout.contains("\n-  Hello!\n+  Hello there!\n"),
        "{}",
        out.stdout
    );

    // REV:PATH against a file, and a file against itself.
    let old = format!("HEAD:{path}");
    let out = run(&args(&["diff", &old, &path]), &Registry::shipped());
    assert_eq!(out.code, 1);
    let same = run(&args(&["diff", &path, &path]), &Registry::shipped());
    assert_eq!((same.code, same.stdout.as_str()), (0, ""));

    // Trouble exits 2 with git's reason.
    let out = run(
        &args(&["diff", "--rev", "no-such-rev", &path]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr
            .starts_with(&format!("error: git cannot show {path} at no-such-rev: ")),
        "{}",
        out.stderr
    );
    let out = run(
        &args(&["diff", "missing.yaml", &path]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("missing.yaml: no such file"),
        "{}",
        out.stderr
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn eval_passes_on_the_shipped_tree_and_writes_reports() {
    let dir = std::env::temp_dir().join(format!("promptops-cli-eval-{}", std::process::id()));
    let json = dir.join("eval.json");
    let junit = dir.join("reports/junit.xml");
    let out = run(
        &args(&[
            "eval",
            "--model",
            "local",
            "--json",
            &json.display().to_string(),
            "--junit",
            &junit.display().to_string(),
        ]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 0, "{}{}", out.stdout, out.stderr);
    assert!(out.stdout.starts_with("PROMPT "), "{}", out.stdout);
    assert!(
        out.stdout
            .contains("eval passed: 2 prompts, 88 cases × 1 on `local`"),
        "{}",
        out.stdout
    );
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).expect("json report")).expect("json");
    assert_eq!(report["passed"], true);
    assert_eq!(
        report["prompts"][0]["prompt_id"],
        "customer-support.intent-classifier"
    );
    assert_eq!(report["prompts"][0]["verdict"], "pass");
    assert_eq!(
        report["prompts"][1]["prompt_id"],
        "customer-support.ticket-triage"
    );
    assert_eq!(report["prompts"][1]["fields"][0]["name"], "intent");
    let xml = std::fs::read_to_string(&junit).expect("junit report");
    assert!(
        xml.contains("<testsuite name=\"customer-support.intent-classifier\" tests=\"47\""),
        "{xml}"
    );
    let _ = std::fs::remove_dir_all(&dir);

    let out = run(
        &args(&["eval", "--prompt", "customer-support.sentiment"]),
        &Registry::shipped(),
    );
    assert_eq!(out.code, 2);
    assert_eq!(
        out.stderr,
        "error: no eval suites found for `customer-support.sentiment`\n"
    );
    let out = run(&args(&["eval", "--repeat", "0"]), &Registry::shipped());
    assert_eq!(out.code, 2);
}

/// The real gate: the `promptops` binary, the real AWS SDK, and a local Bedrock-compatible
/// server whose model answers `other` to every message — far below the 94% baseline.
#[test]
fn eval_against_a_degraded_bedrock_model_fails_the_gate() {
    let mock = promptops_bedrock_mock::MockBedrock::start_in_background().expect("start mock");
    mock.script_default(promptops_bedrock_mock::Script::answer("other"));
    let missing = std::env::temp_dir().join("promptops-no-such-aws-file");
    let output = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args(["eval", "--model", "bedrock", "--concurrency", "16"])
        .current_dir(workspace())
        .env_remove("AWS_PROFILE")
        .env_remove("AWS_ENDPOINT_URL")
        .env_remove("PROMPTOPS_MODEL")
        .env("AWS_CONFIG_FILE", &missing)
        .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDEVALTEST")
        .env("AWS_SECRET_ACCESS_KEY", "eval-test-secret")
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", mock.endpoint_url())
        .output()
        .expect("run promptops");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(1),
        "{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("error: customer-support.intent-classifier v3 scored 17.4% (8/46), below its baseline_accuracy of 94.0%\n"),
        "{stdout}"
    );
    assert!(stdout.contains("on `bedrock-converse`"), "{stdout}");
    // The structured prompt gets `other`, which is no JSON object: each of its 42 cases is
    // asked once more (the repair turn), then scored wrong.
    assert!(
        stdout.contains("error: customer-support.ticket-triage v1 scored 0.0% (0/42), below its baseline_accuracy of 95.0%"),
        "{stdout}"
    );
    assert_eq!(mock.requests().len(), 46 + 2 * 42);
}

#[test]
fn lock_records_new_versions_and_check_guards_it() {
    let dir = std::env::temp_dir().join(format!("promptops-cli-lock-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("support")).expect("dir");
    let file = dir.join("support/greet.yaml");
    let prompt = |version: u32, greeting: &str| {
        format!(
            "id: support.greet\nversion: {version}\nowner: o\nmodel: claude-3-5-sonnet\ntags: []\ntemplate: \"{greeting} {{{{ name }}}}\"\n"
        )
    };
    let tree = dir.to_string_lossy().into_owned();
    let registry = Registry::shipped();
    std::fs::write(&file, prompt(1, "Hello")).expect("write");

    let check = run(&args(&["lock", "--check", &tree]), &registry);
    assert_eq!(check.code, 1, "no lock yet: {check:?}");
    let lock = run(&args(&["lock", &tree]), &registry);
    assert_eq!(lock.code, 0, "{lock:?}");
    assert!(
        lock.stdout.contains("new prompt support.greet@1"),
        "{}",
        lock.stdout
    );
    let check = run(&args(&["lock", "--check", &tree]), &registry);
    assert_eq!(check.code, 0, "{check:?}");

    // Same version, other text: refused, the lock unchanged.
    std::fs::write(&file, prompt(1, "Howdy")).expect("write");
    let before = std::fs::read_to_string(dir.join("prompts.lock")).expect("lock");
    let refused = run(&args(&["lock", &tree]), &registry);
    assert_eq!(refused.code, 1, "{refused:?}");
    assert!(
        refused.stderr.contains("error[P0501]"),
        "{}",
        refused.stderr
    );
    assert!(
        refused.stderr.contains("support/greet.yaml:2:10"),
        "{}",
        refused.stderr
    );
    assert_eq!(
        std::fs::read_to_string(dir.join("prompts.lock")).expect("lock"),
        before
    );

    // Bumped: --check says the lock is behind, `lock` records the version.
    std::fs::write(&file, prompt(2, "Howdy")).expect("write");
    let behind = run(&args(&["lock", "--check", &tree]), &registry);
    assert_eq!(behind.code, 1, "{behind:?}");
    assert!(
        behind.stderr.contains("is not current"),
        "{}",
        behind.stderr
    );
    let lock = run(&args(&["lock", &tree]), &registry);
    assert!(
        lock.stdout.contains("new version support.greet@2"),
        "{}",
        lock.stdout
    );
    assert_eq!(run(&args(&["lock", "--check", &tree]), &registry).code, 0);
    let _ = std::fs::remove_dir_all(&dir);
}
