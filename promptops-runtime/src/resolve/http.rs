//! The HTTP tier: `GET {PROMPT_REGISTRY_URL}/prompts/{id}?mode=…[&version=…]` against the
//! registry's HTTP contract (promptops-registry's README), with `If-None-Match`, and a bearer
//! token or a SigV4 signature ([`HttpAuth`]).
//!
//! TLS is rustls with the *ring* provider and the system's root certificates, like the AWS
//! clients in this crate.

use std::fmt;
#[cfg(feature = "registry-aws")]
use std::sync::Arc;

use reqwest::header::{AUTHORIZATION, ETAG, IF_NONE_MATCH};
use reqwest::StatusCode;

use super::{Fetch, FetchError, FetchFuture, FetchRequest, Fetched, Source};

/// How the HTTP tier proves who it is to the registry.
#[derive(Clone, Default)]
#[non_exhaustive]
pub enum HttpAuth {
    /// Nothing (a local registry, or a Function URL with `AuthType = NONE`).
    #[default]
    None,
    /// `Authorization: Bearer TOKEN` (the registry's tokens file).
    Bearer(String),
    /// A SigV4 signature for `lambda` (a Lambda Function URL with `AuthType = AWS_IAM`).
    #[cfg(feature = "registry-aws")]
    SigV4(SigV4Auth),
}

impl fmt::Debug for HttpAuth {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HttpAuth::None => f.write_str("None"),
            HttpAuth::Bearer(_) => f.write_str("Bearer([redacted])"),
            #[cfg(feature = "registry-aws")]
            HttpAuth::SigV4(auth) => f.debug_tuple("SigV4").field(auth).finish(),
        }
    }
}

/// SigV4 signing for the HTTP tier, with a signer given up front or one made from the standard
/// AWS configuration on the first request (so configuring a resolver needs no `async` and no
/// AWS round trip). Cheap to clone: clones share the signer and its cached credentials.
#[cfg(feature = "registry-aws")]
#[derive(Clone)]
pub struct SigV4Auth {
    region: String,
    signer: Arc<tokio::sync::OnceCell<promptops_aws::sigv4::Signer>>,
}

#[cfg(feature = "registry-aws")]
impl fmt::Debug for SigV4Auth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SigV4Auth")
            .field("region", &self.region)
            .field("signer", &self.signer.get())
            .finish()
    }
}

#[cfg(feature = "registry-aws")]
impl SigV4Auth {
    /// Signs with `signer` (e.g. one over static credentials, in tests).
    pub fn new(signer: promptops_aws::sigv4::Signer) -> Self {
        SigV4Auth {
            region: signer.region().to_owned(),
            signer: Arc::new(tokio::sync::OnceCell::new_with(Some(signer))),
        }
    }

    /// Signs for `region` with credentials from the standard AWS chain
    /// ([`promptops_aws::load`]), loaded on the first request. A failure to load them fails
    /// that request (and is tried again on the next one).
    pub fn from_env(region: impl Into<String>) -> Self {
        SigV4Auth {
            region: region.into(),
            signer: Arc::new(tokio::sync::OnceCell::new()),
        }
    }

    /// The region requests are signed for.
    pub fn region(&self) -> &str {
        &self.region
    }

    /// The headers signing a `GET` of `url` with `headers`.
    async fn sign(
        &self,
        url: &str,
        headers: &[(&str, &str)],
    ) -> Result<Vec<(String, String)>, promptops_aws::sigv4::SignError> {
        let signer = self
            .signer
            .get_or_try_init(|| promptops_aws::sigv4::Signer::from_env(Some(&self.region)))
            .await?;
        signer.sign("GET", url, headers, b"").await
    }
}

/// The registry over HTTP.
#[derive(Clone)]
pub struct HttpFetcher {
    client: reqwest::Client,
    base: String,
    auth: HttpAuth,
}

impl fmt::Debug for HttpFetcher {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("HttpFetcher")
            .field("base", &self.base)
            .field("auth", &self.auth)
            .finish()
    }
}

impl HttpFetcher {
    /// A client for the registry at `base` (`http://` or `https://`), sending `token` as a
    /// bearer token when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, FetchError> {
        Self::with_auth(base, token.map_or(HttpAuth::None, HttpAuth::Bearer))
    }

    /// A client for the registry at `base` (`http://` or `https://`) authenticating with
    /// `auth`.
    pub fn with_auth(base: &str, auth: HttpAuth) -> Result<Self, FetchError> {
        let base = base.trim().trim_end_matches('/').to_owned();
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(FetchError::new("must start with http:// or https://"));
        }
        let client = reqwest::Client::builder()
            .user_agent(concat!("promptops-runtime/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|source| FetchError::Http {
                what: "cannot build the HTTP client".to_owned(),
                source,
            })?;
        Ok(HttpFetcher { client, base, auth })
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// How requests authenticate.
    pub fn auth(&self) -> &HttpAuth {
        &self.auth
    }

    async fn get(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        // Ids are dotted `[a-z0-9_-]` segments (checked by the build), safe in a path.
        let url = format!("{}/prompts/{}", self.base, request.id);
        let mut full = reqwest::Url::parse(&url)
            .map_err(|err| FetchError::decode(format!("GET {url}: not a URL"), err))?;
        full.query_pairs_mut().append_pair("mode", request.mode);
        if let Some(version) = request.version {
            full.query_pairs_mut()
                .append_pair("version", &version.to_string());
        }
        // The headers a signature covers, besides the host.
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some(etag) = request.etag {
            headers.push((IF_NONE_MATCH.as_str(), etag));
        }
        let mut call = self.client.get(full.clone());
        for (name, value) in &headers {
            call = call.header(*name, *value);
        }
        match &self.auth {
            HttpAuth::None => {}
            HttpAuth::Bearer(token) => {
                call = call.header(AUTHORIZATION, format!("Bearer {token}"));
            }
            #[cfg(feature = "registry-aws")]
            HttpAuth::SigV4(sigv4) => {
                // The exact URL sent is the one signed.
                let signed = sigv4
                    .sign(full.as_str(), &headers)
                    .await
                    .map_err(|source| FetchError::Sign {
                        what: format!("GET {url}"),
                        source,
                    })?;
                for (name, value) in signed {
                    call = call.header(name, value);
                }
            }
        }
        let response = call.send().await.map_err(|err| http_error(&url, err))?;
        let status = response.status();
        let etag = response
            .headers()
            .get(ETAG)
            .and_then(|value| value.to_str().ok())
            .map(str::to_owned);
        let body = match response.text().await {
            Ok(body) => body,
            // An error status's body only adds detail; a document's body is the answer.
            Err(_) if status != StatusCode::OK => String::new(),
            Err(err) => return Err(http_error(&url, err)),
        };
        interpret_answer(&format!("GET {url}"), status.as_u16(), etag, body)
    }
}

/// A registry answer (`status`, its `ETag` and body, from either tier) as a [`Fetched`]:
/// `200` a document, `304` not modified, `404` no version; anything else is an error naming
/// the status and the message of a JSON error body: the registry's `{"error": …}`, or the
/// `{"Message": …}` of a Function URL refusing a signature. `what` names the request.
pub(crate) fn interpret_answer(
    what: &str,
    status: u16,
    etag: Option<String>,
    body: String,
) -> Result<Fetched, FetchError> {
    match status {
        200 => Ok(Fetched::Document { body, etag }),
        304 => Ok(Fetched::NotModified),
        404 => Ok(Fetched::NotFound),
        _ => {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|value| {
                    ["error", "Message", "message"]
                        .iter()
                        .find_map(|key| value.get(key)?.as_str().map(str::to_owned))
                })
                .unwrap_or_default();
            let status = StatusCode::from_u16(status)
                .map(|status| status.to_string())
                .unwrap_or_else(|_| status.to_string());
            Err(FetchError::Status {
                what: what.to_owned(),
                status,
                message,
            })
        }
    }
}

/// A failed `GET url`, keeping reqwest's error without the URL it would repeat.
fn http_error(url: &str, source: reqwest::Error) -> FetchError {
    FetchError::Http {
        what: format!("GET {url}"),
        source: source.without_url(),
    }
}

impl Fetch for HttpFetcher {
    fn source(&self) -> Source {
        Source::Http
    }

    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a> {
        Box::pin(self.get(request))
    }
}

#[cfg(test)]
mod answer_tests {
    use super::*;

    #[test]
    fn statuses_map_to_answers_and_errors_carry_the_message() {
        assert_eq!(
            interpret_answer("GET x", 200, Some("\"e\"".into()), "{}".into()).unwrap(),
            Fetched::Document {
                body: "{}".into(),
                etag: Some("\"e\"".into())
            }
        );
        assert_eq!(
            interpret_answer("GET x", 304, None, String::new()).unwrap(),
            Fetched::NotModified
        );
        assert_eq!(
            interpret_answer("GET x", 404, None, "{}".into()).unwrap(),
            Fetched::NotFound
        );
        let refused = interpret_answer("GET x", 403, None, r#"{"Message":"bad sig"}"#.into());
        assert_eq!(
            refused.unwrap_err().to_string(),
            "GET x: 403 Forbidden bad sig"
        );
        let failed = interpret_answer("GET x", 503, None, "not json".into());
        assert_eq!(
            failed.unwrap_err().to_string(),
            "GET x: 503 Service Unavailable"
        );
    }
}
