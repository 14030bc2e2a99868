//! Lines and columns of a text, found by binary search in an index built once per text.
//!
//! A file with many problems asks for many positions: 40,000 unknown keys are 40,000 lines to
//! show, 2,000 undeclared variables 2,000 offsets to turn into a line and a column. Splitting
//! or counting the text from its start for each would make validation quadratic in the size of
//! the file (the issue measured 41 s for 40k keys). [`LineIndex`] is one pass over the bytes;
//! after it a line's text, a byte offset's line and column, and a column's byte offset each cost
//! a binary search, on lines of any length and in text of any script.
//!
//! Lines end at `\n`, as `str::split('\n')` splits them; a `\r` before the `\n` is not part of
//! a line's text. Columns count characters (Unicode scalar values), 1-based, as the YAML parser
//! reports them.

use std::ops::Range;

use crate::yaml::Pos;

/// The line starts and the multi-byte characters of one text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineIndex<'t> {
    text: &'t str,
    /// Byte offset of the first byte of each line; the first line starts at 0.
    starts: Vec<usize>,
    /// Every character longer than one byte, in text order.
    wide: Vec<Wide>,
}

/// One multi-byte character: enough to convert between byte offsets and character indices
/// around it without reading the text.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Wide {
    /// Byte offset of its first byte.
    byte: usize,
    /// Its index in characters from the start of the text.
    char_index: usize,
    /// Bytes beyond one per character, summed over it and every wide character before it.
    extra_through: usize,
}

impl<'t> LineIndex<'t> {
    /// Indexes `text` in one pass over its bytes.
    pub fn new(text: &'t str) -> Self {
        let mut starts = vec![0];
        let mut wide = Vec::new();
        let mut extra = 0;
        for (byte, &value) in text.as_bytes().iter().enumerate() {
            if value == b'\n' {
                starts.push(byte + 1);
            } else if value >= 0xC0 {
                // The lead byte of a multi-byte UTF-8 sequence; its length is in its high bits.
                let len = match value {
                    0xC0..=0xDF => 2,
                    0xE0..=0xEF => 3,
                    _ => 4,
                };
                let char_index = byte - extra;
                extra += len - 1;
                wide.push(Wide {
                    byte,
                    char_index,
                    extra_through: extra,
                });
            }
        }
        LineIndex { text, starts, wide }
    }

    /// The indexed text.
    pub fn text(&self) -> &'t str {
        self.text
    }

    /// Number of lines: one more than the number of `\n` (a text ending in `\n` has an empty
    /// last line, as `split('\n')` counts).
    pub fn line_count(&self) -> usize {
        self.starts.len()
    }

    /// The 1-based line holding byte `offset` (the last line for offsets past the end).
    pub fn line_of(&self, offset: usize) -> usize {
        self.starts.partition_point(|&start| start <= offset)
    }

    /// Byte range of 1-based `line`'s text, without its `\n` and a `\r` before it; `None` past
    /// the last line.
    pub fn line_range(&self, line: usize) -> Option<Range<usize>> {
        let start = *self.starts.get(line.checked_sub(1)?)?;
        let mut end = match self.starts.get(line) {
            Some(next) => next - 1,
            None => self.text.len(),
        };
        if end > start && self.text.as_bytes()[end - 1] == b'\r' {
            end -= 1;
        }
        Some(start..end)
    }

    /// The text of 1-based `line`, without its line ending; empty past the last line.
    pub fn line(&self, line: usize) -> &'t str {
        self.line_range(line).map_or("", |range| &self.text[range])
    }

    /// Number of characters in 1-based `line`'s text (0 past the last line).
    pub fn line_chars(&self, line: usize) -> usize {
        self.line_range(line).map_or(0, |range| {
            self.char_index(range.end) - self.char_index(range.start)
        })
    }

    /// Index in characters of the character starting at byte `offset` (a char boundary, or
    /// the text's length).
    pub fn char_index(&self, offset: usize) -> usize {
        let before = self.wide.partition_point(|wide| wide.byte < offset);
        let extra = before
            .checked_sub(1)
            .map_or(0, |last| self.wide[last].extra_through);
        offset - extra
    }

    /// Byte offset of the character with index `char_index` (the text's length past the end).
    pub fn byte_offset(&self, char_index: usize) -> usize {
        let before = self
            .wide
            .partition_point(|wide| wide.char_index < char_index);
        let extra = before
            .checked_sub(1)
            .map_or(0, |last| self.wide[last].extra_through);
        (char_index + extra).min(self.text.len())
    }

    /// Line and character column of byte `offset` (a char boundary), both 1-based. An offset
    /// on a line's `\r\n` is a column past the line's text.
    pub fn pos(&self, offset: usize) -> Pos {
        let offset = offset.min(self.text.len());
        let line = self.line_of(offset);
        let start = self.starts[line - 1];
        Pos {
            line,
            col: self.char_index(offset) - self.char_index(start) + 1,
        }
    }

    /// Byte offset of 1-based column `col` on 1-based `line`, clamped to the line's text.
    pub fn offset(&self, line: usize, col: usize) -> Option<usize> {
        let range = self.line_range(line)?;
        let first = self.char_index(range.start);
        let offset = self.byte_offset(first + col.saturating_sub(1));
        Some(offset.clamp(range.start, range.end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The same answers by counting from the start, as the code did before the index.
    fn slow_pos(text: &str, offset: usize) -> Pos {
        let before = &text[..offset];
        let line_start = before.rfind('\n').map_or(0, |n| n + 1);
        Pos {
            line: before.matches('\n').count() + 1,
            col: text[line_start..offset].chars().count() + 1,
        }
    }

    fn slow_line(text: &str, line: usize) -> &str {
        text.split('\n')
            .nth(line - 1)
            .map(|l| l.strip_suffix('\r').unwrap_or(l))
            .unwrap_or("")
    }

    const TEXTS: &[&str] = &[
        "",
        "\n",
        "one line",
        "id: a.b\nownr: team\n",
        "crlf\r\nlines\r\n\r\nend",
        "lone\rreturn\nsecond\r",
        "héllo wörld\n日本語のテキスト\n🦀 crab 🦀\n\nlast é",
        "\n\n\nx\n",
    ];

    #[test]
    fn positions_match_counting_from_the_start() {
        for text in TEXTS {
            let index = LineIndex::new(text);
            for (offset, _) in text.char_indices().chain([(text.len(), ' ')]) {
                assert_eq!(
                    index.pos(offset),
                    slow_pos(text, offset),
                    "{text:?} at {offset}"
                );
            }
        }
    }

    #[test]
    fn lines_match_split_without_carriage_returns() {
        for text in TEXTS {
            let index = LineIndex::new(text);
            assert_eq!(index.line_count(), text.split('\n').count(), "{text:?}");
            for line in 1..=index.line_count() {
                assert_eq!(index.line(line), slow_line(text, line), "{text:?} {line}");
                assert_eq!(
                    index.line_chars(line),
                    slow_line(text, line).chars().count()
                );
            }
            assert_eq!(index.line(index.line_count() + 1), "");
            assert_eq!(index.line_range(0), None);
        }
    }

    #[test]
    fn char_indices_and_byte_offsets_invert_each_other() {
        for text in TEXTS {
            let index = LineIndex::new(text);
            for (char_index, (byte, _)) in text.char_indices().enumerate() {
                assert_eq!(index.char_index(byte), char_index, "{text:?}");
                assert_eq!(index.byte_offset(char_index), byte, "{text:?}");
            }
            let chars = text.chars().count();
            assert_eq!(index.char_index(text.len()), chars);
            assert_eq!(index.byte_offset(chars), text.len());
            assert_eq!(index.byte_offset(chars + 10), text.len());
        }
    }

    #[test]
    fn columns_become_offsets_on_their_line() {
        let text = "ab\nçd日e\nf";
        let index = LineIndex::new(text);
        assert_eq!(index.offset(2, 1), Some(3));
        assert_eq!(index.offset(2, 3), Some(3 + 3));
        assert_eq!(index.offset(2, 4), Some(3 + 6));
        assert_eq!(index.offset(2, 99), Some(3 + 7), "clamped to the line");
        assert_eq!(index.offset(3, 1), Some(text.len() - 1));
        assert_eq!(index.offset(4, 1), None);
    }

    #[test]
    fn long_lines_with_wide_characters() {
        // 200k characters on one line, with multi-byte characters throughout.
        let text = "é{{ x }}".repeat(25_000);
        let index = LineIndex::new(&text);
        let last = text.rfind('x').unwrap_or_default();
        assert_eq!(index.pos(last), slow_pos(&text, last));
        assert_eq!(index.line_chars(1), text.chars().count());
    }
}
