//! The crate graph points one way: the runtime (and so every binary that calls prompts) never
//! links the build-time crates, and the shared model stays small.

use std::collections::{BTreeMap, BTreeSet};
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

/// The workspace's packages and the workspace packages each depends on, by name, from
/// `cargo metadata`: `(normal and build dependencies, dev-dependencies)`.
fn workspace_edges() -> BTreeMap<String, (Vec<String>, Vec<String>)> {
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
    let packages = metadata["packages"].as_array().expect("packages");
    let names: BTreeSet<&str> = packages
        .iter()
        .filter_map(|package| package["name"].as_str())
        .collect();
    let mut edges = BTreeMap::new();
    for package in packages {
        let (mut linked, mut dev) = (Vec::new(), Vec::new());
        for dependency in package["dependencies"].as_array().into_iter().flatten() {
            let Some(name) = dependency["name"]
                .as_str()
                .filter(|name| names.contains(name))
            else {
                continue;
            };
            if dependency["kind"] == "dev" {
                dev.push(name.to_owned());
            } else {
                linked.push(name.to_owned());
            }
        }
        linked.sort();
        linked.dedup();
        dev.sort();
        dev.dedup();
        let name = package["name"].as_str().expect("package name").to_owned();
        edges.insert(name, (linked, dev));
    }
    edges
}

/// Every `package → dependency` arrow of `edges` that closes a cycle, as `a → b → … → a`.
fn cycles(edges: &BTreeMap<String, Vec<String>>) -> Vec<String> {
    let reaches = |from: &str, to: &str| {
        let mut seen = BTreeSet::new();
        let mut stack = vec![from];
        while let Some(name) = stack.pop() {
            if name == to {
                return true;
            }
            if seen.insert(name) {
                stack.extend(edges.get(name).into_iter().flatten().map(String::as_str));
            }
        }
        false
    };
    let mut found = Vec::new();
    for (package, dependencies) in edges {
        for dependency in dependencies {
            if reaches(dependency, package) {
                found.push(format!("{package} → {dependency} → … → {package}"));
            }
        }
    }
    found
}

#[test]
fn the_cycle_check_finds_cycles_and_only_cycles() {
    let graph = |arrows: &[(&str, &[&str])]| -> BTreeMap<String, Vec<String>> {
        arrows
            .iter()
            .map(|(from, to)| (from.to_string(), to.iter().map(|t| t.to_string()).collect()))
            .collect()
    };
    assert_eq!(
        cycles(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &[])])),
        Vec::<String>::new()
    );
    assert_eq!(
        cycles(&graph(&[("a", &["b"]), ("b", &["a"])])),
        ["a → b → … → a", "b → a → … → b"]
    );
    assert_eq!(
        cycles(&graph(&[("a", &["b"]), ("b", &["c"]), ("c", &["a"])])).len(),
        3
    );
}

/// The arrows between the workspace's packages, dev-dependencies included, form no cycle: a
/// package's tests never depend on a package that depends on it, or whose tests depend on it
/// (as the runtime's and the registry's once did on each other). This crate's dev-dependencies
/// are left out: it sits above everything, and nothing links it but tests.
#[test]
fn the_packages_depend_on_each_other_without_cycles_tests_included() {
    let edges: BTreeMap<String, Vec<String>> = workspace_edges()
        .into_iter()
        .map(|(name, (mut linked, dev))| {
            if name != "promptops-tests" {
                linked.extend(dev);
            }
            (name, linked)
        })
        .collect();
    assert!(
        edges.contains_key("promptops-registry") && edges.contains_key("promptops-runtime"),
        "the workspace's packages are read: {:?}",
        edges.keys()
    );
    let found = cycles(&edges);
    assert!(found.is_empty(), "dependency cycles: {found:#?}");
}

/// Which workspace packages each package's tests use besides its own dependencies. A new arrow
/// is a decision, made here: tests that need several packages belong in this crate
/// (`resolve.rs`, `lambda_tier.rs`, `same_prompt_as_batch.rs`), so the registry's tests do not
/// reach for the runtime, nor the Lambda example's for the batch job.
const TEST_ARROWS: &[(&str, &[&str])] = &[
    (
        "promptops-batch",
        &[
            "promptops-bedrock-mock",
            "promptops-registry",
            "promptops-tests",
        ],
    ),
    (
        "promptops-cli",
        &[
            "promptops-bedrock-mock",
            "promptops-core",
            "promptops-tests",
        ],
    ),
    ("promptops-eval", &["prompts"]),
    (
        "promptops-lambda",
        &[
            "promptops-bedrock-mock",
            "promptops-registry",
            "promptops-tests",
        ],
    ),
    (
        "promptops-pipeline",
        &["promptops-bedrock-mock", "promptops-tests"],
    ),
    ("promptops-registry", &["promptops-tests"]),
    ("promptops-registry-api", &["promptops-tests"]),
    (
        "promptops-runtime",
        &["promptops-bedrock-mock", "promptops-tests"],
    ),
    (
        "promptops-tests",
        &[
            "promptops-batch",
            "promptops-core",
            "promptops-registry",
            "promptops-runtime",
            "prompts",
        ],
    ),
    ("promptops-ui-tests", &["promptops-runtime", "prompts"]),
];

#[test]
fn tests_reach_only_for_the_packages_they_are_allowed() {
    let actual: BTreeMap<String, Vec<String>> = workspace_edges()
        .into_iter()
        .filter(|(_, (_, dev))| !dev.is_empty())
        .map(|(name, (_, dev))| (name, dev))
        .collect();
    let allowed: BTreeMap<String, Vec<String>> = TEST_ARROWS
        .iter()
        .map(|(from, to)| (from.to_string(), to.iter().map(|t| t.to_string()).collect()))
        .collect();
    assert_eq!(
        actual, allowed,
        "the packages' dev-dependencies on workspace packages changed: update TEST_ARROWS if that \
         is intended"
    );
}
