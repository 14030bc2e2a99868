//! The HTTP tier: `GET {PROMPT_REGISTRY_URL}/prompts/{id}?mode=…[&version=…]` with
//! `If-None-Match`, through the registry's one client
//! ([`promptops_registry_api::client::Client`]): its auth (a bearer token, or a SigV4
//! signature with feature `registry-aws`), its timeouts and its typed errors.

use promptops_registry_api::client::{Client, Credentials, Resolution};

use super::{Fetch, FetchError, FetchFuture, FetchRequest, Fetched, Source};

/// The registry over HTTP.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    client: Client,
}

impl HttpFetcher {
    /// A client for the registry at `base` (`http://` or `https://`), sending `token` as a
    /// bearer token when given.
    pub fn new(base: &str, token: Option<String>) -> Result<Self, FetchError> {
        Self::with_credentials(base, token.map_or(Credentials::None, Credentials::Bearer))
    }

    /// A client for the registry at `base` (`http://` or `https://`) authenticating with
    /// `credentials`.
    pub fn with_credentials(base: &str, credentials: Credentials) -> Result<Self, FetchError> {
        let client = Client::builder(base)
            .credentials(credentials)
            .user_agent(concat!("promptops-runtime/", env!("CARGO_PKG_VERSION")))
            .build()?;
        Ok(HttpFetcher { client })
    }

    /// The registry's base URL.
    pub fn base(&self) -> &str {
        self.client.base()
    }

    /// How requests authenticate.
    pub fn credentials(&self) -> &Credentials {
        self.client.credentials()
    }

    async fn get(&self, request: FetchRequest<'_>) -> Result<Fetched, FetchError> {
        let answer = self
            .client
            .resolve(
                request.id,
                request.mode,
                request.version.as_ref(),
                request.etag,
            )
            .await?;
        Ok(match answer {
            Resolution::Found { body, etag } => Fetched::Document { body, etag },
            Resolution::NotModified => Fetched::NotModified,
            Resolution::NotFound { .. } => Fetched::NotFound,
        })
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
