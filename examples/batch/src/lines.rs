//! Reading JSON Lines sources (files or S3 objects) one bounded line at a time, for the
//! commands that read the job's own outputs and inputs back (`merge`, `bedrock import`).

use std::io::{self, BufRead, BufReader, Read};

use crate::location::Location;
use crate::runner::open_input;
use crate::s3::S3;
use crate::BatchError;

/// The longest line read from a results, errors or Bedrock output object: a record (at most
/// the job's `--max-line-bytes`, 1 MiB by default) with its answer and bookkeeping.
pub const MAX_OUTPUT_LINE_BYTES: usize = 16 * 1024 * 1024;

/// One line of a source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Line<'a> {
    /// The line, without its newline (never blank).
    Text(&'a [u8]),
    /// A line longer than the limit: skipped unread.
    TooLong,
}

/// Calls `each` with every non-blank line of `location` and its 1-based number; lines longer
/// than `max_line_bytes` are never held in memory.
pub fn for_each_line(
    location: &Location,
    s3: Option<&S3>,
    max_line_bytes: usize,
    mut each: impl FnMut(u64, Line<'_>) -> Result<(), BatchError>,
) -> Result<(), BatchError> {
    let input_error = |source| BatchError::Input {
        location: location.clone(),
        source,
    };
    let mut reader = BufReader::with_capacity(64 * 1024, open_input(location, s3)?);
    let mut line = Vec::with_capacity(1024);
    let limit = u64::try_from(max_line_bytes).unwrap_or(u64::MAX);
    let mut number = 0u64;
    loop {
        line.clear();
        let read = Read::take(&mut reader, limit.saturating_add(1))
            .read_until(b'\n', &mut line)
            .map_err(input_error)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        if text.len() > max_line_bytes {
            skip_rest_of_line(&mut reader).map_err(input_error)?;
            each(number, Line::TooLong)?;
        } else if !text.iter().all(u8::is_ascii_whitespace) {
            each(number, Line::Text(text))?;
        }
    }
}

/// Consumes input up to and including the next newline (or the end).
fn skip_rest_of_line(reader: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buffer = reader.fill_buf()?;
        if buffer.is_empty() {
            return Ok(());
        }
        match buffer.iter().position(|&byte| byte == b'\n') {
            Some(end) => {
                reader.consume(end + 1);
                return Ok(());
            }
            None => {
                let all = buffer.len();
                reader.consume(all);
            }
        }
    }
}

/// A line of `location` that is not what it must be.
pub fn bad_line(location: &Location, line: u64, problem: impl std::fmt::Display) -> BatchError {
    BatchError::Input {
        location: location.clone(),
        source: io::Error::new(
            io::ErrorKind::InvalidData,
            format!("line {line}: {problem}"),
        ),
    }
}

/// A line of one of the job's own outputs: too long is not ours.
pub fn output_text<'a>(
    location: &Location,
    number: u64,
    line: Line<'a>,
) -> Result<&'a [u8], BatchError> {
    match line {
        Line::Text(text) => Ok(text),
        Line::TooLong => Err(bad_line(
            location,
            number,
            format!("longer than {MAX_OUTPUT_LINE_BYTES} bytes"),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_lines_are_skipped_unread_and_numbering_goes_on() {
        let dir =
            std::env::temp_dir().join(format!("promptops-batch-lines-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.jsonl");
        let long = "x".repeat(100);
        std::fs::write(&path, format!("a\n{long}\n\n  \nb\n{long}")).unwrap();
        let mut seen = Vec::new();
        for_each_line(&path.as_path().into(), None, 10, |number, line| {
            seen.push((number, line.to_owned_text()));
            Ok(())
        })
        .unwrap();
        assert_eq!(
            seen,
            [
                (1, Some("a".to_owned())),
                (2, None),
                (5, Some("b".to_owned())),
                (6, None)
            ]
        );
    }

    impl Line<'_> {
        fn to_owned_text(self) -> Option<String> {
            match self {
                Line::Text(text) => Some(String::from_utf8_lossy(text).into_owned()),
                Line::TooLong => None,
            }
        }
    }
}
