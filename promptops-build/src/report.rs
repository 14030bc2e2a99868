//! Diagnostics for machines: JSON (one object per diagnostic and line, like rustc's
//! `--error-format=json`), SARIF 2.1.0 for code scanning, and GitHub Actions workflow commands
//! (`::error file=...`), so a problem lands on the offending line of a pull request.
//!
//! Every form carries the same facts as the human report: code, message, file, line and
//! column (1-based, counted in characters), the end of the underlined text, help and notes.

use std::path::Path;

use serde::Serialize;

use crate::diagnostic::{Code, Diagnostic};

/// Every promptops diagnostic is an error: it fails the build.
pub const SEVERITY: &str = "error";

/// The SARIF version written.
pub const SARIF_VERSION: &str = "2.1.0";

/// Where the SARIF 2.1.0 schema is published, for the log's `$schema`.
pub const SARIF_SCHEMA_URI: &str =
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json";

/// The name tools report under (SARIF `tool.driver.name`).
pub const TOOL_NAME: &str = "promptops";

/// A 1-based line and column, in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct LineColumn {
    /// 1-based line.
    pub line: usize,
    /// 1-based column, in characters.
    pub column: usize,
}

/// One diagnostic as a JSON object.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct JsonDiagnostic<'d> {
    /// The stable code, e.g. `P0102`.
    pub code: &'static str,
    /// Always [`SEVERITY`].
    pub severity: &'static str,
    /// What is wrong.
    pub message: &'d str,
    /// The file, relative to the directory the paths are shown from.
    pub file: &'d str,
    /// Line of the offending text (1 for a problem with the whole file).
    pub line: usize,
    /// Column of the offending text (1 for a problem with the whole file).
    pub column: usize,
    /// Just past the underlined text, on the same line (equal to the start for a whole-file
    /// problem).
    pub end: LineColumn,
    /// The text the human report prints after the caret.
    pub label: Option<&'d str>,
    /// A likely fix.
    pub help: Option<&'d str>,
    /// Extra context.
    pub notes: &'d [String],
}

impl<'d> From<&'d Diagnostic> for JsonDiagnostic<'d> {
    fn from(diagnostic: &'d Diagnostic) -> Self {
        let location = &diagnostic.location;
        let end = location.end();
        JsonDiagnostic {
            code: diagnostic.code.as_str(),
            severity: SEVERITY,
            message: &diagnostic.message,
            file: &diagnostic.file,
            line: location.pos.line,
            column: location.pos.col,
            end: LineColumn {
                line: end.line,
                column: end.col,
            },
            label: diagnostic.label.as_deref(),
            help: diagnostic.help.as_deref(),
            notes: &diagnostic.notes,
        }
    }
}

/// One JSON object per diagnostic, one per line (empty for no diagnostics).
pub fn json_lines(diagnostics: &[Diagnostic]) -> serde_json::Result<String> {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&serde_json::to_string(&JsonDiagnostic::from(diagnostic))?);
        out.push('\n');
    }
    Ok(out)
}

/// A SARIF 2.1.0 log with one run: every [`Code`] as a rule, every diagnostic as a result.
/// Paths relative to the directory shown from become URIs relative to `%SRCROOT%` (the
/// repository root for GitHub code scanning, when run from there).
pub fn sarif(diagnostics: &[Diagnostic]) -> serde_json::Result<String> {
    let log = SarifLog {
        schema: SARIF_SCHEMA_URI,
        version: SARIF_VERSION,
        runs: [Run {
            tool: Tool {
                driver: Driver {
                    name: TOOL_NAME,
                    version: env!("CARGO_PKG_VERSION"),
                    rules: Code::ALL.iter().map(|code| rule(*code)).collect(),
                },
            },
            column_kind: "unicodeCodePoints",
            results: diagnostics.iter().map(sarif_result).collect(),
        }],
    };
    let mut text = serde_json::to_string_pretty(&log)?;
    text.push('\n');
    Ok(text)
}

/// GitHub Actions workflow commands, one `::error file=…,line=…,col=…::message` line per
/// diagnostic, so each shows as an annotation on the offending line (print them to stdout).
pub fn github_annotations(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        let location = &diagnostic.location;
        let mut properties = vec![
            format!("file={}", escape_property(&diagnostic.file)),
            format!("line={}", location.pos.line),
            format!("col={}", location.pos.col),
        ];
        if location.width > 0 {
            properties.push(format!("endColumn={}", location.end().col));
        }
        properties.push(format!("title={}", diagnostic.code));
        out.push_str(&format!(
            "::error {}::{}\n",
            properties.join(","),
            escape_data(&full_message(diagnostic))
        ));
    }
    out
}

/// The message followed by its notes and help, one per line, as SARIF and annotations show it.
fn full_message(diagnostic: &Diagnostic) -> String {
    let mut text = diagnostic.message.clone();
    for note in &diagnostic.notes {
        text.push_str("\nnote: ");
        text.push_str(note);
    }
    if let Some(help) = &diagnostic.help {
        text.push_str("\nhelp: ");
        text.push_str(help);
    }
    text
}

/// Workflow-command message escaping.
fn escape_data(text: &str) -> String {
    text.replace('%', "%25")
        .replace('\r', "%0D")
        .replace('\n', "%0A")
}

/// Workflow-command property escaping (also `:` and `,`, which delimit properties).
fn escape_property(text: &str) -> String {
    escape_data(text).replace(':', "%3A").replace(',', "%2C")
}

#[derive(Serialize)]
struct SarifLog {
    #[serde(rename = "$schema")]
    schema: &'static str,
    version: &'static str,
    runs: [Run; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Run {
    tool: Tool,
    column_kind: &'static str,
    results: Vec<SarifResult>,
}

#[derive(Serialize)]
struct Tool {
    driver: Driver,
}

#[derive(Serialize)]
struct Driver {
    name: &'static str,
    version: &'static str,
    rules: Vec<Rule>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Rule {
    id: &'static str,
    name: &'static str,
    short_description: Text,
    default_configuration: Configuration,
}

#[derive(Serialize)]
struct Configuration {
    level: &'static str,
}

#[derive(Serialize)]
struct Text {
    text: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifResult {
    rule_id: &'static str,
    rule_index: usize,
    level: &'static str,
    message: Text,
    locations: [SarifLocation; 1],
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SarifLocation {
    physical_location: PhysicalLocation,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct PhysicalLocation {
    artifact_location: ArtifactLocation,
    region: Region,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactLocation {
    uri: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    uri_base_id: Option<&'static str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Region {
    start_line: usize,
    start_column: usize,
    end_line: usize,
    end_column: usize,
}

fn rule(code: Code) -> Rule {
    Rule {
        id: code.as_str(),
        name: code.name(),
        short_description: Text {
            text: code.summary().to_owned(),
        },
        default_configuration: Configuration { level: SEVERITY },
    }
}

fn sarif_result(diagnostic: &Diagnostic) -> SarifResult {
    let location = &diagnostic.location;
    let end = location.end();
    SarifResult {
        rule_id: diagnostic.code.as_str(),
        rule_index: Code::ALL
            .iter()
            .position(|code| *code == diagnostic.code)
            .unwrap_or_default(),
        level: SEVERITY,
        message: Text {
            text: full_message(diagnostic),
        },
        locations: [SarifLocation {
            physical_location: PhysicalLocation {
                artifact_location: artifact_location(&diagnostic.file),
                region: Region {
                    start_line: location.pos.line,
                    start_column: location.pos.col,
                    end_line: end.line,
                    end_column: end.col,
                },
            },
        }],
    }
}

/// A relative path becomes a URI reference against `%SRCROOT%`; an absolute one a `file:` URI.
fn artifact_location(file: &str) -> ArtifactLocation {
    if Path::new(file).is_absolute() {
        let path = file.replace('\\', "/");
        let slash = if path.starts_with('/') { "" } else { "/" };
        ArtifactLocation {
            uri: format!("file://{slash}{}", percent_encode(&path)),
            uri_base_id: None,
        }
    } else {
        ArtifactLocation {
            uri: percent_encode(&file.replace('\\', "/")),
            uri_base_id: Some("%SRCROOT%"),
        }
    }
}

/// Percent-encodes everything but unreserved characters and `/` (RFC 3986).
fn percent_encode(path: &str) -> String {
    let mut out = String::with_capacity(path.len());
    for byte in path.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostic::SourceText;
    use crate::yaml::Pos;

    fn unknown_field() -> Diagnostic {
        let source = SourceText::new("prompts/a/b.yaml", "id: a.b\nownr: team\n");
        source
            .at_pos(
                Code::UnknownField,
                Pos { line: 2, col: 1 },
                4,
                "unknown field `ownr`",
            )
            .with_label("not a prompt field")
            .with_help("did you mean `owner`?")
    }

    #[test]
    fn json_is_one_object_per_line() {
        let empty =
            Diagnostic::file_level(Code::EmptyFile, "prompts/c.yaml", "prompt file is empty");
        let text = json_lines(&[unknown_field(), empty]).expect("json");
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[0],
            r#"{"code":"P0102","severity":"error","message":"unknown field `ownr`","file":"prompts/a/b.yaml","line":2,"column":1,"end":{"line":2,"column":5},"label":"not a prompt field","help":"did you mean `owner`?","notes":[]}"#
        );
        assert_eq!(
            lines[1],
            r#"{"code":"P0003","severity":"error","message":"prompt file is empty","file":"prompts/c.yaml","line":1,"column":1,"end":{"line":1,"column":1},"label":null,"help":null,"notes":[]}"#
        );
        assert_eq!(json_lines(&[]).expect("json"), "");
    }

    #[test]
    fn annotations_escape_and_locate() {
        let mut diagnostic = unknown_field();
        diagnostic.file = "prompts/a,b:c.yaml".to_owned();
        diagnostic.message = "100% wrong".to_owned();
        assert_eq!(
            github_annotations(&[diagnostic]),
            "::error file=prompts/a%2Cb%3Ac.yaml,line=2,col=1,endColumn=5,title=P0102::100%25 wrong%0Ahelp: did you mean `owner`?\n"
        );
    }

    #[test]
    fn sarif_uris_are_relative_and_encoded() {
        let relative = artifact_location("prompts/my prompt.yaml");
        assert_eq!(relative.uri, "prompts/my%20prompt.yaml");
        assert_eq!(relative.uri_base_id, Some("%SRCROOT%"));
        let absolute = artifact_location("/tmp/x y/a.yaml");
        assert_eq!(absolute.uri, "file:///tmp/x%20y/a.yaml");
        assert_eq!(absolute.uri_base_id, None);
    }

    #[test]
    fn sarif_lists_every_rule_and_indexes_results() {
        let text = sarif(&[unknown_field()]).expect("sarif");
        let log: serde_json::Value = serde_json::from_str(&text).expect("valid json");
        let run = &log["runs"][0];
        assert_eq!(
            run["tool"]["driver"]["rules"].as_array().map(Vec::len),
            Some(Code::ALL.len())
        );
        let result = &run["results"][0];
        let index = result["ruleIndex"].as_u64().expect("index") as usize;
        assert_eq!(run["tool"]["driver"]["rules"][index]["id"], "P0102");
        assert_eq!(
            result["locations"][0]["physicalLocation"]["region"]["endColumn"],
            5
        );
    }
}
