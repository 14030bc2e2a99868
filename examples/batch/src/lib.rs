//! `promptops-batch`: run one compiled-in prompt over a JSON Lines file.
//!
//! The binary (`src/main.rs`) only parses arguments; everything else lives here so it can be
//! tested without a process:
//!
//! * [`record`] — the input record contract (`id`, input, variables) and its errors;
//! * [`shard`] — `--shard i/n` with a fixed hash, and the id fingerprints for dedup/resume;
//! * [`resume`] — reading the ids an existing results file holds, repairing a crashed tail;
//! * [`runner`] — the streaming pipeline with bounded concurrency, and the Bedrock export;
//! * [`export`] — Bedrock batch inference lines (`recordId` / `modelInput`) and next steps;
//! * [`output`] — the results and errors lines;
//! * [`progress`] and [`summary`] — what the job prints.
//!
//! ```no_run
//! # async fn demo() -> Result<(), promptops_batch::BatchError> {
//! use promptops_batch::{build_runtime, run, JobConfig, ModelChoice, StopSignal, Target};
//! let prompt = promptops_batch::find_prompt("customer-support.intent-classifier")?;
//! let config = JobConfig::new("in.jsonl", Target::Results("out.jsonl".into()), prompt);
//! let runtime = build_runtime(Some(ModelChoice::Local)).await?;
//! let summary = run(&config, &runtime, &StopSignal::new()).await?;
//! println!("{}", summary.text());
//! # Ok(()) }
//! ```
#![warn(missing_docs)]

pub mod bedrock_batch;
pub mod events;
pub mod export;
pub mod lines;
pub mod location;
pub mod merge;
pub mod output;
pub mod progress;
pub mod record;
pub mod resume;
pub mod runner;
pub mod s3;
pub mod shard;
pub mod summary;

use std::io;

use promptops_runtime::{
    BedrockApi, ConfigError, ModelConfig, PromptDef, Resolver, RetryPolicy, Runtime,
};

pub use location::{Location, S3Uri};
pub use progress::ProgressMode;
pub use runner::{run, JobConfig, StopSignal, Target};
pub use shard::Shard;
pub use summary::Summary;

/// The prompt run when `--prompt` is not given.
pub const DEFAULT_PROMPT: &str = "customer-support.intent-classifier";

/// The runtime name reported in every event of a batch job.
pub const RUNTIME_NAME: &str = "batch";

/// Why a job could not run (or stopped).
#[derive(Debug, thiserror::Error)]
pub enum BatchError {
    /// The input cannot be read.
    #[error("cannot read input {location}: {source}")]
    Input {
        /// The input file or object.
        location: Location,
        /// The I/O error (an S3 error inside, for an object).
        source: io::Error,
    },
    /// An output cannot be written.
    #[error("cannot write {location}: {source}")]
    Output {
        /// The file or object.
        location: Location,
        /// The I/O error (an S3 error inside, for an object).
        source: io::Error,
    },
    /// The results file cannot be resumed from.
    #[error(transparent)]
    Resume(#[from] resume::ResumeError),
    /// The model cannot be exported for Bedrock batch inference.
    #[error(transparent)]
    Export(#[from] export::UnsupportedModel),
    /// The model configuration is invalid.
    #[error(transparent)]
    Model(#[from] ConfigError),
    /// No compiled-in prompt has this id.
    #[error("unknown prompt {id:?}; compiled-in prompts: {known}")]
    UnknownPrompt {
        /// The id asked for.
        id: String,
        /// The ids available.
        known: String,
    },
    /// Invalid options.
    #[error("{0}")]
    Config(String),
    /// The results file was written with another prompt version than this run resolved.
    #[error(
        "cannot resume from {location}: its results were produced by prompt version {found}, \
         this run resolved version {running}; pass --allow-version-change to mix them, --fresh \
         to start over, or another --output"
    )]
    VersionChanged {
        /// The results file or object.
        location: Location,
        /// The version found in the file.
        found: String,
        /// The version this run pinned.
        running: String,
    },
}

impl BatchError {
    /// The process exit code: 3 when reading the input or writing an output failed (an I/O
    /// or S3 error: a retry may succeed, and resumes), 2 for everything a retry cannot fix
    /// (options, prompt, model configuration, a results file that cannot be resumed).
    pub fn exit_code(&self) -> u8 {
        match self {
            BatchError::Input { .. } | BatchError::Output { .. } => 3,
            _ => 2,
        }
    }
}

/// The compiled-in prompt with this id.
pub fn find_prompt(id: &str) -> Result<&'static PromptDef, BatchError> {
    prompts::get(id).ok_or_else(|| BatchError::UnknownPrompt {
        id: id.to_owned(),
        known: prompts::ALL
            .iter()
            .map(|def| def.id.as_str())
            .collect::<Vec<_>>()
            .join(", "),
    })
}

/// Which model answers (`--model`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ModelChoice {
    /// The offline, deterministic local model.
    Local,
    /// Amazon Bedrock through the Converse API.
    Bedrock,
    /// Amazon Bedrock through InvokeModel with native bodies.
    BedrockInvoke,
}

impl ModelChoice {
    /// The model configuration.
    pub fn config(self) -> ModelConfig {
        match self {
            ModelChoice::Local => ModelConfig::Local,
            ModelChoice::Bedrock => ModelConfig::Bedrock(BedrockApi::Converse),
            ModelChoice::BedrockInvoke => ModelConfig::Bedrock(BedrockApi::InvokeModel),
        }
    }
}

/// The model configuration of a batch job: `choice` if given, else `PROMPTOPS_MODEL` if set,
/// else the local model.
///
/// Unlike [`ModelConfig::from_env`], AWS settings alone (`AWS_REGION`, `AWS_PROFILE`, ...) do
/// not select Bedrock: a batch job over a large file should never start paying for calls
/// because a shell happens to have a region configured.
pub fn model_config(
    choice: Option<ModelChoice>,
    lookup: impl Fn(&str) -> Option<String>,
) -> Result<ModelConfig, ConfigError> {
    match choice {
        Some(choice) => Ok(choice.config()),
        None => ModelConfig::from_lookup_or_local(lookup),
    }
}

/// The runtime of a batch job: the model from [`model_config`] (reading the process
/// environment), the retry policy from `PROMPTOPS_*` variables, named [`RUNTIME_NAME`], and
/// the prompt registry when `PROMPT_REGISTRY_FUNCTION` or `PROMPT_REGISTRY_URL` is set
/// ([`Resolver::from_env`]); a run resolves its prompt once and pins that version.
pub async fn build_runtime(choice: Option<ModelChoice>) -> Result<Runtime, ConfigError> {
    let config = model_config(choice, |name| std::env::var(name).ok())?;
    let runtime = Runtime::new(config.build().await)
        .with_retry(RetryPolicy::from_env())
        .with_name(RUNTIME_NAME);
    Ok(match Resolver::from_env()? {
        Some(resolver) => runtime.with_resolver(resolver),
        None => runtime,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |name| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        }
    }

    #[test]
    fn local_unless_asked_for_bedrock() {
        assert_eq!(model_config(None, env(&[])), Ok(ModelConfig::Local));
        assert_eq!(
            model_config(
                None,
                env(&[("AWS_REGION", "us-east-1"), ("AWS_PROFILE", "dev")])
            ),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            model_config(None, env(&[("PROMPTOPS_MODEL", "bedrock")])),
            Ok(ModelConfig::Bedrock(BedrockApi::Converse))
        );
        assert_eq!(
            model_config(
                Some(ModelChoice::Local),
                env(&[("PROMPTOPS_MODEL", "bedrock")])
            ),
            Ok(ModelConfig::Local)
        );
        assert_eq!(
            model_config(Some(ModelChoice::BedrockInvoke), env(&[])),
            Ok(ModelConfig::Bedrock(BedrockApi::InvokeModel))
        );
        assert!(model_config(None, env(&[("PROMPTOPS_MODEL", "gpt")])).is_err());
    }

    #[test]
    fn prompts_are_found_by_id() {
        assert_eq!(find_prompt(DEFAULT_PROMPT).unwrap().id, DEFAULT_PROMPT);
        let err = find_prompt("customer-support.nope")
            .unwrap_err()
            .to_string();
        assert!(err.contains("customer-support.reply-drafter"), "{err}");
    }
}
