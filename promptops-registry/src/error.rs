//! Every way a registry request can fail, with the HTTP status and the stable `code` word the
//! contract promises.

use serde::Serialize;

/// One problem in a pushed prompt, located in the pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PushDiagnostic {
    /// The build's stable diagnostic code (`P0103`, ...).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the pushed document (1 for whole-document problems).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// A likely fix, when there is one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// A failed registry operation.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// The id breaks the id rules.
    #[error("{0}")]
    InvalidId(String),
    /// The version breaks the version rules.
    #[error("{0}")]
    InvalidVersion(String),
    /// A malformed request: a missing parameter, an unknown mode, bad JSON.
    #[error("{0}")]
    BadRequest(String),
    /// A body over the size limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// A body that is not JSON or YAML.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A pushed prompt fails validation.
    #[error("the prompt is invalid: {} problem(s)", .0.len())]
    InvalidPrompt(Vec<PushDiagnostic>),
    /// No such prompt or version (or not visible in this mode).
    #[error("{0}")]
    NotFound(String),
    /// The request conflicts with the registry's state (changed text under a released
    /// version, a failed `expected_stable`, nothing to roll back to).
    #[error("{0}")]
    Conflict(String),
    /// No or an unknown bearer token.
    #[error("{0}")]
    Unauthorized(String),
    /// A token whose role may not do this.
    #[error("{0}")]
    Forbidden(String),
    /// The store failed; the message is for logs, not for callers.
    #[error("store error: {0}")]
    Store(String),
    /// The request body did not arrive within the request timeout.
    #[error("{0}")]
    BodyTimeout(String),
    /// The request was not answered within the request timeout (a slow store, say). Whether
    /// a write it carried was applied is unknown; every write is safe to retry (pushes are
    /// idempotent, promotes take `expected_stable`).
    #[error("{0}")]
    Timeout(String),
    /// Every CPU slot stayed busy for the queue timeout (see [`crate::cpu`]).
    #[error("{0}")]
    Busy(String),
    /// A diff or a push validation did not finish within its CPU deadline.
    #[error("{0}")]
    TooComplex(String),
    /// The server is at its connection cap (see [`crate::server`]).
    #[error("{0}")]
    TooManyConnections(String),
    /// A bug: a panic while handling the request. The message is for logs, not for callers.
    #[error("internal error: {0}")]
    Internal(String),
}

impl RegistryError {
    /// The HTTP status the contract gives this error.
    pub fn status(&self) -> u16 {
        match self {
            RegistryError::InvalidId(_)
            | RegistryError::InvalidVersion(_)
            | RegistryError::BadRequest(_) => 400,
            RegistryError::PayloadTooLarge(_) => 413,
            RegistryError::UnsupportedMediaType(_) => 415,
            RegistryError::InvalidPrompt(_) => 422,
            RegistryError::NotFound(_) => 404,
            RegistryError::Conflict(_) => 409,
            RegistryError::Unauthorized(_) => 401,
            RegistryError::Forbidden(_) => 403,
            RegistryError::Store(_) => 503,
            RegistryError::BodyTimeout(_) => 408,
            RegistryError::Timeout(_)
            | RegistryError::Busy(_)
            | RegistryError::TooManyConnections(_) => 503,
            RegistryError::TooComplex(_) => 422,
            RegistryError::Internal(_) => 500,
        }
    }

    /// The stable word in the error body's `code`.
    pub fn code(&self) -> &'static str {
        match self {
            RegistryError::InvalidId(_) => "invalid_id",
            RegistryError::InvalidVersion(_) => "invalid_version",
            RegistryError::BadRequest(_) => "bad_request",
            RegistryError::PayloadTooLarge(_) => "payload_too_large",
            RegistryError::UnsupportedMediaType(_) => "unsupported_media_type",
            RegistryError::InvalidPrompt(_) => "invalid_prompt",
            RegistryError::NotFound(_) => "not_found",
            RegistryError::Conflict(_) => "conflict",
            RegistryError::Unauthorized(_) => "unauthorized",
            RegistryError::Forbidden(_) => "forbidden",
            RegistryError::Store(_) => "unavailable",
            RegistryError::BodyTimeout(_) => "body_timeout",
            RegistryError::Timeout(_) => "timeout",
            RegistryError::Busy(_) => "busy",
            RegistryError::TooComplex(_) => "too_complex",
            RegistryError::TooManyConnections(_) => "too_many_connections",
            RegistryError::Internal(_) => "internal",
        }
    }

    /// The message a caller sees: never a store's internals.
    pub fn public_message(&self) -> String {
        match self {
            RegistryError::Store(_) => {
                "the registry's store is unavailable; retry later".to_owned()
            }
            RegistryError::Internal(_) => {
                "the registry failed on this request; the cause is in its log".to_owned()
            }
            other => other.to_string(),
        }
    }

    /// Seconds a caller should wait before retrying, for the answers that mean "overloaded,
    /// retry shortly" (sent as `Retry-After`).
    pub fn retry_after(&self) -> Option<u32> {
        match self {
            RegistryError::Busy(_) | RegistryError::TooManyConnections(_) => Some(1),
            _ => None,
        }
    }
}
