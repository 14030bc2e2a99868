//! `diff A B`: a unified diff of two prompt files, where either side may be `REV:PATH` (the
//! file at a git revision). `diff PATH` compares a file with its state at `HEAD` (or `--rev`).
//!
//! Exit codes follow diff(1): 0 identical, 1 different, 2 trouble.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

use similar::TextDiff;

use crate::Outcome;

/// Arguments of `promptops diff`.
#[derive(Debug, clap::Args)]
pub struct DiffArgs {
    /// Old side: a file, or `REV:PATH` for a file at a git revision. With only this argument,
    /// it is the new side and the old side is the same file at `--rev`.
    a: String,
    /// New side: a file, or `REV:PATH`.
    b: Option<String>,
    /// The git revision to compare a single file against.
    #[arg(long, default_value = "HEAD")]
    rev: String,
}

/// One side of the diff: its label and its text.
struct Side {
    label: String,
    text: String,
}

pub fn run(args: &DiffArgs) -> Outcome {
    let sides = match &args.b {
        Some(b) => load(&args.a).and_then(|a| Ok((a, load(b)?))),
        None => at_revision(&args.rev, Path::new(&args.a))
            .and_then(|old| Ok((old, read_file(Path::new(&args.a))?))),
    };
    match sides {
        Ok((old, new)) => Outcome {
            code: i32::from(old.text != new.text),
            stdout: diff(&old, &new),
            stderr: String::new(),
        },
        Err(message) => Outcome::fail(format!("error: {message}\n"), 2),
    }
}

fn load(spec: &str) -> Result<Side, String> {
    let path = Path::new(spec);
    if path.exists() {
        return read_file(path);
    }
    match spec.split_once(':') {
        Some((rev, file)) if !rev.is_empty() && !file.is_empty() => {
            at_revision(rev, Path::new(file))
        }
        _ => Err(format!(
            "{spec}: no such file (use REV:PATH for a file at a git revision)"
        )),
    }
}

fn read_file(path: &Path) -> Result<Side, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|err| format!("cannot read {}: {err}", path.display()))?;
    Ok(Side {
        label: path.display().to_string(),
        text,
    })
}

/// `path` as committed at `rev`, through `git show`, run in the file's directory so relative
/// and absolute paths both work from anywhere inside the repository.
fn at_revision(rev: &str, path: &Path) -> Result<Side, String> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| format!("{} is not a file path", path.display()))?;
    let object = format!("{rev}:./{}", name.to_string_lossy());
    let output = Command::new("git")
        .arg("-C")
        .arg(&dir)
        .args(["show", &object])
        .output()
        .map_err(|err| format!("cannot run git: {err}"))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!(
            "git cannot show {} at {rev}: {}",
            path.display(),
            stderr.trim()
        ));
    }
    let text = String::from_utf8(output.stdout)
        .map_err(|_| format!("{} at {rev} is not UTF-8", path.display()))?;
    Ok(Side {
        label: format!("{rev}:{}", path.display()),
        text,
    })
}

/// A summary of which top-level fields changed, then the unified diff.
fn diff(old: &Side, new: &Side) -> String {
    let mut out = String::new();
    if old.text == new.text {
        return out;
    }
    let before = top_level_fields(&old.text);
    let after = top_level_fields(&new.text);
    let mut changed = Vec::new();
    for (key, value) in &after {
        match before.get(key) {
            None => changed.push(format!("+{key}")),
            Some(old_value) if old_value != value => changed.push(key.clone()),
            Some(_) => {}
        }
    }
    changed.extend(
        before
            .keys()
            .filter(|key| !after.contains_key(*key))
            .map(|key| format!("-{key}")),
    );
    let version = |fields: &BTreeMap<String, String>| {
        fields
            .get("version")
            .map(|v| v.trim().to_owned())
            .unwrap_or_else(|| "?".to_owned())
    };
    if !changed.is_empty() {
        let _ = writeln!(
            out,
            "# version {} → {}; fields changed: {}",
            version(&before),
            version(&after),
            changed.join(", ")
        );
    }
    let _ = write!(
        out,
        "{}",
        TextDiff::from_lines(&old.text, &new.text)
            .unified_diff()
            .context_radius(3)
            .header(&old.label, &new.label)
    );
    out
}

/// Top-level `key: value` blocks of a YAML mapping, by key, as written (value text includes
/// its indented continuation lines). A plain line scan: good enough for a change summary, and
/// it works on files that do not validate.
fn top_level_fields(text: &str) -> BTreeMap<String, String> {
    let mut fields = BTreeMap::new();
    let mut current: Option<(String, String)> = None;
    for line in text.lines() {
        let starts_field = !line.starts_with([' ', '\t', '#', '-']) && line.contains(':');
        if starts_field {
            if let Some((key, value)) = current.take() {
                fields.insert(key, value);
            }
            let (key, rest) = line.split_once(':').unwrap_or((line, ""));
            current = Some((key.trim().to_owned(), format!("{rest}\n")));
        } else if let Some((_, value)) = current.as_mut() {
            value.push_str(line);
            value.push('\n');
        }
    }
    if let Some((key, value)) = current {
        fields.insert(key, value);
    }
    fields
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn summary_names_changed_added_and_removed_fields() {
        let old = Side {
            label: "a".into(),
            text: "id: x\nversion: 2\ntags:\n  - a\ntemplate: |\n  Hi\n".into(),
        };
        let new = Side {
            label: "b".into(),
            text: "id: x\nversion: 3\ntags:\n  - b\noutput:\n  labels: [p, q]\ntemplate: |\n  Hi\n"
                .into(),
        };
        let out = diff(&old, &new);
        assert!(
            out.starts_with(
                "# version 2 → 3; fields changed: +output, tags, version\n--- a\n+++ b\n"
            ),
            "{out}"
        );
        assert!(out.contains("\n-version: 2\n+version: 3\n"), "{out}");
        assert_eq!(diff(&old, &old), "");
    }
}
