//! `promptops registry …`: run the registry service, and talk to one.
//!
//! The client commands authenticate with a bearer token (`PROMPTOPS_REGISTRY_TOKEN`, for a
//! registry served with `--tokens`) or with a SigV4 signature made with the AWS credentials
//! (for the deployed registry: a Lambda Function URL with `AuthType = AWS_IAM`); `--auth` /
//! `PROMPTOPS_REGISTRY_AUTH` chooses, and by default a token is used when set, else SigV4 for
//! a Function URL, else nothing.
//!
//! Exit codes: 0 success; 1 the registry refused the request (a 4xx answer: invalid prompt,
//! conflict, not found, forbidden); 2 bad usage or a local problem (unreadable file, bad
//! tokens file, a store that cannot be opened); 3 the registry is unreachable or failed (no
//! answer, or a 5xx).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use promptops_registry::http::{router_with_limits, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Limits, Registry, ServerLimits, Tokens};
use serde_json::{json, Value};

use crate::Outcome;

/// Arguments of `promptops registry`.
#[derive(Debug, clap::Args)]
pub struct RegistryArgs {
    /// The registry's base URL (client commands).
    #[arg(
        long,
        global = true,
        env = "PROMPTOPS_REGISTRY_URL",
        value_name = "URL"
    )]
    registry: Option<String>,
    /// How client commands authenticate: `bearer` (the token in PROMPTOPS_REGISTRY_TOKEN),
    /// `sigv4` (signed with the AWS credentials of the standard chain, for a Lambda Function
    /// URL with IAM auth; region from the URL, else AWS_REGION) or `none`. Default: `bearer`
    /// when PROMPTOPS_REGISTRY_TOKEN is set, else `sigv4` when the URL is a Function URL
    /// (https://<id>.lambda-url.<region>.on.aws), else `none`.
    #[arg(
        long,
        global = true,
        env = "PROMPTOPS_REGISTRY_AUTH",
        value_enum,
        ignore_case = true,
        value_name = "MODE"
    )]
    auth: Option<AuthMode>,
    #[command(subcommand)]
    command: RegistryCommand,
}

/// How the client commands authenticate (`--auth`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum AuthMode {
    /// `Authorization: Bearer` with PROMPTOPS_REGISTRY_TOKEN.
    Bearer,
    /// A SigV4 signature for `lambda` with the AWS credentials.
    Sigv4,
    /// No credentials.
    None,
}

impl AuthMode {
    /// The mode `--auth` gives, or the default for `base` (see [`RegistryArgs`]'s `--auth`).
    pub fn choose(asked: Option<AuthMode>, base: &str, has_token: bool) -> AuthMode {
        match asked {
            Some(mode) => mode,
            None if has_token => AuthMode::Bearer,
            None if is_function_url(base) => AuthMode::Sigv4,
            None => AuthMode::None,
        }
    }
}

/// Whether `base` is a Lambda Function URL (which only SigV4 gets through, with IAM auth).
fn is_function_url(base: &str) -> bool {
    #[cfg(feature = "registry-aws")]
    {
        promptops_aws::sigv4::function_url_region(base).is_some()
    }
    #[cfg(not(feature = "registry-aws"))]
    {
        // Without the feature nothing could sign for it anyway.
        let _ = base;
        false
    }
}

#[derive(Debug, clap::Subcommand)]
enum RegistryCommand {
    /// Run the registry service.
    Serve {
        /// Address to listen on.
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: SocketAddr,
        /// `sqlite:PATH` (the embedded default) or `dynamodb:TABLE?bucket=BUCKET`.
        #[arg(long, default_value = "sqlite:registry.db")]
        store: String,
        /// Tokens file: `tokens: [{name, role, sha256}]` (roles reader, author, releaser).
        #[arg(long, value_name = "FILE", conflicts_with = "no_auth")]
        tokens: Option<PathBuf>,
        /// Serve without authentication (every caller is a releaser): local use only.
        #[arg(long)]
        no_auth: bool,
        /// What hostile or unlucky clients are allowed (promptops-registry's README, "Limits").
        #[command(flatten)]
        limits: ServeLimits,
    },
    /// Push prompt files (YAML) as new draft versions.
    Push {
        /// Prompt files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
    },
    /// Push every prompt of a tree idempotently: unchanged prompts are no-ops, changed text
    /// under an existing version fails with "bump the version".
    Publish {
        /// The prompt tree.
        #[arg(default_value = "prompts")]
        dir: PathBuf,
    },
    /// Resolve a prompt: `id`, `id@version` or `id_vX.Y.Z`.
    Get {
        /// The reference.
        reference: String,
        /// simulation, dev, staging or production.
        #[arg(long, default_value = "production")]
        mode: String,
    },
    /// List a prompt's versions.
    Versions {
        /// The prompt id.
        id: String,
    },
    /// Unified diff between two versions.
    Diff {
        /// The prompt id.
        id: String,
        /// The old version.
        v1: String,
        /// The new version.
        v2: String,
    },
    /// Make a version the stable one.
    Promote {
        /// The prompt id.
        id: String,
        /// The version to promote.
        version: String,
        /// Only if this version is stable now.
        #[arg(long, value_name = "VERSION")]
        expect: Option<String>,
        /// Why (recorded in the history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// Move the stable pointer back (to the previous stable version, or to VERSION).
    Rollback {
        /// The prompt id.
        id: String,
        /// An earlier stable version.
        version: Option<String>,
        /// Why (recorded in the history).
        #[arg(long)]
        reason: Option<String>,
    },
    /// The audit trail of stable-pointer moves.
    History {
        /// The prompt id.
        id: String,
    },
}

/// The limits of `registry serve`, each a flag and an environment variable; the defaults are
/// the library's ([`Limits::default`], [`ServerLimits::default`]).
#[derive(Debug, clap::Args)]
pub struct ServeLimits {
    /// Connections served at once; one more is answered 503 `too_many_connections`.
    #[arg(long, env = "PROMPTOPS_REGISTRY_MAX_CONNECTIONS", value_name = "N",
          default_value_t = ServerLimits::default().max_connections)]
    max_connections: usize,
    /// Refusals (503 `too_many_connections`) answered at once; beyond them a connection is
    /// closed without an answer.
    #[arg(long, env = "PROMPTOPS_REGISTRY_MAX_REFUSED", value_name = "N",
          default_value_t = ServerLimits::default().max_refused)]
    max_refused: usize,
    /// Time a connection has to send a complete request head, from its start or its previous
    /// answer (also the keep-alive idle timeout); then it is closed.
    #[arg(long, env = "PROMPTOPS_REGISTRY_HEADER_TIMEOUT", value_name = "DURATION",
          default_value_t = ServerLimits::default().header_timeout.into())]
    header_timeout: humantime::Duration,
    /// Time from a request's head to its answer: 408 `body_timeout` while the body is still
    /// arriving, 503 `timeout` after. Also the shutdown grace.
    #[arg(long, env = "PROMPTOPS_REGISTRY_REQUEST_TIMEOUT", value_name = "DURATION",
          default_value_t = Limits::default().request_timeout.into())]
    request_timeout: humantime::Duration,
    /// Largest request body in bytes (413 above it, from Content-Length before reading).
    #[arg(long, env = "PROMPTOPS_REGISTRY_MAX_BODY_BYTES", value_name = "BYTES",
          default_value_t = Limits::default().max_body_bytes)]
    max_body_bytes: usize,
    /// Longest query string in bytes (400 above it).
    #[arg(long, env = "PROMPTOPS_REGISTRY_MAX_QUERY_BYTES", value_name = "BYTES",
          default_value_t = Limits::default().max_query_bytes)]
    max_query_bytes: usize,
    /// Most query parameters (400 above it).
    #[arg(long, env = "PROMPTOPS_REGISTRY_MAX_QUERY_PARAMS", value_name = "N",
          default_value_t = Limits::default().max_query_params)]
    max_query_params: usize,
    /// Push validations and diffs running at once, on blocking threads (default: the
    /// number of CPUs).
    #[arg(long, env = "PROMPTOPS_REGISTRY_CPU_SLOTS", value_name = "N",
          default_value_t = Limits::default().cpu_slots)]
    cpu_slots: usize,
    /// How long a push or diff waits for a free CPU slot (then 503 `busy`).
    #[arg(long, env = "PROMPTOPS_REGISTRY_CPU_QUEUE_TIMEOUT", value_name = "DURATION",
          default_value_t = Limits::default().cpu_queue_timeout.into())]
    cpu_queue_timeout: humantime::Duration,
    /// How long one push validation or diff may compute (then 422 `too_complex`).
    #[arg(long, env = "PROMPTOPS_REGISTRY_CPU_DEADLINE", value_name = "DURATION",
          default_value_t = Limits::default().cpu_deadline.into())]
    cpu_deadline: humantime::Duration,
}

impl ServeLimits {
    /// The router's and the server's limits, checked.
    pub fn split(&self) -> Result<(Limits, ServerLimits), String> {
        let limits = Limits {
            max_body_bytes: self.max_body_bytes,
            max_query_bytes: self.max_query_bytes,
            max_query_params: self.max_query_params,
            request_timeout: self.request_timeout.into(),
            cpu_slots: self.cpu_slots,
            cpu_queue_timeout: self.cpu_queue_timeout.into(),
            cpu_deadline: self.cpu_deadline.into(),
        };
        let server = ServerLimits {
            max_connections: self.max_connections,
            max_refused: self.max_refused,
            header_timeout: self.header_timeout.into(),
            shutdown_grace: self.request_timeout.into(),
        };
        limits.check()?;
        server.check()?;
        Ok((limits, server))
    }
}

/// Runs `promptops registry …`.
pub fn run(args: &RegistryArgs) -> Outcome {
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(err) => return Outcome::fail(format!("error: cannot start: {err}\n"), 2),
    };
    match &args.command {
        RegistryCommand::Serve {
            listen,
            store,
            tokens,
            no_auth,
            limits,
        } => {
            let limits = match limits.split() {
                Ok(limits) => limits,
                Err(message) => return Outcome::fail(format!("error: {message}\n"), 2),
            };
            runtime.block_on(serve(*listen, store, tokens.as_deref(), *no_auth, limits))
        }
        command => {
            let Some(base) = args.registry.as_deref() else {
                return Outcome::fail(
                    "error: no registry: pass --registry URL or set PROMPTOPS_REGISTRY_URL\n"
                        .to_owned(),
                    2,
                );
            };
            let token = std::env::var("PROMPTOPS_REGISTRY_TOKEN")
                .ok()
                .filter(|token| !token.trim().is_empty());
            let base = base.trim().trim_end_matches('/');
            let mode = AuthMode::choose(args.auth, base, token.is_some());
            let auth = match runtime.block_on(ClientAuth::new(mode, base, token)) {
                Ok(auth) => auth,
                Err(message) => return Outcome::fail(format!("error: {message}\n"), 2),
            };
            let client = Client {
                http: reqwest::Client::new(),
                base: base.to_owned(),
                auth,
            };
            runtime.block_on(client_command(&client, command))
        }
    }
}

/// Where the registry keeps its data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreSpec {
    /// `sqlite:PATH`.
    Sqlite(PathBuf),
    /// `dynamodb:TABLE?bucket=BUCKET`.
    Dynamo {
        /// The DynamoDB table.
        table: String,
        /// The S3 bucket.
        bucket: String,
    },
}

impl StoreSpec {
    /// Parses `--store`.
    pub fn parse(text: &str) -> Result<StoreSpec, String> {
        if let Some(path) = text.strip_prefix("sqlite:") {
            if path.is_empty() {
                return Err("`sqlite:` needs a path, e.g. sqlite:registry.db".to_owned());
            }
            return Ok(StoreSpec::Sqlite(PathBuf::from(path)));
        }
        if let Some(rest) = text.strip_prefix("dynamodb:") {
            let (table, query) = rest.split_once('?').ok_or(
                "`dynamodb:` needs `?bucket=BUCKET`, e.g. dynamodb:prompts?bucket=prompt-content",
            )?;
            let bucket = query
                .strip_prefix("bucket=")
                .filter(|bucket| !bucket.is_empty() && !bucket.contains('&'))
                .ok_or("`dynamodb:TABLE?bucket=BUCKET` takes exactly one parameter, `bucket`")?;
            if table.is_empty() {
                return Err("`dynamodb:` needs a table name".to_owned());
            }
            return Ok(StoreSpec::Dynamo {
                table: table.to_owned(),
                bucket: bucket.to_owned(),
            });
        }
        Err(format!(
            "unknown store `{text}`: expected sqlite:PATH or dynamodb:TABLE?bucket=BUCKET"
        ))
    }
}

async fn serve(
    listen: SocketAddr,
    store: &str,
    tokens: Option<&Path>,
    no_auth: bool,
    limits: (Limits, ServerLimits),
) -> Outcome {
    let auth = match (tokens, no_auth) {
        (Some(path), _) => match Tokens::load(path) {
            Ok(tokens) => Auth::Tokens(tokens),
            Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
        },
        (None, true) => Auth::Disabled,
        (None, false) => {
            return Outcome::fail(
                "error: refusing to serve without authentication: pass --tokens FILE, or \
                 --no-auth for a local registry\n"
                    .to_owned(),
                2,
            )
        }
    };
    let spec = match StoreSpec::parse(store) {
        Ok(spec) => spec,
        Err(message) => return Outcome::fail(format!("error: {message}\n"), 2),
    };
    let listener = match tokio::net::TcpListener::bind(listen).await {
        Ok(listener) => listener,
        Err(err) => return Outcome::fail(format!("error: cannot listen on {listen}: {err}\n"), 2),
    };
    let address = listener.local_addr().map_or(listen, |a| a);
    match spec {
        StoreSpec::Sqlite(path) => {
            let store = match SqliteStore::open(&path) {
                Ok(store) => store,
                Err(err) => {
                    return Outcome::fail(
                        format!("error: cannot open {}: {}\n", path.display(), err.report()),
                        2,
                    )
                }
            };
            eprintln!(
                "promptops registry: listening on http://{address} (store sqlite:{})",
                path.display()
            );
            run_server(listener, store, auth, limits).await
        }
        #[cfg(feature = "registry-aws")]
        StoreSpec::Dynamo { table, bucket } => {
            // Region, credentials and endpoint (`AWS_ENDPOINT_URL`) come from the standard AWS
            // configuration.
            let store = promptops_registry::store::dynamo::DynamoStore::from_env(
                table.clone(),
                bucket.clone(),
            )
            .await;
            eprintln!(
                "promptops registry: listening on http://{address} (store dynamodb:{table}?bucket={bucket})"
            );
            run_server(listener, store, auth, limits).await
        }
        #[cfg(not(feature = "registry-aws"))]
        StoreSpec::Dynamo { .. } => Outcome::fail(
            "error: this promptops was built without the `registry-aws` feature; \
             the dynamodb: store needs it\n"
                .to_owned(),
            2,
        ),
    }
}

async fn run_server<S: promptops_registry::Store + Clone>(
    listener: tokio::net::TcpListener,
    store: S,
    auth: Auth,
    (limits, server_limits): (Limits, ServerLimits),
) -> Outcome {
    if let Some(warning) = server_limits.open_files_warning() {
        eprintln!("promptops registry: warning: {warning}");
    }
    let state = Arc::new(AppState {
        registry: Registry::new(store),
        auth,
    });
    let shutdown = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    promptops_registry::server::serve(
        listener,
        router_with_limits(state, limits),
        &server_limits,
        shutdown,
    )
    .await;
    Outcome::ok(String::new())
}

/// A registry client: base URL and credentials.
struct Client {
    http: reqwest::Client,
    base: String,
    auth: ClientAuth,
}

/// The credentials of the client commands.
enum ClientAuth {
    None,
    Bearer(String),
    #[cfg(feature = "registry-aws")]
    SigV4(promptops_aws::sigv4::Signer),
}

impl ClientAuth {
    /// The credentials for `mode`: the token, or a signer over the standard AWS chain for the
    /// Function URL's region (else the configured one).
    async fn new(mode: AuthMode, base: &str, token: Option<String>) -> Result<Self, String> {
        match mode {
            AuthMode::None => Ok(ClientAuth::None),
            AuthMode::Bearer => token.map(ClientAuth::Bearer).ok_or_else(|| {
                "--auth bearer needs a token in PROMPTOPS_REGISTRY_TOKEN".to_owned()
            }),
            #[cfg(feature = "registry-aws")]
            AuthMode::Sigv4 => {
                let region = promptops_aws::sigv4::function_url_region(base);
                promptops_aws::sigv4::Signer::from_env(region.as_deref())
                    .await
                    .map(ClientAuth::SigV4)
                    .map_err(|err| format!("cannot sign requests to {base}: {err}"))
            }
            #[cfg(not(feature = "registry-aws"))]
            AuthMode::Sigv4 => Err(format!(
                "cannot sign requests to {base}: this promptops was built without the \
                 `registry-aws` feature, which SigV4 signing needs"
            )),
        }
    }
}

/// An answer from the registry, or why there is none.
enum Answer {
    /// A status and its JSON body.
    Status(u16, Value),
    /// No answer (connection refused, timeout, a body that is not JSON).
    Unreachable(String),
    /// The request could not be made (a bad URL, no credentials to sign with).
    Local(String),
}

impl Client {
    /// Sends `method` to `path` with `query` and an optional `(content type, body)`, with the
    /// credentials.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<(&str, Vec<u8>)>,
    ) -> Answer {
        let mut url = match reqwest::Url::parse(&format!("{}{path}", self.base)) {
            Ok(url) => url,
            Err(err) => return Answer::Local(format!("{}: not a URL: {err}", self.base)),
        };
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        // The headers a signature covers, besides the host.
        let mut headers: Vec<(&str, &str)> = Vec::new();
        if let Some((content_type, _)) = &body {
            headers.push(("content-type", content_type));
        }
        let mut request = self.http.request(method.clone(), url.clone());
        for (name, value) in &headers {
            request = request.header(*name, *value);
        }
        match &self.auth {
            ClientAuth::None => {}
            ClientAuth::Bearer(token) => request = request.bearer_auth(token),
            #[cfg(feature = "registry-aws")]
            ClientAuth::SigV4(signer) => {
                let bytes = body.as_ref().map_or(&[][..], |(_, bytes)| bytes.as_slice());
                // The exact URL sent is the one signed.
                match signer
                    .sign(method.as_str(), url.as_str(), &headers, bytes)
                    .await
                {
                    Ok(signed) => {
                        for (name, value) in signed {
                            request = request.header(name, value);
                        }
                    }
                    Err(err) => return Answer::Local(format!("cannot sign the request: {err}")),
                }
            }
        }
        if let Some((_, bytes)) = body {
            request = request.body(bytes);
        }
        let response = match request.send().await {
            Ok(response) => response,
            Err(err) => return Answer::Unreachable(format!("{}: {err}", self.base)),
        };
        let status = response.status().as_u16();
        let text = response.text().await.unwrap_or_default();
        if text.is_empty() {
            return Answer::Status(status, Value::Null);
        }
        match serde_json::from_str(&text) {
            Ok(body) => Answer::Status(status, body),
            Err(_) => Answer::Unreachable(format!(
                "{}: answered {status} with a body that is not JSON",
                self.base
            )),
        }
    }

    async fn get(&self, path: &str, query: &[(&str, &str)]) -> Answer {
        self.send(reqwest::Method::GET, path, query, None).await
    }

    async fn post(&self, path: &str, content_type: &str, body: Vec<u8>) -> Answer {
        self.send(reqwest::Method::POST, path, &[], Some((content_type, body)))
            .await
    }
}

/// Percent-encodes one path segment (ids and references are checked by the server).
fn segment(text: &str) -> String {
    text.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'@' => {
                (b as char).to_string()
            }
            other => format!("%{other:02X}"),
        })
        .collect()
}

/// Turns an answer into an outcome: `show` renders a 2xx body.
fn outcome(answer: Answer, show: impl FnOnce(&Value) -> String) -> Outcome {
    match answer {
        Answer::Status(status, body) if (200..300).contains(&status) => Outcome::ok(show(&body)),
        Answer::Status(status, body) => {
            // The registry answers `{"error", "code"}`; a Function URL refusing the caller
            // (bad signature, no permission) answers `{"Message"}`.
            let aws_message = body["Message"].as_str().or(body["message"].as_str());
            let reason = reqwest::StatusCode::from_u16(status)
                .ok()
                .and_then(|status| status.canonical_reason())
                .map_or_else(|| "error".to_owned(), str::to_ascii_lowercase);
            let mut message = format!(
                "error: {} ({status} {})\n",
                body["error"]
                    .as_str()
                    .or(aws_message)
                    .unwrap_or("request refused"),
                body["code"].as_str().unwrap_or(&reason)
            );
            if status == 403 && body["error"].is_null() && aws_message.is_some() {
                message.push_str(
                    "help: AWS refused the request before the registry saw it: check the AWS \
                     credentials and region (--auth sigv4), and that the caller may \
                     lambda:InvokeFunctionUrl on the registry\n",
                );
            }
            for diagnostic in body["diagnostics"].as_array().into_iter().flatten() {
                message.push_str(&format!(
                    "  {}:{} {} {}\n",
                    diagnostic["line"],
                    diagnostic["column"],
                    diagnostic["code"].as_str().unwrap_or_default(),
                    diagnostic["message"].as_str().unwrap_or_default()
                ));
            }
            Outcome::fail(message, if status >= 500 { 3 } else { 1 })
        }
        Answer::Unreachable(why) => {
            Outcome::fail(format!("error: registry unreachable: {why}\n"), 3)
        }
        Answer::Local(why) => Outcome::fail(format!("error: {why}\n"), 2),
    }
}

fn pretty(body: &Value) -> String {
    format!(
        "{}\n",
        serde_json::to_string_pretty(body).unwrap_or_default()
    )
}

async fn client_command(client: &Client, command: &RegistryCommand) -> Outcome {
    match command {
        RegistryCommand::Serve { .. } => Outcome::fail("error: unreachable\n".to_owned(), 2),
        RegistryCommand::Push { files } => push_files(client, files).await,
        RegistryCommand::Publish { dir } => publish(client, dir).await,
        RegistryCommand::Get { reference, mode } => outcome(
            client
                .get(
                    &format!("/prompts/{}", segment(reference)),
                    &[("mode", mode)],
                )
                .await,
            pretty,
        ),
        RegistryCommand::Versions { id } => outcome(
            client
                .get(&format!("/prompts/{}/versions", segment(id)), &[])
                .await,
            |body| {
                let mut text = String::new();
                for version in body["versions"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "{:<12} {:<11} {}  {}\n",
                        version["version"].as_str().unwrap_or_default(),
                        version["status"].as_str().unwrap_or_default(),
                        version["created_at"].as_str().unwrap_or_default(),
                        version["content_hash"].as_str().unwrap_or_default()
                    ));
                }
                text
            },
        ),
        RegistryCommand::Diff { id, v1, v2 } => outcome(
            client
                .get(
                    &format!("/prompts/{}/diff", segment(id)),
                    &[("v1", v1), ("v2", v2)],
                )
                .await,
            |body| body["diff"].as_str().unwrap_or_default().to_owned(),
        ),
        RegistryCommand::Promote {
            id,
            version,
            expect,
            reason,
        } => {
            let mut body = json!({ "version": version });
            if let Some(expect) = expect {
                body["expected_stable"] = json!(expect);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            outcome(
                client
                    .post(
                        &format!("/prompts/{}/promote", segment(id)),
                        "application/json",
                        body.to_string().into_bytes(),
                    )
                    .await,
                moved,
            )
        }
        RegistryCommand::Rollback {
            id,
            version,
            reason,
        } => {
            let mut body = json!({});
            if let Some(version) = version {
                body["version"] = json!(version);
            }
            if let Some(reason) = reason {
                body["reason"] = json!(reason);
            }
            outcome(
                client
                    .post(
                        &format!("/prompts/{}/rollback", segment(id)),
                        "application/json",
                        body.to_string().into_bytes(),
                    )
                    .await,
                moved,
            )
        }
        RegistryCommand::History { id } => outcome(
            client
                .get(&format!("/prompts/{}/history", segment(id)), &[])
                .await,
            |body| {
                let mut text = String::new();
                for event in body["events"].as_array().into_iter().flatten() {
                    text.push_str(&format!(
                        "{} {:<8} {} -> {}  by {}{}\n",
                        event["at"].as_str().unwrap_or_default(),
                        event["action"].as_str().unwrap_or_default(),
                        event["from"].as_str().unwrap_or("-"),
                        event["to"].as_str().unwrap_or_default(),
                        event["actor"].as_str().unwrap_or_default(),
                        event["reason"]
                            .as_str()
                            .map(|r| format!(": {r}"))
                            .unwrap_or_default()
                    ));
                }
                text
            },
        ),
    }
}

fn moved(body: &Value) -> String {
    format!(
        "{} stable: {} (was {})\n",
        body["prompt_id"].as_str().unwrap_or_default(),
        body["version"].as_str().unwrap_or_default(),
        body["previous_stable"].as_str().unwrap_or("none")
    )
}

async fn push_files(client: &Client, files: &[PathBuf]) -> Outcome {
    let mut stdout = String::new();
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(err) => return Outcome::fail(format!("error: {}: {err}\n", file.display()), 2),
        };
        let answer = client.post("/prompts", "application/yaml", bytes).await;
        let result = outcome(answer, |body| {
            format!(
                "{} {}@{} ({})\n",
                file.display(),
                body["prompt_id"].as_str().unwrap_or_default(),
                body["version"].as_str().unwrap_or_default(),
                body["status"].as_str().unwrap_or_default()
            )
        });
        if result.code != 0 {
            return Outcome {
                stdout,
                stderr: format!("{}: {}", file.display(), result.stderr),
                code: result.code,
            };
        }
        stdout.push_str(&result.stdout);
    }
    Outcome::ok(stdout)
}

async fn publish(client: &Client, dir: &Path) -> Outcome {
    let mut config = promptops_build::Config::new();
    config.prompts_dir(dir).cargo_directives(false);
    let tree = match config.discover() {
        Ok(tree) => tree,
        Err(err) => return Outcome::fail(format!("error: {err}\n"), 2),
    };
    let validated = promptops_build::validate(&tree);
    if !validated.is_ok() {
        return Outcome::fail(promptops_build::render_report(&validated.diagnostics), 2);
    }
    let (mut created, mut unchanged) = (0, 0);
    let mut stdout = String::new();
    for file in &tree.files {
        let answer = client
            .post("/prompts", "application/yaml", file.bytes.clone())
            .await;
        match answer {
            Answer::Status(201, body) => {
                created += 1;
                stdout.push_str(&format!(
                    "pushed    {}@{}\n",
                    body["prompt_id"].as_str().unwrap_or_default(),
                    body["version"].as_str().unwrap_or_default()
                ));
            }
            Answer::Status(200, _) => unchanged += 1,
            Answer::Status(409, body) => {
                return Outcome {
                    stdout,
                    stderr: format!(
                        "error: {}: {}\nhelp: the text changed under a released version: bump \
                         `version` in the prompt file\n",
                        file.path,
                        body["error"].as_str().unwrap_or("conflict")
                    ),
                    code: 1,
                }
            }
            other => {
                let failed = outcome(other, |_| String::new());
                return Outcome {
                    stdout,
                    stderr: format!("{}: {}", file.path, failed.stderr),
                    code: failed.code,
                };
            }
        }
    }
    stdout.push_str(&format!("{created} pushed, {unchanged} unchanged\n"));
    Outcome::ok(stdout)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_specs_parse() {
        assert_eq!(
            StoreSpec::parse("sqlite:/tmp/r.db"),
            Ok(StoreSpec::Sqlite("/tmp/r.db".into()))
        );
        assert_eq!(
            StoreSpec::parse("dynamodb:prompts?bucket=content"),
            Ok(StoreSpec::Dynamo {
                table: "prompts".into(),
                bucket: "content".into()
            })
        );
        for bad in [
            "sqlite:",
            "dynamodb:prompts",
            "dynamodb:?bucket=x",
            "dynamodb:t?bucket=",
            "dynamodb:t?bucket=a&x=y",
            "postgres:x",
        ] {
            assert!(StoreSpec::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn the_auth_mode_defaults_to_the_token_then_sigv4_for_a_function_url() {
        let function_url = "https://abc123.lambda-url.eu-west-1.on.aws";
        let local = "http://127.0.0.1:8080";
        assert_eq!(AuthMode::choose(None, local, true), AuthMode::Bearer);
        assert_eq!(AuthMode::choose(None, function_url, true), AuthMode::Bearer);
        assert_eq!(AuthMode::choose(None, local, false), AuthMode::None);
        let expected = if cfg!(feature = "registry-aws") {
            AuthMode::Sigv4
        } else {
            AuthMode::None
        };
        assert_eq!(AuthMode::choose(None, function_url, false), expected);
        for mode in [AuthMode::Bearer, AuthMode::Sigv4, AuthMode::None] {
            assert_eq!(AuthMode::choose(Some(mode), function_url, true), mode);
        }
    }

    #[test]
    fn path_segments_are_escaped() {
        assert_eq!(segment("my_agent@1.2.0"), "my_agent@1.2.0");
        assert_eq!(segment("../x y"), "..%2Fx%20y");
    }
}
