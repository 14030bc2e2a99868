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
use promptops_runtime::model::output_mode_for;
use promptops_runtime::{
    InferenceOverride, InferenceParams, ModelRequest, PromptDef, Rendered, Schema,
    StructuredRequest,
};
use serde::Serialize;
use serde_json::Value;

/// Bedrock's default quota for the minimum number of records in one batch inference job.
pub const BEDROCK_MIN_RECORDS: u64 = 100;

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
        // A structured prompt asks as a live call would: the forced tool where the model has
        // one, else the schema in the system prompt.
        structured: rendered
            .prompt
            .output_schema
            .as_ref()
            .zip(schema_json.as_ref())
            .map(|(schema, schema_json)| StructuredRequest {
                schema,
                schema_json,
                mode: output_mode_for(model_id),
                earlier: &[],
            }),
    };
    native_body(format, &request)
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
