//! The CLI against the real compiled-in registry and real prompt trees.

use promptops_cli::run;

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| (*s).to_owned()).collect()
}

#[test]
fn list_shows_every_prompt_in_id_order() {
    let out = run(&args(&["list"]), prompts::ALL);
    assert_eq!(out.code, 0);
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert!(lines[0].starts_with("ID") && lines[0].contains("MODEL"));
    assert!(prompts::ALL.len() >= 5);
    for (line, def) in lines[1..].iter().zip(prompts::ALL) {
        let cells: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(
            cells,
            [
                def.id,
                &def.version.to_string(),
                def.status.as_str(),
                def.owner,
                def.model
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
        prompts::ALL,
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
        prompts::ALL,
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
        prompts::ALL,
    );
    assert_eq!(out.code, 0, "{}", out.stderr);
    let files = std::fs::read_dir(root.join("prompts/customer_support"))
        .expect("prompt tree")
        .filter(|entry| {
            entry
                .as_ref()
                .is_ok_and(|e| e.path().extension().is_some_and(|x| x == "yaml"))
        })
        .count();
    assert!(
        out.stdout.contains(&format!("{files} prompts")),
        "{}",
        out.stdout
    );

    let broken = root.join("tests/fixtures/build-fail/many-problems-many-files/prompts");
    let out = run(
        &args(&["validate", &broken.display().to_string()]),
        prompts::ALL,
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
    let out = run(&args(&["frobnicate"]), prompts::ALL);
    assert_eq!(out.code, 2);
    assert!(out.stderr.contains("USAGE"));
}
