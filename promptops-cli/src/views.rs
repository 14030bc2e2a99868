//! `list`, `show` and `validate`: views of the compiled-in registry and of a tree on disk.

use std::fmt::Write as _;
use std::path::PathBuf;

use promptops_build::report;
use promptops_runtime::PromptDef;

use crate::Outcome;

/// The `list` table: id, version, status, owner, model.
pub fn list(registry: &[&PromptDef]) -> String {
    let rows: Vec<[String; 5]> = registry
        .iter()
        .map(|d| {
            [
                d.id.to_owned(),
                d.version.to_string(),
                d.status.to_string(),
                d.owner.to_owned(),
                d.model.to_owned(),
            ]
        })
        .collect();
    let header = ["ID", "VERSION", "STATUS", "OWNER", "MODEL"].map(str::to_owned);
    let mut widths = header.clone().map(|h| h.len());
    for row in &rows {
        for (width, cell) in widths.iter_mut().zip(row) {
            *width = (*width).max(cell.chars().count());
        }
    }
    let mut out = String::new();
    for row in std::iter::once(&header).chain(&rows) {
        let line: Vec<String> = row
            .iter()
            .zip(widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        let _ = writeln!(out, "{}", line.join("  ").trim_end());
    }
    let _ = writeln!(out, "\n{} prompts", rows.len());
    out
}

/// The `show` view of one prompt.
pub fn show(def: &PromptDef) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} v{}", def.id, def.version);
    if let Some(description) = &def.description {
        let _ = writeln!(out, "{}", description.trim_end());
    }
    let _ = writeln!(out);
    let parent = def.parent.map_or_else(|| "-".to_owned(), |p| p.to_string());
    for (key, value) in [
        ("owner", def.owner.to_owned()),
        ("model", format!("{} ({})", def.model, def.model_id)),
        ("status", def.status.to_string()),
        ("parent", parent),
        ("tags", def.tags.join(", ")),
        ("labels", def.labels.join(", ")),
        ("source", def.source_path.clone().unwrap_or_default()),
        ("sha256", def.content_hash.to_owned()),
    ] {
        if !value.is_empty() {
            let _ = writeln!(out, "{key:<8} {value}");
        }
    }
    if !def.variables.is_empty() {
        let _ = writeln!(out, "\nvariables:");
        for var in &def.variables {
            let required = if var.required { "required" } else { "optional" };
            let sensitive = if var.sensitive { ", sensitive" } else { "" };
            let _ = writeln!(
                out,
                "  {} ({}, {required}{sensitive})",
                var.name,
                var.ty.as_str()
            );
        }
    }
    if let Some(system) = &def.system {
        let _ = writeln!(out, "\nsystem:\n{}", indent(system));
    }
    let _ = writeln!(out, "\ntemplate:\n{}", indent(&def.template));
    out
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// How `validate` prints the problems it finds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// The rustc-style report `cargo build` prints, on stderr.
    Human,
    /// One JSON object per problem and line, on stdout.
    Json,
    /// A SARIF 2.1.0 log for code scanning, on stdout.
    Sarif,
}

/// `validate DIR`: the build's rules over a tree on disk, without generating anything. Paths
/// are shown relative to the current directory. With `annotate` (GitHub Actions), the human
/// format also prints one `::error` workflow command per problem on stdout.
pub fn validate(dir: PathBuf, format: Format, annotate: bool) -> Outcome {
    let mut config = promptops_build::Config::new();
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let absolute = if dir.is_absolute() {
        dir.clone()
    } else {
        cwd.join(&dir)
    };
    config
        .prompts_dir(&absolute)
        .display_root(&cwd)
        .cargo_directives(false);
    let validated = match config.validate() {
        Ok(validated) => validated,
        Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
    };
    let diagnostics = &validated.diagnostics;
    let code = if diagnostics.is_empty() { 0 } else { 1 };
    let machine = match format {
        Format::Human if diagnostics.is_empty() => {
            return Outcome::ok(format!(
                "ok: {} prompts and {} in {} are valid\n",
                validated.prompts.len(),
                match validated.suites.len() {
                    1 => "1 eval suite".to_owned(),
                    n => format!("{n} eval suites"),
                },
                dir.display()
            ))
        }
        Format::Human => {
            let stdout = if annotate {
                report::github_annotations(diagnostics)
            } else {
                String::new()
            };
            return Outcome {
                stdout,
                stderr: promptops_build::render_report(diagnostics),
                code,
            };
        }
        Format::Json => report::json_lines(diagnostics),
        Format::Sarif => report::sarif(diagnostics),
    };
    match machine {
        Ok(stdout) => Outcome {
            stdout,
            stderr: String::new(),
            code,
        },
        Err(err) => Outcome::fail(format!("error: cannot write the report: {err}\n"), 2),
    }
}
