//! What an eval run found, and its terminal and JSON renderings.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use promptops_build::eval::Expected;
use serde_json::{json, Value};

use crate::{meets, percent, seconds};

/// How far a `number` field may be from the expected value and still count as right: 1% of
/// the expected value, or 0.01 when that is smaller than 1. Integers, strings, booleans,
/// arrays and objects must match exactly. (The build keeps a `number` field's expected value
/// as a float, which is how [`field_matches`] tells the two kinds apart.)
pub const NUMBER_TOLERANCE: f64 = 0.01;

/// What the model answered in one attempt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// One of the prompt's labels.
    Label(&'static str),
    /// A structured answer that filled the prompt's output schema.
    Structured(Value),
    /// Text that is none of the labels (counts as wrong).
    Unexpected(String),
    /// A structured answer that still did not fill the output schema after the repair turns
    /// (counts as wrong): the raw answer.
    Invalid(String),
    /// The call failed after retries (an error, not a wrong answer).
    Failed(String),
}

impl Answer {
    /// How the answer reads in reports.
    pub fn describe(&self) -> String {
        match self {
            Answer::Label(label) => (*label).to_owned(),
            Answer::Structured(value) => shorten(&value.to_string(), 200),
            Answer::Unexpected(text) => format!("{:?} (not a label)", shorten(text, 60)),
            Answer::Invalid(raw) => {
                format!("{:?} (does not fill the output schema)", shorten(raw, 60))
            }
            Answer::Failed(error) => format!("error: {error}"),
        }
    }

    /// Whether this answer is what `expected` asks for: the same label, or every expected
    /// field equal (numbers within [`NUMBER_TOLERANCE`]).
    pub fn matches(&self, expected: &Expected) -> bool {
        match (expected, self) {
            (Expected::Label(label), Answer::Label(answer)) => label == answer,
            (Expected::Fields(fields), Answer::Structured(answer)) => fields
                .iter()
                .all(|(name, value)| field_matches(value, answer.get(name))),
            _ => false,
        }
    }
}

/// Whether a field's answer is its expected value: a float (a `number` field's) within
/// [`NUMBER_TOLERANCE`], everything else exactly.
pub fn field_matches(expected: &Value, got: Option<&Value>) -> bool {
    let Some(got) = got else {
        return false;
    };
    match (expected, got) {
        (Value::Number(want), Value::Number(have)) if want.is_f64() => {
            match (want.as_f64(), have.as_f64()) {
                (Some(want), Some(have)) => {
                    (want - have).abs() <= NUMBER_TOLERANCE * want.abs().max(1.0)
                }
                _ => false,
            }
        }
        _ => expected == got,
    }
}

/// One field's score over the cases that expect a value for it.
#[derive(Debug, Clone, PartialEq)]
pub struct FieldScore {
    /// The field's name.
    pub name: String,
    /// Attempts whose answer had the expected value.
    pub correct: usize,
    /// Attempts of cases that expect the field.
    pub attempts: usize,
    /// `metrics.baseline_accuracy.<field>`, if declared.
    pub baseline: Option<f64>,
}

impl FieldScore {
    /// Share of attempts with the expected value.
    pub fn accuracy(&self) -> f64 {
        if self.attempts == 0 {
            0.0
        } else {
            self.correct as f64 / self.attempts as f64
        }
    }

    /// Whether the field meets its baseline (or has none). A field no case expects cannot.
    pub fn meets_baseline(&self) -> bool {
        self.baseline
            .is_none_or(|baseline| self.attempts > 0 && meets(self.accuracy(), baseline))
    }
}

/// One case's attempts.
#[derive(Debug, Clone, PartialEq)]
pub struct CaseReport {
    /// The case's name.
    pub name: String,
    /// The suite file, as shown in diagnostics.
    pub file: String,
    /// Where the case starts in it.
    pub line: usize,
    /// The label, or the field values, the case expects.
    pub expected: Expected,
    /// One answer per attempt.
    pub answers: Vec<Answer>,
}

impl CaseReport {
    /// Attempts answered as expected: the label, or every expected field.
    pub fn correct(&self) -> usize {
        self.answers
            .iter()
            .filter(|answer| answer.matches(&self.expected))
            .count()
    }

    /// Whether every attempt was right.
    pub fn passed(&self) -> bool {
        self.correct() == self.answers.len()
    }

    /// Attempts whose call failed.
    pub fn errors(&self) -> usize {
        self.answers
            .iter()
            .filter(|answer| matches!(answer, Answer::Failed(_)))
            .count()
    }

    /// The distinct wrong answers, in attempt order.
    pub fn wrong_answers(&self) -> Vec<String> {
        let mut seen = Vec::new();
        for answer in &self.answers {
            let right = answer.matches(&self.expected);
            let text = answer.describe();
            if !right && !seen.contains(&text) {
                seen.push(text);
            }
        }
        seen
    }
}

/// The gate's decision for one prompt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Accuracy meets the baseline.
    Pass,
    /// Accuracy is below the baseline.
    Regression,
    /// At least one call failed, so the accuracy is not trustworthy.
    Error,
    /// The prompt declares no `baseline_accuracy`: reported, not gated.
    NoBaseline,
}

impl Verdict {
    /// Lower-case name used in every report.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Regression => "REGRESSION",
            Verdict::Error => "ERROR",
            Verdict::NoBaseline => "no baseline",
        }
    }

    /// Whether the gate lets this prompt through.
    pub fn passes(self) -> bool {
        matches!(self, Verdict::Pass | Verdict::NoBaseline)
    }
}

/// The results for one prompt, over every suite that tests it.
#[derive(Debug, Clone, PartialEq)]
pub struct PromptReport {
    /// The prompt's id.
    pub prompt_id: String,
    /// Its version.
    pub version: promptops_runtime::Version,
    /// SHA-256 of its file.
    pub content_hash: String,
    /// `metrics.baseline_accuracy`, if declared: for a structured prompt, the floor of the
    /// share of answers with every expected field right.
    pub baseline: Option<f64>,
    /// `metrics.baseline_accuracy.<field>` of a structured prompt, by field.
    pub field_baselines: BTreeMap<String, f64>,
    /// Every case, in suite order.
    pub cases: Vec<CaseReport>,
}

impl PromptReport {
    /// Attempts made.
    pub fn attempts(&self) -> usize {
        self.cases.iter().map(|case| case.answers.len()).sum()
    }

    /// Share of attempts answered right (the gated number).
    pub fn accuracy(&self) -> f64 {
        let attempts = self.attempts();
        if attempts == 0 {
            return 0.0;
        }
        self.cases.iter().map(CaseReport::correct).sum::<usize>() as f64 / attempts as f64
    }

    /// pass^N: share of cases answered right in every attempt.
    pub fn pass_all(&self) -> f64 {
        if self.cases.is_empty() {
            return 0.0;
        }
        self.cases.iter().filter(|case| case.passed()).count() as f64 / self.cases.len() as f64
    }

    /// Attempts whose call failed.
    pub fn errors(&self) -> usize {
        self.cases.iter().map(CaseReport::errors).sum()
    }

    /// Each field a case of a structured prompt expects, in the order the cases first name
    /// them, with its score (empty for classifiers).
    pub fn fields(&self) -> Vec<FieldScore> {
        let mut scores: Vec<FieldScore> = Vec::new();
        for case in &self.cases {
            let Expected::Fields(fields) = &case.expected else {
                continue;
            };
            for (name, value) in fields {
                let index = match scores.iter().position(|score| &score.name == name) {
                    Some(index) => index,
                    None => {
                        scores.push(FieldScore {
                            name: name.clone(),
                            correct: 0,
                            attempts: 0,
                            baseline: self.field_baselines.get(name).copied(),
                        });
                        scores.len() - 1
                    }
                };
                let score = &mut scores[index];
                for answer in &case.answers {
                    score.attempts += 1;
                    if let Answer::Structured(answer) = answer {
                        if field_matches(value, answer.get(name)) {
                            score.correct += 1;
                        }
                    }
                }
            }
        }
        // A field with a baseline that no case expects is scored on nothing, and fails: the
        // baseline would otherwise guard nothing.
        for (name, baseline) in &self.field_baselines {
            if !scores.iter().any(|score| &score.name == name) {
                scores.push(FieldScore {
                    name: name.clone(),
                    correct: 0,
                    attempts: 0,
                    baseline: Some(*baseline),
                });
            }
        }
        scores
    }

    /// The gate's decision: an error when a call failed; else a regression when the accuracy,
    /// or a field's, is below its baseline; no baseline when none is declared.
    pub fn verdict(&self) -> Verdict {
        if self.errors() > 0 {
            return Verdict::Error;
        }
        if self.baseline.is_none() && self.field_baselines.is_empty() {
            return Verdict::NoBaseline;
        }
        let record_ok = self
            .baseline
            .is_none_or(|baseline| meets(self.accuracy(), baseline));
        let fields_ok = self.fields().iter().all(FieldScore::meets_baseline);
        if record_ok && fields_ok {
            Verdict::Pass
        } else {
            Verdict::Regression
        }
    }

    /// Cases with at least one wrong or failed attempt.
    pub fn failing_cases(&self) -> impl Iterator<Item = &CaseReport> {
        self.cases.iter().filter(|case| !case.passed())
    }

    /// One sentence on why the prompt failed the gate, or `None` when it passed.
    pub fn failure_message(&self) -> Option<String> {
        let correct: usize = self.cases.iter().map(CaseReport::correct).sum();
        match self.verdict() {
            Verdict::Pass | Verdict::NoBaseline => None,
            Verdict::Regression => {
                let mut reasons = Vec::new();
                if let Some(baseline) = self.baseline {
                    if !meets(self.accuracy(), baseline) {
                        reasons.push(format!(
                            "scored {} ({correct}/{}), below its baseline_accuracy of {}",
                            percent(self.accuracy()),
                            self.attempts(),
                            percent(baseline),
                        ));
                    }
                }
                for field in self.fields() {
                    if field.attempts == 0 && field.baseline.is_some() {
                        reasons.push(format!(
                            "field `{}` has a baseline_accuracy.{} but no case expects it",
                            field.name, field.name
                        ));
                    } else if !field.meets_baseline() {
                        reasons.push(format!(
                            "field `{}` scored {} ({}/{}), below its baseline_accuracy.{} of {}",
                            field.name,
                            percent(field.accuracy()),
                            field.correct,
                            field.attempts,
                            field.name,
                            percent(field.baseline.unwrap_or_default()),
                        ));
                    }
                }
                Some(format!(
                    "{} v{} {}",
                    self.prompt_id,
                    self.version,
                    reasons.join("; ")
                ))
            }
            Verdict::Error => Some(format!(
                "{} v{}: {} of {} model calls failed",
                self.prompt_id,
                self.version,
                self.errors(),
                self.attempts()
            )),
        }
    }
}

/// A whole eval run.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    /// The model backend that answered (`local`, `bedrock-converse`, ...).
    pub model: String,
    /// Attempts per case.
    pub repeat: u32,
    /// One entry per prompt with a suite, sorted by id.
    pub prompts: Vec<PromptReport>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Report {
    /// Whether the gate passes: no regression and no error in any prompt.
    pub fn passed(&self) -> bool {
        self.prompts.iter().all(|prompt| prompt.verdict().passes())
    }

    /// The terminal table: one row per prompt, then every failing case with expected vs got,
    /// then the verdict.
    pub fn table(&self) -> String {
        let mut header = vec!["PROMPT", "VERSION", "CASES", "ACCURACY"];
        let pass_all_title = format!("PASS^{}", self.repeat);
        if self.repeat > 1 {
            header.push(&pass_all_title);
        }
        header.extend(["BASELINE", "VERDICT"]);
        let rows: Vec<Vec<String>> = self
            .prompts
            .iter()
            .map(|prompt| {
                let mut row = vec![
                    prompt.prompt_id.clone(),
                    prompt.version.to_string(),
                    prompt.cases.len().to_string(),
                    percent(prompt.accuracy()),
                ];
                if self.repeat > 1 {
                    row.push(percent(prompt.pass_all()));
                }
                row.push(prompt.baseline.map_or_else(|| "-".to_owned(), percent));
                row.push(prompt.verdict().as_str().to_owned());
                row
            })
            .collect();
        let mut widths: Vec<usize> = header.iter().map(|title| title.len()).collect();
        for row in &rows {
            for (width, cell) in widths.iter_mut().zip(row) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let mut out = String::new();
        let header: Vec<String> = header.iter().map(|title| (*title).to_owned()).collect();
        for row in std::iter::once(&header).chain(&rows) {
            let cells: Vec<String> = row
                .iter()
                .zip(&widths)
                .enumerate()
                .map(|(i, (cell, width))| {
                    // Text columns left-aligned, numbers right-aligned.
                    if i == 0 || i == row.len() - 1 {
                        format!("{cell:<width$}")
                    } else {
                        format!("{cell:>width$}")
                    }
                })
                .collect();
            let _ = writeln!(out, "{}", cells.join("  ").trim_end());
        }
        for prompt in &self.prompts {
            let fields = prompt.fields();
            if fields.is_empty() {
                continue;
            }
            let scores: Vec<String> = fields
                .iter()
                .map(|field| match field.baseline {
                    Some(baseline) => format!(
                        "{} {} (baseline {}{})",
                        field.name,
                        percent(field.accuracy()),
                        percent(baseline),
                        if field.meets_baseline() {
                            ""
                        } else {
                            ", BELOW"
                        }
                    ),
                    None => format!("{} {}", field.name, percent(field.accuracy())),
                })
                .collect();
            let _ = writeln!(out, "\n{} fields: {}", prompt.prompt_id, scores.join(", "));
        }
        for prompt in &self.prompts {
            let failing: Vec<&CaseReport> = prompt.failing_cases().collect();
            if failing.is_empty() {
                continue;
            }
            let _ = writeln!(
                out,
                "\n{} — {} failing case{}:",
                prompt.prompt_id,
                failing.len(),
                if failing.len() == 1 { "" } else { "s" }
            );
            for case in failing {
                let tally = if self.repeat > 1 {
                    format!(" [{}/{} right]", case.correct(), case.answers.len())
                } else {
                    String::new()
                };
                let _ = writeln!(
                    out,
                    "  {}:{} {}: expected {}, got {}{tally}",
                    case.file,
                    case.line,
                    case.name,
                    case.expected,
                    case.wrong_answers().join(" / ")
                );
            }
        }
        let cases: usize = self.prompts.iter().map(|prompt| prompt.cases.len()).sum();
        let _ = writeln!(out);
        for prompt in &self.prompts {
            if let Some(message) = prompt.failure_message() {
                let _ = writeln!(out, "error: {message}");
            }
        }
        let _ = writeln!(
            out,
            "eval {}: {} prompt{}, {cases} cases × {} on `{}` in {:.2}s",
            if self.passed() { "passed" } else { "FAILED" },
            self.prompts.len(),
            if self.prompts.len() == 1 { "" } else { "s" },
            self.repeat,
            self.model,
            seconds(self.elapsed)
        );
        out
    }

    /// The machine-readable report.
    pub fn json(&self) -> Value {
        let prompts: Vec<Value> = self
            .prompts
            .iter()
            .map(|prompt| {
                let failures: Vec<Value> = prompt
                    .failing_cases()
                    .map(|case| {
                        json!({
                            "name": case.name,
                            "file": case.file,
                            "line": case.line,
                            "expected": expected_json(&case.expected),
                            "correct": case.correct(),
                            "attempts": case.answers.len(),
                            "got": case.answers.iter().map(Answer::describe).collect::<Vec<_>>(),
                        })
                    })
                    .collect();
                json!({
                    "prompt_id": prompt.prompt_id,
                    "version": prompt.version,
                    "content_hash": prompt.content_hash,
                    "cases": prompt.cases.len(),
                    "attempts": prompt.attempts(),
                    "accuracy": prompt.accuracy(),
                    "pass_all": prompt.pass_all(),
                    "baseline_accuracy": prompt.baseline,
                    "errors": prompt.errors(),
                    "verdict": prompt.verdict().as_str().to_lowercase(),
                    "message": prompt.failure_message(),
                    "fields": prompt.fields().iter().map(|field| json!({
                        "name": field.name,
                        "accuracy": field.accuracy(),
                        "correct": field.correct,
                        "attempts": field.attempts,
                        "baseline_accuracy": field.baseline,
                    })).collect::<Vec<_>>(),
                    "failing_cases": failures,
                })
            })
            .collect();
        json!({
            "passed": self.passed(),
            "model": self.model,
            "repeat": self.repeat,
            "elapsed_seconds": seconds(self.elapsed),
            "prompts": prompts,
        })
    }

    /// The JUnit XML report (one `<testsuite>` per prompt, one `<testcase>` per case plus one
    /// for the baseline gate), for CI systems that display test results.
    pub fn junit(&self) -> String {
        crate::junit::render(self)
    }
}

/// A case's expectation in the JSON report: the label, or the fields as an object.
fn expected_json(expected: &Expected) -> Value {
    match expected {
        Expected::Label(label) => Value::from(label.as_str()),
        Expected::Fields(fields) => Value::Object(fields.iter().cloned().collect()),
    }
}

fn shorten(text: &str, max: usize) -> String {
    let text = text.trim();
    if text.chars().count() <= max {
        return text.to_owned();
    }
    let mut short: String = text.chars().take(max).collect();
    short.push('…');
    short
}
