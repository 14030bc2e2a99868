//! Diagnostics: what went wrong, where, and how to fix it, rendered the way rustc renders its own.

use std::fmt;

use crate::yaml::{Pos, Region};

macro_rules! codes {
    ($($variant:ident = $code:literal: $summary:literal,)*) => {
        /// A stable diagnostic code. Codes never change meaning; new rules get new codes.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum Code {
            $(#[doc = $summary] $variant,)*
        }

        impl Code {
            /// Every code, in numeric order.
            pub const ALL: &'static [Code] = &[$(Code::$variant,)*];

            /// The code as printed, e.g. `P0102`.
            pub const fn as_str(self) -> &'static str {
                match self { $(Code::$variant => $code,)* }
            }

            /// The rule's name, e.g. `UnknownField` (SARIF's `rule.name`).
            pub const fn name(self) -> &'static str {
                match self { $(Code::$variant => stringify!($variant),)* }
            }

            /// One line on what the rule checks.
            pub const fn summary(self) -> &'static str {
                match self { $(Code::$variant => $summary,)* }
            }
        }
    };
}

codes! {
    Io = "P0001": "a prompt file or directory could not be read",
    NotUtf8 = "P0002": "a prompt file is not valid UTF-8",
    EmptyFile = "P0003": "a prompt file is empty",
    YamlSyntax = "P0004": "a prompt file is not valid YAML",
    NotAMapping = "P0005": "a prompt file must hold exactly one YAML mapping",
    OutsideTree = "P0006": "a symlink points outside the prompts directory",
    Alias = "P0007": "YAML anchors and aliases are not supported",
    DuplicateKey = "P0008": "a key appears twice in one mapping",
    MissingField = "P0101": "a required field is missing",
    UnknownField = "P0102": "a field is not part of the prompt schema",
    WrongType = "P0103": "a field has the wrong type",
    InvalidId = "P0104": "an id does not follow the id grammar",
    IdPathMismatch = "P0105": "an id does not match the file's path",
    InvalidVersion = "P0106": "a version is not an integer >= 1",
    InvalidParent = "P0107": "a parent version is not lower than the version",
    InvalidStatus = "P0108": "a status is not draft, stable or deprecated",
    MetricOutOfRange = "P0109": "a metric is out of its range",
    InferenceOutOfRange = "P0110": "an inference setting is out of its range",
    InvalidDate = "P0111": "a date is not an ISO date, or created is after updated",
    InvalidLabels = "P0112": "output labels are empty, duplicated or not usable as Rust names",
    EmptyValue = "P0113": "a text field is empty",
    UnknownModel = "P0114": "a model is neither a known alias nor a Bedrock model id",
    InvalidVariable = "P0115": "a variable declaration is invalid",
    MisplacedDeprecationNote = "P0116": "a deprecation note on a prompt that is not deprecated",
    TemplateSyntax = "P0201": "a template does not compile",
    UndeclaredVariable = "P0202": "a template uses a variable that is not declared",
    UnusedVariable = "P0203": "a declared variable is not used by any template",
    TemplateTooComplex = "P0204": "a template is over the template limits (size, nesting, expression length)",
    DuplicateId = "P0301": "two prompt files declare the same id",
    RustNameCollision = "P0302": "two names map to the same Rust item",
    ReservedName = "P0303": "an id segment cannot be a Rust name",
    InvalidModelTable = "P0304": "the model alias table is invalid",
    UnknownEvalPrompt = "P0401": "an eval suite names a prompt that does not exist",
    EvalPromptNotClassifier = "P0402": "an eval suite's prompt declares no output labels",
    UnknownExpectedLabel = "P0403": "an eval case expects a label its prompt does not declare",
    EvalVariables = "P0404": "an eval case's variables do not match its prompt's contract",
    EvalMissingInput = "P0405": "an eval case has no input though its prompt takes no variables",
    LockedVersionChanged = "P0501": "a version locked in prompts.lock changed its text without a version bump",
    InvalidLock = "P0502": "prompts.lock cannot be read",
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where a diagnostic points: a position and how many characters to underline.
///
/// Every diagnostic has one, so editors, problem matchers and code scanning can always place
/// it: a problem with a file as a whole (empty, not UTF-8, unreadable, a symlink leaving the
/// tree) points at its first line and column, `1:1`, without a source line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    /// 1-based line and column.
    pub pos: Pos,
    /// Characters to underline: at least 1 under a source line, 0 for a whole-file location.
    pub width: usize,
    /// The text of the line, shown under the arrow; `None` for a whole-file location.
    pub line_text: Option<String>,
}

impl Location {
    /// The location of a problem with a whole file: `1:1`, nothing underlined, no line shown.
    pub fn whole_file() -> Self {
        Location {
            pos: Pos { line: 1, col: 1 },
            width: 0,
            line_text: None,
        }
    }

    /// The position just past the underlined characters, on the same line (equal to `pos`
    /// for a whole-file location).
    pub fn end(&self) -> Pos {
        Pos {
            line: self.pos.line,
            col: self.pos.col + self.width,
        }
    }
}

/// One problem found in the prompt tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// The rule that fired.
    pub code: Code,
    /// What is wrong, in one sentence.
    pub message: String,
    /// The file, as shown to the user (relative to the workspace root when known).
    pub file: String,
    /// The offending position (`1:1` for a problem with the whole file).
    pub location: Location,
    /// A short text printed after the caret.
    pub label: Option<String>,
    /// A likely fix.
    pub help: Option<String>,
    /// Extra context (`= note: ...`).
    pub notes: Vec<String>,
}

impl Diagnostic {
    /// A diagnostic about a whole file: located at `1:1`, with no line to show.
    pub fn file_level(code: Code, file: impl Into<String>, message: impl Into<String>) -> Self {
        Diagnostic {
            code,
            message: message.into(),
            file: file.into(),
            location: Location::whole_file(),
            label: None,
            help: None,
            notes: Vec::new(),
        }
    }

    /// Adds the text printed after the caret.
    pub fn with_label(mut self, label: impl Into<String>) -> Self {
        self.label = Some(label.into());
        self
    }

    /// Adds a help line.
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// Adds a note line.
    pub fn with_note(mut self, note: impl Into<String>) -> Self {
        self.notes.push(note.into());
        self
    }

    /// Sort key: file, then position, then code, so output order never depends on discovery.
    pub(crate) fn sort_key(&self) -> (&str, Pos, Code) {
        (&self.file, self.location.pos, self.code)
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "error[{}]: {}", self.code, self.message)?;
        let location = &self.location;
        // The gutter is as wide as the line number shown, or one column without a source line.
        let line_number = match &location.line_text {
            Some(_) => location.pos.line.to_string(),
            None => String::new(),
        };
        let gutter = " ".repeat(line_number.len() + 1);
        writeln!(
            f,
            "{gutter}--> {}:{}:{}",
            self.file, location.pos.line, location.pos.col
        )?;
        if let Some(line_text) = &location.line_text {
            writeln!(f, "{gutter}|")?;
            writeln!(f, "{line_number} | {}", line_text.trim_end())?;
            let indent: String = line_text
                .chars()
                .take(location.pos.col.saturating_sub(1))
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let carets = "^".repeat(location.width.max(1));
            match &self.label {
                Some(label) => writeln!(f, "{gutter}| {indent}{carets} {label}")?,
                None => writeln!(f, "{gutter}| {indent}{carets}")?,
            }
        }
        if self.help.is_some() || !self.notes.is_empty() {
            writeln!(f, "{gutter}|")?;
        }
        for note in &self.notes {
            writeln!(f, "{gutter}= note: {note}")?;
        }
        if let Some(help) = &self.help {
            writeln!(f, "{gutter}= help: {help}")?;
        }
        Ok(())
    }
}

/// A prompt file's text plus its display name, able to turn regions into diagnostics.
#[derive(Debug, Clone)]
pub struct SourceText<'t> {
    /// The path shown in diagnostics.
    pub display: &'t str,
    /// The file's contents.
    pub text: &'t str,
}

impl<'t> SourceText<'t> {
    /// The text of 1-based line `line`, without its newline.
    pub fn line(&self, line: usize) -> &'t str {
        self.text
            .split('\n')
            .nth(line.saturating_sub(1))
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or("")
    }

    /// A diagnostic pointing at `region`, underlining its first line.
    pub fn at(&self, code: Code, region: Region, message: impl Into<String>) -> Diagnostic {
        self.at_pos(code, region.start, region.width_on_first_line(), message)
    }

    /// A diagnostic pointing at `pos`, underlining `width` characters.
    pub fn at_pos(
        &self,
        code: Code,
        pos: Pos,
        width: usize,
        message: impl Into<String>,
    ) -> Diagnostic {
        Diagnostic {
            code,
            message: message.into(),
            file: self.display.to_owned(),
            location: self.location(pos, width),
            label: None,
            help: None,
            notes: Vec::new(),
        }
    }

    /// The location of `width` characters at `pos`, with the line's text, the width clamped to
    /// what the line holds.
    pub fn location(&self, pos: Pos, width: usize) -> Location {
        let line_text = self.line(pos.line).to_owned();
        let available = line_text.chars().count().saturating_sub(pos.col - 1).max(1);
        Location {
            pos,
            width: width.clamp(1, available),
            line_text: Some(line_text),
        }
    }
}

/// Renders all diagnostics followed by a one-line summary, as the build script prints them.
pub fn render_report(diagnostics: &[Diagnostic]) -> String {
    let mut out = String::new();
    for diagnostic in diagnostics {
        out.push_str(&diagnostic.to_string());
        out.push('\n');
    }
    out.push_str(&summary_line(diagnostics));
    out.push('\n');
    out
}

/// `error: 3 problems in 2 prompt files` (the line that ends a failed build's report).
pub fn summary_line(diagnostics: &[Diagnostic]) -> String {
    let mut files: Vec<&str> = diagnostics.iter().map(|d| d.file.as_str()).collect();
    files.sort_unstable();
    files.dedup();
    format!(
        "error: {} in {}",
        plural(diagnostics.len(), "problem", "problems"),
        plural(files.len(), "prompt file", "prompt files")
    )
}

fn plural(count: usize, one: &str, many: &str) -> String {
    if count == 1 {
        format!("1 {one}")
    } else {
        format!("{count} {many}")
    }
}

/// The candidate closest to `word`, if it is close enough to be a plausible typo: at most one
/// edit (insertion, deletion, substitution or swap of neighbours) per three characters.
/// Edit distance rather than a similarity ratio, so a long shared prefix such as
/// `customer-support.` does not make unrelated ids look alike.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let budget = (word.chars().count() / 3).max(1);
    candidates
        .into_iter()
        .map(|candidate| (strsim::damerau_levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= budget)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let source = SourceText {
            display: "prompts/a/b.yaml",
            text: "id: a.b\nownr: team\n",
        };
        let diagnostic = source
            .at_pos(
                Code::UnknownField,
                Pos { line: 2, col: 1 },
                4,
                "unknown field `ownr`",
            )
            .with_label("not a prompt field")
            .with_help("did you mean `owner`?");
        assert_eq!(
            diagnostic.to_string(),
            "error[P0102]: unknown field `ownr`\n  --> prompts/a/b.yaml:2:1\n  |\n2 | ownr: team\n  | ^^^^ not a prompt field\n  |\n  = help: did you mean `owner`?\n"
        );
    }

    #[test]
    fn codes_are_unique_and_sorted() {
        let mut seen: Vec<&str> = Code::ALL.iter().map(|c| c.as_str()).collect();
        let sorted = {
            let mut copy = seen.clone();
            copy.sort_unstable();
            copy
        };
        assert_eq!(seen, sorted);
        seen.dedup();
        assert_eq!(seen.len(), Code::ALL.len());
    }

    #[test]
    fn suggestions_only_for_near_misses() {
        let fields = ["owner", "model", "version"];
        assert_eq!(did_you_mean("ownr", fields), Some("owner"));
        assert_eq!(did_you_mean("modle", fields), Some("model"));
        assert_eq!(did_you_mean("zzz", fields), None);
        let ids = [
            "customer-support.legacy-router",
            "customer-support.intent-classifier",
        ];
        assert_eq!(did_you_mean("customer-support.faq-answerer", ids), None);
        assert_eq!(
            did_you_mean("customer-support.intent-clasifier", ids),
            Some("customer-support.intent-classifier")
        );
    }

    #[test]
    fn caret_width_is_clamped_to_the_line() {
        let source = SourceText {
            display: "x.yaml",
            text: "ab\n",
        };
        let diagnostic = source.at_pos(Code::WrongType, Pos { line: 1, col: 2 }, 50, "m");
        assert_eq!(diagnostic.location.width, 1);
    }

    #[test]
    fn whole_file_problems_point_at_the_first_line() {
        let diagnostic =
            Diagnostic::file_level(Code::EmptyFile, "prompts/a.yaml", "prompt file is empty")
                .with_help("add the prompt's fields, or delete the file");
        assert_eq!(diagnostic.location.pos, Pos { line: 1, col: 1 });
        assert_eq!(diagnostic.location.end(), Pos { line: 1, col: 1 });
        assert_eq!(
            diagnostic.to_string(),
            "error[P0003]: prompt file is empty\n --> prompts/a.yaml:1:1\n |\n = help: add the prompt's fields, or delete the file\n"
        );
    }
}
