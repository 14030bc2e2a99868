//! The `promptops` command line. Logic lives here so tests can call it without a process.
#![warn(missing_docs)]

use std::fmt::Write as _;
use std::path::PathBuf;

use promptops_runtime::PromptDef;

/// Usage text.
pub const USAGE: &str = "\
promptops — prompts as compile-checked Rust

USAGE:
    promptops list                 table of every compiled-in prompt
    promptops show ID              one prompt: metadata, variables, template
    promptops validate [DIR]       check a prompt tree (default: ./prompts) with the build's rules
    promptops help                 this text
";

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

/// Runs the command line `args` (without the program name) against `registry`.
pub fn run(args: &[String], registry: &'static [&'static PromptDef]) -> Outcome {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    match args.as_slice() {
        ["list"] => Outcome::ok(list(registry)),
        ["show", id] => match promptops_runtime::lookup(registry, id) {
            Some(def) => Outcome::ok(show(def)),
            None => {
                let mut message = format!("error: no prompt with id `{id}`\n");
                if let Some(close) =
                    promptops_build::diagnostic::did_you_mean(id, registry.iter().map(|d| d.id))
                {
                    let _ = writeln!(message, "help: did you mean `{close}`?");
                }
                Outcome::fail(message, 1)
            }
        },
        ["validate"] => validate(PathBuf::from("prompts")),
        ["validate", dir] => validate(PathBuf::from(dir)),
        [] | ["help"] | ["--help"] | ["-h"] => Outcome::ok(USAGE.to_owned()),
        _ => Outcome::fail(
            format!(
                "error: unrecognised arguments: {}\n\n{USAGE}",
                args.join(" ")
            ),
            2,
        ),
    }
}

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
    if let Some(description) = def.description {
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
        ("source", def.source_path.to_owned()),
        ("sha256", def.content_hash.to_owned()),
    ] {
        if !value.is_empty() {
            let _ = writeln!(out, "{key:<8} {value}");
        }
    }
    if !def.variables.is_empty() {
        let _ = writeln!(out, "\nvariables:");
        for var in def.variables {
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
    if let Some(system) = def.system {
        let _ = writeln!(out, "\nsystem:\n{}", indent(system));
    }
    let _ = writeln!(out, "\ntemplate:\n{}", indent(def.template));
    out
}

fn indent(text: &str) -> String {
    text.trim_end()
        .lines()
        .map(|l| format!("  {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `validate DIR`: the build's rules over a tree on disk, without generating anything.
pub fn validate(dir: PathBuf) -> Outcome {
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
    match config.validate() {
        Ok(validated) if validated.is_ok() => Outcome::ok(format!(
            "ok: {} prompts in {} are valid\n",
            validated.prompts.len(),
            dir.display()
        )),
        Ok(validated) => Outcome::fail(promptops_build::render_report(&validated.diagnostics), 1),
        Err(err) => Outcome::fail(format!("error: {err}\n"), 2),
    }
}
