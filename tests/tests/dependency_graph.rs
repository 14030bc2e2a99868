//! The crate graph points one way: the runtime (and so every binary that calls prompts) never
//! links the build-time crates, and the shared model stays small.

use std::process::Command;

use promptops_tests::workspace_root;

/// `cargo tree -e normal --prefix none` for `package`: one `name vX.Y.Z …` line per crate.
fn normal_dependencies(package: &str, extra: &[&str]) -> Vec<String> {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "tree",
            "--offline",
            "-e",
            "normal",
            "--prefix",
            "none",
            "-p",
            package,
        ])
        .args(extra)
        .output()
        .expect("run cargo tree");
    assert!(
        output.status.success(),
        "cargo tree failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| line.split_whitespace().next())
        .map(str::to_owned)
        .collect()
}

#[test]
fn the_runtime_depends_on_the_model_not_on_build_time_crates() {
    for features in [
        &["--features", "bedrock"][..],
        &["--no-default-features"][..],
    ] {
        let crates = normal_dependencies("promptops-runtime", features);
        assert!(
            crates.iter().any(|name| name == "promptops-core"),
            "{crates:?}"
        );
        for build_time in ["promptops-build", "promptops-macros", "saphyr-parser"] {
            assert!(
                !crates.iter().any(|name| name == build_time),
                "promptops-runtime ({features:?}) pulls in {build_time}"
            );
        }
    }
}

#[test]
fn the_model_crate_has_few_dependencies() {
    let direct = normal_dependencies("promptops-core", &["--depth", "1"]);
    assert_eq!(direct, ["promptops-core", "serde", "serde_json", "sha2"]);
}

#[test]
fn the_generated_crate_reaches_the_macro_through_its_own_dependency() {
    let direct = normal_dependencies("prompts", &["--depth", "1"]);
    assert!(
        direct.iter().any(|name| name == "promptops-macros"),
        "{direct:?}"
    );
    assert!(
        direct.iter().any(|name| name == "promptops-runtime"),
        "{direct:?}"
    );
}

#[test]
fn the_registry_contract_is_types_until_a_client_is_asked_for() {
    // Without `client`, the contract crate is the model and serde: the server and a
    // generated crate pay nothing for the client.
    let direct = normal_dependencies("promptops-registry-api", &["--depth", "1"]);
    assert_eq!(
        direct,
        [
            "promptops-registry-api",
            "promptops-core",
            "serde",
            "serde_json",
            "thiserror"
        ]
    );
    // The server and the runtime speak the contract through it; the CLI and the runtime's
    // HTTP tier through its client.
    for (package, features) in [
        ("promptops-registry", &["--no-default-features"][..]),
        ("promptops-runtime", &["--features", "registry-client"][..]),
        ("promptops-cli", &[][..]),
    ] {
        let crates = normal_dependencies(package, features);
        assert!(
            crates.iter().any(|name| name == "promptops-registry-api"),
            "{package}: {crates:?}"
        );
    }
}
