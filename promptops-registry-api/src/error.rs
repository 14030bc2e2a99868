//! The error body every refusal carries, and its stable `code` words.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Every error answer's body: `{"error", "code"}`, plus `diagnostics` for an invalid push.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// What went wrong, for a person. Never a store's or the server's internals.
    pub error: String,
    /// The stable word a program matches on.
    pub code: ErrorCode,
    /// The build's diagnostics of an invalid push (`invalid_prompt`); empty otherwise.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub diagnostics: Vec<PushDiagnostic>,
}

/// One problem in a pushed prompt, located in the pushed document.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushDiagnostic {
    /// The build's stable diagnostic code (`P0103`, …, or `lone_carriage_return`).
    pub code: String,
    /// What is wrong.
    pub message: String,
    /// 1-based line in the pushed document (1 for whole-document problems).
    pub line: usize,
    /// 1-based column.
    pub column: usize,
    /// A likely fix, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub help: Option<String>,
}

/// What an error answer says, whoever wrote it: the registry's [`ErrorBody`], or the
/// `{"Message": …}` of AWS in front of a Function URL (a refused signature), or nothing
/// readable. Every client of the contract reads error answers through
/// [`ErrorAnswer::parse`].
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ErrorAnswer {
    /// The registry's code; `None` when the registry did not write the answer.
    pub code: Option<ErrorCode>,
    /// The message, or empty.
    pub message: String,
    /// An invalid push's diagnostics.
    pub diagnostics: Vec<PushDiagnostic>,
}

impl ErrorAnswer {
    /// Reads an error answer's body.
    pub fn parse(body: &[u8]) -> ErrorAnswer {
        /// A Function URL's (or API Gateway's) own refusal.
        #[derive(Deserialize)]
        struct AwsMessage {
            #[serde(rename = "Message", alias = "message")]
            message: String,
        }
        if let Ok(body) = serde_json::from_slice::<ErrorBody>(body) {
            return ErrorAnswer {
                code: Some(body.code),
                message: body.error,
                diagnostics: body.diagnostics,
            };
        }
        match serde_json::from_slice::<AwsMessage>(body) {
            Ok(aws) => ErrorAnswer {
                message: aws.message,
                ..ErrorAnswer::default()
            },
            Err(_) => ErrorAnswer::default(),
        }
    }
}

/// The stable word in an error body's `code`, each with the status the contract gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum ErrorCode {
    /// 400: a malformed request (a missing parameter, an unknown mode, bad JSON).
    BadRequest,
    /// 400: the id breaks the id rules.
    InvalidId,
    /// 400: the version breaks the version rules.
    InvalidVersion,
    /// 401: no or an unknown credential.
    Unauthorized,
    /// 403: a role too weak for the route.
    Forbidden,
    /// 404: no such prompt, version or route (or not visible in this mode).
    NotFound,
    /// 405: a wrong method on a route.
    MethodNotAllowed,
    /// 408: the body did not arrive within the request timeout.
    BodyTimeout,
    /// 409: the request conflicts with the registry's state.
    Conflict,
    /// 413: a body over the size limit.
    PayloadTooLarge,
    /// 415: a body of a media type the route does not take.
    UnsupportedMediaType,
    /// 422: a pushed prompt fails validation (see [`ErrorBody::diagnostics`]).
    InvalidPrompt,
    /// 422: a diff or push validation past its CPU deadline.
    TooComplex,
    /// 500: a bug; the cause is only in the server's log.
    Internal,
    /// 503: the store failed; the cause is only in the server's log.
    Unavailable,
    /// 503: the request was not answered within the request timeout.
    Timeout,
    /// 503: every CPU slot stayed busy.
    Busy,
    /// 503: the server is at its connection cap.
    TooManyConnections,
    /// A word this release does not know (a newer server): the status tells what kind it is.
    #[serde(other)]
    Unknown,
}

impl ErrorCode {
    /// The HTTP status the contract gives this code (500 for [`ErrorCode::Unknown`], which
    /// is only ever read, never sent).
    pub const fn status(self) -> u16 {
        match self {
            ErrorCode::BadRequest | ErrorCode::InvalidId | ErrorCode::InvalidVersion => 400,
            ErrorCode::Unauthorized => 401,
            ErrorCode::Forbidden => 403,
            ErrorCode::NotFound => 404,
            ErrorCode::MethodNotAllowed => 405,
            ErrorCode::BodyTimeout => 408,
            ErrorCode::Conflict => 409,
            ErrorCode::PayloadTooLarge => 413,
            ErrorCode::UnsupportedMediaType => 415,
            ErrorCode::InvalidPrompt | ErrorCode::TooComplex => 422,
            ErrorCode::Internal | ErrorCode::Unknown => 500,
            ErrorCode::Unavailable
            | ErrorCode::Timeout
            | ErrorCode::Busy
            | ErrorCode::TooManyConnections => 503,
        }
    }

    /// The word itself.
    pub const fn as_str(self) -> &'static str {
        match self {
            ErrorCode::BadRequest => "bad_request",
            ErrorCode::InvalidId => "invalid_id",
            ErrorCode::InvalidVersion => "invalid_version",
            ErrorCode::Unauthorized => "unauthorized",
            ErrorCode::Forbidden => "forbidden",
            ErrorCode::NotFound => "not_found",
            ErrorCode::MethodNotAllowed => "method_not_allowed",
            ErrorCode::BodyTimeout => "body_timeout",
            ErrorCode::Conflict => "conflict",
            ErrorCode::PayloadTooLarge => "payload_too_large",
            ErrorCode::UnsupportedMediaType => "unsupported_media_type",
            ErrorCode::InvalidPrompt => "invalid_prompt",
            ErrorCode::TooComplex => "too_complex",
            ErrorCode::Internal => "internal",
            ErrorCode::Unavailable => "unavailable",
            ErrorCode::Timeout => "timeout",
            ErrorCode::Busy => "busy",
            ErrorCode::TooManyConnections => "too_many_connections",
            ErrorCode::Unknown => "unknown",
        }
    }

    /// Every code the contract sends.
    pub const ALL: [ErrorCode; 18] = [
        ErrorCode::BadRequest,
        ErrorCode::InvalidId,
        ErrorCode::InvalidVersion,
        ErrorCode::Unauthorized,
        ErrorCode::Forbidden,
        ErrorCode::NotFound,
        ErrorCode::MethodNotAllowed,
        ErrorCode::BodyTimeout,
        ErrorCode::Conflict,
        ErrorCode::PayloadTooLarge,
        ErrorCode::UnsupportedMediaType,
        ErrorCode::InvalidPrompt,
        ErrorCode::TooComplex,
        ErrorCode::Internal,
        ErrorCode::Unavailable,
        ErrorCode::Timeout,
        ErrorCode::Busy,
        ErrorCode::TooManyConnections,
    ];
}

impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_serialize_as_their_words_and_unknown_words_still_decode() {
        for code in ErrorCode::ALL {
            assert_eq!(
                serde_json::to_string(&code).unwrap(),
                format!("\"{}\"", code.as_str())
            );
            let status = code.status();
            assert!((400..600).contains(&status), "{code}: {status}");
            // A 500 is a bug: only `internal` may claim one.
            assert_eq!(status == 500, code == ErrorCode::Internal, "{code}");
        }
        let body: ErrorBody =
            serde_json::from_str(r#"{"error":"slow down","code":"rate_limited"}"#).unwrap();
        assert_eq!(body.code, ErrorCode::Unknown);
        assert!(body.diagnostics.is_empty());
    }

    #[test]
    fn error_answers_are_read_from_the_registry_or_aws() {
        let registry = ErrorAnswer::parse(br#"{"error":"no such prompt","code":"not_found"}"#);
        assert_eq!(registry.code, Some(ErrorCode::NotFound));
        assert_eq!(registry.message, "no such prompt");
        let aws = ErrorAnswer::parse(br#"{"Message":"Forbidden"}"#);
        assert_eq!((aws.code, aws.message.as_str()), (None, "Forbidden"));
        let lower = ErrorAnswer::parse(br#"{"message":"Internal Server Error"}"#);
        assert_eq!(lower.message, "Internal Server Error");
        assert_eq!(ErrorAnswer::parse(b"<html>"), ErrorAnswer::default());
    }

    #[test]
    fn an_invalid_push_carries_its_diagnostics() {
        let body = ErrorBody {
            error: "the prompt is invalid: 1 problem(s)".into(),
            code: ErrorCode::InvalidPrompt,
            diagnostics: vec![PushDiagnostic {
                code: "P0103".into(),
                message: "unknown variable".into(),
                line: 3,
                column: 7,
                help: None,
            }],
        };
        let json = serde_json::to_string(&body).unwrap();
        assert!(!json.contains("help"), "{json}");
        assert_eq!(serde_json::from_str::<ErrorBody>(&json).unwrap(), body);
        assert_eq!(body.code.status(), 422);
    }
}
