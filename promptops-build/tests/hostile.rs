//! Hostile prompt files (issue 21): validation stays linear in the size of the file and the
//! number of problems, and every problem is still reported at its line and column.
//!
//! Each attack is generated here, at the size the issue measured, and validated on a thread
//! with a generous deadline: the linear code takes about a second in a debug build, the code
//! before the fix took minutes (or ran out of memory), so a regression fails the deadline
//! instead of hanging the suite. The before/after figures are in `bench/hostile/`.

use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use promptops_build::diagnostic::MAX_SHOWN_LINE_CHARS;
use promptops_build::tree::{validate, SourceFile, Tree, Validated};
use promptops_build::yaml::Pos;
use promptops_build::{render_report, Code, Diagnostic};

/// Far above what the linear code needs on a loaded machine (a few seconds at most), below
/// what the quadratic code needed at these sizes (41 s to minutes, unloaded).
const DEADLINE: Duration = Duration::from_secs(30);

const HEADER_LINES: usize = 5;

fn header(name: &str) -> String {
    format!("id: hostile.{name}\nversion: 1\nowner: red-team\nmodel: nova-lite\ntags: []\n")
}

fn file(name: &str, text: String) -> Tree {
    Tree {
        files: vec![SourceFile::new(format!("hostile/{name}.yaml"), text)],
        ..Tree::default()
    }
}

/// Validates `tree` on a thread; fails the test if it takes longer than [`DEADLINE`].
fn validate_within_deadline(tree: Tree) -> Validated {
    let (sender, receiver) = mpsc::channel();
    thread::spawn(move || {
        let validated = validate(&tree);
        // The rendered report is what the build script and the CLI print: bounded too.
        let report = render_report(&validated.diagnostics);
        let _ = sender.send((validated, report.len()));
    });
    let (validated, report_bytes) = receiver
        .recv_timeout(DEADLINE)
        .unwrap_or_else(|err| panic!("validation did not finish within {DEADLINE:?}: {err}"));
    // A report is at most a few hundred bytes per problem, whatever the lines' lengths.
    assert!(
        report_bytes <= 1_000 * validated.diagnostics.len().max(1),
        "{report_bytes} bytes of report for {} problems",
        validated.diagnostics.len()
    );
    validated
}

fn with_code(validated: &Validated, code: Code) -> Vec<&Diagnostic> {
    validated
        .diagnostics
        .iter()
        .filter(|d| d.code == code)
        .collect()
}

/// Peak resident set size of this process, from `/proc/self/status` (Linux).
fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|line| line.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[test]
fn twenty_thousand_variables_are_inferred_without_copying_the_template() {
    // The 249 KB template with 20k variables took 4.8 GB: the template was copied
    // once per variable.
    let uses: Vec<String> = (0..20_000).map(|i| format!("{{{{ v{i} }}}}")).collect();
    let lines: Vec<String> = uses.chunks(10).map(|chunk| chunk.join(" ")).collect();
    let template: String = lines.iter().map(|line| format!("  {line}\n")).collect();
    let text = format!("{}template: |\n{template}", header("many-variables"));
    assert!(text.len() > 240_000, "{}", text.len());
    let validated = validate_within_deadline(file("many_variables", text));
    assert!(validated.is_ok(), "{:?}", validated.diagnostics.first());
    assert_eq!(validated.prompts[0].def.variables.len(), 20_000);
    if let Some(peak) = peak_rss_bytes() {
        assert!(peak < 1 << 30, "peak RSS {peak} bytes");
    }
}

#[test]
fn forty_thousand_unknown_keys_are_each_reported_at_their_line() {
    let keys = 40_000;
    let mut text = format!("{}template: Hello\n", header("unknown-keys"));
    for i in 0..keys {
        text.push_str(&format!("unknown_{i:05}: 1\n"));
    }
    let validated = validate_within_deadline(file("unknown_keys", text));
    let unknown = with_code(&validated, Code::UnknownField);
    assert_eq!(unknown.len(), keys);
    assert_eq!(validated.diagnostics.len(), keys);
    for (i, diagnostic) in unknown.iter().enumerate() {
        let line = HEADER_LINES + 2 + i;
        assert_eq!(diagnostic.location.pos, Pos { line, col: 1 });
        assert_eq!(diagnostic.location.width, "unknown_00000".len());
        assert_eq!(
            diagnostic.location.line_text.as_deref(),
            Some(format!("unknown_{i:05}: 1").as_str())
        );
        assert!(diagnostic.help.is_some());
    }
}

#[test]
fn unknown_keys_on_one_long_line_show_an_excerpt_each() {
    // One flow mapping on one long line: before the fix every diagnostic copied the line (at
    // 40k keys, a 720 KB line, out of memory at 8 GiB). The excerpts are the assertion here;
    // the test above catches a rescan per diagnostic.
    let keys = 10_000;
    let entries: Vec<String> = (0..keys).map(|i| format!("unknown_{i:05}: 1")).collect();
    let prefix = "{id: hostile.one-line, version: 1, owner: red-team, model: nova-lite, tags: [], template: Hello, ";
    let text = format!("{prefix}{}}}\n", entries.join(", "));
    let validated = validate_within_deadline(file("one_line", text));
    let unknown = with_code(&validated, Code::UnknownField);
    assert_eq!(unknown.len(), keys);
    for (i, diagnostic) in unknown.iter().enumerate() {
        let col = prefix.len() + i * "unknown_00000: 1, ".len() + 1;
        assert_eq!(diagnostic.location.pos, Pos { line: 1, col });
        let shown = diagnostic.location.line_text.as_deref().unwrap_or_default();
        assert!(shown.chars().count() <= MAX_SHOWN_LINE_CHARS + 2);
        let at: String = shown
            .chars()
            .skip(diagnostic.location.shown_col - 1)
            .take(13)
            .collect();
        assert_eq!(at, format!("unknown_{i:05}"));
    }
}

/// A template that uses `count` variables `{prefix}{i}`, ten per line, after `first`.
fn uses(prefix: &str, count: usize, first: &str) -> Vec<String> {
    let names = (0..count).map(|i| format!("{{{{ {prefix}{i:05} }}}}"));
    let all: Vec<String> = std::iter::once(first.to_owned()).chain(names).collect();
    all.chunks(10).map(|chunk| chunk.join(" ")).collect()
}

/// Where `{{ name }}` number `index` (0 is `first`) of [`uses`] is, in a template whose first
/// line is file line `first_line`, indented by `indent`.
fn use_pos(first_line: usize, indent: usize, first: &str, index: usize) -> Pos {
    let use_len = "{{ u00000 }} ".len();
    let line = first_line + index / 10;
    let col_in_line = match (index / 10, index % 10) {
        (_, 0) => 0,
        (0, k) => first.len() + 1 + (k - 1) * use_len,
        (_, k) => k * use_len,
    };
    Pos {
        line,
        col: indent + col_in_line + "{{ ".len() + 1,
    }
}

#[test]
fn two_thousand_undeclared_variables_are_each_located() {
    // 23 KB, 93 s before the fix: each diagnostic rescanned the template and the file.
    let count = 2_000;
    let first = "{{ declared }}";
    let template: String = uses("u", count, first)
        .iter()
        .map(|line| format!("  {line}\n"))
        .collect();
    let text = format!(
        "{}variables:\n  declared: string\ntemplate: |\n{template}",
        header("undeclared")
    );
    let validated = validate_within_deadline(file("undeclared", text));
    let undeclared = with_code(&validated, Code::UndeclaredVariable);
    assert_eq!(undeclared.len(), count);
    assert_eq!(validated.diagnostics.len(), count);
    let template_line = HEADER_LINES + 4;
    for (i, diagnostic) in undeclared.iter().enumerate() {
        assert!(diagnostic.message.contains(&format!("`u{i:05}`")));
        assert_eq!(
            diagnostic.location.pos,
            use_pos(template_line, 2, first, i + 1),
            "{diagnostic}"
        );
        assert_eq!(diagnostic.location.width, 6);
    }
}

#[test]
fn undeclared_variables_in_a_folded_template_are_found_on_their_lines() {
    // A `>` block: positions are found by searching the block's lines for the template
    // line's text. Blank lines keep each template line on its own file line.
    let count = 2_000;
    let first = "{{ declared }}";
    let template: String = uses("u", count, first)
        .iter()
        .map(|line| format!("  {line}\n\n"))
        .collect();
    let text = format!(
        "{}variables:\n  declared: string\ntemplate: >\n{template}",
        header("folded")
    );
    let validated = validate_within_deadline(file("folded", text));
    let undeclared = with_code(&validated, Code::UndeclaredVariable);
    assert_eq!(undeclared.len(), count);
    let template_line = HEADER_LINES + 4;
    for (i, diagnostic) in undeclared.iter().enumerate() {
        let mut expected = use_pos(template_line, 2, first, i + 1);
        expected.line = template_line + 2 * ((i + 1) / 10);
        assert_eq!(diagnostic.location.pos, expected, "{diagnostic}");
    }
}

#[test]
fn five_thousand_near_misses_are_reported_and_suggestions_stay_bounded() {
    // 5k declared `a…` and 5k used `b…`, each one edit from a declared name: "did you mean"
    // against the whole list for each would be 25 million comparisons.
    let count = 5_000;
    let declared: String = (0..count).map(|i| format!("  a{i:05}: string\n")).collect();
    let first = "Hello";
    let template: String = uses("b", count, first)
        .iter()
        .map(|line| format!("  {line}\n"))
        .collect();
    let text = format!(
        "{}variables:\n{declared}template: |\n{template}",
        header("near-misses")
    );
    let validated = validate_within_deadline(file("near_misses", text));
    let undeclared = with_code(&validated, Code::UndeclaredVariable);
    let unused = with_code(&validated, Code::UnusedVariable);
    assert_eq!(undeclared.len(), count);
    assert_eq!(unused.len(), count);
    let template_line = HEADER_LINES + 1 + count + 1 + 1;
    let mut suggested = 0;
    for (i, diagnostic) in undeclared.iter().enumerate() {
        assert_eq!(
            diagnostic.location.pos,
            use_pos(template_line, 2, first, i + 1)
        );
        let help = diagnostic.help.as_deref().unwrap_or_default();
        if help.starts_with("did you mean") {
            // A suggestion given is the closest name, never a worse one.
            assert!(
                help.starts_with(&format!("did you mean `a{i:05}`?")),
                "{help}"
            );
            suggested += 1;
        } else {
            assert_eq!(
                help,
                format!("declare it: `variables: {{ b{i:05}: {{ type: string }} }}`")
            );
        }
    }
    assert!(suggested >= 1, "the first near misses get a suggestion");
    for (i, diagnostic) in unused.iter().enumerate() {
        assert_eq!(
            diagnostic.location.pos,
            Pos {
                line: HEADER_LINES + 2 + i,
                col: 3
            }
        );
    }
}

#[test]
fn forty_thousand_unused_variables_are_each_reported() {
    let count = 40_000;
    let declared: String = (0..count).map(|i| format!("  x{i:05}: string\n")).collect();
    let text = format!(
        "{}variables:\n{declared}template: Hello\n",
        header("unused")
    );
    let validated = validate_within_deadline(file("unused", text));
    let unused = with_code(&validated, Code::UnusedVariable);
    assert_eq!(unused.len(), count);
    for (i, diagnostic) in unused.iter().enumerate() {
        assert_eq!(
            diagnostic.location.pos,
            Pos {
                line: HEADER_LINES + 2 + i,
                col: 3
            }
        );
    }
}

#[test]
fn forty_thousand_labels_are_checked_for_duplicates_in_one_pass() {
    let count = 40_000;
    let mut labels: String = (0..count).map(|i| format!("    - L{i:05}\n")).collect();
    labels.push_str("    - l00007\n");
    let text = format!(
        "{}template: Hello\noutput:\n  labels:\n{labels}",
        header("labels")
    );
    let validated = validate_within_deadline(file("labels", text));
    assert_eq!(
        validated.diagnostics.len(),
        1,
        "{:?}",
        validated.diagnostics
    );
    let duplicate = &validated.diagnostics[0];
    assert_eq!(duplicate.code, Code::InvalidLabels);
    assert_eq!(
        duplicate.location.pos,
        Pos {
            line: HEADER_LINES + 4 + count,
            col: 7
        }
    );
    assert_eq!(
        duplicate.notes,
        ["`L00007` is already a label, and model output is matched ignoring case"]
    );
}

#[test]
fn an_eval_suite_of_many_incomplete_cases_lists_a_bounded_number_of_names() {
    // A classifier with 3,000 required variables and a suite of 3,000 cases that set none:
    // each case is one problem, whose message lists the first names and counts the rest.
    let count = 3_000;
    let declared: String = (0..count).map(|i| format!("  v{i:04}: string\n")).collect();
    let template: String = (0..count).map(|i| format!("{{{{ v{i:04} }}}}")).collect();
    let prompt = format!(
        "{}variables:\n{declared}template: \"{template}\"\noutput:\n  labels: [yes, no]\n",
        header("classifier")
    );
    let cases: String = (0..count)
        .map(|_| "  - expected: yes\n".to_owned())
        .collect();
    let suite = format!("prompt_id: hostile.classifier\ncases:\n{cases}");
    let tree = Tree {
        files: vec![SourceFile::new("hostile/classifier.yaml", prompt)],
        eval_suites: vec![SourceFile::new("hostile/classifier.eval.yaml", suite)],
        ..Tree::default()
    };
    let validated = validate_within_deadline(tree);
    let incomplete = with_code(&validated, Code::EvalVariables);
    assert_eq!(
        incomplete.len(),
        count,
        "{:?}",
        validated.diagnostics.first()
    );
    for (i, diagnostic) in incomplete.iter().enumerate() {
        assert_eq!(
            diagnostic.location.pos,
            Pos {
                line: 3 + i,
                col: 5
            }
        );
        assert!(
            diagnostic.message.contains(&format!(
                "`v0049`, … and {} more of `hostile.classifier`",
                count - 50
            )),
            "{}",
            diagnostic.message
        );
    }
}
