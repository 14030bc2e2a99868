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
//! * the caller is authenticated, and its role checked, from the head alone (the [`Caller`]
//!   and `Allowed<R>` extractors, listed first), before the query string is parsed or the
//!   body read: a stranger gets 401 for the price of a hash, a weak role 403;
//! * the query string is bounded in length and parameters, its duplicates found in linear
//!   time (`Query`), after authentication;
//! * the body is read only once the role is checked (`JsonBody`, `PushBody`): a body of
//!   the wrong media type is 415 before a byte is read, a declared `Content-Length` over the
//!   limit is 413, a body without one is cut off at the limit, and JSON that does not decode
//!   into the route's request type is 400;
//! * push validation and diffs run on blocking threads, a bounded number at once, with a
//!   deadline ([`CpuPool`]): 503 `busy` without a free slot, 422 `too_complex` past the
//!   deadline.

//!
//! Each handler reads as the contract's table does: the role (`Allowed<R>`), the input (path,
//! query, body as the contract's types from `promptops-registry-api`), the call into
//! [`Registry`], the answer.
use std::collections::HashSet;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{FromRequest, FromRequestParts, Path, Request, State};
use axum::http::request::Parts;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use http_body_util::{BodyExt, LengthLimitError, Limited};
use promptops_core::Version;
use promptops_registry_api::{
    routes, Diff, History, MoveOutcome, PromoteRequest, PushOutcome, RollbackRequest, VersionsPage,
};
use serde::de::DeserializeOwned;

use crate::auth::{Caller, IamCaller, Role};
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
    pub auth: crate::auth::Auth,
}

/// The router's state: the application, its limits and its CPU pool.
struct Ctx<S> {
    app: Arc<AppState<S>>,
    limits: Limits,
    cpu: CpuPool,
}

type ApiResult<T> = Result<T, RegistryError>;

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
        .route(routes::PUSH, post(push_prompt::<S>))
        .route(routes::RESOLVE, get(resolve::<S>))
        .route(routes::VERSIONS, get(versions::<S>))
        .route(routes::DIFF, get(diff::<S>))
        .route(routes::PROMOTE, post(promote::<S>))
        .route(routes::ROLLBACK, post(rollback::<S>))
        .route(routes::HISTORY, get(history::<S>))
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
        Err(_) => RegistryError::Timeout(format!(
            "the registry did not answer within {}; retry later",
            humantime::format_duration(timeout)
        ))
        .into_response(),
    }
}

async fn not_found() -> RegistryError {
    RegistryError::NotFound("no such route".to_owned())
}

async fn method_not_allowed() -> RegistryError {
    RegistryError::MethodNotAllowed("method not allowed on this route".to_owned())
}

/// The authenticated caller: 401 when there is none. Taken from the head alone (the
/// `Authorization` header, or the IAM caller the Lambda adapter puts in the extensions), and
/// listed first among a handler's extractors, so a stranger's query string is never parsed
/// and its body never read.
impl<S: Store + Clone> FromRequestParts<Arc<Ctx<S>>> for Caller {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let authorization = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|value| value.to_str().ok());
        let iam = parts.extensions.get::<IamCaller>();
        ctx.app.auth.caller(authorization, iam)
    }
}

/// What a route needs of its caller: the role of the contract's table, and the words of the
/// 403 that refuses a weaker one.
trait RoleRule {
    /// The least role.
    const ROLE: Role;
    /// What is refused ("promoting needs the releaser role; …").
    const ACTION: &'static str;
}

/// `POST /prompts`.
struct Pushing;
impl RoleRule for Pushing {
    const ROLE: Role = Role::Author;
    const ACTION: &'static str = "pushing a prompt";
}

/// `GET /prompts/{id}/versions`.
struct Listing;
impl RoleRule for Listing {
    const ROLE: Role = Role::Reader;
    const ACTION: &'static str = "listing versions";
}

/// `GET /prompts/{id}/diff`.
struct Diffing;
impl RoleRule for Diffing {
    const ROLE: Role = Role::Author;
    const ACTION: &'static str = "diffing versions";
}

/// `POST /prompts/{id}/promote`.
struct Promoting;
impl RoleRule for Promoting {
    const ROLE: Role = Role::Releaser;
    const ACTION: &'static str = "promoting";
}

/// `POST /prompts/{id}/rollback`.
struct RollingBack;
impl RoleRule for RollingBack {
    const ROLE: Role = Role::Releaser;
    const ACTION: &'static str = "rolling back";
}

/// `GET /prompts/{id}/history`.
struct ReadingHistory;
impl RoleRule for ReadingHistory {
    const ROLE: Role = Role::Reader;
    const ACTION: &'static str = "reading history";
}

/// A caller whose role includes `R`'s: 401 without credentials, 403 with a weaker role, both
/// from the head alone, before any later extractor reads the query or the body.
struct Allowed<R> {
    caller: Caller,
    rule: PhantomData<R>,
}

impl<S: Store + Clone, R: RoleRule> FromRequestParts<Arc<Ctx<S>>> for Allowed<R> {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let caller = Caller::from_request_parts(parts, ctx).await?;
        caller.require(R::ROLE, R::ACTION)?;
        Ok(Allowed {
            caller,
            rule: PhantomData,
        })
    }
}

/// A prompt id from the path, checked against the id rules (400 `invalid_id`).
struct PromptId(String);

impl<S: Store + Clone> FromRequestParts<Arc<Ctx<S>>> for PromptId {
    type Rejection = RegistryError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let id = path_segment(parts, ctx).await?;
        check_id(&id)?;
        Ok(PromptId(id))
    }
}

/// The one path parameter of a route, percent-decoded (400 when it is not valid UTF-8).
async fn path_segment<S: Store + Clone>(parts: &mut Parts, ctx: &Arc<Ctx<S>>) -> ApiResult<String> {
    Path::<String>::from_request_parts(parts, ctx)
        .await
        .map(|Path(value)| value)
        .map_err(|rejection| RegistryError::BadRequest(format!("bad path: {rejection}")))
}

/// The media type of a request's body, lower case without parameters (`None` without a
/// `Content-Type`).
fn media_type(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(header::CONTENT_TYPE)?;
    let text = value.to_str().unwrap_or("(not text)");
    Some(
        text.split(';')
            .next()
            .unwrap_or_default()
            .trim()
            .to_ascii_lowercase(),
    )
}

/// The request body, not read yet: the body extractors below read it, after the caller's role
/// was checked by an extractor before them.
struct PendingBody {
    body: Body,
    max: usize,
    deadline: Option<Instant>,
}

impl<S: Store + Clone> FromRequest<Arc<Ctx<S>>> for PendingBody {
    type Rejection = RegistryError;

    async fn from_request(request: Request, ctx: &Arc<Ctx<S>>) -> Result<Self, RegistryError> {
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

/// A JSON body decoded into the route's request type `T`: 415 `unsupported_media_type` for
/// another `Content-Type` (checked before reading), the body limits of `PendingBody`, 400
/// `bad_request` for JSON that is malformed or not a `T` (an unknown field included). An empty
/// body without a `Content-Type` is `{}`, so a request whose fields are all optional
/// (rollback) may be sent bare.
struct JsonBody<T>(T);

impl<S: Store + Clone, T: DeserializeOwned> FromRequest<Arc<Ctx<S>>> for JsonBody<T> {
    type Rejection = RegistryError;

    async fn from_request(request: Request, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let media = media_type(request.headers());
        if let Some(media) = &media {
            if media != "application/json" {
                return Err(RegistryError::UnsupportedMediaType(format!(
                    "Content-Type {media:?} is not supported here: send application/json"
                )));
            }
        }
        let bytes = PendingBody::from_request(request, ctx)
            .await?
            .read()
            .await?;
        let empty = bytes.iter().all(u8::is_ascii_whitespace);
        let json: &[u8] = match (&media, empty) {
            (None, true) => b"{}",
            (None, false) => {
                return Err(RegistryError::UnsupportedMediaType(
                    "a body needs `Content-Type: application/json`".to_owned(),
                ))
            }
            (Some(_), _) => &bytes,
        };
        serde_json::from_slice(json).map(JsonBody).map_err(|err| {
            RegistryError::BadRequest(if err.is_data() {
                format!("the body is not a valid request: {err}")
            } else {
                format!("the body is not valid JSON: {err}")
            })
        })
    }
}

/// The body of a push, by its media type: the JSON form, or a prompt file as YAML. Any other
/// `Content-Type` is 415 before the body is read.
enum PushBody {
    Json(Bytes),
    Yaml(Bytes),
}

impl<S: Store + Clone> FromRequest<Arc<Ctx<S>>> for PushBody {
    type Rejection = RegistryError;

    async fn from_request(request: Request, ctx: &Arc<Ctx<S>>) -> ApiResult<Self> {
        let media = media_type(request.headers()).unwrap_or_default();
        let yaml = match media.as_str() {
            "application/json" => false,
            "application/yaml" | "application/x-yaml" | "text/yaml" => true,
            _ => {
                return Err(RegistryError::UnsupportedMediaType(format!(
                    "Content-Type {media:?} is not supported: send application/json or \
                     application/yaml"
                )))
            }
        };
        let bytes = PendingBody::from_request(request, ctx)
            .await?
            .read()
            .await?;
        Ok(if yaml {
            PushBody::Yaml(bytes)
        } else {
            PushBody::Json(bytes)
        })
    }
}

/// Query parameters, each at most once, within the query limits. List it after the caller:
/// a query string is parsed only for a known caller.
#[derive(Debug)]
struct Query(Vec<(String, String)>);

impl<S: Store + Clone> FromRequestParts<Arc<Ctx<S>>> for Query {
    type Rejection = RegistryError;

    async fn from_request_parts(
        parts: &mut Parts,
        ctx: &Arc<Ctx<S>>,
    ) -> Result<Self, RegistryError> {
        Query::parse(parts.uri.query(), &ctx.limits)
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

    /// A required version parameter (`v1`, `v2`).
    fn version(&self, name: &str) -> Result<Version, RegistryError> {
        self.get(name)
            .ok_or_else(|| RegistryError::BadRequest(format!("`{name}` is required")))
            .and_then(parse_version)
    }
}

/// `POST /prompts` (author): validate on a CPU slot, store; 201 created, 200 an identical
/// replay.
async fn push_prompt<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Allowed { caller, .. }: Allowed<Pushing>,
    body: PushBody,
) -> ApiResult<(StatusCode, Json<PushOutcome>)> {
    let actor = caller.name.clone();
    let pushed = ctx
        .cpu
        .run(
            "validating the pushed prompt",
            move |_deadline| match body {
                PushBody::Yaml(bytes) => push::from_yaml(&bytes),
                PushBody::Json(bytes) => push::from_json(&bytes, &actor),
            },
        )
        .await?;
    let stored = ctx.app.registry.push(pushed, &caller.name).await?;
    let status = if stored.created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(stored.outcome)))
}

/// `GET /prompts/{ref}` (reader for staging and production, author for dev and simulation):
/// the version the mode sees, with its `ETag`; 304 on `If-None-Match`.
async fn resolve<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    caller: Caller,
    query: Query,
    headers: HeaderMap,
    Path(reference): Path<String>,
) -> ApiResult<Response> {
    let mode: Mode = query
        .get("mode")
        .map(str::parse)
        .transpose()?
        .unwrap_or_default();
    let needed = if mode.sees_drafts() {
        Role::Author
    } else {
        Role::Reader
    };
    caller.require(needed, format_args!("resolving in {mode} mode"))?;
    let mut reference = PromptRef::parse(&reference)?;
    if let Some(pinned) = query.get("version") {
        let pinned = parse_version(pinned)?;
        if reference.version.is_some_and(|version| version != pinned) {
            return Err(RegistryError::BadRequest(
                "the reference and `?version=` pin different versions".to_owned(),
            ));
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
    // The body is the cached document plus the version's current state, serialized as is:
    // the shape of `promptops_registry_api::ResolvedPrompt` (a test decodes it so), without
    // decoding the document on every request.
    Ok(([(header::ETAG, etag_value)], Json(resolved.body())).into_response())
}

/// `GET /prompts/{id}/versions?limit=&cursor=` (reader).
async fn versions<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    _: Allowed<Listing>,
    PromptId(id): PromptId,
    query: Query,
) -> ApiResult<Json<VersionsPage>> {
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
    Ok(Json(page))
}

/// `GET /prompts/{id}/diff?v1=&v2=` (author), computed on a CPU slot.
async fn diff<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    _: Allowed<Diffing>,
    PromptId(id): PromptId,
    query: Query,
) -> ApiResult<Json<Diff>> {
    let (v1, v2) = (query.version("v1")?, query.version("v2")?);
    Ok(Json(ctx.app.registry.diff(&id, &v1, &v2, &ctx.cpu).await?))
}

/// `POST /prompts/{id}/promote` (releaser).
async fn promote<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Allowed { caller, .. }: Allowed<Promoting>,
    PromptId(id): PromptId,
    JsonBody(request): JsonBody<PromoteRequest>,
) -> ApiResult<Json<MoveOutcome>> {
    let outcome = ctx
        .app
        .registry
        .promote(
            &id,
            &request.version,
            request.expected_stable,
            request.reason,
            &caller.name,
        )
        .await?;
    Ok(Json(outcome))
}

/// `POST /prompts/{id}/rollback` (releaser).
async fn rollback<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    Allowed { caller, .. }: Allowed<RollingBack>,
    PromptId(id): PromptId,
    JsonBody(request): JsonBody<RollbackRequest>,
) -> ApiResult<Json<MoveOutcome>> {
    let outcome = ctx
        .app
        .registry
        .rollback(&id, request.version.as_ref(), request.reason, &caller.name)
        .await?;
    Ok(Json(outcome))
}

/// `GET /prompts/{id}/history` (reader).
async fn history<S: Store + Clone>(
    State(ctx): State<Arc<Ctx<S>>>,
    _: Allowed<ReadingHistory>,
    PromptId(id): PromptId,
) -> ApiResult<Json<History>> {
    let events = ctx.app.registry.history(&id).await?;
    Ok(Json(History {
        prompt_id: id,
        events,
    }))
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
