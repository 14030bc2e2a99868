//! Every way a registry request can fail, with the HTTP status and the stable `code` word the
//! contract promises.

use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
pub use promptops_registry_api::PushDiagnostic;
use promptops_registry_api::{ErrorBody, ErrorCode};

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
    /// A body of a media type the route does not take.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// A route that exists, asked with another method.
    #[error("{0}")]
    MethodNotAllowed(String),
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
    /// The store failed; its cause is for logs, not for callers.
    #[error("the store failed")]
    Store(#[from] crate::store::StoreError),
    /// A stored document does not decode (written by something else, or corrupt); the cause
    /// is for logs, not for callers.
    #[error("the stored document of {what} does not decode")]
    StoredDocument {
        /// Which version (`id@version`).
        what: String,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// A read that could not settle (the stable version kept changing under it); retry.
    #[error("{0}")]
    Contended(String),
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
    /// The HTTP status the contract gives this error (its code's).
    pub fn status(&self) -> u16 {
        self.code().status()
    }

    /// The stable word in the error body's `code`.
    pub fn code(&self) -> ErrorCode {
        match self {
            RegistryError::InvalidId(_) => ErrorCode::InvalidId,
            RegistryError::InvalidVersion(_) => ErrorCode::InvalidVersion,
            RegistryError::BadRequest(_) => ErrorCode::BadRequest,
            RegistryError::PayloadTooLarge(_) => ErrorCode::PayloadTooLarge,
            RegistryError::UnsupportedMediaType(_) => ErrorCode::UnsupportedMediaType,
            RegistryError::MethodNotAllowed(_) => ErrorCode::MethodNotAllowed,
            RegistryError::InvalidPrompt(_) => ErrorCode::InvalidPrompt,
            RegistryError::NotFound(_) => ErrorCode::NotFound,
            RegistryError::Conflict(_) => ErrorCode::Conflict,
            RegistryError::Unauthorized(_) => ErrorCode::Unauthorized,
            RegistryError::Forbidden(_) => ErrorCode::Forbidden,
            RegistryError::Store(_)
            | RegistryError::StoredDocument { .. }
            | RegistryError::Contended(_) => ErrorCode::Unavailable,
            RegistryError::BodyTimeout(_) => ErrorCode::BodyTimeout,
            RegistryError::Timeout(_) => ErrorCode::Timeout,
            RegistryError::Busy(_) => ErrorCode::Busy,
            RegistryError::TooComplex(_) => ErrorCode::TooComplex,
            RegistryError::TooManyConnections(_) => ErrorCode::TooManyConnections,
            RegistryError::Internal(_) => ErrorCode::Internal,
        }
    }

    /// The message a caller sees: never a store's internals.
    pub fn public_message(&self) -> String {
        match self {
            RegistryError::Store(_)
            | RegistryError::StoredDocument { .. }
            | RegistryError::Contended(_) => {
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

impl IntoResponse for RegistryError {
    /// The contract's answer: the code's status, an [`ErrorBody`] (with the diagnostics of an
    /// invalid push), and `Retry-After` when the registry is only overloaded. A store failure
    /// or a bug is logged with its cause and answered without it.
    fn into_response(self) -> Response {
        match &self {
            RegistryError::Store(_)
            | RegistryError::StoredDocument { .. }
            | RegistryError::Contended(_)
            | RegistryError::Internal(_) => {
                // The whole chain (the store's operation, then SQLite's or the SDK's causes),
                // in the log only.
                let error = promptops_core::error::chain(&self);
                tracing::error!(target: "promptops::registry", error = %error, "request failed");
            }
            _ => {}
        }
        let code = self.code();
        let status =
            StatusCode::from_u16(code.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let retry_after = self.retry_after();
        // A body refused unread (too large, or too slow) leaves the rest of it on the
        // connection, so the server closes it after answering; saying so keeps a client from
        // pooling the connection and sending its next request into the close.
        let unread_body = matches!(
            self,
            RegistryError::PayloadTooLarge(_) | RegistryError::BodyTimeout(_)
        );
        let error = self.public_message();
        let diagnostics = match self {
            RegistryError::InvalidPrompt(diagnostics) => diagnostics,
            _ => Vec::new(),
        };
        let body = ErrorBody {
            error,
            code,
            diagnostics,
        };
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = retry_after {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if unread_body {
            response
                .headers_mut()
                .insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
        response
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_unread_body_closes_the_connection_and_others_keep_it() {
        let closes = |err: RegistryError| {
            err.into_response()
                .headers()
                .get(header::CONNECTION)
                .is_some_and(|value| value == "close")
        };
        assert!(closes(RegistryError::PayloadTooLarge("big".into())));
        assert!(closes(RegistryError::BodyTimeout("slow".into())));
        assert!(!closes(RegistryError::BadRequest("bad".into())));
    }
}
