//! The eval gate in a real crate: a fixture whose `main` is the promptops CLI over its own
//! compiled prompts. With the shipped intent classifier and suite the gate passes; raising the
//! prompt's baseline above what the model achieves makes `promptops eval` fail with the score,
//! the baseline and the failing cases; editing a prompt without rebuilding is refused.

use std::fs;

use promptops_tests::{workspace_root, FixtureCrate};

/// `cargo build`, then the built CLI's `eval`: (exit code, stdout, stderr).
fn build_and_eval(fixture: &FixtureCrate) -> (Option<i32>, String, String) {
    let build = fixture.cargo("build", &["-q"]).expect("cargo build");
    assert!(build.success, "{}", build.stderr);
    eval(fixture)
}

/// The built CLI's `eval`, without rebuilding.
fn eval(fixture: &FixtureCrate) -> (Option<i32>, String, String) {
    let output = std::process::Command::new(fixture.binary())
        .arg("eval")
        .current_dir(&fixture.dir)
        .env_remove("PROMPTOPS_MODEL")
        .output()
        .expect("run the fixture's CLI");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

const MAIN: &str = r#"include!(concat!(env!("OUT_DIR"), "/prompts.rs"));

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let registry = promptops_cli::Registry {
        prompts: &ALL,
        source_dir: concat!(env!("CARGO_MANIFEST_DIR"), "/prompts"),
    };
    let outcome = promptops_cli::run(&args, &registry);
    print!("{}", outcome.stdout);
    eprint!("{}", outcome.stderr);
    std::process::exit(outcome.code);
}
"#;

#[test]
fn raising_the_baseline_above_the_models_accuracy_fails_the_gate() {
    let fixture = FixtureCrate::create("eval-gate", true).expect("fixture crate");
    let manifest = fs::read_to_string(fixture.dir.join("Cargo.toml")).expect("manifest");
    let cli = format!(
        "promptops-cli = {{ path = {:?}, default-features = false }}\n",
        workspace_root().join("promptops-cli").display().to_string()
    );
    fs::write(
        fixture.dir.join("Cargo.toml"),
        manifest.replacen("[dependencies]\n", &format!("[dependencies]\n{cli}"), 1),
    )
    .expect("manifest");
    fs::write(fixture.dir.join("src/main.rs"), MAIN).expect("main.rs");
    let tree = fixture.prompts().join("customer_support");
    fs::create_dir_all(&tree).expect("mkdir");
    let shipped = workspace_root().join("prompts/customer_support");
    let prompt = fs::read_to_string(shipped.join("intent_classifier.yaml")).expect("prompt");
    fs::write(tree.join("intent_classifier.yaml"), &prompt).expect("write prompt");
    fs::copy(
        shipped.join("intent_classifier.eval.yaml"),
        tree.join("intent_classifier.eval.yaml"),
    )
    .expect("copy suite");

    let (code, stdout, stderr) = build_and_eval(&fixture);
    assert_eq!(code, Some(0), "{stdout}\n{stderr}");
    assert!(
        stdout.contains(
            "customer-support.intent-classifier        3     46     95.7%     94.0%  pass\n"
        ),
        "{stdout}"
    );

    assert!(prompt.contains("  baseline_accuracy: 0.94\n"));
    let raised = prompt.replace("  baseline_accuracy: 0.94\n", "  baseline_accuracy: 0.99\n");
    fs::write(tree.join("intent_classifier.yaml"), &raised).expect("raise baseline");
    let (code, stdout, _) = build_and_eval(&fixture);
    assert_eq!(code, Some(1), "{stdout}");
    assert!(
        stdout.contains(
            "error: customer-support.intent-classifier v3 scored 95.7% (44/46), below its baseline_accuracy of 99.0%\n"
        ),
        "{stdout}"
    );
    assert!(stdout.contains("REGRESSION"), "{stdout}");
    assert!(
        stdout.contains("intent_classifier.eval.yaml:87 quote: expected sales, got billing\n"),
        "{stdout}"
    );
    assert!(stdout.contains("eval FAILED: "), "{stdout}");

    // Editing the prompt without rebuilding: the built binary refuses to score stale text.
    fs::write(tree.join("intent_classifier.yaml"), &prompt).expect("restore");
    let (code, _, stderr) = eval(&fixture);
    assert_eq!(code, Some(2), "{stderr}");
    assert!(
        stderr.contains(
            "customer_support/intent_classifier.yaml changed since this binary was built"
        ),
        "{stderr}"
    );
}
