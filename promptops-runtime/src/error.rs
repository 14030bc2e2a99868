//! The typed error of a prompt call.

use crate::model::{ModelError, ModelErrorKind};
use crate::render::RenderError;
use crate::structured::InvalidOutput;

/// Why a prompt call failed. Every variant after rendering carries the number of attempts made.
///
/// Messages never contain the values of variables declared `sensitive` (they are replaced by
/// `[redacted]`).
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum InvokeError {
    /// The template could not be rendered; no model call was made.
    #[error(transparent)]
    Render(#[from] RenderError),
    /// Still throttled when the retry budget ran out.
    #[error("{prompt_id}: throttled after {attempts} attempt(s): {message}")]
    Throttled {
        /// The prompt's id.
        prompt_id: String,
        /// Attempts made.
        attempts: u32,
        /// The last error's message.
        message: String,
    },
    /// Attempts, or the whole call, took longer than allowed.
    #[error("{prompt_id}: timed out after {attempts} attempt(s) ({elapsed_ms} ms): {message}")]
    TimedOut {
        /// The prompt's id.
        prompt_id: String,
        /// Attempts made.
        attempts: u32,
        /// Time spent on the whole call.
        elapsed_ms: u64,
        /// What timed out.
        message: String,
    },
    /// The service refused the request (validation, access, unknown model, quota); not retried.
    #[error("{prompt_id}: rejected ({code}) after {attempts} attempt(s): {message}")]
    Rejected {
        /// The prompt's id.
        prompt_id: String,
        /// Attempts made.
        attempts: u32,
        /// The service's error code, e.g. `ValidationException`.
        code: String,
        /// The service's message.
        message: String,
    },
    /// The service stayed unavailable (5xx, not ready, connection failures).
    #[error("{prompt_id}: model unavailable after {attempts} attempt(s): {message}")]
    Unavailable {
        /// The prompt's id.
        prompt_id: String,
        /// Attempts made.
        attempts: u32,
        /// The last error's message.
        message: String,
    },
    /// The model answered, but the answer could not be used: not one of the labels, or a
    /// response that could not be parsed.
    #[error("{prompt_id}: bad model output after {attempts} attempt(s): {message}")]
    BadOutput {
        /// The prompt's id.
        prompt_id: String,
        /// Attempts made.
        attempts: u32,
        /// The model's text (empty when the response itself was malformed).
        raw: String,
        /// The labels that would have been accepted (empty for free text).
        expected: Vec<String>,
        /// What was wrong.
        message: String,
    },
    /// A structured answer still did not fill the prompt's output schema after the repair
    /// turns: `output` holds the last raw answer and every violation (JSON pointer + message).
    #[error("{prompt_id}: {output} (after {repair_turns} repair turn(s))")]
    OutputInvalid {
        /// The prompt's id.
        prompt_id: String,
        /// Model attempts made, over every turn.
        attempts: u32,
        /// Repair turns made (the answer was sent back this many times).
        repair_turns: u32,
        /// The last answer and what is wrong with it.
        output: InvalidOutput,
    },
    /// The runtime or model is misconfigured (no region, unsupported body format, ...).
    #[error("{prompt_id}: configuration error: {message}")]
    Config {
        /// The prompt's id.
        prompt_id: String,
        /// What is wrong.
        message: String,
    },
}

impl InvokeError {
    /// A stable short name for events and metrics: `render`, `throttled`, `timed_out`,
    /// `rejected`, `unavailable`, `bad_output`, `output_invalid`, `config`.
    pub fn kind(&self) -> &'static str {
        match self {
            InvokeError::Render(_) => "render",
            InvokeError::Throttled { .. } => "throttled",
            InvokeError::TimedOut { .. } => "timed_out",
            InvokeError::Rejected { .. } => "rejected",
            InvokeError::Unavailable { .. } => "unavailable",
            InvokeError::BadOutput { .. } => "bad_output",
            InvokeError::OutputInvalid { .. } => "output_invalid",
            InvokeError::Config { .. } => "config",
        }
    }

    /// Model attempts made before giving up (0 when rendering failed or nothing was sent).
    pub fn attempts(&self) -> u32 {
        match self {
            InvokeError::Render(_) | InvokeError::Config { .. } => 0,
            InvokeError::Throttled { attempts, .. }
            | InvokeError::TimedOut { attempts, .. }
            | InvokeError::Rejected { attempts, .. }
            | InvokeError::Unavailable { attempts, .. }
            | InvokeError::BadOutput { attempts, .. }
            | InvokeError::OutputInvalid { attempts, .. } => *attempts,
        }
    }

    /// Builds the final error from the last model error.
    pub(crate) fn from_model(
        prompt_id: String,
        attempts: u32,
        elapsed_ms: u64,
        err: ModelError,
    ) -> Self {
        let message = err.message;
        match err.kind {
            ModelErrorKind::Throttled => InvokeError::Throttled {
                prompt_id,
                attempts,
                message,
            },
            ModelErrorKind::Unavailable | ModelErrorKind::NotReady => InvokeError::Unavailable {
                prompt_id,
                attempts,
                message,
            },
            ModelErrorKind::Timeout => InvokeError::TimedOut {
                prompt_id,
                attempts,
                elapsed_ms,
                message,
            },
            ModelErrorKind::Rejected => InvokeError::Rejected {
                prompt_id,
                attempts,
                code: err.code.unwrap_or_else(|| "Rejected".into()),
                message,
            },
            ModelErrorKind::BadResponse => InvokeError::BadOutput {
                prompt_id,
                attempts,
                raw: String::new(),
                expected: Vec::new(),
                message,
            },
            ModelErrorKind::Config => InvokeError::Config { prompt_id, message },
        }
    }
}
