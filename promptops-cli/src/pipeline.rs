//! `promptops pipeline …`: the beta → prod rendering pipeline over a local directory (`run`),
//! and the offline config check that gates pull requests (`check`).
//!
//! Exit codes: 0 every input succeeded (or every config is valid); 1 some failed; 2 bad usage
//! or a local problem (a missing directory).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use promptops_pipeline::bucket::BucketError;
use promptops_pipeline::config::{PromptConfig, Source, MAX_CONFIG_BYTES};
use promptops_pipeline::env::{resolve_env, Env};
use promptops_pipeline::error::error_chain;
use promptops_pipeline::pipeline::{Outcome as PipelineOutcome, MAX_TEMPLATE_BYTES};
use promptops_pipeline::render::render_config;
use promptops_pipeline::slug::slug_for;
use promptops_pipeline::template::template_text;
use promptops_pipeline::{Bucket, DirBucket, Pipeline, PipelineSettings, Stage, StageError};

use crate::Outcome;

/// Arguments of `promptops pipeline`.
#[derive(Debug, clap::Args)]
pub struct PipelineArgs {
    #[command(subcommand)]
    command: PipelineCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PipelineCommand {
    /// Process every DIR/prompt_inputs/*.json with the local model and write
    /// DIR/<env>/outputs/<slug>.<html|md> (or DIR/<env>/errors/<slug>.json). No AWS needed.
    Run {
        /// The directory standing in for the bucket.
        #[arg(long, value_name = "DIR")]
        bucket_dir: PathBuf,
        /// The deployment's environment (PIPELINE_ENV): inputs for the other one are refused.
        #[arg(long, value_name = "ENV", default_value = "beta")]
        env: String,
        /// The environment of inputs with neither `env` metadata nor a beta-/prod- prefix
        /// (DEFAULT_ENV); by default the deployment's own.
        #[arg(long, value_name = "ENV")]
        default_env: Option<String>,
        /// Inputs processed at once.
        #[arg(long, default_value_t = 16)]
        concurrency: usize,
    },
    /// Validate configs offline (the pull-request gate): JSON, size, slug, the prompt or
    /// template, and the variables against its contract.
    Check {
        /// Config files (prompt_inputs/*.json).
        #[arg(required = true)]
        configs: Vec<PathBuf>,
        /// Where `template` configs' templates are; default: the `prompt_templates/` directory
        /// beside the config's `prompt_inputs/` directory.
        #[arg(long, value_name = "DIR")]
        templates: Option<PathBuf>,
        /// The environment of configs without a beta-/prod- prefix; `prod` refuses drafts.
        #[arg(long, value_name = "ENV", default_value = "beta")]
        env: String,
    },
}

/// Runs `promptops pipeline …`.
pub fn run(args: &PipelineArgs) -> Outcome {
    match &args.command {
        PipelineCommand::Run {
            bucket_dir,
            env,
            default_env,
            concurrency,
        } => {
            let own_env = match env.parse::<Env>() {
                Ok(env) => env,
                Err(err) => return Outcome::fail(format!("--env: {err}\n"), 2),
            };
            let default_env = match default_env.as_deref().map(str::parse::<Env>).transpose() {
                Ok(env) => env.unwrap_or(own_env),
                Err(err) => return Outcome::fail(format!("--default-env: {err}\n"), 2),
            };
            if !bucket_dir.join("prompt_inputs").is_dir() {
                return Outcome::fail(
                    format!(
                        "{}: no prompt_inputs/ directory in it\n",
                        bucket_dir.display()
                    ),
                    2,
                );
            }
            run_local(
                bucket_dir,
                PipelineSettings {
                    own_env,
                    default_env: Some(default_env),
                    model_id: None,
                },
                *concurrency,
            )
        }
        PipelineCommand::Check {
            configs,
            templates,
            env,
        } => match env.parse::<Env>() {
            Ok(env) => check(configs, templates.as_deref(), env),
            Err(err) => Outcome::fail(format!("--env: {err}\n"), 2),
        },
    }
}

fn run_local(dir: &Path, settings: PipelineSettings, concurrency: usize) -> Outcome {
    let tokio = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(tokio) => tokio,
        Err(err) => return Outcome::fail(format!("cannot start the async runtime: {err}\n"), 2),
    };
    let own_env = settings.own_env;
    let pipeline = Arc::new(Pipeline::new(Bucket::Dir(DirBucket::new(dir)), settings));
    let started = std::time::Instant::now();
    let summary = match tokio.block_on(pipeline.process_all(concurrency)) {
        Ok(summary) => summary,
        Err(err) => return Outcome::fail(format!("{}: {}\n", dir.display(), error_chain(&err)), 2),
    };
    let mut out = String::new();
    let _ = writeln!(
        out,
        "promptops pipeline: {own_env} deployment over {} · local model, concurrency {concurrency}",
        dir.display()
    );
    let _ = writeln!(out, "  inputs     {:>5}", summary.outcomes.len());
    let _ = writeln!(out, "  published  {:>5}", summary.published());
    let _ = writeln!(out, "  failed     {:>5}", summary.failed());
    let _ = writeln!(
        out,
        "  elapsed    {:>5.2}s",
        started.elapsed().as_secs_f64()
    );
    for outcome in &summary.outcomes {
        match outcome {
            PipelineOutcome::Published {
                source_key,
                output_key,
            } => {
                let _ = writeln!(out, "  ok      {source_key} → {output_key}");
            }
            PipelineOutcome::Failed {
                failure,
                errors_key,
            } => {
                let _ = writeln!(
                    out,
                    "  failed  {} → {} ({}: {})",
                    failure.source_key,
                    errors_key
                        .as_deref()
                        .unwrap_or("(errors object not written)"),
                    failure.error.stage,
                    failure.error.message
                );
            }
        }
    }
    Outcome {
        stdout: out,
        stderr: String::new(),
        code: if summary.failed() == 0 { 0 } else { 1 },
    }
}

/// Checks one config file: what `run` would do up to (not including) the model call. The config
/// and its template are read as the local bucket reads objects (the config's and the
/// templates' directories as buckets): no symlink followed, only regular files, within the
/// size limits, so a pull request cannot point the gate at `/proc/self/environ` or `/dev/zero`.
fn check_one(path: &Path, templates: Option<&Path>, env: Env) -> Result<String, StageError> {
    let parse = |message: String| StageError::new(Stage::Parse, message);
    let name = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let bytes = DirBucket::new(parent)
        .read(&name, MAX_CONFIG_BYTES)
        .map_err(|err| match err {
            BucketError::TooLarge { size, .. } => parse(format!(
                "the config is {size} bytes; the limit is {MAX_CONFIG_BYTES} (1 MiB)"
            )),
            err => parse(format!("cannot read: {}", error_chain(&err))),
        })?
        .body;
    let key = format!("prompt_inputs/{name}");
    let env = resolve_env(None, &key, Some(env))?;
    let config = PromptConfig::parse(&bytes)?;
    let slug = slug_for(&key, config.output_slug.as_deref())?;
    let template = match config.source()? {
        Source::Template(file) => {
            let dir = match templates {
                Some(dir) => dir.to_path_buf(),
                None => parent
                    .parent()
                    .unwrap_or_else(|| Path::new("."))
                    .join("prompt_templates"),
            };
            // The pipeline's own rule for templates (missing, refused, not UTF-8), so the gate
            // passes exactly what a run would render.
            let read = DirBucket::new(&dir).read(file, MAX_TEMPLATE_BYTES);
            let location = dir.join(file).display().to_string();
            Some(template_text(file, &location, read).map_err(|err| err.to_stage_error())?)
        }
        Source::Prompt(_) => None,
    };
    let rendered = render_config(&config, template.as_deref(), env)?;
    Ok(format!(
        "{env}/outputs/{slug}.{} ({} v{})",
        config.output_format.extension(),
        rendered.prompt.id,
        rendered.prompt.version
    ))
}

fn check(configs: &[PathBuf], templates: Option<&Path>, env: Env) -> Outcome {
    let mut out = String::new();
    let mut failed = 0;
    for path in configs {
        match check_one(path, templates, env) {
            Ok(target) => {
                let _ = writeln!(out, "ok      {} → {target}", path.display());
            }
            Err(err) => {
                failed += 1;
                let _ = writeln!(
                    out,
                    "error   {}: {}: {}",
                    path.display(),
                    err.stage,
                    err.message
                );
            }
        }
    }
    let _ = writeln!(
        out,
        "{} configs, {} valid, {failed} invalid",
        configs.len(),
        configs.len() - failed
    );
    Outcome {
        stdout: out,
        stderr: String::new(),
        code: if failed == 0 { 0 } else { 1 },
    }
}
