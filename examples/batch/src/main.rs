//! `promptops-batch`: run a compiled-in prompt over a JSON Lines file. See the README.

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Parser, ValueEnum};
use promptops_batch::bedrock_batch::ImportConfig;
use promptops_batch::export::{
    ExportLimits, DEFAULT_MAX_BYTES_PER_FILE, DEFAULT_MAX_RECORDS_PER_FILE,
};
use promptops_batch::merge::MergeConfig;
use promptops_batch::runner::{DEFAULT_CONCURRENCY, DEFAULT_MAX_LINE_BYTES};
use promptops_batch::s3::DEFAULT_STAGE_BYTES;
use promptops_batch::shard::ShardSpec;
use promptops_batch::{
    build_runtime, events, find_prompt, run, BatchError, JobConfig, Location, ModelChoice,
    ProgressMode, StopSignal, Target, DEFAULT_PROMPT,
};

/// Run a compiled-in prompt over a JSON Lines file: bounded concurrency, streaming, resumable,
/// shardable; or export the records for Bedrock batch inference.
#[derive(Debug, Parser)]
#[command(name = "promptops-batch", version)]
#[command(
    after_help = "Subcommands:\n  promptops-batch merge --help           merge the results of a sharded run\n  promptops-batch bedrock import --help  import a Bedrock batch inference job's output"
)]
#[command(group(clap::ArgGroup::new("target").required(true).args(["output", "export_bedrock"])))]
struct Args {
    /// JSON Lines input: one {"id": ..., "message"/"input": ..., variables...} object per line.
    /// A path, or s3://bucket/key (streamed).
    #[arg(long, short, value_parser = parse_location)]
    input: Location,
    /// Results (JSON Lines): a path or s3://bucket/key. If it exists, ids already in it are
    /// skipped (resume). `{shard}` in it becomes the shard (e.g. results-0003-of-0008.jsonl).
    #[arg(long, short, value_parser = parse_location)]
    output: Option<Location>,
    /// Errors file or object [default: <output>.errors.jsonl]; rewritten on every run.
    #[arg(long, value_parser = parse_location)]
    errors: Option<Location>,
    /// The prompt to run (a compiled-in id).
    #[arg(long, short, default_value = DEFAULT_PROMPT)]
    prompt: String,
    /// Model backend [default: PROMPTOPS_MODEL if set, else local].
    #[arg(long, value_enum)]
    model: Option<ModelArg>,
    /// Name this Bedrock model id instead of the prompt's.
    #[arg(long)]
    model_id: Option<String>,
    /// Calls in flight at most.
    #[arg(long, short = 'c', default_value_t = DEFAULT_CONCURRENCY)]
    concurrency: usize,
    /// Process only shard I of N (ids by a fixed hash), e.g. 0/4; or array/N: the index from
    /// AWS_BATCH_JOB_ARRAY_INDEX (each child of an AWS Batch array job of size N).
    #[arg(long, value_name = "I/N")]
    shard: Option<ShardSpec>,
    /// Start over: empty the results file instead of resuming from it.
    #[arg(long)]
    fresh: bool,
    /// Resume even though the results file was written with another prompt version (a run
    /// resolves its prompt once and pins it; mixing versions is refused by default).
    #[arg(long)]
    allow_version_change: bool,
    /// Write a Bedrock batch inference input file (recordId/modelInput) instead of calling a model.
    #[arg(long, value_name = "PATH")]
    export_bedrock: Option<PathBuf>,
    /// Also write the summary as JSON here.
    #[arg(long, value_name = "PATH")]
    summary_json: Option<PathBuf>,
    /// Write prompt events (JSON Lines) here; '-' for stderr. Off by default.
    #[arg(long, value_name = "PATH")]
    events: Option<PathBuf>,
    /// Progress on stderr: a bar on a terminal, plain lines otherwise.
    #[arg(long, value_enum, default_value_t = ProgressArg::Auto)]
    progress: ProgressArg,
    /// Seconds between plain progress lines.
    #[arg(long, default_value_t = 10.0, value_name = "SECONDS")]
    progress_interval: f64,
    /// Longest accepted input line in bytes; longer lines go to the errors file.
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,
    /// Export: records per file (one Bedrock batch inference job each), Bedrock's default
    /// quota; raise it to your account's.
    #[arg(long, default_value_t = DEFAULT_MAX_RECORDS_PER_FILE, value_name = "N")]
    bedrock_max_records: u64,
    /// Export: bytes per file, Bedrock's default quota (1 GB).
    #[arg(long, default_value_t = DEFAULT_MAX_BYTES_PER_FILE, value_name = "BYTES")]
    bedrock_max_bytes: u64,
    /// Exit 0 when the run finished even though some records failed (they are in the errors
    /// file), e.g. for an AWS Batch array child, whose failure would block the merge.
    #[arg(long)]
    allow_failed_records: bool,
    /// S3 output: bytes of results gathered before they are staged (uploaded as a checkpoint
    /// part). A kill loses at most this much, or 30 s, of work.
    #[arg(long, default_value_t = DEFAULT_STAGE_BYTES, value_name = "BYTES")]
    stage_bytes: usize,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ModelArg {
    /// The offline, deterministic local model.
    Local,
    /// Amazon Bedrock, Converse API (AWS configuration from the standard chain).
    Bedrock,
    /// Amazon Bedrock, InvokeModel with native bodies.
    BedrockInvoke,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
enum ProgressArg {
    Auto,
    Bar,
    Plain,
    Off,
}

/// `s3://bucket/key` or a path. (Explicit: clap would otherwise pick `From<&str>`, which makes
/// every text a path.)
fn parse_location(text: &str) -> Result<Location, promptops_batch::location::S3UriError> {
    text.parse()
}

fn config(args: &Args) -> Result<JobConfig, BatchError> {
    let prompt = find_prompt(&args.prompt)?;
    let shard = match args.shard {
        Some(spec) => Some(
            spec.resolve(|name| std::env::var(name).ok())
                .map_err(|err| BatchError::Config(err.to_string()))?,
        ),
        None => None,
    };
    // `{shard}` is filled only when a shard is given; validation refuses one left over.
    let for_shard = |location: &Location| match shard {
        Some(shard) => location.for_shard(shard),
        None => location.clone(),
    };
    let target = match (&args.output, &args.export_bedrock) {
        (Some(output), None) => Target::Results(for_shard(output)),
        (None, Some(export)) => Target::BedrockExport(export.clone()),
        _ => {
            return Err(BatchError::Config(
                "give one of --output or --export-bedrock".into(),
            ))
        }
    };
    if !(args.progress_interval.is_finite() && args.progress_interval > 0.0) {
        return Err(BatchError::Config(
            "--progress-interval must be positive".into(),
        ));
    }
    let mut config = JobConfig::new(args.input.clone(), target, prompt);
    config.errors = args.errors.as_ref().map(for_shard);
    config.model_id = args.model_id.clone();
    config.concurrency = args.concurrency;
    config.shard = shard.unwrap_or_default();
    config.stage_bytes = args.stage_bytes;
    config.export_limits = ExportLimits {
        max_records: args.bedrock_max_records,
        max_bytes: args.bedrock_max_bytes,
    };
    config.fresh = args.fresh;
    config.allow_version_change = args.allow_version_change;
    config.max_line_bytes = args.max_line_bytes;
    config.progress_interval = Duration::from_secs_f64(args.progress_interval);
    config.progress = match args.progress {
        ProgressArg::Auto => ProgressMode::Auto,
        ProgressArg::Bar => ProgressMode::Bar,
        ProgressArg::Plain => ProgressMode::Plain,
        ProgressArg::Off => ProgressMode::Off,
    };
    if args.events.as_deref() == Some(std::path::Path::new("-"))
        && config.progress.resolve() == ProgressMode::Bar
    {
        // Events on stderr would tear the bar apart.
        config.progress = ProgressMode::Plain;
    }
    config.validate()?;
    Ok(config)
}

async fn main_async(args: Args) -> Result<i32, BatchError> {
    let config = config(&args)?;
    let prompt = config.prompt;
    if let Some(note) = &prompt.deprecation_note {
        eprintln!("warning: {} is deprecated: {note}", prompt.id);
    }
    let model = args.model.map(|model| match model {
        ModelArg::Local => ModelChoice::Local,
        ModelArg::Bedrock => ModelChoice::Bedrock,
        ModelArg::BedrockInvoke => ModelChoice::BedrockInvoke,
    });
    let runtime = match &config.target {
        // An export calls no model: do not load any AWS configuration for it.
        Target::BedrockExport(_) => build_runtime(Some(ModelChoice::Local)).await?,
        Target::Results(_) => build_runtime(model).await?,
    };
    let events = match &args.events {
        Some(path) => events::install(path)?,
        None => events::EventsGuard::default(),
    };

    let stop = StopSignal::new();
    let on_signal = stop.clone();
    tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            eprintln!("\nstopping: finishing the calls in flight (Ctrl-C again to abort; rerun to resume)");
            on_signal.request();
            if tokio::signal::ctrl_c().await.is_ok() {
                std::process::exit(130);
            }
        }
    });
    // AWS Batch, ECS and Kubernetes stop a task with SIGTERM (and SIGKILL after a grace
    // period): stop as for Ctrl-C, so the calls in flight are written and the output completed.
    #[cfg(unix)]
    {
        let on_term = stop.clone();
        if let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        {
            tokio::spawn(async move {
                if term.recv().await.is_some() {
                    eprintln!(
                        "\nstopping on SIGTERM: finishing the calls in flight (rerun to resume)"
                    );
                    on_term.request();
                }
            });
        }
    }

    let summary = run(&config, &runtime, &stop).await?;
    events.finish()?;
    print!("{}", summary.text());
    if let Some(path) = &args.summary_json {
        let json = serde_json::to_vec_pretty(&summary)
            .map_err(|err| BatchError::Config(format!("cannot serialize the summary: {err}")))?;
        std::fs::write(path, json).map_err(|source| BatchError::Output {
            location: path.clone().into(),
            source,
        })?;
    }
    match summary.exit_code() {
        1 if args.allow_failed_records => Ok(0),
        code => Ok(code),
    }
}

/// Combine the results of a sharded run into one results object, checking that no id is
/// doubled, misplaced or (with --input) missing. Writes nothing unless every check passes.
#[derive(Debug, Parser)]
#[command(name = "promptops-batch merge")]
struct MergeArgs {
    /// How many shards the run had.
    #[arg(long)]
    shards: u32,
    /// The shards' results, with {shard} where each names its shard (as given to --output),
    /// e.g. s3://bucket/run/results-{shard}.jsonl. Errors are read from beside each.
    #[arg(long, value_parser = parse_location)]
    from: Location,
    /// The merged results (a path or s3://bucket/key); errors go to <output>.errors.jsonl.
    #[arg(long, short, value_parser = parse_location)]
    output: Location,
    /// The run's input: check that every id in it has a result or an error line.
    #[arg(long, short, value_parser = parse_location)]
    input: Option<Location>,
    /// S3 output: bytes gathered per staged part.
    #[arg(long, default_value_t = DEFAULT_STAGE_BYTES, value_name = "BYTES")]
    stage_bytes: usize,
    /// The shards' --max-line-bytes (longer input lines were reported without an id).
    #[arg(long, default_value_t = DEFAULT_MAX_LINE_BYTES)]
    max_line_bytes: usize,
}

async fn merge_main(args: MergeArgs) -> Result<i32, BatchError> {
    let summary = promptops_batch::merge::merge(&MergeConfig {
        from: args.from,
        shards: args.shards,
        output: args.output,
        input: args.input,
        s3: None,
        stage_bytes: args.stage_bytes,
        max_line_bytes: args.max_line_bytes,
    })
    .await?;
    print!("{}", summary.text());
    Ok(summary.exit_code())
}

/// Bedrock batch inference.
#[derive(Debug, Parser)]
#[command(name = "promptops-batch bedrock")]
struct BedrockArgs {
    #[command(subcommand)]
    command: BedrockCommand,
}

#[derive(Debug, clap::Subcommand)]
enum BedrockCommand {
    /// Turn a finished job's output into result and error lines, read with the same parsers
    /// as live calls; exit 1 when records failed or are missing.
    Import(ImportArgs),
}

#[derive(Debug, clap::Args)]
struct ImportArgs {
    /// The export the job read (written by --export-bedrock; its manifest is beside it).
    #[arg(long, short, value_parser = parse_location)]
    input: Location,
    /// The job's output for that export (`<export name>.out` under the job's output location),
    /// a path or s3://bucket/key; repeat for several.
    #[arg(long = "job-output", required = true, value_parser = parse_location)]
    job_outputs: Vec<Location>,
    /// The results (a path or s3://bucket/key); errors go to <output>.errors.jsonl.
    #[arg(long, short, value_parser = parse_location)]
    output: Location,
    /// S3 output: bytes gathered per staged part.
    #[arg(long, default_value_t = DEFAULT_STAGE_BYTES, value_name = "BYTES")]
    stage_bytes: usize,
}

async fn bedrock_main(args: BedrockArgs) -> Result<i32, BatchError> {
    match args.command {
        BedrockCommand::Import(args) => {
            let summary = promptops_batch::bedrock_batch::import(&ImportConfig {
                input: args.input,
                job_outputs: args.job_outputs,
                output: args.output,
                s3: None,
                stage_bytes: args.stage_bytes,
            })
            .await?;
            print!("{}", summary.text());
            Ok(summary.exit_code())
        }
    }
}

fn main() -> ExitCode {
    // `merge` and `bedrock …` are subcommands; everything else is the job's own flags (kept
    // flat, as they were before the subcommands existed).
    let subcommand = std::env::args_os()
        .nth(1)
        .filter(|arg| arg == "merge" || arg == "bedrock");
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return ExitCode::from(2);
        }
    };
    let outcome = match subcommand.as_ref().and_then(|arg| arg.to_str()) {
        Some("merge") => runtime.block_on(merge_main(MergeArgs::parse_from(
            std::env::args_os().skip(1),
        ))),
        Some(_) => runtime.block_on(bedrock_main(BedrockArgs::parse_from(
            std::env::args_os().skip(1),
        ))),
        None => runtime.block_on(main_async(Args::parse())),
    };
    match outcome {
        Ok(code) => ExitCode::from(u8::try_from(code).unwrap_or(1)),
        Err(err) => {
            eprintln!("error: {err}");
            ExitCode::from(err.exit_code())
        }
    }
}
