//! The pipeline over a bucket: read an input, render, invoke, publish, and record failures.

use std::sync::Arc;

use promptops_core::TemplateLimits;
use promptops_runtime::events::{EVENT_FAILED, TARGET};
use promptops_runtime::{CallOptions, InvokeError, Rendered, Runtime};
use serde::{Deserialize, Serialize};

use crate::bucket::{Bucket, BucketError};
use crate::config::{PromptConfig, Source, MAX_CONFIG_BYTES};
use crate::env::{check_input_key, resolve_env, Env, INPUT_PREFIX, TEMPLATE_PREFIX};
use crate::error::{Stage, StageError};
use crate::publish::{document, sha256_hex, OutputMeta};
use crate::render::render_config;
use crate::slug::{key_hash_slug, slug_for};

/// Templates larger than this are refused unread: the template size limit every compiler of
/// templates checks ([`TemplateLimits::DEFAULT_MAX_BYTES`], 256 KiB).
pub const MAX_TEMPLATE_BYTES: usize = TemplateLimits::DEFAULT_MAX_BYTES;

/// The model id recorded for outputs of the offline local model.
pub const LOCAL_MODEL_ID: &str = "local";

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
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Generated {
    /// The model's text.
    pub text: String,
    /// The model id that answered (`local` for the offline model).
    pub model_id: String,
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
    /// its errors object. Never panics on input; the same key always yields the same output key.
    pub async fn process(&self, key: &str, request_id: Option<&str>) -> Outcome {
        let result = async {
            let prepared = self.prepare(key).await?;
            let generated = self.invoke(&prepared, request_id).await?;
            self.publish(&prepared, &generated).await
        }
        .await;
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

    /// The given input keys, at most `concurrency` at a time.
    pub async fn process_keys(self: &Arc<Self>, keys: Vec<String>, concurrency: usize) -> Summary {
        let limit = Arc::new(tokio::sync::Semaphore::new(concurrency.max(1)));
        let mut tasks = tokio::task::JoinSet::new();
        let mut outcomes: Vec<(usize, Outcome)> = Vec::new();
        for (index, key) in keys.into_iter().enumerate() {
            let pipeline = Arc::clone(self);
            let permit = Arc::clone(&limit).acquire_owned().await;
            tasks.spawn(async move {
                let outcome = pipeline.process(&key, None).await;
                drop(permit);
                (index, outcome)
            });
            // Reap finished tasks as we go, so memory stays flat over long runs.
            while let Some(done) = tasks.try_join_next() {
                outcomes.extend(done.ok());
            }
        }
        while let Some(done) = tasks.join_next().await {
            outcomes.extend(done.ok());
        }
        outcomes.sort_by_key(|(index, _)| *index);
        Summary {
            outcomes: outcomes.into_iter().map(|(_, outcome)| outcome).collect(),
        }
    }

    /// Parse and render: read the input, resolve its environment (refusing another
    /// environment's input), parse the config, read its template, render.
    pub async fn prepare(&self, key: &str) -> Result<Prepared, Failure> {
        let mut failure = Failure {
            error: StageError::new(Stage::Parse, String::new()),
            source_key: key.to_owned(),
            env: None,
            slug: slug_for(key, None).unwrap_or_else(|_| key_hash_slug(key)),
        };
        let fail = |mut failure: Failure, error: StageError| {
            failure.error = error;
            failure
        };
        if let Err(error) = check_input_key(key) {
            return Err(fail(failure, error));
        }
        let object = match self.bucket.get(key, MAX_CONFIG_BYTES).await {
            Ok(object) => object,
            Err(err) => return Err(fail(failure, bucket_error(Stage::Parse, err))),
        };
        let env = match resolve_env(
            object.metadata.get("env").map(String::as_str),
            key,
            self.settings.default_env,
        ) {
            Ok(env) => env,
            Err(error) => return Err(fail(failure, error)),
        };
        failure.env = Some(env);
        if env != self.settings.own_env {
            let own = self.settings.own_env;
            let error = StageError::new(
                Stage::Parse,
                format!("refused: {key:?} is a {env} input and this is the {own} deployment; nothing was written under {env}/"),
            );
            return Err(fail(failure, error));
        }
        let config = match PromptConfig::parse(&object.body) {
            Ok(config) => config,
            Err(error) => return Err(fail(failure, error)),
        };
        match slug_for(key, config.output_slug.as_deref()) {
            Ok(slug) => failure.slug = slug,
            Err(error) => {
                failure.slug = key_hash_slug(key);
                return Err(fail(failure, error));
            }
        }
        let template = match config.source() {
            Ok(Source::Template(name)) => match self
                .bucket
                .get(&format!("{TEMPLATE_PREFIX}{name}"), MAX_TEMPLATE_BYTES)
                .await
            {
                Ok(object) => match String::from_utf8(object.body) {
                    Ok(text) => Some(text),
                    Err(_) => {
                        return Err(fail(
                            failure,
                            StageError::new(Stage::Render, format!("template {name} is not UTF-8")),
                        ))
                    }
                },
                Err(BucketError::NotFound(_)) => {
                    let error = StageError::new(
                        Stage::Render,
                        format!("missing template: no {TEMPLATE_PREFIX}{name} in the bucket"),
                    );
                    return Err(fail(failure, error));
                }
                Err(err) => return Err(fail(failure, bucket_error(Stage::Render, err))),
            },
            _ => None,
        };
        match render_config(&config, template.as_deref(), env) {
            Ok(rendered) => Ok(Prepared {
                source_key: key.to_owned(),
                env,
                slug: failure.slug,
                config,
                rendered,
            }),
            Err(error) => Err(fail(failure, error)),
        }
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
                    message: err.to_string(),
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

    /// Writes `<own-env>/errors/<slug>.json` and emits `prompt_failed`. Returns the key.
    pub async fn record_failure(&self, failure: &Failure) -> Result<String, BucketError> {
        let own = self.settings.own_env;
        let record = ErrorRecord {
            stage: failure.error.stage,
            error: failure.error.message.clone(),
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
            .map_err(|err| BucketError::Storage(err.to_string()))?;
        self.bucket
            .put(&key, body, "application/json", &Default::default())
            .await?;
        Ok(key)
    }
}

/// A storage error as a stage error: a missing or oversized object is permanent, anything else
/// may pass on a retry.
fn bucket_error(stage: Stage, err: BucketError) -> StageError {
    match err {
        BucketError::Storage(_) => StageError::transient(stage, err.to_string()),
        _ => StageError::new(stage, err.to_string()),
    }
}
