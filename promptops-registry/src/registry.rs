//! The lifecycle rules, the same on every store: push, resolve by mode, list, diff, promote,
//! roll back, history.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Instant, SystemTime};

use promptops_core::{wire, Status, Version};
use promptops_registry_api::{Diff, MoveOutcome, PushOutcome, VersionsPage};
use serde::Serialize;

use crate::cpu::{too_complex, CpuPool};
use crate::error::RegistryError;
use crate::ids::{check_id, Mode, PromptRef};
use crate::push::Pushed;
use crate::store::{
    Action, HistoryEvent, Inserted, Pointer, Store, StoreError, VersionMeta, VersionRecord,
};

/// How often a pointer move is retried when another move won the race (promotes without
/// `expected_stable` re-read the pointer and try again; each try is one atomic write).
const MOVE_ATTEMPTS: usize = 8;

/// Longest page of `versions`.
pub const MAX_PAGE: usize = 1000;

/// How many decoded documents the registry keeps (see [`Registry`]); when full, it starts over.
const DOCUMENT_CACHE_ENTRIES: usize = 4096;

/// The registry over a store.
///
/// A version's document never changes once stored (released text is immutable), so the
/// registry keeps decoded documents by id, version and content hash: a resolve then reads only
/// the pointer and the version's metadata (its current status) from the store, and not the
/// document (on DynamoDB + S3, no S3 read). The pointer and the status always come from the
/// store, so every reader still sees the one current stable version.
#[derive(Debug, Clone)]
pub struct Registry<S> {
    store: S,
    documents: Arc<Mutex<HashMap<DocumentKey, Arc<Document>>>>,
}

/// Which document: id, canonical version, content hash.
type DocumentKey = (String, String, String);

/// A stored prompt's wire JSON object, validated, without the fields that depend on the
/// version's current state (`status`) or on how it was asked for (`version` is echoed as first
/// pushed, from the metadata).
type Document = serde_json::Map<String, serde_json::Value>;

/// A push as stored: the answer's body, and whether this push created the version (**201**)
/// or replayed an identical one (**200**).
#[derive(Debug, Clone, PartialEq)]
pub struct PushResult {
    /// The answer's body.
    pub outcome: PushOutcome,
    /// `false` for an identical replay.
    pub created: bool,
}

/// A resolved version: its document with the current status, and its ETag.
#[derive(Debug, Clone, PartialEq)]
pub struct Resolved {
    /// The stored metadata, with the current status.
    pub meta: VersionMeta,
    /// The prompt's wire JSON (`promptops_core::wire`), without `status` and `version`.
    document: Arc<Document>,
}

/// The response body of a resolve: the prompt's wire JSON with its current status, the version
/// as first pushed, and when it was pushed.
#[derive(Debug, Serialize)]
pub struct ResolvedBody<'a> {
    /// The version, as first pushed.
    pub version: &'a Version,
    /// Its lifecycle state now.
    pub status: Status,
    /// When it was pushed (RFC 3339, UTC).
    pub created_at: &'a str,
    /// The rest of the wire JSON (`prompt_id`, `content`, `content_hash`, the model fields).
    #[serde(flatten)]
    pub document: &'a Document,
}

impl Resolved {
    /// The response body: the prompt's wire JSON (`prompt_id`, `version`, `content`, `status`,
    /// `content_hash`, the model fields) plus `created_at`.
    pub fn body(&self) -> ResolvedBody<'_> {
        ResolvedBody {
            version: &self.meta.version,
            status: self.meta.status,
            created_at: &self.meta.created_at,
            document: &self.document,
        }
    }

    /// The prompt as the model type, decoded from the wire JSON with the current status.
    pub fn def(&self) -> Result<promptops_core::PromptDef, RegistryError> {
        let stored =
            |source: Box<dyn std::error::Error + Send + Sync>| RegistryError::StoredDocument {
                what: format!("{}@{}", self.document_id(), self.meta.version),
                source,
            };
        let json = serde_json::to_string(&self.body()).map_err(|err| stored(err.into()))?;
        wire::from_json(&json).map_err(|err| stored(err.into()))
    }

    /// The prompt id the stored document names.
    fn document_id(&self) -> &str {
        self.document
            .get("prompt_id")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("?")
    }

    /// The ETag: the content hash, so a version has the same tag in every mode.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.meta.content_hash)
    }
}

/// Now, as RFC 3339 UTC with seconds (`2026-11-25T22:51:00Z`).
pub fn now_rfc3339() -> String {
    humantime::format_rfc3339_seconds(SystemTime::now()).to_string()
}

impl<S: Store> Registry<S> {
    /// A registry over `store`.
    pub fn new(store: S) -> Self {
        Registry {
            store,
            documents: Arc::default(),
        }
    }

    /// The store.
    pub fn store(&self) -> &S {
        &self.store
    }

    /// Stores a pushed prompt as a new draft version. The same id, version and content again
    /// is an idempotent replay; other content under an existing version is a conflict,
    /// because released text is immutable.
    pub async fn push(&self, pushed: Pushed, actor: &str) -> Result<PushResult, RegistryError> {
        let def = pushed.def;
        check_id(&def.id)?;
        let meta = VersionMeta {
            version: def.version,
            status: Status::Draft,
            content_hash: def.content_hash.clone(),
            description: def.description.clone(),
            tags: def.tags.clone(),
            created_at: now_rfc3339(),
            created_by: actor.to_owned(),
        };
        let record = VersionRecord {
            prompt_id: def.id.clone(),
            meta,
            document: wire::to_json(&def),
        };
        match self.store.insert_version(&record).await? {
            Inserted::Created => Ok(PushResult {
                outcome: PushOutcome {
                    prompt_id: def.id,
                    version: def.version,
                    status: Status::Draft,
                    content_hash: def.content_hash,
                },
                created: true,
            }),
            Inserted::Exists(existing) if existing.content_hash == def.content_hash => {
                Ok(PushResult {
                    outcome: PushOutcome {
                        prompt_id: def.id,
                        version: existing.version,
                        status: existing.status,
                        content_hash: existing.content_hash,
                    },
                    created: false,
                })
            }
            Inserted::Exists(existing) => Err(RegistryError::Conflict(format!(
                "{}@{} exists with other content (hash {}); released text is immutable: bump \
                 the version",
                def.id, existing.version, existing.content_hash
            ))),
        }
    }

    async fn record(&self, id: &str, version: &Version) -> Result<VersionRecord, RegistryError> {
        self.store
            .get_version(id, version)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("{id}@{version} does not exist")))
    }

    /// A version's metadata (its current status) from the store, and its document from the
    /// cache, or from the store (validated, then kept) the first time.
    async fn resolved(&self, id: &str, version: &Version) -> Result<Resolved, RegistryError> {
        let meta = self
            .store
            .get_version_meta(id, version)
            .await?
            .ok_or_else(|| RegistryError::NotFound(format!("{id}@{version} does not exist")))?;
        self.with_document(id, meta).await
    }

    /// A version's metadata with its document.
    async fn with_document(&self, id: &str, meta: VersionMeta) -> Result<Resolved, RegistryError> {
        let key = (
            id.to_owned(),
            meta.version.canonical(),
            meta.content_hash.clone(),
        );
        let cached = self
            .documents
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .get(&key)
            .cloned();
        let document = match cached {
            Some(document) => document,
            None => {
                let record = self.record(id, &meta.version).await?;
                let document = Arc::new(Self::document(&record)?);
                let mut documents = self
                    .documents
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if documents.len() >= DOCUMENT_CACHE_ENTRIES {
                    documents.clear();
                }
                documents.insert(key, Arc::clone(&document));
                document
            }
        };
        Ok(Resolved { meta, document })
    }

    /// A stored document, checked by the one wire decoder (format, contract hash), as a JSON
    /// object without its state-dependent fields.
    fn document(record: &VersionRecord) -> Result<Document, RegistryError> {
        let invalid =
            |err: Box<dyn std::error::Error + Send + Sync>| RegistryError::StoredDocument {
                what: format!("{}@{}", record.prompt_id, record.meta.version),
                source: err,
            };
        wire::from_json(&record.document).map_err(|err| invalid(err.into()))?;
        let mut document: Document =
            serde_json::from_str(&record.document).map_err(|err| invalid(err.into()))?;
        document.remove("status");
        document.remove("version");
        Ok(document)
    }

    /// Resolves a reference in a mode. Unpinned: the stable version in staging and production
    /// (404 if none), the newest draft-or-stable version in dev and simulation. Pinned: that
    /// version, except a draft in staging or production (404, its text never shown).
    pub async fn resolve(
        &self,
        reference: &PromptRef,
        mode: Mode,
    ) -> Result<Resolved, RegistryError> {
        let id = &reference.id;
        let resolved = match (reference.version, mode.sees_drafts()) {
            (Some(version), _) => self.resolved(id, &version).await?,
            (None, false) => self.stable(id).await?,
            (None, true) => {
                let newest = self
                    .store
                    .list_versions(id)
                    .await?
                    .into_iter()
                    .filter(|meta| meta.status != Status::Deprecated)
                    .map(|meta| meta.version)
                    .max()
                    .ok_or_else(|| RegistryError::NotFound(format!("{id} has no versions")))?;
                self.resolved(id, &newest).await?
            }
        };
        if resolved.meta.status == Status::Draft && !mode.sees_drafts() {
            return Err(RegistryError::NotFound(format!(
                "{id}@{} is not available in {mode} mode",
                resolved.meta.version
            )));
        }
        Ok(resolved)
    }

    /// The stable version, read consistently. On stores where the pointer and the version are
    /// two reads (DynamoDB), a promote landing between them would hand out a version that just
    /// stopped being stable, so both are read again until the version says `stable`.
    async fn stable(&self, id: &str) -> Result<Resolved, RegistryError> {
        for _ in 0..MOVE_ATTEMPTS {
            let meta =
                self.store.stable_version_meta(id).await?.ok_or_else(|| {
                    RegistryError::NotFound(format!("{id} has no stable version"))
                })?;
            if meta.status == Status::Stable {
                return self.with_document(id, meta).await;
            }
        }
        Err(RegistryError::Contended(format!(
            "{id}: the stable version kept changing while it was read"
        )))
    }

    /// A page of versions in ascending numeric order, after `cursor` (a version), at most
    /// `limit` long.
    pub async fn versions(
        &self,
        id: &str,
        limit: Option<usize>,
        cursor: Option<&str>,
    ) -> Result<VersionsPage, RegistryError> {
        check_id(id)?;
        let limit = limit.unwrap_or(MAX_PAGE).clamp(1, MAX_PAGE);
        let after = cursor.map(crate::ids::parse_version).transpose()?;
        let mut versions = self.store.list_versions(id).await?;
        versions.sort_by_key(|meta| meta.version);
        let mut page: Vec<VersionMeta> = versions
            .into_iter()
            .filter(|meta| after.is_none_or(|after| meta.version > after))
            .take(limit + 1)
            .collect();
        let next_cursor = if page.len() > limit {
            page.truncate(limit);
            page.last().map(|meta| meta.version.canonical())
        } else {
            None
        };
        Ok(VersionsPage {
            prompt_id: id.to_owned(),
            versions: page,
            next_cursor,
        })
    }

    /// A version as first pushed, and its template.
    async fn template(
        &self,
        id: &str,
        version: &Version,
    ) -> Result<(Version, String), RegistryError> {
        let record = self.record(id, version).await?;
        let def =
            wire::from_json(&record.document).map_err(|err| RegistryError::StoredDocument {
                what: format!("{id}@{version}"),
                source: err.into(),
            })?;
        Ok((record.meta.version, def.template))
    }

    /// A unified diff between two versions' templates, computed on `cpu` (off the async
    /// workers, within its deadline: 422 `too_complex` past it, 503 `busy` without a slot).
    pub async fn diff(
        &self,
        id: &str,
        v1: &Version,
        v2: &Version,
        cpu: &CpuPool,
    ) -> Result<Diff, RegistryError> {
        check_id(id)?;
        let (old, new) = (self.template(id, v1).await?, self.template(id, v2).await?);
        let what = format!("diffing {id} {} and {}", old.0, new.0);
        let (prompt_id, limit, name) = (id.to_owned(), cpu.deadline(), what.clone());
        cpu.run(&what, move |deadline| {
            let diff = unified_diff(&prompt_id, (&old.0, &old.1), (&new.0, &new.1), deadline)
                .ok_or_else(|| too_complex(&name, limit))?;
            Ok(Diff {
                prompt_id,
                v1: old.0,
                v2: new.0,
                diff,
            })
        })
        .await
    }

    /// The audit trail, oldest first.
    pub async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, RegistryError> {
        check_id(id)?;
        self.store.history(id).await.map_err(RegistryError::from)
    }

    /// Makes `version` the one stable version. With `expected_stable`, only if that is the
    /// stable version now (`Some(None)`: only if there is none).
    pub async fn promote(
        &self,
        id: &str,
        version: &Version,
        expected_stable: Option<Option<Version>>,
        reason: Option<String>,
        actor: &str,
    ) -> Result<MoveOutcome, RegistryError> {
        check_id(id)?;
        let target = self.record(id, version).await?.meta.version;
        for _ in 0..MOVE_ATTEMPTS {
            let pointer = self.store.pointer(id).await?;
            if let Some(expected) = expected_stable {
                if pointer.stable != expected {
                    return Err(RegistryError::Conflict(format!(
                        "{id}: the stable version is {}, not {}",
                        show(pointer.stable),
                        show(expected)
                    )));
                }
            }
            if pointer.stable == Some(target) {
                return Ok(MoveOutcome {
                    prompt_id: id.to_owned(),
                    version: target,
                    status: Status::Stable,
                    previous_stable: pointer.stable,
                });
            }
            match self
                .move_to(id, &pointer, Action::Promote, target, reason.clone(), actor)
                .await
            {
                Err(RegistryError::Conflict(_)) if expected_stable.is_none() => continue,
                other => return other,
            }
        }
        Err(RegistryError::Conflict(format!(
            "{id}: the stable version kept changing; retry"
        )))
    }

    /// Moves the stable pointer back: to the version that was stable before the current one,
    /// or to `version`, which must have been stable before. The history is a stack: promotes
    /// push, rollbacks pop.
    pub async fn rollback(
        &self,
        id: &str,
        version: Option<&Version>,
        reason: Option<String>,
        actor: &str,
    ) -> Result<MoveOutcome, RegistryError> {
        check_id(id)?;
        if let Some(version) = version {
            // An unknown version is 404 before anything else.
            self.record(id, version).await?;
        }
        for _ in 0..MOVE_ATTEMPTS {
            let pointer = self.store.pointer(id).await?;
            let history = self.store.history(id).await?;
            if history.len() as u64 != pointer.moves {
                continue; // a move landed between the two reads
            }
            let stack = stable_stack(&history);
            let Some((&current, earlier)) = stack.split_last() else {
                return Err(RegistryError::Conflict(format!(
                    "{id} was never promoted: nothing to roll back"
                )));
            };
            let target = match version {
                None => *earlier.last().ok_or_else(|| {
                    RegistryError::Conflict(format!(
                        "{id}@{current} is the first stable version: nothing to roll back to"
                    ))
                })?,
                Some(version) if *version == current => {
                    return Ok(MoveOutcome {
                        prompt_id: id.to_owned(),
                        version: current,
                        status: Status::Stable,
                        previous_stable: Some(current),
                    })
                }
                Some(version) => *earlier.iter().find(|v| *v == version).ok_or_else(|| {
                    RegistryError::Conflict(format!(
                        "{id}@{version} was never stable before {id}@{current}: only earlier \
                         stable versions can be rolled back to"
                    ))
                })?,
            };
            match self
                .move_to(
                    id,
                    &pointer,
                    Action::Rollback,
                    target,
                    reason.clone(),
                    actor,
                )
                .await
            {
                Err(RegistryError::Conflict(_)) => continue,
                other => return other,
            }
        }
        Err(RegistryError::Conflict(format!(
            "{id}: the stable version kept changing; retry"
        )))
    }

    async fn move_to(
        &self,
        id: &str,
        pointer: &Pointer,
        action: Action,
        to: Version,
        reason: Option<String>,
        actor: &str,
    ) -> Result<MoveOutcome, RegistryError> {
        let event = HistoryEvent {
            action,
            from: pointer.stable,
            to,
            actor: actor.to_owned(),
            reason,
            at: now_rfc3339(),
        };
        match self.store.move_pointer(id, pointer, &event).await {
            Ok(()) => Ok(MoveOutcome {
                prompt_id: id.to_owned(),
                version: to,
                status: Status::Stable,
                previous_stable: pointer.stable,
            }),
            Err(StoreError::Conflict) => Err(RegistryError::Conflict(format!(
                "{id}: the stable version changed concurrently"
            ))),
            Err(err) => Err(err.into()),
        }
    }
}

/// A unified diff of two templates headed `--- id/v1` and `+++ id/v2`, or `None` when it is not
/// done by `deadline`. (`similar` stops at the deadline with a coarser diff that is still
/// correct but not minimal; the contract answers 422 `too_complex` rather than hand that out as
/// the diff.)
pub fn unified_diff(
    id: &str,
    (v1, old): (&Version, &str),
    (v2, new): (&Version, &str),
    deadline: Instant,
) -> Option<String> {
    let diff = similar::TextDiff::configure()
        .deadline(deadline)
        .diff_lines(old, new);
    if Instant::now() >= deadline {
        return None;
    }
    Some(
        diff.unified_diff()
            .header(&format!("{id}/{v1}"), &format!("{id}/{v2}"))
            .to_string(),
    )
}

fn show(version: Option<Version>) -> String {
    version.map_or_else(|| "none".to_owned(), |v| v.to_string())
}

/// The stable versions as a stack, replayed from the history: a promote pushes its version, a
/// rollback pops back to its version. The last entry is the stable version now.
pub fn stable_stack(history: &[HistoryEvent]) -> Vec<Version> {
    let mut stack: Vec<Version> = Vec::new();
    for event in history {
        match event.action {
            Action::Promote => stack.push(event.to),
            Action::Rollback => {
                while stack.last().is_some_and(|top| *top != event.to) {
                    stack.pop();
                }
                if stack.is_empty() {
                    stack.push(event.to);
                }
            }
        }
    }
    stack
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(action: Action, to: u32) -> HistoryEvent {
        HistoryEvent {
            action,
            from: None,
            to: Version::new(to),
            actor: "t".into(),
            reason: None,
            at: String::new(),
        }
    }

    #[test]
    fn the_stack_pushes_on_promote_and_pops_on_rollback() {
        use Action::*;
        let stack = |events: &[(Action, u32)]| -> Vec<u32> {
            let history: Vec<HistoryEvent> = events.iter().map(|(a, to)| event(*a, *to)).collect();
            stable_stack(&history).iter().map(Version::major).collect()
        };
        assert_eq!(stack(&[]), Vec::<u32>::new());
        assert_eq!(
            stack(&[(Promote, 1), (Promote, 2), (Promote, 3)]),
            [1, 2, 3]
        );
        assert_eq!(
            stack(&[(Promote, 1), (Promote, 2), (Promote, 3), (Rollback, 2)]),
            [1, 2]
        );
        assert_eq!(
            stack(&[
                (Promote, 1),
                (Promote, 2),
                (Promote, 3),
                (Rollback, 2),
                (Rollback, 1)
            ]),
            [1]
        );
        assert_eq!(
            stack(&[(Promote, 1), (Promote, 2), (Promote, 3), (Rollback, 1)]),
            [1]
        );
        assert_eq!(
            stack(&[(Promote, 1), (Promote, 2), (Rollback, 1), (Promote, 3)]),
            [1, 3]
        );
    }

    #[test]
    fn a_diff_is_unified_or_none_past_its_deadline() {
        let (v1, v2) = (Version::new(1), Version::new(2));
        let later = Instant::now() + std::time::Duration::from_secs(60);
        let diff = unified_diff("a.b", (&v1, "one\ntwo\n"), (&v2, "one\nthree\n"), later).unwrap();
        assert!(diff.starts_with("--- a.b/1\n+++ a.b/2\n"), "{diff}");
        assert!(diff.contains("-two\n+three\n"), "{diff}");
        // Unrelated texts with a deadline already passed: no diff rather than a coarse one.
        let old: String = (0..2000).map(|i| format!("a{i}\n")).collect();
        let new: String = (0..2000).map(|i| format!("b{i}\n")).collect();
        assert_eq!(
            unified_diff("a.b", (&v1, &old), (&v2, &new), Instant::now()),
            None
        );
    }

    #[test]
    fn timestamps_are_rfc3339_utc() {
        let now = now_rfc3339();
        assert_eq!(now.len(), 20, "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }
}
