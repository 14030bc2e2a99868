//! The `promptops` command line. Logic lives here so tests can call it without a process:
//! [`run`] takes the arguments and a [`Registry`] (the compiled-in prompts) and returns what to
//! print and the exit code.
#![warn(missing_docs)]

use std::path::PathBuf;

use clap::{Parser, Subcommand};
use promptops_runtime::PromptDef;

mod diff;
mod eval;
mod lock;
#[cfg(feature = "pipeline")]
pub mod pipeline;
pub mod registry;
mod render;
mod schema;
mod views;

pub use views::{list, show, validate, Format};

/// The prompts a binary was compiled with, and the directory they came from.
#[derive(Debug, Clone, Copy)]
pub struct Registry {
    /// Every compiled-in prompt, sorted by id (a generated crate's `ALL`).
    pub prompts: &'static [&'static PromptDef],
    /// The prompt tree they were compiled from (a generated crate's `SOURCE_DIR`): where
    /// `eval` finds the suites by default.
    pub source_dir: &'static str,
}

impl Registry {
    /// The shipped `prompts` crate.
    pub fn shipped() -> Self {
        Registry {
            prompts: &prompts::ALL,
            source_dir: prompts::SOURCE_DIR,
        }
    }
}

/// What a command printed and how the process should exit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Outcome {
    /// Text for standard output.
    pub stdout: String,
    /// Text for standard error.
    pub stderr: String,
    /// Process exit code.
    pub code: i32,
}

impl Outcome {
    fn ok(stdout: String) -> Self {
        Outcome {
            stdout,
            stderr: String::new(),
            code: 0,
        }
    }

    fn fail(stderr: String, code: i32) -> Self {
        Outcome {
            stdout: String::new(),
            stderr,
            code,
        }
    }
}

/// promptops — prompts as compile-checked Rust.
#[derive(Debug, Parser)]
#[command(name = "promptops", version, about, long_about = None)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Table of every compiled-in prompt: id, version, status, owner, model.
    List,
    /// One compiled-in prompt: metadata, variables and templates.
    Show {
        /// The prompt's id, e.g. `customer-support.intent-classifier`.
        id: String,
    },
    /// Check a prompt tree with the build's rules (for editors, pre-commit hooks and CI).
    Validate {
        /// The prompt tree.
        #[arg(default_value = "prompts")]
        dir: PathBuf,
        /// How to print problems: the build's report, JSON lines, or SARIF 2.1.0. Under GitHub
        /// Actions (GITHUB_ACTIONS=true) the human format also prints `::error` annotations.
        #[arg(long, value_enum, default_value_t = Format::Human)]
        format: Format,
    },
    /// Print the JSON Schema of prompt files or eval suites, for the YAML language server.
    Schema(schema::SchemaArgs),
    /// Print a compiled-in prompt rendered with the given variables.
    Render(render::RenderArgs),
    /// Unified diff of two prompt files, or of a prompt file against a git revision.
    Diff(diff::DiffArgs),
    /// Run the eval suites and fail when a prompt's accuracy drops below its baseline.
    Eval(eval::EvalArgs),
    /// Record new prompt versions in the tree's prompts.lock (`--check`: fail when it is not
    /// current, for CI). A locked version's text never changes: bump the version.
    Lock(lock::LockArgs),
    /// The prompt registry: `serve` it, or `push`, `publish`, `get`, `versions`, `diff`,
    /// `promote`, `rollback` and `history` against one.
    Registry(registry::RegistryArgs),
    /// The beta → prod rendering pipeline: `run` it over a local directory standing in for
    /// the bucket, or `check` configs offline.
    #[cfg(feature = "pipeline")]
    Pipeline(pipeline::PipelineArgs),
}

/// Runs the command line `args` (without the program name) against `registry`.
pub fn run(args: &[String], registry: &Registry) -> Outcome {
    let cli = match Cli::try_parse_from(
        std::iter::once("promptops").chain(args.iter().map(String::as_str)),
    ) {
        Ok(cli) => cli,
        Err(err) => {
            let text = err.render().to_string();
            return match err.kind() {
                clap::error::ErrorKind::DisplayHelp
                | clap::error::ErrorKind::DisplayVersion
                | clap::error::ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => {
                    Outcome::ok(text)
                }
                _ => Outcome::fail(text, 2),
            };
        }
    };
    match cli.command {
        Command::List => Outcome::ok(list(registry.prompts)),
        Command::Show { id } => match find(registry, &id) {
            Ok(def) => Outcome::ok(show(def)),
            Err(message) => Outcome::fail(message, 1),
        },
        Command::Validate { dir, format } => {
            let annotate = std::env::var("GITHUB_ACTIONS").is_ok_and(|value| value == "true");
            validate(dir, format, annotate)
        }
        Command::Schema(args) => schema::run(&args),
        Command::Render(args) => render::run(&args, registry),
        Command::Diff(args) => diff::run(&args),
        Command::Eval(args) => eval::run(&args, registry),
        Command::Lock(args) => lock::run(&args),
        Command::Registry(args) => registry::run(&args),
        #[cfg(feature = "pipeline")]
        Command::Pipeline(args) => pipeline::run(&args),
    }
}

/// The compiled-in prompt `id`, or an error message with a suggestion.
fn find(registry: &Registry, id: &str) -> Result<&'static PromptDef, String> {
    promptops_runtime::lookup(registry.prompts, id).ok_or_else(|| {
        let mut message = format!("error: no prompt with id `{id}`\n");
        if let Some(close) = promptops_build::diagnostic::did_you_mean(
            id,
            registry.prompts.iter().map(|d| d.id.as_str()),
        ) {
            message.push_str(&format!("help: did you mean `{close}`?\n"));
        }
        message
    })
}
