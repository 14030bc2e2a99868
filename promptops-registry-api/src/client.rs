//! The one client of the registry's HTTP contract (feature `client`).
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use promptops_registry_api::client::{Client, Credentials};
//! use promptops_registry_api::{AuthMode, Mode};
//!
//! let base = "http://127.0.0.1:8080";
//! let token = std::env::var("PROMPTOPS_REGISTRY_TOKEN").ok();
//! let mode = AuthMode::choose(None, base, token.is_some());
//! let client = Client::builder(base)
//!     .credentials(Credentials::for_mode(mode, base, token)?)
//!     .build()?;
//! let history = client.history("customer-support.intent-classifier").await?;
//! for event in history.events {
//!     println!("{} {} -> {}", event.at, event.action.as_str(), event.to);
//! }
//! # let _ = client.resolve("x", Mode::Production, None, None).await?;
//! # Ok(()) }
//! ```
//!
//! Every answer is decoded into the contract's types. An error is one of three kinds
//! ([`ClientError::kind`]): the registry **refused** the request (a 4xx, with the body's
//! [`ErrorCode`] when the registry itself answered, or AWS's message when a Function URL
//! refused the signature), the registry is **unavailable** (no connection, a timeout, a 5xx),
//! or the answer is **undecodable** (not the contract's, or over [`MAX_ANSWER_BYTES`]); a
//! request that cannot be made here at all (a bad URL, no credentials to sign with) is
//! [`ErrorKind::Local`].

use std::fmt;
use std::time::Duration;

use promptops_core::Version;
use reqwest::header::{HeaderValue, AUTHORIZATION, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use reqwest::Method;
use serde::de::DeserializeOwned;

use crate::{
    routes, AuthMode, Diff, ErrorAnswer, ErrorCode, History, Mode, MoveOutcome, PromoteRequest,
    PushDiagnostic, PushOutcome, PushRequest, RollbackRequest, VersionsPage,
};

/// The largest answer the client reads; a larger one is [`ErrorKind::Undecodable`]. Far above
/// any answer of a registry within its own limits (a pushed prompt is at most 1 MiB).
pub const MAX_ANSWER_BYTES: usize = 16 * 1024 * 1024;

/// How long connecting may take, by default.
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// How long a whole request may take, by default.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How a client proves who it is. Built from an [`AuthMode`] by [`Credentials::for_mode`].
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum Credentials {
    /// Nothing.
    #[default]
    None,
    /// `Authorization: Bearer TOKEN`.
    Bearer(String),
    /// A SigV4 signature for `lambda` (feature `sigv4`).
    #[cfg(feature = "sigv4")]
    SigV4(SigV4),
}

impl fmt::Debug for Credentials {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::None => f.write_str("None"),
            Credentials::Bearer(_) => f.write_str("Bearer([redacted])"),
            #[cfg(feature = "sigv4")]
            Credentials::SigV4(sigv4) => f.debug_tuple("SigV4").field(sigv4).finish(),
        }
    }
}

/// Why the credentials a mode asks for cannot be had.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsError {
    /// `bearer` without a token.
    #[error("bearer authentication needs a token (PROMPTOPS_REGISTRY_TOKEN)")]
    NoToken,
    /// `sigv4` in a build without the `sigv4` feature.
    #[error(
        "SigV4 signing (for a Lambda Function URL with IAM auth) is not in this build: it needs \
         promptops-registry-api's `sigv4` feature (set PROMPTOPS_REGISTRY_AUTH=none or bearer)"
    )]
    SigV4NotBuilt,
}

impl Credentials {
    /// The credentials `mode` asks for against `base`: the token for `bearer`; for `sigv4`, a
    /// signer for the Function URL's region (else the standard chain's region), with
    /// credentials from the standard AWS chain loaded on the first request.
    pub fn for_mode(
        mode: AuthMode,
        base: &str,
        token: Option<String>,
    ) -> Result<Credentials, CredentialsError> {
        match mode {
            AuthMode::None => Ok(Credentials::None),
            AuthMode::Bearer => token
                .filter(|token| !token.trim().is_empty())
                .map(Credentials::Bearer)
                .ok_or(CredentialsError::NoToken),
            #[cfg(feature = "sigv4")]
            AuthMode::Sigv4 => Ok(Credentials::SigV4(SigV4::from_env(
                crate::function_url_region(base),
            ))),
            #[cfg(not(feature = "sigv4"))]
            AuthMode::Sigv4 => {
                let _ = base;
                Err(CredentialsError::SigV4NotBuilt)
            }
        }
    }
}

/// SigV4 signing with a signer given up front, or one made from the standard AWS
/// configuration on the first request (so building a client needs no AWS round trip). Cheap to
/// clone: clones share the signer and its cached credentials.
#[cfg(feature = "sigv4")]
#[derive(Clone)]
pub struct SigV4 {
    region: Option<String>,
    signer: std::sync::Arc<tokio::sync::OnceCell<promptops_aws::sigv4::Signer>>,
}

#[cfg(feature = "sigv4")]
impl fmt::Debug for SigV4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4")
            .field("region", &self.region())
            .field("signer", &self.signer.get())
            .finish()
    }
}

#[cfg(feature = "sigv4")]
impl SigV4 {
    /// Signs with `signer` (e.g. one over static credentials, in tests).
    pub fn new(signer: promptops_aws::sigv4::Signer) -> Self {
        SigV4 {
            region: Some(signer.region().to_owned()),
            signer: std::sync::Arc::new(tokio::sync::OnceCell::new_with(Some(signer))),
        }
    }

    /// Signs for `region` (else the standard chain's region) with credentials from the
    /// standard AWS chain ([`promptops_aws::load`]), loaded on the first request. A failure
    /// to load them fails that request, and is tried again on the next one.
    pub fn from_env(region: Option<String>) -> Self {
        SigV4 {
            region,
            signer: std::sync::Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The region requests are signed for, when it is known before the first request.
    pub fn region(&self) -> Option<&str> {
        self.signer
            .get()
            .map(promptops_aws::sigv4::Signer::region)
            .or(self.region.as_deref())
    }

    async fn sign(
        &self,
        method: &str,
        url: &str,
        headers: &[(&str, &str)],
        body: &[u8],
    ) -> Result<Vec<(String, String)>, promptops_aws::sigv4::SignError> {
        let signer = self
            .signer
            .get_or_try_init(|| promptops_aws::sigv4::Signer::from_env(self.region.as_deref()))
            .await?;
        signer.sign(method, url, headers, body).await
    }
}

/// What kind of failure a [`ClientError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// A 4xx: the registry (or AWS in front of it) refused the request.
    Refused,
    /// No connection, a timeout, or a 5xx: retrying later may work.
    Unavailable,
    /// An answer that is not the contract's.
    Undecodable,
    /// The request could not be made here (a bad URL, no credentials to sign with).
    Local,
}

/// A failed request. Its message names the request (`GET http://…/prompts/x`), never a
/// credential; its [`source`](std::error::Error::source) is the underlying error.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClientError {
    /// The registry refused the request (a 4xx answer).
    #[error("{request}: {}", describe(*.status, message, *.code))]
    Refused {
        /// Method and URL.
        request: String,
        /// The status.
        status: u16,
        /// The body's code; `None` when the registry did not answer itself (a Function URL
        /// refusing a signature answers `{"Message": …}`).
        code: Option<ErrorCode>,
        /// The body's message.
        message: String,
        /// An invalid push's diagnostics.
        diagnostics: Vec<PushDiagnostic>,
    },
    /// The registry answered 5xx.
    #[error("{request}: {}", describe(*.status, message, *.code))]
    Failed {
        /// Method and URL.
        request: String,
        /// The status.
        status: u16,
        /// The body's code, when the body is the contract's.
        code: Option<ErrorCode>,
        /// The body's message, if any.
        message: String,
    },
    /// No answer: the connection failed or timed out.
    #[error("{request}: unreachable")]
    NoAnswer {
        /// Method and URL.
        request: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// An answer that is not the contract's.
    #[error("{request}: answered {} with {what}", status_text(*.status))]
    Undecodable {
        /// Method and URL.
        request: String,
        /// The status.
        status: u16,
        /// What is wrong with the answer.
        what: String,
        /// The decoding error, when there is one.
        #[source]
        source: Option<serde_json::Error>,
    },
    /// The request could not be made here.
    #[error("{request}: cannot make the request: {what}")]
    Local {
        /// Method and URL (as far as known).
        request: String,
        /// What is wrong.
        what: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
}

/// A status with its reason phrase (`403 Forbidden`), or the bare number for one without.
pub fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status) {
        Ok(code) => code.to_string(),
        Err(_) => status.to_string(),
    }
}

/// `404 Not Found: no such prompt (not_found)`, leaving out what the answer lacks.
fn describe(status: u16, message: &str, code: Option<ErrorCode>) -> String {
    let mut text = status_text(status);
    if !message.is_empty() {
        text.push_str(": ");
        text.push_str(message);
    }
    if let Some(code) = code {
        text.push_str(&format!(" ({code})"));
    }
    text
}

impl ClientError {
    /// A request that could not be made here: `request` (method and URL, as far as known),
    /// `what` is wrong, and the underlying error when there is one.
    fn local(
        request: impl Into<String>,
        what: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        ClientError::Local {
            request: request.into(),
            what: what.into(),
            source,
        }
    }

    /// Refused, unavailable, undecodable or local.
    pub fn kind(&self) -> ErrorKind {
        match self {
            ClientError::Refused { .. } => ErrorKind::Refused,
            ClientError::Failed { .. } | ClientError::NoAnswer { .. } => ErrorKind::Unavailable,
            ClientError::Undecodable { .. } => ErrorKind::Undecodable,
            ClientError::Local { .. } => ErrorKind::Local,
        }
    }

    /// The HTTP status of the answer, if there was one.
    pub fn status(&self) -> Option<u16> {
        match self {
            ClientError::Refused { status, .. }
            | ClientError::Failed { status, .. }
            | ClientError::Undecodable { status, .. } => Some(*status),
            ClientError::NoAnswer { .. } | ClientError::Local { .. } => None,
        }
    }

    /// The error body's code, when the registry answered with one.
    pub fn code(&self) -> Option<ErrorCode> {
        match self {
            ClientError::Refused { code, .. } | ClientError::Failed { code, .. } => *code,
            _ => None,
        }
    }
}

/// The answer to a push.
#[derive(Debug, Clone, PartialEq)]
pub struct Pushed {
    /// The body.
    pub outcome: PushOutcome,
    /// Whether this push created the version (201) or replayed an identical one (200).
    pub created: bool,
}

/// The answer to a resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resolution {
    /// 200: the prompt's wire JSON (decode it with
    /// [`ResolvedPrompt::decode`](crate::ResolvedPrompt::decode)) and its `ETag`.
    Found {
        /// The body, as sent.
        body: String,
        /// The `ETag`, if the answer had one.
        etag: Option<String>,
    },
    /// 304: what the `If-None-Match` tag names is still the answer.
    NotModified,
    /// 404: no such prompt or version in this mode.
    NotFound {
        /// The registry's message.
        message: String,
    },
}

/// Builds a [`Client`].
#[derive(Debug)]
pub struct ClientBuilder {
    base: String,
    credentials: Credentials,
    connect_timeout: Duration,
    timeout: Duration,
    user_agent: String,
}

impl ClientBuilder {
    /// Authenticate with `credentials` (default: none).
    pub fn credentials(mut self, credentials: Credentials) -> Self {
        self.credentials = credentials;
        self
    }

    /// How long connecting may take ([`DEFAULT_CONNECT_TIMEOUT`]).
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// How long a whole request may take, answer included ([`DEFAULT_TIMEOUT`]).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// The `User-Agent` sent (default `promptops-registry-api/VERSION`).
    pub fn user_agent(mut self, user_agent: impl Into<String>) -> Self {
        self.user_agent = user_agent.into();
        self
    }

    /// The client. The base URL must be `http://` or `https://`.
    pub fn build(self) -> Result<Client, ClientError> {
        let base = self.base.trim().trim_end_matches('/').to_owned();
        let local = |what: &str, source| ClientError::local(base.as_str(), what, source);
        match reqwest::Url::parse(&base) {
            Ok(url) if matches!(url.scheme(), "http" | "https") && url.has_host() => {}
            Ok(_) => return Err(local("the URL must start with http:// or https://", None)),
            Err(err) => return Err(local("not a URL", Some(Box::new(err)))),
        }
        let http = reqwest::Client::builder()
            .user_agent(self.user_agent)
            .connect_timeout(self.connect_timeout)
            .timeout(self.timeout)
            .build()
            .map_err(|err| local("cannot build the HTTP client", Some(Box::new(err))))?;
        Ok(Client {
            http,
            base,
            credentials: self.credentials,
        })
    }
}

/// A client of one registry. Cheap to clone: clones share connections and credentials.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    base: String,
    credentials: Credentials,
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("base", &self.base)
            .field("credentials", &self.credentials)
            .finish()
    }
}

/// A body to send: its media type and bytes.
struct Body<'a> {
    content_type: &'static str,
    bytes: &'a [u8],
}

/// An answer as received.
struct Answer {
    request: String,
    status: u16,
    etag: Option<String>,
    body: Vec<u8>,
}

impl Client {
    /// A builder for the registry at `base`.
    pub fn builder(base: impl Into<String>) -> ClientBuilder {
        ClientBuilder {
            base: base.into(),
            credentials: Credentials::None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
            user_agent: concat!("promptops-registry-api/", env!("CARGO_PKG_VERSION")).to_owned(),
        }
    }

    /// The registry's base URL, without a trailing `/`.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The credentials requests carry.
    pub fn credentials(&self) -> &Credentials {
        &self.credentials
    }

    /// `POST /prompts` with a promptops prompt file (`application/yaml`).
    pub async fn push_yaml(&self, yaml: &[u8]) -> Result<Pushed, ClientError> {
        self.push(Body {
            content_type: "application/yaml",
            bytes: yaml,
        })
        .await
    }

    /// `POST /prompts` with the JSON form.
    pub async fn push_json(&self, request: &PushRequest) -> Result<Pushed, ClientError> {
        let bytes = self.encode(routes::PUSH, request)?;
        self.push(Body {
            content_type: "application/json",
            bytes: &bytes,
        })
        .await
    }

    async fn push(&self, body: Body<'_>) -> Result<Pushed, ClientError> {
        let answer = self
            .send(Method::POST, routes::PUSH, &[], Some(body), None)
            .await?;
        let created = answer.status == 201;
        Ok(Pushed {
            outcome: answer.decode()?,
            created,
        })
    }

    /// `GET /prompts/{reference}?mode=…[&version=…]`, revalidating `if_none_match` (an
    /// `ETag` from an earlier answer) when given.
    pub async fn resolve(
        &self,
        reference: &str,
        mode: Mode,
        version: Option<&Version>,
        if_none_match: Option<&str>,
    ) -> Result<Resolution, ClientError> {
        let version = version.map(Version::to_string);
        let mut query = vec![("mode", mode.as_str())];
        if let Some(version) = &version {
            query.push(("version", version));
        }
        let answer = self
            .send(
                Method::GET,
                &routes::resolve(reference),
                &query,
                None,
                if_none_match,
            )
            .await?;
        match answer.status {
            200 => match String::from_utf8(answer.body) {
                Ok(body) => Ok(Resolution::Found {
                    body,
                    etag: answer.etag,
                }),
                Err(_) => Err(ClientError::Undecodable {
                    request: answer.request,
                    status: 200,
                    what: "a body that is not UTF-8".to_owned(),
                    source: None,
                }),
            },
            304 => Ok(Resolution::NotModified),
            404 => match answer.error() {
                ClientError::Refused { message, .. } => Ok(Resolution::NotFound { message }),
                other => Err(other),
            },
            _ => Err(answer.error()),
        }
    }

    /// `GET /prompts/{id}/versions`, one page: at most `limit` (1–1000) from `cursor`.
    pub async fn versions(
        &self,
        id: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<VersionsPage, ClientError> {
        let limit = limit.map(|limit| limit.to_string());
        let mut query = Vec::new();
        if let Some(limit) = &limit {
            query.push(("limit", limit.as_str()));
        }
        if let Some(cursor) = cursor {
            query.push(("cursor", cursor));
        }
        self.send(Method::GET, &routes::versions(id), &query, None, None)
            .await?
            .decode()
    }

    /// `GET /prompts/{id}/diff?v1=&v2=`.
    pub async fn diff(&self, id: &str, v1: &Version, v2: &Version) -> Result<Diff, ClientError> {
        let (v1, v2) = (v1.to_string(), v2.to_string());
        self.send(
            Method::GET,
            &routes::diff(id),
            &[("v1", &v1), ("v2", &v2)],
            None,
            None,
        )
        .await?
        .decode()
    }

    /// `POST /prompts/{id}/promote`.
    pub async fn promote(
        &self,
        id: &str,
        request: &PromoteRequest,
    ) -> Result<MoveOutcome, ClientError> {
        self.post_json(&routes::promote(id), request).await
    }

    /// `POST /prompts/{id}/rollback`.
    pub async fn rollback(
        &self,
        id: &str,
        request: &RollbackRequest,
    ) -> Result<MoveOutcome, ClientError> {
        self.post_json(&routes::rollback(id), request).await
    }

    /// `GET /prompts/{id}/history`.
    pub async fn history(&self, id: &str) -> Result<History, ClientError> {
        self.send(Method::GET, &routes::history(id), &[], None, None)
            .await?
            .decode()
    }

    async fn post_json<T: DeserializeOwned>(
        &self,
        path: &str,
        request: &impl serde::Serialize,
    ) -> Result<T, ClientError> {
        let bytes = self.encode(path, request)?;
        let body = Body {
            content_type: "application/json",
            bytes: &bytes,
        };
        self.send(Method::POST, path, &[], Some(body), None)
            .await?
            .decode()
    }

    fn encode(&self, path: &str, request: &impl serde::Serialize) -> Result<Vec<u8>, ClientError> {
        serde_json::to_vec(request).map_err(|err| {
            ClientError::local(
                format!("POST {}{path}", self.base),
                "cannot encode the body",
                Some(Box::new(err)),
            )
        })
    }

    /// Sends one request with the credentials and reads the answer, at most
    /// [`MAX_ANSWER_BYTES`] of it.
    async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Body<'_>>,
        if_none_match: Option<&str>,
    ) -> Result<Answer, ClientError> {
        let mut url = reqwest::Url::parse(&format!("{}{path}", self.base)).map_err(|err| {
            ClientError::local(
                format!("{method} {}{path}", self.base),
                "not a URL",
                Some(Box::new(err)),
            )
        })?;
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let request = format!("{method} {url}");
        let local = |what: &str, source| ClientError::local(request.as_str(), what, source);
        // The headers a signature covers, besides the host.
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(body) = &body {
            headers.push((CONTENT_TYPE.as_str(), body.content_type));
        }
        if let Some(tag) = if_none_match {
            headers.push((IF_NONE_MATCH.as_str(), tag));
        }
        let mut call = self.http.request(method.clone(), url.clone());
        for (name, value) in &headers {
            call = call.header(*name, *value);
        }
        match &self.credentials {
            Credentials::None => {}
            Credentials::Bearer(token) => {
                let mut value = HeaderValue::from_str(&format!("Bearer {token}"))
                    .map_err(|_| local("the token is not valid in a header", None))?;
                value.set_sensitive(true);
                call = call.header(AUTHORIZATION, value);
            }
            #[cfg(feature = "sigv4")]
            Credentials::SigV4(sigv4) => {
                let bytes = body.as_ref().map_or(&[][..], |body| body.bytes);
                // The exact URL sent is the one signed.
                let signed = sigv4
                    .sign(method.as_str(), url.as_str(), &headers, bytes)
                    .await
                    .map_err(|err| local("cannot sign it", Some(Box::new(err))))?;
                for (name, value) in signed {
                    call = call.header(name, value);
                }
            }
        }
        if let Some(body) = body {
            call = call.body(body.bytes.to_vec());
        }
        let no_answer = |source| ClientError::NoAnswer {
            request: request.clone(),
            source,
        };
        let mut response = call.send().await.map_err(no_answer)?;
        let status = response.status().as_u16();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let mut bytes = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(no_answer)? {
            if bytes.len() + chunk.len() > MAX_ANSWER_BYTES {
                return Err(ClientError::Undecodable {
                    request,
                    status,
                    what: format!("a body over {MAX_ANSWER_BYTES} bytes"),
                    source: None,
                });
            }
            bytes.extend_from_slice(&chunk);
        }
        Ok(Answer {
            request,
            status,
            etag,
            body: bytes,
        })
    }
}

impl Answer {
    /// A 2xx body as `T`; any other status as its error.
    fn decode<T: DeserializeOwned>(self) -> Result<T, ClientError> {
        if !(200..300).contains(&self.status) {
            return Err(self.error());
        }
        serde_json::from_slice(&self.body).map_err(|err| ClientError::Undecodable {
            request: self.request,
            status: self.status,
            what: "a body that is not the contract's".to_owned(),
            source: Some(err),
        })
    }

    /// The error a non-2xx answer is: refused for a 4xx, failed for a 5xx (anything else is
    /// not the contract's).
    fn error(self) -> ClientError {
        let ErrorAnswer {
            code,
            message,
            diagnostics,
        } = ErrorAnswer::parse(&self.body);
        match self.status {
            400..=499 => ClientError::Refused {
                request: self.request,
                status: self.status,
                code,
                message,
                diagnostics,
            },
            500..=599 => ClientError::Failed {
                request: self.request,
                status: self.status,
                code,
                message,
            },
            status => ClientError::Undecodable {
                request: self.request,
                status,
                what: "a status the contract does not give".to_owned(),
                source: None,
            },
        }
    }
}
