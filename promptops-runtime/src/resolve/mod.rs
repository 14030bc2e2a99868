//! Resolving a prompt through a prompt registry, with the compiled-in prompt as the contract a
//! remote version must honour and as the fallback when the registry cannot answer.
//!
//! A [`Resolver`] sits in a [`Runtime`](crate::Runtime) (built by
//! [`Runtime::from_env`](crate::Runtime::from_env) when the process is configured for a
//! registry), and every call through a typed handle asks it which definition to render:
//!
//! 1. the registry's answer for the prompt's id in the configured mode, fetched through the
//!    configured tiers in the seed's order (direct Lambda invoke, then HTTP), if it passes
//!    [`check_replacement`] against the compiled prompt;
//! 2. otherwise the compiled-in prompt (in place of the seed's local-file tier), so a call
//!    never fails because of the registry.
//!
//! A remote version that fails the contract check is refused: the call renders the compiled
//! prompt and one `prompt_contract_mismatch` event names what differs. Its text is never
//! rendered.
//!
//! # Caching
//! Per prompt, one cache entry holds the last answer (a usable version, a refused one, or "no
//! version in this mode") with its ETag:
//! * an answer is **fresh** for the TTL (default 60 s): a call costs a map lookup;
//! * then the next call starts one revalidation (`If-None-Match`; single-flight per prompt)
//!   and waits for it at most the **warm budget** (default 0: it is served the cached answer
//!   at once, and the answer is replaced when the revalidation lands);
//! * while the registry fails, the last good answer is served **stale** for up to `max_stale`
//!   past its TTL (default 5 min), then the compiled prompt;
//! * a call with nothing cached waits at most the **cold budget** (default 250 ms) for the
//!   first fetch, then runs the compiled prompt (the fetch goes on and warms the cache);
//! * after `breaker_threshold` consecutive registry failures (default 5) the circuit opens for
//!   `breaker_cooldown` (default 30 s): no fetch is tried and calls cost nothing extra;
//! * a **pinned** version ([`Resolver::pin`]) never changes, so once fetched it is kept for the
//!   life of the process.
//!
//! # Events
//! `prompt_resolved` (target `promptops`) is emitted for every resolution that was not a fresh
//! cache hit, with `source` (`lambda`, `http` or `compiled`), `resolved_version`,
//! `content_hash`, `cache` ([`CacheState`]) and `verdict` ([`Verdict`]); fresh hits show in
//! the call's own `prompt_invoked` / `prompt_completed`, which carry `prompt_version` and
//! `prompt_source` of what actually ran. `prompt_contract_mismatch` is emitted once per refused
//! version fetched.
//!
//! # Configuration ([`ResolverConfig::from_lookup`])
//! | variable | meaning |
//! |---|---|
//! | `PROMPT_REGISTRY_FUNCTION` | Lambda function name or ARN (with an optional `:alias`): the direct invoke tier ([`lambda`], feature `registry-aws`; without it, an error), tried first |
//! | `PROMPT_REGISTRY_URL` | base URL of the registry: the HTTP tier (feature `registry-client`), tried when no function is set or its invoke fails |
//! | `PROMPTOPS_REGISTRY_TOKEN` | bearer token for the HTTP tier (never logged) |
//! | `PROMPTOPS_REGISTRY_AUTH` | how the HTTP tier authenticates: `bearer` (the token), `sigv4` (AWS credentials from the standard chain, signed for `lambda`; feature `registry-aws`) or `none`. Default: `bearer` when the token is set, else `sigv4` when the URL is a Lambda Function URL (`https://<id>.lambda-url.<region>.on.aws`), else `none`. SigV4's region is the Function URL's, else `AWS_REGION` / `AWS_DEFAULT_REGION` |
//! | `PROMPTOPS_REGISTRY_MODE` | `production` (default), `staging`, `dev` or `simulation`; sent on every request |
//! | `PROMPTOPS_REGISTRY_TTL_MS` | freshness, default 60000 |
//! | `PROMPTOPS_REGISTRY_MAX_STALE_MS` | how long past its TTL a last good answer is served while the registry fails, default 300000 |
//! | `PROMPTOPS_REGISTRY_COLD_BUDGET_MS` | most a call with nothing cached waits, default 250 |
//! | `PROMPTOPS_REGISTRY_WARM_BUDGET_MS` | most a call with a cached answer waits for its revalidation, default 0 |
//! | `PROMPTOPS_REGISTRY_PIN` | `id@version,…`: versions pinned for the life of the process |

//!
//! # Layout
//! This module is the [`Resolver`] façade and the types a resolution reports. The rest is split
//! by idea: `config` reads the environment (the variables above, the settings, which tiers and
//! how the HTTP tier authenticates), `cache` holds the per-prompt answers and the circuit
//! breaker, `fetch` asks the tiers and adopts what they answer (decoding, the contract check).

mod cache;
mod config;
mod fetch;
#[cfg(feature = "registry-client")]
pub mod http;
#[cfg(feature = "registry-aws")]
pub mod lambda;

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use crate::config::ConfigError;
use crate::def::{DefRef, PromptDef, Version};
use crate::events;

use cache::{answer_resolution, Answer, Breaker, Entry, EntryState};
pub use config::{
    ResolverConfig, AUTH_ENV, COLD_BUDGET_ENV, FUNCTION_ENV, MAX_STALE_ENV, MODE_ENV, PIN_ENV,
    TOKEN_ENV, TTL_ENV, URL_ENV, WARM_BUDGET_ENV,
};
use fetch::fetch_task;
pub use fetch::{Fetch, FetchError, FetchFuture, FetchRequest, Fetched};

/// Where the definition a call ran came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub enum Source {
    /// The registry, through a direct Lambda invoke.
    Lambda,
    /// The registry, over HTTP.
    Http,
    /// The prompt compiled into the binary.
    #[default]
    Compiled,
}

impl Source {
    /// The spelling in events: `lambda`, `http`, `compiled`.
    pub const fn as_str(self) -> &'static str {
        match self {
            Source::Lambda => "lambda",
            Source::Http => "http",
            Source::Compiled => "compiled",
        }
    }
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How the cache took part in a resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CacheState {
    /// No registry is configured: the compiled prompt, nothing cached.
    Off,
    /// A cached answer within its TTL (or a pinned one).
    Fresh,
    /// The call waited for a registry round trip that answered within its budget.
    Fetched,
    /// A cached answer past its TTL, within max-stale, served while it is revalidated.
    Stale,
    /// Nothing usable in time (cold fetch over budget, registry failing past max-stale, or
    /// the circuit open): the compiled prompt.
    Miss,
}

impl CacheState {
    /// The spelling in events.
    pub const fn as_str(self) -> &'static str {
        match self {
            CacheState::Off => "off",
            CacheState::Fresh => "fresh",
            CacheState::Fetched => "fetched",
            CacheState::Stale => "stale",
            CacheState::Miss => "miss",
        }
    }
}

/// What the contract check said about the registry's answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Verdict {
    /// The remote version honours the compiled contract and is used.
    Compatible,
    /// The remote version breaks the compiled contract: refused, the compiled prompt runs.
    Incompatible,
    /// The registry has no version for this prompt in this mode: the compiled prompt runs.
    NotFound,
    /// Nothing remote was checked (no registry, or no answer in time).
    Unchecked,
}

impl Verdict {
    /// The spelling in events.
    pub const fn as_str(self) -> &'static str {
        match self {
            Verdict::Compatible => "compatible",
            Verdict::Incompatible => "incompatible",
            Verdict::NotFound => "not_found",
            Verdict::Unchecked => "unchecked",
        }
    }
}

/// The definition a call runs, and why.
#[derive(Debug, Clone)]
pub struct Resolution {
    /// The definition to render: a compatible remote version (shared with the cache, and
    /// dropped once the cache has replaced it and no call holds it), or the compiled prompt.
    pub def: DefRef,
    /// Where `def` came from.
    pub source: Source,
    /// How the cache took part.
    pub cache: CacheState,
    /// The contract verdict on the registry's answer.
    pub verdict: Verdict,
    /// The registry's version, when its answer was checked (used or refused).
    pub registry_version: Option<Version>,
}

impl Resolution {
    /// The compiled prompt, with no registry involved.
    pub const fn compiled(def: &'static PromptDef) -> Self {
        Resolution {
            def: DefRef::Static(def),
            source: Source::Compiled,
            cache: CacheState::Off,
            verdict: Verdict::Unchecked,
            registry_version: None,
        }
    }
}

#[derive(Debug)]
struct Inner {
    tiers: Vec<Box<dyn Fetch>>,
    config: ResolverConfig,
    entries: RwLock<HashMap<String, Arc<Entry>>>,
    breaker: Mutex<Breaker>,
}

/// Resolves prompts through a registry with the compiled prompt as contract and fallback
/// (see the [module docs](self)). Cheap to clone; one per process.
#[derive(Debug, Clone)]
pub struct Resolver {
    inner: Arc<Inner>,
}

/// What a look at the cache decided.
enum Look {
    /// Serve this now.
    Ready(Resolution),
    /// Fetch; meanwhile this is usable (a stale answer), or nothing is.
    Refresh(Option<Resolution>),
}

impl Resolver {
    /// A resolver asking `tiers` in order (the first that answers wins) with `config`.
    pub fn new(tiers: Vec<Box<dyn Fetch>>, config: ResolverConfig) -> Self {
        Resolver {
            inner: Arc::new(Inner {
                tiers,
                config,
                entries: RwLock::new(HashMap::new()),
                breaker: Mutex::new(Breaker::default()),
            }),
        }
    }

    /// The resolver the environment asks for, or `None` when no registry is configured (see
    /// the [module docs](self)).
    pub fn from_env() -> Result<Option<Self>, ConfigError> {
        Self::from_lookup(|name| std::env::var(name).ok())
    }

    /// Like [`from_env`](Self::from_env), reading variables through `lookup`.
    pub fn from_lookup(
        lookup: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Self>, ConfigError> {
        Ok(config::from_lookup(lookup)?.map(|(tiers, config)| Resolver::new(tiers, config)))
    }

    /// The settings.
    pub fn config(&self) -> &ResolverConfig {
        &self.inner.config
    }

    /// Pins `id` to `version` for the life of the process: later resolutions of `id` ask
    /// for that version only, and keep it once fetched. Replaces any cached answer for `id`.
    pub fn pin(&self, compiled: &'static PromptDef, version: Version) {
        let entry = Arc::new(Entry {
            compiled,
            pin: Some(version),
            state: Mutex::new(EntryState::default()),
            done: Notify::new(),
        });
        self.inner
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .insert(compiled.id.clone(), entry);
    }

    /// The version `id` is pinned to, if any.
    pub fn pinned(&self, id: &str) -> Option<Version> {
        self.inner
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(id)
            .and_then(|entry| entry.pin)
            .or_else(|| self.inner.config.pins.get(id).copied())
    }

    fn entry(&self, compiled: &'static PromptDef) -> Arc<Entry> {
        if let Some(entry) = self
            .inner
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(compiled.id.as_str())
        {
            return Arc::clone(entry);
        }
        let mut entries = self
            .inner
            .entries
            .write()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let entry = entries.entry(compiled.id.clone()).or_insert_with(|| {
            Arc::new(Entry {
                compiled,
                pin: self.inner.config.pins.get(&compiled.id).copied(),
                state: Mutex::new(EntryState::default()),
                done: Notify::new(),
            })
        });
        Arc::clone(entry)
    }

    /// The definition a call of `compiled` runs now (see the [module docs](self)). Never
    /// fails and never waits longer than the applicable budget.
    pub async fn resolve(&self, compiled: &'static PromptDef) -> Resolution {
        let entry = self.entry(compiled);
        let usable = match self.look(&entry, Instant::now()) {
            Look::Ready(resolution) => return resolution,
            Look::Refresh(usable) => usable,
        };
        let resolution = self.refresh_within_budget(&entry, usable).await;
        emit_resolved(compiled, &resolution);
        resolution
    }

    /// Fetches `compiled` now (if it is not fresh), waiting at most the cold budget: for a
    /// Lambda function's init, so the first invocation finds a warm cache.
    pub async fn prefetch(&self, compiled: &[&'static PromptDef]) {
        let mut waits = Vec::new();
        for def in compiled {
            let entry = self.entry(def);
            if let Look::Refresh(_) = self.look(&entry, Instant::now()) {
                waits.push(self.refresh_within_budget_owned(entry, None));
            }
        }
        for wait in waits {
            let resolution = wait.await;
            emit_resolved(resolution.0, &resolution.1);
        }
    }

    /// Revalidates every cached prompt whose answer is past its TTL, waiting for all of them
    /// together at most `budget`: for the start of a Lambda invocation, because a frozen
    /// function cannot refresh in the background between invocations.
    pub async fn revalidate(&self, budget: Duration) {
        let now = Instant::now();
        let entries: Vec<Arc<Entry>> = self
            .inner
            .entries
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .values()
            .cloned()
            .collect();
        let stale: Vec<&Arc<Entry>> = entries
            .iter()
            .filter(|entry| matches!(self.look(entry, now), Look::Refresh(_)))
            .collect();
        let mut waits = Vec::new();
        for entry in stale {
            // Created before the fetch starts, so its wake-up cannot be missed.
            let notified = entry.done.notified();
            if self.start_fetch(entry) || entry.lock().inflight {
                waits.push(notified);
            }
        }
        let _ = tokio::time::timeout(budget, async {
            for notified in waits {
                notified.await;
            }
        })
        .await;
    }

    /// Reads the cache: a fresh or pinned answer is served; otherwise what may be served while
    /// fetching.
    fn look(&self, entry: &Entry, now: Instant) -> Look {
        let config = &self.inner.config;
        let state = entry.lock();
        let Some(cached) = &state.cached else {
            return Look::Refresh(None);
        };
        let age = now.saturating_duration_since(cached.validated);
        let pinned_and_known = entry.pin.is_some() && !matches!(cached.answer, Answer::Absent);
        if pinned_and_known || age < config.ttl {
            return Look::Ready(answer_resolution(entry.compiled, cached, CacheState::Fresh));
        }
        if age < config.ttl.saturating_add(config.max_stale) {
            return Look::Refresh(Some(answer_resolution(
                entry.compiled,
                cached,
                CacheState::Stale,
            )));
        }
        Look::Refresh(None)
    }

    /// Starts a fetch for `entry` unless one is running or the circuit is open; says whether
    /// it started one.
    fn start_fetch(&self, entry: &Arc<Entry>) -> bool {
        if !self.circuit_allows(Instant::now()) {
            return false;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        {
            let mut state = entry.lock();
            if state.inflight {
                return false;
            }
            state.inflight = true;
        }
        handle.spawn(fetch_task(Arc::clone(&self.inner), Arc::clone(entry)));
        true
    }

    async fn refresh_within_budget(
        &self,
        entry: &Arc<Entry>,
        usable: Option<Resolution>,
    ) -> Resolution {
        let config = &self.inner.config;
        let budget = if usable.is_some() {
            config.warm_budget
        } else {
            config.cold_budget
        };
        let notified = entry.done.notified();
        tokio::pin!(notified);
        notified.as_mut().enable();
        self.start_fetch(entry);
        let fallback = usable.unwrap_or(Resolution {
            def: DefRef::Static(entry.compiled),
            source: Source::Compiled,
            cache: CacheState::Miss,
            verdict: Verdict::Unchecked,
            registry_version: None,
        });
        // On a multi-threaded runtime the fetch may already have finished: read the cache.
        let running = entry.lock().inflight;
        if running && (budget.is_zero() || tokio::time::timeout(budget, notified).await.is_err()) {
            return fallback;
        }
        match self.look(entry, Instant::now()) {
            Look::Ready(resolution) => Resolution {
                cache: CacheState::Fetched,
                ..resolution
            },
            Look::Refresh(Some(stale)) => stale,
            Look::Refresh(None) => fallback,
        }
    }

    async fn refresh_within_budget_owned(
        &self,
        entry: Arc<Entry>,
        usable: Option<Resolution>,
    ) -> (&'static PromptDef, Resolution) {
        let resolution = self.refresh_within_budget(&entry, usable).await;
        (entry.compiled, resolution)
    }

    fn circuit_allows(&self, now: Instant) -> bool {
        let breaker = self
            .inner
            .breaker
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        breaker.allows(now)
    }

    /// Whether the circuit is open now (no fetch would be tried).
    pub fn circuit_open(&self) -> bool {
        !self.circuit_allows(Instant::now())
    }
}

fn emit_resolved(compiled: &'static PromptDef, resolution: &Resolution) {
    tracing::info!(
        target: events::TARGET,
        event = events::EVENT_RESOLVED,
        prompt_id = compiled.id.as_str(),
        compiled_version = %compiled.version,
        source = resolution.source.as_str(),
        resolved_version = %resolution.def.version,
        content_hash = resolution.def.content_hash.as_str(),
        cache = resolution.cache.as_str(),
        verdict = resolution.verdict.as_str(),
        registry_version = resolution.registry_version.map(|version| version.to_string()),
    );
}
