//! The HTTP contract as an axum [`Router`]: the same router runs under the `promptops registry
//! serve` server ([`crate::server`]) and under `lambda_http` on a Function URL.
//!
//! Every error, including 404, 405 and 413, is a JSON object `{"error", "code"}` (plus
//! `diagnostics` for an invalid push); no framework default answer, stack trace or internal
//! path reaches a caller.
//!
//! Hostile callers are bounded here, where both servers get it (the limits are [`Limits`]):
//! * every request has a deadline (408 `body_timeout` while its body is still arriving, 503
//!   `timeout` after);
//! * the caller is authenticated from the head alone (`Authenticated`), before the query
//!   string is parsed or the body read: a stranger gets 401 for the price of a hash;
//! * the query string is bounded in length and parameters, its duplicates found in linear
//!   time (`Query`), after authentication;
//! * the body is read only once the role is checked (`PendingBody`): a declared
//!   `Content-Length` over the limit is 413 before a byte is read, and a body without one is
//!   cut off at the limit;
//! * push validation and diffs run on blocking threads, a bounded number at once, with a
//!   deadline ([`CpuPool`]): 503 `busy` without a free slot, 422 `too_complex` past the
//!   deadline.

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::rejection::PathRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use promptops_core::Version;
use serde_json::{json, Value};

use crate::auth::{Auth, Caller, IamCaller, Role};
use crate::cpu::CpuPool;
use crate::error::RegistryError;
use crate::ids::{check_id, parse_version, Mode, PromptRef};
use crate::limits::Limits;
use crate::push;
use crate::registry::Registry;
use crate::store::Store;

/// What every handler shares.
#[derive(Debug)]
pub struct AppState<S> {
    /// The lifecycle rules over the store.
    pub registry: Registry<S>,
    /// How callers are authenticated.
    pub auth: Auth,
}

/// The router's state: the application, its limits and its CPU pool.
struct Ctx<S> {
    app: Arc<AppState<S>>,
    limits: Limits,
    cpu: CpuPool,
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
        match &err {
            RegistryError::Store(detail) => {
                tracing::error!(target: "promptops::registry", error = %detail, "store failure");
            }
            RegistryError::Internal(detail) => {
                tracing::error!(target: "promptops::registry", error = %detail, "internal error");
            }
            _ => {}
        }
        let status =
            StatusCode::from_u16(err.status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        let mut body = json!({ "error": err.public_message(), "code": err.code() });
        if let RegistryError::InvalidPrompt(diagnostics) = &err {
            body["diagnostics"] = json!(diagnostics);
        }
        let mut response = (status, Json(body)).into_response();
        if let Some(seconds) = err.retry_after() {
            response
                .headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        response
    }
}

type ApiResult<T> = Result<T, ApiError>;

/// The router over `state` with the default [`Limits`].
pub fn router<S: Store + Clone>(state: Arc<AppState<S>>) -> Router {
    router_with_limits(state, Limits::default())
}

/// The router over `state` with `limits`, the request deadline and JSON fallbacks.
pub fn router_with_limits<S: Store + Clone>(state: Arc<AppState<S>>, limits: Limits) -> Router {
    let request_timeout = limits.request_timeout;
    let ctx = Arc::new(Ctx {
        app: state,
        cpu: limits.cpu_pool(),
        limits,
    });
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
        .layer(axum::middleware::from_fn_with_state(
            request_timeout,
            request_deadline,
        ))
        .with_state(ctx)
}

/// When a request must be answered by; in its extensions, for `PendingBody`.
#[derive(Debug, Clone, Copy)]
struct RequestDeadline(Instant);

/// Middleware: answers 503 `timeout` when the request is not answered within `timeout` (the
/// handler is dropped; see [`RegistryError::Timeout`] for what that means for writes).
async fn request_deadline(
    State(timeout): State<Duration>,
    mut request: Request,
    next: Next,
) -> Response {
    let deadline = Instant::now() + timeout;
    request.extensions_mut().insert(RequestDeadline(deadline));
    match tokio::time::timeout_at(deadline.into(), next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError(RegistryError::Timeout(format!(
            "the registry did not answer within {}; retry later",
            humantime::format_duration(timeout)
        )))
        .into_response(),
    }
}

async fn not_found() -> ApiError {
    ApiError(RegistryError::NotFound("no such route".to_owned()))
}

async fn method_not_allowed() -> Response {
    let body = json!({ "error": "method not allowed on this route", "code": "method_not_allowed" });
    (StatusCode::METHOD_NOT_ALLOWED, Json(body)).into_response()
}

/// The authenticated caller: 401 when there is none. Taken from the head alone (the
/// `Authorization` header, or the IAM caller the Lambda adapter puts in the extensions), and
/// listed first among a handler's extractors, so a stranger's query string is never parsed
/// and its body never read.
struct Authenticated(Caller);

impl<S: Store + Clone> FromRequestParts<Arc<Ctx<S>>> for Authenticated {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let iam = parts.extensions.get::<IamCaller>();
        Ok(Authenticated(ctx.app.auth.caller(authorization, iam)?))
    }
}

/// The request body, not read yet: a handler reads it ([`PendingBody::read`]) only after it
/// has checked the caller's role.
struct PendingBody {
    body: Body,
    max: usize,
    deadline: Option<Instant>,
}

impl<S: Store + Clone> FromRequest<Arc<Ctx<S>>> for PendingBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let deadline = request
            .extensions()
            .get::<RequestDeadline>()
            .map(|deadline| deadline.0);
        Ok(PendingBody {
            body: request.into_body(),
            max: ctx.limits.max_body_bytes,
            deadline,
        })
    }
}

impl PendingBody {
    /// Reads the body: 413 at once when its declared length (`Content-Length`) is over the
    /// limit, 413 when it streams past the limit, 408 when it is still arriving at the
    /// request's deadline.
    async fn read(self) -> Result<Bytes, RegistryError> {
        use axum::body::HttpBody;
        let max = self.max;
        let too_large =
            || RegistryError::PayloadTooLarge(format!("the body is larger than {max} bytes"));
        // hyper's body reports a declared Content-Length as its exact size.
        if self.body.size_hint().lower() > max as u64 {
            return Err(too_large());
        }
        let reading = Limited::new(self.body, max).collect();
        let read = match self.deadline {
            Some(deadline) => tokio::time::timeout_at(deadline.into(), reading)
                .await
                .map_err(|_| {
                    RegistryError::BodyTimeout(
                        "the request body did not arrive within the request timeout".to_owned(),
                    )
                })?,
            None => reading.await,
        };
        match read {
            Ok(collected) => Ok(collected.to_bytes()),
            Err(err) if err.downcast_ref::<LengthLimitError>().is_some() => Err(too_large()),
            Err(err) => Err(RegistryError::BadRequest(format!(
                "cannot read the body: {err}"
            ))),
        }
    }
}

fn path_param(path: Result<Path<String>, PathRejection>) -> Result<String, RegistryError> {
    path.map(|Path(value)| value)
        .map_err(|rejection| RegistryError::BadRequest(format!("bad path: {rejection}")))
}

/// Query parameters, each at most once, within the query limits. List it after
/// `Authenticated`: a query string is parsed only for a known caller.
#[derive(Debug)]
struct Query(Vec<(String, String)>);

impl<S: Store + Clone> FromRequestParts<Arc<Ctx<S>>> for Query {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        Ok(Query::parse(parts.uri.query(), &ctx.limits)?)
    }
}

impl Query {
    /// Parses `raw` in time linear in its length, which is bounded before anything else.
    fn parse(raw: Option<&str>, limits: &Limits) -> Result<Query, RegistryError> {
        let raw = raw.unwrap_or_default();
        if raw.len() > limits.max_query_bytes {
            return Err(RegistryError::BadRequest(format!(
                "the query string is {} bytes; at most {} are accepted",
                raw.len(),
                limits.max_query_bytes
            )));
        }
        let count = raw.split('&').filter(|pair| !pair.is_empty()).count();
        if count > limits.max_query_params {
            return Err(RegistryError::BadRequest(format!(
                "the query string has {count} parameters; at most {} are accepted",
                limits.max_query_params
            )));
        }
        let pairs: Vec<(String, String)> = serde_urlencoded::from_str(raw)
            .map_err(|err| RegistryError::BadRequest(format!("bad query string: {err}")))?;
        let mut seen = HashSet::with_capacity(pairs.len());
        if let Some((name, _)) = pairs.iter().find(|(name, _)| !seen.insert(name.as_str())) {
            return Err(RegistryError::BadRequest(format!(
                "query parameter `{name}` is given more than once"
            )));
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
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    headers: HeaderMap,
    body: PendingBody,
) -> ApiResult<Response> {
    caller.require(Role::Author, "pushing a prompt")?;
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
    let yaml = match media.as_str() {
        "application/json" => false,
        "application/yaml" | "application/x-yaml" | "text/yaml" => true,
        _ => {
            return Err(RegistryError::UnsupportedMediaType(format!(
                "Content-Type {content_type:?} is not supported: send application/json or \
                 application/yaml"
            ))
            .into())
        }
    };
    let bytes = body.read().await?;
    let actor = caller.name.clone();
    let pushed = ctx
        .cpu
        .run("validating the pushed prompt", move |_deadline| {
            if yaml {
                push::from_yaml(&bytes)
            } else {
                push::from_json(&bytes, &actor)
            }
        })
        .await?;
    let outcome = ctx.app.registry.push(pushed, &caller.name).await?;
    let status = if outcome.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(outcome)).into_response())
}

async fn resolve<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    query: Query,
    headers: HeaderMap,
    reference: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    let mode = query
        .get("mode")
        .map(Mode::parse)
        .transpose()?
        .unwrap_or_default();
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
    let resolved = ctx.app.registry.resolve(&reference, mode).await?;
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
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    query: Query,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Reader, "listing versions")?;
    let id = path_param(id)?;
    check_id(&id)?;
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
    let page = ctx
        .app
        .registry
        .versions(&id, limit, query.get("cursor"))
        .await?;
    Ok(Json(page).into_response())
}

async fn diff<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    query: Query,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Author, "diffing versions")?;
    let id = path_param(id)?;
    check_id(&id)?;
    let version = |name: &str| {
        query
            .get(name)
            .ok_or_else(|| RegistryError::BadRequest(format!("`{name}` is required")))
            .and_then(parse_version)
    };
    let (v1, v2) = (version("v1")?, version("v2")?);
    Ok(Json(ctx.app.registry.diff(&id, &v1, &v2, &ctx.cpu).await?).into_response())
}

/// What promote and rollback both start from: a releaser, a valid id and a JSON object body
/// holding only the route's known fields (checked in this order, so a weak role is 403 before
/// the body is read).
struct PointerMove {
    caller: Caller,
    id: String,
    object: serde_json::Map<String, Value>,
}

impl PointerMove {
    async fn read(
        caller: Caller,
        action: &str,
        id: Result<Path<String>, PathRejection>,
        body: PendingBody,
        known_fields: &[&str],
    ) -> Result<PointerMove, RegistryError> {
        caller.require(Role::Releaser, action)?;
        let id = path_param(id)?;
        check_id(&id)?;
        let object = json_object(&body.read().await?)?;
        ensure_known_fields(&object, known_fields)?;
        Ok(PointerMove { caller, id, object })
    }
}

async fn promote<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
    body: PendingBody,
) -> ApiResult<Response> {
    let PointerMove { caller, id, object } = PointerMove::read(
        caller,
        "promoting",
        id,
        body,
        &["version", "expected_stable", "reason"],
    )
    .await?;
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
    let outcome = ctx
        .app
        .registry
        .promote(&id, &version, expected_stable, reason, &caller.name)
        .await?;
    Ok(Json(outcome).into_response())
}

async fn rollback<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
    body: PendingBody,
) -> ApiResult<Response> {
    let PointerMove { caller, id, object } =
        PointerMove::read(caller, "rolling back", id, body, &["version", "reason"]).await?;
    let version = match object.get("version") {
        None | Some(Value::Null) => None,
        Some(value) => Some(version_value(value, "version")?),
    };
    let reason = optional_string(&object, "reason")?;
    let outcome = ctx
        .app
        .registry
        .rollback(&id, version.as_ref(), reason, &caller.name)
        .await?;
    Ok(Json(outcome).into_response())
}

async fn history<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Authenticated(caller): Authenticated,
    id: Result<Path<String>, PathRejection>,
) -> ApiResult<Response> {
    caller.require(Role::Reader, "reading history")?;
    let id = path_param(id)?;
    let events = ctx.app.registry.history(&id).await?;
    Ok(Json(json!({ "prompt_id": id, "events": events })).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits {
            max_query_bytes: 64,
            max_query_params: 3,
            ..Limits::default()
        }
    }

    #[test]
    fn queries_are_bounded_and_each_parameter_given_once() {
        let query = Query::parse(Some("mode=dev&version=2"), &limits()).unwrap();
        assert_eq!(
            (query.get("mode"), query.get("version")),
            (Some("dev"), Some("2"))
        );
        assert!(Query::parse(None, &limits()).unwrap().0.is_empty());
        for (raw, needle) in [
            ("a=1&b=2&a=3", "`a` is given more than once"),
            ("a&b&c&d", "4 parameters; at most 3"),
            (&"x".repeat(65), "65 bytes; at most 64"),
        ] {
            let err = Query::parse(Some(raw), &limits()).unwrap_err();
            assert_eq!(err.status(), 400, "{raw}");
            assert!(err.to_string().contains(needle), "{raw}: {err}");
        }
        // Empty pairs (`a=1&&b=2`) are not parameters.
        assert!(Query::parse(Some("a=1&&&b=2&"), &limits()).is_ok());
    }

    #[test]
    fn the_duplicate_check_is_linear() {
        // 100k distinct names then a repeat: a quadratic check would take minutes.
        let raw: String = (0..100_000).map(|i| format!("p{i}&")).collect::<String>() + "p0";
        let wide = Limits {
            max_query_bytes: usize::MAX,
            max_query_params: usize::MAX,
            ..Limits::default()
        };
        let started = Instant::now();
        let err = Query::parse(Some(&raw), &wide).unwrap_err();
        assert!(err.to_string().contains("`p0`"), "{err}");
        assert!(started.elapsed() < Duration::from_secs(20));
    }
}
