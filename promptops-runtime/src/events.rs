//! One structured event per state of a call — `prompt_invoked`, then `prompt_completed` or
//! `prompt_failed` — emitted through `tracing` with target [`TARGET`].
//!
//! Every event carries `event`, `prompt_id`, `prompt_version` and `prompt_source` (the version
//! that actually ran and where it came from: `compiled`, `http` or `lambda`), `prompt_owner`, `prompt_model`,
//! `model_id`, `backend`, `request_id` and `runtime`. `prompt_completed` adds `latency_ms`,
//! `attempts`, `input_tokens`, `output_tokens`, `cost_usd`, `provider_request_id` and, for
//! classifiers, `label`. `prompt_failed` adds `latency_ms`, `attempts`, `error` (the kind, see
//! [`InvokeError::kind`](crate::InvokeError::kind)), `error_code` and `error_message`
//! (redacted). For a prompt with an output schema both also carry `output_valid` (whether the
//! answer filled the schema), `repair_turns` (how many times the answer was sent back), and
//! `prompt_failed` the `violations` of the last answer, a JSON array of `{pointer, message}` as
//! a string, redacted like the message. No event ever contains variable values or rendered
//! text.
//!
//! [`init_json_logging`] gives a binary one JSON object per line on stdout in one call.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard};

use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

use crate::def::PromptDef;
use crate::resolve::Source;

/// The `tracing` target of every prompt event (filter with `RUST_LOG=promptops=info`).
pub const TARGET: &str = "promptops";

/// Name of the event emitted before the first attempt.
pub const EVENT_INVOKED: &str = "prompt_invoked";
/// Name of the event emitted after a successful call.
pub const EVENT_COMPLETED: &str = "prompt_completed";
/// Name of the event emitted after a failed call.
pub const EVENT_FAILED: &str = "prompt_failed";
/// Name of the event a [`Resolver`](crate::resolve::Resolver) emits for each resolution that
/// was not a fresh cache hit.
pub const EVENT_RESOLVED: &str = "prompt_resolved";
/// Name of the event emitted when the registry's version breaks the compiled contract.
pub const EVENT_CONTRACT_MISMATCH: &str = "prompt_contract_mismatch";
/// Name of the event emitted when a registry version could not be rendered (over a budget, or
/// failing on the call's variables) and the compiled prompt was rendered in its place.
pub const EVENT_RENDER_FALLBACK: &str = "prompt_render_fallback";
/// Name of the event emitted when every registry tier failed for a prompt.
pub const EVENT_REGISTRY_UNAVAILABLE: &str = "prompt_registry_unavailable";
/// Name of the event a [`DeadlineReader`](crate::deadline::DeadlineReader) emits, once per
/// process, when it ignores an implausible Lambda deadline (a local emulator's).
pub const EVENT_DEADLINE_IGNORED: &str = "lambda_deadline_ignored";

/// The identity fields shared by the three events of one call.
#[derive(Debug, Clone, Copy)]
pub struct CallIdentity<'a> {
    /// The prompt that runs (the compiled one, or a registry version that honours its
    /// contract).
    pub prompt: &'a PromptDef,
    /// Where `prompt` came from: `compiled`, `http` or `lambda`.
    pub source: Source,
    /// The Bedrock model id called.
    pub model_id: &'a str,
    /// The model backend (`local`, `bedrock-converse`, ...).
    pub backend: &'static str,
    /// The caller's (or a generated) request id.
    pub request_id: &'a str,
    /// Where the call runs (`lambda`, `batch`, `local`, ...).
    pub runtime: &'a str,
}

/// What a completed call reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Completed<'a> {
    /// Wall time of the whole call, retries included.
    pub latency_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// Input tokens, when known.
    pub input_tokens: Option<u32>,
    /// Output tokens, when known.
    pub output_tokens: Option<u32>,
    /// Cost, when known.
    pub cost_usd: Option<f64>,
    /// The service's request id.
    pub provider_request_id: Option<&'a str>,
    /// The parsed label, for classifiers.
    pub label: Option<&'a str>,
    /// For a structured prompt: the answer filled the schema (always `Some(true)` here).
    pub output_valid: Option<bool>,
    /// For a structured prompt: how many repair turns the answer took.
    pub repair_turns: Option<u32>,
}

/// What a failed call reports.
#[derive(Debug, Clone, Copy, Default)]
pub struct Failed<'a> {
    /// Wall time of the whole call, retries included.
    pub latency_ms: u64,
    /// Attempts made.
    pub attempts: u32,
    /// The error kind (`throttled`, `timed_out`, ...).
    pub error: &'a str,
    /// The service's error code, if any.
    pub error_code: Option<&'a str>,
    /// The error message, already redacted.
    pub error_message: &'a str,
    /// For a structured prompt: whether the last answer filled the schema (`None` when no
    /// answer came).
    pub output_valid: Option<bool>,
    /// For a structured prompt: the repair turns made before the call failed.
    pub repair_turns: Option<u32>,
    /// For an answer that broke the schema: its violations as a JSON array, already redacted.
    pub violations: Option<&'a str>,
}

/// One event at `$level` with the identity fields every event carries, then `$extra` fields:
/// the shared list lives here once, so no event can drift from the others.
macro_rules! prompt_event {
    ($level:ident, $event:expr, $id:expr $(, $field:ident = $value:expr)* $(,)?) => {
        tracing::$level!(
            target: TARGET,
            event = $event,
            prompt_id = $id.prompt.id.as_str(),
            prompt_version = %$id.prompt.version,
            prompt_source = $id.source.as_str(),
            prompt_owner = $id.prompt.owner.as_str(),
            prompt_model = $id.prompt.model.as_str(),
            model_id = $id.model_id,
            backend = $id.backend,
            request_id = $id.request_id,
            runtime = $id.runtime,
            $($field = $value,)*
        )
    };
}

/// Emits `prompt_invoked`.
pub fn emit_invoked(id: &CallIdentity<'_>) {
    prompt_event!(info, EVENT_INVOKED, id);
}

/// Emits `prompt_completed`.
pub fn emit_completed(id: &CallIdentity<'_>, done: &Completed<'_>) {
    prompt_event!(
        info,
        EVENT_COMPLETED,
        id,
        latency_ms = done.latency_ms,
        attempts = done.attempts,
        input_tokens = done.input_tokens,
        output_tokens = done.output_tokens,
        cost_usd = done.cost_usd,
        provider_request_id = done.provider_request_id,
        label = done.label,
        output_valid = done.output_valid,
        repair_turns = done.repair_turns,
    );
}

/// Emits `prompt_failed`.
pub fn emit_failed(id: &CallIdentity<'_>, failed: &Failed<'_>) {
    prompt_event!(
        warn,
        EVENT_FAILED,
        id,
        latency_ms = failed.latency_ms,
        attempts = failed.attempts,
        error = failed.error,
        error_code = failed.error_code,
        error_message = failed.error_message,
        output_valid = failed.output_valid,
        repair_turns = failed.repair_turns,
        violations = failed.violations,
    );
}

/// A JSON-lines subscriber writing to `writer`: one flat object per event (`timestamp`,
/// `level`, `target` and the event's fields at the top level), no span noise.
pub fn json_subscriber<W>(writer: W, filter: EnvFilter) -> impl tracing::Subscriber + Send + Sync
where
    W: for<'w> MakeWriter<'w> + Send + Sync + 'static,
{
    tracing_subscriber::fmt()
        .json()
        .flatten_event(true)
        .with_current_span(false)
        .with_span_list(false)
        .with_env_filter(filter)
        .with_writer(writer)
        .finish()
}

/// Installs a global JSON-lines subscriber on stdout, filtered by `RUST_LOG` (default `info`).
///
/// ```no_run
/// promptops_runtime::events::init_json_logging().expect("logging set up once");
/// ```
pub fn init_json_logging() -> Result<(), tracing::subscriber::SetGlobalDefaultError> {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info"));
    tracing::subscriber::set_global_default(json_subscriber(io::stdout, filter))
}

/// An in-memory sink for events, for tests (of this crate and of binaries).
///
/// ```
/// let (capture, subscriber) = promptops_runtime::events::EventCapture::new();
/// let _guard = tracing::subscriber::set_default(subscriber);
/// // ... run calls on this thread (e.g. a current-thread tokio runtime) ...
/// assert!(capture.events().is_empty());
/// ```
#[derive(Debug, Clone, Default)]
pub struct EventCapture {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl EventCapture {
    /// A capture and the subscriber that fills it (prompt events only).
    pub fn new() -> (EventCapture, impl tracing::Subscriber + Send + Sync) {
        let capture = EventCapture::default();
        let subscriber = json_subscriber(capture.clone(), EnvFilter::new(format!("{TARGET}=info")));
        (capture, subscriber)
    }

    fn lock(&self) -> MutexGuard<'_, Vec<u8>> {
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Everything written so far, as text (one JSON object per line).
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.lock()).into_owned()
    }

    /// The events written so far, parsed.
    pub fn events(&self) -> Vec<serde_json::Value> {
        self.text()
            .lines()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// Forgets what was captured.
    pub fn clear(&self) {
        self.lock().clear();
    }
}

/// Writer handed out by [`EventCapture`].
#[derive(Debug)]
pub struct CaptureWriter {
    buffer: Arc<Mutex<Vec<u8>>>,
}

impl io::Write for CaptureWriter {
    fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
        self.buffer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'w> MakeWriter<'w> for EventCapture {
    type Writer = CaptureWriter;

    fn make_writer(&'w self) -> Self::Writer {
        CaptureWriter {
            buffer: Arc::clone(&self.buffer),
        }
    }
}
