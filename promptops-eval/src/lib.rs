//! The eval gate: every eval suite of a prompt tree is run against a model, each prompt's
//! accuracy is compared with its declared `metrics.baseline_accuracy`, and the result is a
//! [`Report`] that renders as a terminal table, JSON and JUnit XML.
//!
//! Suites are validated by `promptops-build` (the same rules that run in `cargo build`); the
//! prompts under test are the compiled-in ones, so the gate measures exactly what ships. A suite
//! whose prompt file changed since the binary was built is refused rather than scored against
//! stale text.
//!
//! ```no_run
//! # async fn demo(validated: promptops_build::Validated,
//! #               registry: &[&'static promptops_runtime::PromptDef]) -> Result<(), promptops_eval::EvalError> {
//! let plans = promptops_eval::plan(&validated, registry, None)?;
//! let runtime = promptops_runtime::Runtime::local().with_name("eval");
//! let report = promptops_eval::run(&plans, &runtime, &promptops_eval::Options::default()).await;
//! print!("{}", report.table());
//! std::process::exit(if report.passed() { 0 } else { 1 });
//! # }
//! ```
#![warn(missing_docs)]

mod junit;
mod report;

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use futures_util::stream::{self, StreamExt};
use promptops_build::eval::{Case, Suite};
use promptops_build::Validated;
use promptops_runtime::{CallOptions, DynVars, InvokeError, PromptDef, Runtime};

pub use report::{
    field_matches, Answer, CaseReport, FieldScore, PromptReport, Report, Verdict, NUMBER_TOLERANCE,
};

/// Accuracies within this distance of the baseline count as meeting it (float noise only).
const BASELINE_TOLERANCE: f64 = 1e-9;

/// Why an eval run could not start.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvalError {
    /// The tree has no `*.eval.yaml` file (or none for the prompt asked for).
    #[error("no eval suites found{}", .0.as_ref().map(|id| format!(" for `{id}`")).unwrap_or_default())]
    NoSuites(Option<String>),
    /// `--prompt` named a prompt that does not exist.
    #[error("no prompt has the id `{id}`{}", .suggestion.as_ref().map(|s| format!(" (did you mean `{s}`?)")).unwrap_or_default())]
    UnknownPrompt {
        /// The id given.
        id: String,
        /// The closest known id.
        suggestion: Option<String>,
    },
    /// A suite tests a prompt this binary does not contain (e.g. a draft in a production build).
    #[error("{suite} tests `{prompt_id}`, which is not compiled into this binary (drafts are left out of production builds)")]
    NotCompiled {
        /// The suite's path.
        suite: String,
        /// The prompt it tests.
        prompt_id: String,
    },
    /// The prompt file on disk differs from the compiled-in prompt.
    #[error("{path} changed since this binary was built: rebuild it (e.g. `cargo run -p promptops-cli -- eval`) so the gate scores the prompt that ships")]
    Stale {
        /// The prompt file.
        path: String,
    },
}

/// One prompt to evaluate: its compiled-in definition and every case of every suite naming it.
#[derive(Debug, Clone)]
pub struct PromptPlan<'s> {
    /// The compiled-in prompt.
    pub def: &'static PromptDef,
    /// Cases in suite-path then file order, with their suite.
    pub cases: Vec<(&'s Suite, &'s Case)>,
}

/// Matches validated suites with the compiled-in prompts, optionally only for `only`.
///
/// Fails when a suite's prompt is not compiled in or its file changed since the build (the
/// content hashes differ), so a passing gate always speaks about the shipped prompt text.
pub fn plan<'s>(
    validated: &'s Validated,
    registry: &[&'static PromptDef],
    only: Option<&str>,
) -> Result<Vec<PromptPlan<'s>>, EvalError> {
    if let Some(id) = only {
        if !validated.prompts.iter().any(|prompt| prompt.def.id == id) {
            return Err(EvalError::UnknownPrompt {
                id: id.to_owned(),
                suggestion: promptops_build::diagnostic::did_you_mean(
                    id,
                    validated
                        .prompts
                        .iter()
                        .map(|prompt| prompt.def.id.as_str()),
                )
                .map(str::to_owned),
            });
        }
    }
    let mut by_prompt: BTreeMap<&str, PromptPlan<'s>> = BTreeMap::new();
    for suite in &validated.suites {
        if only.is_some_and(|id| id != suite.prompt_id) {
            continue;
        }
        let def = registry
            .iter()
            .copied()
            .find(|def| def.id == suite.prompt_id)
            .ok_or_else(|| EvalError::NotCompiled {
                suite: suite.display_path.clone(),
                prompt_id: suite.prompt_id.clone(),
            })?;
        let on_disk = validated
            .prompts
            .iter()
            .find(|prompt| prompt.def.id == suite.prompt_id);
        if let Some(prompt) = on_disk {
            if prompt.def.content_hash != def.content_hash {
                return Err(EvalError::Stale {
                    path: prompt.display_path.clone(),
                });
            }
        }
        by_prompt
            .entry(def.id.as_str())
            .or_insert_with(|| PromptPlan {
                def,
                cases: Vec::new(),
            })
            .cases
            .extend(suite.cases.iter().map(|case| (suite, case)));
    }
    if by_prompt.is_empty() {
        return Err(EvalError::NoSuites(only.map(str::to_owned)));
    }
    Ok(by_prompt.into_values().collect())
}

/// How to run the suites.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    /// Attempts per case (≥ 1). With more than one, reports give pass^N: the share of cases
    /// answered right every time.
    pub repeat: u32,
    /// Model calls in flight at once (≥ 1).
    pub concurrency: usize,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            repeat: 1,
            concurrency: 8,
        }
    }
}

/// Runs every case `options.repeat` times with at most `options.concurrency` calls in flight.
///
/// Never fails as a whole: model errors are recorded per attempt as [`Answer::Failed`] and turn
/// the prompt's verdict into [`Verdict::Error`].
pub async fn run(plans: &[PromptPlan<'_>], runtime: &Runtime, options: &Options) -> Report {
    let started = Instant::now();
    let repeat = options.repeat.max(1);
    let jobs = plans.iter().enumerate().flat_map(|(p, plan)| {
        plan.cases
            .iter()
            .enumerate()
            .flat_map(move |(c, (_, case))| {
                (0..repeat).map(move |attempt| (p, c, attempt, plan.def, *case))
            })
    });
    let answers: Vec<(usize, usize, u32, Answer)> = stream::iter(jobs)
        .map(|(p, c, attempt, def, case)| async move {
            let answer = answer(runtime, def, case, attempt).await;
            (p, c, attempt, answer)
        })
        .buffer_unordered(options.concurrency.max(1))
        .collect()
        .await;

    let mut prompts: Vec<PromptReport> = plans
        .iter()
        .map(|plan| PromptReport {
            prompt_id: plan.def.id.to_owned(),
            version: plan.def.version,
            content_hash: plan.def.content_hash.to_owned(),
            baseline: plan.def.metrics.baseline_accuracy,
            field_baselines: plan
                .def
                .metrics
                .other
                .iter()
                .filter_map(|(name, value)| {
                    name.strip_prefix(promptops_build::schema::FIELD_BASELINE_PREFIX)
                        .map(|field| (field.to_owned(), *value))
                })
                .collect(),
            cases: plan
                .cases
                .iter()
                .map(|(suite, case)| CaseReport {
                    name: case.name.clone(),
                    file: suite.display_path.clone(),
                    line: case.line,
                    expected: case.expected.clone(),
                    answers: vec![Answer::Failed(String::new()); repeat as usize],
                })
                .collect(),
        })
        .collect();
    for (p, c, attempt, answer) in answers {
        prompts[p].cases[c].answers[attempt as usize] = answer;
    }
    Report {
        model: runtime.model().backend().to_owned(),
        repeat,
        prompts,
        elapsed: started.elapsed(),
    }
}

async fn answer(runtime: &Runtime, def: &'static PromptDef, case: &Case, attempt: u32) -> Answer {
    let pairs = case.vars.iter().map(|(name, value)| (name.as_str(), value));
    let vars = match DynVars::from_owned(def, pairs) {
        Ok(vars) => vars,
        // The build validated the suite against this very prompt (same content hash), so this
        // only happens if the two disagree about the rules; report it rather than panic.
        Err(err) => return Answer::Failed(err.to_string()),
    };
    let options =
        CallOptions::with_request_id(format!("eval:{}:{}:{}", def.id, case.line, attempt + 1));
    match runtime
        .invoke_def(def, &vars, case.input.as_deref(), &options)
        .await
    {
        // A structured answer was checked against the schema; its text is the JSON object.
        Ok(completion) if def.output_schema.is_some() => {
            match serde_json::from_str(&completion.output) {
                Ok(value) => Answer::Structured(value),
                Err(_) => Answer::Invalid(completion.output),
            }
        }
        Ok(completion) => match promptops_runtime::parse_label(def, &completion.text) {
            Ok(label) => Answer::Label(label),
            Err(_) => Answer::Unexpected(completion.text),
        },
        // An answer that never filled the schema is a wrong answer, not a failed call.
        Err(InvokeError::OutputInvalid { output, .. }) => Answer::Invalid(output.raw),
        Err(err) => Answer::Failed(err.to_string()),
    }
}

/// Whether `accuracy` meets `baseline`.
fn meets(accuracy: f64, baseline: f64) -> bool {
    accuracy + BASELINE_TOLERANCE >= baseline
}

/// Formats a share as a percentage with one decimal.
fn percent(share: f64) -> String {
    format!("{:.1}%", share * 100.0)
}

/// The elapsed time in seconds, for reports.
fn seconds(elapsed: Duration) -> f64 {
    elapsed.as_secs_f64()
}
