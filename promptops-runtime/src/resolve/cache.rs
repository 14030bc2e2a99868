//! The resolver's cache: per prompt, the last registry answer with its ETag and when it was
//! last confirmed, and the circuit breaker that stops fetching while the registry fails.

use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use tokio::sync::Notify;

use super::{CacheState, Resolution, Source, Verdict};
use crate::def::{DefRef, PromptDef, Version};

/// A cached registry answer.
#[derive(Debug, Clone)]
pub(super) enum Answer {
    /// A compatible remote version (or the compiled prompt, when the registry's copy is the
    /// same text). Shared, not leaked: replacing the answer drops it once no call holds it.
    Use(DefRef),
    /// The version of a remote answer that breaks the contract (the compiled prompt runs).
    Refused(Version),
    /// No version in this mode.
    Absent,
}

#[derive(Debug, Clone)]
pub(super) struct Cached {
    pub(super) answer: Answer,
    pub(super) etag: Option<String>,
    pub(super) source: Source,
    /// When the registry last confirmed this answer.
    pub(super) validated: Instant,
}

#[derive(Debug, Default)]
pub(super) struct EntryState {
    pub(super) cached: Option<Cached>,
    /// A fetch for this entry is running (single-flight).
    pub(super) inflight: bool,
}

/// One prompt's cache slot.
#[derive(Debug)]
pub(super) struct Entry {
    pub(super) compiled: &'static PromptDef,
    pub(super) pin: Option<Version>,
    pub(super) state: Mutex<EntryState>,
    /// Woken when a fetch for this entry finishes.
    pub(super) done: Notify,
}

impl Entry {
    pub(super) fn lock(&self) -> MutexGuard<'_, EntryState> {
        self.state
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// The circuit breaker over all tiers: after `threshold` consecutive failed fetches it opens
/// for a cooldown, during which no fetch is tried, so a down registry costs calls nothing.
#[derive(Debug, Default)]
pub(super) struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
}

impl Breaker {
    /// Whether a fetch may be tried at `now` (the circuit is closed, or its cooldown is over).
    pub(super) fn allows(&self, now: Instant) -> bool {
        self.open_until.is_none_or(|until| now >= until)
    }

    /// Counts a fetch that finished at `now`: a success closes the circuit, the `threshold`-th
    /// failure in a row opens it for `cooldown`.
    pub(super) fn record(&mut self, ok: bool, now: Instant, threshold: u32, cooldown: Duration) {
        if ok {
            *self = Breaker::default();
        } else {
            self.failures += 1;
            if self.failures >= threshold {
                self.open_until = Some(now + cooldown);
            }
        }
    }
}

/// The resolution a cached answer gives, with `cache` saying how the cache took part.
pub(super) fn answer_resolution(
    compiled: &'static PromptDef,
    cached: &Cached,
    cache: CacheState,
) -> Resolution {
    match &cached.answer {
        Answer::Use(def) => Resolution {
            def: def.clone(),
            source: cached.source,
            cache,
            verdict: Verdict::Compatible,
            registry_version: Some(def.version),
        },
        Answer::Refused(version) => Resolution {
            def: DefRef::Static(compiled),
            source: Source::Compiled,
            cache,
            verdict: Verdict::Incompatible,
            registry_version: Some(*version),
        },
        Answer::Absent => Resolution {
            def: DefRef::Static(compiled),
            source: Source::Compiled,
            cache,
            verdict: Verdict::NotFound,
            registry_version: None,
        },
    }
}
