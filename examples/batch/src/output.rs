//! The two outputs: results and errors, both JSON Lines, each a local file or an S3 object.
//!
//! A results line:
//!
//! ```json
//! {"id":"msg-0001","prompt_id":"customer-support.intent-classifier","prompt_version":"3",
//!  "content_hash":"…","output":"billing","input_tokens":95,"output_tokens":1,
//!  "cost_usd":0.0,"latency_ms":0,"attempts":1}
//! ```
//!
//! For a prompt with an output schema, `output` is the answer's JSON object (checked against
//! the schema), not a string:
//!
//! ```json
//! {"id":"t-1","prompt_id":"customer-support.ticket-triage","prompt_version":"1","content_hash":"…",
//!  "output":{"intent":"billing","urgency":4,"order_id":"A-1234","summary":"…","products":[]},
//!  "input_tokens":61,"output_tokens":19,"cost_usd":0.0,"latency_ms":0,"attempts":1,"repair_turns":0}
//! ```
//!
//! An errors line (`id` is `null` when the line's id could not be read):
//!
//! ```json
//! {"line":12,"id":"msg-0012","prompt_id":"customer-support.intent-classifier",
//!  "error":"missing_input","message":"missing input: …","attempts":0}
//! ```
//!
//! Each line is serialized whole before it is handed to the file's buffer, so a crash can
//! leave at most one incomplete line at the end, which resume cuts off.

use std::fs::File;
use std::io::{self, BufWriter, Write};

use promptops_runtime::{DefRef, PromptDef, Version};
use serde::Serialize;
use serde_json::Value;

use crate::s3::StagedOutput;

/// One successful record, as written to the results file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResultLine<'a> {
    /// The record's id.
    pub id: &'a str,
    /// The prompt's id.
    pub prompt_id: &'a str,
    /// The prompt's version.
    pub prompt_version: Version,
    /// SHA-256 of the prompt file the binary was built with.
    pub content_hash: &'a str,
    /// The label (classifiers), the text, or the structured answer's JSON object.
    pub output: &'a Value,
    /// Input tokens, when reported.
    pub input_tokens: Option<u32>,
    /// Output tokens, when reported.
    pub output_tokens: Option<u32>,
    /// Cost in USD, when known.
    pub cost_usd: Option<f64>,
    /// Wall time of the call, retries included.
    pub latency_ms: u64,
    /// Model attempts made.
    pub attempts: u32,
    /// For a prompt with an output schema: the repair turns its answer took.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub repair_turns: Option<u32>,
}

/// One failed record or unusable line, as written to the errors file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ErrorLine<'a> {
    /// 1-based input line number.
    pub line: u64,
    /// The record's id, when it could be read.
    pub id: Option<&'a str>,
    /// The prompt's id.
    pub prompt_id: &'a str,
    /// A stable error kind (`bad_json`, `missing_id`, `duplicate_id`, `throttled`, ...).
    pub error: &'a str,
    /// What went wrong (never contains variable values).
    pub message: &'a str,
    /// Model attempts made (0 when the record never reached the model).
    pub attempts: u32,
}

/// A finished call.
#[derive(Debug, Clone, PartialEq)]
pub struct Done {
    /// The record's id.
    pub id: String,
    /// The definition that ran: the run's pinned version, or the compiled prompt for a record
    /// that version could not render.
    pub prompt: DefRef,
    /// The label or text (a JSON string), or the structured answer (a JSON object).
    pub output: Value,
    /// Input tokens, when reported.
    pub input_tokens: Option<u32>,
    /// Output tokens, when reported.
    pub output_tokens: Option<u32>,
    /// Cost in USD, when known.
    pub cost_usd: Option<f64>,
    /// Wall time of the call.
    pub latency_ms: u64,
    /// Model attempts made.
    pub attempts: u32,
    /// For a prompt with an output schema: the repair turns its answer took.
    pub repair_turns: Option<u32>,
}

/// A record or line that ends in the errors file.
#[derive(Debug, Clone, PartialEq)]
pub struct Failure {
    /// 1-based input line number.
    pub line: u64,
    /// The record's id, when it could be read.
    pub id: Option<String>,
    /// A stable error kind.
    pub kind: &'static str,
    /// What went wrong.
    pub message: String,
    /// Model attempts made.
    pub attempts: u32,
}

/// What happened to one record.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    /// It has a result.
    Done(Done),
    /// It goes to the errors file.
    Failed(Failure),
}

/// Where a [`JsonlWriter`]'s lines end up: a local file or an S3 object written in staged
/// parts ([`StagedOutput`]).
pub trait Sink: Write + Send + std::fmt::Debug {
    /// Makes everything written durable: syncs a file to disk, completes an S3 object.
    fn commit(self: Box<Self>) -> io::Result<()>;
}

impl Sink for File {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.sync_all()
    }
}

impl Sink for StagedOutput {
    fn commit(self: Box<Self>) -> io::Result<()> {
        self.complete().map_err(io::Error::from)
    }
}

/// A buffered JSON Lines writer that serializes each line whole before writing it.
#[derive(Debug)]
pub struct JsonlWriter {
    out: BufWriter<Box<dyn Sink>>,
    line: Vec<u8>,
}

impl JsonlWriter {
    /// Wraps `sink` with a 64 KiB buffer.
    pub fn new(sink: impl Sink + 'static) -> Self {
        JsonlWriter {
            out: BufWriter::with_capacity(64 * 1024, Box::new(sink)),
            line: Vec::with_capacity(512),
        }
    }

    /// Writes `value` as one line.
    pub fn write<T: Serialize>(&mut self, value: &T) -> io::Result<()> {
        self.line.clear();
        serde_json::to_writer(&mut self.line, value)?;
        self.line.push(b'\n');
        self.out.write_all(&self.line)
    }

    /// Writes `line` (one JSON value, without its newline) as it is: merging copies lines
    /// without re-serializing them.
    pub fn write_line(&mut self, line: &[u8]) -> io::Result<()> {
        self.out.write_all(line)?;
        self.out.write_all(b"\n")
    }

    /// Hands the buffer to the sink (a file writes it; an S3 object stages it when its last
    /// part is old enough).
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// Flushes and commits the sink ([`Sink::commit`]).
    pub fn finish(self) -> io::Result<()> {
        let sink = self.out.into_inner().map_err(|err| err.into_error())?;
        sink.commit()
    }
}

/// Writes `done` as a results line, with the version and content hash that ran.
pub fn write_result(out: &mut JsonlWriter, done: &Done) -> io::Result<()> {
    out.write(&ResultLine {
        id: &done.id,
        prompt_id: &done.prompt.id,
        prompt_version: done.prompt.version,
        content_hash: &done.prompt.content_hash,
        output: &done.output,
        input_tokens: done.input_tokens,
        output_tokens: done.output_tokens,
        cost_usd: done.cost_usd,
        latency_ms: done.latency_ms,
        attempts: done.attempts,
        repair_turns: done.repair_turns,
    })
}

/// Writes `failure` as an errors line for `def`.
pub fn write_error(out: &mut JsonlWriter, def: &PromptDef, failure: &Failure) -> io::Result<()> {
    out.write(&ErrorLine {
        line: failure.line,
        id: failure.id.as_deref(),
        prompt_id: &def.id,
        error: failure.kind,
        message: &failure.message,
        attempts: failure.attempts,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn result_and_error_lines_have_the_documented_fields() {
        let result = serde_json::to_value(ResultLine {
            id: "a",
            prompt_id: "p",
            prompt_version: Version::new(2),
            content_hash: "h",
            output: &Value::from("billing"),
            input_tokens: Some(3),
            output_tokens: None,
            cost_usd: Some(0.5),
            latency_ms: 4,
            attempts: 1,
            repair_turns: None,
        })
        .unwrap();
        let keys: Vec<&str> = result
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        let mut expected = vec![
            "id",
            "prompt_id",
            "prompt_version",
            "content_hash",
            "output",
            "input_tokens",
            "output_tokens",
            "cost_usd",
            "latency_ms",
            "attempts",
        ];
        expected.sort_unstable();
        let mut keys = keys;
        keys.sort_unstable();
        assert_eq!(keys, expected);
        assert_eq!(result["output_tokens"], serde_json::Value::Null);

        let error = serde_json::to_value(ErrorLine {
            line: 3,
            id: None,
            prompt_id: "p",
            error: "bad_json",
            message: "m",
            attempts: 0,
        })
        .unwrap();
        assert_eq!(error["line"], 3);
        assert_eq!(error["id"], serde_json::Value::Null);
    }
}
