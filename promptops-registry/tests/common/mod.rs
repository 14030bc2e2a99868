//! A registry server on a loopback port and a small HTTP client for the behaviour suite.

use std::net::SocketAddr;
use std::sync::Arc;

use promptops_registry::auth::token_hash;
use promptops_registry::http::{router, AppState};
use promptops_registry::{Auth, Registry, Store, Tokens};
use serde_json::Value;

/// The tokens every test server accepts, by role.
pub const READER: &str = "reader-token";
pub const AUTHOR: &str = "author-token";
pub const RELEASER: &str = "releaser-token";

pub fn tokens() -> Tokens {
    let text = format!(
        "tokens:\n  - {{name: reader, role: reader, sha256: {}}}\n  - {{name: author, role: author, sha256: {}}}\n  - {{name: release-bot, role: releaser, sha256: {}}}\n",
        token_hash(READER),
        token_hash(AUTHOR),
        token_hash(RELEASER)
    );
    Tokens::parse(&text).expect("tokens parse")
}

/// A running server.
pub struct Server {
    pub addr: SocketAddr,
    pub client: reqwest::Client,
    /// What must live as long as the server (its database directory, its moto).
    _keep: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl Server {
    /// The server, keeping `value` (its database directory, its moto) alive as long as it is.
    pub fn keeping(mut self, value: impl std::any::Any + Send + Sync) -> Server {
        self._keep = Some(Box::new(value));
        self
    }

    /// A server over `store` with `auth`.
    pub async fn start<S: Store + Clone>(store: S, auth: Auth) -> Server {
        let state = Arc::new(AppState {
            registry: Registry::new(store),
            auth,
        });
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        // The hardened server `promptops registry serve` runs, with its default limits.
        tokio::spawn(async move {
            promptops_registry::server::serve(
                listener,
                router(state),
                &promptops_registry::ServerLimits::default(),
                std::future::pending(),
            )
            .await;
        });
        Server {
            addr,
            client: reqwest::Client::new(),
            _keep: None,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// A request with `token` (if any).
    pub async fn call(
        &self,
        method: reqwest::Method,
        path: &str,
        token: Option<&str>,
        body: Option<(&str, Vec<u8>)>,
    ) -> Reply {
        let mut request = self.client.request(method, self.url(path));
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some((content_type, bytes)) = body {
            request = request
                .header(reqwest::header::CONTENT_TYPE, content_type)
                .body(bytes);
        }
        let response = request.send().await.expect("request reaches the server");
        Reply::read(response).await
    }

    pub async fn get(&self, path: &str, token: &str) -> Reply {
        self.call(reqwest::Method::GET, path, Some(token), None)
            .await
    }

    pub async fn post_json(&self, path: &str, token: &str, body: Value) -> Reply {
        self.call(
            reqwest::Method::POST,
            path,
            Some(token),
            Some(("application/json", body.to_string().into_bytes())),
        )
        .await
    }

    /// Pushes `{prompt_id, version, content}` as the author.
    pub async fn push(&self, id: &str, version: &str, content: &str) -> Reply {
        self.post_json(
            "/prompts",
            AUTHOR,
            serde_json::json!({"prompt_id": id, "version": version, "content": content}),
        )
        .await
    }

    /// Promotes as the releaser.
    pub async fn promote(&self, id: &str, version: &str) -> Reply {
        self.post_json(
            &format!("/prompts/{id}/promote"),
            RELEASER,
            serde_json::json!({"version": version}),
        )
        .await
    }
}

/// A response: status, headers, body as JSON (or `Null` when empty).
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
    pub text: String,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let text = response.text().await.unwrap_or_default();
        let body = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("status {status}: body is not JSON: {text}"))
        };
        Reply {
            status,
            headers,
            body,
            text,
        }
    }

    /// Asserts the status, showing the body when it differs.
    pub fn expect(self, status: u16) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.text);
        self
    }

    /// Asserts an error answer: the status, a JSON `error` message and this `code`.
    pub fn expect_error(self, status: u16, code: &str) -> Reply {
        assert_eq!(self.status, status, "body: {}", self.text);
        assert_eq!(self.body["code"], code, "body: {}", self.text);
        assert!(self.body["error"].is_string(), "body: {}", self.text);
        self
    }
}
