//! JUnit XML, the format CI systems (GitHub Actions reporters, GitLab, Jenkins) display.

use std::fmt::Write as _;

use crate::report::{PromptReport, Report, Verdict};
use crate::{percent, seconds};

pub(crate) fn render(report: &Report) -> String {
    let tests: usize = report.prompts.iter().map(|p| p.cases.len() + 1).sum();
    let failures: usize = report.prompts.iter().map(failures).sum();
    let errors: usize = report.prompts.iter().map(errors).sum();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"promptops eval\" tests=\"{tests}\" failures=\"{failures}\" errors=\"{errors}\" time=\"{:.3}\">",
        seconds(report.elapsed)
    );
    for prompt in &report.prompts {
        suite(&mut out, report, prompt);
    }
    out.push_str("</testsuites>\n");
    out
}

fn failures(prompt: &PromptReport) -> usize {
    let wrong = prompt
        .cases
        .iter()
        .filter(|case| !case.passed() && case.errors() == 0)
        .count();
    wrong + usize::from(prompt.verdict() == Verdict::Regression)
}

fn errors(prompt: &PromptReport) -> usize {
    let failed = prompt.cases.iter().filter(|case| case.errors() > 0).count();
    failed + usize::from(prompt.verdict() == Verdict::Error)
}

fn suite(out: &mut String, report: &Report, prompt: &PromptReport) {
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{}\" errors=\"{}\">",
        escape(&prompt.prompt_id),
        prompt.cases.len() + 1,
        failures(prompt),
        errors(prompt)
    );
    let _ = writeln!(out, "    <properties>");
    for (name, value) in [
        ("version", prompt.version.to_string()),
        ("content_hash", prompt.content_hash.clone()),
        ("model", report.model.clone()),
        ("repeat", report.repeat.to_string()),
        ("accuracy", format!("{:.4}", prompt.accuracy())),
        ("pass_all", format!("{:.4}", prompt.pass_all())),
        (
            "baseline_accuracy",
            prompt
                .baseline
                .map_or_else(|| "none".to_owned(), |b| format!("{b:.4}")),
        ),
    ] {
        let _ = writeln!(
            out,
            "      <property name=\"{name}\" value=\"{}\"/>",
            escape(&value)
        );
    }
    let _ = writeln!(out, "    </properties>");
    let classname = escape(&prompt.prompt_id);
    for case in &prompt.cases {
        let _ = write!(
            out,
            "    <testcase classname=\"{classname}\" name=\"{}\" file=\"{}\" line=\"{}\"",
            escape(&case.name),
            escape(&case.file),
            case.line
        );
        if case.passed() {
            out.push_str("/>\n");
            continue;
        }
        let element = if case.errors() > 0 {
            "error"
        } else {
            "failure"
        };
        let message = format!(
            "expected {}, got {}",
            case.expected,
            case.wrong_answers().join(" / ")
        );
        let _ = writeln!(
            out,
            ">\n      <{element} message=\"{}\">{}/{} attempts right</{element}>\n    </testcase>",
            escape(&message),
            case.correct(),
            case.answers.len()
        );
    }
    let gate_name = match prompt.baseline {
        Some(baseline) => format!("accuracy >= baseline {}", percent(baseline)),
        None => "accuracy (no baseline declared)".to_owned(),
    };
    let _ = write!(
        out,
        "    <testcase classname=\"{classname}\" name=\"{}\"",
        escape(&gate_name)
    );
    match (prompt.verdict(), prompt.failure_message()) {
        (Verdict::Regression, Some(message)) => {
            let _ = writeln!(
                out,
                ">\n      <failure message=\"{}\"/>\n    </testcase>",
                escape(&message)
            );
        }
        (Verdict::Error, Some(message)) => {
            let _ = writeln!(
                out,
                ">\n      <error message=\"{}\"/>\n    </testcase>",
                escape(&message)
            );
        }
        _ => out.push_str("/>\n"),
    }
    out.push_str("  </testsuite>\n");
}

/// Escapes text for XML attributes and content; drops characters XML 1.0 cannot carry.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\n' => out.push_str("&#10;"),
            '\t' | '\r' => out.push(' '),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::escape;

    #[test]
    fn escapes_markup_and_drops_control_characters() {
        assert_eq!(
            escape("a<b & \"c\" 'd'>\u{1}\ne"),
            "a&lt;b &amp; &quot;c&quot; &apos;d&apos;&gt;&#10;e"
        );
    }
}
