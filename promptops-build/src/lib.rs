//! `build.rs` support for promptops: prompt files become typed Rust, and a bad prompt breaks
//! `cargo build`.
//!
//! The pipeline is discover → parse (keeping positions) → validate → generate. Every problem in
//! every file is reported in one run, rustc-style, pointing at the YAML file, line and column;
//! only a tree with no problems produces code.
//!
//! # Use from a build script
//!
//! ```no_run
//! // in `fn main` of the build.rs of a crate whose YAML prompts live in the crate directory:
//! promptops_build::compile_prompts(".");
//! ```
//!
//! and in `src/lib.rs`:
//!
//! ```ignore
//! include!(concat!(env!("OUT_DIR"), "/prompts.rs"));
//! ```
//!
//! The crate needs `promptops-runtime` (the types the generated code uses) and
//! `promptops-macros` (behind its `prompt!`) as dependencies, and this crate as a
//! build-dependency. The prompt model itself is `promptops-core`'s, shared with the runtime.
//!
//! For more control use [`Config`]:
//!
//! ```no_run
//! promptops_build::Config::new()
//!     .prompts_dir("prompts")
//!     .exclude("drafts")
//!     .compile_or_exit();
//! ```
//!
//! The rules, their codes and the schema are documented in the repository's README; each
//! [`Code`] carries a one-line summary.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod codegen;
pub mod diagnostic;
pub mod eval;
pub mod json_schema;
pub mod lines;
pub mod lock;
pub mod models;
pub mod naming;
mod output_schema;
pub mod output_types;
pub mod references;
pub mod report;
pub mod schema;
pub mod template;
pub mod tree;
pub mod yaml;

use std::collections::BTreeSet;
use std::fmt;
use std::io;
use std::path::{Component, Path, PathBuf};

pub use codegen::CodegenOptions;
pub use diagnostic::{render_report, Code, Diagnostic};
pub use references::Environment;
pub use schema::Prompt;
pub use tree::{validate, SourceFile, Tree, Validated};

/// Directories under the prompts root that never hold prompts (a crate's own folders).
pub const DEFAULT_EXCLUDES: &[&str] = &["src", "target", "tests", "benches", "examples"];

/// Name of the generated file in the output directory.
pub const DEFAULT_FILE_NAME: &str = "prompts.rs";

/// Why compiling the prompt tree failed.
#[derive(thiserror::Error)]
pub enum Error {
    /// The tree has problems; each is a rendered diagnostic.
    #[error("{}", render_report(.0))]
    Invalid(Vec<Diagnostic>),
    /// The prompts directory itself could not be read.
    #[error("cannot read the prompts directory {}: {source}", path.display())]
    PromptsDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// The generated file could not be written.
    #[error("cannot write generated code to {}: {source}", path.display())]
    Write {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: io::Error,
    },
    /// `PROMPTOPS_ENV` holds something other than development or production.
    #[error("{0}")]
    Environment(String),
    /// A path was not configured and the build-script variable that would supply it is unset.
    #[error(
        "{0} is not set: configure the path explicitly when not running inside a build script"
    )]
    MissingEnv(&'static str),
    /// The build requires a `prompts.lock` ([`Config::require_lock`]) and the tree has none.
    #[error(
        "{path} is missing: this crate requires a prompts.lock; create it with \
         `promptops lock {dir}` and commit it"
    )]
    LockMissing {
        /// Where the lock was looked for, as diagnostics show paths.
        path: String,
        /// The prompts directory, as diagnostics show paths.
        dir: String,
    },
}

// `fn main() -> Result<(), Error>` prints the Debug form; make it the readable report.
impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// What a successful run produced.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// Number of prompts compiled in.
    pub prompts: usize,
    /// The generated file.
    pub output: PathBuf,
    /// Whether the file was (re)written; `false` when its content was already up to date.
    pub written: bool,
}

/// Configures discovery, validation and generation (a prost-build-style builder).
#[derive(Debug, Clone)]
pub struct Config {
    prompts_dir: Option<PathBuf>,
    out_dir: Option<PathBuf>,
    file_name: String,
    excludes: Vec<String>,
    display_root: Option<PathBuf>,
    codegen: CodegenOptions,
    environment: Option<Environment>,
    cargo_directives: bool,
    require_lock: bool,
}

impl Default for Config {
    fn default() -> Self {
        Self::new()
    }
}

impl Config {
    /// Defaults: prompts in `CARGO_MANIFEST_DIR`, output `OUT_DIR/prompts.rs`, the crate's own
    /// folders (`src`, `target`, `tests`, `benches`, `examples`) excluded, cargo directives on.
    pub fn new() -> Self {
        Config {
            prompts_dir: None,
            out_dir: None,
            file_name: DEFAULT_FILE_NAME.to_owned(),
            excludes: DEFAULT_EXCLUDES.iter().map(|s| (*s).to_owned()).collect(),
            display_root: None,
            codegen: CodegenOptions::default(),
            environment: None,
            cargo_directives: true,
            require_lock: false,
        }
    }

    /// The root of the prompt tree; relative paths are taken from `CARGO_MANIFEST_DIR`.
    pub fn prompts_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.prompts_dir = Some(dir.into());
        self
    }

    /// Where to write the generated file (default: `OUT_DIR`).
    pub fn out_dir(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.out_dir = Some(dir.into());
        self
    }

    /// Name of the generated file (default: `prompts.rs`).
    pub fn file_name(&mut self, name: impl Into<String>) -> &mut Self {
        self.file_name = name.into();
        self
    }

    /// Skips a directory, given relative to the prompts root (`/`-separated).
    pub fn exclude(&mut self, dir: impl Into<String>) -> &mut Self {
        self.excludes.push(dir.into());
        self
    }

    /// Forgets the default excludes.
    pub fn clear_excludes(&mut self) -> &mut Self {
        self.excludes.clear();
        self
    }

    /// Paths in diagnostics are shown relative to this directory (default: the enclosing cargo
    /// workspace root, else the crate directory).
    pub fn display_root(&mut self, dir: impl Into<PathBuf>) -> &mut Self {
        self.display_root = Some(dir.into());
        self
    }

    /// How generated code names the runtime crate (default `::promptops_runtime`).
    pub fn runtime_crate(&mut self, path: impl Into<String>) -> &mut Self {
        self.codegen.runtime = path.into();
        self
    }

    /// How generated code names the proc-macro crate behind `prompt!` (default
    /// `::promptops_macros`), for a crate that reaches it through a facade.
    pub fn macros_crate(&mut self, path: impl Into<String>) -> &mut Self {
        self.codegen.macros = path.into();
        self
    }

    /// Whether to generate the typed layer (default `true`): a handle function, `Spec`, `Vars`
    /// and `Label` per prompt. `false` generates data only (`ALL`, `get`, and a `prompt!` that
    /// expands to the prompt's `&'static PromptDef`), which compiles faster still for
    /// registries of many thousands of prompts (see BENCHMARKS.md, "Build time").
    pub fn typed(&mut self, typed: bool) -> &mut Self {
        self.codegen.typed = typed;
        self
    }

    /// Builds for `environment` regardless of `PROMPTOPS_ENV` and the `production` feature.
    pub fn environment(&mut self, environment: Environment) -> &mut Self {
        self.environment = Some(environment);
        self
    }

    /// The environment to build for: [`environment`](Self::environment) if set, else
    /// production when the crate's `production` cargo feature is on, else `PROMPTOPS_ENV`
    /// (`development`/`dev`, `production`/`prod`; unset means development).
    pub fn resolved_environment(&self) -> Result<Environment, Error> {
        if let Some(environment) = self.environment {
            return Ok(environment);
        }
        if std::env::var_os("CARGO_FEATURE_PRODUCTION").is_some() {
            return Ok(Environment::Production);
        }
        let value = std::env::var("PROMPTOPS_ENV").unwrap_or_default();
        Environment::parse(&value).map_err(Error::Environment)
    }

    /// Whether the tree must have a `prompts.lock` (default `false`: a lock is checked when
    /// present). With it, a missing lock fails the build with a message saying how to create
    /// it. See [`lock`].
    pub fn require_lock(&mut self, required: bool) -> &mut Self {
        self.require_lock = required;
        self
    }

    /// Whether to print `cargo::` directives (default `true`; turn off outside build scripts).
    pub fn cargo_directives(&mut self, enabled: bool) -> &mut Self {
        self.cargo_directives = enabled;
        self
    }

    fn resolved_prompts_dir(&self) -> Result<PathBuf, Error> {
        let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").map(PathBuf::from);
        match (&self.prompts_dir, manifest_dir) {
            (Some(dir), _) if dir.is_absolute() => Ok(dir.clone()),
            (Some(dir), Some(manifest)) => Ok(manifest.join(dir)),
            (Some(dir), None) => Ok(dir.clone()),
            (None, Some(manifest)) => Ok(manifest),
            (None, None) => Err(Error::MissingEnv("CARGO_MANIFEST_DIR")),
        }
    }

    /// Discovers the tree (no validation): the files, the model table and discovery problems.
    pub fn discover(&self) -> Result<Tree, Error> {
        let root = self.resolved_prompts_dir()?;
        let display_root = match &self.display_root {
            Some(dir) => dir.clone(),
            None => workspace_root(&root),
        };
        let prefix = display_prefix(&root, &display_root);
        discover(&root, &self.excludes, prefix)
    }

    /// Discovers and validates without writing anything; includes the `prompts.lock` check.
    pub fn validate(&self) -> Result<Validated, Error> {
        let tree = self.discover()?;
        let mut validated = validate(&tree);
        self.check_lock(&tree, &mut validated)?;
        Ok(validated)
    }

    /// Checks the valid prompts against the tree's `prompts.lock`, adding its diagnostics.
    fn check_lock(&self, tree: &Tree, validated: &mut Validated) -> Result<(), Error> {
        let root = self.resolved_prompts_dir()?;
        let path = root.join(lock::FILE_NAME);
        let display = format!("{}{}", tree.display_prefix, lock::FILE_NAME);
        let found = match std::fs::read_to_string(&path) {
            Ok(text) => match lock::Lock::parse(&text) {
                Ok(lock) => lock::check(&lock, &validated.prompts),
                Err(err) => vec![lock::invalid(display, &err)],
            },
            Err(err) if err.kind() == io::ErrorKind::NotFound => {
                if self.require_lock {
                    let dir = match tree.display_prefix.trim_end_matches('/') {
                        "" => ".".to_owned(),
                        dir => dir.to_owned(),
                    };
                    return Err(Error::LockMissing { path: display, dir });
                }
                Vec::new()
            }
            Err(err) => vec![lock::invalid(display, &lock::LockError(err.to_string()))],
        };
        if !found.is_empty() {
            validated.diagnostics.extend(found);
            validated
                .diagnostics
                .sort_by(|a, b| a.sort_key().cmp(&b.sort_key()));
        }
        Ok(())
    }

    /// Discovers, validates and writes the generated file (only if its content changed).
    pub fn compile(&self) -> Result<Generated, Error> {
        let root = self.resolved_prompts_dir()?;
        let tree = self.discover()?;
        let mut validated = validate(&tree);
        self.check_lock(&tree, &mut validated)?;
        if !validated.is_ok() {
            return Err(Error::Invalid(validated.diagnostics));
        }
        let out_dir = match &self.out_dir {
            Some(dir) => dir.clone(),
            None => std::env::var_os("OUT_DIR")
                .map(PathBuf::from)
                .ok_or(Error::MissingEnv("OUT_DIR"))?,
        };
        let mut options = self.codegen.clone();
        options.environment = self.resolved_environment()?;
        options.prompts_dir = match tree.display_prefix.trim_end_matches('/') {
            "" => ".".to_owned(),
            dir => dir.to_owned(),
        };
        let code = codegen::generate(&validated.prompts, &options);
        let output = out_dir.join(&self.file_name);
        let written = write_if_changed(&output, code.as_bytes())?;
        if self.cargo_directives {
            // Directories are watched recursively by cargo, so this one line covers edits,
            // additions, removals and renames anywhere in the tree.
            println!("cargo::rerun-if-changed={}", root.display());
            println!("cargo::rerun-if-env-changed=PROMPTOPS_ENV");
        }
        Ok(Generated {
            prompts: validated.prompts.len(),
            output,
            written,
        })
    }

    /// [`compile`](Self::compile) for build scripts: on failure prints every diagnostic to
    /// stderr (cargo shows it under `--- stderr`), adds one `cargo::error` summary line, and
    /// exits with status 1 so `cargo build` and `cargo check` fail.
    pub fn compile_or_exit(&self) -> Generated {
        match self.compile() {
            Ok(generated) => generated,
            Err(err) => {
                eprint!("{err}");
                if !matches!(err, Error::Invalid(_)) {
                    eprintln!();
                }
                if self.cargo_directives {
                    let summary = match &err {
                        Error::Invalid(diagnostics) => {
                            diagnostic::summary_line(diagnostics).replacen("error: ", "", 1)
                        }
                        other => other.to_string(),
                    };
                    println!("cargo::error=invalid prompt tree: {summary} (details below)");
                }
                std::process::exit(1);
            }
        }
    }
}

/// The one-line shortcut: compile the prompt tree at `dir` (relative to the crate) into
/// `OUT_DIR/prompts.rs`, or fail the build with every diagnostic.
pub fn compile_prompts(dir: impl Into<PathBuf>) -> Generated {
    Config::new().prompts_dir(dir).compile_or_exit()
}

fn write_if_changed(path: &Path, contents: &[u8]) -> Result<bool, Error> {
    if std::fs::read(path).is_ok_and(|existing| existing == contents) {
        return Ok(false);
    }
    std::fs::write(path, contents).map_err(|source| Error::Write {
        path: path.to_owned(),
        source,
    })?;
    Ok(true)
}

/// The nearest ancestor whose `Cargo.toml` has a `[workspace]` table (as cargo finds the
/// workspace of a package), else the nearest crate directory, else `dir` itself.
fn workspace_root(dir: &Path) -> PathBuf {
    let mut crate_dir = None;
    for ancestor in dir.ancestors() {
        if let Ok(text) = std::fs::read_to_string(ancestor.join("Cargo.toml")) {
            if text.lines().any(|line| line.trim() == "[workspace]") {
                return ancestor.to_owned();
            }
            crate_dir.get_or_insert_with(|| ancestor.to_owned());
        }
    }
    crate_dir.unwrap_or_else(|| dir.to_owned())
}

fn display_prefix(root: &Path, display_root: &Path) -> String {
    let root = root.canonicalize().unwrap_or_else(|_| root.to_owned());
    let base = display_root
        .canonicalize()
        .unwrap_or_else(|_| display_root.to_owned());
    match root.strip_prefix(&base) {
        Ok(relative) if relative.as_os_str().is_empty() => String::new(),
        Ok(relative) => format!("{}/", slash_path(relative)),
        Err(_) => format!("{}/", root.display()),
    }
}

fn slash_path(path: &Path) -> String {
    path.components()
        .filter_map(|c| match c {
            Component::Normal(part) => Some(part.to_string_lossy().into_owned()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join("/")
}

fn is_prompt_file(name: &str) -> bool {
    name.ends_with(".yaml") || name.ends_with(".yml")
}

/// Walks the prompt tree in sorted order.
pub fn discover(root: &Path, excludes: &[String], display_prefix: String) -> Result<Tree, Error> {
    let canonical_root = root.canonicalize().map_err(|source| Error::PromptsDir {
        path: root.to_owned(),
        source,
    })?;
    let mut tree = Tree {
        display_prefix,
        ..Tree::default()
    };
    let mut visited = BTreeSet::new();
    visited.insert(canonical_root.clone());
    walk(
        &canonical_root,
        &canonical_root,
        "",
        excludes,
        &mut visited,
        &mut tree,
    );
    tree.files.sort_by(|a, b| a.path.cmp(&b.path));
    tree.eval_suites.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(tree)
}

fn walk(
    root: &Path,
    dir: &Path,
    relative: &str,
    excludes: &[String],
    visited: &mut BTreeSet<PathBuf>,
    tree: &mut Tree,
) {
    let display_dir = format!("{}{}", tree.display_prefix, relative);
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(err) => {
            tree.discovery_problems.push(Diagnostic::file_level(
                Code::Io,
                display_dir,
                format!("cannot read directory: {err}"),
            ));
            return;
        }
    };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).collect();
    entries.sort_by_key(|entry| entry.file_name());
    for entry in entries {
        let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
            tree.discovery_problems.push(Diagnostic::file_level(
                Code::Io,
                format!("{display_dir}{}", entry.file_name().to_string_lossy()),
                "file name is not valid UTF-8",
            ));
            continue;
        };
        if name.starts_with('.') {
            continue;
        }
        let rel = format!("{relative}{name}");
        if excludes
            .iter()
            .any(|excluded| excluded.trim_end_matches('/') == rel)
        {
            continue;
        }
        let display = format!("{}{rel}", tree.display_prefix);
        let path = entry.path();
        let Ok(link_meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        let target = if link_meta.file_type().is_symlink() {
            match path.canonicalize() {
                Ok(target) if target.starts_with(root) => target,
                Ok(target) => {
                    if target.is_dir() || is_prompt_file(&name) {
                        tree.discovery_problems.push(
                            Diagnostic::file_level(
                                Code::OutsideTree,
                                display,
                                format!("symlink points outside the prompts directory, to {}", target.display()),
                            )
                            .with_help("copy the prompt into the tree: a prompt's identity is its path inside it"),
                        );
                    }
                    continue;
                }
                Err(err) => {
                    if is_prompt_file(&name) {
                        tree.discovery_problems.push(Diagnostic::file_level(
                            Code::Io,
                            display,
                            format!("broken symlink: {err}"),
                        ));
                    }
                    continue;
                }
            }
        } else {
            path.clone()
        };
        if target.is_dir() {
            if visited.insert(target.clone()) {
                walk(root, &target, &format!("{rel}/"), excludes, visited, tree);
            }
            continue;
        }
        if !is_prompt_file(&name) {
            continue;
        }
        match std::fs::read(&target) {
            Ok(bytes) if relative.is_empty() && name == models::OVERRIDE_FILE_NAME => {
                tree.model_table = Some(SourceFile { path: rel, bytes });
            }
            Ok(bytes) if eval::is_suite_file(&name) => {
                tree.eval_suites.push(SourceFile { path: rel, bytes });
            }
            Ok(bytes) => tree.files.push(SourceFile { path: rel, bytes }),
            Err(err) => tree.discovery_problems.push(Diagnostic::file_level(
                Code::Io,
                display,
                format!("cannot read file: {err}"),
            )),
        }
    }
}
