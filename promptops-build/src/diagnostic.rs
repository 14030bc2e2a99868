//! Diagnostics: what went wrong, where, and how to fix it, rendered the way rustc renders its own.

use std::fmt;

use crate::lines::LineIndex;
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
    InvalidOutputSchema = "P0117": "an output schema is outside the supported JSON Schema subset, or set beside labels",
    TemplateSyntax = "P0201": "a template does not compile",
    UndeclaredVariable = "P0202": "a template uses a variable that is not declared",
    UnusedVariable = "P0203": "a declared variable is not used by any template",
    TemplateTooComplex = "P0204": "a template is over the template limits (size, nesting, expression length)",
    DuplicateId = "P0301": "two prompt files declare the same id",
    RustNameCollision = "P0302": "two names map to the same Rust item",
    ReservedName = "P0303": "an id segment cannot be a Rust name",
    InvalidModelTable = "P0304": "the model alias table is invalid",
    UnknownEvalPrompt = "P0401": "an eval suite names a prompt that does not exist",
    EvalPromptNotClassifier = "P0402": "an eval suite's prompt declares neither output labels nor an output schema",
    UnknownExpectedLabel = "P0403": "an eval case expects a label its prompt does not declare",
    EvalVariables = "P0404": "an eval case's variables do not match its prompt's contract",
    EvalMissingInput = "P0405": "an eval case has no input though its prompt takes no variables",
    UnknownExpectedField = "P0406": "an eval case expects a field or value its prompt's output schema does not have",
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
    /// The text of the line, shown under the arrow; `None` for a whole-file location. A line
    /// longer than [`MAX_SHOWN_LINE_CHARS`] is shown as an excerpt around the position,
    /// marked with `…` where it was cut.
    pub line_text: Option<String>,
    /// 1-based column, in characters of `line_text`, where the underline starts: `pos.col`
    /// unless `line_text` is an excerpt.
    pub shown_col: usize,
}

/// The longest line a diagnostic shows whole, in characters. Longer lines (a flow mapping
/// written on one line, a minified template) are shown as an excerpt of this many characters
/// around the position, so that many problems on one long line cost output in proportion to
/// their number, not to their number times the line's length.
pub const MAX_SHOWN_LINE_CHARS: usize = 400;

/// Characters shown before the position in an excerpt of a long line.
const EXCERPT_CONTEXT_CHARS: usize = 80;

impl Location {
    /// The location of a problem with a whole file: `1:1`, nothing underlined, no line shown.
    pub fn whole_file() -> Self {
        Location {
            pos: Pos { line: 1, col: 1 },
            width: 0,
            line_text: None,
            shown_col: 1,
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
            let before = location.shown_col.saturating_sub(1);
            let indent: String = line_text
                .chars()
                .take(before)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            // Within the line shown (an excerpt of a long line may end before the underline).
            let shown = line_text.chars().count().saturating_sub(before);
            let carets = "^".repeat(location.width.min(shown).max(1));
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
///
/// It indexes the text's lines once ([`LineIndex`]), so each diagnostic's line costs a binary
/// search rather than a scan of the file.
#[derive(Debug, Clone)]
pub struct SourceText<'t> {
    /// The path shown in diagnostics.
    pub display: &'t str,
    /// The file's contents.
    pub text: &'t str,
    lines: LineIndex<'t>,
}

impl<'t> SourceText<'t> {
    /// A file's text under the path diagnostics show for it.
    pub fn new(display: &'t str, text: &'t str) -> Self {
        SourceText {
            display,
            text,
            lines: LineIndex::new(text),
        }
    }

    /// The index of the text's lines.
    pub fn lines(&self) -> &LineIndex<'t> {
        &self.lines
    }

    /// The text of 1-based line `line`, without its newline.
    pub fn line(&self, line: usize) -> &'t str {
        self.lines.line(line)
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
    /// what the line holds. A line over [`MAX_SHOWN_LINE_CHARS`] characters is kept as an
    /// excerpt around `pos`.
    pub fn location(&self, pos: Pos, width: usize) -> Location {
        let line_chars = self.lines.line_chars(pos.line);
        let before = pos.col.saturating_sub(1);
        let available = line_chars.saturating_sub(before).max(1);
        let width = width.clamp(1, available);
        let line = self.line(pos.line);
        if line_chars <= MAX_SHOWN_LINE_CHARS {
            return Location {
                pos,
                width,
                line_text: Some(line.to_owned()),
                shown_col: pos.col,
            };
        }
        let from = before.min(line_chars).saturating_sub(EXCERPT_CONTEXT_CHARS);
        let to = (from + MAX_SHOWN_LINE_CHARS).min(line_chars);
        let range = self.lines.line_range(pos.line).unwrap_or_default();
        let first = self.lines.char_index(range.start);
        let excerpt =
            &self.text[self.lines.byte_offset(first + from)..self.lines.byte_offset(first + to)];
        let mut line_text = String::with_capacity(excerpt.len() + 6);
        if from > 0 {
            line_text.push('…');
        }
        line_text.push_str(excerpt);
        if to < line_chars {
            line_text.push('…');
        }
        Location {
            pos,
            width,
            line_text: Some(line_text),
            shown_col: before - from + 1 + usize::from(from > 0),
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
/// `customer-support.` does not make unrelated ids look alike. Among equally close candidates
/// the first wins.
///
/// The cost is one comparison per candidate; use [`Suggestions`] where both the words and the
/// candidates come from the input in numbers.
pub fn did_you_mean<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
) -> Option<&'c str> {
    let mut unlimited = usize::MAX;
    closest(word, candidates, &mut unlimited)
}

/// "Did you mean" within a budget of work, for one file.
///
/// A suggestion compares a word with every candidate, at a cost of the product of their
/// lengths: 10,000 misspelt variables against 10,000 declared ones would be 10^8 comparisons.
/// Each file gets [`Suggestions::BUDGET`] units of work (one per candidate looked at, plus
/// one per pair of characters compared), far more than any hand-written file needs; once it
/// is spent, the file's remaining diagnostics are still reported, only without a
/// suggestion. A lookup the budget cannot finish suggests nothing rather than a worse
/// candidate, so a suggestion given is always the one [`did_you_mean`] gives.
#[derive(Debug, Clone)]
pub struct Suggestions {
    remaining: usize,
}

impl Default for Suggestions {
    fn default() -> Self {
        Self::new()
    }
}

impl Suggestions {
    /// Units of work per file (about a second of a debug build at most).
    pub const BUDGET: usize = 2_000_000;

    /// A full budget.
    pub fn new() -> Self {
        Suggestions {
            remaining: Self::BUDGET,
        }
    }

    /// [`did_you_mean`], charged to this budget; `None` once the budget is spent.
    pub fn did_you_mean<'c>(
        &mut self,
        word: &str,
        candidates: impl IntoIterator<Item = &'c str>,
    ) -> Option<&'c str> {
        closest(word, candidates, &mut self.remaining)
    }
}

/// [`did_you_mean`], charging `remaining`; `None` (and `remaining` zero) when it runs out.
fn closest<'c>(
    word: &str,
    candidates: impl IntoIterator<Item = &'c str>,
    remaining: &mut usize,
) -> Option<&'c str> {
    let word_chars = word.chars().count();
    let max_distance = (word_chars / 3).max(1);
    let mut best: Option<(usize, &'c str)> = None;
    for candidate in candidates {
        if *remaining == 0 {
            return None;
        }
        let chars = candidate.chars().count();
        // The distance is at least the difference in length: skip what cannot be close.
        let compared = chars.abs_diff(word_chars) <= max_distance;
        let cost = 1 + chars + if compared { word_chars * chars } else { 0 };
        if cost > *remaining {
            *remaining = 0;
            return None;
        }
        *remaining -= cost;
        if !compared {
            continue;
        }
        let distance = strsim::damerau_levenshtein(word, candidate);
        if distance <= max_distance && best.is_none_or(|(shortest, _)| distance < shortest) {
            best = Some((distance, candidate));
        }
    }
    best.map(|(_, candidate)| candidate)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_like_rustc() {
        let source = SourceText::new("prompts/a/b.yaml", "id: a.b\nownr: team\n");
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
        let source = SourceText::new("x.yaml", "ab\n");
        let diagnostic = source.at_pos(Code::WrongType, Pos { line: 1, col: 2 }, 50, "m");
        assert_eq!(diagnostic.location.width, 1);
    }

    #[test]
    fn a_long_line_is_shown_as_an_excerpt_around_the_position() {
        let keys: Vec<String> = (0..200).map(|i| format!("key_{i:03}: 1")).collect();
        let line = format!("{{{}}}", keys.join(", "));
        let text = format!("id: a\n{line}\n");
        let source = SourceText::new("x.yaml", &text);
        let col = line.find("key_150").unwrap_or_default() + 1;
        let diagnostic = source.at_pos(Code::UnknownField, Pos { line: 2, col }, 7, "m");
        let location = &diagnostic.location;
        assert_eq!(location.pos, Pos { line: 2, col });
        assert_eq!(location.width, 7);
        let shown = location.line_text.as_deref().unwrap_or_default();
        assert!(shown.starts_with('…') && shown.ends_with('…'), "{shown}");
        assert_eq!(shown.chars().count(), MAX_SHOWN_LINE_CHARS + 2);
        let at: String = shown.chars().skip(location.shown_col - 1).take(7).collect();
        assert_eq!(at, "key_150");
        // The caret is under the key in the rendered excerpt.
        let rendered = diagnostic.to_string();
        let lines: Vec<&str> = rendered.lines().collect();
        let caret = lines[4].chars().position(|c| c == '^').unwrap_or_default();
        let above: String = lines[3].chars().skip(caret).take(7).collect();
        assert_eq!(above, "key_150", "{rendered}");
        assert_eq!(lines[4].matches('^').count(), 7);

        // Near the start of the line: no leading cut.
        let diagnostic = source.at_pos(Code::UnknownField, Pos { line: 2, col: 2 }, 7, "m");
        let shown = diagnostic.location.line_text.unwrap_or_default();
        assert!(
            shown.starts_with("{key_000") && shown.ends_with('…'),
            "{shown}"
        );
        assert_eq!(diagnostic.location.shown_col, 2);
    }

    #[test]
    fn excerpts_cut_whole_characters() {
        let line = "é".repeat(1_000);
        let source = SourceText::new("x.yaml", &line);
        let location = source.location(Pos { line: 1, col: 500 }, 3);
        let shown = location.line_text.unwrap_or_default();
        assert_eq!(shown, format!("…{}…", "é".repeat(MAX_SHOWN_LINE_CHARS)));
        assert_eq!(location.shown_col, EXCERPT_CONTEXT_CHARS + 2);
    }

    #[test]
    fn suggestions_within_a_budget_match_the_unbounded_ones() {
        let candidates = ["variable", "variables", "values", "owner", "vars"];
        let mut budget = Suggestions::new();
        for word in ["variabels", "ownr", "valus", "zzz", "varz", "v"] {
            assert_eq!(
                budget.did_you_mean(word, candidates),
                did_you_mean(word, candidates),
                "{word}"
            );
        }
    }

    #[test]
    fn a_spent_budget_suggests_nothing_rather_than_a_worse_candidate() {
        let declared: Vec<String> = (0..20_000).map(|i| format!("a{i:05}")).collect();
        let mut budget = Suggestions::new();
        let mut suggested = 0;
        for i in 0..2_000 {
            let word = format!("b{i:05}");
            match budget.did_you_mean(&word, declared.iter().map(String::as_str)) {
                Some(close) => {
                    assert_eq!(close, format!("a{i:05}"));
                    suggested += 1;
                }
                None => break,
            }
        }
        assert!(suggested > 0, "the first lookups are answered");
        assert!(suggested < 2_000, "the budget ran out");
        assert_eq!(budget.did_you_mean("a00001", ["a00001"]), None);
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
