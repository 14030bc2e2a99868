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

#[cfg(feature = "registry-client")]
pub mod http;
#[cfg(feature = "registry-aws")]
pub mod lambda;

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, LazyLock, Mutex, MutexGuard, RwLock};
use std::time::{Duration, Instant};

use promptops_core::contract::{check_replacement, Incompatible};
use promptops_core::wire;
use tokio::sync::Notify;

use crate::config::ConfigError;
use crate::def::{PromptDef, Version};
use crate::events;

/// Environment variable naming the registry's Lambda function (direct invoke tier).
pub const FUNCTION_ENV: &str = "PROMPT_REGISTRY_FUNCTION";
/// Environment variable holding the registry's base URL (HTTP tier).
pub const URL_ENV: &str = "PROMPT_REGISTRY_URL";
/// Environment variable holding the HTTP tier's bearer token.
pub const TOKEN_ENV: &str = "PROMPTOPS_REGISTRY_TOKEN";
/// Environment variable choosing how the HTTP tier authenticates: `bearer`, `sigv4`, `none`.
pub const AUTH_ENV: &str = "PROMPTOPS_REGISTRY_AUTH";
/// Environment variable holding the mode sent on every request.
pub const MODE_ENV: &str = "PROMPTOPS_REGISTRY_MODE";
/// Environment variable overriding the TTL, in milliseconds.
pub const TTL_ENV: &str = "PROMPTOPS_REGISTRY_TTL_MS";
/// Environment variable overriding the max-stale window, in milliseconds.
pub const MAX_STALE_ENV: &str = "PROMPTOPS_REGISTRY_MAX_STALE_MS";
/// Environment variable overriding the cold budget, in milliseconds.
pub const COLD_BUDGET_ENV: &str = "PROMPTOPS_REGISTRY_COLD_BUDGET_MS";
/// Environment variable overriding the warm budget, in milliseconds.
pub const WARM_BUDGET_ENV: &str = "PROMPTOPS_REGISTRY_WARM_BUDGET_MS";
/// Environment variable pinning versions: `id@version`, comma-separated.
pub const PIN_ENV: &str = "PROMPTOPS_REGISTRY_PIN";

/// The registry modes (the registry's `?mode=`).
pub const MODES: [&str; 4] = ["production", "staging", "dev", "simulation"];

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
#[derive(Debug, Clone, Copy)]
pub struct Resolution {
    /// The definition to render: a compatible remote version, or the compiled prompt.
    pub def: &'static PromptDef,
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
            def,
            source: Source::Compiled,
            cache: CacheState::Off,
            verdict: Verdict::Unchecked,
            registry_version: None,
        }
    }
}

/// One request to a registry tier.
#[derive(Debug, Clone, Copy)]
pub struct FetchRequest<'a> {
    /// The prompt id.
    pub id: &'a str,
    /// A pinned version, or `None` for the mode's current answer.
    pub version: Option<Version>,
    /// The mode (`production`, ...).
    pub mode: &'a str,
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
/// The message never contains a token.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct FetchError {
    /// What went wrong.
    pub message: String,
}

impl FetchError {
    /// An error with this message.
    pub fn new(message: impl Into<String>) -> Self {
        FetchError {
            message: message.into(),
        }
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

/// The cache and budget settings of a [`Resolver`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolverConfig {
    /// The mode sent on every request.
    pub mode: String,
    /// How long an answer is fresh.
    pub ttl: Duration,
    /// How long past its TTL the last good answer is served while the registry fails.
    pub max_stale: Duration,
    /// The most a call with nothing usable cached waits for the registry.
    pub cold_budget: Duration,
    /// The most a call with a cached answer waits for its revalidation.
    pub warm_budget: Duration,
    /// The longest one fetch may take before it counts as a failure.
    pub fetch_timeout: Duration,
    /// Consecutive failures that open the circuit.
    pub breaker_threshold: u32,
    /// How long the circuit stays open.
    pub breaker_cooldown: Duration,
    /// Versions pinned for the life of the process, by id.
    pub pins: HashMap<String, Version>,
}

impl Default for ResolverConfig {
    fn default() -> Self {
        ResolverConfig {
            mode: "production".to_owned(),
            ttl: Duration::from_secs(60),
            max_stale: Duration::from_secs(300),
            cold_budget: Duration::from_millis(250),
            warm_budget: Duration::ZERO,
            fetch_timeout: Duration::from_secs(5),
            breaker_threshold: 5,
            breaker_cooldown: Duration::from_secs(30),
            pins: HashMap::new(),
        }
    }
}

impl ResolverConfig {
    /// The settings from variables read through `lookup` (see the [module docs](self)).
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String>) -> Result<Self, ConfigError> {
        let mut config = ResolverConfig::default();
        if let Some(mode) = lookup(MODE_ENV).filter(|mode| !mode.trim().is_empty()) {
            let mode = mode.trim().to_ascii_lowercase();
            if !MODES.contains(&mode.as_str()) {
                return Err(ConfigError {
                    variable: MODE_ENV,
                    value: mode,
                    problem: format!("is not one of {}", MODES.join(", ")),
                });
            }
            config.mode = mode;
        }
        let millis = |variable: &'static str, slot: &mut Duration| {
            if let Some(value) = lookup(variable).filter(|value| !value.trim().is_empty()) {
                let parsed: u64 = value.trim().parse().map_err(|_| ConfigError {
                    variable,
                    value: value.clone(),
                    problem: "is not a whole number of milliseconds".to_owned(),
                })?;
                *slot = Duration::from_millis(parsed);
            }
            Ok::<(), ConfigError>(())
        };
        millis(TTL_ENV, &mut config.ttl)?;
        millis(MAX_STALE_ENV, &mut config.max_stale)?;
        millis(COLD_BUDGET_ENV, &mut config.cold_budget)?;
        millis(WARM_BUDGET_ENV, &mut config.warm_budget)?;
        if let Some(pins) = lookup(PIN_ENV) {
            for pin in pins.split(',').map(str::trim).filter(|pin| !pin.is_empty()) {
                let bad = |problem: &str| ConfigError {
                    variable: PIN_ENV,
                    value: pins.clone(),
                    problem: format!("`{pin}` {problem}"),
                };
                let (id, version) = pin
                    .split_once('@')
                    .ok_or_else(|| bad("is not id@version"))?;
                let version: Version = version
                    .parse()
                    .map_err(|_| bad("does not end in a version"))?;
                config.pins.insert(id.to_owned(), version);
            }
        }
        Ok(config)
    }
}

/// A cached registry answer.
#[derive(Debug, Clone)]
enum Answer {
    /// A compatible remote version.
    Use(&'static PromptDef),
    /// The version of a remote answer that breaks the contract (the compiled prompt runs).
    Refused(Version),
    /// No version in this mode.
    Absent,
}

#[derive(Debug, Clone)]
struct Cached {
    answer: Answer,
    etag: Option<String>,
    source: Source,
    /// When the registry last confirmed this answer.
    validated: Instant,
}

#[derive(Debug, Default)]
struct EntryState {
    cached: Option<Cached>,
    /// A fetch for this entry is running (single-flight).
    inflight: bool,
}

/// One prompt's cache slot.
#[derive(Debug)]
struct Entry {
    compiled: &'static PromptDef,
    pin: Option<Version>,
    state: Mutex<EntryState>,
    /// Woken when a fetch for this entry finishes.
    done: Notify,
}

impl Entry {
    fn lock(&self) -> MutexGuard<'_, EntryState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[derive(Debug, Default)]
struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
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
        let set = |name: &str| lookup(name).filter(|value| !value.trim().is_empty());
        let function = set(FUNCTION_ENV);
        let url = set(URL_ENV);
        if function.is_none() && url.is_none() {
            return Ok(None);
        }
        let config = ResolverConfig::from_lookup(&lookup)?;
        let mut tiers: Vec<Box<dyn Fetch>> = Vec::new();
        if let Some(function) = function {
            tiers.push(lambda_tier(function)?);
        }
        if let Some(url) = url {
            let auth = AuthChoice::from_lookup(&url, &set)?;
            tiers.push(http_tier(url, auth)?);
        }
        Ok(Some(Resolver::new(tiers, config)))
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
            def: entry.compiled,
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
        breaker.open_until.is_none_or(|until| now >= until)
    }

    /// Whether the circuit is open now (no fetch would be tried).
    pub fn circuit_open(&self) -> bool {
        !self.circuit_allows(Instant::now())
    }
}

fn answer_resolution(
    compiled: &'static PromptDef,
    cached: &Cached,
    cache: CacheState,
) -> Resolution {
    match &cached.answer {
        Answer::Use(def) => Resolution {
            def,
            source: cached.source,
            cache,
            verdict: Verdict::Compatible,
            registry_version: Some(def.version),
        },
        Answer::Refused(version) => Resolution {
            def: compiled,
            source: Source::Compiled,
            cache,
            verdict: Verdict::Incompatible,
            registry_version: Some(*version),
        },
        Answer::Absent => Resolution {
            def: compiled,
            source: Source::Compiled,
            cache,
            verdict: Verdict::NotFound,
            registry_version: None,
        },
    }
}

/// How the HTTP tier authenticates, as the environment asks (see the module docs).
#[derive(Clone, PartialEq, Eq)]
enum AuthChoice {
    None,
    Bearer(String),
    SigV4 { region: String },
}

impl fmt::Debug for AuthChoice {
    // The token is a secret: never printed.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AuthChoice::None => f.write_str("None"),
            AuthChoice::Bearer(_) => f.write_str("Bearer([redacted])"),
            AuthChoice::SigV4 { region } => {
                f.debug_struct("SigV4").field("region", region).finish()
            }
        }
    }
}

impl AuthChoice {
    /// Reads [`AUTH_ENV`], [`TOKEN_ENV`] and the region variables through `set` (which
    /// answers only variables set to something other than blanks) for the registry at `url`.
    fn from_lookup(
        url: &str,
        set: &impl Fn(&str) -> Option<String>,
    ) -> Result<AuthChoice, ConfigError> {
        let token = set(TOKEN_ENV);
        let url_region = function_url_region(url);
        let asked = set(AUTH_ENV).map(|value| value.trim().to_ascii_lowercase());
        let sigv4 = match asked.as_deref() {
            Some("none") => return Ok(AuthChoice::None),
            Some("bearer") => {
                return token.map(AuthChoice::Bearer).ok_or_else(|| ConfigError {
                    variable: AUTH_ENV,
                    value: "bearer".to_owned(),
                    problem: format!("needs a token in {TOKEN_ENV}"),
                })
            }
            Some("sigv4") => true,
            Some(other) => {
                return Err(ConfigError {
                    variable: AUTH_ENV,
                    value: other.to_owned(),
                    problem: "is not one of bearer, sigv4, none".to_owned(),
                })
            }
            None => match token {
                Some(token) => return Ok(AuthChoice::Bearer(token)),
                None => url_region.is_some(),
            },
        };
        if !sigv4 {
            return Ok(AuthChoice::None);
        }
        // Asked for, or the default for a Function URL.
        let (variable, value) = match asked {
            Some(value) => (AUTH_ENV, value),
            None => (URL_ENV, url.to_owned()),
        };
        if !cfg!(feature = "registry-aws") {
            return Err(ConfigError {
                variable,
                value,
                problem: "asks for SigV4 signing (a Lambda Function URL with IAM auth), which \
                          this build cannot do: it needs promptops-runtime's `registry-aws` \
                          feature (or set PROMPTOPS_REGISTRY_AUTH=none or bearer)"
                    .to_owned(),
            });
        }
        let region = url_region
            .or_else(|| set("AWS_REGION"))
            .or_else(|| set("AWS_DEFAULT_REGION"))
            .map(|region| region.trim().to_owned())
            .ok_or_else(|| ConfigError {
                variable,
                value,
                problem: "asks for SigV4 signing, which needs a region: the URL is not a Lambda \
                          Function URL (https://<id>.lambda-url.<region>.on.aws) and neither \
                          AWS_REGION nor AWS_DEFAULT_REGION is set"
                    .to_owned(),
            })?;
        Ok(AuthChoice::SigV4 { region })
    }
}

/// The region of a Lambda Function URL, `https://<url-id>.lambda-url.<region>.on.aws/...`, or
/// `None` for any other URL. The rule of `promptops_aws::sigv4::function_url_region`, kept here
/// because this crate reaches promptops-aws only with the `registry-aws` feature, and without
/// it a Function URL must still be recognised (to say that the build cannot sign for it); a
/// test checks that the two agree.
fn function_url_region(url: &str) -> Option<String> {
    let rest = url.trim();
    let scheme_end = rest.find("://")?;
    if !rest[..scheme_end].eq_ignore_ascii_case("https") {
        return None;
    }
    let authority = rest[scheme_end + 3..]
        .split(['/', '?', '#'])
        .next()
        .unwrap_or_default();
    let host = match authority.rsplit_once(':') {
        Some((host, "443")) => host,
        Some(_) => return None,
        None => authority,
    };
    let host = host.to_ascii_lowercase();
    let labels: Vec<&str> = host.split('.').collect();
    let [id, "lambda-url", region, "on", "aws"] = labels.as_slice() else {
        return None;
    };
    let label = |text: &str| {
        !text.is_empty()
            && text
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    };
    (label(id) && label(region)).then(|| (*region).to_owned())
}

#[cfg(feature = "registry-client")]
fn http_tier(url: String, auth: AuthChoice) -> Result<Box<dyn Fetch>, ConfigError> {
    let auth = match auth {
        AuthChoice::None => http::HttpAuth::None,
        AuthChoice::Bearer(token) => http::HttpAuth::Bearer(token),
        #[cfg(feature = "registry-aws")]
        AuthChoice::SigV4 { region } => http::HttpAuth::SigV4(http::SigV4Auth::from_env(region)),
        #[cfg(not(feature = "registry-aws"))]
        AuthChoice::SigV4 { .. } => {
            return Err(ConfigError {
                variable: AUTH_ENV,
                value: "sigv4".to_owned(),
                problem: "needs promptops-runtime's `registry-aws` feature".to_owned(),
            })
        }
    };
    let fetcher = http::HttpFetcher::with_auth(&url, auth).map_err(|err| ConfigError {
        variable: URL_ENV,
        value: url,
        problem: err.to_string(),
    })?;
    Ok(Box::new(fetcher))
}

#[cfg(not(feature = "registry-client"))]
fn http_tier(url: String, _auth: AuthChoice) -> Result<Box<dyn Fetch>, ConfigError> {
    Err(ConfigError {
        variable: URL_ENV,
        value: url,
        problem: "is set, but this build has no registry client (promptops-runtime \
                  feature `registry-client`)"
            .to_owned(),
    })
}

#[cfg(feature = "registry-aws")]
fn lambda_tier(function: String) -> Result<Box<dyn Fetch>, ConfigError> {
    let fetcher = lambda::LambdaFetcher::new(&function).map_err(|err| ConfigError {
        variable: FUNCTION_ENV,
        value: function,
        problem: err.to_string(),
    })?;
    Ok(Box::new(fetcher))
}

#[cfg(not(feature = "registry-aws"))]
fn lambda_tier(function: String) -> Result<Box<dyn Fetch>, ConfigError> {
    Err(ConfigError {
        variable: FUNCTION_ENV,
        value: function,
        problem: "is set, but this build has no direct Lambda invoke tier (promptops-runtime \
                  feature `registry-aws`); build with it, or set PROMPT_REGISTRY_URL to the \
                  registry's URL instead"
            .to_owned(),
    })
}

/// One fetch for `entry` through the tiers, then the cache update and the wake-up.
async fn fetch_task(inner: Arc<Inner>, entry: Arc<Entry>) {
    let etag = entry
        .lock()
        .cached
        .as_ref()
        .and_then(|cached| cached.etag.clone());
    let request = FetchRequest {
        id: &entry.compiled.id,
        version: entry.pin,
        mode: &inner.config.mode,
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
        match &update {
            Ok(()) => *breaker = Breaker::default(),
            Err(_) => {
                breaker.failures += 1;
                if breaker.failures >= inner.config.breaker_threshold {
                    breaker.open_until = Some(now + inner.config.breaker_cooldown);
                }
            }
        }
    }
    if let Err((source, err)) = update {
        tracing::warn!(
            target: events::TARGET,
            event = events::EVENT_REGISTRY_UNAVAILABLE,
            prompt_id = entry.compiled.id.as_str(),
            source = source.as_str(),
            error_message = err.message.as_str(),
        );
    }
    entry.lock().inflight = false;
    entry.done.notify_waiters();
}

/// Decodes a registry document and checks it against the compiled contract.
fn accept(compiled: &'static PromptDef, body: &str) -> Result<Answer, FetchError> {
    let remote = wire::from_json(body)
        .map_err(|err| FetchError::new(format!("the registry's answer does not decode: {err}")))?;
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

/// Remote definitions in use, by id, version and content hash, kept for the life of the
/// process: a handle's definition is `&'static`, and a process meets few versions.
static ADOPTED: LazyLock<Mutex<HashMap<AdoptedKey, &'static PromptDef>>> =
    LazyLock::new(|| Mutex::new(HashMap::new()));

/// An adopted definition's id, version and content hash.
type AdoptedKey = (String, String, String);

/// The `'static` definition a compatible remote version runs as: the compiled prompt itself
/// when the text is the same, else the remote one with every variable sensitive on either
/// side marked sensitive, and the compiled model when the registry's copy names none.
fn adopt(compiled: &'static PromptDef, mut remote: PromptDef) -> &'static PromptDef {
    if remote.version == compiled.version && remote.content_hash == compiled.content_hash {
        return compiled;
    }
    let key = (
        remote.id.clone(),
        remote.version.to_string(),
        remote.content_hash.clone(),
    );
    let mut adopted = ADOPTED
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(def) = adopted.get(&key) {
        return def;
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
    let def: &'static PromptDef = Box::leak(Box::new(remote));
    adopted.insert(key, def);
    def
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
    use super::*;

    #[test]
    fn configuration_reads_the_documented_variables() {
        let vars: HashMap<&str, &str> = [
            (MODE_ENV, "Staging"),
            (TTL_ENV, "1000"),
            (MAX_STALE_ENV, "2000"),
            (COLD_BUDGET_ENV, "30"),
            (WARM_BUDGET_ENV, "5"),
            (PIN_ENV, "a.b@2, c@1.2"),
        ]
        .into();
        let config =
            ResolverConfig::from_lookup(|name| vars.get(name).map(|v| (*v).to_owned())).unwrap();
        assert_eq!(config.mode, "staging");
        assert_eq!(config.ttl, Duration::from_secs(1));
        assert_eq!(config.max_stale, Duration::from_secs(2));
        assert_eq!(config.cold_budget, Duration::from_millis(30));
        assert_eq!(config.warm_budget, Duration::from_millis(5));
        assert_eq!(config.pins.get("a.b"), Some(&Version::new(2)));
        assert_eq!(
            config.pins.get("c").map(ToString::to_string).as_deref(),
            Some("1.2")
        );

        let defaults = ResolverConfig::from_lookup(|_| None).unwrap();
        assert_eq!(defaults, ResolverConfig::default());
        assert_eq!(defaults.mode, "production");
        assert_eq!(defaults.ttl, Duration::from_secs(60));
        assert_eq!(defaults.cold_budget, Duration::from_millis(250));
        assert_eq!(defaults.warm_budget, Duration::ZERO);

        for (name, value, needle) in [
            (MODE_ENV, "prod", "is not one of"),
            (TTL_ENV, "1s", "milliseconds"),
            (PIN_ENV, "a.b", "id@version"),
            (PIN_ENV, "a.b@x", "version"),
        ] {
            let err =
                ResolverConfig::from_lookup(|n| (n == name).then(|| value.to_owned())).unwrap_err();
            assert_eq!(err.variable, name);
            assert!(err.to_string().contains(needle), "{err}");
        }
    }

    /// `AuthChoice::from_lookup` over `vars`, as `Resolver::from_lookup` calls it.
    fn auth(url: &str, vars: &[(&str, &str)]) -> Result<AuthChoice, ConfigError> {
        let set = |name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
                .filter(|value| !value.trim().is_empty())
        };
        AuthChoice::from_lookup(url, &set)
    }

    const FUNCTION_URL: &str = "https://abc123.lambda-url.eu-west-1.on.aws/";

    #[test]
    fn the_http_tier_authenticates_as_configured() {
        let local = "http://127.0.0.1:8080";
        let bearer = AuthChoice::Bearer("t0k3n".to_owned());
        // Defaults: the token if set, else SigV4 for a Function URL, else nothing.
        assert_eq!(auth(local, &[]).unwrap(), AuthChoice::None);
        assert_eq!(auth(local, &[(TOKEN_ENV, "t0k3n")]).unwrap(), bearer);
        assert_eq!(auth(FUNCTION_URL, &[(TOKEN_ENV, "t0k3n")]).unwrap(), bearer);
        let function_default = auth(FUNCTION_URL, &[(AWS_REGION, "us-east-1")]);
        if cfg!(feature = "registry-aws") {
            // The Function URL's own region wins over AWS_REGION.
            assert_eq!(
                function_default.unwrap(),
                AuthChoice::SigV4 {
                    region: "eu-west-1".to_owned()
                }
            );
        } else {
            let err = function_default.unwrap_err();
            assert_eq!(err.variable, URL_ENV);
            assert!(err.to_string().contains("`registry-aws` feature"), "{err}");
        }

        // Asked for explicitly.
        assert_eq!(
            auth(FUNCTION_URL, &[(AUTH_ENV, "none"), (TOKEN_ENV, "t0k3n")]).unwrap(),
            AuthChoice::None
        );
        assert_eq!(
            auth(
                FUNCTION_URL,
                &[(AUTH_ENV, " Bearer "), (TOKEN_ENV, "t0k3n")]
            )
            .unwrap(),
            bearer
        );
        for (vars, needle) in [
            (
                &[(AUTH_ENV, "bearer")][..],
                "needs a token in PROMPTOPS_REGISTRY_TOKEN",
            ),
            (
                &[(AUTH_ENV, "iam")][..],
                "is not one of bearer, sigv4, none",
            ),
        ] {
            let err = auth(local, vars).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains(needle), "{err}");
        }
        let sigv4 = |vars: &[(&str, &str)]| auth(local, &[&[(AUTH_ENV, "sigv4")], vars].concat());
        if cfg!(feature = "registry-aws") {
            let region = |region: &str| AuthChoice::SigV4 {
                region: region.to_owned(),
            };
            assert_eq!(
                sigv4(&[(AWS_REGION, "eu-north-1")]).unwrap(),
                region("eu-north-1")
            );
            assert_eq!(
                sigv4(&[("AWS_DEFAULT_REGION", "ap-south-1")]).unwrap(),
                region("ap-south-1")
            );
            assert_eq!(
                sigv4(&[(AWS_REGION, "eu-north-1"), (TOKEN_ENV, "t0k3n")]).unwrap(),
                region("eu-north-1"),
                "an explicit sigv4 wins over a token"
            );
            let err = sigv4(&[]).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains("needs a region"), "{err}");
            assert!(err.to_string().contains("AWS_REGION"), "{err}");
        } else {
            let err = sigv4(&[(AWS_REGION, "eu-north-1")]).unwrap_err();
            assert_eq!(err.variable, AUTH_ENV);
            assert!(err.to_string().contains("`registry-aws` feature"), "{err}");
        }
        assert!(!format!("{bearer:?}").contains("t0k3n"));
    }

    const AWS_REGION: &str = "AWS_REGION";

    #[cfg(feature = "registry-aws")]
    #[test]
    fn the_resolver_from_the_environment_signs_for_a_function_url() {
        let resolver =
            Resolver::from_lookup(|name| (name == URL_ENV).then(|| FUNCTION_URL.to_owned()))
                .unwrap()
                .expect("configured");
        let text = format!("{resolver:?}");
        assert!(
            text.contains(r#"SigV4(SigV4Auth { region: "eu-west-1""#),
            "{text}"
        );
        let resolver = Resolver::from_lookup(|name| match name {
            URL_ENV => Some(FUNCTION_URL.to_owned()),
            TOKEN_ENV => Some("t0k3n".to_owned()),
            _ => None,
        })
        .unwrap()
        .expect("configured");
        let text = format!("{resolver:?}");
        assert!(
            text.contains("Bearer([redacted])") && !text.contains("t0k3n"),
            "{text}"
        );
    }

    #[cfg(feature = "registry-aws")]
    #[test]
    fn function_urls_are_recognised_as_promptops_aws_does() {
        for url in [
            FUNCTION_URL,
            "https://abc.lambda-url.us-east-1.on.aws",
            "HTTPS://ABC.Lambda-Url.AP-SOUTHEAST-2.on.aws:443/prompts/x?mode=dev",
            " https://x.lambda-url.eu-central-1.on.aws/ ",
            "http://abc.lambda-url.eu-west-1.on.aws/",
            "https://abc.lambda-url.eu-west-1.on.aws:8443/",
            "https://lambda-url.eu-west-1.on.aws/",
            "https://abc.lambda-url..on.aws/",
            "https://a.b.lambda-url.eu-west-1.on.aws/",
            "https://abc.lambda-url.eu-west-1.on.aws.example.com/",
            "https://example.com/abc.lambda-url.eu-west-1.on.aws",
            "http://127.0.0.1:8080",
            "abc.lambda-url.eu-west-1.on.aws",
        ] {
            assert_eq!(
                function_url_region(url),
                promptops_aws::sigv4::function_url_region(url),
                "{url}"
            );
        }
        assert_eq!(
            function_url_region(FUNCTION_URL).as_deref(),
            Some("eu-west-1")
        );
    }

    #[test]
    fn no_registry_variable_means_no_resolver() {
        assert!(Resolver::from_lookup(|_| None).unwrap().is_none());
        assert!(
            Resolver::from_lookup(|n| (n == URL_ENV).then(|| " ".to_owned()))
                .unwrap()
                .is_none()
        );
    }

    #[cfg(not(feature = "registry-aws"))]
    #[test]
    fn a_function_without_the_lambda_tier_is_a_configuration_error() {
        let err = Resolver::from_lookup(|n| (n == FUNCTION_ENV).then(|| "registry".to_owned()))
            .unwrap_err();
        assert_eq!(err.variable, FUNCTION_ENV);
        assert!(err.to_string().contains("registry-aws"), "{err}");
    }

    #[cfg(feature = "registry-aws")]
    #[test]
    fn a_function_comes_before_the_url_and_both_are_tiers() {
        let resolver = Resolver::from_lookup(|n| match n {
            FUNCTION_ENV => Some("arn:aws:lambda:eu-west-1:123456789012:function:registry".into()),
            URL_ENV => Some("https://registry.example".into()),
            _ => None,
        })
        .unwrap()
        .expect("a resolver");
        let sources: Vec<Source> = resolver.inner.tiers.iter().map(|t| t.source()).collect();
        assert_eq!(sources, [Source::Lambda, Source::Http]);
        let err = Resolver::from_lookup(|n| (n == FUNCTION_ENV).then(|| "two words".to_owned()))
            .unwrap_err();
        assert_eq!(err.variable, FUNCTION_ENV);
    }
}
