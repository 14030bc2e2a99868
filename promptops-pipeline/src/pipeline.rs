//! The pipeline over a bucket: read an input, render, invoke, publish, and record failures.
//!
//! One input's failure is that input's errors object, never the run's: every input runs in its
//! own task, so even a panic in any stage becomes a failure of that input's stage (and its
//! errors object) while the other inputs go on; rendering (template compile and render, the
//! CPU-heavy part) runs on the blocking pool, off the async workers.

use std::sync::{Arc, Mutex};

use promptops_core::hash::sha256_hex;
use promptops_core::TemplateLimits;
use promptops_runtime::events::{EVENT_FAILED, TARGET};
use promptops_runtime::{CallOptions, InvokeError, Rendered, Runtime};
use serde::{Deserialize, Serialize};

use crate::bucket::{Bucket, BucketError};
use crate::config::{PromptConfig, Source, MAX_CONFIG_BYTES};
use crate::env::{check_input_key, resolve_env, Env, INPUT_PREFIX};
use crate::error::{error_chain, Stage, StageError};
use crate::publish::{document, OutputMeta};
use crate::render::render_config;
use crate::slug::{key_hash_slug, slug_for};
use crate::template::load_template;

/// Templates larger than this are refused unread: the template size limit every compiler of
/// templates checks ([`TemplateLimits::DEFAULT_MAX_BYTES`], 256 KiB).
pub const MAX_TEMPLATE_BYTES: usize = TemplateLimits::DEFAULT_MAX_BYTES;

/// The model id recorded for outputs of the offline local model.
pub const LOCAL_MODEL_ID: &str = "local";

/// Generation records larger than this (4 MiB) are refused unread by the publish stage: a
/// model's answer is far smaller (Bedrock caps output tokens), and a Lambda's memory is not.
pub const MAX_GENERATION_BYTES: usize = 4 * 1024 * 1024;

/// Error messages in errors objects are cut to this many bytes (8 KiB): a message is a
/// diagnosis, and one that a caller of the `record_failure` stage chose must not be a payload.
pub const MAX_ERROR_MESSAGE_BYTES: usize = 8 * 1024;

/// How a deployment is configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PipelineSettings {
    /// The deployment's own environment (`PIPELINE_ENV`); inputs for the other one are refused.
    pub own_env: Env,
    /// The environment of inputs with neither `env` metadata nor a `beta-`/`prod-` prefix
    /// (`DEFAULT_ENV`).
    pub default_env: Option<Env>,
    /// The Bedrock model for configs that name none (`BEDROCK_MODEL_ID`); with neither, the
    /// local model answers.
    pub model_id: Option<String>,
}

/// An input that was read, checked and rendered: what the invoke stage needs.
#[derive(Debug, Clone)]
pub struct Prepared {
    /// The input's (decoded) key.
    pub source_key: String,
    /// Its environment (always the deployment's own).
    pub env: Env,
    /// The output slug.
    pub slug: String,
    /// The parsed config.
    pub config: PromptConfig,
    /// The rendered prompt.
    pub rendered: Rendered,
}

impl Prepared {
    /// `<env>/outputs/<slug>.<ext>`.
    pub fn output_key(&self) -> String {
        format!(
            "{}{}.{}",
            self.env.outputs_prefix(),
            self.slug,
            self.config.output_format.extension()
        )
    }
}

/// The model's answer for a prepared input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Generated {
    /// The model's text.
    pub text: String,
    /// The model id that answered (`local` for the offline model).
    pub model_id: String,
}

/// What a Step Functions execution's invoke stage stores under `<env>/generated/` for its
/// publish stage: the model's text, bound to the input it was made for. The publish stage
/// takes only the record's key, reads it back, and publishes it only for the same input and
/// the same rendering (see [`Pipeline::load_generation`]), so a caller of the function cannot
/// publish text that no invoke produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GenerationRecord {
    /// The input's key.
    pub source_key: String,
    /// [`rendering_hash`] of the rendered prompt the model answered. It reveals nothing a
    /// reader of the record cannot read already (the input and its template are in the same
    /// bucket).
    pub rendering_hash: String,
    /// The prompt id.
    pub prompt_id: String,
    /// The prompt version.
    pub prompt_version: String,
    /// The model that answered.
    pub model_id: String,
    /// The model's text.
    pub text: String,
}

/// SHA-256 of a rendered prompt (its prompt id, version and content hash, system and user
/// text), as the generation record binds it.
pub fn rendering_hash(rendered: &Rendered) -> String {
    let prompt = &rendered.prompt;
    let fields = (
        prompt.id.as_str(),
        prompt.version.to_string(),
        prompt.content_hash.as_str(),
        rendered.system.as_deref(),
        rendered.user.as_str(),
    );
    sha256_hex(&serde_json::to_vec(&fields).unwrap_or_default())
}

/// A failure with what is known about the input, enough to name its errors object.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failure {
    /// The stage and reason.
    pub error: StageError,
    /// The input's key.
    pub source_key: String,
    /// The input's environment if it was resolved.
    pub env: Option<Env>,
    /// The errors object's name: the output slug, else the file-name slug, else a hash of the key.
    pub slug: String,
}

/// The errors object: `<own-env>/errors/<slug>.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorRecord {
    /// `parse`, `render`, `invoke` or `publish`.
    pub stage: Stage,
    /// What went wrong.
    pub error: String,
    /// The input's key.
    pub source_key: String,
    /// The deployment's environment (where the record is written).
    pub env: Env,
    /// The environment the input resolved to, when known and different (a refusal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_env: Option<Env>,
    /// Whether a retry may succeed.
    pub transient: bool,
}

/// What happened to one input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The output was written.
    Published {
        /// The input's key.
        source_key: String,
        /// The output's key.
        output_key: String,
    },
    /// A stage failed; the errors object was written (unless writing it failed too).
    Failed {
        /// The failure.
        failure: Failure,
        /// The errors object's key, if it was written.
        errors_key: Option<String>,
    },
}

impl Outcome {
    /// Whether the output was written.
    pub fn is_published(&self) -> bool {
        matches!(self, Outcome::Published { .. })
    }
}

/// Counts over a run.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    /// Every outcome, in input-key order.
    pub outcomes: Vec<Outcome>,
}

impl Summary {
    /// Inputs published.
    pub fn published(&self) -> usize {
        self.outcomes.iter().filter(|o| o.is_published()).count()
    }

    /// Inputs that failed.
    pub fn failed(&self) -> usize {
        self.outcomes.len() - self.published()
    }
}

/// The pipeline: a bucket, a deployment's settings and the models.
#[derive(Debug, Clone)]
pub struct Pipeline {
    bucket: Bucket,
    settings: PipelineSettings,
    local: Runtime,
    bedrock: Option<Runtime>,
}

impl Pipeline {
    /// A pipeline that answers with the local model only (local mode, tests).
    pub fn new(bucket: Bucket, settings: PipelineSettings) -> Self {
        Pipeline {
            bucket,
            settings,
            local: Runtime::local(),
            bedrock: None,
        }
    }

    /// Adds the runtime used when a Bedrock model id is configured (by the config or
    /// `BEDROCK_MODEL_ID`).
    pub fn with_bedrock(mut self, runtime: Runtime) -> Self {
        self.bedrock = Some(runtime);
        self
    }

    /// The bucket.
    pub fn bucket(&self) -> &Bucket {
        &self.bucket
    }

    /// The settings.
    pub fn settings(&self) -> &PipelineSettings {
        &self.settings
    }

    /// Runs every stage for the input at `key` (already URL-decoded) and records a failure as
    /// its errors object. The stages run in a task of their own: a panic in any of them is a
    /// failure of the stage it happened in, recorded like any other, and never reaches the
    /// caller (a run, an S3 event's other records). The same key always yields the same
    /// output key.
    pub async fn process(self: &Arc<Self>, key: &str, request_id: Option<&str>) -> Outcome {
        let progress = Arc::new(Progress::new(key));
        let stages = {
            let pipeline = Arc::clone(self);
            let progress = Arc::clone(&progress);
            let key = key.to_owned();
            let request_id = request_id.map(str::to_owned);
            tokio::spawn(async move {
                pipeline
                    .run_stages(&key, request_id.as_deref(), &progress)
                    .await
            })
        };
        let result = match stages.await {
            Ok(result) => result,
            Err(err) => Err(progress.panicked(err)),
        };
        match result {
            Ok(output_key) => Outcome::Published {
                source_key: key.to_owned(),
                output_key,
            },
            Err(failure) => {
                let errors_key = self.record_failure(&failure).await.ok();
                Outcome::Failed {
                    failure,
                    errors_key,
                }
            }
        }
    }

    async fn run_stages(
        &self,
        key: &str,
        request_id: Option<&str>,
        progress: &Progress,
    ) -> Result<String, Failure> {
        let prepared = self.prepare_tracked(key, progress).await?;
        progress.enter(Stage::Invoke);
        let generated = self.invoke(&prepared, request_id).await?;
        progress.enter(Stage::Publish);
        self.publish(&prepared, &generated).await
    }

    /// Every `prompt_inputs/*.json`, `concurrency` at a time, in key order in the summary.
    pub async fn process_all(self: &Arc<Self>, concurrency: usize) -> Result<Summary, BucketError> {
        let mut keys = Vec::new();
        let mut token = None;
        loop {
            let page = self
                .bucket
                .list(INPUT_PREFIX, token.as_deref(), 1000)
                .await?;
            keys.extend(
                page.objects
                    .into_iter()
                    .map(|listed| listed.key)
                    .filter(|key| check_input_key(key).is_ok()),
            );
            match page.next {
                Some(next) => token = Some(next),
                None => break,
            }
        }
        Ok(self.process_keys(keys, concurrency).await)
    }

    /// The given input keys, at most `concurrency` at a time. Every key has its outcome in
    /// the summary: [`process`](Self::process) turns any failure, a panic included, into that
    /// input's failure.
    pub async fn process_keys(self: &Arc<Self>, keys: Vec<String>, concurrency: usize) -> Summary {
        let pipeline = Arc::clone(self);
        let outcomes = each_isolated(
            keys,
            concurrency,
            move |key: String| {
                let pipeline = Arc::clone(&pipeline);
                async move { pipeline.process(&key, None).await }
            },
            |key, err| Outcome::Failed {
                failure: Progress::new(&key).panicked(err),
                errors_key: None,
            },
        )
        .await;
        Summary { outcomes }
    }

    /// Parse and render: read the input, resolve its environment (refusing another
    /// environment's input), parse the config, read its template, render (on the blocking
    /// pool).
    pub async fn prepare(&self, key: &str) -> Result<Prepared, Failure> {
        self.prepare_tracked(key, &Progress::new(key)).await
    }

    /// [`prepare`](Self::prepare), noting in `progress` the stage it is in and what it learns
    /// (the environment, the slug), so a panic can still name the errors object.
    async fn prepare_tracked(&self, key: &str, progress: &Progress) -> Result<Prepared, Failure> {
        let fail = |error: StageError| progress.failure(error);
        check_input_key(key).map_err(fail)?;
        let object = self
            .bucket
            .get(key, MAX_CONFIG_BYTES)
            .await
            .map_err(|err| fail(bucket_error(Stage::Parse, err)))?;
        let env = resolve_env(
            object.metadata.get("env").map(String::as_str),
            key,
            self.settings.default_env,
        )
        .map_err(fail)?;
        progress.learn_env(env);
        if env != self.settings.own_env {
            let own = self.settings.own_env;
            return Err(fail(StageError::new(
                Stage::Parse,
                format!("refused: {key:?} is a {env} input and this is the {own} deployment; nothing was written under {env}/"),
            )));
        }
        let config = PromptConfig::parse(&object.body).map_err(fail)?;
        let slug = match slug_for(key, config.output_slug.as_deref()) {
            Ok(slug) => slug,
            Err(error) => {
                progress.learn_slug(key_hash_slug(key));
                return Err(fail(error));
            }
        };
        progress.learn_slug(slug.clone());
        progress.enter(Stage::Render);
        let template = match config.source() {
            Ok(Source::Template(name)) => Some(
                load_template(&self.bucket, name)
                    .await
                    .map_err(|err| fail(err.to_stage_error()))?,
            ),
            _ => None,
        };
        let rendered = render_off_worker(&config, template, env)
            .await
            .map_err(fail)?;
        Ok(Prepared {
            source_key: key.to_owned(),
            env,
            slug,
            config,
            rendered,
        })
    }

    /// The model id for a config: its own, else the deployment's, else none (the local model).
    pub fn model_id_for(&self, config: &PromptConfig) -> Option<String> {
        config
            .model_id
            .clone()
            .or_else(|| self.settings.model_id.clone())
    }

    /// The invoke stage: calls the model through the runtime (retries, timeouts, events).
    pub async fn invoke(
        &self,
        prepared: &Prepared,
        request_id: Option<&str>,
    ) -> Result<Generated, Failure> {
        let failure = |error: StageError| Failure {
            error,
            source_key: prepared.source_key.clone(),
            env: Some(prepared.env),
            slug: prepared.slug.clone(),
        };
        let model_id = self.model_id_for(&prepared.config);
        let (runtime, model_id) = match (&model_id, &self.bedrock) {
            (Some(id), Some(bedrock)) => (bedrock, id.clone()),
            (Some(id), None) => {
                return Err(failure(StageError::new(
                    Stage::Invoke,
                    format!("model {id:?} is configured, but this pipeline has no Bedrock client (local mode answers with the local model only; drop model_id)"),
                )))
            }
            (None, _) => (&self.local, LOCAL_MODEL_ID.to_owned()),
        };
        let mut options = CallOptions {
            request_id: request_id.map(str::to_owned),
            model_id: Some(model_id.clone()),
            ..CallOptions::default()
        };
        options.inference.max_tokens = prepared.config.max_tokens;
        match runtime.complete_text(&prepared.rendered, &options).await {
            Ok(completion) => Ok(Generated {
                text: completion.text,
                model_id: completion.model_id,
            }),
            Err(err) => {
                let transient = matches!(
                    err,
                    InvokeError::Throttled { .. }
                        | InvokeError::TimedOut { .. }
                        | InvokeError::Unavailable { .. }
                );
                let error = StageError {
                    stage: Stage::Invoke,
                    message: error_chain(&err),
                    transient,
                };
                Err(failure(error))
            }
        }
    }

    /// The publish stage: writes `<env>/outputs/<slug>.<ext>` whole, with its metadata.
    pub async fn publish(
        &self,
        prepared: &Prepared,
        generated: &Generated,
    ) -> Result<String, Failure> {
        let key = prepared.output_key();
        let def = &prepared.rendered.prompt;
        let title = prepared
            .config
            .output_slug
            .as_deref()
            .unwrap_or(&prepared.slug);
        let body = document(prepared.config.output_format, title, &generated.text).into_bytes();
        let meta = OutputMeta {
            prompt_id: def.id.clone(),
            prompt_version: def.version.to_string(),
            content_hash: sha256_hex(&body),
            model_id: generated.model_id.clone(),
            source_key: prepared.source_key.clone(),
            env: prepared.env,
        };
        self.bucket
            .put(
                &key,
                body,
                prepared.config.output_format.content_type(),
                &meta.to_map(),
            )
            .await
            .map(|()| key)
            .map_err(|err| Failure {
                error: bucket_error(Stage::Publish, err),
                source_key: prepared.source_key.clone(),
                env: Some(prepared.env),
                slug: prepared.slug.clone(),
            })
    }

    /// The invoke stage's half of a Step Functions execution: stores the model's answer as a
    /// [`GenerationRecord`] under `<env>/generated/<slug>/<invocation>.json` and returns that
    /// key, the only thing the state machine hands to the publish stage. Only the pipeline's
    /// own role may write there (see `infra/README.md`).
    pub async fn store_generation(
        &self,
        prepared: &Prepared,
        generated: &Generated,
        invocation_id: &str,
    ) -> Result<String, Failure> {
        let failure = |error: StageError| Failure {
            error,
            source_key: prepared.source_key.clone(),
            env: Some(prepared.env),
            slug: prepared.slug.clone(),
        };
        let record = GenerationRecord {
            source_key: prepared.source_key.clone(),
            rendering_hash: rendering_hash(&prepared.rendered),
            prompt_id: prepared.rendered.prompt.id.clone(),
            prompt_version: prepared.rendered.prompt.version.to_string(),
            model_id: generated.model_id.clone(),
            text: generated.text.clone(),
        };
        let body = serde_json::to_vec(&record)
            .map_err(|err| failure(StageError::new(Stage::Invoke, err.to_string())))?;
        // A Lambda request id is unique per invocation (a retried task is a new one); the
        // body's hash stands in when there is none.
        let mut name = crate::slug::sanitise(invocation_id);
        if name.is_empty() {
            name = sha256_hex(&body)[..32].to_owned();
        }
        let key = format!(
            "{}{}/{name}.json",
            prepared.env.generated_prefix(),
            prepared.slug
        );
        self.bucket
            .put(&key, body, "application/json", &Default::default())
            .await
            .map_err(|err| failure(bucket_error(Stage::Invoke, err)))?;
        Ok(key)
    }

    /// The publish stage's check of what it was handed: `generated_key` must name a
    /// generation record under the deployment's own `<env>/generated/`, made for this input
    /// (`source_key`) from this rendering (`rendering_hash`: the input or its template has not
    /// changed since). Anything else is a permanent publish failure, and nothing is written.
    pub async fn load_generation(
        &self,
        prepared: &Prepared,
        generated_key: &str,
    ) -> Result<Generated, Failure> {
        let refuse = |message: String| Failure {
            error: StageError::new(Stage::Publish, message),
            source_key: prepared.source_key.clone(),
            env: Some(prepared.env),
            slug: prepared.slug.clone(),
        };
        let prefix = prepared.env.generated_prefix();
        let plain = generated_key.strip_prefix(&prefix).is_some_and(|rest| {
            rest.ends_with(".json")
                && rest
                    .split('/')
                    .all(|segment| !segment.is_empty() && segment != "." && segment != "..")
        });
        if !plain {
            return Err(refuse(format!(
                "generated_key {generated_key:?} is not a generation record under {prefix}; the publish stage publishes only what this deployment's invoke stage stored"
            )));
        }
        let object = match self.bucket.get(generated_key, MAX_GENERATION_BYTES).await {
            Ok(object) => object,
            Err(BucketError::NotFound(_)) => {
                return Err(refuse(format!(
                    "no generation record {generated_key:?} (expired, or never stored by an invoke stage)"
                )))
            }
            Err(err) => {
                return Err(Failure {
                    error: bucket_error(Stage::Publish, err),
                    ..refuse(String::new())
                })
            }
        };
        let record: GenerationRecord = serde_json::from_slice(&object.body).map_err(|err| {
            refuse(format!(
                "{generated_key:?} is not a generation record: {err}"
            ))
        })?;
        if record.source_key != prepared.source_key {
            return Err(refuse(format!(
                "generation {generated_key:?} was made for {:?}, not {:?}",
                record.source_key, prepared.source_key
            )));
        }
        if record.rendering_hash != rendering_hash(&prepared.rendered) {
            return Err(refuse(format!(
                "generation {generated_key:?} answered another rendering of {:?} (the input or its template changed since the invoke stage); run the state machine again",
                prepared.source_key
            )));
        }
        Ok(Generated {
            text: record.text,
            model_id: record.model_id,
        })
    }

    /// Writes `<own-env>/errors/<slug>.json` and emits `prompt_failed`. Returns the key.
    pub async fn record_failure(&self, failure: &Failure) -> Result<String, BucketError> {
        let own = self.settings.own_env;
        let record = ErrorRecord {
            stage: failure.error.stage,
            error: truncate(&failure.error.message, MAX_ERROR_MESSAGE_BYTES),
            source_key: failure.source_key.clone(),
            env: own,
            input_env: failure.env.filter(|env| *env != own),
            transient: failure.error.transient,
        };
        tracing::warn!(
            target: TARGET,
            event = EVENT_FAILED,
            stage = record.stage.as_str(),
            error = record.error.as_str(),
            source_key = record.source_key.as_str(),
            env = own.as_str(),
            input_env = record.input_env.map(Env::as_str),
            runtime = "pipeline",
        );
        let key = format!("{}{}.json", own.errors_prefix(), failure.slug);
        let body = serde_json::to_vec_pretty(&record)
            .map_err(|err| BucketError::storage("serializing the errors object", err))?;
        self.bucket
            .put(&key, body, "application/json", &Default::default())
            .await?;
        Ok(key)
    }
}

/// Runs `work` for every item, at most `concurrency` at once, each in a task of its own, and
/// returns the results in the items' order. Every item has a result: one whose task died (a
/// panic) gets `died(item, error)`, and the others are not affected.
pub async fn each_isolated<I, T, W, F>(
    items: Vec<I>,
    concurrency: usize,
    work: W,
    died: impl Fn(I, tokio::task::JoinError) -> T,
) -> Vec<T>
where
    I: Clone + Send + 'static,
    T: Send + 'static,
    W: Fn(I) -> F,
    F: std::future::Future<Output = T> + Send + 'static,
{
    let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
    let mut tasks = tokio::task::JoinSet::new();
    let mut running = std::collections::HashMap::new();
    let mut results: Vec<(usize, T)> = Vec::with_capacity(items.len());
    let mut reap =
        |done: Result<(tokio::task::Id, T), tokio::task::JoinError>,
         running: &mut std::collections::HashMap<tokio::task::Id, (usize, I)>| {
            let (id, result) = match done {
                Ok((id, result)) => (id, Ok(result)),
                Err(err) => (err.id(), Err(err)),
            };
            if let Some((index, item)) = running.remove(&id) {
                results.push((index, result.unwrap_or_else(|err| died(item, err))));
            }
        };
    for (index, item) in items.into_iter().enumerate() {
        let permit = Arc::clone(&limit).acquire_owned().await;
        let future = work(item.clone());
        let handle = tasks.spawn(async move {
            let result = future.await;
            drop(permit);
            result
        });
        running.insert(handle.id(), (index, item));
        // Reap finished tasks as we go, so memory stays flat over long runs.
        while let Some(done) = tasks.try_join_next_with_id() {
            reap(done, &mut running);
        }
    }
    while let Some(done) = tasks.join_next_with_id().await {
        reap(done, &mut running);
    }
    results.sort_by_key(|(index, _)| *index);
    results.into_iter().map(|(_, result)| result).collect()
}

/// `text`, cut at a character boundary to at most `max` bytes (with a note when cut).
fn truncate(text: &str, max: usize) -> String {
    if text.len() <= max {
        return text.to_owned();
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}… ({} bytes, cut)", &text[..end], text.len())
}

/// Renders a config on the blocking pool: compiling and rendering a template is CPU work, and
/// never runs on an async worker. A panic in it is a render failure.
pub async fn render_off_worker(
    config: &PromptConfig,
    template: Option<String>,
    env: Env,
) -> Result<Rendered, StageError> {
    let config = config.clone();
    tokio::task::spawn_blocking(move || render_config(&config, template.as_deref(), env))
        .await
        .unwrap_or_else(|err| {
            Err(StageError::new(
                Stage::Render,
                format!(
                    "internal error: rendering panicked ({})",
                    panic_message(err)
                ),
            ))
        })
}

/// What a task's panic said, for an errors object.
fn panic_message(err: tokio::task::JoinError) -> String {
    if !err.is_panic() {
        return err.to_string();
    }
    let payload = err.into_panic();
    payload
        .downcast_ref::<&str>()
        .map(|text| (*text).to_owned())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "a panic without a message".to_owned())
}

/// How far an input got, and what is known about it (its environment and slug): enough to
/// name its errors object and the stage that failed, even when a stage panicked.
#[derive(Debug)]
struct Progress {
    known: Mutex<Failure>,
}

impl Progress {
    fn new(key: &str) -> Self {
        Progress {
            known: Mutex::new(Failure {
                error: StageError::new(Stage::Parse, String::new()),
                source_key: key.to_owned(),
                env: None,
                slug: slug_for(key, None).unwrap_or_else(|_| key_hash_slug(key)),
            }),
        }
    }

    fn with<T>(&self, f: impl FnOnce(&mut Failure) -> T) -> T {
        f(&mut self
            .known
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner()))
    }

    fn enter(&self, stage: Stage) {
        self.with(|known| known.error.stage = stage);
    }

    fn learn_env(&self, env: Env) {
        self.with(|known| known.env = Some(env));
    }

    fn learn_slug(&self, slug: String) {
        self.with(|known| known.slug = slug);
    }

    /// `error`, for the input as known so far.
    fn failure(&self, error: StageError) -> Failure {
        self.with(|known| Failure {
            error,
            ..known.clone()
        })
    }

    /// The failure of the stage the input was in when its task died.
    fn panicked(&self, err: tokio::task::JoinError) -> Failure {
        let stage = self.with(|known| known.error.stage);
        self.failure(StageError::new(
            stage,
            format!(
                "internal error: the {stage} stage stopped ({}); the other inputs were not affected",
                panic_message(err)
            ),
        ))
    }
}

/// A storage error as a stage error: a missing or oversized object is permanent, anything else
/// may pass on a retry.
fn bucket_error(stage: Stage, err: BucketError) -> StageError {
    let message = error_chain(&err);
    match err {
        BucketError::Storage { .. } => StageError::transient(stage, message),
        _ => StageError::new(stage, message),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(flavor = "current_thread")]
    async fn a_panicking_item_gets_its_own_result_and_the_others_go_on() {
        let results = each_isolated(
            (0..20).collect(),
            4,
            |n: u32| async move {
                tokio::task::yield_now().await;
                if n == 7 {
                    panic!("item {n} exploded");
                }
                format!("ok {n}")
            },
            |n, err| format!("died {n}: {}", panic_message(err)),
        )
        .await;
        assert_eq!(results.len(), 20);
        assert_eq!(results[7], "died 7: item 7 exploded");
        assert!(results
            .iter()
            .enumerate()
            .all(|(n, r)| n == 7 || *r == format!("ok {n}")));
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_panic_is_a_failure_of_the_stage_it_happened_in() {
        let progress = Progress::new("prompt_inputs/beta-welcome.json");
        progress.learn_env(Env::Beta);
        progress.learn_slug("hello".into());
        progress.enter(Stage::Invoke);
        let err = tokio::spawn(async { panic!("boom") }).await.unwrap_err();
        let failure = progress.panicked(err);
        assert_eq!(failure.error.stage, Stage::Invoke);
        assert_eq!(
            (failure.slug.as_str(), failure.env),
            ("hello", Some(Env::Beta))
        );
        assert!(
            failure.error.message.contains("boom"),
            "{}",
            failure.error.message
        );
        // Before anything is learnt, the errors object is named from the key.
        let early = Progress::new("prompt_inputs/beta-welcome.json")
            .failure(StageError::new(Stage::Parse, "x"));
        assert_eq!(early.slug, "welcome");
    }

    #[test]
    fn long_messages_are_cut_at_a_character_boundary() {
        let long = "é".repeat(10_000);
        let cut = truncate(&long, MAX_ERROR_MESSAGE_BYTES);
        assert!(cut.len() < MAX_ERROR_MESSAGE_BYTES + 40, "{}", cut.len());
        assert!(cut.ends_with("(20000 bytes, cut)"), "{cut}");
        assert_eq!(truncate("short", 10), "short");
    }
}
