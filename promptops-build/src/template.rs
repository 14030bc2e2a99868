//! Template checks: minijinja syntax, and which variables a template uses.
//!
//! Errors are located in the YAML file, not in the template string: a position inside the
//! template is mapped back through the scalar's style (exactly for `|` blocks and one-line
//! scalars, by searching the scalar's lines otherwise).

use std::collections::BTreeSet;

use minijinja::Environment;
use promptops_core::TemplateLimits;

use crate::diagnostic::{Code, Diagnostic, SourceText};
use crate::yaml::{Node, Pos, Style};

/// Compiles templates the way the runtime will, and lists the globals a template may use freely.
pub struct TemplateChecker {
    env: Environment<'static>,
    globals: BTreeSet<String>,
    limits: TemplateLimits,
}

impl Default for TemplateChecker {
    fn default() -> Self {
        Self::new()
    }
}

impl TemplateChecker {
    /// A checker with minijinja's default syntax, filters and globals.
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_debug(true);
        env.set_undefined_behavior(minijinja::UndefinedBehavior::Strict);
        let globals = env.globals().map(|(name, _)| name.to_owned()).collect();
        TemplateChecker {
            env,
            globals,
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
        // Before the parser: a chain past the limits would overflow the stack while compiling.
        if let Err(exceeded) = self.limits.check(text) {
            let pos = map_offset(source, node, text, exceeded.offset);
            let limits = self.limits;
            return Err(Box::new(
                source
                    .at_pos(
                        Code::TemplateTooComplex,
                        pos,
                        1,
                        format!("template `{field}` is over a template limit: {exceeded}"),
                    )
                    .with_label(exceeded.limit.as_str())
                    .with_note(format!(
                        "the limits: {} bytes, {} nested blocks, {} operators per tag, {} nested \
                         brackets per tag",
                        limits.max_bytes,
                        limits.max_block_nesting,
                        limits.max_expression_operators,
                        limits.max_bracket_depth
                    )),
            ));
        }
        match self.env.template_from_str(text) {
            Ok(template) => Ok(template
                .undeclared_variables(false)
                .into_iter()
                .filter(|name| !self.globals.contains(name))
                .collect()),
            Err(err) => {
                // minijinja's byte range may end inside a multi-byte character: widen it to
                // whole characters.
                let range = err
                    .range()
                    .filter(|r| r.end <= text.len() && r.start <= r.end)
                    .map(|r| floor_char_boundary(text, r.start)..ceil_char_boundary(text, r.end));
                let offset = match (&range, err.line()) {
                    (Some(range), _) => range.start,
                    (None, Some(line)) => line_start_offset(text, line),
                    (None, None) => 0,
                };
                let width = range
                    .as_ref()
                    .map(|r| text[r.clone()].chars().take_while(|c| *c != '\n').count())
                    .unwrap_or(1);
                let pos = map_offset(source, node, text, offset);
                let detail = err.detail().unwrap_or("invalid template");
                Err(Box::new(source
                    .at_pos(Code::TemplateSyntax, pos, width, format!("template syntax error in `{field}`: {detail}"))
                    .with_label(err.kind().to_string())
                    .with_note("templates use minijinja (Jinja2) syntax: {{ variable }}, {% if %}...{% endif %}")))
            }
        }
    }
}

fn line_start_offset(text: &str, line: usize) -> usize {
    text.split_inclusive('\n')
        .take(line.saturating_sub(1))
        .map(str::len)
        .sum()
}

/// Where the first use of variable `name` is in the file, for "undeclared variable" errors.
pub fn locate_variable(
    source: &SourceText<'_>,
    node: &Node<'_>,
    text: &str,
    name: &str,
) -> (Pos, usize) {
    match find_in_expressions(text, name) {
        Some(offset) => (map_offset(source, node, text, offset), name.chars().count()),
        None => (node.region.start, 1),
    }
}

/// Byte offset of `name` as a whole word inside a `{{ }}` or `{% %}` block.
fn find_in_expressions(text: &str, name: &str) -> Option<usize> {
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
            let after_dot = before == Some('.');
            if !is_word(before) && !is_word(after) && !after_dot {
                return Some(open + 2 + hit);
            }
            from = hit + name.len();
        }
        search_from = body_end;
    }
    None
}

fn find_block_open(text: &str) -> Option<usize> {
    match (text.find("{{"), text.find("{%")) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

/// Maps a byte offset inside a scalar's text to a file position.
pub fn map_offset(source: &SourceText<'_>, node: &Node<'_>, text: &str, offset: usize) -> Pos {
    let offset = floor_char_boundary(text, offset.min(text.len()));
    let before = &text[..offset];
    let line_in_text = before.matches('\n').count();
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    let col_in_text = text[line_start..offset].chars().count();
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
        _ => search_lines(source, node, text, line_start, offset).unwrap_or(start),
    }
}

/// For folded and multi-line flow scalars: find the template line's text among the scalar's
/// file lines.
fn search_lines(
    source: &SourceText<'_>,
    node: &Node<'_>,
    text: &str,
    line_start: usize,
    offset: usize,
) -> Option<Pos> {
    let line_end = text[line_start..]
        .find('\n')
        .map_or(text.len(), |n| line_start + n);
    let needle = text[offset..line_end].trim_end();
    if needle.is_empty() {
        return None;
    }
    (node.region.start.line..=node.region.end.line).find_map(|line| {
        let file_line = source.line(line);
        file_line.find(needle).map(|byte| Pos {
            line,
            col: file_line[..byte].chars().count() + 1,
        })
    })
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
        let source = SourceText {
            display: "t.yaml",
            text: doc,
        };
        TemplateChecker::new().check(&source, "template", &node, &text)
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

    #[test]
    fn locates_first_use_as_a_whole_word() {
        let doc = "template: |\n  name: {{ names }}\n  {{ user.name }} {{ name }}\n";
        let (node, text) = template_node(doc);
        let source = SourceText {
            display: "t.yaml",
            text: doc,
        };
        let (pos, width) = locate_variable(&source, &node, &text, "name");
        assert_eq!(pos, Pos { line: 3, col: 22 });
        assert_eq!(width, 4);
    }
}
