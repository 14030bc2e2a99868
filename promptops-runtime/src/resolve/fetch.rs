//! Asking the registry's tiers for a prompt ([`Fetch`]) and adopting the answer: decoding it,
//! checking it against the compiled contract, and the definition a compatible version runs as.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::Instant;

use promptops_core::contract::{check_replacement, Incompatible};
use promptops_core::wire;
use promptops_registry_api::Mode;

use super::cache::{Answer, Cached, Entry};
use super::{Inner, Source};
use crate::def::{DefRef, PromptDef, Version};
use crate::events;

/// One request to a registry tier.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// The prompt id.
    pub id: &'a str,
    /// A pinned version, or `None` for the mode's current answer.
    pub version: Option<Version>,
    /// The mode.
    pub mode: Mode,
    /// The ETag of the cached answer, sent as `If-None-Match`.
    pub etag: Option<&'a str>,
}

/// A registry tier's answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fetched {
    /// `200`: the prompt's wire JSON and its ETag.
    Document {
        /// The body ([`promptops_core::wire`] JSON).
        body: String,
        /// The `ETag` header, if any.
        etag: Option<String>,
    },
    /// `304`: the cached answer is still current.
    NotModified,
    /// `404`: no version in this mode (or no such pinned version).
    NotFound,
}

/// A registry tier that did not answer usefully (unreachable, 5xx, refused credentials, ...).
///
/// Each variant keeps what it wraps as its [`source`](std::error::Error::source); its own
/// message says only what was asked. Print it with [`promptops_core::error::chain`], as the
/// `prompt_registry_unavailable` event does. No message contains a token.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum FetchError {
    /// The HTTP tier's request failed: refused, unavailable or undecodable (see
    /// [`ClientError::kind`](promptops_registry_api::client::ClientError::kind)).
    #[cfg(feature = "registry-client")]
    #[error(transparent)]
    Client(#[from] promptops_registry_api::client::ClientError),
    /// The registry's function could not be invoked.
    #[cfg(feature = "registry-aws")]
    #[error("{what}")]
    Invoke {
        /// The invocation (`invoke <function> for <id>`).
        what: String,
        /// The SDK's error (boxed: it is large).
        #[source]
        source: Box<
            aws_sdk_lambda::error::SdkError<
                aws_sdk_lambda::operation::invoke::InvokeError,
                aws_sdk_lambda::config::http::HttpResponse,
            >,
        >,
    },
    /// An answer (or its envelope) does not decode.
    #[error("{what}")]
    Decode {
        /// What does not decode.
        what: String,
        /// The decoder's error.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The registry answered with an error status.
    #[error("{what}: {status}{}", spaced(message))]
    Status {
        /// The request.
        what: String,
        /// The HTTP status with its reason phrase (`403 Forbidden`).
        status: String,
        /// The message of the registry's JSON error body, or empty.
        message: String,
    },
    /// Anything else, described where it happened.
    #[error("{0}")]
    Other(String),
}

impl FetchError {
    /// An error with this message (for a problem that wraps no other error).
    pub fn new(message: impl Into<String>) -> Self {
        FetchError::Other(message.into())
    }

    /// An answer that does not decode: `what`, because of `source`.
    pub fn decode(
        what: impl Into<String>,
        source: impl Into<Box<dyn std::error::Error + Send + Sync>>,
    ) -> Self {
        FetchError::Decode {
            what: what.into(),
            source: source.into(),
        }
    }
}

/// ` <message>`, or nothing for an empty message.
fn spaced(message: &str) -> String {
    if message.is_empty() {
        String::new()
    } else {
        format!(" {message}")
    }
}

/// The future a [`Fetch`] returns.
pub type FetchFuture<'a> = Pin<Box<dyn Future<Output = Result<Fetched, FetchError>> + Send + 'a>>;

/// One way of asking the registry for a prompt (HTTP, Lambda invoke).
pub trait Fetch: Send + Sync + fmt::Debug {
    /// Which tier this is, for events.
    fn source(&self) -> Source;
    /// Asks for one prompt.
    fn fetch<'a>(&'a self, request: FetchRequest<'a>) -> FetchFuture<'a>;
}

/// One fetch for `entry` through the tiers, then the cache update and the wake-up.
pub(super) async fn fetch_task(inner: Arc<Inner>, entry: Arc<Entry>) {
    let etag = entry
        .lock()
        .cached
        .as_ref()
        .and_then(|cached| cached.etag.clone());
    let request = FetchRequest {
        id: &entry.compiled.id,
        version: entry.pin,
        mode: inner.config.mode,
        etag: etag.as_deref(),
    };
    let mut outcome = Err((
        Source::Compiled,
        FetchError::new("no registry tier configured"),
    ));
    for tier in &inner.tiers {
        let answer =
            match tokio::time::timeout(inner.config.fetch_timeout, tier.fetch(request)).await {
                Ok(answer) => answer,
                Err(_) => Err(FetchError::new(format!(
                    "no answer within {:?}",
                    inner.config.fetch_timeout
                ))),
            };
        match answer {
            Ok(fetched) => {
                outcome = Ok((tier.source(), fetched));
                break;
            }
            Err(err) => outcome = Err((tier.source(), err)),
        }
    }
    let now = Instant::now();
    let update = match outcome {
        Ok((source, Fetched::NotModified)) => {
            let mut state = entry.lock();
            match &mut state.cached {
                Some(cached) => {
                    cached.validated = now;
                    Ok(())
                }
                None => {
                    drop(state);
                    Err((
                        source,
                        FetchError::new("304 for a prompt with nothing cached"),
                    ))
                }
            }
        }
        Ok((source, Fetched::NotFound)) => {
            entry.lock().cached = Some(Cached {
                answer: Answer::Absent,
                etag: None,
                source,
                validated: now,
            });
            Ok(())
        }
        Ok((source, Fetched::Document { body, etag })) => match accept(entry.compiled, &body) {
            Ok(answer) => {
                entry.lock().cached = Some(Cached {
                    answer,
                    etag,
                    source,
                    validated: now,
                });
                Ok(())
            }
            Err(err) => Err((source, err)),
        },
        Err(failure) => Err(failure),
    };
    {
        let mut breaker = inner
            .breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        breaker.record(
            update.is_ok(),
            now,
            inner.config.breaker_threshold,
            inner.config.breaker_cooldown,
        );
    }
    if let Err((source, err)) = update {
        tracing::warn!(
            target: events::TARGET,
            event = events::EVENT_REGISTRY_UNAVAILABLE,
            prompt_id = entry.compiled.id.as_str(),
            source = source.as_str(),
            error_message = promptops_core::error::chain(&err).as_str(),
        );
    }
    entry.lock().inflight = false;
    entry.done.notify_waiters();
}

/// Decodes a registry document and checks it against the compiled contract.
fn accept(compiled: &'static PromptDef, body: &str) -> Result<Answer, FetchError> {
    let remote = wire::from_json(body)
        .map_err(|err| FetchError::decode("the registry's answer does not decode", err))?;
    if remote.id != compiled.id {
        return Err(FetchError::new(format!(
            "asked for `{}`, the registry answered `{}`",
            compiled.id, remote.id
        )));
    }
    match check_replacement(compiled, &remote) {
        Ok(()) => Ok(Answer::Use(adopt(compiled, remote))),
        Err(incompatible) => {
            emit_mismatch(compiled, &remote, &incompatible);
            Ok(Answer::Refused(remote.version))
        }
    }
}

/// The definition a compatible remote version runs as: the compiled prompt itself when the
/// text is the same, else the remote one with every variable sensitive on either side marked
/// sensitive, and the compiled model when the registry's copy names none.
///
/// A remote definition is shared ([`DefRef::Shared`]), not kept for the life of the process:
/// the cache entry and the calls rendering it hold it, and it is dropped once the entry has
/// been replaced by a later answer and those calls are done, so a long-running process that
/// meets many versions keeps only the ones in use.
fn adopt(compiled: &'static PromptDef, mut remote: PromptDef) -> DefRef {
    if remote.version == compiled.version && remote.content_hash == compiled.content_hash {
        return DefRef::Static(compiled);
    }
    for var in &mut remote.variables {
        if compiled
            .variable(&var.name)
            .is_some_and(|known| known.sensitive)
        {
            var.sensitive = true;
        }
    }
    if remote.model.is_empty() {
        remote.model.clone_from(&compiled.model);
        remote.model_id.clone_from(&compiled.model_id);
    }
    DefRef::Shared(Arc::new(remote))
}

fn emit_mismatch(compiled: &PromptDef, remote: &PromptDef, incompatible: &Incompatible) {
    let differences: Vec<String> = incompatible
        .differences
        .iter()
        .map(ToString::to_string)
        .collect();
    tracing::warn!(
        target: events::TARGET,
        event = events::EVENT_CONTRACT_MISMATCH,
        prompt_id = compiled.id.as_str(),
        compiled_version = %compiled.version,
        remote_version = %remote.version,
        remote_content_hash = remote.content_hash.as_str(),
        differences = differences.join("; ").as_str(),
        error_message = %incompatible,
    );
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};
    use std::sync::Weak;
    use std::time::Duration;

    use super::*;
    use crate::resolve::{Resolver, ResolverConfig};

    /// A registry whose every answer is a new version of `compiled`'s prompt, same contract.
    #[derive(Debug)]
    struct NewVersionEachTime {
        compiled: &'static PromptDef,
        next: AtomicU32,
    }

    impl Fetch for NewVersionEachTime {
        fn source(&self) -> Source {
            Source::Http
        }

        fn fetch<'a>(&'a self, _request: FetchRequest<'a>) -> FetchFuture<'a> {
            let version = self.next.fetch_add(1, Ordering::SeqCst);
            let mut remote = self.compiled.clone();
            remote.version = Version::new(version);
            remote.template = format!("remote text {version}");
            remote.content_hash = format!("hash-{version}");
            let body = wire::to_json(&remote);
            Box::pin(async move { Ok(Fetched::Document { body, etag: None }) })
        }
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn replaced_remote_versions_are_dropped() {
        let compiled: &'static PromptDef = Box::leak(Box::new(PromptDef::new(
            "tests.many-versions",
            Version::new(1),
            "o",
            "m",
            "compiled text",
        )));
        let tier = NewVersionEachTime {
            compiled,
            next: AtomicU32::new(2),
        };
        // Every call finds its answer expired and waits for the next version.
        let config = ResolverConfig {
            ttl: Duration::ZERO,
            warm_budget: Duration::from_secs(5),
            cold_budget: Duration::from_secs(5),
            ..ResolverConfig::default()
        };
        let resolver = Resolver::new(vec![Box::new(tier)], config);
        let mut previous: Vec<Weak<PromptDef>> = Vec::new();
        for round in 2..=50 {
            let resolution = resolver.resolve(compiled).await;
            assert_eq!(resolution.source, Source::Http);
            assert_eq!(resolution.def.version, Version::new(round));
            let DefRef::Shared(def) = &resolution.def else {
                panic!("a remote version is shared, not static");
            };
            // The cache and this resolution hold it, nothing else.
            assert_eq!(Arc::strong_count(def), 2);
            previous.push(Arc::downgrade(def));
        }
        let last = previous.pop().expect("versions were adopted");
        assert!(
            last.upgrade().is_some(),
            "the current answer is kept by the cache"
        );
        let alive = previous
            .iter()
            .filter(|def| def.upgrade().is_some())
            .count();
        assert_eq!(alive, 0, "every replaced version is dropped");
    }
}
