//! The HTTP API (API Gateway HTTP API on Lambda, through `lambda_http`): list outputs, preview
//! a render, regenerate an input.
//!
//! Shaped the way axum's examples are, so each handler reads like its row in the README's
//! table (input, call, answer): the inputs are extractors ([`OutputsQuery`], [`JsonBody`])
//! whose rejection is [`ApiError`], the answers are serde types, and every failure is an
//! [`ApiError`], which is the response (`{"code", "error"}` with its status). The request and
//! answer bodies below derive `Serialize` and `Deserialize`: they are the wire format for the
//! server and for whoever calls it (the tests decode answers with them).

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Query, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::bucket::{BucketError, Listed};
use crate::config::{PromptConfig, Source};
use crate::env::{check_input_key, Env};
use crate::error::error_chain;
use crate::pipeline::{render_off_worker, Failure, Outcome, Pipeline};
use crate::template::{load_template, TemplateError};

/// Page size of `GET /outputs` unless `limit` says otherwise.
pub const DEFAULT_PAGE: usize = 100;
/// The largest `limit` accepted.
pub const MAX_PAGE: usize = 1000;

/// The routes over a pipeline.
pub fn router(pipeline: Arc<Pipeline>) -> Router {
    Router::new()
        .route("/outputs", get(list_outputs))
        .route("/preview", post(preview))
        .route("/regenerate", post(regenerate))
        .fallback(|| async { ApiError::NoRoute })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(pipeline)
}

// ---- The wire format ---------------------------------------------------------------------

/// `GET /outputs` query: `env=beta|prod&limit=1..1000&token=NEXT`, all optional.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputsQuery {
    /// The environment listed; only the deployment's own is served (the default).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Env>,
    /// Page size, 1..=[`MAX_PAGE`]; [`DEFAULT_PAGE`] when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<usize>,
    /// The previous page's `next_token`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
}

/// `GET /outputs` answer: one page of `<env>/outputs/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OutputsPage {
    /// The environment listed.
    pub env: Env,
    /// The outputs, in key order.
    pub outputs: Vec<Listed>,
    /// Pass as `token` for the next page; `null` on the last one.
    pub next_token: Option<String>,
}

/// `POST /preview` answer: the rendered prompt, sensitive values redacted. The request is a
/// config ([`PromptConfig`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Preview {
    /// The prompt's id (`prompt_templates/NAME` for an S3 template).
    pub prompt_id: String,
    /// The prompt's version.
    pub prompt_version: String,
    /// The rendered system prompt, if the prompt has one.
    pub system: Option<String>,
    /// The rendered user prompt.
    pub user: String,
    /// The Bedrock model a run would call; `null` for the local model.
    pub model_id: Option<String>,
}

/// `POST /regenerate` request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegenerateRequest {
    /// The input to run again: `prompt_inputs/<name>.json`.
    pub key: String,
}

/// `POST /regenerate` answer when the output was written.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Regenerated {
    /// The input's key.
    pub source_key: String,
    /// The output's key.
    pub output_key: String,
}

/// Every error's body: a stable `code` and a message. A failed regeneration adds the input's
/// key and its errors object's key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// `bad_request`, `bad_config`, `bad_key`, `unsupported_media_type`, `payload_too_large`,
    /// `wrong_environment`, `not_found`, `method_not_allowed`, `render`, `storage`, or (for
    /// `/regenerate`) the stage that failed.
    pub code: String,
    /// What went wrong, for a person.
    pub error: String,
    /// `/regenerate`: the input's key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_key: Option<String>,
    /// `/regenerate`: the errors object written for the failure, if it was written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors_key: Option<String>,
}

// ---- Errors ------------------------------------------------------------------------------

/// Why a request failed; it is the response ([`IntoResponse`]): a status and an
/// [`ErrorBody`]. Internal details (a storage failure's chain) go to the log, never into the
/// body.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// 400: the request is malformed (`code` says which part).
    #[error("{message}")]
    BadRequest {
        /// `bad_request`, `bad_config` or `bad_key`.
        code: &'static str,
        /// What is wrong with it.
        message: String,
    },
    /// 415: the body was not sent as `application/json`.
    #[error("the body must be JSON, sent with content-type: application/json")]
    NotJson,
    /// 413: the body is larger than the API reads.
    #[error("the body is too large")]
    TooLarge,
    /// 403: another environment's outputs were asked for.
    #[error("this is the {own} deployment; it serves {own}/outputs/ only")]
    WrongEnvironment {
        /// The deployment's own environment.
        own: Env,
    },
    /// 404: no such route.
    #[error("no such route (GET /outputs, POST /preview, POST /regenerate)")]
    NoRoute,
    /// 405: the route exists, not with this method.
    #[error("method not allowed on this route")]
    MethodNotAllowed,
    /// 422: the config does not render (its template is missing, refused or not UTF-8, or its
    /// variables do not fit).
    #[error("{0}")]
    Render(String),
    /// 502: the bucket failed. The body says only that; the chain is logged.
    #[error("the bucket could not be read")]
    Storage(#[source] BucketError),
    /// 404 when the input does not exist, else 422: a regeneration failed in a stage (its
    /// errors object was written).
    #[error("{}", .failure.error.message)]
    Failed {
        /// The failure.
        failure: Box<Failure>,
        /// Its errors object, if it was written.
        errors_key: Option<String>,
    },
}

impl ApiError {
    fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        ApiError::BadRequest {
            code,
            message: message.into(),
        }
    }

    /// The response status.
    pub fn status(&self) -> StatusCode {
        match self {
            ApiError::BadRequest { .. } => StatusCode::BAD_REQUEST,
            ApiError::NotJson => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            ApiError::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ApiError::WrongEnvironment { .. } => StatusCode::FORBIDDEN,
            ApiError::NoRoute => StatusCode::NOT_FOUND,
            ApiError::MethodNotAllowed => StatusCode::METHOD_NOT_ALLOWED,
            ApiError::Render(_) => StatusCode::UNPROCESSABLE_ENTITY,
            ApiError::Storage(_) => StatusCode::BAD_GATEWAY,
            // The pipeline reads the input first; a missing one is the bucket's NotFound.
            ApiError::Failed { failure, .. } if failure.error.message.starts_with("no object") => {
                StatusCode::NOT_FOUND
            }
            ApiError::Failed { .. } => StatusCode::UNPROCESSABLE_ENTITY,
        }
    }

    /// The response body.
    pub fn body(&self) -> ErrorBody {
        let code = match self {
            ApiError::BadRequest { code, .. } => code,
            ApiError::NotJson => "unsupported_media_type",
            ApiError::TooLarge => "payload_too_large",
            ApiError::WrongEnvironment { .. } => "wrong_environment",
            ApiError::NoRoute => "not_found",
            ApiError::MethodNotAllowed => "method_not_allowed",
            ApiError::Render(_) => "render",
            ApiError::Storage(_) => "storage",
            ApiError::Failed { failure, .. } => failure.error.stage.as_str(),
        };
        let (source_key, errors_key) = match self {
            ApiError::Failed {
                failure,
                errors_key,
            } => (Some(failure.source_key.clone()), errors_key.clone()),
            _ => (None, None),
        };
        ErrorBody {
            code: code.to_owned(),
            error: self.to_string(),
            source_key,
            errors_key,
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let ApiError::Storage(err) = &self {
            tracing::error!(
                target: promptops_runtime::events::TARGET,
                error = error_chain(err).as_str(),
                runtime = "pipeline",
                "the API could not read the bucket",
            );
        }
        (self.status(), Json(self.body())).into_response()
    }
}

impl From<TemplateError> for ApiError {
    fn from(err: TemplateError) -> Self {
        match err {
            TemplateError::Read {
                source: source @ BucketError::Storage { .. },
                ..
            } => ApiError::Storage(source),
            err => ApiError::Render(error_chain(&err)),
        }
    }
}

// ---- Extractors --------------------------------------------------------------------------

/// A request body the API reads as JSON: how it is decoded and checked.
pub trait JsonRequest: Sized {
    /// Decodes (and checks) the body.
    fn from_json(bytes: &[u8]) -> Result<Self, ApiError>;
}

impl JsonRequest for PromptConfig {
    /// Exactly as the pipeline parses an input (size limit, unknown fields, prompt or
    /// template), so a preview accepts what a run accepts.
    fn from_json(bytes: &[u8]) -> Result<Self, ApiError> {
        PromptConfig::parse(bytes).map_err(|err| ApiError::bad_request("bad_config", err.message))
    }
}

impl JsonRequest for RegenerateRequest {
    fn from_json(bytes: &[u8]) -> Result<Self, ApiError> {
        decode(bytes).map_err(|err| {
            ApiError::bad_request(
                "bad_request",
                format!("expected {{\"key\": \"prompt_inputs/NAME.json\"}}: {err}"),
            )
        })
    }
}

fn decode<T: DeserializeOwned>(bytes: &[u8]) -> Result<T, serde_json::Error> {
    serde_json::from_slice(bytes)
}

/// A JSON request body, like axum's `Json<T>` but rejecting with [`ApiError`]: a body sent
/// without `content-type: application/json` (or `application/*+json`) is 415, one that does
/// not decode is 400.
#[derive(Debug, Clone)]
pub struct JsonBody<T>(pub T);

impl<S, T> FromRequest<S> for JsonBody<T>
where
    S: Send + Sync,
    T: JsonRequest,
{
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, ApiError> {
        if !is_json(request.headers()) {
            return Err(ApiError::NotJson);
        }
        let bytes = Bytes::from_request(request, state)
            .await
            .map_err(|rejection| {
                if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
                    ApiError::TooLarge
                } else {
                    ApiError::bad_request("bad_request", rejection.body_text())
                }
            })?;
        T::from_json(&bytes).map(JsonBody)
    }
}

/// Whether the request says its body is JSON: `application/json` or `application/<x>+json`,
/// parameters (`; charset=utf-8`) allowed.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || essence
            .strip_prefix("application/")
            .is_some_and(|subtype| subtype.ends_with("+json"))
}

impl<S: Send + Sync> FromRequestParts<S> for OutputsQuery {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, ApiError> {
        let Query(query) = Query::<OutputsQuery>::from_request_parts(parts, state)
            .await
            .map_err(|rejection| {
                ApiError::bad_request(
                    "bad_request",
                    format!(
                        "query: env=beta|prod, limit=1..{MAX_PAGE}, token=NEXT ({})",
                        rejection.body_text()
                    ),
                )
            })?;
        if query
            .limit
            .is_some_and(|limit| !(1..=MAX_PAGE).contains(&limit))
        {
            return Err(ApiError::bad_request(
                "bad_request",
                format!("limit must be 1..={MAX_PAGE}"),
            ));
        }
        Ok(query)
    }
}

// ---- Handlers ----------------------------------------------------------------------------

/// `GET /outputs`: a page of the deployment's own `<env>/outputs/`.
async fn list_outputs(
    State(pipeline): State<Arc<Pipeline>>,
    query: OutputsQuery,
) -> Result<Json<OutputsPage>, ApiError> {
    let own = pipeline.settings().own_env;
    let env = query.env.unwrap_or(own);
    if env != own {
        return Err(ApiError::WrongEnvironment { own });
    }
    let limit = query.limit.unwrap_or(DEFAULT_PAGE);
    let page = pipeline
        .bucket()
        .list(&env.outputs_prefix(), query.token.as_deref(), limit)
        .await
        .map_err(ApiError::Storage)?;
    Ok(Json(OutputsPage {
        env,
        outputs: page.objects,
        next_token: page.next,
    }))
}

/// `POST /preview`: renders a config (its template read as a run reads it), nothing invoked
/// or written.
async fn preview(
    State(pipeline): State<Arc<Pipeline>>,
    JsonBody(config): JsonBody<PromptConfig>,
) -> Result<Json<Preview>, ApiError> {
    let template = match config.source() {
        Ok(Source::Template(name)) => Some(load_template(pipeline.bucket(), name).await?),
        _ => None,
    };
    // Compiled and rendered on the blocking pool, like the pipeline's own render stage.
    let rendered = render_off_worker(&config, template, pipeline.settings().own_env)
        .await
        .map_err(|err| ApiError::Render(err.message))?;
    Ok(Json(Preview {
        prompt_id: rendered.prompt.id.clone(),
        prompt_version: rendered.prompt.version.to_string(),
        system: rendered.system.as_deref().map(|text| rendered.redact(text)),
        user: rendered.redact(&rendered.user),
        model_id: pipeline.model_id_for(&config),
    }))
}

/// `POST /regenerate`: runs the pipeline again for one input.
async fn regenerate(
    State(pipeline): State<Arc<Pipeline>>,
    JsonBody(request): JsonBody<RegenerateRequest>,
) -> Result<Json<Regenerated>, ApiError> {
    check_input_key(&request.key).map_err(|err| ApiError::bad_request("bad_key", err.message))?;
    match pipeline.process(&request.key, None).await {
        Outcome::Published {
            source_key,
            output_key,
        } => Ok(Json(Regenerated {
            source_key,
            output_key,
        })),
        Outcome::Failed {
            failure,
            errors_key,
        } => Err(ApiError::Failed {
            failure: Box::new(failure),
            errors_key,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bucket::DirBucket;
    use crate::pipeline::PipelineSettings;
    use crate::Bucket;
    use tower::ServiceExt;

    /// A pipeline over a fresh directory (removed when the guard drops).
    struct Scratch(std::path::PathBuf);

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn scratch(name: &str) -> (Scratch, Router) {
        let dir = std::env::temp_dir().join(format!(
            "promptops-api-{name}-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("prompt_templates")).unwrap();
        let pipeline = Pipeline::new(
            Bucket::Dir(DirBucket::new(&dir)),
            PipelineSettings {
                own_env: Env::Beta,
                default_env: None,
                model_id: None,
            },
        );
        (Scratch(dir), router(Arc::new(pipeline)))
    }

    async fn call(
        router: &Router,
        method: &str,
        uri: &str,
        content_type: Option<&str>,
        body: &str,
    ) -> (StatusCode, Vec<u8>) {
        let mut request = axum::http::Request::builder().method(method).uri(uri);
        if let Some(content_type) = content_type {
            request = request.header(header::CONTENT_TYPE, content_type);
        }
        let request = request
            .body(axum::body::Body::from(body.to_owned()))
            .unwrap();
        let response = router.clone().oneshot(request).await.unwrap();
        let status = response.status();
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .unwrap();
        (status, bytes.to_vec())
    }

    fn error(bytes: &[u8]) -> ErrorBody {
        serde_json::from_slice(bytes).expect("an ErrorBody")
    }

    const NOTE: &str =
        r#"{"template": "note.txt", "variables": {"name": "Ada"}, "output_format": "md"}"#;

    #[tokio::test(flavor = "current_thread")]
    async fn bodies_must_be_declared_json_and_decode() {
        let (_dir, api) = scratch("json");
        for content_type in [
            None,
            Some("text/plain"),
            Some("application/x-www-form-urlencoded"),
        ] {
            let (status, body) = call(&api, "POST", "/preview", content_type, NOTE).await;
            assert_eq!(
                status,
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "{content_type:?}"
            );
            assert_eq!(error(&body).code, "unsupported_media_type");
            let (status, _) = call(&api, "POST", "/regenerate", content_type, "{}").await;
            assert_eq!(status, StatusCode::UNSUPPORTED_MEDIA_TYPE);
        }
        let (status, body) =
            call(&api, "POST", "/preview", Some("application/json"), "{oops").await;
        assert_eq!(
            (status, error(&body).code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_config")
        );
        let (status, body) = call(
            &api,
            "POST",
            "/regenerate",
            Some("application/json"),
            r#"{"key": 1}"#,
        )
        .await;
        assert_eq!(
            (status, error(&body).code.as_str()),
            (StatusCode::BAD_REQUEST, "bad_request")
        );
        // Parameters and +json subtypes are JSON too.
        std::fs::write(_dir.0.join("prompt_templates/note.txt"), "Dear {{ name }}.").unwrap();
        for content_type in [
            "application/json; charset=utf-8",
            "application/vnd.api+json",
        ] {
            let (status, body) = call(&api, "POST", "/preview", Some(content_type), NOTE).await;
            assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
            let preview: Preview = serde_json::from_slice(&body).unwrap();
            assert_eq!(preview.user, "Dear Ada.");
            assert_eq!(preview.model_id, None);
        }
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_preview_and_a_run_agree_on_a_template_that_is_not_utf8() {
        let (dir, api) = scratch("utf8");
        std::fs::write(
            dir.0.join("prompt_templates/note.txt"),
            b"Dear {{ name }} \xff\xfe.",
        )
        .unwrap();
        std::fs::create_dir_all(dir.0.join("prompt_inputs")).unwrap();
        std::fs::write(dir.0.join("prompt_inputs/beta-note.json"), NOTE).unwrap();

        let (status, body) = call(&api, "POST", "/preview", Some("application/json"), NOTE).await;
        let preview = error(&body);
        assert_eq!(
            (status, preview.code.as_str()),
            (StatusCode::UNPROCESSABLE_ENTITY, "render")
        );
        assert!(preview.error.contains("is not UTF-8"), "{preview:?}");

        let pipeline = Pipeline::new(
            Bucket::Dir(DirBucket::new(&dir.0)),
            PipelineSettings {
                own_env: Env::Beta,
                default_env: None,
                model_id: None,
            },
        );
        let run = pipeline
            .prepare("prompt_inputs/beta-note.json")
            .await
            .expect_err("a run refuses it too");
        assert_eq!(run.error.stage, crate::Stage::Render);
        assert_eq!(run.error.message, preview.error);
    }

    #[tokio::test(flavor = "current_thread")]
    async fn errors_are_typed_bodies() {
        let (_dir, api) = scratch("errors");
        let (status, body) = call(&api, "GET", "/nope", None, "").await;
        assert_eq!(
            (status, error(&body).code.as_str()),
            (StatusCode::NOT_FOUND, "not_found")
        );
        let (status, body) = call(&api, "DELETE", "/outputs", None, "").await;
        assert_eq!(
            (status, error(&body).code.as_str()),
            (StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        );
        let (status, body) = call(&api, "GET", "/outputs?env=prod", None, "").await;
        assert_eq!(
            (status, error(&body).code.as_str()),
            (StatusCode::FORBIDDEN, "wrong_environment")
        );
        for query in ["env=staging", "limit=0", "limit=1001", "limit=x"] {
            let (status, body) = call(&api, "GET", &format!("/outputs?{query}"), None, "").await;
            assert_eq!(
                (status, error(&body).code.as_str()),
                (StatusCode::BAD_REQUEST, "bad_request"),
                "{query}"
            );
        }
        let (status, body) = call(&api, "GET", "/outputs", None, "").await;
        assert_eq!(status, StatusCode::OK);
        let page: OutputsPage = serde_json::from_slice(&body).unwrap();
        assert_eq!(
            page,
            OutputsPage {
                env: Env::Beta,
                outputs: vec![],
                next_token: None
            }
        );
    }

    #[test]
    fn a_storage_failure_keeps_its_chain_out_of_the_body() {
        let err = ApiError::Storage(BucketError::storage(
            "GetObject \"prompt_templates/a.txt\"",
            std::io::Error::other("dispatch failure: connect to http://10.0.0.7:4566"),
        ));
        assert_eq!(err.status(), StatusCode::BAD_GATEWAY);
        let body = err.body();
        assert_eq!(body.code, "storage");
        assert!(!body.error.contains("10.0.0.7"), "{body:?}");
        assert!(!body.error.contains("GetObject"), "{body:?}");
    }
}
