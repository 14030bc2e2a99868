//! Calling a prompt: render → model (with retries and timeouts) → parse, one event per state.

use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::config::{
    repair_turns_from_lookup, runtime_name_from_env, ConfigError, ModelConfig, MAX_REPAIR_TURNS,
};
use crate::def::{DefRef, PromptDef};
use crate::error::InvokeError;
use crate::events::{self, CallIdentity, Completed, Failed};
use crate::local::LocalModel;
use crate::model::{
    InferenceOverride, InferenceParams, Model, ModelAnswer, ModelError, ModelErrorKind,
    ModelRequest, ModelResponse, RepairTurn, StructuredRequest,
};
use crate::render::{render_resolution, Rendered};
use crate::resolve::{Resolution, Resolver, Source};
use crate::retry::RetryPolicy;
use crate::spec::{Answer, OutputError, Prompt, PromptOutput, PromptSpec};
use crate::structured::{self, Schema};

/// Repair turns a structured call makes when neither the call nor the runtime says otherwise:
/// one, which fixes most slips (a value out of range, a missing field) at the cost of one more
/// model call only when the first answer was wrong.
pub const DEFAULT_REPAIR_TURNS: u32 = 1;

/// Per-call settings.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct CallOptions {
    /// Correlation id for the events; one is generated when absent.
    pub request_id: Option<String>,
    /// Overrides of the prompt's inference settings.
    pub inference: InferenceOverride,
    /// Calls this Bedrock model id instead of the prompt's.
    pub model_id: Option<String>,
    /// Replaces the runtime's retry policy for this call.
    pub retry: Option<RetryPolicy>,
    /// Replaces the runtime's repair turns for this call (structured outputs; `Some(0)`
    /// turns repair off).
    pub repair_turns: Option<u32>,
}

impl CallOptions {
    /// Options with a request id (e.g. Lambda's `aws_request_id`).
    pub fn with_request_id(request_id: impl Into<String>) -> Self {
        CallOptions {
            request_id: Some(request_id.into()),
            ..CallOptions::default()
        }
    }
}

/// A successful call.
#[derive(Debug, Clone, PartialEq)]
pub struct Completion<T> {
    /// The parsed output: a label enum for classifiers, the text otherwise.
    pub output: T,
    /// The model's text, untouched; for an answer given as a tool call with no text beside
    /// it, the tool call's input as JSON.
    pub text: String,
    /// The prompt that was called: the compiled one, or the registry version that honoured
    /// its contract.
    pub prompt: DefRef,
    /// Where `prompt` came from.
    pub source: Source,
    /// The Bedrock model id that answered.
    pub model_id: String,
    /// The backend (`local`, `bedrock-converse`, `bedrock-invoke`).
    pub backend: &'static str,
    /// The request id used in the events.
    pub request_id: String,
    /// The service's request id, if any.
    pub provider_request_id: Option<String>,
    /// Model attempts made over every turn (1 when the first one succeeded).
    pub attempts: u32,
    /// For a structured prompt: how many times the answer was sent back before it filled the
    /// schema (0 when the first answer did).
    pub repair_turns: u32,
    /// Wall time of the whole call.
    pub latency: Duration,
    /// Input tokens over every turn, when reported.
    pub input_tokens: Option<u32>,
    /// Output tokens over every turn, when reported.
    pub output_tokens: Option<u32>,
    /// Cost in USD: tokens × the model's price, else the prompt's `cost_per_call_usd`.
    pub cost_usd: Option<f64>,
}

/// What serves prompt calls: a model, a retry policy, a name for events and, when the process
/// is configured for a prompt registry, a [`Resolver`].
///
/// Cheap to clone; build one per process and share it.
#[derive(Debug, Clone)]
pub struct Runtime {
    model: Arc<dyn Model>,
    retry: RetryPolicy,
    repair_turns: u32,
    name: String,
    resolver: Option<Resolver>,
}

impl Runtime {
    /// A runtime over `model` with the default retry policy, named from the environment
    /// (`PROMPTOPS_RUNTIME`, `lambda`, else `local`).
    pub fn new(model: Arc<dyn Model>) -> Self {
        Runtime {
            model,
            retry: RetryPolicy::default(),
            repair_turns: DEFAULT_REPAIR_TURNS,
            name: runtime_name_from_env(),
            resolver: None,
        }
    }

    /// A runtime over the offline [`LocalModel`].
    pub fn local() -> Self {
        Self::new(Arc::new(LocalModel::new()))
    }

    /// Everything from the environment: the model ([`ModelConfig::from_env`]), the retry policy
    /// ([`RetryPolicy::from_env`]), the runtime name and the prompt registry
    /// ([`Resolver::from_env`]: `PROMPT_REGISTRY_URL`, ...), so typed handles resolve through
    /// the registry with no code change when it is configured.
    pub async fn from_env() -> Result<Self, ConfigError> {
        let model = ModelConfig::from_env()?.build().await;
        let mut runtime = Self::new(model).with_retry(RetryPolicy::from_env());
        if let Some(turns) = repair_turns_from_lookup(|name| std::env::var(name).ok())? {
            runtime = runtime.with_repair_turns(turns);
        }
        Ok(match Resolver::from_env()? {
            Some(resolver) => runtime.with_resolver(resolver),
            None => runtime,
        })
    }

    /// Resolves prompts through `resolver` (see [`resolve`](crate::resolve)).
    pub fn with_resolver(mut self, resolver: Resolver) -> Self {
        self.resolver = Some(resolver);
        self
    }

    /// The registry resolver, if the runtime has one.
    pub fn resolver(&self) -> Option<&Resolver> {
        self.resolver.as_ref()
    }

    /// The definition a call of `compiled` runs: the registry's version when a resolver is
    /// configured and its answer honours the compiled contract, else `compiled` itself.
    pub async fn resolve(&self, compiled: &'static PromptDef) -> Resolution {
        match &self.resolver {
            Some(resolver) => resolver.resolve(compiled).await,
            None => Resolution::compiled(compiled),
        }
    }

    /// Replaces the retry policy.
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Sets how many times a structured answer that does not fill its schema is sent back
    /// before the call fails (default [`DEFAULT_REPAIR_TURNS`], at most
    /// [`MAX_REPAIR_TURNS`]; 0 turns repair off). [`from_env`](Self::from_env) reads
    /// `PROMPTOPS_REPAIR_TURNS`.
    pub fn with_repair_turns(mut self, turns: u32) -> Self {
        self.repair_turns = turns;
        self
    }

    /// The repair turns allowed a structured call.
    pub fn repair_turns(&self) -> u32 {
        self.repair_turns
    }

    /// Replaces the runtime name reported in events.
    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = name.into();
        self
    }

    /// The model.
    pub fn model(&self) -> &Arc<dyn Model> {
        &self.model
    }

    /// The retry policy.
    pub fn retry_policy(&self) -> &RetryPolicy {
        &self.retry
    }

    /// The runtime name reported in events.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Renders and calls a prompt known only at run time (e.g. found by id with a generated
    /// `get`), returning the text. With `input`, the templates are the instructions and `input`
    /// is the user turn. A render failure emits `prompt_failed` like any other failure.
    pub async fn invoke_def(
        &self,
        def: &'static PromptDef,
        vars: &dyn crate::spec::TemplateVars,
        input: Option<&str>,
        options: &CallOptions,
    ) -> Result<Completion<String>, InvokeError> {
        let resolution = self.resolve(def).await;
        match render_resolution(def, &resolution, vars, input) {
            Ok(rendered) => self.complete_text(&rendered, options).await,
            Err(err) => {
                let error = InvokeError::Render(err);
                self.render_failed(&resolution, options, &error);
                Err(error)
            }
        }
    }

    /// Calls the model with a rendered prompt and returns the text.
    pub async fn complete_text(
        &self,
        rendered: &Rendered,
        options: &CallOptions,
    ) -> Result<Completion<String>, InvokeError> {
        self.complete(rendered, options, String::from_answer).await
    }

    /// Calls the model with a rendered prompt, retrying as the policy allows, and reads the
    /// answer with `parse` ([`PromptOutput::from_answer`] for a typed handle). Emits
    /// `prompt_invoked`, then `prompt_completed` or `prompt_failed`.
    ///
    /// For a prompt with an output schema the answer is structured: a forced tool call where
    /// the model supports one ([`Model::output_mode`]), else JSON in the text. It is checked
    /// against the schema before `parse` sees it ([`Answer::Checked`]). An answer that fails
    /// is sent back with its violations, as the tool result or as a user turn, and the model
    /// is asked again, up to the repair turns allowed ([`CallOptions::repair_turns`], else
    /// the runtime's, default [`DEFAULT_REPAIR_TURNS`]); then the call fails with
    /// [`InvokeError::OutputInvalid`]. Throttling and timeouts are retried inside each turn by
    /// the retry policy, apart from repair turns, all within the one total timeout.
    pub async fn complete<T>(
        &self,
        rendered: &Rendered,
        options: &CallOptions,
        parse: impl Fn(Answer<'_>) -> Result<T, OutputError>,
    ) -> Result<Completion<T>, InvokeError> {
        let prompt: &PromptDef = &rendered.prompt;
        let request_id = request_id(options);
        let model_id = options.model_id.as_deref().unwrap_or(&prompt.model_id);
        let identity = CallIdentity {
            prompt,
            source: rendered.source,
            model_id,
            backend: self.model.backend(),
            request_id: &request_id,
            runtime: &self.name,
        };
        events::emit_invoked(&identity);

        let policy = options.retry.unwrap_or(self.retry);
        let inference = InferenceParams::resolve(&prompt.inference, &options.inference);
        let schema_json = prompt.output_schema.as_ref().map(Schema::to_json);
        let mode = self.model.output_mode(model_id);
        let repair_limit = options
            .repair_turns
            .unwrap_or(self.repair_turns)
            .min(MAX_REPAIR_TURNS);
        let structured = prompt.output_schema.is_some();
        let mut earlier: Vec<RepairTurn> = Vec::new();
        let mut attempts = 0u32;
        let mut usage = Usage::default();

        let start = Instant::now();
        let (output, response) = loop {
            let request = ModelRequest {
                prompt,
                model_id,
                system: rendered.system.as_deref(),
                user: &rendered.user,
                inference: &inference,
                structured: prompt.output_schema.as_ref().zip(schema_json.as_ref()).map(
                    |(schema, schema_json)| StructuredRequest {
                        schema,
                        schema_json,
                        mode,
                        earlier: &earlier,
                    },
                ),
            };
            let outcome = self.attempt_loop(request, &policy, start).await;
            let latency_ms = millis(start.elapsed());
            let turns = u32::try_from(earlier.len()).unwrap_or(u32::MAX);
            let response = match outcome {
                Ok((response, made)) => {
                    attempts += made;
                    usage.add(&response);
                    response
                }
                Err((err, made)) => {
                    attempts += made;
                    let code = err.code.clone();
                    let mut error =
                        InvokeError::from_model(prompt.id.clone(), attempts, latency_ms, err);
                    redact_error(&mut error, rendered);
                    emit_call_failed(
                        &identity,
                        &error,
                        code.as_deref(),
                        latency_ms,
                        structured,
                        turns,
                    );
                    return Err(error);
                }
            };
            let problem = match read_answer(prompt, &response, &parse) {
                Ok(output) => break (output, response),
                Err(problem) => problem,
            };
            let error = match problem {
                // Only a structured answer is sent back: a free-text or label prompt has no
                // schema to show the model.
                OutputError::Invalid(invalid)
                    if structured && earlier.len() < repair_limit as usize =>
                {
                    tracing::debug!(
                        target: events::TARGET,
                        prompt_id = prompt.id.as_str(),
                        repair_turn = turns + 1,
                        violations = invalid.total_violations,
                        "answer does not fill the output schema; asking again",
                    );
                    earlier.push(RepairTurn {
                        answer: match response.tool_use {
                            Some(tool_use) => ModelAnswer::ToolUse(tool_use),
                            None => ModelAnswer::Text(response.text),
                        },
                        feedback: invalid.feedback(),
                    });
                    continue;
                }
                problem => unusable_answer(rendered, attempts, turns, problem),
            };
            emit_call_failed(&identity, &error, None, latency_ms, structured, turns);
            return Err(error);
        };
        let latency = start.elapsed();
        let repair_turns = u32::try_from(earlier.len()).unwrap_or(u32::MAX);

        let cost_usd = match (
            self.model.price(model_id),
            usage.input_tokens,
            usage.output_tokens,
        ) {
            (Some(price), Some(input), Some(output)) => Some(price.cost(input, output)),
            _ => prompt.metrics.cost_per_call_usd,
        };
        let label = if prompt.is_classifier() {
            crate::spec::parse_label(prompt, &response.text).ok()
        } else {
            None
        };
        events::emit_completed(
            &identity,
            &Completed {
                latency_ms: millis(latency),
                attempts,
                input_tokens: usage.input_tokens,
                output_tokens: usage.output_tokens,
                cost_usd,
                provider_request_id: response.provider_request_id.as_deref(),
                label,
                output_valid: structured.then_some(true),
                repair_turns: structured.then_some(repair_turns),
            },
        );
        let text = match response.tool_use {
            Some(tool_use) if response.text.is_empty() => tool_use.input.to_string(),
            _ => response.text,
        };
        Ok(Completion {
            output,
            text,
            prompt: rendered.prompt.clone(),
            source: rendered.source,
            model_id: model_id.to_owned(),
            backend: self.model.backend(),
            request_id,
            provider_request_id: response.provider_request_id,
            attempts,
            repair_turns,
            latency,
            input_tokens: usage.input_tokens,
            output_tokens: usage.output_tokens,
            cost_usd,
        })
    }

    async fn attempt_loop(
        &self,
        request: ModelRequest<'_>,
        policy: &RetryPolicy,
        start: Instant,
    ) -> Result<(crate::model::ModelResponse, u32), (ModelError, u32)> {
        let deadline = start + policy.total_timeout;
        let mut attempts = 0u32;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err((
                    ModelError::new(
                        ModelErrorKind::Timeout,
                        format!("total timeout of {:?} reached", policy.total_timeout),
                    ),
                    attempts,
                ));
            }
            attempts += 1;
            let limit = policy.attempt_timeout.min(remaining);
            let err = match tokio::time::timeout(limit, self.model.complete(request)).await {
                Ok(Ok(response)) => return Ok((response, attempts)),
                Ok(Err(err)) => err,
                Err(_) => {
                    let what = if limit < policy.attempt_timeout {
                        "the total timeout"
                    } else {
                        "the attempt timeout"
                    };
                    ModelError::new(
                        ModelErrorKind::Timeout,
                        format!("attempt {attempts} exceeded {what} of {limit:?}"),
                    )
                }
            };
            if !policy.should_retry(err.kind, attempts) {
                return Err((err, attempts));
            }
            let delay = policy.backoff(attempts);
            if Instant::now() + delay >= deadline {
                return Err((err, attempts));
            }
            tracing::debug!(
                target: events::TARGET,
                prompt_id = request.prompt.id.as_str(),
                attempt = attempts,
                error_kind = ?err.kind,
                backoff_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                "retrying prompt call",
            );
            tokio::time::sleep(delay).await;
        }
    }

    /// Emits `prompt_failed` for a call that could not even be rendered.
    fn render_failed(&self, resolution: &Resolution, options: &CallOptions, error: &InvokeError) {
        self.emit_failure(
            &resolution.def,
            resolution.source,
            options,
            &error.to_string(),
        );
    }

    /// Emits `prompt_failed` (error `render`, no attempt made) for a call whose prompt could
    /// not be rendered outside this runtime's own methods, e.g. by a batch job that renders
    /// its records itself. `message` must not contain variable values.
    pub fn emit_render_failure(
        &self,
        prompt: &'static PromptDef,
        options: &CallOptions,
        message: &str,
    ) {
        self.emit_failure(prompt, Source::Compiled, options, message);
    }

    fn emit_failure(
        &self,
        prompt: &PromptDef,
        source: Source,
        options: &CallOptions,
        message: &str,
    ) {
        let request_id = request_id(options);
        let identity = CallIdentity {
            prompt,
            source,
            model_id: options.model_id.as_deref().unwrap_or(&prompt.model_id),
            backend: self.model.backend(),
            request_id: &request_id,
            runtime: &self.name,
        };
        events::emit_failed(
            &identity,
            &Failed {
                latency_ms: 0,
                attempts: 0,
                error: "render",
                error_code: None,
                error_message: message,
                ..Failed::default()
            },
        );
    }
}

/// Emits `prompt_failed` for a call that ends in `error` after `repair_turns` repair turns;
/// for a structured prompt whose answer broke the schema, with `output_valid: false` and the
/// (already redacted) violations.
fn emit_call_failed(
    identity: &CallIdentity<'_>,
    error: &InvokeError,
    error_code: Option<&str>,
    latency_ms: u64,
    structured: bool,
    repair_turns: u32,
) {
    let violations = match error {
        InvokeError::OutputInvalid { output, .. } => serde_json::to_string(&output.violations).ok(),
        _ => None,
    };
    let answered = matches!(error, InvokeError::OutputInvalid { .. });
    events::emit_failed(
        identity,
        &Failed {
            latency_ms,
            attempts: error.attempts(),
            error: error.kind(),
            error_code,
            error_message: &error.to_string(),
            output_valid: (structured && answered).then_some(false),
            repair_turns: structured.then_some(repair_turns),
            violations: violations.as_deref(),
        },
    );
}

/// The error of a call whose last answer could not be used, redacted: `OutputInvalid` for a
/// structured answer that still breaks the schema, `BadOutput` for a label that is none of the
/// prompt's.
fn unusable_answer(
    rendered: &Rendered,
    attempts: u32,
    repair_turns: u32,
    problem: OutputError,
) -> InvokeError {
    let prompt_id = rendered.prompt.id.clone();
    match problem {
        OutputError::Invalid(mut invalid) => {
            invalid.raw = rendered.redact(&invalid.raw);
            for violation in &mut invalid.violations {
                violation.message = rendered.redact(&violation.message);
            }
            InvokeError::OutputInvalid {
                prompt_id,
                attempts,
                repair_turns,
                output: invalid,
            }
        }
        OutputError::Unexpected(unexpected) => {
            let raw = rendered.redact(&unexpected.raw);
            InvokeError::BadOutput {
                prompt_id,
                attempts,
                message: format!(
                    "model output {raw:?} is not one of the labels [{}]",
                    unexpected.expected.join(", ")
                ),
                raw,
                expected: unexpected.expected,
            }
        }
    }
}

/// Token counts summed over the turns of a call; unknown as soon as one turn did not report.
#[derive(Debug, Default)]
struct Usage {
    input_tokens: Option<u32>,
    output_tokens: Option<u32>,
    turns: u32,
}

impl Usage {
    fn add(&mut self, response: &ModelResponse) {
        let sum = |total: Option<u32>, more: Option<u32>, first: bool| match (total, more) {
            (_, None) => None,
            (None, Some(more)) if first => Some(more),
            (None, Some(_)) => None,
            (Some(total), Some(more)) => Some(total.saturating_add(more)),
        };
        let first = self.turns == 0;
        self.input_tokens = sum(self.input_tokens, response.input_tokens, first);
        self.output_tokens = sum(self.output_tokens, response.output_tokens, first);
        self.turns += 1;
    }
}

/// Reads a model's response into the prompt's output: the text for labels and free text; for
/// a prompt with an output schema, the tool call's input (else the first JSON object in the
/// text), checked against the schema first.
///
/// This is the one rule from a response to an output: live calls use it, and so does a batch
/// job importing the output of a Bedrock batch inference job (each `modelOutput` parsed with
/// [`crate::bedrock::parse_native`] first).
pub fn read_answer<T>(
    prompt: &PromptDef,
    response: &ModelResponse,
    parse: &impl Fn(Answer<'_>) -> Result<T, OutputError>,
) -> Result<T, OutputError> {
    let Some(schema) = &prompt.output_schema else {
        return parse(Answer::Text(&response.text));
    };
    let value = match &response.tool_use {
        Some(tool_use) => {
            structured::check(schema, &tool_use.input)?;
            Cow::Borrowed(&tool_use.input)
        }
        None => Cow::Owned(structured::checked_in_text(schema, &response.text)?),
    };
    parse(Answer::Checked(&value))
}

fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis()).unwrap_or(u64::MAX)
}

fn request_id(options: &CallOptions) -> String {
    options
        .request_id
        .clone()
        .unwrap_or_else(|| format!("po-{:016x}", fastrand::u64(..)))
}

fn redact_error(error: &mut InvokeError, rendered: &Rendered) {
    if !rendered.has_sensitive() {
        return;
    }
    match error {
        InvokeError::Render(_) => {}
        InvokeError::Throttled { message, .. }
        | InvokeError::TimedOut { message, .. }
        | InvokeError::Rejected { message, .. }
        | InvokeError::Unavailable { message, .. }
        | InvokeError::Config { message, .. } => *message = rendered.redact(message),
        InvokeError::BadOutput { message, raw, .. } => {
            *message = rendered.redact(message);
            *raw = rendered.redact(raw);
        }
        // Redacted where it is built, in `complete`.
        InvokeError::OutputInvalid { .. } => {}
    }
}

impl<S: PromptSpec> Prompt<S> {
    /// Renders with `vars`, calls the runtime's model and parses the output.
    pub async fn invoke(
        &self,
        runtime: &Runtime,
        vars: &S::Vars<'_>,
    ) -> Result<Completion<S::Output>, InvokeError> {
        self.invoke_with(runtime, vars, None, &CallOptions::default())
            .await
    }

    /// Renders the templates as instructions and sends `input` as the user turn (see
    /// [`render_with_input`](Prompt::render_with_input)); for prompts without variables pass
    /// [`NoVars`](crate::NoVars).
    pub async fn invoke_with_input(
        &self,
        runtime: &Runtime,
        vars: &S::Vars<'_>,
        input: &str,
    ) -> Result<Completion<S::Output>, InvokeError> {
        self.invoke_with(runtime, vars, Some(input), &CallOptions::default())
            .await
    }

    /// The general form: optional user input and per-call options.
    ///
    /// When the runtime has a registry [`Resolver`], the definition rendered is the one it
    /// resolves (a registry version that honours this prompt's contract, else the compiled
    /// one); the typed `Vars` and output work unchanged because the contract holds.
    pub async fn invoke_with(
        &self,
        runtime: &Runtime,
        vars: &S::Vars<'_>,
        input: Option<&str>,
        options: &CallOptions,
    ) -> Result<Completion<S::Output>, InvokeError> {
        let resolution = runtime.resolve(self.def()).await;
        let rendered = match render_resolution(self.def(), &resolution, vars, input) {
            Ok(rendered) => rendered,
            Err(err) => {
                let error = InvokeError::Render(err);
                runtime.render_failed(&resolution, options, &error);
                return Err(error);
            }
        };
        self.invoke_rendered(runtime, &rendered, options).await
    }

    /// Calls the model with an already rendered prompt and parses the output.
    pub async fn invoke_rendered(
        &self,
        runtime: &Runtime,
        rendered: &Rendered,
        options: &CallOptions,
    ) -> Result<Completion<S::Output>, InvokeError> {
        runtime
            .complete(rendered, options, S::Output::from_answer)
            .await
    }
}
