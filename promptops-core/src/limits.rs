//! Limits on a template's source, checked before a template engine sees it.
//!
//! minijinja parses and compiles a template recursively. Its parser guards the nesting of
//! parentheses and statements, but a *chain* — `{{ x|upper|upper|… }}`, `x.a.a.a…`,
//! `x ~ x ~ x …`, `not not not …` — is parsed by a loop into a tree as deep as the chain is
//! long, and compiling or dropping that tree recurses once per link. A chain of about 1,100
//! links overflows a 2 MiB thread stack in a debug build, which aborts the whole process: a
//! registry server, a Lambda, a batch job. Nested calls (`f(g(h(…)))`) overflow in a debug
//! build at about 94 levels, inside minijinja's own guard of 150.
//!
//! [`TemplateLimits::check`] is a linear scan of the source that mirrors minijinja's lexer
//! (tags, comments, `raw` blocks, string literals, bracket balance) and bounds, per template:
//!
//! | limit | default | what it bounds |
//! |---|---|---|
//! | [`max_bytes`](TemplateLimits::max_bytes) | 256 KiB | the source's size |
//! | [`max_block_nesting`](TemplateLimits::max_block_nesting) | 32 | `{% if %}`/`{% for %}`/`{% macro %}`/… blocks open at once |
//! | [`max_expression_operators`](TemplateLimits::max_expression_operators) | 256 | operators and brackets in one `{{ … }}` or `{% … %}` tag (so the depth of its expression tree) |
//! | [`max_bracket_depth`](TemplateLimits::max_bracket_depth) | 32 | `(`, `[` and `{` open at once inside a tag |
//!
//! Within these limits, compiling the deepest template the limits allow takes well under
//! 2 MiB of stack in a debug build (measured: 32 nested blocks around 32 nested calls and a
//! 256-link chain). Counting is conservative: `**` counts as two operators, the `.` of a
//! number as one, so a template may be refused a little before its real tree reaches the
//! limit, never after.
//!
//! Every place that compiles a template runs this check first: the build script (with a
//! diagnostic at the file's line and column), the registry's push validation, the runtime
//! before it compiles a registry version, and the rendering pipeline for S3 templates.

use std::fmt;

/// Limits on a template's source. [`Default`] gives the documented defaults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TemplateLimits {
    /// Largest template, in bytes.
    pub max_bytes: usize,
    /// Most block statements (`if`, `for`, `macro`, `call`, `filter`, `with`, `block`,
    /// `autoescape`, block `set`) open at once.
    pub max_block_nesting: usize,
    /// Most operators and opening brackets in one tag: every `|`, `.`, `~`, arithmetic or
    /// comparison sign, `(`, `[`, `{`, and the words `and`, `or`, `not`, `in`, `is`, `if`.
    pub max_expression_operators: usize,
    /// Most brackets open at once inside one tag.
    pub max_bracket_depth: usize,
}

impl TemplateLimits {
    /// The default size limit: 256 KiB.
    pub const DEFAULT_MAX_BYTES: usize = 256 * 1024;
    /// The default block nesting limit.
    pub const DEFAULT_MAX_BLOCK_NESTING: usize = 32;
    /// The default limit on operators in one tag.
    pub const DEFAULT_MAX_EXPRESSION_OPERATORS: usize = 256;
    /// The default bracket depth limit.
    pub const DEFAULT_MAX_BRACKET_DEPTH: usize = 32;

    /// The documented defaults.
    pub const DEFAULT: TemplateLimits = TemplateLimits {
        max_bytes: Self::DEFAULT_MAX_BYTES,
        max_block_nesting: Self::DEFAULT_MAX_BLOCK_NESTING,
        max_expression_operators: Self::DEFAULT_MAX_EXPRESSION_OPERATORS,
        max_bracket_depth: Self::DEFAULT_MAX_BRACKET_DEPTH,
    };

    /// Checks `source` against the limits, in one pass over its bytes. The error names the
    /// first limit broken and the byte offset where it broke.
    pub fn check(&self, source: &str) -> Result<(), LimitExceeded> {
        if source.len() > self.max_bytes {
            return Err(LimitExceeded {
                limit: Limit::Bytes,
                offset: floor_char_boundary(source, self.max_bytes),
                found: source.len(),
                max: self.max_bytes,
            });
        }
        Scanner {
            limits: self,
            bytes: source.as_bytes(),
            pos: 0,
            open_blocks: 0,
        }
        .run()
        .map_err(|mut err| {
            err.offset = floor_char_boundary(source, err.offset);
            err
        })
    }
}

impl Default for TemplateLimits {
    fn default() -> Self {
        Self::DEFAULT
    }
}

/// Which limit a template broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Limit {
    /// [`TemplateLimits::max_bytes`].
    Bytes,
    /// [`TemplateLimits::max_block_nesting`].
    BlockNesting,
    /// [`TemplateLimits::max_expression_operators`].
    ExpressionOperators,
    /// [`TemplateLimits::max_bracket_depth`].
    BracketDepth,
}

impl Limit {
    /// A stable word for the limit, for machine-readable errors.
    pub const fn as_str(self) -> &'static str {
        match self {
            Limit::Bytes => "template_too_large",
            Limit::BlockNesting => "blocks_nested_too_deep",
            Limit::ExpressionOperators => "expression_too_long",
            Limit::BracketDepth => "brackets_nested_too_deep",
        }
    }
}

/// A template that breaks one of its [`TemplateLimits`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LimitExceeded {
    /// The limit broken.
    pub limit: Limit,
    /// Byte offset in the source where the limit broke (a character boundary): the first
    /// byte past the size limit, the block that opens one too many, the operator or bracket
    /// one past the limit.
    pub offset: usize,
    /// How much was found when the check stopped (the size, or the count so far).
    pub found: usize,
    /// The limit.
    pub max: usize,
}

impl fmt::Display for LimitExceeded {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let max = self.max;
        match self.limit {
            Limit::Bytes => write!(
                f,
                "the template is {} bytes; the limit is {max} bytes",
                self.found
            ),
            Limit::BlockNesting => write!(
                f,
                "more than {max} blocks (`if`, `for`, `macro`, …) are open at once"
            ),
            Limit::ExpressionOperators => write!(
                f,
                "more than {max} operators, filters or brackets in one tag; split the \
                 expression with `{{% set %}}`"
            ),
            Limit::BracketDepth => {
                write!(f, "more than {max} brackets are open at once in one tag")
            }
        }
    }
}

impl std::error::Error for LimitExceeded {}

/// Block statements that need an `end…` tag.
const BLOCK_OPENERS: [&str; 8] = [
    "if",
    "for",
    "macro",
    "call",
    "filter",
    "with",
    "block",
    "autoescape",
];

/// Words that are operators inside an expression.
const WORD_OPERATORS: [&str; 6] = ["and", "or", "not", "in", "is", "if"];

struct Scanner<'a> {
    limits: &'a TemplateLimits,
    bytes: &'a [u8],
    pos: usize,
    open_blocks: usize,
}

impl Scanner<'_> {
    fn run(mut self) -> Result<(), LimitExceeded> {
        while let Some(start) = self.next_tag_start() {
            self.pos = start + 2;
            match self.bytes[start + 1] {
                b'#' => self.skip_comment(),
                b'{' => self.scan_tag(start, b'}')?,
                _ => {
                    if !self.skip_raw_block() {
                        self.scan_tag(start, b'%')?;
                    }
                }
            }
        }
        Ok(())
    }

    /// The offset of the next `{{`, `{%` or `{#` at or after `pos`.
    fn next_tag_start(&self) -> Option<usize> {
        let rest = self.bytes.get(self.pos..)?;
        rest.windows(2)
            .position(|pair| pair[0] == b'{' && matches!(pair[1], b'{' | b'%' | b'#'))
            .map(|found| self.pos + found)
    }

    fn skip_comment(&mut self) {
        self.pos = find(self.bytes, self.pos, b"#}").map_or(self.bytes.len(), |end| end + 2);
    }

    /// At `{% raw %}` (with optional whitespace control), skips to just past the matching
    /// `{% endraw %}`, as minijinja's lexer does. Returns whether this was a raw block.
    fn skip_raw_block(&mut self) -> bool {
        let Some(after) = basic_tag(self.bytes, self.pos, b"raw") else {
            return false;
        };
        let mut search = after;
        while let Some(open) = find(self.bytes, search, b"{%") {
            if let Some(end) = basic_tag(self.bytes, open + 2, b"endraw") {
                self.pos = end;
                return true;
            }
            search = open + 2;
        }
        // An unterminated raw block: the parser reports it; nothing after it is code.
        self.pos = self.bytes.len();
        true
    }

    /// Scans one `{{ … }}` or `{% … %}` tag whose opening delimiter starts at `start`, up to
    /// its closing `}}`/`%}` at bracket balance zero (minijinja's rule), counting operators
    /// and brackets and tracking block nesting.
    fn scan_tag(&mut self, start: usize, closer: u8) -> Result<(), LimitExceeded> {
        let limits = self.limits;
        if closer == b'%' {
            self.track_block(start)?;
        }
        let mut operators = 0usize;
        let mut balance = 0isize;
        let count = |offset: usize, operators: &mut usize| {
            *operators += 1;
            if *operators > limits.max_expression_operators {
                Err(LimitExceeded {
                    limit: Limit::ExpressionOperators,
                    offset,
                    found: *operators,
                    max: limits.max_expression_operators,
                })
            } else {
                Ok(())
            }
        };
        while self.pos < self.bytes.len() {
            let at = self.pos;
            let byte = self.bytes[at];
            if balance == 0 {
                let end = if matches!(byte, b'-' | b'+') {
                    at + 1
                } else {
                    at
                };
                if self.bytes.get(end) == Some(&closer) && self.bytes.get(end + 1) == Some(&b'}') {
                    self.pos = end + 2;
                    return Ok(());
                }
            }
            match byte {
                b'"' | b'\'' => {
                    self.pos = skip_string(self.bytes, at);
                    continue;
                }
                b'(' | b'[' | b'{' => {
                    count(at, &mut operators)?;
                    balance += 1;
                    if balance > limits.max_bracket_depth as isize {
                        return Err(LimitExceeded {
                            limit: Limit::BracketDepth,
                            offset: at,
                            found: balance as usize,
                            max: limits.max_bracket_depth,
                        });
                    }
                }
                b')' | b']' | b'}' => balance -= 1,
                b'|' | b'.' | b'~' | b'+' | b'-' | b'*' | b'/' | b'%' | b'<' | b'>' | b'='
                | b'!' => count(at, &mut operators)?,
                byte if byte.is_ascii_alphabetic() || byte == b'_' => {
                    let end = word_end(self.bytes, at);
                    let word = &self.bytes[at..end];
                    if WORD_OPERATORS.iter().any(|op| op.as_bytes() == word) {
                        count(at, &mut operators)?;
                    }
                    self.pos = end;
                    continue;
                }
                _ => {}
            }
            self.pos += 1;
        }
        Ok(())
    }

    /// Opens or closes a block for the statement tag starting at `start`.
    fn track_block(&mut self, start: usize) -> Result<(), LimitExceeded> {
        let mut at = self.pos;
        if matches!(self.bytes.get(at), Some(b'-' | b'+')) {
            at += 1;
        }
        while self.bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
            at += 1;
        }
        let word = &self.bytes[at..word_end(self.bytes, at)];
        if word.starts_with(b"end") {
            self.open_blocks = self.open_blocks.saturating_sub(1);
            return Ok(());
        }
        let opens = BLOCK_OPENERS.iter().any(|opener| opener.as_bytes() == word)
            || (word == b"set" && !self.is_assignment(at));
        if opens {
            self.open_blocks += 1;
            if self.open_blocks > self.limits.max_block_nesting {
                return Err(LimitExceeded {
                    limit: Limit::BlockNesting,
                    offset: start,
                    found: self.open_blocks,
                    max: self.limits.max_block_nesting,
                });
            }
        }
        Ok(())
    }

    /// Whether the `set` tag at `at` assigns (`{% set x = … %}`) rather than opening a block
    /// (`{% set x %}…{% endset %}`): an `=` before the tag's end, outside strings.
    fn is_assignment(&self, mut at: usize) -> bool {
        while at < self.bytes.len() {
            match self.bytes[at] {
                b'"' | b'\'' => {
                    at = skip_string(self.bytes, at);
                    continue;
                }
                b'=' => return true,
                b'%' if self.bytes.get(at + 1) == Some(&b'}') => return false,
                _ => {}
            }
            at += 1;
        }
        false
    }
}

/// Just past the string literal opening at `at` (backslash escapes honoured), or the end.
fn skip_string(bytes: &[u8], at: usize) -> usize {
    let quote = bytes[at];
    let mut pos = at + 1;
    while pos < bytes.len() {
        match bytes[pos] {
            b'\\' => pos += 2,
            byte if byte == quote => return pos + 1,
            _ => pos += 1,
        }
    }
    bytes.len()
}

fn word_end(bytes: &[u8], mut at: usize) -> usize {
    while bytes
        .get(at)
        .is_some_and(|byte| byte.is_ascii_alphanumeric() || *byte == b'_')
    {
        at += 1;
    }
    at
}

fn find(bytes: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    bytes
        .get(from..)?
        .windows(needle.len())
        .position(|window| window == needle)
        .map(|found| from + found)
}

/// After a `{%` at `at - 2`: `[-+]? ws* NAME ws* [-+]? %}`, as minijinja recognises `raw` and
/// `endraw`. Returns the offset just past the `%}`.
fn basic_tag(bytes: &[u8], mut at: usize, name: &[u8]) -> Option<usize> {
    if matches!(bytes.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    if !bytes.get(at..)?.starts_with(name) {
        return None;
    }
    at += name.len();
    while bytes.get(at).is_some_and(u8::is_ascii_whitespace) {
        at += 1;
    }
    if matches!(bytes.get(at), Some(b'-' | b'+')) {
        at += 1;
    }
    bytes.get(at..)?.starts_with(b"%}").then_some(at + 2)
}

fn floor_char_boundary(text: &str, index: usize) -> usize {
    let mut index = index.min(text.len());
    while !text.is_char_boundary(index) {
        index -= 1;
    }
    index
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(source: &str) -> Result<(), LimitExceeded> {
        TemplateLimits::default().check(source)
    }

    fn broken(source: &str) -> (Limit, usize) {
        let err = check(source).expect_err("the limit holds");
        (err.limit, err.offset)
    }

    #[test]
    fn ordinary_templates_pass() {
        for source in [
            "",
            "Hello {{ name }}!",
            "{% for item in items %}{{ loop.index }}. {{ item|trim|title }}\n{% endfor %}",
            "{% if a and not b or c in d %}{{ x if y else z }}{% endif %}",
            "{# a comment with {{ tags }} and | | | #}{{ 1.5 * (2 + 3) }}",
            "{% set greeting = 'hi' ~ name %}{% set block %}text{% endset %}{{ greeting }}",
            "{% macro m(x) %}{{ x }}{% endmacro %}{{ m('{{ not a tag }}') }}",
        ] {
            assert_eq!(check(source), Ok(()), "{source}");
        }
    }

    #[test]
    fn size_limit_points_at_the_first_byte_past_it() {
        let limits = TemplateLimits {
            max_bytes: 10,
            ..TemplateLimits::default()
        };
        assert_eq!(limits.check("0123456789"), Ok(()));
        let err = limits.check("0123456789x").unwrap_err();
        assert_eq!(
            (err.limit, err.offset, err.found, err.max),
            (Limit::Bytes, 10, 11, 10)
        );
        // The offset stays on a character boundary.
        let err = limits.check("012345678é").unwrap_err();
        assert_eq!(err.offset, 9);
    }

    #[test]
    fn chains_of_every_kind_are_bounded() {
        let max = TemplateLimits::DEFAULT_MAX_EXPRESSION_OPERATORS;
        for link in ["|upper", ".a", " ~ x", " + 1", " and x", "[0]"] {
            let at_limit = format!("{{{{ x{} }}}}", link.repeat(max));
            assert_eq!(check(&at_limit), Ok(()), "{link} x{max}");
            let over = format!("{{{{ x{} }}}}", link.repeat(max + 1));
            let (limit, offset) = broken(&over);
            assert_eq!(limit, Limit::ExpressionOperators, "{link}");
            // The offset is the operator one past the limit.
            assert_eq!(
                offset,
                4 + max * link.len() + link.find(|c: char| !c.is_whitespace()).unwrap()
            );
        }
        let not_chain = format!("{{{{ {}x }}}}", "not ".repeat(max + 1));
        assert_eq!(broken(&not_chain).0, Limit::ExpressionOperators);
    }

    #[test]
    fn the_count_is_per_tag() {
        let max = TemplateLimits::DEFAULT_MAX_EXPRESSION_OPERATORS;
        let tag = format!("{{{{ x{} }}}}", "|upper".repeat(max));
        assert_eq!(check(&tag.repeat(10)), Ok(()));
    }

    #[test]
    fn strings_comments_and_raw_blocks_are_not_code() {
        let noise = "|".repeat(10_000);
        assert_eq!(check(&format!("{{{{ '{noise}' }}}}")), Ok(()));
        assert_eq!(check(&format!("{{{{ \"a\\\"{noise}\" }}}}")), Ok(()));
        assert_eq!(check(&format!("{{# {noise} #}}")), Ok(()));
        assert_eq!(
            check(&format!("{{%- raw -%}}{{{{ x{noise} }}}}{{% endraw %}}")),
            Ok(())
        );
        assert_eq!(check(&format!("plain text {noise}")), Ok(()));
        // After the raw block, code is code again.
        let after = format!("{{% raw %}}x{{% endraw %}}{{{{ x{} }}}}", "|a".repeat(300));
        assert_eq!(broken(&after).0, Limit::ExpressionOperators);
    }

    #[test]
    fn a_closing_delimiter_inside_brackets_does_not_end_the_tag() {
        // minijinja ends a tag only at bracket balance zero: the chain after `}}` inside the
        // dict literal belongs to the same tag.
        let source = format!("{{{{ {{'a': {{'b': 1}}}}{} }}}}", "|x".repeat(300));
        assert_eq!(broken(&source).0, Limit::ExpressionOperators);
    }

    #[test]
    fn brackets_are_bounded() {
        let max = TemplateLimits::DEFAULT_MAX_BRACKET_DEPTH;
        let ok = format!("{{{{ {}x{} }}}}", "(".repeat(max), ")".repeat(max));
        assert_eq!(check(&ok), Ok(()));
        let calls = format!(
            "{{{{ x{}{} }}}}",
            "|default(x".repeat(max + 1),
            ")".repeat(max + 1)
        );
        assert_eq!(broken(&calls).0, Limit::BracketDepth);
    }

    #[test]
    fn block_nesting_is_bounded_and_points_at_the_block() {
        let max = TemplateLimits::DEFAULT_MAX_BLOCK_NESTING;
        let nested = |n: usize| format!("{}x{}", "{% if a %}".repeat(n), "{% endif %}".repeat(n));
        assert_eq!(check(&nested(max)), Ok(()));
        assert_eq!(broken(&nested(max + 1)), (Limit::BlockNesting, max * 10));
        // Sequential blocks do not nest.
        assert_eq!(check(&"{% for x in y %}{% endfor %}".repeat(1000)), Ok(()));
        // Block `set` nests; assignment `set` does not.
        let sets = format!(
            "{}x{}",
            "{%- set v -%}".repeat(max + 1),
            "{% endset %}".repeat(max + 1)
        );
        assert_eq!(broken(&sets).0, Limit::BlockNesting);
        assert_eq!(check(&"{% set v = '=' %}".repeat(100)), Ok(()));
    }

    #[test]
    fn unterminated_tags_and_strings_end_the_scan_without_panicking() {
        for source in [
            "{{",
            "{{ 'abc",
            "{% raw %}never closed",
            "{# open",
            "{%-",
            "{{ x\\",
            "{",
        ] {
            assert_eq!(check(source), Ok(()), "{source:?}");
        }
    }
}
