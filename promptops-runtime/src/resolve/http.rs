//! The HTTP tier: `GET {PROMPT_REGISTRY_URL}/prompts/{id}?mode=…[&version=…]` against the
//! registry's HTTP contract (promptops-registry's README), with `If-None-Match` and a bearer
//! token.
//!
//! TLS is rustls with the *ring* provider and the system's root certificates, like the AWS
//! clients in this crate.

use std::fmt;

use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use super::{Fetch, FetchError, FetchFuture, FetchRequest, Fetched, Source};

/// The registry over HTTP.
#[derive(Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    base: String,
    token: Option<String>,
}

impl fmt::Debug for HttpFetcher {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("base", &self.base)
            .field("token", &self.token.as_ref().map(|_| "[redacted]"))
            .finish()
    }
}

impl HttpFetcher {
    /// A client for the registry at `base` (`http://` or `https://`), sending `token` as a
    /// bearer token when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, FetchError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FetchError::new("must start with http:// or https://"));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("promptops-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|err| FetchError::new(format!("cannot build the HTTP client: {err}")))?;
        Ok(HttpFetcher {
            client,
            base,
            token,
        })
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    async fn get(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        // Ids are dotted `[a-z0-9_-]` segments (checked by the build), safe in a path.
        let url = format!("{}/prompts/{}", self.base, request.id);
        let mut query = vec![("mode", request.mode.to_owned())];
        if let Some(version) = request.version {
            query.push(("version", version.to_string()));
        }
        let mut call = self.client.get(&url).query(&query);
        if let Some(token) = &self.token {
            call = call.header(AUTHORIZATION, format!("Bearer {token}"));
        }
        if let Some(etag) = request.etag {
            call = call.header(IF_NONE_MATCH, etag);
        }
        let response = call
            .send()
            .await
            .map_err(|err| FetchError::new(format!("GET {url}: {}", without_url(&err))))?;
        let status = response.status();
        match status {
            StatusCode::NOT_MODIFIED => Ok(Fetched::NotModified),
            StatusCode::NOT_FOUND => Ok(Fetched::NotFound),
            StatusCode::OK => {
                let etag = response
                    .headers()
                    .get(ETAG)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_owned);
                let body = response
                    .text()
                    .await
                    .map_err(|err| FetchError::new(format!("GET {url}: {}", without_url(&err))))?;
                Ok(Fetched::Document { body, etag })
            }
            _ => {
                let body = response.text().await.unwrap_or_default();
                let message = serde_json::from_str::<serde_json::Value>(&body)
                    .ok()
                    .and_then(|value| value.get("error")?.as_str().map(str::to_owned))
                    .unwrap_or_default();
                Err(FetchError::new(format!("GET {url}: {status} {message}")))
            }
        }
    }
}

/// reqwest's message without the URL it repeats (ours is already in front).
fn without_url(err: &reqwest::Error) -> String {
    let mut text = err.to_string();
    if let Some(url) = err.url() {
        text = text.replace(&format!(" ({url})"), "");
    }
    let mut source = std::error::Error::source(err);
    while let Some(cause) = source {
        text.push_str(": ");
        text.push_str(&cause.to_string());
        source = cause.source();
    }
    text
}

impl Fetch for HttpFetcher {
    fn source(&self) -> Source {
        Source::Http
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(self.get(request))
    }
}
