//! `--export-bedrock`: the input of an Amazon Bedrock batch inference job
//! (`CreateModelInvocationJob`), written without calling any model.
//!
//! Each line is `{"recordId": ID, "modelInput": BODY}` where `BODY` is exactly the InvokeModel
//! body the runtime sends for this prompt and record
//! ([`promptops_runtime::bedrock::native_body`]): for Claude models the Anthropic Messages body
//! (`anthropic_version: bedrock-2023-05-31`, `max_tokens`, `system`, `messages`, and the
//! prompt's `temperature` / `top_p` / `stop_sequences`), for Titan text models the Titan body.
//! Other model families have no native body in the runtime and are refused up front.

use std::path::Path;

use promptops_runtime::bedrock::{native_body, NativeFormat};
use promptops_runtime::model::OutputMode;
use promptops_runtime::{
    InferenceOverride, InferenceParams, ModelRequest, PromptDef, Rendered, Schema,
    StructuredRequest,
};
use serde::Serialize;
use serde_json::Value;

use crate::bedrock_batch::{write_manifest, Manifest};
use crate::location::Location;
use crate::output::JsonlWriter;
use crate::BatchError;

/// Bedrock's default quota for the minimum number of records in one batch inference job.
pub const BEDROCK_MIN_RECORDS: u64 = 100;

/// Bedrock's default quota "Records per input file per batch inference job" (and per job):
/// an export with more records is split into several files, one job each.
pub const DEFAULT_MAX_RECORDS_PER_FILE: u64 = 50_000;
/// Bedrock's default quota "Batch inference input file size" (1 GB): a file that would grow
/// past it is closed and the next one started.
pub const DEFAULT_MAX_BYTES_PER_FILE: u64 = 1_000_000_000;

/// The quotas an export splits by: Bedrock's defaults, or an account's raised ones.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportLimits {
    /// Records per file (and job).
    pub max_records: u64,
    /// Bytes per file.
    pub max_bytes: u64,
}

impl Default for ExportLimits {
    fn default() -> Self {
        ExportLimits {
            max_records: DEFAULT_MAX_RECORDS_PER_FILE,
            max_bytes: DEFAULT_MAX_BYTES_PER_FILE,
        }
    }
}

/// The name of an export's file number `index` (from 1): the path given, then
/// `<stem>-0002.jsonl`, `<stem>-0003.jsonl`, … beside it (Bedrock reads `.jsonl` files only).
pub fn part_path(first: &Path, index: u32) -> std::path::PathBuf {
    if index <= 1 {
        return first.to_owned();
    }
    let name = first
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let stem = name.strip_suffix(".jsonl").unwrap_or(&name);
    first.with_file_name(format!("{stem}-{index:04}.jsonl"))
}

/// The export's files as they are written: a new one whenever the next line would break a
/// limit. Each file gets its manifest when it is closed.
pub struct ExportFiles {
    first: std::path::PathBuf,
    limits: ExportLimits,
    manifest: Manifest,
    current: Option<JsonlWriter>,
    records: u64,
    bytes: u64,
    /// Closed files and their record counts.
    files: Vec<(std::path::PathBuf, u64)>,
}

impl ExportFiles {
    /// Starts the first file at `first` (for `def` on `model_id`).
    pub fn create(
        first: &Path,
        limits: ExportLimits,
        def: &PromptDef,
        model_id: &str,
    ) -> Result<Self, BatchError> {
        let mut files = ExportFiles {
            first: first.to_owned(),
            limits: ExportLimits {
                max_records: limits.max_records.max(1),
                max_bytes: limits.max_bytes.max(1),
            },
            manifest: Manifest::new(def, model_id, 0),
            current: None,
            records: 0,
            bytes: 0,
            files: Vec::new(),
        };
        files.open_next()?;
        Ok(files)
    }

    fn current_path(&self) -> std::path::PathBuf {
        part_path(
            &self.first,
            u32::try_from(self.files.len() + 1).unwrap_or(u32::MAX),
        )
    }

    fn open_next(&mut self) -> Result<(), BatchError> {
        let path = self.current_path();
        let file = crate::resume::create_fresh(&path)
            .map_err(crate::runner::output_error(&Location::File(path.clone())))?;
        self.current = Some(JsonlWriter::new(file));
        self.records = 0;
        self.bytes = 0;
        Ok(())
    }

    fn close_current(&mut self) -> Result<(), BatchError> {
        let path = self.current_path();
        let location = Location::File(path.clone());
        if let Some(writer) = self.current.take() {
            writer
                .finish()
                .map_err(crate::runner::output_error(&location))?;
        }
        let manifest = Manifest {
            records: self.records,
            ..self.manifest.clone()
        };
        write_manifest(&location, &manifest)?;
        self.files.push((path, self.records));
        Ok(())
    }

    /// Writes one line, in a new file when this one is full.
    pub fn write(&mut self, line: &ExportLine<'_>) -> Result<(), BatchError> {
        let bytes = serde_json::to_vec(line)
            .map_err(|err| BatchError::Config(format!("cannot serialize an export line: {err}")))?;
        let size = bytes.len() as u64 + 1;
        if self.records > 0
            && (self.records >= self.limits.max_records
                || self.bytes + size > self.limits.max_bytes)
        {
            self.close_current()?;
            self.open_next()?;
        }
        let path = self.current_path();
        let writer = self
            .current
            .as_mut()
            .ok_or_else(|| BatchError::Config("the export file is closed".into()))?;
        writer
            .write_line(&bytes)
            .map_err(crate::runner::output_error(&Location::File(path)))?;
        self.records += 1;
        self.bytes += size;
        Ok(())
    }

    /// Closes the last file: every file and its record count.
    pub fn finish(mut self) -> Result<Vec<(std::path::PathBuf, u64)>, BatchError> {
        self.close_current()?;
        Ok(self.files)
    }
}

/// A model id the export cannot write bodies for.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "cannot export for Bedrock batch inference: model {model_id} has no InvokeModel body \
     format in the runtime (supported: Anthropic Claude, Amazon Titan text)"
)]
pub struct UnsupportedModel {
    /// The model id.
    pub model_id: String,
}

/// The body format for `model_id`, or why there is none.
pub fn format_for(model_id: &str) -> Result<NativeFormat, UnsupportedModel> {
    NativeFormat::for_model(model_id).ok_or_else(|| UnsupportedModel {
        model_id: model_id.to_owned(),
    })
}

/// One line of a Bedrock batch inference input file.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ExportLine<'a> {
    /// The record's id.
    #[serde(rename = "recordId")]
    pub record_id: &'a str,
    /// The InvokeModel body.
    #[serde(rename = "modelInput")]
    pub model_input: Value,
}

/// The InvokeModel body for one rendered record, with the prompt's inference settings.
pub fn model_input(format: NativeFormat, model_id: &str, rendered: &Rendered) -> Value {
    let inference =
        InferenceParams::resolve(&rendered.prompt.inference, &InferenceOverride::default());
    let schema_json = rendered.prompt.output_schema.as_ref().map(Schema::to_json);
    let request = ModelRequest {
        prompt: &rendered.prompt,
        model_id,
        system: rendered.system.as_deref(),
        user: &rendered.user,
        inference: &inference,
        // A structured prompt asks with the schema in the system prompt, as a live call does on
        // a model without tools: Bedrock batch inference does not support tool calling
        // ("Process multiple prompts with batch inference", Bedrock user guide). The import
        // reads the first JSON object of the text and checks it against the schema.
        structured: rendered
            .prompt
            .output_schema
            .as_ref()
            .zip(schema_json.as_ref())
            .map(|(schema, schema_json)| StructuredRequest {
                schema,
                schema_json,
                mode: OutputMode::Text,
                earlier: &[],
            }),
    };
    native_body(format, &request)
}

/// The commands that turn the export's files into Bedrock batch inference jobs (one per file),
/// and what to import afterwards.
pub fn next_steps_for(
    files: &[(std::path::PathBuf, u64)],
    def: &PromptDef,
    model_id: &str,
) -> String {
    let mut steps = String::new();
    if files.len() > 1 {
        steps.push_str(&format!(
            "The export is split into {} files by Bedrock's per-job quotas: one job each.\n",
            files.len()
        ));
    }
    for (path, records) in files {
        steps.push_str(&next_steps(path, def, model_id));
        if *records < BEDROCK_MIN_RECORDS {
            steps.push_str(&format!(
                "Note: {} has {records} records; Bedrock's default quota needs at least \
                 {BEDROCK_MIN_RECORDS} records per batch job.\n",
                path.display()
            ));
        }
    }
    steps.push_str(
        "Then: promptops-batch bedrock import --input EXPORT.jsonl --job-output \
         s3://YOUR-BUCKET/promptops-batch/output/JOB-ID/EXPORT.jsonl.out -o results.jsonl\n",
    );
    steps
}

/// The commands that turn an export file into a Bedrock batch inference job.
pub fn next_steps(path: &Path, def: &PromptDef, model_id: &str) -> String {
    let file = path
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_else(|| "records.jsonl".into());
    let job = format!("promptops-{}-v{}", def.id.replace('.', "-"), def.version);
    format!(
        "Next: upload the file and create the Bedrock batch inference job \
         (needs an S3 bucket and a service role Bedrock can assume):\n\
         \n  aws s3 cp {path} s3://YOUR-BUCKET/promptops-batch/input/{file}\
         \n  aws bedrock create-model-invocation-job \\\
         \n    --job-name {job}-$(date +%Y%m%d%H%M%S) \\\
         \n    --model-id {model_id} \\\
         \n    --role-arn arn:aws:iam::YOUR-ACCOUNT-ID:role/YOUR-BEDROCK-BATCH-ROLE \\\
         \n    --input-data-config '{{\"s3InputDataConfig\":{{\"s3Uri\":\"s3://YOUR-BUCKET/promptops-batch/input/{file}\"}}}}' \\\
         \n    --output-data-config '{{\"s3OutputDataConfig\":{{\"s3Uri\":\"s3://YOUR-BUCKET/promptops-batch/output/\"}}}}'\
         \n  aws bedrock get-model-invocation-job --job-identifier JOB-ARN   # until status is Completed\n",
        path = path.display(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use promptops_runtime::render::render_def_with_input;
    use promptops_runtime::NoVars;

    #[test]
    fn anthropic_body_for_the_classifier() {
        let def = prompts::get("customer-support.intent-classifier").unwrap();
        let format = format_for(&def.model_id).unwrap();
        assert_eq!(format, NativeFormat::AnthropicMessages);
        let rendered = render_def_with_input(def, &NoVars, "I was charged twice").unwrap();
        let line = serde_json::to_value(ExportLine {
            record_id: "msg-1",
            model_input: model_input(format, &def.model_id, &rendered),
        })
        .unwrap();
        assert_eq!(line["recordId"], "msg-1");
        let body = &line["modelInput"];
        assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
        assert!(body["max_tokens"].as_u64().is_some_and(|max| max > 0));
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(
            body["messages"][0]["content"][0]["text"],
            "I was charged twice"
        );
        assert!(body["system"]
            .as_str()
            .unwrap()
            .contains("intent classifier"));
    }

    #[test]
    fn split_files_are_named_beside_the_first() {
        let first = Path::new("out/bedrock.jsonl");
        assert_eq!(part_path(first, 1), first);
        assert_eq!(part_path(first, 2), Path::new("out/bedrock-0002.jsonl"));
        assert_eq!(part_path(Path::new("x"), 12), Path::new("x-0012.jsonl"));
    }

    #[test]
    fn unsupported_models_are_refused_and_next_steps_name_the_model() {
        assert!(format_for("meta.llama3-8b-instruct-v1:0").is_err());
        assert_eq!(
            format_for("amazon.titan-text-express-v1"),
            Ok(NativeFormat::TitanText)
        );
        let def = prompts::get("customer-support.intent-classifier").unwrap();
        let steps = next_steps(Path::new("out/x.jsonl"), def, &def.model_id);
        assert!(steps.contains("aws bedrock create-model-invocation-job"));
        assert!(steps.contains(def.model_id.as_str()));
        assert!(steps.contains("s3://YOUR-BUCKET/promptops-batch/input/x.jsonl"));
    }
}
