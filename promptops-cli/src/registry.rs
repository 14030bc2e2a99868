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

use promptops_registry::api::client::{Client, ClientError, Credentials, ErrorKind, Resolution};
use promptops_registry::api::{AuthMode, MoveOutcome, PromoteRequest, RollbackRequest, Version};
use promptops_registry::http::{router_with_limits, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Limits, Registry, ServerLimits, Tokens};

use promptops_core::error::chain;

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
        value_parser = str::parse::<AuthMode>,
        value_name = "MODE"
    )]
    auth: Option<AuthMode>,
    #[command(subcommand)]
    command: RegistryCommand,
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
            let mode = AuthMode::choose(args.auth, base, token.is_some());
            let client = Credentials::for_mode(mode, base, token)
                .map_err(|err| err.to_string())
                .and_then(|credentials| {
                    Client::builder(base)
                        .credentials(credentials)
                        .user_agent(concat!("promptops/", env!("CARGO_PKG_VERSION")))
                        .build()
                        .map_err(|err| chain(&err))
                });
            let client = match client {
                Ok(client) => client,
                Err(message) => return Outcome::fail(format!("error: {message}\n"), 2),
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
                        format!("error: cannot open {}: {}\n", path.display(), chain(&err)),
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

/// The outcome of a failed request: exit 1 when the registry refused it (a 4xx), 3 when it is
/// unreachable or failed (no answer, a 5xx, an answer that is not the contract's), 2 when it
/// could not be made here.
fn failure(err: &ClientError) -> Outcome {
    let mut message = format!("error: {}\n", chain(err));
    if let ClientError::Refused {
        status: 403,
        code: None,
        ..
    } = err
    {
        message.push_str(
            "help: AWS refused the request before the registry saw it: check the AWS \
             credentials and region (--auth sigv4), and that the caller may \
             lambda:InvokeFunctionUrl on the registry\n",
        );
    }
    if let ClientError::Refused { diagnostics, .. } = err {
        for diagnostic in diagnostics {
            message.push_str(&format!(
                "  {}:{} {} {}\n",
                diagnostic.line, diagnostic.column, diagnostic.code, diagnostic.message
            ));
        }
    }
    let code = match err.kind() {
        ErrorKind::Refused => 1,
        ErrorKind::Local => 2,
        ErrorKind::Unavailable | ErrorKind::Undecodable => 3,
    };
    Outcome::fail(message, code)
}

/// `show` of a success, or the failure.
fn outcome<T>(answer: Result<T, ClientError>, show: impl FnOnce(T) -> String) -> Outcome {
    match answer {
        Ok(value) => Outcome::ok(show(value)),
        Err(err) => failure(&err),
    }
}

/// Parses a version argument (exit 2 when it is not one).
fn version_arg(text: &str) -> Result<Version, Outcome> {
    text.parse()
        .map_err(|err| Outcome::fail(format!("error: version {text:?}: {err}\n"), 2))
}

async fn client_command(client: &Client, command: &RegistryCommand) -> Outcome {
    match run_client_command(client, command).await {
        Ok(outcome) | Err(outcome) => outcome,
    }
}

async fn run_client_command(
    client: &Client,
    command: &RegistryCommand,
) -> Result<Outcome, Outcome> {
    Ok(match command {
        RegistryCommand::Serve { .. } => Outcome::fail("error: unreachable\n".to_owned(), 2),
        RegistryCommand::Push { files } => push_files(client, files).await,
        RegistryCommand::Publish { dir } => publish(client, dir).await,
        RegistryCommand::Get { reference, mode } => {
            let mode = mode
                .parse()
                .map_err(|err| Outcome::fail(format!("error: --mode: {err}\n"), 2))?;
            match client.resolve(reference, mode, None, None).await {
                // The wire JSON as the registry sent it, indented.
                Ok(Resolution::Found { body, .. }) => {
                    match serde_json::from_str::<serde_json::Value>(&body) {
                        Ok(value) => Outcome::ok(format!(
                            "{}\n",
                            serde_json::to_string_pretty(&value).unwrap_or(body)
                        )),
                        Err(_) => Outcome::fail(
                            format!("error: {}: the answer is not JSON\n", client.base()),
                            3,
                        ),
                    }
                }
                Ok(Resolution::NotFound { message }) => {
                    Outcome::fail(format!("error: {message} (404 not_found)\n"), 1)
                }
                Ok(Resolution::NotModified) => Outcome::fail(
                    "error: the registry answered 304 to a request without a tag\n".to_owned(),
                    3,
                ),
                Err(err) => failure(&err),
            }
        }
        RegistryCommand::Versions { id } => {
            outcome(client.versions(id, None, None).await, |page| {
                page.versions
                    .iter()
                    .map(|version| {
                        format!(
                            "{:<12} {:<11} {}  {}\n",
                            version.version.to_string(),
                            version.status.as_str(),
                            version.created_at,
                            version.content_hash
                        )
                    })
                    .collect()
            })
        }
        RegistryCommand::Diff { id, v1, v2 } => {
            let (v1, v2) = (version_arg(v1)?, version_arg(v2)?);
            outcome(client.diff(id, &v1, &v2).await, |diff| diff.diff)
        }
        RegistryCommand::Promote {
            id,
            version,
            expect,
            reason,
        } => {
            let request = PromoteRequest {
                version: version_arg(version)?,
                expected_stable: expect.as_deref().map(version_arg).transpose()?.map(Some),
                reason: reason.clone(),
            };
            outcome(client.promote(id, &request).await, moved)
        }
        RegistryCommand::Rollback {
            id,
            version,
            reason,
        } => {
            let request = RollbackRequest {
                version: version.as_deref().map(version_arg).transpose()?,
                reason: reason.clone(),
            };
            outcome(client.rollback(id, &request).await, moved)
        }
        RegistryCommand::History { id } => outcome(client.history(id).await, |history| {
            history
                .events
                .iter()
                .map(|event| {
                    format!(
                        "{} {:<8} {} -> {}  by {}{}\n",
                        event.at,
                        event.action.as_str(),
                        event
                            .from
                            .map_or_else(|| "-".to_owned(), |from| from.to_string()),
                        event.to,
                        event.actor,
                        event
                            .reason
                            .as_deref()
                            .map_or_else(String::new, |reason| format!(": {reason}"))
                    )
                })
                .collect()
        }),
    })
}

fn moved(outcome: MoveOutcome) -> String {
    format!(
        "{} stable: {} (was {})\n",
        outcome.prompt_id,
        outcome.version,
        outcome
            .previous_stable
            .map_or_else(|| "none".to_owned(), |version| version.to_string())
    )
}

async fn push_files(client: &Client, files: &[PathBuf]) -> Outcome {
    let mut stdout = String::new();
    for file in files {
        let bytes = match std::fs::read(file) {
            Ok(bytes) => bytes,
            Err(err) => return Outcome::fail(format!("error: {}: {err}\n", file.display()), 2),
        };
        let result = outcome(client.push_yaml(&bytes).await, |pushed| {
            format!(
                "{} {}@{} ({})\n",
                file.display(),
                pushed.outcome.prompt_id,
                pushed.outcome.version,
                pushed.outcome.status.as_str()
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
        match client.push_yaml(&file.bytes).await {
            Ok(pushed) if pushed.created => {
                created += 1;
                stdout.push_str(&format!(
                    "pushed    {}@{}\n",
                    pushed.outcome.prompt_id, pushed.outcome.version
                ));
            }
            Ok(_) => unchanged += 1,
            Err(ClientError::Refused {
                status: 409,
                message,
                ..
            }) => {
                return Outcome {
                    stdout,
                    stderr: format!(
                        "error: {}: {message}\nhelp: the text changed under a released version: \
                         bump `version` in the prompt file\n",
                        file.path
                    ),
                    code: 1,
                }
            }
            Err(err) => {
                let failed = failure(&err);
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
}
