//! `promptops-batch merge`: the results of a sharded run (`--shard i/n`, or the children of an
//! AWS Batch array job) combined into one results object, checked on the way.
//!
//! Shard `i`'s results are read from the `--from` location with `{shard}` filled in
//! ([`Location::for_shard`]) and its errors from beside them (`….errors.jsonl`). The merge
//! streams them in shard order into the output (and the errors into `<output>.errors.jsonl`),
//! and checks, holding only id fingerprints (16 bytes per id in a hash set: 35–51 bytes per id
//! measured):
//!
//! * every shard has results and errors (a shard that never finished has none);
//! * no id appears twice among the results, and each id is in the shard its hash names (a
//!   wrong shard count, or a shard run with another one, shows here);
//! * with `--input`, every input id has a result or an error line.
//!
//! Nothing is written unless every check passes: a first pass only reads and checks; the
//! second copies the lines into the output (a local file is written beside and renamed into
//! place; an S3 object is staged and completed). The output may not be a shard's results or
//! errors, or the input.

use std::borrow::Cow;

use serde::{Deserialize, Serialize};

use crate::lines::{bad_line, for_each_line, output_text, Line, MAX_OUTPUT_LINE_BYTES};
use crate::location::Location;
use crate::output::JsonlWriter;
use crate::record::parse_line;
use crate::runner::{blocking, create_output, output_error};
use crate::s3::S3;
use crate::shard::{IdSet, Shard};
use crate::BatchError;

/// How many problem ids a summary lists (the counts are complete).
pub const MAX_LISTED: usize = 20;

/// What to merge, and where.
#[derive(Debug, Clone)]
pub struct MergeConfig {
    /// The shards' results, with `{shard}` in it.
    pub from: Location,
    /// How many shards the run had.
    pub shards: u32,
    /// The merged results; the merged errors go beside them (`….errors.jsonl`).
    pub output: Location,
    /// The run's input, to check that no id is missing.
    pub input: Option<Location>,
    /// The S3 client for `s3://` locations (`None` builds one from the standard AWS
    /// configuration when needed).
    pub s3: Option<S3>,
    /// Bytes gathered per staged part of an S3 output.
    pub stage_bytes: usize,
    /// The shards' `--max-line-bytes`: longer input lines were reported by line number, with
    /// no id, so the missing-id check skips them too.
    pub max_line_bytes: usize,
}

/// What a merge found. It succeeded when [`MergeSummary::is_complete`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct MergeSummary {
    /// Shards read.
    pub shards: u32,
    /// Result lines merged.
    pub results: u64,
    /// Error lines merged.
    pub errors: u64,
    /// Distinct ids in the input (with `--input`).
    pub input_ids: Option<u64>,
    /// Ids with more than one result line (the first few; see `duplicate_count`).
    pub duplicates: Vec<String>,
    /// How many result lines repeat an id.
    pub duplicate_count: u64,
    /// Ids found in another shard's results than their hash names (the first few).
    pub misplaced: Vec<String>,
    /// How many result lines are in the wrong shard.
    pub misplaced_count: u64,
    /// Input ids with neither a result nor an error line (the first few).
    pub missing: Vec<String>,
    /// How many input ids are missing.
    pub missing_count: u64,
    /// Where the merged results went, when they were written.
    pub output: Option<String>,
}

impl MergeSummary {
    /// Whether every check passed (and so the output was written).
    pub fn is_complete(&self) -> bool {
        self.duplicate_count == 0 && self.misplaced_count == 0 && self.missing_count == 0
    }

    /// The process exit code: 0 when complete, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(!self.is_complete())
    }

    /// A few lines for the terminal.
    pub fn text(&self) -> String {
        let mut text = format!(
            "merged {} shards: {} results, {} errors\n",
            self.shards, self.results, self.errors
        );
        if let Some(ids) = self.input_ids {
            text.push_str(&format!("input: {ids} distinct ids\n"));
        }
        for (what, count, ids) in [
            ("doubled ids", self.duplicate_count, &self.duplicates),
            (
                "ids in the wrong shard",
                self.misplaced_count,
                &self.misplaced,
            ),
            (
                "input ids with no result or error",
                self.missing_count,
                &self.missing,
            ),
        ] {
            if count > 0 {
                text.push_str(&format!("{what}: {count} (e.g. {})\n", ids.join(", ")));
            }
        }
        match &self.output {
            Some(output) => text.push_str(&format!("written: {output}\n")),
            None => text.push_str("nothing written: fix the shards and merge again\n"),
        }
        text
    }
}

fn note(list: &mut Vec<String>, count: &mut u64, id: &str) {
    *count += 1;
    if list.len() < MAX_LISTED {
        list.push(id.to_owned());
    }
}

#[derive(Deserialize)]
struct ResultId<'a> {
    #[serde(borrow)]
    id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct ErrorId<'a> {
    #[serde(borrow, default)]
    id: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    error: Option<Cow<'a, str>>,
}

/// Merges the shards (see the [module](self) docs). A check that fails is reported in the
/// summary (and nothing is written); a shard that cannot be read is an error.
pub async fn merge(config: &MergeConfig) -> Result<MergeSummary, BatchError> {
    let mut config = config.clone();
    if config.shards == 0 {
        return Err(BatchError::Config("--shards must be at least 1".into()));
    }
    if !config.from.has_shard_placeholder() && config.shards > 1 {
        return Err(BatchError::Config(format!(
            "--from {} needs the {} placeholder to name each shard's results",
            config.from,
            crate::location::SHARD_PLACEHOLDER
        )));
    }
    crate::s3::check_stage_bytes(config.stage_bytes).map_err(BatchError::Config)?;
    let errors_output = config.output.with_suffix(".errors.jsonl");
    for ShardFiles {
        shard,
        results,
        errors,
    } in shard_files(&config)?
    {
        let theirs = [results, errors];
        if theirs.contains(&config.output) || theirs.contains(&errors_output) {
            return Err(BatchError::Config(format!(
                "--output {} would overwrite shard {shard}'s results or errors",
                config.output
            )));
        }
    }
    if config
        .input
        .as_ref()
        .is_some_and(|input| *input == config.output || *input == errors_output)
    {
        return Err(BatchError::Config(
            "--output would overwrite --input".into(),
        ));
    }
    let locations = [&config.from, &config.output]
        .into_iter()
        .chain(&config.input);
    config.s3 = S3::for_locations(config.s3.clone(), locations).await;
    blocking(move || merge_blocking(&config)).await
}

/// One shard's results and errors.
struct ShardFiles {
    shard: Shard,
    results: Location,
    errors: Location,
}

/// Every shard's results (`--from` with `{shard}` filled) and the errors beside them, in order.
fn shard_files(config: &MergeConfig) -> Result<Vec<ShardFiles>, BatchError> {
    (0..config.shards)
        .map(|index| {
            let shard = Shard::new(index, config.shards)
                .map_err(|err| BatchError::Config(err.to_string()))?;
            let results = config.from.for_shard(shard);
            Ok(ShardFiles {
                shard,
                errors: results.with_suffix(".errors.jsonl"),
                results,
            })
        })
        .collect()
}

/// A merged output being written: a temporary file renamed into place, or a staged S3 object.
enum Pending {
    File {
        writer: JsonlWriter,
        temp: std::path::PathBuf,
        path: std::path::PathBuf,
    },
    S3(JsonlWriter),
}

fn start_output(location: &Location, config: &MergeConfig) -> Result<Pending, BatchError> {
    match location {
        Location::File(path) => {
            let mut temp = path.as_os_str().to_owned();
            temp.push(".merging");
            let temp = std::path::PathBuf::from(temp);
            let file = crate::resume::create_fresh(&temp).map_err(output_error(location))?;
            Ok(Pending::File {
                writer: JsonlWriter::new(file),
                temp,
                path: path.clone(),
            })
        }
        Location::S3(_) => Ok(Pending::S3(create_output(
            location,
            config.stage_bytes,
            config.s3.as_ref(),
        )?)),
    }
}

impl Pending {
    fn writer(&mut self) -> &mut JsonlWriter {
        match self {
            Pending::File { writer, .. } | Pending::S3(writer) => writer,
        }
    }

    /// Makes the output visible.
    fn commit(self, location: &Location) -> Result<(), BatchError> {
        match self {
            Pending::File { writer, temp, path } => {
                writer.finish().map_err(output_error(location))?;
                std::fs::rename(&temp, &path).map_err(output_error(location))
            }
            Pending::S3(writer) => writer.finish().map_err(output_error(location)),
        }
    }
}

/// The first pass: reads every shard (and the input) and counts; writes nothing.
fn check(config: &MergeConfig) -> Result<MergeSummary, BatchError> {
    let s3 = config.s3.as_ref();
    let mut summary = MergeSummary {
        shards: config.shards,
        ..MergeSummary::default()
    };
    let mut done = IdSet::new();
    let mut failed = IdSet::new();
    for ShardFiles {
        shard,
        results,
        errors,
    } in shard_files(config)?
    {
        for_each_line(&results, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
            let text = output_text(&results, number, line)?;
            let parsed: ResultId =
                serde_json::from_slice(text).map_err(|err| bad_line(&results, number, err))?;
            if !done.insert(&parsed.id) {
                note(
                    &mut summary.duplicates,
                    &mut summary.duplicate_count,
                    &parsed.id,
                );
                return Ok(());
            }
            if !shard.owns_id(&parsed.id) {
                note(
                    &mut summary.misplaced,
                    &mut summary.misplaced_count,
                    &parsed.id,
                );
            }
            summary.results += 1;
            Ok(())
        })?;
        for_each_line(&errors, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
            let text = output_text(&errors, number, line)?;
            let parsed: ErrorId =
                serde_json::from_slice(text).map_err(|err| bad_line(&errors, number, err))?;
            // A repeated id's error line says nothing about the id's first record.
            if let (Some(id), false) = (&parsed.id, parsed.error.as_deref() == Some("duplicate_id"))
            {
                failed.insert(id);
            }
            summary.errors += 1;
            Ok(())
        })?;
    }
    if let Some(input) = &config.input {
        let mut seen = IdSet::new();
        for_each_line(input, s3, config.max_line_bytes, |_, line| {
            // Lines without a readable id (and over-long lines) are reported by line number in
            // the errors.
            let Line::Text(text) = line else {
                return Ok(());
            };
            let Some(parsed) = std::str::from_utf8(text)
                .ok()
                .and_then(|text| parse_line(text).ok())
            else {
                return Ok(());
            };
            if seen.insert(&parsed.id) && !done.contains(&parsed.id) && !failed.contains(&parsed.id)
            {
                note(&mut summary.missing, &mut summary.missing_count, &parsed.id);
            }
            Ok(())
        })?;
        summary.input_ids = Some(seen.len() as u64);
    }
    Ok(summary)
}

/// The second pass: copies every shard's lines into the output, then makes it visible.
fn write(config: &MergeConfig) -> Result<(), BatchError> {
    let s3 = config.s3.as_ref();
    let errors_output = config.output.with_suffix(".errors.jsonl");
    let mut results_out = start_output(&config.output, config)?;
    let mut errors_out = start_output(&errors_output, config)?;
    let mut done = IdSet::new();
    for ShardFiles {
        results, errors, ..
    } in shard_files(config)?
    {
        for_each_line(&results, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
            let text = output_text(&results, number, line)?;
            let parsed: ResultId =
                serde_json::from_slice(text).map_err(|err| bad_line(&results, number, err))?;
            // The check found no doubled id; a shard rewritten meanwhile is not copied twice.
            if !done.insert(&parsed.id) {
                return Ok(());
            }
            results_out
                .writer()
                .write_line(text)
                .map_err(output_error(&config.output))
        })?;
        for_each_line(&errors, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
            let text = output_text(&errors, number, line)?;
            errors_out
                .writer()
                .write_line(text)
                .map_err(output_error(&errors_output))
        })?;
    }
    errors_out.commit(&errors_output)?;
    results_out.commit(&config.output)
}

fn merge_blocking(config: &MergeConfig) -> Result<MergeSummary, BatchError> {
    let mut summary = check(config)?;
    if summary.is_complete() {
        write(config)?;
        summary.output = Some(config.output.to_string());
    }
    Ok(summary)
}
