//! The Lambda function's events: S3 notifications, Step Functions task inputs (one per stage)
//! and API Gateway HTTP API requests (payload 2.0), told apart by their shape.
//!
//! **Publishing through the stages.** Anyone allowed to invoke the function can send it a
//! Step Functions task input, so a task input must not be able to choose what is published.
//! The `invoke` stage therefore stores the model's text in the bucket, as a generation record
//! under `<env>/generated/` bound to the input's key and rendering
//! ([`Pipeline::store_generation`]), and returns only that record's key; the `publish` stage
//! takes only the key (`generated_key`), reads the record back and publishes it only for the
//! same input and rendering ([`Pipeline::load_generation`]). A task input carrying text is
//! refused (`PipelineBadEvent`: task inputs deny unknown fields). Of the three options issue 21
//! gives, this one holds whoever can invoke the function (an IAM-restricted invoke permission
//! depends on every identity policy in the account; lambda resource policies cannot deny),
//! needs no key to manage or rotate (authenticated payloads would), and keeps model output out
//! of the execution history (Step Functions caps state at 256 KiB).

use std::sync::Arc;

use axum::Router;
use lambda_http::aws_lambda_events::apigw::ApiGatewayV2httpResponse;
use lambda_http::aws_lambda_events::encodings::Body;
use lambda_http::http::header::{HeaderValue, CONTENT_TYPE};
use lambda_http::lambda_runtime::Diagnostic;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tower::ServiceExt;

use crate::api::ErrorBody;
use crate::env::{decode_key, Env};
use crate::error::{error_chain, Stage, StageError};
use crate::pipeline::{each_isolated, Failure, Outcome, Pipeline};

/// The stages a Step Functions task input may name (`"stage": ...`); the state machine's task
/// states use exactly these (a test checks `statemachine/pipeline.asl.json` against it).
pub const STAGES: &[&str] = &["render", "invoke", "publish", "record_failure"];

/// The records of one S3 event processed at once. S3 usually sends one record per event; a
/// batch of them shares the invocation's time limit, so they overlap their storage and model
/// round trips, a few at a time (the model's throttling is retried by the runtime).
pub const S3_RECORD_CONCURRENCY: usize = 4;

/// The error type of failures that may pass on a retry; the state machine retries it.
pub const TRANSIENT_ERROR: &str = "PipelineTransient";

/// The error type of a permanent failure in `stage` (`PipelineRenderFailed`, ...).
pub fn error_type(stage: Stage) -> String {
    let name = stage.as_str();
    let mut chars = name.chars();
    let capitalised: String = chars
        .next()
        .map(|c| c.to_ascii_uppercase())
        .into_iter()
        .chain(chars)
        .collect();
    format!("Pipeline{capitalised}Failed")
}

/// What the function was invoked with.
#[derive(Debug)]
pub enum Event {
    /// An S3 notification (`Records`).
    S3(Vec<Value>),
    /// A Step Functions task input (`stage`).
    Task(TaskInput),
    /// An HTTP API request.
    Http(Box<Value>),
}

/// A Step Functions task input, tagged by `stage` (one of [`STAGES`]); an unknown stage is
/// refused by name. Each stage takes exactly its own fields, anything else is refused: a
/// `generated` text in particular (the publish stage takes only a reference to what the
/// invoke stage stored), or a `generated_key` on any stage but `publish`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "stage", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskInput {
    /// Read, check and render the input; nothing is invoked or written.
    Render {
        /// The input key (`prompt_inputs/NAME.json`, decoded).
        key: String,
    },
    /// Render again and call the model; store the answer as a generation record.
    Invoke {
        /// The input key.
        key: String,
    },
    /// Publish the generation record the `invoke` task stored, after checking it.
    Publish {
        /// The input key.
        key: String,
        /// The record's key (the `invoke` task's `generated_key`).
        generated_key: String,
    },
    /// Write the errors object for a failure the state machine caught.
    RecordFailure {
        /// The input key.
        key: String,
        /// The error Step Functions caught (`{"Error": ..., "Cause": ...}`).
        #[serde(default)]
        error: Option<Value>,
    },
}

impl TaskInput {
    /// The stage's name, as in the task input and [`STAGES`].
    pub fn stage(&self) -> &'static str {
        match self {
            TaskInput::Render { .. } => "render",
            TaskInput::Invoke { .. } => "invoke",
            TaskInput::Publish { .. } => "publish",
            TaskInput::RecordFailure { .. } => "record_failure",
        }
    }

    /// The input key.
    pub fn key(&self) -> &str {
        match self {
            TaskInput::Render { key }
            | TaskInput::Invoke { key }
            | TaskInput::Publish { key, .. }
            | TaskInput::RecordFailure { key, .. } => key,
        }
    }
}

/// A Lambda result as JSON. The answers are plain structs of strings and numbers, which
/// always serialize.
fn answer<T: Serialize>(answer: &T) -> Value {
    serde_json::to_value(answer).unwrap_or_default()
}

/// What happened to one record of an S3 event, in the event's result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum RecordResult {
    /// The output was written.
    Published {
        /// The input's key.
        source_key: String,
        /// The output's key.
        output_key: String,
    },
    /// The record failed: refused before it named an input (no `source_key`), or failed in
    /// a stage (its errors object was written, unless writing it failed too).
    Failed {
        /// The input's key, once known.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        source_key: Option<String>,
        /// The stage that failed.
        stage: Stage,
        /// Why.
        error: String,
        /// The errors object, if one was written.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        errors_key: Option<String>,
    },
}

impl RecordResult {
    /// Whether the record's output was written.
    pub fn is_published(&self) -> bool {
        matches!(self, RecordResult::Published { .. })
    }
}

/// An S3 event's result: every record's outcome, in the records' order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct S3Answer {
    /// How many records the event had.
    pub records: usize,
    /// How many failed.
    pub failed: usize,
    /// Each record's outcome.
    pub results: Vec<RecordResult>,
}

/// `render`'s answer: where the input will go.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RenderAnswer {
    /// The input's key.
    pub source_key: String,
    /// Its environment.
    pub env: Env,
    /// The output slug.
    pub slug: String,
    /// The output's key.
    pub output_key: String,
    /// The prompt's id.
    pub prompt_id: String,
    /// The prompt's version.
    pub prompt_version: String,
}

/// `invoke`'s answer: the generation record's key, the only thing `publish` is handed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvokeAnswer {
    /// The generation record's key.
    pub generated_key: String,
    /// The model that answered.
    pub model_id: String,
}

/// `publish`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublishAnswer {
    /// The output's key.
    pub output_key: String,
}

/// `record_failure`'s answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailureAnswer {
    /// The errors object written.
    pub errors_key: String,
    /// The stage that failed.
    pub stage: Stage,
    /// The failure's message.
    pub error: String,
}

/// Tells the events apart: `Records` is S3, `stage` is Step Functions, `requestContext` is
/// HTTP. Anything else is refused.
pub fn classify(event: Value) -> Result<Event, Diagnostic> {
    if let Some(records) = event.get("Records").and_then(Value::as_array) {
        return Ok(Event::S3(records.clone()));
    }
    if event.get("stage").is_some() {
        return serde_json::from_value(event)
            .map(Event::Task)
            .map_err(|err| {
                diagnostic(
                    "PipelineBadEvent",
                    format!("a Step Functions task input is {{\"stage\": {}, \"key\"}} (and \"generated_key\" for publish, \"error\" for record_failure), nothing else: {err}", STAGES.join("|")),
                )
            });
    }
    if event.get("requestContext").is_some() {
        return Ok(Event::Http(Box::new(event)));
    }
    Err(diagnostic(
        "PipelineBadEvent",
        "not an S3 notification, a Step Functions task input or an HTTP API request",
    ))
}

fn diagnostic(error_type: &str, message: impl Into<String>) -> Diagnostic {
    Diagnostic {
        error_type: error_type.to_owned(),
        error_message: message.into(),
    }
}

/// The function: a pipeline, the bucket it owns, and the API router.
#[derive(Debug, Clone)]
pub struct Handler {
    pipeline: Arc<Pipeline>,
    bucket: String,
    router: Router,
}

#[derive(Deserialize)]
struct Record {
    s3: RecordS3,
}

#[derive(Deserialize)]
struct RecordS3 {
    bucket: RecordBucket,
    object: RecordObject,
}

#[derive(Deserialize)]
struct RecordBucket {
    name: String,
}

#[derive(Deserialize)]
struct RecordObject {
    key: String,
}

impl Handler {
    /// A handler for `pipeline`, which must be over the bucket `bucket` (`BUCKET`).
    pub fn new(pipeline: Arc<Pipeline>, bucket: impl Into<String>) -> Self {
        let router = crate::api::router(Arc::clone(&pipeline));
        Handler {
            pipeline,
            bucket: bucket.into(),
            router,
        }
    }

    /// Handles one invocation.
    pub async fn handle(&self, event: Value, request_id: &str) -> Result<Value, Diagnostic> {
        match classify(event)? {
            Event::S3(records) => Ok(self.handle_s3(&records, request_id).await),
            Event::Task(task) => self.handle_task(task, request_id).await,
            Event::Http(request) => Ok(self.handle_http(*request).await),
        }
    }

    /// Each record on its own, in a task of its own ([`S3_RECORD_CONCURRENCY`] at a time):
    /// one bad record, even one whose processing panics, never stops the others. Failures are
    /// recorded as errors objects and reported in the result, in the records' order, not as a
    /// function error (S3 would retry the whole event).
    pub async fn handle_s3(&self, records: &[Value], request_id: &str) -> Value {
        let handler = self.clone();
        let request_id = request_id.to_owned();
        let results = each_isolated(
            records.to_vec(),
            S3_RECORD_CONCURRENCY,
            move |record: Value| {
                let (handler, request_id) = (handler.clone(), request_id.clone());
                async move { handler.handle_record(&record, &request_id).await }
            },
            |_, err| self.refused(format!("internal error: the record's task stopped ({err})")),
        )
        .await;
        let failed = results.iter().filter(|r| !r.is_published()).count();
        answer(&S3Answer {
            records: results.len(),
            failed,
            results,
        })
    }

    async fn handle_record(&self, record: &Value, request_id: &str) -> RecordResult {
        let record: Record = match serde_json::from_value(record.clone()) {
            Ok(record) => record,
            Err(err) => return self.refused(format!("not an S3 record: {err}")),
        };
        if record.s3.bucket.name != self.bucket {
            return self.refused(format!(
                "the event names bucket {:?}; this function serves {:?} (BUCKET)",
                record.s3.bucket.name, self.bucket
            ));
        }
        let key = match decode_key(&record.s3.object.key) {
            Ok(key) => key,
            Err(err) => return self.refused(err.message),
        };
        match self.pipeline.process(&key, Some(request_id)).await {
            Outcome::Published {
                source_key,
                output_key,
            } => RecordResult::Published {
                source_key,
                output_key,
            },
            Outcome::Failed {
                failure,
                errors_key,
            } => RecordResult::Failed {
                source_key: Some(failure.source_key),
                stage: failure.error.stage,
                error: failure.error.message,
                errors_key,
            },
        }
    }

    fn refused(&self, message: String) -> RecordResult {
        tracing::warn!(
            target: promptops_runtime::events::TARGET,
            event = promptops_runtime::events::EVENT_FAILED,
            stage = "parse",
            error = message.as_str(),
            runtime = "pipeline",
        );
        RecordResult::Failed {
            source_key: None,
            stage: Stage::Parse,
            error: message,
            errors_key: None,
        }
    }

    /// One Step Functions task. A failure is a function error whose type is
    /// [`TRANSIENT_ERROR`] or [`error_type`] and whose message is the failure as JSON, which
    /// `record_failure` reads back from the caught `Cause`.
    pub async fn handle_task(
        &self,
        task: TaskInput,
        request_id: &str,
    ) -> Result<Value, Diagnostic> {
        let pipeline = &self.pipeline;
        match task {
            TaskInput::Render { key } => {
                let prepared = pipeline.prepare(&key).await.map_err(failure_diagnostic)?;
                Ok(answer(&RenderAnswer {
                    source_key: prepared.source_key.clone(),
                    env: prepared.env,
                    slug: prepared.slug.clone(),
                    output_key: prepared.output_key(),
                    prompt_id: prepared.rendered.prompt.id.clone(),
                    prompt_version: prepared.rendered.prompt.version.to_string(),
                }))
            }
            TaskInput::Invoke { key } => {
                // Rendering is deterministic and cheap; doing it again here keeps the state
                // small (no rendered prompt, which may hold sensitive values, in the history).
                let prepared = pipeline.prepare(&key).await.map_err(failure_diagnostic)?;
                let generated = pipeline
                    .invoke(&prepared, Some(request_id))
                    .await
                    .map_err(failure_diagnostic)?;
                let generated_key = pipeline
                    .store_generation(&prepared, &generated, request_id)
                    .await
                    .map_err(failure_diagnostic)?;
                Ok(answer(&InvokeAnswer {
                    generated_key,
                    model_id: generated.model_id,
                }))
            }
            TaskInput::Publish { key, generated_key } => {
                let prepared = pipeline.prepare(&key).await.map_err(failure_diagnostic)?;
                let generated = pipeline
                    .load_generation(&prepared, &generated_key)
                    .await
                    .map_err(failure_diagnostic)?;
                let output_key = pipeline
                    .publish(&prepared, &generated)
                    .await
                    .map_err(failure_diagnostic)?;
                Ok(answer(&PublishAnswer { output_key }))
            }
            TaskInput::RecordFailure { key, error } => {
                let failure = caught_failure(&key, error.as_ref());
                match pipeline.record_failure(&failure).await {
                    Ok(errors_key) => Ok(answer(&RecordFailureAnswer {
                        errors_key,
                        stage: failure.error.stage,
                        error: failure.error.message,
                    })),
                    Err(err) => Err(diagnostic(TRANSIENT_ERROR, error_chain(&err))),
                }
            }
        }
    }

    /// An HTTP API request through the router; the answer in payload 2.0 form.
    pub async fn handle_http(&self, event: Value) -> Value {
        let request = match lambda_http::request::from_str(&event.to_string()) {
            Ok(request) => request,
            Err(err) => {
                let body = ErrorBody {
                    code: "bad_request".to_owned(),
                    error: format!("not an HTTP API request: {err}"),
                    source_key: None,
                    errors_key: None,
                };
                return http_response(
                    400,
                    &serde_json::to_string(&body).unwrap_or_default(),
                    HeaderValue::from_static(JSON),
                );
            }
        };
        let (parts, body) = request.into_parts();
        let request = axum::http::Request::from_parts(parts, axum::body::Body::from(body.to_vec()));
        let response = match self.router.clone().oneshot(request).await {
            Ok(response) => response,
            Err(never) => match never {},
        };
        let status = response.status().as_u16();
        // Only a visible-ASCII content type is passed on: the payload carries headers as JSON
        // strings, and this keeps the answer serializable (see `http_response`).
        let content_type = response
            .headers()
            .get(CONTENT_TYPE)
            .filter(|value| value.to_str().is_ok())
            .cloned()
            .unwrap_or_else(|| HeaderValue::from_static(JSON));
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap_or_default();
        http_response(status, &String::from_utf8_lossy(&bytes), content_type)
    }
}

/// The content type of the answers the function writes itself.
const JSON: &str = "application/json";

/// A payload-2.0 answer, as the type `lambda_http` writes and API Gateway reads: a text body
/// with its content type, no cookies. It always serializes ([`answer`]): the body is a
/// string and the one header's value is visible ASCII (the caller checks it).
fn http_response(status: u16, body: &str, content_type: HeaderValue) -> Value {
    // `#[non_exhaustive]`: built from the default (no cookies, no multi-value headers).
    let mut response = ApiGatewayV2httpResponse::default();
    response.status_code = status.into();
    response.headers.insert(CONTENT_TYPE, content_type);
    response.body = Some(Body::Text(body.to_owned()));
    response.is_base64_encoded = false;
    answer(&response)
}

/// A stage failure as a function error's message, and as `record_failure` reads it back from
/// the `Cause` Step Functions caught: one type for both ends.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailureMessage {
    /// The stage that failed.
    pub stage: Stage,
    /// Why.
    pub error: String,
    /// The errors object's name.
    pub slug: String,
    /// The input's environment, if it was resolved.
    #[serde(default)]
    pub env: Option<Env>,
    /// Whether a retry may pass.
    #[serde(default)]
    pub transient: bool,
}

fn failure_diagnostic(failure: Failure) -> Diagnostic {
    let error_type = if failure.error.transient {
        TRANSIENT_ERROR.to_owned()
    } else {
        error_type(failure.error.stage)
    };
    let message = FailureMessage {
        stage: failure.error.stage,
        error: failure.error.message,
        slug: failure.slug,
        env: failure.env,
        transient: failure.error.transient,
    };
    diagnostic(
        &error_type,
        serde_json::to_string(&message).unwrap_or_default(),
    )
}

/// The failure Step Functions caught: `{"Error": TYPE, "Cause": "{\"errorMessage\": JSON}"}`
/// (a [`FailureMessage`]) for our own errors; anything else (a timeout, a Lambda service
/// error) is an invoke-stage failure with the raw text.
pub fn caught_failure(key: &str, caught: Option<&Value>) -> Failure {
    /// The envelope the Lambda service wraps a function error in.
    #[derive(Deserialize)]
    struct Cause {
        #[serde(rename = "errorMessage")]
        error_message: String,
    }
    let fallback_slug =
        crate::slug::slug_for(key, None).unwrap_or_else(|_| crate::slug::key_hash_slug(key));
    let error_name = caught
        .and_then(|c| c.get("Error"))
        .and_then(Value::as_str)
        .unwrap_or("unknown");
    let cause = caught
        .and_then(|c| c.get("Cause"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let ours = serde_json::from_str::<Cause>(cause)
        .ok()
        .and_then(|cause| serde_json::from_str::<FailureMessage>(&cause.error_message).ok());
    match ours {
        Some(ours) => Failure {
            error: StageError {
                stage: ours.stage,
                message: ours.error,
                transient: ours.transient,
            },
            source_key: key.to_owned(),
            env: ours.env,
            // The cause is the caller's text: the slug names a file, so it is sanitised again.
            slug: Some(crate::slug::sanitise(&ours.slug))
                .filter(|slug| !slug.is_empty())
                .unwrap_or(fallback_slug),
        },
        None => Failure {
            error: StageError::new(Stage::Invoke, format!("{error_name}: {cause}")),
            source_key: key.to_owned(),
            env: None,
            slug: fallback_slug,
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn an_http_answer_is_the_payload_2_0_response() {
        let response = http_response(201, r#"{"ok":true}"#, HeaderValue::from_static(JSON));
        assert_eq!(response["statusCode"], 201);
        assert_eq!(
            response["headers"],
            json!({"content-type": "application/json"})
        );
        assert_eq!(response["body"], r#"{"ok":true}"#);
        assert_eq!(response["isBase64Encoded"], false);
        assert_eq!(response["cookies"], json!([]));
    }

    #[test]
    fn error_types_name_the_stage() {
        assert_eq!(error_type(Stage::Render), "PipelineRenderFailed");
        assert_eq!(error_type(Stage::Parse), "PipelineParseFailed");
    }

    #[test]
    fn events_are_classified_by_shape() {
        assert!(matches!(classify(json!({"Records": []})), Ok(Event::S3(_))));
        assert!(matches!(
            classify(json!({"stage": "render", "key": "prompt_inputs/a.json"})),
            Ok(Event::Task(_))
        ));
        assert!(matches!(
            classify(json!({"requestContext": {}})),
            Ok(Event::Http(_))
        ));
        assert_eq!(
            classify(json!({"hello": 1})).unwrap_err().error_type,
            "PipelineBadEvent"
        );
        assert_eq!(
            classify(json!({"stage": 3})).unwrap_err().error_type,
            "PipelineBadEvent"
        );
    }

    #[test]
    fn task_inputs_are_tagged_by_stage() {
        let task = |value: Value| match classify(value) {
            Ok(Event::Task(task)) => Ok(task),
            Ok(other) => panic!("not a task: {other:?}"),
            Err(diag) => Err(diag),
        };
        for stage in STAGES {
            let mut input = json!({"stage": stage, "key": "prompt_inputs/a.json"});
            if *stage == "publish" {
                input["generated_key"] = json!("beta/generated/a/r.json");
            }
            let parsed = task(input).expect("every listed stage parses");
            assert_eq!(parsed.stage(), *stage);
            assert_eq!(parsed.key(), "prompt_inputs/a.json");
        }
        let unknown = task(json!({"stage": "deploy", "key": "prompt_inputs/a.json"})).unwrap_err();
        assert_eq!(unknown.error_type, "PipelineBadEvent");
        assert!(
            unknown.error_message.contains("unknown variant `deploy`")
                && unknown.error_message.contains("record_failure"),
            "{}",
            unknown.error_message
        );
        // Each stage takes its own fields only.
        for refused in [
            json!({"stage": "publish", "key": "prompt_inputs/a.json"}),
            json!({"stage": "invoke", "key": "prompt_inputs/a.json", "generated_key": "x"}),
            json!({"stage": "publish", "key": "k", "generated_key": "g", "generated": {"text": "FORGED"}}),
            json!({"stage": "render"}),
        ] {
            assert_eq!(task(refused).unwrap_err().error_type, "PipelineBadEvent");
        }
    }

    #[test]
    fn caught_failures_round_trip_through_the_cause() {
        let diag = failure_diagnostic(Failure {
            error: StageError::new(Stage::Render, "missing required variable `x`"),
            source_key: "prompt_inputs/beta-a.json".into(),
            env: Some(crate::Env::Beta),
            slug: "a".into(),
        });
        let caught = json!({
            "Error": diag.error_type,
            "Cause": json!({"errorType": diag.error_type, "errorMessage": diag.error_message}).to_string(),
        });
        let failure = caught_failure("prompt_inputs/beta-a.json", Some(&caught));
        assert_eq!(
            (failure.error.stage, failure.slug.as_str()),
            (Stage::Render, "a")
        );
        assert!(failure.error.message.contains("`x`"));
        let timeout = caught_failure(
            "prompt_inputs/beta-a.json",
            Some(&json!({"Error": "States.Timeout", "Cause": ""})),
        );
        assert_eq!(
            (timeout.error.stage, timeout.slug.as_str()),
            (Stage::Invoke, "a")
        );
    }
}
