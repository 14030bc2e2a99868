//! `eval`: the gate. Validates the tree's eval suites with the build's rules, runs them against
//! the compiled-in prompts, prints the table, writes JSON / JUnit reports and exits 1 on any
//! regression or error (2 when the run cannot start).

use std::path::{Path, PathBuf};

use promptops_eval::{Options, Report};
use promptops_runtime::{ModelConfig, Runtime};

use crate::{Outcome, Registry};

/// Arguments of `promptops eval`.
#[derive(Debug, clap::Args)]
pub struct EvalArgs {
    /// Only the suites of this prompt.
    #[arg(long, value_name = "ID")]
    prompt: Option<String>,
    /// `local` (offline keyword model), `bedrock` (Converse) or `bedrock-invoke`
    /// (InvokeModel). Defaults to $PROMPTOPS_MODEL, else `local`.
    #[arg(long)]
    model: Option<String>,
    /// Attempts per case; above 1 the table adds pass^N (cases right every time).
    #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..=100))]
    repeat: u32,
    /// Model calls in flight at once.
    #[arg(long, default_value_t = 8, value_parser = clap::value_parser!(u32).range(1..=1024))]
    concurrency: u32,
    /// The prompt tree holding the suites (default: the tree this binary was compiled from).
    #[arg(long, value_name = "DIR")]
    dir: Option<PathBuf>,
    /// Write the JSON report here.
    #[arg(long, value_name = "PATH")]
    json: Option<PathBuf>,
    /// Write the JUnit XML report here.
    #[arg(long, value_name = "PATH")]
    junit: Option<PathBuf>,
}

pub fn run(args: &EvalArgs, registry: &Registry) -> Outcome {
    let dir = args
        .dir
        .clone()
        .unwrap_or_else(|| PathBuf::from(registry.source_dir));
    let mut config = promptops_build::Config::new();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    config
        .prompts_dir(if dir.is_absolute() {
            dir.clone()
        } else {
            cwd.join(&dir)
        })
        .cargo_directives(false);
    let validated = match config.validate() {
        Ok(validated) => validated,
        Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
    };
    if !validated.is_ok() {
        return Outcome::fail(promptops_build::render_report(&validated.diagnostics), 2);
    }
    let plans = match promptops_eval::plan(&validated, registry.prompts, args.prompt.as_deref()) {
        Ok(plans) => plans,
        Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
    };
    let options = Options {
        repeat: args.repeat,
        concurrency: usize::try_from(args.concurrency).unwrap_or(1),
    };

    let tokio = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(tokio) => tokio,
        Err(err) => {
            return Outcome::fail(format!("error: cannot start the async runtime: {err}\n"), 2)
        }
    };
    let report = tokio.block_on(async {
        // `--model` stands in for PROMPTOPS_MODEL; with neither, the offline model.
        let config = ModelConfig::from_lookup_or_local(|name| match &args.model {
            Some(model) if name == promptops_runtime::config::MODEL_ENV => Some(model.clone()),
            _ => std::env::var(name).ok(),
        })
        .map_err(|err| format!("error: {err}\n"))?;
        let runtime = Runtime::new(config.build().await).with_name("eval");
        Ok::<Report, String>(promptops_eval::run(&plans, &runtime, &options).await)
    });
    let report = match report {
        Ok(report) => report,
        Err(message) => return Outcome::fail(message, 2),
    };

    let mut stderr = String::new();
    if let Some(path) = &args.json {
        let text = serde_json::to_string_pretty(&report.json()).unwrap_or_default() + "\n";
        if let Err(message) = write(path, &text) {
            stderr.push_str(&message);
        }
    }
    if let Some(path) = &args.junit {
        if let Err(message) = write(path, &report.junit()) {
            stderr.push_str(&message);
        }
    }
    let code = if !stderr.is_empty() {
        2
    } else if report.passed() {
        0
    } else {
        1
    };
    Outcome {
        stdout: report.table(),
        stderr,
        code,
    }
}

fn write(path: &Path, text: &str) -> Result<(), String> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)
            .map_err(|err| format!("error: cannot create {}: {err}\n", parent.display()))?;
    }
    std::fs::write(path, text)
        .map_err(|err| format!("error: cannot write {}: {err}\n", path.display()))
}
