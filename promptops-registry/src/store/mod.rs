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

/// An underlying error of any type, kept as a [`StoreError`]'s source (the AWS SDK has one
/// error type per operation; boxing them keeps this enum independent of those types).
pub type BoxError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a store operation failed.
///
/// A variant that wraps another error keeps it as its [`source`](std::error::Error::source),
/// and its own message says only what the store was doing (which operation, on which table or
/// bucket): a report that walks the chain ([`StoreError::report`]) then shows every cause once.
/// Strings appear only where an error is born in the store itself.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The pointer moved since it was read, or a version's state changed: read again.
    #[error("the prompt changed concurrently")]
    Conflict,
    /// The SQLite database could not be opened or set up.
    #[error("opening the SQLite database {}", path.display())]
    Open {
        /// The database file.
        path: std::path::PathBuf,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// A SQLite statement or transaction failed.
    #[error("SQLite: {operation}")]
    Sqlite {
        /// What the store was doing, naming the table (`reading pointers`).
        operation: &'static str,
        /// What SQLite said.
        #[source]
        source: rusqlite::Error,
    },
    /// The blocking task that ran a SQLite write did not finish (it panicked, or the runtime
    /// is shutting down).
    #[error("SQLite: the write task did not finish")]
    Task(#[from] tokio::task::JoinError),
    /// A call to an AWS service failed.
    #[error("{operation} on {resource}")]
    Aws {
        /// The service and operation (`DynamoDB GetItem`).
        operation: &'static str,
        /// The table, bucket or object (`bucket/key`) it was called on.
        resource: String,
        /// The SDK's error.
        #[source]
        source: BoxError,
    },
    /// What the store holds is not what it wrote: a row or item that does not decode, an
    /// object whose hash differs from its version's.
    #[error("{what}")]
    Corrupt {
        /// Which record, and what is wrong with it.
        what: String,
        /// The decoding error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
    /// The store failed for a reason of its own (a key it refuses to build, a value it cannot
    /// encode, a test's injected fault).
    #[error("{what}")]
    Failed {
        /// What failed.
        what: String,
        /// The underlying error, when there is one.
        #[source]
        source: Option<BoxError>,
    },
}

impl StoreError {
    /// A record that does not decode: `what` names it, `source` says why.
    pub fn corrupt(what: impl Into<String>, source: impl Into<BoxError>) -> StoreError {
        StoreError::Corrupt {
            what: what.into(),
            source: Some(source.into()),
        }
    }

    /// A failure born in the store, with no underlying error.
    pub fn failed(what: impl Into<String>) -> StoreError {
        StoreError::Failed {
            what: what.into(),
            source: None,
        }
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn store_errors_keep_their_sources_and_report_the_whole_chain() {
        // The registry's error type will wrap a StoreError: it must be a thread-safe error.
        fn is_error<E: std::error::Error + Send + Sync + 'static>(_: &E) {}

        let dir =
            std::env::temp_dir().join(format!("promptops-no-such-dir-{}", std::process::id()));
        let err = sqlite::SqliteStore::open(dir.join("deeper").join("registry.db"))
            .expect_err("the directory does not exist");
        is_error(&err);
        assert!(matches!(err, StoreError::Open { .. }), "{err:?}");
        let source = std::error::Error::source(&err).expect("SQLite's error is kept");
        assert!(source.downcast_ref::<rusqlite::Error>().is_some());
        // The message says what and where; the report adds SQLite's own words once.
        assert!(err.to_string().contains("registry.db"), "{err}");
        assert!(
            promptops_core::error::chain(&err).starts_with(&format!("{err}: {source}")),
            "{}",
            promptops_core::error::chain(&err)
        );

        let corrupt = StoreError::corrupt(
            "stored version \"x\"",
            "x".parse::<Version>().expect_err("not a version"),
        );
        assert!(std::error::Error::source(&corrupt).is_some());
        assert!(
            promptops_core::error::chain(&corrupt).starts_with("stored version \"x\": "),
            "{}",
            promptops_core::error::chain(&corrupt)
        );
        assert_eq!(
            promptops_core::error::chain(&StoreError::Conflict),
            "the prompt changed concurrently"
        );
    }
}
