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

/// The arrows between the workspace's packages, dev-dependencies included, form no cycle: a
/// package's tests never depend on a package that depends on it, or whose tests depend on it
/// (as the runtime's and the registry's once did on each other). Tests that need several
/// packages live in this crate, the one package allowed to dev-depend on everything
/// (`resolve.rs`, `lambda_tier.rs`, `same_prompt_as_batch.rs`).
#[test]
fn the_packages_depend_on_each_other_without_cycles_tests_included() {
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = Command::new(cargo)
        .current_dir(workspace_root())
        .args([
            "metadata",
            "--offline",
            "--no-deps",
            "--format-version",
            "1",
        ])
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value =
        serde_json::from_slice(&output.stdout).expect("cargo metadata prints JSON");
    // Workspace package → every package it depends on, by name (crates from the registry
    // cannot depend back on a workspace package). This crate's dev-dependencies are left out:
    // it sits above everything, and nothing links it but tests.
    let mut edges = std::collections::BTreeMap::new();
    for package in metadata["packages"].as_array().expect("packages") {
        let name = package["name"].as_str().expect("package name");
        let dependencies: Vec<&str> = package["dependencies"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|dependency| !(name == "promptops-tests" && dependency["kind"] == "dev"))
            .filter_map(|dependency| dependency["name"].as_str())
            .collect();
        edges.insert(name, dependencies);
    }
    let reaches = |from: &str, to: &str| {
        let mut seen = std::collections::HashSet::new();
        let mut stack = vec![from];
        while let Some(name) = stack.pop() {
            if name == to {
                return true;
            }
            if seen.insert(name) {
                stack.extend(edges.get(name).into_iter().flatten());
            }
        }
        false
    };
    let mut cycles = Vec::new();
    for (package, dependencies) in &edges {
        for dependency in dependencies {
            if reaches(dependency, package) {
                cycles.push(format!("{package} → {dependency} → … → {package}"));
            }
        }
    }
    assert!(
        edges.contains_key("promptops-registry") && edges.contains_key("promptops-runtime"),
        "the workspace's packages are read: {:?}",
        edges.keys()
    );
    assert!(cycles.is_empty(), "dependency cycles: {cycles:#?}");
}
