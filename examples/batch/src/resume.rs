//! Resuming: which ids an existing results file already holds.
//!
//! The results file is read line by line (never whole) and only each line's `id` and
//! `prompt_id` are kept, as [fingerprints](crate::shard::Fingerprint). A job killed mid-write
//! leaves at most one incomplete last line: [`scan_results`] cuts it off so that appending
//! continues on a clean line boundary. An unreadable line anywhere else means the file is not
//! one of ours (or was edited) and stops the job rather than guessing.

use std::borrow::Cow;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead, BufReader, Seek, SeekFrom, Write};
use std::path::Path;

use promptops_runtime::Version;
use serde::Deserialize;

use crate::location::Location;
use crate::shard::IdSet;

/// What a scan of an existing results file found (and repaired).
#[derive(Debug, Default)]
pub struct ResumeIndex {
    /// Ids with a result.
    pub done: IdSet,
    /// Complete result lines.
    pub lines: u64,
    /// Bytes of an incomplete last line that were cut off (0 when the file ended cleanly).
    pub truncated_bytes: u64,
    /// The prompt versions the result lines record, in the order first seen.
    pub versions: Vec<String>,
}

impl ResumeIndex {
    /// A version the file records other than those of `running`, if any.
    pub fn other_version(&self, running: &[Version]) -> Option<String> {
        self.versions
            .iter()
            .find(|found| {
                found
                    .parse::<Version>()
                    .map_or(true, |version| !running.contains(&version))
            })
            .cloned()
    }
}

/// A results file (or object) that cannot be resumed.
#[derive(Debug, thiserror::Error)]
pub enum ResumeError {
    /// Reading or repairing it failed.
    #[error("cannot resume from {location}: {source}")]
    Io {
        /// The results file or object.
        location: Location,
        /// The I/O error.
        source: io::Error,
    },
    /// A line other than the last is not a result.
    #[error(
        "cannot resume from {location}: line {line} is not a result line ({problem}); \
         fix or move it, or pass --fresh to start over"
    )]
    Corrupt {
        /// The results file or object.
        location: Location,
        /// The 1-based line number.
        line: u64,
        /// What is wrong with it.
        problem: String,
    },
    /// It holds results of another prompt.
    #[error(
        "cannot resume from {location}: it holds results of prompt {found} (line {line}), \
         not {expected}; use another --output, or --fresh to overwrite"
    )]
    OtherPrompt {
        /// The results file or object.
        location: Location,
        /// The 1-based line number.
        line: u64,
        /// The prompt id found.
        found: String,
        /// The prompt id of this run.
        expected: String,
    },
}

#[derive(Deserialize)]
struct ResultIds<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
    #[serde(borrow, default)]
    prompt_id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    prompt_version: Option<Cow<'a, str>>,
}

enum Line<'a> {
    Blank,
    Result(Cow<'a, str>, Option<Cow<'a, str>>),
    OtherPrompt(String),
    Bad(String),
}

/// Reads the ids of `path` (results of `prompt_id`), cuts off an incomplete last line, and
/// makes sure the file ends with a newline so appended results start on their own line.
pub fn scan_results(path: &Path, prompt_id: &str) -> Result<ResumeIndex, ResumeError> {
    let io_error = |source| ResumeError::Io {
        location: path.into(),
        source,
    };
    let file = OpenOptions::new()
        .read(true)
        .write(true)
        .open(path)
        .map_err(io_error)?;
    let mut index = ResumeIndex::default();
    let mut reader = BufReader::with_capacity(64 * 1024, file);
    let end = scan_lines(&mut reader, &path.into(), prompt_id, &mut index)?;
    let mut file = reader.into_inner();
    if let Some(start) = end.bad_tail {
        // The incomplete tail of a crashed run: cut it off.
        index.truncated_bytes = end.bytes - start;
        file.set_len(start).map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
    } else if !end.ends_with_newline {
        // A complete last result that lost only its newline.
        file.seek(SeekFrom::End(0)).map_err(io_error)?;
        file.write_all(b"\n").map_err(io_error)?;
        file.sync_all().map_err(io_error)?;
    }
    Ok(index)
}

/// Adds the ids of one more results object (an S3 object or staged part, read whole and in
/// order) to `index`. Objects are written whole, so any line that is not a result, and a
/// missing last newline, mean the object is not one of ours: an error, never a repair.
pub fn scan_object(
    reader: impl BufRead,
    location: &Location,
    prompt_id: &str,
    index: &mut ResumeIndex,
) -> Result<(), ResumeError> {
    let end = scan_lines(reader, location, prompt_id, index)?;
    match (end.bad_tail, end.ends_with_newline) {
        (None, true) => Ok(()),
        (Some(_), _) => Err(ResumeError::Corrupt {
            location: location.clone(),
            line: end.lines,
            problem: end.problem.unwrap_or_default(),
        }),
        (None, false) => Err(ResumeError::Corrupt {
            location: location.clone(),
            line: end.lines,
            problem: "no newline after the last line, so nothing can follow it".into(),
        }),
    }
}

/// How a scan of lines ended.
struct ScanEnd {
    /// Bytes read.
    bytes: u64,
    /// Lines read.
    lines: u64,
    /// Where an unreadable last line starts, if the last line is one.
    bad_tail: Option<u64>,
    /// Why the last line is unreadable.
    problem: Option<String>,
    /// Whether the last byte is a newline (or nothing was read).
    ends_with_newline: bool,
}

/// Reads `reader` line by line into `index`; only the last line may be unreadable (the tail of
/// a crashed write), which is reported, not judged.
fn scan_lines(
    mut reader: impl BufRead,
    location: &Location,
    prompt_id: &str,
    index: &mut ResumeIndex,
) -> Result<ScanEnd, ResumeError> {
    let mut buf = Vec::with_capacity(512);
    let mut offset = 0u64;
    let mut line_no = 0u64;
    // A line that was not a result: (line number, its start offset, problem). Only the last
    // line may be one.
    let mut bad: Option<(u64, u64, String)> = None;
    let mut ends_with_newline = true;
    loop {
        buf.clear();
        let read = reader
            .read_until(b'\n', &mut buf)
            .map_err(|source| ResumeError::Io {
                location: location.clone(),
                source,
            })?;
        if read == 0 {
            break;
        }
        line_no += 1;
        if let Some((line, _, problem)) = bad.take() {
            // A bad line followed by more data: not the tail of a crashed write.
            return Err(ResumeError::Corrupt {
                location: location.clone(),
                line,
                problem,
            });
        }
        ends_with_newline = buf.last() == Some(&b'\n');
        match classify(&buf, prompt_id) {
            Line::Blank => {}
            Line::Result(id, version) => {
                index.done.insert(&id);
                index.lines += 1;
                if let Some(version) = version {
                    if !index.versions.iter().any(|known| *known == version) {
                        index.versions.push(version.into_owned());
                    }
                }
            }
            Line::OtherPrompt(found) => {
                return Err(ResumeError::OtherPrompt {
                    location: location.clone(),
                    line: line_no,
                    found,
                    expected: prompt_id.to_owned(),
                })
            }
            Line::Bad(problem) => bad = Some((line_no, offset, problem)),
        }
        offset += read as u64;
    }
    let (bad_tail, problem) = match bad {
        Some((_, start, problem)) => (Some(start), Some(problem)),
        None => (None, None),
    };
    Ok(ScanEnd {
        bytes: offset,
        lines: line_no,
        bad_tail,
        problem,
        ends_with_newline,
    })
}

/// Classifies one raw line (newline included, if any).
fn classify<'a>(raw: &'a [u8], prompt_id: &str) -> Line<'a> {
    let Ok(text) = std::str::from_utf8(raw) else {
        return Line::Bad("not UTF-8".into());
    };
    if text.trim().is_empty() {
        return Line::Blank;
    }
    match serde_json::from_str::<ResultIds<'a>>(text.trim_end_matches(['\n', '\r'])) {
        Err(err) if raw.ends_with(b"\n") => Line::Bad(err.to_string()),
        Err(_) => Line::Bad("incomplete last line".into()),
        Ok(ids) => match ids.prompt_id {
            Some(found) if found != prompt_id => Line::OtherPrompt(found.into_owned()),
            _ => Line::Result(ids.id, ids.prompt_version),
        },
    }
}

/// Creates (or empties) `path` and its parent directories.
pub fn create_fresh(path: &Path) -> io::Result<File> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    File::create(path)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn temp(name: &str, content: &[u8]) -> PathBuf {
        let dir =
            std::env::temp_dir().join(format!("promptops-batch-resume-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(name);
        std::fs::write(&path, content).unwrap();
        path
    }

    const P: &str = "p.x";

    #[test]
    fn reads_ids_and_cuts_an_incomplete_tail() {
        let content = b"{\"id\":\"a\",\"prompt_id\":\"p.x\"}\n\n{\"id\":\"b\",\"prompt_id\":\"p.x\"}\n{\"id\":\"c\",\"prom";
        let path = temp("tail.jsonl", content);
        let index = scan_results(&path, P).unwrap();
        assert_eq!(index.lines, 2);
        assert_eq!(index.done.len(), 2);
        assert!(index.done.contains("a") && index.done.contains("b") && !index.done.contains("c"));
        assert_eq!(index.truncated_bytes, 15);
        let after = std::fs::read(&path).unwrap();
        assert!(
            after.ends_with(b"\"p.x\"}\n"),
            "{}",
            String::from_utf8_lossy(&after)
        );
        // Scanning again changes nothing.
        assert_eq!(scan_results(&path, P).unwrap().truncated_bytes, 0);
    }

    #[test]
    fn a_complete_last_line_without_newline_is_kept() {
        let path = temp("nonl.jsonl", b"{\"id\":\"a\",\"prompt_id\":\"p.x\"}");
        let index = scan_results(&path, P).unwrap();
        assert!(index.done.contains("a"));
        assert_eq!(std::fs::read(&path).unwrap().last(), Some(&b'\n'));
    }

    #[test]
    fn corruption_and_other_prompts_stop_the_job() {
        let path = temp(
            "corrupt.jsonl",
            b"{\"id\":\"a\"}\ngarbage\n{\"id\":\"b\"}\n",
        );
        match scan_results(&path, P) {
            Err(ResumeError::Corrupt { line: 2, .. }) => {}
            other => panic!("{other:?}"),
        }
        let path = temp("other.jsonl", b"{\"id\":\"a\",\"prompt_id\":\"q.y\"}\n");
        match scan_results(&path, P) {
            Err(err @ ResumeError::OtherPrompt { .. }) => assert!(err.to_string().contains("q.y")),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn empty_file_is_fine() {
        let path = temp("empty.jsonl", b"");
        let index = scan_results(&path, P).unwrap();
        assert!(index.done.is_empty());
        assert_eq!(std::fs::read(&path).unwrap(), b"");
    }

    #[test]
    fn a_version_is_other_unless_the_run_names_it() {
        let index = ResumeIndex {
            versions: vec!["4".into(), "3".into()],
            ..ResumeIndex::default()
        };
        // A run pinned to 4 whose compiled fallback is 3 owns both.
        assert_eq!(
            index.other_version(&[Version::new(4), Version::new(3)]),
            None
        );
        assert_eq!(index.other_version(&[Version::new(4)]), Some("3".into()));
        let garbled = ResumeIndex {
            versions: vec!["four".into()],
            ..ResumeIndex::default()
        };
        assert_eq!(
            garbled.other_version(&[Version::new(4)]),
            Some("four".into())
        );
    }
}
