//! Where versions, the stable pointer and the audit trail live.
//!
//! A [`Store`] offers a few primitives, each atomic on its own; the lifecycle rules (what
//! promote and rollback mean, mode gating, idempotent pushes) are in [`crate::Registry`] and
//! the same for every store:
//!
//! * [`insert_version`](Store::insert_version) creates a version only if the id and version are
//!   new (a conditional put), so a race between two pushes can never overwrite a version;
//! * [`move_pointer`](Store::move_pointer) moves the stable pointer, flips the two versions'
//!   statuses and appends the audit event in one transaction, on the condition that the
//!   pointer is still what the caller read, so concurrent promotes serialize and every reader
//!   sees exactly one stable version at every instant.

use std::future::Future;

use promptops_core::Version;

#[cfg(feature = "aws")]
pub mod dynamo;
pub mod sqlite;

pub use promptops_registry_api::{Action, HistoryEvent, VersionMeta};

/// A stored version: metadata and the prompt document (`promptops_core::wire` JSON).
#[derive(Debug, Clone, PartialEq)]
pub struct VersionRecord {
    /// The prompt id.
    pub prompt_id: String,
    /// Metadata.
    pub meta: VersionMeta,
    /// The prompt in its wire form.
    pub document: String,
}

/// What the stable pointer looks like now: the stable version (if any) and how many moves it
/// has made (the length of the history), which together are the condition of the next move.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Pointer {
    /// The stable version, if one was ever promoted.
    pub stable: Option<Version>,
    /// Number of moves so far.
    pub moves: u64,
}

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The pointer moved since it was read, or a version's state changed: read again.
    #[error("the prompt changed concurrently")]
    Conflict,
    /// The store itself failed (I/O, network, the service).
    #[error("{0}")]
    Backend(String),
}

/// The outcome of [`Store::insert_version`].
#[derive(Debug, Clone, PartialEq)]
pub enum Inserted {
    /// The version is new and now stored.
    Created,
    /// The id and version exist already; this is what is stored.
    Exists(VersionMeta),
}

/// The storage a [`crate::Registry`] runs on.
pub trait Store: Send + Sync + 'static {
    /// Stores a new version unless the id and version exist (as one conditional write).
    fn insert_version(
        &self,
        record: &VersionRecord,
    ) -> impl Future<Output = Result<Inserted, StoreError>> + Send;

    /// One version with its document.
    fn get_version(
        &self,
        id: &str,
        version: &Version,
    ) -> impl Future<Output = Result<Option<VersionRecord>, StoreError>> + Send;

    /// One version's metadata, without its document. Stores that keep the document apart
    /// (DynamoDB + S3) answer from the metadata alone; the default reads the whole version.
    fn get_version_meta(
        &self,
        id: &str,
        version: &Version,
    ) -> impl Future<Output = Result<Option<VersionMeta>, StoreError>> + Send {
        async move {
            Ok(self
                .get_version(id, version)
                .await?
                .map(|record| record.meta))
        }
    }

    /// The stable version's metadata, if there is a stable version. Stores that can read the
    /// pointer and the version in one snapshot do (SQLite); the default reads the pointer, then
    /// the version, and the caller checks the status it got is still `stable`.
    fn stable_version_meta(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Option<VersionMeta>, StoreError>> + Send {
        async move {
            match self.pointer(id).await?.stable {
                Some(stable) => self.get_version_meta(id, &stable).await,
                None => Ok(None),
            }
        }
    }

    /// Every version's metadata, in any order (all pages).
    fn list_versions(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<VersionMeta>, StoreError>> + Send;

    /// The stable pointer.
    fn pointer(&self, id: &str) -> impl Future<Output = Result<Pointer, StoreError>> + Send;

    /// The audit trail, oldest first.
    fn history(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<Vec<HistoryEvent>, StoreError>> + Send;

    /// Atomically: checks the pointer is still `expected` and that `event.to` exists; sets the
    /// pointer to `event.to`; marks `event.to` stable and `event.from` (if any, and different)
    /// deprecated; appends `event`. [`StoreError::Conflict`] if the condition fails.
    fn move_pointer(
        &self,
        id: &str,
        expected: &Pointer,
        event: &HistoryEvent,
    ) -> impl Future<Output = Result<(), StoreError>> + Send;
}
