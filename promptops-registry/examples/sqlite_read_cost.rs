//! What one stable-pointer read costs on the embedded store, in CPU time per call (issue #22):
//!
//! * `PRAGMA data_version` alone: the check the store's pointer cache makes on every resolve;
//! * the uncached read: a read transaction with the pointer lookup and the version-metadata
//!   lookup, rows decoded (the store's SQL, run here on a plain connection);
//! * `SqliteStore::stable_version_meta`, answered from the cache (the check plus a clone).
//!
//! CPU time is the calling thread's (`/proc/thread-self/schedstat`), so other processes on a
//! busy machine slow the run down but change the figures much less than wall time.
//!
//! Usage: `cargo run --release -p promptops-registry --example sqlite_read_cost [ITERATIONS]`

use std::time::Duration;

use promptops_core::{Status, Version};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::store::{Action, HistoryEvent, Store, VersionMeta, VersionRecord};
use rusqlite::{params, Connection, OptionalExtension};

/// This thread's CPU time so far.
fn thread_cpu() -> Duration {
    let text = std::fs::read_to_string("/proc/thread-self/schedstat").unwrap_or_default();
    let nanos = text
        .split_whitespace()
        .next()
        .and_then(|field| field.parse().ok())
        .unwrap_or(0);
    Duration::from_nanos(nanos)
}

/// CPU nanoseconds per call of `work`, the best of five runs of `iterations` calls (the best
/// run is the one least disturbed by other work on the machine).
fn per_call(iterations: u32, mut work: impl FnMut()) -> f64 {
    (0..5)
        .map(|_| {
            let start = thread_cpu();
            for _ in 0..iterations {
                work();
            }
            (thread_cpu() - start).as_nanos() as f64 / f64::from(iterations)
        })
        .fold(f64::INFINITY, f64::min)
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let iterations: u32 = match std::env::args().nth(1) {
        Some(text) => text.parse()?,
        None => 100_000,
    };
    let dir = std::env::temp_dir().join(format!("promptops-read-cost-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let path = dir.join("registry.db");
    let runtime = tokio::runtime::Builder::new_current_thread().build()?;

    let store = SqliteStore::open(&path)?;
    runtime.block_on(async {
        let record = VersionRecord {
            prompt_id: "bench.prompt".to_owned(),
            meta: VersionMeta {
                version: Version::new(1),
                status: Status::Draft,
                content_hash: "0".repeat(64),
                description: None,
                tags: Vec::new(),
                created_at: "2026-12-07T00:00:00Z".to_owned(),
                created_by: "bench".to_owned(),
            },
            document: "{}".to_owned(),
        };
        store.insert_version(&record).await?;
        let pointer = store.pointer("bench.prompt").await?;
        let event = HistoryEvent {
            action: Action::Promote,
            from: None,
            to: Version::new(1),
            actor: "bench".to_owned(),
            reason: None,
            at: "2026-12-07T00:00:00Z".to_owned(),
        };
        store.move_pointer("bench.prompt", &pointer, &event).await
    })?;

    // A plain connection, set up as the store's readers are.
    let connection = Connection::open(&path)?;
    connection.execute_batch("PRAGMA journal_mode=WAL; PRAGMA synchronous=FULL;")?;

    let pragma = per_call(iterations, || {
        let version: i64 = connection
            .prepare_cached("PRAGMA data_version")
            .and_then(|mut statement| statement.query_row([], |row| row.get(0)))
            .unwrap_or(-1);
        std::hint::black_box(version);
    });

    let uncached = per_call(iterations, || {
        let read = || -> rusqlite::Result<Option<(String, String, String, String)>> {
            let snapshot = connection.unchecked_transaction()?;
            let stable: Option<(Option<String>, i64)> = snapshot
                .prepare_cached("SELECT stable, moves FROM pointers WHERE prompt_id = ?1")?
                .query_row(params!["bench.prompt"], |row| {
                    Ok((row.get(0)?, row.get(1)?))
                })
                .optional()?;
            let Some((Some(stable), _)) = stable else {
                return Ok(None);
            };
            let Ok(version) = stable.parse::<Version>() else {
                return Ok(None);
            };
            let meta = snapshot
                .prepare_cached(
                    "SELECT version, status, content_hash, description, tags, created_at, \
                     created_by FROM versions WHERE prompt_id = ?1 AND version_key = ?2",
                )?
                .query_row(params!["bench.prompt", version.canonical()], |row| {
                    Ok((row.get(0)?, row.get(1)?, row.get(2)?, row.get(5)?))
                })
                .optional()?;
            Ok(meta)
        };
        std::hint::black_box(read().ok());
    });

    let cached = per_call(iterations, || {
        std::hint::black_box(
            runtime
                .block_on(store.stable_version_meta("bench.prompt"))
                .ok(),
        );
    });

    println!("CPU per call, best of 5 runs of {iterations} (one thread):");
    println!("  PRAGMA data_version                          {pragma:>8.0} ns");
    println!("  uncached: read transaction + 2 lookups       {uncached:>8.0} ns");
    println!("  SqliteStore::stable_version_meta (cached)    {cached:>8.0} ns");
    std::fs::remove_dir_all(&dir)?;
    Ok(())
}
