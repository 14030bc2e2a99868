//! A small YAML document tree that keeps a position for every node.
//!
//! Built on `saphyr-parser`'s event stream rather than a serde deserializer because prompt
//! validation needs three things serde-based loaders throw away: the position of every key and
//! value (not only of syntax errors), duplicate keys (a hash map silently keeps the last one),
//! and the scalar style (a `|` block scalar lets template errors map to exact file lines).

use std::borrow::Cow;

use saphyr_parser::{Event, Parser, ScalarStyle, ScanError, Span};

/// A position in a source file: 1-based line, 1-based column counted in characters.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Pos {
    /// 1-based line number.
    pub line: usize,
    /// 1-based column, in characters.
    pub col: usize,
}

/// The region a node covers in its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Region {
    /// First character of the node.
    pub start: Pos,
    /// Character just past the node (may be on a later line).
    pub end: Pos,
}

impl Region {
    fn from_span(span: Span) -> Self {
        Region {
            start: Pos {
                line: span.start.line(),
                col: span.start.col() + 1,
            },
            end: Pos {
                line: span.end.line(),
                col: span.end.col() + 1,
            },
        }
    }

    /// Width of the region on its first line, at least 1 (for carets).
    pub fn width_on_first_line(&self) -> usize {
        if self.end.line == self.start.line && self.end.col > self.start.col {
            self.end.col - self.start.col
        } else {
            1
        }
    }
}

/// How a scalar was written, which decides how positions inside it map back to the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Style {
    /// Unquoted.
    Plain,
    /// `'...'`
    SingleQuoted,
    /// `"..."`
    DoubleQuoted,
    /// `|` block: lines of the value are lines of the file.
    Literal,
    /// `>` block: lines are folded.
    Folded,
}

impl From<ScalarStyle> for Style {
    fn from(style: ScalarStyle) -> Self {
        match style {
            ScalarStyle::Plain => Style::Plain,
            ScalarStyle::SingleQuoted => Style::SingleQuoted,
            ScalarStyle::DoubleQuoted => Style::DoubleQuoted,
            ScalarStyle::Literal => Style::Literal,
            ScalarStyle::Folded => Style::Folded,
        }
    }
}

/// One node of a YAML document.
#[derive(Debug, Clone, PartialEq)]
pub struct Node<'a> {
    /// Where the node is in the file.
    pub region: Region,
    /// What the node holds.
    pub kind: NodeKind<'a>,
}

/// The content of a [`Node`].
#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind<'a> {
    /// A scalar, unresolved: see [`Node::scalar`].
    Scalar {
        /// The scalar's text after YAML unescaping and folding.
        text: Cow<'a, str>,
        /// How it was written.
        style: Style,
        /// Whether it carried an explicit tag such as `!!str`.
        tagged: bool,
    },
    /// A sequence.
    Seq(Vec<Node<'a>>),
    /// A mapping, in file order, duplicates kept.
    Map(Vec<(Node<'a>, Node<'a>)>),
    /// A `*alias` reference (not supported in prompt files).
    Alias,
}

/// A scalar resolved with the YAML 1.2 core schema.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Scalar<'n> {
    /// `~`, `null` or nothing.
    Null,
    /// `true` / `false`.
    Bool(bool),
    /// An integer that fits in `i64`.
    Int(i64),
    /// A float (including integers too large for `i64`).
    Float(f64),
    /// Anything else, and every quoted or block scalar.
    Str(&'n str),
}

impl Scalar<'_> {
    /// How the value is described in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Null => "nothing (null)",
            Scalar::Bool(_) => "a boolean",
            Scalar::Int(_) => "an integer",
            Scalar::Float(_) => "a number",
            Scalar::Str(_) => "a string",
        }
    }
}

impl<'a> Node<'a> {
    /// Resolves a scalar node's type; `None` for collections and aliases.
    pub fn scalar(&self) -> Option<Scalar<'_>> {
        match &self.kind {
            NodeKind::Scalar { text, style, .. } => Some(if *style == Style::Plain {
                resolve_plain(text)
            } else {
                Scalar::Str(text)
            }),
            _ => None,
        }
    }

    /// How the node is described in "expected X, found Y" messages.
    pub fn type_name(&self) -> &'static str {
        match &self.kind {
            NodeKind::Scalar { .. } => self.scalar().map_or("a scalar", |s| s.type_name()),
            NodeKind::Seq(_) => "a list",
            NodeKind::Map(_) => "a mapping",
            NodeKind::Alias => "an alias",
        }
    }

    /// The text of a string scalar.
    pub fn as_str(&self) -> Option<&str> {
        match self.scalar()? {
            Scalar::Str(text) => Some(text),
            _ => None,
        }
    }

    /// The entries of a mapping.
    pub fn as_map(&self) -> Option<&[(Node<'a>, Node<'a>)]> {
        match &self.kind {
            NodeKind::Map(entries) => Some(entries),
            _ => None,
        }
    }

    /// The items of a sequence.
    pub fn as_seq(&self) -> Option<&[Node<'a>]> {
        match &self.kind {
            NodeKind::Seq(items) => Some(items),
            _ => None,
        }
    }

    /// Whether this scalar is null (`~`, `null` or empty).
    pub fn is_null(&self) -> bool {
        matches!(self.scalar(), Some(Scalar::Null))
    }

    /// The style of a scalar node.
    pub fn style(&self) -> Option<Style> {
        match &self.kind {
            NodeKind::Scalar { style, .. } => Some(*style),
            _ => None,
        }
    }
}

fn resolve_plain(text: &str) -> Scalar<'_> {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return Scalar::Null,
        "true" | "True" | "TRUE" => return Scalar::Bool(true),
        "false" | "False" | "FALSE" => return Scalar::Bool(false),
        ".inf" | ".Inf" | ".INF" | "+.inf" | "+.Inf" | "+.INF" => {
            return Scalar::Float(f64::INFINITY)
        }
        "-.inf" | "-.Inf" | "-.INF" => return Scalar::Float(f64::NEG_INFINITY),
        ".nan" | ".NaN" | ".NAN" => return Scalar::Float(f64::NAN),
        _ => {}
    }
    if let Some(hex) = text.strip_prefix("0x") {
        if let Ok(value) = i64::from_str_radix(hex, 16) {
            return Scalar::Int(value);
        }
    }
    if let Some(oct) = text.strip_prefix("0o") {
        if let Ok(value) = i64::from_str_radix(oct, 8) {
            return Scalar::Int(value);
        }
    }
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        return match text.parse::<i64>() {
            Ok(value) => Scalar::Int(value),
            Err(_) => text.parse::<f64>().map_or(Scalar::Str(text), Scalar::Float),
        };
    }
    if is_core_float(digits) {
        if let Ok(value) = text.parse::<f64>() {
            return Scalar::Float(value);
        }
    }
    Scalar::Str(text)
}

/// `(\.[0-9]+|[0-9]+(\.[0-9]*)?)([eE][-+]?[0-9]+)?` from the YAML 1.2 core schema.
fn is_core_float(text: &str) -> bool {
    let (mantissa, exponent) = match text.find(['e', 'E']) {
        Some(at) => (&text[..at], Some(&text[at + 1..])),
        None => (text, None),
    };
    let mantissa_ok = match mantissa.split_once('.') {
        Some((int, frac)) => {
            (!int.is_empty() || !frac.is_empty())
                && int.bytes().all(|b| b.is_ascii_digit())
                && frac.bytes().all(|b| b.is_ascii_digit())
        }
        None => !mantissa.is_empty() && mantissa.bytes().all(|b| b.is_ascii_digit()),
    };
    let exponent_ok = exponent.is_none_or(|exp| {
        let digits = exp.strip_prefix(['-', '+']).unwrap_or(exp);
        !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
    });
    mantissa_ok && exponent_ok
}

/// Why a file could not be read as one YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntaxError {
    /// Where the parser gave up.
    pub pos: Pos,
    /// The parser's explanation.
    pub message: String,
}

impl SyntaxError {
    fn from_scan(err: &ScanError) -> Self {
        SyntaxError {
            pos: Pos {
                line: err.marker().line(),
                col: err.marker().col() + 1,
            },
            message: err.info().to_owned(),
        }
    }
}

/// Parses `text` into its documents (usually exactly one).
pub fn parse(text: &str) -> Result<Vec<Node<'_>>, SyntaxError> {
    let mut builder = TreeBuilder::default();
    for event in Parser::new_from_str(text) {
        let (event, span) = event.map_err(|err| SyntaxError::from_scan(&err))?;
        builder.push(event, span);
    }
    Ok(builder.documents)
}

enum Open<'a> {
    Seq(Region, Vec<Node<'a>>),
    Map(Region, Vec<(Node<'a>, Node<'a>)>, Option<Node<'a>>),
}

#[derive(Default)]
struct TreeBuilder<'a> {
    stack: Vec<Open<'a>>,
    documents: Vec<Node<'a>>,
}

impl<'a> TreeBuilder<'a> {
    fn push(&mut self, event: Event<'a>, span: Span) {
        let region = Region::from_span(span);
        match event {
            Event::SequenceStart(..) => self.stack.push(Open::Seq(region, Vec::new())),
            Event::MappingStart(..) => self.stack.push(Open::Map(region, Vec::new(), None)),
            Event::SequenceEnd => {
                if let Some(Open::Seq(start, items)) = self.stack.pop() {
                    let region = Region {
                        start: start.start,
                        end: region.end,
                    };
                    self.finish(Node {
                        region,
                        kind: NodeKind::Seq(items),
                    });
                }
            }
            Event::MappingEnd => {
                if let Some(Open::Map(start, entries, _)) = self.stack.pop() {
                    let region = Region {
                        start: start.start,
                        end: region.end,
                    };
                    self.finish(Node {
                        region,
                        kind: NodeKind::Map(entries),
                    });
                }
            }
            Event::Scalar(text, style, _, tag) => self.finish(Node {
                region,
                kind: NodeKind::Scalar {
                    text,
                    style: style.into(),
                    tagged: tag.is_some(),
                },
            }),
            Event::Alias(_) => self.finish(Node {
                region,
                kind: NodeKind::Alias,
            }),
            Event::Nothing
            | Event::StreamStart
            | Event::StreamEnd
            | Event::DocumentStart(_)
            | Event::DocumentEnd => {}
        }
    }

    fn finish(&mut self, node: Node<'a>) {
        match self.stack.last_mut() {
            None => self.documents.push(node),
            Some(Open::Seq(_, items)) => items.push(node),
            Some(Open::Map(_, entries, pending_key)) => match pending_key.take() {
                None => *pending_key = Some(node),
                Some(key) => entries.push((key, node)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(text: &str) -> Node<'_> {
        let mut docs = parse(text).expect("valid yaml");
        assert_eq!(docs.len(), 1);
        docs.remove(0)
    }

    #[test]
    fn positions_for_keys_and_values() {
        let root = doc("id: a\nversion: 2\ntags:\n  - x\n");
        let entries = root.as_map().unwrap();
        assert_eq!(entries[1].0.region.start, Pos { line: 2, col: 1 });
        assert_eq!(entries[1].1.region.start, Pos { line: 2, col: 10 });
        assert_eq!(entries[1].1.scalar(), Some(Scalar::Int(2)));
        let tags = entries[2].1.as_seq().unwrap();
        assert_eq!(tags[0].region.start, Pos { line: 4, col: 5 });
    }

    #[test]
    fn duplicate_keys_are_kept() {
        let root = doc("a: 1\na: 2\n");
        assert_eq!(root.as_map().unwrap().len(), 2);
    }

    #[test]
    fn core_schema_resolution() {
        let root = doc(
            "a: 1.5\nb: '3'\nc: ~\nd: true\ne: 2026-04-15\nf: 1e3\ng: 99999999999999999999\nh: .5\n",
        );
        let values: Vec<_> = root
            .as_map()
            .unwrap()
            .iter()
            .map(|(_, v)| v.scalar().unwrap())
            .collect();
        assert_eq!(values[0], Scalar::Float(1.5));
        assert_eq!(values[1], Scalar::Str("3"));
        assert_eq!(values[2], Scalar::Null);
        assert_eq!(values[3], Scalar::Bool(true));
        assert_eq!(values[4], Scalar::Str("2026-04-15"));
        assert_eq!(values[5], Scalar::Float(1000.0));
        assert_eq!(values[6], Scalar::Float(1e20));
        assert_eq!(values[7], Scalar::Float(0.5));
    }

    #[test]
    fn literal_block_keeps_style() {
        let root = doc("template: |\n  line one\n  line two\n");
        let value = &root.as_map().unwrap()[0].1;
        assert_eq!(value.style(), Some(Style::Literal));
        assert_eq!(value.as_str(), Some("line one\nline two\n"));
    }

    #[test]
    fn syntax_error_has_position() {
        let err = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(err.pos.line >= 1);
        assert!(!err.message.is_empty());
    }
}
