//! `promptops validate --format json|sarif` and GitHub annotations over the broken-prompt
//! corpus: every diagnostic of every case has a line and column in every format, the SARIF
//! log validates against the SARIF 2.1.0 schema (vendored in `tests/schemas/`) and meets what
//! GitHub code scanning needs, and two cases are kept as snapshots of each format.
//! Refresh the snapshots with `PROMPTOPS_BLESS=1 cargo test -p promptops-tests --test formats`.

use std::fs;
use std::path::PathBuf;

use jsonschema::Validator;
use promptops_build::{render_report, report, Config, Diagnostic};
use promptops_tests::{check_snapshot, workspace_root, FixtureCrate};
use serde_json::Value;

/// Cases whose output in each format is kept under `tests/snapshots/formats/`.
const SNAPSHOT_CASES: &[&str] = &["empty-file", "many-problems-many-files"];

fn cases() -> Vec<PathBuf> {
    let dir = workspace_root().join("tests/fixtures/build-fail");
    let mut cases: Vec<PathBuf> = fs::read_dir(&dir)
        .expect("fixture directory")
        .filter_map(|entry| Some(entry.ok()?.path()))
        .filter(|path| path.is_dir())
        .collect();
    cases.sort();
    cases
}

fn sarif_validator() -> Validator {
    promptops_tests::sarif_validator().unwrap_or_else(|err| panic!("{err}"))
}

/// What GitHub code scanning needs beyond the schema, and agreement with `diagnostics`.
fn check_sarif(text: &str, diagnostics: &[Diagnostic], validator: &Validator) -> Vec<String> {
    let mut problems = Vec::new();
    let log: Value = serde_json::from_str(text).expect("SARIF is JSON");
    problems.extend(
        validator
            .iter_errors(&log)
            .map(|err| format!("schema: {}: {err}", err.instance_path())),
    );
    if log["version"] != "2.1.0" || log["runs"].as_array().map(Vec::len) != Some(1) {
        problems.push("one run of SARIF 2.1.0 expected".to_owned());
    }
    let run = &log["runs"][0];
    if run["tool"]["driver"]["name"] != "promptops" {
        problems.push("tool.driver.name must be promptops".to_owned());
    }
    let rules = run["tool"]["driver"]["rules"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    let results = run["results"].as_array().cloned().unwrap_or_default();
    if results.len() != diagnostics.len() {
        problems.push(format!(
            "{} results for {} diagnostics",
            results.len(),
            diagnostics.len()
        ));
    }
    for (result, diagnostic) in results.iter().zip(diagnostics) {
        let index = result["ruleIndex"].as_u64().unwrap_or(u64::MAX) as usize;
        if result["ruleId"] != diagnostic.code.as_str()
            || rules.get(index).map(|rule| &rule["id"]) != Some(&result["ruleId"])
        {
            problems.push(format!("{}: rule id or index wrong", diagnostic.code));
        }
        if !result["message"]["text"]
            .as_str()
            .is_some_and(|text| text.starts_with(&diagnostic.message))
        {
            problems.push(format!("{}: message text missing", diagnostic.code));
        }
        let location = &result["locations"][0]["physicalLocation"];
        let uri = location["artifactLocation"]["uri"]
            .as_str()
            .unwrap_or_default();
        if uri.is_empty() || uri.starts_with('/') || uri.contains("://") {
            problems.push(format!("{}: uri `{uri}` is not relative", diagnostic.code));
        }
        let region = &location["region"];
        let line = region["startLine"].as_u64().unwrap_or(0) as usize;
        let column = region["startColumn"].as_u64().unwrap_or(0) as usize;
        if (line, column) != (diagnostic.location.pos.line, diagnostic.location.pos.col) || line < 1
        {
            problems.push(format!(
                "{}: region starts at {line}:{column}",
                diagnostic.code
            ));
        }
    }
    problems
}

#[test]
fn every_format_locates_every_diagnostic_of_the_corpus() {
    let fixture = FixtureCrate::create("formats", false).expect("fixture crate");
    let validator = sarif_validator();
    let snapshots = workspace_root().join("tests/snapshots/formats");
    let mut failures = Vec::new();
    for case in cases() {
        let name = case
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned();
        fixture.load_case(&case).expect("load case");
        let diagnostics = Config::new()
            .prompts_dir(fixture.prompts())
            .display_root(&fixture.dir)
            .cargo_directives(false)
            .validate()
            .expect("validate")
            .diagnostics;
        assert!(!diagnostics.is_empty(), "{name}: no diagnostics");

        // Human: every arrow carries `:LINE:COL`.
        for line in render_report(&diagnostics)
            .lines()
            .filter(|l| l.contains("--> "))
        {
            if !has_line_and_column(line) {
                failures.push(format!(
                    "{name}: human report line without line:col: {line}"
                ));
            }
        }

        // JSON: one object per diagnostic and line, each with the required keys.
        let json = report::json_lines(&diagnostics).expect("json");
        let objects: Vec<Value> = json
            .lines()
            .map(|line| serde_json::from_str(line).expect("each line is a JSON object"))
            .collect();
        assert_eq!(objects.len(), diagnostics.len(), "{name}");
        for (object, diagnostic) in objects.iter().zip(&diagnostics) {
            for key in [
                "code", "severity", "message", "file", "line", "column", "end", "help",
            ] {
                if object.get(key).is_none() {
                    failures.push(format!("{name}: JSON object without `{key}`: {object}"));
                }
            }
            let line = object["line"].as_u64().unwrap_or(0);
            let column = object["column"].as_u64().unwrap_or(0);
            if line < 1
                || column < 1
                || object["end"]["line"] != line
                || object["end"]["column"].as_u64().unwrap_or(0) < column
            {
                failures.push(format!("{name}: JSON object badly located: {object}"));
            }
            if object["code"] != diagnostic.code.as_str() || object["severity"] != "error" {
                failures.push(format!("{name}: JSON object mislabelled: {object}"));
            }
        }

        // SARIF: valid against the schema, and what code scanning needs.
        let sarif = report::sarif(&diagnostics).expect("sarif");
        failures.extend(
            check_sarif(&sarif, &diagnostics, &validator)
                .into_iter()
                .map(|problem| format!("{name}: SARIF: {problem}")),
        );

        // GitHub annotations: one workflow command per diagnostic, with file, line and column.
        let annotations = report::github_annotations(&diagnostics);
        assert_eq!(annotations.lines().count(), diagnostics.len(), "{name}");
        for (line, diagnostic) in annotations.lines().zip(&diagnostics) {
            let expected = format!(
                "::error file={},line={},col={},",
                diagnostic.file, diagnostic.location.pos.line, diagnostic.location.pos.col
            );
            if !line.starts_with(&expected)
                || !line.contains(&format!("title={}::", diagnostic.code))
            {
                failures.push(format!(
                    "{name}: annotation `{line}` does not start with `{expected}`"
                ));
            }
        }

        if SNAPSHOT_CASES.contains(&name.as_str()) {
            for (extension, text) in [
                ("jsonl", &json),
                ("sarif.json", &sarif),
                ("github.txt", &annotations),
            ] {
                let path = snapshots.join(format!("{name}.{extension}"));
                if let Err(mismatch) = check_snapshot(&path, text) {
                    failures.push(mismatch);
                }
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

/// `--> path:LINE:COL` with both numbers at least 1.
fn has_line_and_column(arrow: &str) -> bool {
    let mut parts = arrow.rsplitn(3, ':');
    let column = parts.next().and_then(|c| c.parse::<usize>().ok());
    let line = parts.next().and_then(|l| l.parse::<usize>().ok());
    matches!((line, column), (Some(l), Some(c)) if l >= 1 && c >= 1)
}

#[test]
fn a_clean_tree_is_an_empty_report_in_every_format() {
    let validator = sarif_validator();
    let sarif = report::sarif(&[]).expect("sarif");
    assert!(check_sarif(&sarif, &[], &validator).is_empty(), "{sarif}");
    assert_eq!(report::json_lines(&[]).expect("json"), "");
    assert_eq!(report::github_annotations(&[]), "");
}
