//! Template checks: minijinja syntax, and which variables a template uses.
//!
//! Errors are located in the YAML file, not in the template string: a position inside the
//! template is mapped back through the scalar's style (exactly for `|` blocks and one-line
//! scalars, by searching the scalar's lines otherwise). A template given as text rather than
//! in a file (the registry's JSON push) is checked by [`TemplateChecker::check_text`], with
//! positions inside the template.
//!
//! Locating is linear in the template: [`TemplateText`] indexes a template's lines and the
//! first use of each name once, so a template with thousands of undeclared variables costs
//! one pass, not one pass per variable.

use std::cell::{Cell, OnceCell};
use std::collections::{BTreeSet, HashMap};

use minijinja::Environment;
use promptops_core::TemplateLimits;

use crate::diagnostic::{Code, Diagnostic, SourceText};
use crate::lines::LineIndex;
use crate::yaml::{Node, Pos, Style};

/// Compiles templates the way the runtime will; the variables it reports leave out the engine's own
/// names (`promptops_core::builtins`, the rule the pipeline shares).
pub struct TemplateChecker {
    env: Environment<'static>,
    limits: TemplateLimits,
}

impl Default for TemplateChecker {
    fn default() -> Self {
        Self::new()
    }
}

/// Why a template was refused, before it is placed in a file: where in the template (a byte
/// offset and a width in characters) and what to say.
struct Refusal {
    code: Code,
    offset: usize,
    width: usize,
    message: String,
    label: String,
    note: String,
}

impl Refusal {
    fn at(self, source: &SourceText<'_>, pos: Pos) -> Box<Diagnostic> {
        Box::new(
            source
                .at_pos(self.code, pos, self.width, self.message)
                .with_label(self.label)
                .with_note(self.note),
        )
    }
}

impl TemplateChecker {
    /// A checker with minijinja's default syntax, filters and globals.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_debug(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        TemplateChecker {
            env,
            limits: TemplateLimits::default(),
        }
    }

    /// Compiles `node`'s text (the value of field `field`). On success returns the variables the
    /// template reads from its context, minus minijinja's globals; on failure a diagnostic in
    /// the YAML file.
    pub fn check(
        &self,
        source: &SourceText<'_>,
        field: &str,
        node: &Node<'_>,
        text: &str,
    ) -> Result<BTreeSet<String>, Box<Diagnostic>> {
        self.compile(field, text).map_err(|refusal| {
            let pos = TemplateText::new(text).map_offset(source, node, refusal.offset);
            refusal.at(source, pos)
        })
    }

    /// Checks a template given as text, not inside a prompt file (the registry's JSON push):
    /// the rules [`check`](Self::check) applies to a file's `template`, with the same codes and
    /// messages, plus the build's rule that a template is not empty (P0113). Diagnostics name
    /// `display` as their file, and their lines and columns are inside `text`.
    pub fn check_text(
        &self,
        display: &str,
        field: &str,
        text: &str,
    ) -> Result<BTreeSet<String>, Box<Diagnostic>> {
        let source = SourceText::new(display, text);
        if text.trim().is_empty() {
            return Err(Box::new(source.at_pos(
                Code::EmptyValue,
                Pos { line: 1, col: 1 },
                1,
                format!("`{field}` must not be empty"),
            )));
        }
        self.compile(field, text).map_err(|refusal| {
            let pos = source.lines().pos(refusal.offset);
            refusal.at(&source, pos)
        })
    }

    /// The limits, then minijinja: the used variables, or why the template was refused.
    fn compile(&self, field: &str, text: &str) -> Result<BTreeSet<String>, Refusal> {
        // Before the parser: a chain past the limits would overflow the stack while compiling.
        if let Err(exceeded) = self.limits.check(text) {
            let limits = self.limits;
            return Err(Refusal {
                code: Code::TemplateTooComplex,
                offset: exceeded.offset,
                width: 1,
                message: format!("template `{field}` is over a template limit: {exceeded}"),
                label: exceeded.limit.as_str().to_owned(),
                note: format!(
                    "the limits: {} bytes, {} nested blocks, {} operators per tag, {} nested \
                     brackets per tag",
                    limits.max_bytes,
                    limits.max_block_nesting,
                    limits.max_expression_operators,
                    limits.max_bracket_depth
                ),
            });
        }
        match self.env.template_from_str(text) {
            Ok(template) => Ok(promptops_core::builtins::template_variables(
                template.undeclared_variables(false),
            )),
            Err(err) => {
                // minijinja's byte range may end inside a multi-byte character: widen it to
                // whole characters.
                let range = err
                    .range()
                    .filter(|r| r.end <= text.len() && r.start <= r.end)
                    .map(|r| floor_char_boundary(text, r.start)..ceil_char_boundary(text, r.end));
                let offset = match (&range, err.line()) {
                    (Some(range), _) => range.start,
                    (None, Some(line)) => LineIndex::new(text)
                        .line_range(line.max(1))
                        .map_or(text.len(), |range| range.start),
                    (None, None) => 0,
                };
                let width = range
                    .as_ref()
                    .map(|r| text[r.clone()].chars().take_while(|c| *c != '\n').count())
                    .unwrap_or(1);
                let detail = err.detail().unwrap_or("invalid template");
                Err(Refusal {
                    code: Code::TemplateSyntax,
                    offset,
                    width,
                    message: format!("template syntax error in `{field}`: {detail}"),
                    label: err.kind().to_string(),
                    note: "templates use minijinja (Jinja2) syntax: {{ variable }}, {% if %}...{% endif %}".to_owned(),
                })
            }
        }
    }
}

/// A template's text, with the indexes that locating positions in it needs, each built on
/// first use and then shared by every diagnostic about the template.
pub struct TemplateText<'t> {
    text: &'t str,
    lines: OnceCell<LineIndex<'t>>,
    first_uses: OnceCell<HashMap<&'t str, usize>>,
    /// Bytes the search for lines of folded and multi-line flow scalars may still read.
    search_budget: Cell<usize>,
}

/// Bytes of a file one template's line searches may read in total (see
/// [`TemplateText::map_offset`]): a thousand searches through the largest template allowed,
/// a fraction of a second.
pub const LINE_SEARCH_BUDGET: usize = 256 * 1024 * 1024;

impl<'t> TemplateText<'t> {
    /// Wraps a template's text; nothing is indexed until asked for.
    pub fn new(text: &'t str) -> Self {
        TemplateText {
            text,
            lines: OnceCell::new(),
            first_uses: OnceCell::new(),
            search_budget: Cell::new(LINE_SEARCH_BUDGET),
        }
    }

    fn lines(&self) -> &LineIndex<'t> {
        self.lines.get_or_init(|| LineIndex::new(self.text))
    }

    /// Where the first use of variable `name` is in the file, and how wide, for "undeclared
    /// variable" errors: its first whole-word use inside a `{{ }}` or `{% %}` block that does
    /// not follow a `.`; the start of the scalar if there is none.
    pub fn locate_variable(
        &self,
        source: &SourceText<'_>,
        node: &Node<'_>,
        name: &str,
    ) -> (Pos, usize) {
        let uses = self.first_uses.get_or_init(|| first_uses(self.text));
        match uses.get(name) {
            Some(&offset) => (self.map_offset(source, node, offset), name.chars().count()),
            None => (node.region.start, 1),
        }
    }

    /// Maps a byte offset inside the scalar's text to a file position.
    ///
    /// Exact for `|` blocks and one-line scalars. For folded (`>`) and multi-line flow scalars,
    /// whose lines were joined or unescaped, the rest of the template line from the offset is
    /// searched for in the scalar's file lines, and the first line holding it wins. Those
    /// searches read at most [`LINE_SEARCH_BUDGET`] bytes per template; past that (thousands
    /// of problems in one large folded template) positions fall back to the scalar's start,
    /// as they do when the text is not found.
    pub fn map_offset(&self, source: &SourceText<'_>, node: &Node<'_>, offset: usize) -> Pos {
        let offset = floor_char_boundary(self.text, offset.min(self.text.len()));
        let in_text = self.lines().pos(offset);
        let (line_in_text, col_in_text) = (in_text.line - 1, in_text.col - 1);
        let start = node.region.start;
        match node.style() {
            Some(Style::Literal) => Pos {
                line: start.line + line_in_text,
                col: start.col + col_in_text,
            },
            Some(Style::Plain | Style::SingleQuoted | Style::DoubleQuoted)
                if node.region.start.line == node.region.end.line =>
            {
                let quote = usize::from(node.style() != Some(Style::Plain));
                Pos {
                    line: start.line,
                    col: start.col + quote + col_in_text,
                }
            }
            _ => self
                .search_lines(source, node, in_text.line, offset)
                .unwrap_or(start),
        }
    }

    /// For folded and multi-line flow scalars: the first of the scalar's file lines holding
    /// the template line's text from `offset` on.
    fn search_lines(
        &self,
        source: &SourceText<'_>,
        node: &Node<'_>,
        line_in_text: usize,
        offset: usize,
    ) -> Option<Pos> {
        let line_end = self
            .lines()
            .line_range(line_in_text)
            .map_or(offset, |range| range.end.max(offset));
        let needle = self.text[offset..line_end].trim_end();
        if needle.is_empty() {
            return None;
        }
        // The scalar's lines as one stretch of the file: the needle holds no line break, so
        // its first occurrence is on the first line that holds it.
        let lines = source.lines();
        let from = lines.line_range(node.region.start.line)?.start;
        let to = lines
            .line_range(node.region.end.line)
            .map_or(source.text.len(), |range| range.end);
        let haystack = source.text.get(from..to)?;
        let budget = self.search_budget.get();
        if haystack.len() > budget {
            self.search_budget.set(0);
            return None;
        }
        self.search_budget.set(budget - haystack.len());
        haystack.find(needle).map(|found| lines.pos(from + found))
    }
}

/// The byte offset of the first whole-word use of each name inside `{{ }}` and `{% %}` blocks,
/// in one pass: a word is a run of alphanumeric characters and `_`, and a word right after a
/// `.` (an attribute) is not a use.
fn first_uses(text: &str) -> HashMap<&str, usize> {
    let mut uses = HashMap::new();
    let mut from = 0;
    while let Some(open) = find_block_open(text, from) {
        let close_marker = if text.as_bytes()[open + 1] == b'{' {
            "}}"
        } else {
            "%}"
        };
        let body_start = open + 2;
        let body_end = text[body_start..]
            .find(close_marker)
            .map_or(text.len(), |c| body_start + c);
        record_words(&text[body_start..body_end], body_start, &mut uses);
        from = body_end;
    }
    uses
}

/// Offset of the next `{{` or `{%` at or after `from`.
fn find_block_open(text: &str, from: usize) -> Option<usize> {
    let mut at = from;
    while let Some(brace) = text.get(at..)?.find('{').map(|b| at + b) {
        if matches!(text.as_bytes().get(brace + 1), Some(b'{' | b'%')) {
            return Some(brace);
        }
        at = brace + 1;
    }
    None
}

/// Records the words of one block's body (which starts at `base` in the template).
fn record_words<'t>(body: &'t str, base: usize, uses: &mut HashMap<&'t str, usize>) {
    let is_word = |c: char| c.is_alphanumeric() || c == '_';
    let mut previous = None;
    let mut run: Option<(usize, Option<char>)> = None;
    for (at, c) in body.char_indices().chain([(body.len(), ' ')]) {
        match (is_word(c), run) {
            (true, None) => run = Some((at, previous)),
            (false, Some((start, before))) => {
                if before != Some('.') {
                    uses.entry(&body[start..at]).or_insert(base + start);
                }
                run = None;
            }
            _ => {}
        }
        previous = Some(c);
    }
}

fn floor_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

fn ceil_char_boundary(text: &str, mut index: usize) -> usize {
    while !text.is_char_boundary(index) {
        index += 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::yaml;

    fn template_node(doc: &str) -> (Node<'_>, String) {
        let root = yaml::parse(doc).unwrap().remove(0);
        let node = root.as_map().unwrap()[0].1.clone();
        let text = node.as_str().unwrap().to_owned();
        (node, text)
    }

    /// Checks the template in the first field of `doc`.
    fn check(doc: &str) -> Result<BTreeSet<String>, Box<Diagnostic>> {
        let (node, text) = template_node(doc);
        let source = SourceText::new("t.yaml", doc);
        TemplateChecker::new().check(&source, "template", &node, &text)
    }

    #[test]
    fn cores_builtin_names_are_minijinjas_globals() {
        let env = Environment::new();
        let globals: Vec<&str> = env.globals().map(|(name, _)| name).collect();
        assert_eq!(globals, promptops_core::builtins::MINIJINJA_GLOBALS);
    }

    #[test]
    fn variables_exclude_globals_and_locals() {
        let doc = "template: \"{% for x in range(3) %}{{ x }}{{ name }}{% endfor %}{% set y = 1 %}{{ y }}{{ loop_var | default('a') }}\"\n";
        let used = check(doc).unwrap();
        assert_eq!(
            used.into_iter().collect::<Vec<_>>(),
            vec!["loop_var", "name"]
        );
    }

    #[test]
    fn syntax_error_in_literal_block_points_into_the_file() {
        let doc = "template: |\n  Hello {{ name }}\n  Bye {{ name }\n";
        let err = check(doc).unwrap_err();
        let location = err.location;
        assert_eq!(location.pos.line, 3);
        assert!(location.pos.col >= 3, "{:?}", location.pos);
        assert_eq!(err.code, Code::TemplateSyntax);
    }

    #[test]
    fn syntax_error_inside_a_multibyte_character() {
        // minijinja's error range ends inside `é`; the caret covers the whole character.
        let doc = "template: |\n  {{ é }}\n";
        let err = check(doc).unwrap_err();
        assert_eq!(err.code, Code::TemplateSyntax);
        assert_eq!(err.location.pos.line, 2);
        assert_eq!(err.location.pos.col, 6);
        assert_eq!(err.location.width, 1);
    }

    #[test]
    fn syntax_error_in_quoted_scalar() {
        let doc = "template: \"Hi {% if x %}\"\n";
        let err = check(doc).unwrap_err();
        assert_eq!(err.location.pos.line, 1);
    }

    #[test]
    fn a_chain_over_the_limit_is_a_diagnostic_at_its_line() {
        let chain = "|upper".repeat(TemplateLimits::DEFAULT_MAX_EXPRESSION_OPERATORS + 1);
        let doc = format!("template: |\n  Hello\n  {{{{ name{chain} }}}}\n");
        let err = check(&doc).unwrap_err();
        assert_eq!(err.code, Code::TemplateTooComplex);
        assert_eq!(err.location.pos.line, 3);
        assert!(err.message.contains("operators"), "{}", err.message);
    }

    /// The search `locate_variable` made before it indexed first uses (one scan per name).
    fn find_in_expressions_by_scanning(text: &str, name: &str) -> Option<usize> {
        let find_block_open = |text: &str| match (text.find("{{"), text.find("{%")) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        let mut search_from = 0;
        while let Some(open) = find_block_open(&text[search_from..]).map(|o| o + search_from) {
            let close_marker = if text[open..].starts_with("{{") {
                "}}"
            } else {
                "%}"
            };
            let body_end = text[open + 2..]
                .find(close_marker)
                .map_or(text.len(), |c| open + 2 + c);
            let body = &text[open + 2..body_end];
            let mut from = 0;
            while let Some(hit) = body[from..].find(name).map(|h| h + from) {
                let before = body[..hit].chars().next_back();
                let after = body[hit + name.len()..].chars().next();
                let is_word = |c: Option<char>| c.is_some_and(|c| c.is_alphanumeric() || c == '_');
                if !is_word(before) && !is_word(after) && before != Some('.') {
                    return Some(open + 2 + hit);
                }
                from = hit + name.len();
            }
            search_from = body_end;
        }
        None
    }

    #[test]
    fn first_uses_are_where_scanning_for_each_name_finds_them() {
        let texts = [
            "name: {{ names }}\n{{ user.name }} {{ name }}",
            "{% for x in items %}{{ x.y }}{{ y }}{% endfor %}{{ items|join(sep) }}",
            "{{ a }}{% if b %}{{ c}}{%endif%}{{d}} {{ é_var }} {# {{ e }} #}",
            "{{ unclosed name",
            "{%{{ a }}%} {{{ b }}} {{ \"c\" ~ c }} {{ 'd' }}",
            "text { {{ x }} } {% set y = x %}{{ y }}",
            "{{ ünïcode + name2 }}{{ _under }}{{ a.b.c }}{{ c }}",
        ];
        for text in texts {
            let uses = first_uses(text);
            let names = [
                "name",
                "names",
                "user",
                "x",
                "y",
                "items",
                "sep",
                "a",
                "b",
                "c",
                "d",
                "e",
                "é_var",
                "ünïcode",
                "name2",
                "_under",
                "unclosed",
            ];
            for name in names {
                assert_eq!(
                    uses.get(name).copied(),
                    find_in_expressions_by_scanning(text, name),
                    "{name} in {text:?}"
                );
            }
        }
    }

    #[test]
    fn folded_templates_are_located_by_searching_their_lines() {
        let doc = "template: >\n  Hello {{ a }}\n  and {{ b }}\n\n  then {{ c }}\nother: 1\n";
        let (node, text) = template_node(doc);
        let source = SourceText::new("t.yaml", doc);
        let located = TemplateText::new(&text);
        assert_eq!(
            located.locate_variable(&source, &node, "b").0,
            Pos { line: 3, col: 10 }
        );
        assert_eq!(
            located.locate_variable(&source, &node, "c").0,
            Pos { line: 5, col: 11 }
        );
        assert_eq!(
            located.locate_variable(&source, &node, "zz"),
            (node.region.start, 1)
        );
    }

    #[test]
    fn a_template_as_text_is_checked_with_positions_inside_it() {
        let checker = TemplateChecker::new();
        let used = checker.check_text("content", "content", "Hi {{ name }}\r\n{{ b }}");
        assert_eq!(
            used.ok().map(|u| u.into_iter().collect::<Vec<_>>()),
            Some(vec!["b".to_owned(), "name".to_owned()])
        );
        let err = checker
            .check_text("content", "content", "line one\r\n  ok {{ é }}")
            .unwrap_err();
        assert_eq!(err.code, Code::TemplateSyntax);
        assert_eq!(err.location.pos, Pos { line: 2, col: 9 });
        assert_eq!(err.location.line_text.as_deref(), Some("  ok {{ é }}"));
        assert!(
            err.message
                .starts_with("template syntax error in `content`"),
            "{}",
            err.message
        );
        let err = checker.check_text("content", "content", " \n").unwrap_err();
        assert_eq!(err.code, Code::EmptyValue);
        assert_eq!(err.message, "`content` must not be empty");
        let chain = "|upper".repeat(TemplateLimits::DEFAULT_MAX_EXPRESSION_OPERATORS + 1);
        let err = checker
            .check_text("content", "content", &format!("a\nb\n{{{{ x{chain} }}}}"))
            .unwrap_err();
        assert_eq!(err.code, Code::TemplateTooComplex);
        assert_eq!(err.location.pos.line, 3);
    }

    #[test]
    fn locates_first_use_as_a_whole_word() {
        let doc = "template: |\n  name: {{ names }}\n  {{ user.name }} {{ name }}\n";
        let (node, text) = template_node(doc);
        let source = SourceText::new("t.yaml", doc);
        let (pos, width) = TemplateText::new(&text).locate_variable(&source, &node, "name");
        assert_eq!(pos, Pos { line: 3, col: 22 });
        assert_eq!(width, 4);
    }
}
