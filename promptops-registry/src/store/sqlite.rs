//! The embedded store: one SQLite file (rusqlite, bundled SQLite).
//!
//! The database runs in WAL mode with `synchronous=FULL`: a write is acknowledged only after
//! its transaction is in the log on disk, so `kill -9` (or a power cut) never loses an
//! acknowledged write. Each primitive is one transaction; `move_pointer` takes the write lock
//! up front (`BEGIN IMMEDIATE`), so concurrent moves serialize and the losers see the moved
//! pointer. Reads use their own connections, so they never wait for a write's fsync.
//!
//! # The stable-pointer cache
//!
//! A production resolve asks for the stable version (`stable_version_meta`) on every request,
//! and the answer changes only when the pointer moves. Each reader connection therefore keeps
//! the stable versions it has read, tagged with SQLite's `PRAGMA data_version` at the time, and
//! answers from them while `data_version` on that connection is unchanged. That one pragma
//! replaces a read transaction with two B-tree lookups, the row decoding and the version
//! parsing (what it saves is measured in BENCHMARKS.md).
//!
//! Why this stays right when another process writes the file: `data_version` on a connection
//! changes whenever *any other* connection has committed to the database, in this process or
//! another, and it is read in a read transaction of its own, which sees every commit that
//! returned before it began. A reader connection never writes (all writes go through the
//! writer connection), so no commit escapes it: this process's own promotes arrive the same
//! way as a second process's. So:
//!
//! * a resolve that begins after a move was acknowledged (by any process) reads a new
//!   `data_version`, drops the cache and reads the pointer from the database;
//! * a cache entry is filled on the same connection, under the same lock, after the pragma, so
//!   it is never older than the `data_version` it is tagged with (it may be newer, when a
//!   commit lands between the two: then that read itself moved the connection's
//!   `data_version`, and the next resolve drops the entry);
//! * the pragma's read transaction ends before the call returns (the statement is reset), so a
//!   connection never sits on an old snapshot.
//!
//! The cache is per connection because `data_version` values mean nothing across connections.

use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex, MutexGuard};

use promptops_core::{Status, Version};
use rusqlite::{params, Connection, OptionalExtension, TransactionBehavior};

use super::{HistoryEvent, Inserted, Pointer, Store, StoreError, VersionMeta, VersionRecord};
use crate::store::Action;

const SCHEMA: &str = "
CREATE TABLE IF NOT EXISTS versions (
    prompt_id    TEXT NOT NULL,
    version_key  TEXT NOT NULL,
    version      TEXT NOT NULL,
    status       TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    description  TEXT,
    tags         TEXT NOT NULL,
    created_at   TEXT NOT NULL,
    created_by   TEXT NOT NULL,
    document     TEXT NOT NULL,
    PRIMARY KEY (prompt_id, version_key)
);
CREATE TABLE IF NOT EXISTS pointers (
    prompt_id TEXT PRIMARY KEY,
    stable    TEXT,
    moves     INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS history (
    prompt_id    TEXT NOT NULL,
    seq          INTEGER NOT NULL,
    action       TEXT NOT NULL,
    from_version TEXT,
    to_version   TEXT NOT NULL,
    actor        TEXT NOT NULL,
    reason       TEXT,
    at           TEXT NOT NULL,
    PRIMARY KEY (prompt_id, seq)
);
";

/// Readers kept open beside the writer.
const READERS: usize = 4;

/// Most prompts whose stable version one reader connection keeps; when full, it starts over
/// (ids that do not exist are cached as "none", so a scan of made-up ids must not grow it).
const STABLE_CACHE_ENTRIES: usize = 4096;

/// The embedded SQLite store.
#[derive(Clone)]
pub struct SqliteStore {
    writer: Arc<Mutex<Connection>>,
    readers: Arc<Vec<Mutex<Reader>>>,
}

/// A reader connection and the stable versions read on it (see the module docs).
struct Reader {
    connection: Connection,
    stable: StableCache,
}

/// Stable versions by prompt id (`None`: no stable version), valid while the connection's
/// `PRAGMA data_version` is `data_version`.
#[derive(Default)]
struct StableCache {
    data_version: Option<i64>,
    entries: HashMap<String, Option<VersionMeta>>,
}

impl StableCache {
    /// The cached answer for `id`, if the database has not changed since it was read; drops
    /// every entry when it has.
    fn get(&mut self, data_version: i64, id: &str) -> Option<&Option<VersionMeta>> {
        if self.data_version != Some(data_version) {
            self.entries.clear();
            self.data_version = Some(data_version);
            return None;
        }
        self.entries.get(id)
    }

    fn insert(&mut self, id: &str, stable: Option<VersionMeta>) {
        if self.entries.len() >= STABLE_CACHE_ENTRIES {
            self.entries.clear();
        }
        self.entries.insert(id.to_owned(), stable);
    }
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore").finish_non_exhaustive()
    }
}

/// Maps a SQLite failure to [`StoreError::Sqlite`], saying what the store was doing.
fn sqlite(operation: &'static str) -> impl FnOnce(rusqlite::Error) -> StoreError {
    move |source| StoreError::Sqlite { operation, source }
}

fn lock<T>(connection: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back
    // on drop), so a poisoned lock is still usable.
    connection
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn open_connection(path: &Path) -> Result<Connection, StoreError> {
    let opened = (|| {
        let connection = Connection::open(path)?;
        connection.busy_timeout(std::time::Duration::from_secs(10))?;
        connection.execute_batch(
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL; PRAGMA foreign_keys=ON;",
        )?;
        Ok(connection)
    })();
    opened.map_err(|source| StoreError::Open {
        path: path.to_owned(),
        source,
    })
}

impl SqliteStore {
    /// Opens (creating if needed) the database at `path`.
    pub fn open(path: impl AsRef<Path>) -> Result<Self, StoreError> {
        let path = path.as_ref();
        let writer = open_connection(path)?;
        writer
            .execute_batch(SCHEMA)
            .map_err(|source| StoreError::Open {
                path: path.to_owned(),
                source,
            })?;
        let readers = (0..READERS)
            .map(|_| {
                open_connection(path).map(|connection| {
                    Mutex::new(Reader {
                        connection,
                        stable: StableCache::default(),
                    })
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(SqliteStore {
            writer: Arc::new(Mutex::new(writer)),
            readers: Arc::new(readers),
        })
    }

    /// Runs `work` on the writer connection, off the async executor (a commit waits for
    /// fsync).
    async fn write<T: Send + 'static>(
        &self,
        work: impl FnOnce(&mut Connection) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let writer = Arc::clone(&self.writer);
        tokio::task::spawn_blocking(move || work(&mut lock(&writer))).await?
    }

    /// A free reader (the first one not in use, else the first). Reads in WAL mode take
    /// microseconds and never wait for the writer, so they run on the calling thread.
    fn reader(&self) -> MutexGuard<'_, Reader> {
        for reader in self.readers.iter() {
            if let Ok(reader) = reader.try_lock() {
                return reader;
            }
        }
        lock(&self.readers[0])
    }

    /// Runs `work` on a free reader connection.
    fn read<T>(
        &self,
        work: impl FnOnce(&Connection) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        work(&self.reader().connection)
    }
}

/// The connection's `PRAGMA data_version`: it changes when another connection commits.
fn data_version(connection: &Connection) -> Result<i64, StoreError> {
    connection
        .prepare_cached("PRAGMA data_version")
        .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
        .map_err(sqlite("reading data_version"))
}

/// The stable version's metadata, the pointer and the version read in one snapshot.
fn read_stable(connection: &Connection, id: &str) -> Result<Option<VersionMeta>, StoreError> {
    let snapshot = connection
        .unchecked_transaction()
        .map_err(sqlite("beginning a read transaction"))?;
    let Some(stable) = read_pointer(&snapshot, id)?.stable else {
        return Ok(None);
    };
    snapshot
        .prepare_cached(GET_VERSION_META)
        .and_then(|mut statement| {
            statement
                .query_row(params![id, stable.canonical()], meta_from_row)
                .optional()
        })
        .map_err(sqlite("reading versions"))?
        .transpose()
}

fn parse_version(text: &str) -> Result<Version, StoreError> {
    text.parse()
        .map_err(|err| StoreError::corrupt(format!("stored version {text:?}"), err))
}

fn parse_status(text: &str) -> Result<Status, StoreError> {
    Status::parse(text).ok_or_else(|| StoreError::Corrupt {
        what: format!("stored status {text:?}"),
        source: None,
    })
}

/// Columns of `versions` read into [`VersionMeta`], in [`META_COLUMNS`] order.
const META_COLUMNS: &str =
    "version, status, content_hash, description, tags, created_at, created_by";

/// One version with its document: [`META_COLUMNS`], then the document (column 7).
const GET_VERSION: &str = "SELECT version, status, content_hash, description, tags, created_at, \
     created_by, document FROM versions WHERE prompt_id = ?1 AND version_key = ?2";

/// One version's metadata ([`META_COLUMNS`]).
const GET_VERSION_META: &str = "SELECT version, status, content_hash, description, tags, \
     created_at, created_by FROM versions WHERE prompt_id = ?1 AND version_key = ?2";

/// A row's [`META_COLUMNS`]: SQLite's errors outside (the caller names the query), what does
/// not decode inside.
fn meta_from_row(row: &rusqlite::Row<'_>) -> rusqlite::Result<Result<VersionMeta, StoreError>> {
    let version: String = row.get(0)?;
    let status: String = row.get(1)?;
    let tags: String = row.get(4)?;
    let (content_hash, description, created_at, created_by) =
        (row.get(2)?, row.get(3)?, row.get(5)?, row.get(6)?);
    Ok((|| {
        Ok(VersionMeta {
            version: parse_version(&version)?,
            status: parse_status(&status)?,
            content_hash,
            description,
            tags: serde_json::from_str(&tags)
                .map_err(|err| StoreError::corrupt(format!("stored tags {tags:?}"), err))?,
            created_at,
            created_by,
        })
    })())
}

fn read_pointer(connection: &Connection, id: &str) -> Result<Pointer, StoreError> {
    let row: Option<(Option<String>, i64)> = connection
        .prepare_cached("SELECT stable, moves FROM pointers WHERE prompt_id = ?1")
        .and_then(|mut statement| {
            statement
                .query_row(params![id], |row| Ok((row.get(0)?, row.get(1)?)))
                .optional()
        })
        .map_err(sqlite("reading pointers"))?;
    match row {
        None => Ok(Pointer::default()),
        Some((stable, moves)) => Ok(Pointer {
            stable: stable.as_deref().map(parse_version).transpose()?,
            moves: u64::try_from(moves)
                .map_err(|err| StoreError::corrupt(format!("stored move count {moves}"), err))?,
        }),
    }
}

impl Store for SqliteStore {
    async fn insert_version(&self, record: &VersionRecord) -> Result<Inserted, StoreError> {
        let record = record.clone();
        self.write(move |connection| {
            let meta = &record.meta;
            let tags = serde_json::to_string(&meta.tags).map_err(|err| StoreError::Failed {
                what: "encoding the tags".to_owned(),
                source: Some(err.into()),
            })?;
            let inserted = connection
                .execute(
                    "INSERT INTO versions (prompt_id, version_key, version, status, content_hash,
                         description, tags, created_at, created_by, document)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)
                     ON CONFLICT (prompt_id, version_key) DO NOTHING",
                    params![
                        record.prompt_id,
                        meta.version.canonical(),
                        meta.version.to_string(),
                        meta.status.as_str(),
                        meta.content_hash,
                        meta.description,
                        tags,
                        meta.created_at,
                        meta.created_by,
                        record.document,
                    ],
                )
                .map_err(sqlite("inserting into versions"))?;
            if inserted == 1 {
                return Ok(Inserted::Created);
            }
            let existing = connection
                .query_row(
                    GET_VERSION_META,
                    params![record.prompt_id, meta.version.canonical()],
                    meta_from_row,
                )
                .map_err(sqlite("reading versions"))??;
            Ok(Inserted::Exists(existing))
        })
        .await
    }

    async fn get_version(
        &self,
        id: &str,
        version: &Version,
    ) -> Result<Option<VersionRecord>, StoreError> {
        self.read(|connection| {
            let row = connection
                .prepare_cached(GET_VERSION)
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id, version.canonical()], |row| {
                            Ok((meta_from_row(row)?, row.get::<_, String>(7)?))
                        })
                        .optional()
                })
                .map_err(sqlite("reading versions"))?;
            match row {
                None => Ok(None),
                Some((meta, document)) => Ok(Some(VersionRecord {
                    prompt_id: id.to_owned(),
                    meta: meta?,
                    document,
                })),
            }
        })
    }

    async fn get_version_meta(
        &self,
        id: &str,
        version: &Version,
    ) -> Result<Option<VersionMeta>, StoreError> {
        self.read(|connection| {
            connection
                .prepare_cached(GET_VERSION_META)
                .and_then(|mut statement| {
                    statement
                        .query_row(params![id, version.canonical()], meta_from_row)
                        .optional()
                })
                .map_err(sqlite("reading versions"))?
                .transpose()
        })
    }

    async fn stable_version_meta(&self, id: &str) -> Result<Option<VersionMeta>, StoreError> {
        let mut reader = self.reader();
        let Reader { connection, stable } = &mut *reader;
        // First the pragma, then (on a miss) the read, on this connection and under its lock:
        // see the module docs for why the entry is then never stale.
        let version = data_version(connection)?;
        if let Some(cached) = stable.get(version, id) {
            return Ok(cached.clone());
        }
        let read = read_stable(connection, id)?;
        stable.insert(id, read.clone());
        Ok(read)
    }

    async fn list_versions(&self, id: &str) -> Result<Vec<VersionMeta>, StoreError> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached(&format!(
                    "SELECT {META_COLUMNS} FROM versions WHERE prompt_id = ?1"
                ))
                .map_err(sqlite("listing versions"))?;
            let rows = statement
                .query_map(params![id], meta_from_row)
                .map_err(sqlite("listing versions"))?;
            rows.map(|row| row.map_err(sqlite("listing versions"))?)
                .collect()
        })
    }

    async fn pointer(&self, id: &str) -> Result<Pointer, StoreError> {
        self.read(|connection| read_pointer(connection, id))
    }

    async fn history(&self, id: &str) -> Result<Vec<HistoryEvent>, StoreError> {
        self.read(|connection| {
            let mut statement = connection
                .prepare_cached(
                    "SELECT action, from_version, to_version, actor, reason, at FROM history
                     WHERE prompt_id = ?1 ORDER BY seq",
                )
                .map_err(sqlite("reading history"))?;
            let rows = statement
                .query_map(params![id], |row| {
                    Ok((
                        row.get::<_, String>(0)?,
                        row.get::<_, Option<String>>(1)?,
                        row.get::<_, String>(2)?,
                        row.get::<_, String>(3)?,
                        row.get::<_, Option<String>>(4)?,
                        row.get::<_, String>(5)?,
                    ))
                })
                .map_err(sqlite("reading history"))?;
            rows.map(|row| {
                let (action, from, to, actor, reason, at) =
                    row.map_err(sqlite("reading history"))?;
                Ok(HistoryEvent {
                    action: Action::parse(&action).ok_or_else(|| StoreError::Corrupt {
                        what: format!("stored action {action:?}"),
                        source: None,
                    })?,
                    from: from.as_deref().map(parse_version).transpose()?,
                    to: parse_version(&to)?,
                    actor,
                    reason,
                    at,
                })
            })
            .collect()
        })
    }

    async fn move_pointer(
        &self,
        id: &str,
        expected: &Pointer,
        event: &HistoryEvent,
    ) -> Result<(), StoreError> {
        let (id, expected, event) = (id.to_owned(), expected.clone(), event.clone());
        self.write(move |connection| {
            let tx = connection
                .transaction_with_behavior(TransactionBehavior::Immediate)
                .map_err(sqlite("beginning a write transaction"))?;
            let now = read_pointer(&tx, &id)?;
            if now != expected {
                return Err(StoreError::Conflict);
            }
            let target = tx
                .execute(
                    "UPDATE versions SET status = 'stable' WHERE prompt_id = ?1 AND version_key = ?2",
                    params![id, event.to.canonical()],
                )
                .map_err(sqlite("updating versions"))?;
            if target != 1 {
                return Err(StoreError::Conflict);
            }
            if let Some(from) = event.from.filter(|from| *from != event.to) {
                tx.execute(
                    "UPDATE versions SET status = 'deprecated' WHERE prompt_id = ?1 AND version_key = ?2",
                    params![id, from.canonical()],
                )
                .map_err(sqlite("updating versions"))?;
            }
            let next = expected.moves.saturating_add(1);
            let moves = i64::try_from(next).map_err(|err| StoreError::Failed {
                what: format!("move count {next} out of range"),
                source: Some(err.into()),
            })?;
            tx.execute(
                "INSERT INTO pointers (prompt_id, stable, moves) VALUES (?1, ?2, ?3)
                 ON CONFLICT (prompt_id) DO UPDATE SET stable = excluded.stable, moves = excluded.moves",
                params![id, event.to.to_string(), moves],
            )
            .map_err(sqlite("updating pointers"))?;
            tx.execute(
                "INSERT INTO history (prompt_id, seq, action, from_version, to_version, actor, reason, at)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
                params![
                    id,
                    moves,
                    event.action.as_str(),
                    event.from.map(|v| v.to_string()),
                    event.to.to_string(),
                    event.actor,
                    event.reason,
                    event.at,
                ],
            )
            .map_err(sqlite("appending to history"))?;
            tx.commit().map_err(sqlite("committing a pointer move"))
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_version_queries_read_the_metadata_columns_in_order() {
        let by_key = "FROM versions WHERE prompt_id = ?1 AND version_key = ?2";
        assert_eq!(GET_VERSION_META, format!("SELECT {META_COLUMNS} {by_key}"));
        assert_eq!(
            GET_VERSION,
            format!("SELECT {META_COLUMNS}, document {by_key}")
        );
    }
}
