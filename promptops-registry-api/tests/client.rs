//! The client against a real HTTP server that answers as a registry, or as something in front
//! of one, would: every answer kind maps to its typed result.

#![cfg(feature = "client")]

use std::time::Duration;

use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use promptops_registry_api::client::{Client, Credentials, ErrorKind, Resolution};
use promptops_registry_api::{
    ErrorBody, ErrorCode, History, Mode, PromoteRequest, RollbackRequest,
};

const ETAG: &str = "\"abc\"";

/// A stand-in registry: `x` resolves (with an ETag, 304 on it), `gone` is 404, `aws` is a
/// Function URL's refusal, `down` 503, `garbage` a 200 that is not JSON, `huge` a 20 MB body,
/// `slow` never answers in time. It echoes what it was sent where a test needs to see it.
async fn serve() -> String {
    let app = Router::new()
        .route("/prompts/x", get(resolve))
        .route("/prompts/{id}/history", get(history))
        .route("/prompts/{id}/promote", post(promote))
        .route("/prompts/{id}/rollback", post(rollback));
    format!("http://{}/", promptops_tests::serve::spawn(app).await)
}

async fn resolve(headers: HeaderMap) -> impl IntoResponse {
    if headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        == Some(ETAG)
    {
        return StatusCode::NOT_MODIFIED.into_response();
    }
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        == Some("Bearer s3cret");
    let body = format!(r#"{{"prompt_id":"x","authorized":{authorized}}}"#);
    ([(header::ETAG, ETAG)], body).into_response()
}

async fn history(axum::extract::Path(id): axum::extract::Path<String>) -> impl IntoResponse {
    let error = |status: StatusCode, code: ErrorCode, message: &str| {
        let body = ErrorBody {
            error: message.to_owned(),
            code,
            diagnostics: Vec::new(),
        };
        (status, Json(body)).into_response()
    };
    match id.as_str() {
        "gone" => error(StatusCode::NOT_FOUND, ErrorCode::NotFound, "no such prompt"),
        "down" => error(
            StatusCode::SERVICE_UNAVAILABLE,
            ErrorCode::Unavailable,
            "the registry's store is unavailable; retry later",
        ),
        "aws" => (
            StatusCode::FORBIDDEN,
            r#"{"Message":"The request signature we calculated does not match"}"#,
        )
            .into_response(),
        "garbage" => "<html>hello</html>".into_response(),
        "renamed" => Json(serde_json::json!({"prompt": id, "events": []})).into_response(),
        "huge" => "x".repeat(20 * 1024 * 1024).into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            StatusCode::OK.into_response()
        }
        _ => Json(History {
            prompt_id: id,
            events: Vec::new(),
        })
        .into_response(),
    }
}

async fn promote(headers: HeaderMap, body: String) -> impl IntoResponse {
    // Echo what arrived, so the test sees the body and its media type.
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let request: PromoteRequest = serde_json::from_str(&body).unwrap();
    assert_eq!(content_type, "application/json");
    Json(serde_json::json!({
        "prompt_id": "x",
        "version": request.version,
        "status": "stable",
        "previous_stable": request.expected_stable.flatten(),
    }))
}

async fn rollback(body: String) -> impl IntoResponse {
    assert_eq!(body, "{}", "an empty rollback request is an empty object");
    Json(serde_json::json!({
        "prompt_id": "x", "version": "1", "status": "stable", "previous_stable": "2"
    }))
}

#[tokio::test]
async fn answers_decode_into_the_contract_types() {
    let base = serve().await;
    let client = Client::builder(&base)
        .credentials(Credentials::Bearer("s3cret".into()))
        .build()
        .unwrap();
    assert_eq!(client.base(), base.trim_end_matches('/'));

    let Resolution::Found { body, etag } =
        client.resolve("x", Mode::Dev, None, None).await.unwrap()
    else {
        panic!("expected a document");
    };
    assert_eq!(body, r#"{"prompt_id":"x","authorized":true}"#);
    assert_eq!(etag.as_deref(), Some(ETAG));
    assert_eq!(
        client
            .resolve("x", Mode::Dev, None, Some(ETAG))
            .await
            .unwrap(),
        Resolution::NotModified
    );

    let history = client.history("a.b").await.unwrap();
    assert_eq!(history.prompt_id, "a.b");

    let moved = client
        .promote(
            "x",
            &PromoteRequest {
                version: "3".parse().unwrap(),
                expected_stable: Some(Some("2".parse().unwrap())),
                reason: None,
            },
        )
        .await
        .unwrap();
    assert_eq!(moved.version.to_string(), "3");
    assert_eq!(
        moved.previous_stable.map(|v| v.to_string()).as_deref(),
        Some("2")
    );
    let back = client
        .rollback("x", &RollbackRequest::default())
        .await
        .unwrap();
    assert_eq!(back.version.to_string(), "1");
}

#[tokio::test]
async fn errors_separate_refused_unavailable_and_undecodable() {
    let base = serve().await;
    let client = Client::builder(&base)
        .timeout(Duration::from_millis(500))
        .build()
        .unwrap();
    let err = |id: &'static str| {
        let client = client.clone();
        async move { client.history(id).await.unwrap_err() }
    };

    let gone = err("gone").await;
    assert_eq!(gone.kind(), ErrorKind::Refused);
    assert_eq!(
        (gone.status(), gone.code()),
        (Some(404), Some(ErrorCode::NotFound))
    );
    assert!(
        gone.to_string()
            .ends_with("/prompts/gone/history: 404 Not Found: no such prompt (not_found)"),
        "{gone}"
    );

    let aws = err("aws").await;
    assert_eq!((aws.kind(), aws.code()), (ErrorKind::Refused, None));
    assert!(
        aws.to_string()
            .contains("403 Forbidden: The request signature"),
        "{aws}"
    );

    let down = err("down").await;
    assert_eq!(down.kind(), ErrorKind::Unavailable);
    assert_eq!(down.code(), Some(ErrorCode::Unavailable));

    for id in ["garbage", "renamed", "huge"] {
        let bad = err(id).await;
        assert_eq!(bad.kind(), ErrorKind::Undecodable, "{id}: {bad}");
    }
    // A renamed field is an error that says so, not an empty column.
    let renamed = err("renamed").await;
    let source = std::error::Error::source(&renamed).expect("the serde error");
    assert!(
        source.to_string().contains("missing field `prompt_id`"),
        "{source}"
    );

    let slow = err("slow").await;
    assert_eq!(slow.kind(), ErrorKind::Unavailable, "{slow}");
    assert!(std::error::Error::source(&slow).is_some());

    // Nothing listens here.
    let closed = Client::builder("http://127.0.0.1:9").build().unwrap();
    let refused = closed.history("a").await.unwrap_err();
    assert_eq!(refused.kind(), ErrorKind::Unavailable, "{refused}");
}

#[tokio::test]
async fn bad_base_urls_and_credentials_are_local_errors() {
    for base in ["ftp://x", "not a url", "http://"] {
        let err = Client::builder(base).build().unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Local, "{base}");
    }
    let err = Credentials::for_mode(promptops_registry_api::AuthMode::Bearer, "http://x", None)
        .unwrap_err();
    assert!(
        err.to_string().contains("PROMPTOPS_REGISTRY_TOKEN"),
        "{err}"
    );
    // The token never shows.
    let client = Client::builder("http://127.0.0.1:9")
        .credentials(Credentials::Bearer("s3cret".into()))
        .build()
        .unwrap();
    assert!(!format!("{client:?}").contains("s3cret"));
}
