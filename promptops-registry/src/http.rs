//! The HTTP contract as an axum [`Router`]: the same router runs under the `promptops registry
//! serve` server and under `lambda_http` on a Function URL.
//!
//! Every error, including 404, 405 and 413, is a JSON object `{"error", "code"}` (plus
//! `diagnostics` for an invalid push); no framework default answer, stack trace or internal
//! path reaches a caller.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::rejection::{BytesRejection, PathRejection};
use axum::extract::{DefaultBodyLimit, Path, RawQuery, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Json, Router};
use promptops_core::Version;
use serde_json::{json, Value};

use crate::auth::{Auth, Caller, IamCaller, Role};
use crate::error::RegistryError;
use crate::ids::{check_id, parse_version, Mode, PromptRef};
use crate::push;
use crate::registry::Registry;
use crate::store::Store;

/// Largest accepted request body.
pub const MAX_BODY_BYTES: usize = 1024 * 1024;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState<S> {
    /// The lifecycle rules over the store.
    pub registry: Registry<S>,
    /// How callers are authenticated.
    pub auth: Auth,
}

/// An error as the contract answers it.
#[derive(Debug)]
pub struct ApiError(pub RegistryError);

impl From<RegistryError> for ApiError {
    fn from(err: RegistryError) -> Self {
        ApiError(err)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let err = self.0;
        if let RegistryError::Store(detail) = &err {
            tracing::error!(target: "promptops::registry", error = %detail, "store failure");
        }
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "error": err.public_message(), "code": err.code() });
        if let RegistryError::InvalidPrompt(diagnostics) = &err {
            body["diagnostics"] = json!(diagnostics);
        }
        (status, Json(body)).into_response()
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The router over `state`, with the body limit and JSON fallbacks.
pub fn router<S: Store + Clone>(state: Arc<AppState<S>>) -> Router {
    Router::new()
        .route("/prompts", post(push_prompt::<S>))
        .route("/prompts/{reference}", get(resolve::<S>))
        .route("/prompts/{id}/versions", get(versions::<S>))
        .route("/prompts/{id}/diff", get(diff::<S>))
        .route("/prompts/{id}/promote", post(promote::<S>))
        .route("/prompts/{id}/rollback", post(rollback::<S>))
        .route("/prompts/{id}/history", get(history::<S>))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}

async fn not_found() -> ApiError {
    ApiError(RegistryError::NotFound("no such route".to_owned()))
}

async fn method_not_allowed() -> Response {
    let body = json!({ "error": "method not allowed on this route", "code": "method_not_allowed" });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

fn caller<S>(
    state: &AppState<S>,
    headers: &HeaderMap,
    iam: Option<&IamCaller>,
) -> Result<Caller, RegistryError> {
    let authorization = headers
        .get(header::AUTHORIZATION)
        .and_then(|value| value.to_str().ok());
    state.auth.caller(authorization, iam)
}

fn body(body: Result<Bytes, BytesRejection>) -> Result<Bytes, RegistryError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            RegistryError::PayloadTooLarge(format!(
                "the body is larger than {MAX_BODY_BYTES} bytes"
            ))
        } else {
            RegistryError::BadRequest(format!("cannot read the body: {rejection}"))
        }
    })
}

fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, RegistryError> {
    path.map(|Path(value)| value)
        .map_err(|rejection| RegistryError::BadRequest(format!("bad path: {rejection}")))
}

/// Query parameters, each at most once.
struct Query(Vec<(String, String)>);

impl Query {
    fn parse(raw: Option<String>) -> Result<Query, RegistryError> {
        let pairs: Vec<(String, String)> =
            serde_urlencoded::from_str(raw.as_deref().unwrap_or_default())
                .map_err(|err| RegistryError::BadRequest(format!("bad query string: {err}")))?;
        for (index, (name, _)) in pairs.iter().enumerate() {
            if pairs[..index].iter().any(|(earlier, _)| earlier == name) {
                return Err(RegistryError::BadRequest(format!(
                    "query parameter `{name}` is given more than once"
                )));
            }
        }
        Ok(Query(pairs))
    }

    fn get(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

fn json_object(bytes: &[u8]) -> Result<serde_json::Map<String, Value>, RegistryError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Ok(serde_json::Map::new());
    }
    match serde_json::from_slice(bytes) {
        Ok(Value::Object(object)) => Ok(object),
        Ok(_) => Err(RegistryError::BadRequest(
            "the body must be a JSON object".to_owned(),
        )),
        Err(err) => Err(RegistryError::BadRequest(format!(
            "the body is not valid JSON: {err}"
        ))),
    }
}

fn optional_string(
    object: &serde_json::Map<String, Value>,
    name: &str,
) -> Result<Option<String>, RegistryError> {
    match object.get(name) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text.clone())),
        Some(_) => Err(RegistryError::BadRequest(format!(
            "`{name}` must be a string"
        ))),
    }
}

fn version_value(value: &Value, name: &str) -> Result<Version, RegistryError> {
    match value {
        Value::String(text) => parse_version(text),
        Value::Number(number) => parse_version(&number.to_string()),
        _ => Err(RegistryError::BadRequest(format!(
            "`{name}` must be a version string"
        ))),
    }
}

fn ensure_known_fields(
    object: &serde_json::Map<String, Value>,
    known: &[&str],
) -> Result<(), RegistryError> {
    match object.keys().find(|key| !known.contains(&key.as_str())) {
        Some(key) => Err(RegistryError::BadRequest(format!(
            "unknown field `{key}`; expected {}",
            known.join(", ")
        ))),
        None => Ok(()),
    }
}

async fn push_prompt<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let caller = caller(&state, &headers, iam.as_deref())?;
    caller.require(Role::Author, "pushing a prompt")?;
    let bytes = body(bytes)?;
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|value| value.to_str().ok())
        .unwrap_or_default();
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    let pushed = match media.as_str() {
        "application/json" => push::from_json(&bytes, &caller.name)?,
        "application/yaml" | "application/x-yaml" | "text/yaml" => push::from_yaml(&bytes)?,
        _ => {
            return Err(RegistryError::UnsupportedMediaType(format!(
                "Content-Type {content_type:?} is not supported: send application/json or \
                 application/yaml"
            ))
            .into())
        }
    };
    let outcome = state.registry.push(pushed, &caller.name).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

async fn resolve<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    reference: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    let query = Query::parse(query)?;
    let mode = query
        .get("mode")
        .map(Mode::parse)
        .transpose()?
        .unwrap_or_default();
    let caller = caller(&state, &headers, iam.as_deref())?;
    let needed = if mode.sees_drafts() {
        Role::Author
    } else {
        Role::Reader
    };
    caller.require(needed, format_args!("resolving in {mode} mode"))?;
    let mut reference = PromptRef::parse(&path_param(reference)?)?;
    if let Some(pinned) = query.get("version") {
        let pinned = parse_version(pinned)?;
        if reference.version.is_some_and(|version| version != pinned) {
            return Err(RegistryError::BadRequest(
                "the reference and `?version=` pin different versions".to_owned(),
            )
            .into());
        }
        reference.version = Some(pinned);
    }
    let resolved = state.registry.resolve(&reference, mode).await?;
    let etag = resolved.etag();
    let etag_value = HeaderValue::from_str(&etag).unwrap_or(HeaderValue::from_static("\"\""));
    let matches = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|value| value.to_str().ok())
        .is_some_and(|value| {
            value
                .split(',')
                .map(str::trim)
                .any(|tag| tag == "*" || tag == etag || tag.strip_prefix("W/") == Some(&etag))
        });
    if matches {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    Ok(([(header::ETAG, etag_value)], Json(resolved.body())).into_response())
}

async fn versions<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller(&state, &headers, iam.as_deref())?.require(Role::Reader, "listing versions")?;
    let id = path_param(id)?;
    check_id(&id)?;
    let query = Query::parse(query)?;
    let limit = query
        .get("limit")
        .map(|text| {
            text.parse::<usize>()
                .ok()
                .filter(|limit| *limit >= 1)
                .ok_or_else(|| {
                    RegistryError::BadRequest("`limit` must be a positive integer".to_owned())
                })
        })
        .transpose()?;
    let page = state
        .registry
        .versions(&id, limit, query.get("cursor"))
        .await?;
    Ok(Json(page).into_response())
}

async fn diff<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    RawQuery(query): RawQuery,
) -> ApiResult<Response> {
    caller(&state, &headers, iam.as_deref())?.require(Role::Author, "diffing versions")?;
    let id = path_param(id)?;
    check_id(&id)?;
    let query = Query::parse(query)?;
    let version = |name: &str| {
        query
            .get(name)
            .ok_or_else(|| RegistryError::BadRequest(format!("`{name}` is required")))
            .and_then(parse_version)
    };
    let (v1, v2) = (version("v1")?, version("v2")?);
    Ok(Json(state.registry.diff(&id, &v1, &v2).await?).into_response())
}

/// What promote and rollback both start from: a releaser, a valid id and a JSON object body
/// holding only the route's known fields (checked in this order, so a weak role is 403 before
/// the body is looked at).
struct PointerMove {
    caller: Caller,
    id: String,
    object: serde_json::Map<String, Value>,
}

impl PointerMove {
    fn read<S>(
        state: &AppState<S>,
        headers: &HeaderMap,
        iam: Option<&IamCaller>,
        action: &str,
        (id, bytes): (
            Result<Path<String>, PathRejection>,
            Result<Bytes, BytesRejection>,
        ),
        known_fields: &[&str],
    ) -> Result<PointerMove, RegistryError> {
        let caller = caller(state, headers, iam)?;
        caller.require(Role::Releaser, action)?;
        let id = path_param(id)?;
        check_id(&id)?;
        let object = json_object(&body(bytes)?)?;
        ensure_known_fields(&object, known_fields)?;
        Ok(PointerMove { caller, id, object })
    }
}

async fn promote<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let PointerMove { caller, id, object } = PointerMove::read(
        &state,
        &headers,
        iam.as_deref(),
        "promoting",
        (id, bytes),
        &["version", "expected_stable", "reason"],
    )?;
    let version = object
        .get("version")
        .ok_or_else(|| RegistryError::BadRequest("`version` is required".to_owned()))
        .and_then(|value| version_value(value, "version"))?;
    let expected_stable = match object.get("expected_stable") {
        None => None,
        Some(Value::Null) => Some(None),
        Some(value) => Some(Some(version_value(value, "expected_stable")?)),
    };
    let reason = optional_string(&object, "reason")?;
    let outcome = state
        .registry
        .promote(&id, &version, expected_stable, reason, &caller.name)
        .await?;
    Ok(Json(outcome).into_response())
}

async fn rollback<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
    bytes: Result<Bytes, BytesRejection>,
) -> ApiResult<Response> {
    let PointerMove { caller, id, object } = PointerMove::read(
        &state,
        &headers,
        iam.as_deref(),
        "rolling back",
        (id, bytes),
        &["version", "reason"],
    )?;
    let version = match object.get("version") {
        None | Some(Value::Null) => None,
        Some(value) => Some(version_value(value, "version")?),
    };
    let reason = optional_string(&object, "reason")?;
    let outcome = state
        .registry
        .rollback(&id, version.as_ref(), reason, &caller.name)
        .await?;
    Ok(Json(outcome).into_response())
}

async fn history<S: Store + Clone>(
    State(state): State<Arc<AppState<S>>>,
    iam: Option<Extension<IamCaller>>,
    headers: HeaderMap,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    caller(&state, &headers, iam.as_deref())?.require(Role::Reader, "reading history")?;
    let id = path_param(id)?;
    let events = state.registry.history(&id).await?;
    Ok(Json(json!({ "prompt_id": id, "events": events })).into_response())
}
