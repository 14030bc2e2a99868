//! Helpers for the workspace's integration tests, shared by every crate's tests: throwaway
//! cargo crates whose `build.rs` runs `promptops-build` over a prompt tree, real `cargo build`
//! runs of them, snapshot files, [`TempDir`], SDK configurations for local endpoints
//! ([`local_sdk_config`]) and other packages' binaries ([`workspace_bin`]).
//!
//! [`moto`] launches moto's standalone server; [`sigv4`] is a Function URL's signature check as
//! an axum middleware; [`cargo_lambda`] runs a Lambda binary under `cargo lambda watch`'s
//! emulator and invokes it with `cargo lambda invoke`; [`lambda_runtime`] is a local Runtime API
//! and starts function processes against it; [`events`] are the events AWS sends a function;
//! [`jsonl`] reads JSON Lines outputs;
//! [`serve`] runs an axum router on a loopback port.
//!
//! Snapshots are compared byte for byte; run the tests with `PROMPTOPS_BLESS=1` to rewrite them
//! from the actual output, then review the diff before committing.
#![warn(missing_docs)]

use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub mod cargo_lambda;
pub mod events;
pub mod jsonl;
pub mod lambda_runtime;
pub mod moto;
pub mod serve;
pub mod sigv4;

/// An AWS SDK configuration for a local wire-compatible endpoint (moto's server, the Lambda
/// service stand-in of [`lambda_runtime`]): region `us-east-1`, static test credentials, and
/// the rustls + ring HTTP client every promptops client uses.
pub fn local_sdk_config(endpoint: &str) -> aws_config::SdkConfig {
    use aws_credential_types::provider::SharedCredentialsProvider;
    use aws_credential_types::Credentials;
    aws_config::SdkConfig::builder()
        .behavior_version(aws_config::BehaviorVersion::latest())
        .region(aws_config::Region::new("us-east-1"))
        .credentials_provider(SharedCredentialsProvider::new(Credentials::new(
            "testing", "testing", None, None, "local",
        )))
        .endpoint_url(endpoint)
        .http_client(promptops_aws::https_client())
        .build()
}

/// The JSON Schema validator the tests use, for crates that reach it through this one.
pub use jsonschema;

/// The workspace root (parent of this crate).
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from(".."))
}

/// Where fixture crates share compiled dependencies, so each build only compiles its own code.
pub fn fixture_target_dir() -> PathBuf {
    workspace_root().join("target").join("fixtures")
}

/// A cargo crate in `target/fixture-crates/<name>` whose build script compiles `prompts/`.
pub struct FixtureCrate {
    /// The crate directory.
    pub dir: PathBuf,
    /// The package name, `fixture-<name>`. Fixture crates share one target directory and cargo
    /// names a root package's build outputs by name and version, not by path, so each fixture
    /// needs its own name or tests running side by side would share (and race on) one
    /// build-script output directory.
    pub package: String,
}

/// What one `cargo` run printed.
#[derive(Debug)]
pub struct CargoRun {
    /// Whether cargo exited successfully.
    pub success: bool,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl From<Output> for CargoRun {
    fn from(output: Output) -> Self {
        CargoRun {
            success: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl FixtureCrate {
    /// Creates (or resets) the crate. `with_runtime` adds the dependencies generated code needs
    /// (the runtime and the macro crate) and a `main` that prints every compiled-in prompt, for
    /// tests whose builds succeed.
    pub fn create(name: &str, with_runtime: bool) -> io::Result<Self> {
        let dir = workspace_root()
            .join("target")
            .join("fixture-crates")
            .join(name);
        if dir.exists() {
            fs::remove_dir_all(&dir)?;
        }
        fs::create_dir_all(dir.join("src"))?;
        fs::create_dir_all(dir.join("prompts"))?;
        let root = workspace_root();
        let package: String = format!("fixture-{name}")
            .chars()
            .map(|c| {
                if c.is_ascii_alphanumeric() {
                    c.to_ascii_lowercase()
                } else {
                    '-'
                }
            })
            .collect();
        let runtime_dep = if with_runtime {
            format!(
                "promptops-macros = {{ path = {:?} }}\n\
                 promptops-runtime = {{ path = {:?}, default-features = false }}\n",
                root.join("promptops-macros").display().to_string(),
                root.join("promptops-runtime").display().to_string()
            )
        } else {
            String::new()
        };
        fs::write(
            dir.join("Cargo.toml"),
            format!(
                "[package]\nname = {package:?}\nversion = \"0.1.0\"\nedition = \"2021\"\n\n\
                 [dependencies]\n{runtime_dep}\n\
                 [build-dependencies]\npromptops-build = {{ path = {:?} }}\n\n\
                 [profile.dev.build-override]\nopt-level = 3\n\n[workspace]\n",
                root.join("promptops-build").display().to_string()
            ),
        )?;
        // The workspace's lock file pins the same dependency versions, so no resolution is needed.
        fs::copy(root.join("Cargo.lock"), dir.join("Cargo.lock"))?;
        fs::write(
            dir.join("build.rs"),
            "fn main() {\n    promptops_build::compile_prompts(\"prompts\");\n}\n",
        )?;
        if with_runtime {
            fs::write(
                dir.join("src/main.rs"),
                "include!(concat!(env!(\"OUT_DIR\"), \"/prompts.rs\"));\n\n\
                 fn main() {\n    for def in ALL {\n        println!(\"{} v{} {}\", def.id, def.version, def.source_path.as_deref().unwrap_or_default());\n    }\n}\n",
            )?;
        } else {
            fs::write(dir.join("src/lib.rs"), "")?;
        }
        Ok(FixtureCrate { dir, package })
    }

    /// The crate's binary in the shared target directory (after a `cargo build`).
    pub fn binary(&self) -> PathBuf {
        fixture_target_dir().join("debug").join(&self.package)
    }

    /// The crate's prompt tree.
    pub fn prompts(&self) -> PathBuf {
        self.dir.join("prompts")
    }

    /// Replaces the prompt tree (and any sibling files) with a copy of `case_dir`'s contents,
    /// skipping `expected.stderr` and the case's `*main.rs` programs, and recreating links
    /// listed in a `symlinks` file (`link -> target` per line, paths relative to the crate).
    pub fn load_case(&self, case_dir: &Path) -> io::Result<()> {
        fs::remove_dir_all(self.prompts())?;
        fs::create_dir_all(self.prompts())?;
        copy_tree(
            case_dir,
            &self.dir,
            &[
                "expected.stderr",
                "symlinks",
                "main.rs",
                "data_only_main.rs",
            ],
        )?;
        if let Ok(links) = fs::read_to_string(case_dir.join("symlinks")) {
            for line in links.lines().filter(|l| !l.trim().is_empty()) {
                let (link, target) = line
                    .split_once(" -> ")
                    .ok_or_else(|| io::Error::other(format!("bad symlinks line: {line}")))?;
                let link = self.dir.join(link.trim());
                if let Some(parent) = link.parent() {
                    fs::create_dir_all(parent)?;
                }
                symlink(Path::new(target.trim()), &link)?;
            }
        }
        Ok(())
    }

    /// Runs `cargo <subcommand> [args]` in the crate with the shared fixture target dir.
    pub fn cargo(&self, subcommand: &str, args: &[&str]) -> io::Result<CargoRun> {
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        Command::new(cargo)
            .arg(subcommand)
            .args(args)
            .arg("--offline")
            .current_dir(&self.dir)
            .env("CARGO_TARGET_DIR", fixture_target_dir())
            .env("CARGO_TERM_COLOR", "never")
            // Fixture crates are built to be run, never debugged: without debug info their
            // shared target dir is a fraction of the size (CI's disk is bounded).
            .env("CARGO_PROFILE_DEV_DEBUG", "false")
            .env_remove("RUSTFLAGS")
            .env_remove("CARGO_ENCODED_RUSTFLAGS")
            .output()
            .map(CargoRun::from)
    }
}

#[cfg(unix)]
fn symlink(target: &Path, link: &Path) -> io::Result<()> {
    std::os::unix::fs::symlink(target, link)
}

#[cfg(not(unix))]
fn symlink(_target: &Path, _link: &Path) -> io::Result<()> {
    Err(io::Error::other("symlink fixtures need a unix host"))
}

/// Copies `from`'s contents into `to`, recursively, skipping top-level names in `skip`.
pub fn copy_tree(from: &Path, to: &Path, skip: &[&str]) -> io::Result<()> {
    for entry in fs::read_dir(from)? {
        let entry = entry?;
        let name = entry.file_name();
        if skip.iter().any(|s| name == *s) {
            continue;
        }
        let target = to.join(&name);
        if entry.file_type()?.is_dir() {
            fs::create_dir_all(&target)?;
            copy_tree(&entry.path(), &target, &[])?;
        } else {
            fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

/// The part of a failed `cargo build` that promptops wrote: cargo's `error: fixture-<name>@…`
/// summary line (shown as `error: fixture@…`, the same for every fixture) and the build
/// script's stderr, de-indented. Absolute paths become `$DIR`.
pub fn promptops_output(cargo_stderr: &str, crate_dir: &Path) -> String {
    let mut out = String::new();
    let mut in_stderr = false;
    for line in cargo_stderr.lines() {
        if line.trim() == "--- stderr" {
            in_stderr = true;
            continue;
        }
        if in_stderr {
            out.push_str(line.strip_prefix("  ").unwrap_or(line).trim_end());
            out.push('\n');
        } else if let Some((_, summary)) = line
            .strip_prefix("error: fixture")
            .and_then(|rest| rest.split_once('@'))
        {
            out.push_str("error: fixture@");
            out.push_str(summary);
            out.push('\n');
        }
    }
    let dir = crate_dir.display().to_string();
    out.trim_end().replace(&dir, "$DIR") + "\n"
}

/// A validator for the SARIF 2.1.0 schema vendored in `tests/schemas/` (see the README there),
/// with the `language` patterns corrected as OASIS errata 01 did: the shipped
/// `^[a-zA-Z]{2}|^[a-zA-Z]{2}-[a-zA-Z]{2}]?$` is no valid ECMA-262 regex under the validator's
/// strict check. Formats (`uri`, `uri-reference`) are asserted.
pub fn sarif_validator() -> Result<jsonschema::Validator, String> {
    let path = workspace_root().join("tests/schemas/sarif-schema-2.1.0.json");
    let text = fs::read_to_string(&path).map_err(|err| format!("{}: {err}", path.display()))?;
    let mut schema: serde_json::Value =
        serde_json::from_str(&text).map_err(|err| format!("{}: {err}", path.display()))?;
    for definition in ["run", "toolComponent"] {
        let pattern = &mut schema["definitions"][definition]["properties"]["language"]["pattern"];
        if pattern.is_string() {
            *pattern = serde_json::Value::from("^[a-zA-Z]{2}(-[a-zA-Z]{2})?$");
        }
    }
    jsonschema::options()
        .should_validate_formats(true)
        .build(&schema)
        .map_err(|err| format!("the SARIF schema does not compile: {err}"))
}

/// Compares `actual` with the snapshot at `path`; with `PROMPTOPS_BLESS=1` rewrites it instead.
/// Returns a description of the mismatch, if any.
pub fn check_snapshot(path: &Path, actual: &str) -> Result<(), String> {
    if std::env::var_os("PROMPTOPS_BLESS").is_some() {
        if let Some(parent) = path.parent() {
            fs::create_dir_all(parent).map_err(|e| e.to_string())?;
        }
        fs::write(path, actual).map_err(|e| format!("cannot bless {}: {e}", path.display()))?;
        return Ok(());
    }
    let expected = fs::read_to_string(path).unwrap_or_default();
    if expected == actual {
        return Ok(());
    }
    Err(format!(
        "snapshot {} differs (run with PROMPTOPS_BLESS=1 to accept):\n{}",
        path.display(),
        line_diff(&expected, actual)
    ))
}

/// A minimal line diff: `-` expected, `+` actual, for lines that differ by position.
pub fn line_diff(expected: &str, actual: &str) -> String {
    let expected: Vec<&str> = expected.lines().collect();
    let actual: Vec<&str> = actual.lines().collect();
    let mut out = String::new();
    for index in 0..expected.len().max(actual.len()) {
        match (expected.get(index), actual.get(index)) {
            (Some(e), Some(a)) if e == a => {}
            (e, a) => {
                if let Some(e) = e {
                    out.push_str(&format!("{:>4} - {e}\n", index + 1));
                }
                if let Some(a) = a {
                    out.push_str(&format!("{:>4} + {a}\n", index + 1));
                }
            }
        }
    }
    out
}

/// The path of the binary `name` of the workspace package in `package` (its directory,
/// relative to the workspace root: `promptops-registry`, `examples/lambda`), built by the same
/// `cargo test --workspace` run as the calling test.
///
/// `env!("CARGO_BIN_EXE_<name>")` names only the binaries of a test's own package, and this
/// crate's tests exercise other packages' binaries (the registry's Lambda function, the Lambda
/// example). Cargo puts every binary it builds for a test run beside the test executables'
/// `deps/` directory, so that is where this looks. Running these tests alone needs the binary
/// built first (`cargo build -p PACKAGE --bin NAME`, or `cargo test --workspace`).
///
/// Panics with that advice when the binary is missing, or older than a file of its package's
/// `src/` or its `Cargo.toml` (a binary left from an earlier build; changes in the libraries it
/// links are not looked for).
pub fn workspace_bin(package: &str, name: &str) -> PathBuf {
    let advice = format!(
        "run `cargo test --workspace`, or build it first with `cargo build --manifest-path \
         {package}/Cargo.toml --bin {name}`"
    );
    let profile_dir = std::env::current_exe()
        .ok()
        .and_then(|test| test.parent().and_then(Path::parent).map(Path::to_path_buf));
    let binary = profile_dir
        .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .filter(|path| path.is_file())
        .unwrap_or_else(|| panic!("the binary `{name}` is not built beside this test: {advice}"));
    let built = modified(&binary);
    let package_dir = workspace_root().join(package);
    let mut sources = vec![package_dir.join("Cargo.toml")];
    collect_files(&package_dir.join("src"), &mut sources);
    if let Some(newer) = sources.iter().find(|source| modified(source) > built) {
        panic!(
            "the binary `{name}` is older than {}: {advice}",
            newer.display()
        );
    }
    binary
}

/// A file's modification time (the epoch when it cannot be read).
fn modified(path: &Path) -> std::time::SystemTime {
    fs::metadata(path)
        .and_then(|meta| meta.modified())
        .unwrap_or(std::time::UNIX_EPOCH)
}

/// Every file under `dir`, recursively.
fn collect_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect_files(&path, out);
        } else {
            out.push(path);
        }
    }
}

/// A fresh directory under the system's temp directory, removed (with what is in it) when
/// dropped. Its name holds `name`, the process id and a counter, so tests running side by side
/// never share one.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// Creates `promptops-NAME-PID-N`; panics when it cannot (a test cannot go on).
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let serial = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("promptops-{name}-{}-{serial}", std::process::id()));
        let _ = fs::remove_dir_all(&dir);
        fs::create_dir_all(&dir).unwrap_or_else(|err| panic!("create {}: {err}", dir.display()));
        TempDir(dir)
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.0
    }

    /// `path/name`.
    pub fn join(&self, name: impl AsRef<Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}
