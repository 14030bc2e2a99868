//! Bedrock batch inference: the manifest an export writes, and `bedrock import`, which turns a
//! finished job's output into the same result and error lines live calls write.
//!
//! A Bedrock batch inference job reads the export (`{"recordId", "modelInput"}` lines) and
//! writes, per input file, `<input name>.out` under its output location: one line per record
//! it processed, `{"recordId", "modelInput", "modelOutput"}`, or `{"recordId", "modelInput",
//! "error": {"errorCode", "errorMessage"}}` for a record it could not.
//!
//! The import reads each `modelOutput` with the runtime's own parsers
//! ([`promptops_runtime::bedrock::parse_native`], then [`promptops_runtime::read_answer`]): a
//! label must be one of the prompt's labels, a structured answer must pass its schema, exactly
//! as for a live call. The prompt version and content hash of every result line come from the
//! export's [`Manifest`], and the import refuses to read an output with a binary whose prompt
//! differs from the one exported. Records Bedrock failed, answers the prompt cannot accept,
//! and exported records the output does not mention become error lines (`bedrock_error`,
//! `output_invalid` / `unexpected_output`, `missing`), so the next run of the job can call just
//! those.

use std::borrow::Cow;
use std::io::{self, Read};

use promptops_runtime::bedrock::{parse_native, NativeFormat};
use promptops_runtime::{read_answer, DefRef, OutputError, PromptDef, Version};
use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use crate::lines::{bad_line, for_each_line, output_text, MAX_OUTPUT_LINE_BYTES};
use crate::location::Location;
use crate::output::{self, Done, Failure};
use crate::runner::{blocking, create_output, open_input, output_error, record_output};
use crate::s3::S3;
use crate::shard::IdSet;
use crate::{find_prompt, BatchError};

/// The manifest's `format`.
pub const MANIFEST_FORMAT: &str = "promptops-bedrock-batch/1";
/// The largest manifest read (it is a few hundred bytes).
const MAX_MANIFEST_BYTES: u64 = 64 * 1024;
/// Bedrock batch inference is billed at half the on-demand price on the models that support it
/// (see the Bedrock pricing page); result lines carry that cost.
pub const BATCH_PRICE_FACTOR: f64 = 0.5;
/// How many missing ids a summary lists (the count is complete).
pub const MAX_LISTED: usize = 20;

/// What an export was made from, written beside it (`<export>.manifest.json`): the import
/// reads it back, and a Bedrock job's name and tags can carry it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// [`MANIFEST_FORMAT`].
    pub format: String,
    /// The prompt's id.
    pub prompt_id: String,
    /// The prompt's version the records were rendered with.
    pub prompt_version: Version,
    /// The prompt file's content hash.
    pub content_hash: String,
    /// The Bedrock model id the bodies were written for.
    pub model_id: String,
    /// Records in the export.
    pub records: u64,
}

impl Manifest {
    /// The manifest of an export of `def` for `model_id`.
    pub fn new(def: &PromptDef, model_id: &str, records: u64) -> Self {
        Manifest {
            format: MANIFEST_FORMAT.to_owned(),
            prompt_id: def.id.clone(),
            prompt_version: def.version,
            content_hash: def.content_hash.clone(),
            model_id: model_id.to_owned(),
            records,
        }
    }
}

/// Where the manifest of the export at `export` is.
pub fn manifest_location(export: &Location) -> Location {
    export.with_suffix(".manifest.json")
}

/// What to import.
#[derive(Debug, Clone)]
pub struct ImportConfig {
    /// The export the job read (its record ids; its manifest is beside it).
    pub input: Location,
    /// The job's output objects for that input (`….jsonl.out`).
    pub job_outputs: Vec<Location>,
    /// The results; errors go to `<output>.errors.jsonl`.
    pub output: Location,
    /// The S3 client for `s3://` locations (`None`: from the standard AWS configuration).
    pub s3: Option<S3>,
    /// Bytes gathered per staged part of an S3 output.
    pub stage_bytes: usize,
}

/// What an import found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct ImportSummary {
    /// The prompt and version the results record.
    pub prompt_id: String,
    /// The version.
    pub prompt_version: String,
    /// Records in the export.
    pub exported: u64,
    /// Result lines written.
    pub succeeded: u64,
    /// Records Bedrock failed, or whose answers the prompt does not accept.
    pub failed: u64,
    /// Exported records the job's output does not mention.
    pub missing: u64,
    /// The first few missing ids.
    pub missing_ids: Vec<String>,
    /// Output lines about records that are not in the export, or repeat one (ignored).
    pub ignored: u64,
    /// Input tokens over the results.
    pub input_tokens: u64,
    /// Output tokens over the results.
    pub output_tokens: u64,
    /// Cost of the results at the batch price.
    pub cost_usd: f64,
}

impl ImportSummary {
    /// 0 when every exported record has a result, 1 otherwise.
    pub fn exit_code(&self) -> i32 {
        i32::from(self.failed > 0 || self.missing > 0)
    }

    /// A few lines for the terminal.
    pub fn text(&self) -> String {
        let mut text = format!(
            "imported {} v{}: {} of {} records succeeded, {} failed, {} missing\n\
             tokens: {} in, {} out; cost at the batch price: ${:.4}\n",
            self.prompt_id,
            self.prompt_version,
            self.succeeded,
            self.exported,
            self.failed,
            self.missing,
            self.input_tokens,
            self.output_tokens,
            self.cost_usd
        );
        if self.missing > 0 {
            text.push_str(&format!(
                "missing (e.g.): {}\n",
                self.missing_ids.join(", ")
            ));
        }
        if self.ignored > 0 {
            text.push_str(&format!(
                "ignored {} output lines about records not in the export, or repeated\n",
                self.ignored
            ));
        }
        if self.failed > 0 || self.missing > 0 {
            text.push_str(
                "the errors file lists them; rerun the job on them (live, or export them again)\n",
            );
        }
        text
    }
}

#[derive(Deserialize)]
struct ExportedId<'a> {
    #[serde(rename = "recordId", borrow)]
    record_id: Cow<'a, str>,
}

#[derive(Deserialize)]
struct JobOutputLine<'a> {
    #[serde(rename = "recordId", borrow)]
    record_id: Cow<'a, str>,
    #[serde(rename = "modelOutput", borrow, default)]
    model_output: Option<&'a RawValue>,
    #[serde(default)]
    error: Option<JobError>,
}

#[derive(Deserialize)]
struct JobError {
    #[serde(rename = "errorCode", default)]
    code: Option<serde_json::Value>,
    #[serde(rename = "errorMessage", default)]
    message: Option<String>,
}

fn read_manifest(location: &Location, s3: Option<&S3>) -> Result<Manifest, BatchError> {
    let mut text = Vec::new();
    open_input(location, s3)?
        .take(MAX_MANIFEST_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(|source| BatchError::Input {
            location: location.clone(),
            source,
        })?;
    let invalid = |problem: String| BatchError::Input {
        location: location.clone(),
        source: io::Error::new(io::ErrorKind::InvalidData, problem),
    };
    if text.len() as u64 > MAX_MANIFEST_BYTES {
        return Err(invalid(format!("larger than {MAX_MANIFEST_BYTES} bytes")));
    }
    let manifest: Manifest =
        serde_json::from_slice(&text).map_err(|err| invalid(format!("not a manifest: {err}")))?;
    if manifest.format != MANIFEST_FORMAT {
        return Err(invalid(format!(
            "format {:?}, this binary reads {MANIFEST_FORMAT:?}",
            manifest.format
        )));
    }
    Ok(manifest)
}

/// The compiled prompt the manifest names, if it is the one exported.
fn exported_prompt(manifest: &Manifest) -> Result<&'static PromptDef, BatchError> {
    let def = find_prompt(&manifest.prompt_id)?;
    if def.version != manifest.prompt_version || def.content_hash != manifest.content_hash {
        return Err(BatchError::Config(format!(
            "the export was made with {} v{} (content {}), this binary has v{} (content {}): \
             import with the binary that exported, so answers are read against the same prompt",
            manifest.prompt_id,
            manifest.prompt_version,
            manifest.content_hash,
            def.version,
            def.content_hash
        )));
    }
    Ok(def)
}

/// Imports a finished job's output (see the [module](self) docs).
pub async fn import(config: &ImportConfig) -> Result<ImportSummary, BatchError> {
    let mut config = config.clone();
    if config.job_outputs.is_empty() {
        return Err(BatchError::Config(
            "give the job's output objects (--job-output, the `.jsonl.out` files)".into(),
        ));
    }
    crate::s3::check_stage_bytes(config.stage_bytes).map_err(BatchError::Config)?;
    let locations = [&config.input, &config.output]
        .into_iter()
        .chain(&config.job_outputs);
    config.s3 = S3::for_locations(config.s3.clone(), locations).await;
    blocking(move || import_blocking(&config)).await
}

fn import_blocking(config: &ImportConfig) -> Result<ImportSummary, BatchError> {
    let s3 = config.s3.as_ref();
    let manifest = read_manifest(&manifest_location(&config.input), s3)?;
    let def = exported_prompt(&manifest)?;
    let format = NativeFormat::for_model(&manifest.model_id).ok_or_else(|| {
        BatchError::Config(format!(
            "the manifest's model {} has no InvokeModel format in this binary",
            manifest.model_id
        ))
    })?;
    let price = promptops_runtime::pricing::price_for(&manifest.model_id);

    // The exported ids, and their line numbers for the error lines of missing records.
    let mut exported = IdSet::new();
    for_each_line(&config.input, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
        let line = output_text(&config.input, number, line)?;
        let parsed: ExportedId =
            serde_json::from_slice(line).map_err(|err| bad_line(&config.input, number, err))?;
        exported.insert(&parsed.record_id);
        Ok(())
    })?;

    let errors_location = config.output.with_suffix(".errors.jsonl");
    let mut results = create_output(&config.output, config.stage_bytes, s3)?;
    let mut errors = create_output(&errors_location, config.stage_bytes, s3)?;
    let mut summary = ImportSummary {
        prompt_id: manifest.prompt_id.clone(),
        prompt_version: manifest.prompt_version.to_string(),
        exported: exported.len() as u64,
        ..ImportSummary::default()
    };
    let mut seen = IdSet::new();
    for job_output in &config.job_outputs {
        for_each_line(job_output, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
            let line = output_text(job_output, number, line)?;
            let parsed: JobOutputLine =
                serde_json::from_slice(line).map_err(|err| bad_line(job_output, number, err))?;
            let id = parsed.record_id.as_ref();
            if !exported.contains(id) || !seen.insert(id) {
                summary.ignored += 1;
                return Ok(());
            }
            let failure = |kind: &'static str, message: String| Failure {
                line: number,
                id: Some(id.to_owned()),
                kind,
                message,
                attempts: 1,
            };
            let outcome = match (parsed.model_output, parsed.error) {
                (_, Some(error)) => Err(failure(
                    "bedrock_error",
                    format!(
                        "Bedrock batch inference failed the record ({}): {}",
                        error.code.map(|code| code.to_string()).unwrap_or_default(),
                        error.message.unwrap_or_default()
                    ),
                )),
                (None, None) => Err(failure(
                    "bedrock_error",
                    "the output line has neither modelOutput nor error".into(),
                )),
                (Some(raw), None) => read_model_output(def, format, raw.get().as_bytes())
                    .map_err(|(kind, message)| failure(kind, message)),
            };
            match outcome {
                Ok(ImportedAnswer {
                    output,
                    input_tokens,
                    output_tokens,
                }) => {
                    let cost_usd = match (price, input_tokens, output_tokens) {
                        (Some(price), Some(input), Some(output)) => {
                            Some(price.cost(input, output) * BATCH_PRICE_FACTOR)
                        }
                        _ => None,
                    };
                    summary.succeeded += 1;
                    summary.input_tokens += u64::from(input_tokens.unwrap_or(0));
                    summary.output_tokens += u64::from(output_tokens.unwrap_or(0));
                    summary.cost_usd += cost_usd.unwrap_or(0.0);
                    let done = Done {
                        id: id.to_owned(),
                        prompt: DefRef::Static(def),
                        output,
                        input_tokens,
                        output_tokens,
                        cost_usd,
                        // A batch job reports no per-record latency.
                        latency_ms: 0,
                        attempts: 1,
                        repair_turns: def.output_schema.is_some().then_some(0),
                    };
                    output::write_result(&mut results, &done).map_err(output_error(&config.output))
                }
                Err(failure) => {
                    summary.failed += 1;
                    output::write_error(&mut errors, def, &failure)
                        .map_err(output_error(&errors_location))
                }
            }
        })?;
    }

    // Exported records the output never mentions: listed, and error lines to rerun them by.
    for_each_line(&config.input, s3, MAX_OUTPUT_LINE_BYTES, |number, line| {
        let line = output_text(&config.input, number, line)?;
        let parsed: ExportedId =
            serde_json::from_slice(line).map_err(|err| bad_line(&config.input, number, err))?;
        let id = parsed.record_id.as_ref();
        if !seen.insert(id) {
            return Ok(());
        }
        summary.missing += 1;
        if summary.missing_ids.len() < MAX_LISTED {
            summary.missing_ids.push(id.to_owned());
        }
        let failure = Failure {
            line: number,
            id: Some(id.to_owned()),
            kind: "missing",
            message: "the batch inference job's output has no line for this record".into(),
            attempts: 0,
        };
        output::write_error(&mut errors, def, &failure).map_err(output_error(&errors_location))
    })?;
    errors.finish().map_err(output_error(&errors_location))?;
    results.finish().map_err(output_error(&config.output))?;
    Ok(summary)
}

/// One record's answer, read from its `modelOutput`.
struct ImportedAnswer {
    output: serde_json::Value,
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
}

/// A `modelOutput` read as a live call's response is: the answer, or the error kind and
/// message a live call would record.
fn read_model_output(
    def: &PromptDef,
    format: NativeFormat,
    body: &[u8],
) -> Result<ImportedAnswer, (&'static str, String)> {
    let response = parse_native(format, body).map_err(|err| ("bad_response", err))?;
    let output = read_answer(def, &response, &|answer| record_output(def, answer)).map_err(
        |err| match err {
            OutputError::Unexpected(_) => ("unexpected_output", err.to_string()),
            OutputError::Invalid(_) => ("output_invalid", err.to_string()),
        },
    )?;
    Ok(ImportedAnswer {
        output,
        input_tokens: response.input_tokens,
        output_tokens: response.output_tokens,
    })
}

/// Writes the manifest of an export beside it.
pub fn write_manifest(export: &Location, manifest: &Manifest) -> Result<(), BatchError> {
    let location = manifest_location(export);
    let Location::File(path) = &location else {
        return Err(BatchError::Config(
            "an export is written to a local file".into(),
        ));
    };
    let json = serde_json::to_vec_pretty(manifest)
        .map_err(|err| BatchError::Config(format!("cannot serialize the manifest: {err}")))?;
    std::fs::write(path, json).map_err(output_error(&location))
}
