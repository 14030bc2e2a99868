//! The embedded store's stable-pointer cache against writers it does not own.
//!
//! Each `SqliteStore` keeps the stable versions it has read and reuses them while SQLite's
//! `PRAGMA data_version` says no other connection has committed. These tests move the pointer
//! through a second store on the same file (its own connections, as a second process has) and
//! through a real second process (this test binary, run again as a helper), and check that
//! the first store's next read, after the move was acknowledged, sees it.

use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;

use promptops_core::{Status, Version};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::store::{Action, HistoryEvent, Store, VersionMeta, VersionRecord};
use promptops_tests::TempDir;

/// Set (to the database path) in the helper process this file's tests start.
const HELPER_DB: &str = "PROMPTOPS_TEST_CACHE_HELPER_DB";
/// The version the helper process promotes.
const HELPER_VERSION: &str = "PROMPTOPS_TEST_CACHE_HELPER_VERSION";

/// A directory removed on drop.
fn record(id: &str, version: u32) -> VersionRecord {
    VersionRecord {
        prompt_id: id.to_owned(),
        meta: VersionMeta {
            version: Version::new(version),
            status: Status::Draft,
            content_hash: format!("hash-{version}"),
            description: None,
            tags: vec!["cache".to_owned()],
            created_at: "2026-12-07T00:00:00Z".to_owned(),
            created_by: "test".to_owned(),
        },
        document: "{}".to_owned(),
    }
}

/// Promotes `version` through `store` (read the pointer, move it on that condition).
async fn promote(store: &SqliteStore, id: &str, version: u32) {
    let pointer = store.pointer(id).await.expect("pointer");
    let event = HistoryEvent {
        action: Action::Promote,
        from: pointer.stable,
        to: Version::new(version),
        actor: "test".to_owned(),
        reason: None,
        at: "2026-12-07T00:00:00Z".to_owned(),
    };
    store
        .move_pointer(id, &pointer, &event)
        .await
        .expect("move pointer");
}

/// The stable version's major number as `store` reads it (0: none), checking it says stable.
async fn stable(store: &SqliteStore, id: &str) -> u32 {
    match store.stable_version_meta(id).await.expect("stable") {
        None => 0,
        Some(meta) => {
            assert_eq!(meta.status, Status::Stable, "{meta:?}");
            meta.version.major()
        }
    }
}

/// Reads the stable version from `threads` threads at once, so several of the store's reader
/// connections (each with its own cache) answer; every answer must be `expected`.
fn stable_everywhere(store: &SqliteStore, id: &str, threads: usize, expected: u32) {
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                for _ in 0..20 {
                    assert_eq!(runtime.block_on(stable(store, id)), expected);
                }
            });
        }
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_by_a_second_store_is_seen_by_the_next_read() {
    let dir = TempDir::new("registry-cache-second-store");
    let path = dir.join("registry.db");
    let first = SqliteStore::open(&path).expect("open");
    let second = SqliteStore::open(&path).expect("open again");
    for v in 1..=6 {
        first.insert_version(&record("p", v)).await.expect("insert");
    }

    // "No stable version" is cached too, and a move elsewhere ends it.
    assert_eq!(stable(&first, "p").await, 0);
    assert_eq!(stable(&first, "p").await, 0);
    promote(&second, "p", 1).await;
    assert_eq!(stable(&first, "p").await, 1);
    stable_everywhere(&first, "p", 6, 1);

    for v in 2..=6 {
        // Alternate the writer: the other store's connections, then this store's own writer.
        let writer = if v % 2 == 0 { &second } else { &first };
        promote(writer, "p", v).await;
        assert_eq!(stable(&first, "p").await, v);
        assert_eq!(stable(&second, "p").await, v);
        stable_everywhere(&first, "p", 6, v);
        stable_everywhere(&second, "p", 6, v);
    }
}

#[test]
fn readers_never_see_a_pointer_older_than_the_last_acknowledged_move() {
    const MOVES: u32 = 40;
    let dir = TempDir::new("registry-cache-linearizable");
    let path = dir.join("registry.db");
    let reader = SqliteStore::open(&path).expect("open");
    let writer = SqliteStore::open(&path).expect("open again");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        for v in 1..=MOVES {
            writer
                .insert_version(&record("lin", v))
                .await
                .expect("insert");
        }
        promote(&writer, "lin", 1).await;
    });
    // The last move whose commit returned, and whether the writer is done.
    let acknowledged = AtomicU32::new(1);
    let done = AtomicBool::new(false);
    // Readers that have read at least once: the moves start when all six have (so every
    // reader's cache is warm and every reader overlaps the moves).
    let warm = AtomicU32::new(0);
    std::thread::scope(|scope| {
        for _ in 0..6 {
            scope.spawn(|| {
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .build()
                    .expect("runtime");
                let mut reads = 0;
                while !done.load(Ordering::SeqCst) {
                    let floor = acknowledged.load(Ordering::SeqCst);
                    let seen = runtime.block_on(stable(&reader, "lin"));
                    // Never older than a move acknowledged before the read began (newer is
                    // fine: this thread may have slept through several moves since `floor`).
                    assert!(
                        seen >= floor && seen <= MOVES,
                        "read {seen} after move {floor} was acknowledged"
                    );
                    reads += 1;
                    if reads == 1 {
                        warm.fetch_add(1, Ordering::SeqCst);
                    }
                }
            });
        }
        while warm.load(Ordering::SeqCst) < 6 {
            std::thread::yield_now();
        }
        for v in 2..=MOVES {
            runtime.block_on(promote(&writer, "lin", v));
            acknowledged.store(v, Ordering::SeqCst);
        }
        done.store(true, Ordering::SeqCst);
    });
    assert_eq!(runtime.block_on(stable(&reader, "lin")), MOVES);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_move_by_another_process_is_seen_by_the_next_read() {
    let dir = TempDir::new("registry-cache-second-process");
    let path = dir.join("registry.db");
    let store = SqliteStore::open(&path).expect("open");
    for v in 1..=4 {
        store
            .insert_version(&record("proc", v))
            .await
            .expect("insert");
    }
    promote(&store, "proc", 1).await;
    stable_everywhere(&store, "proc", 6, 1);
    for v in 2..=4 {
        run_helper(&path, v);
        // The helper exited after its commit returned: the move is acknowledged.
        assert_eq!(stable(&store, "proc").await, v);
        stable_everywhere(&store, "proc", 6, v);
    }
    let history = store.history("proc").await.expect("history");
    assert_eq!(history.len(), 4);
}

/// Runs this test binary again, as a second process, to promote `version` of `proc`.
fn run_helper(path: &Path, version: u32) {
    let exe = std::env::current_exe().expect("test binary");
    let output = Command::new(exe)
        .args([
            "--exact",
            "helper_process_promotes",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(HELPER_DB, path)
        .env(HELPER_VERSION, version.to_string())
        .output()
        .expect("run the helper process");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success() && stdout.contains("helper promoted"),
        "helper: {}\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Not a test of its own: the second process of
/// `a_move_by_another_process_is_seen_by_the_next_read` (does nothing unless started by it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn helper_process_promotes() {
    let (Ok(path), Ok(version)) = (std::env::var(HELPER_DB), std::env::var(HELPER_VERSION)) else {
        return;
    };
    let version: u32 = version.parse().expect("version");
    let store = SqliteStore::open(&path).expect("open in the helper");
    promote(&store, "proc", version).await;
    println!("helper promoted {version}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cache_is_per_prompt_and_survives_unrelated_reads() {
    let dir = TempDir::new("registry-cache-per-prompt");
    let store = Arc::new(SqliteStore::open(dir.join("registry.db")).expect("open"));
    for id in ["a", "b"] {
        for v in 1..=2 {
            store.insert_version(&record(id, v)).await.expect("insert");
        }
    }
    promote(&store, "a", 1).await;
    assert_eq!(stable(&store, "a").await, 1);
    assert_eq!(stable(&store, "b").await, 0);
    promote(&store, "b", 2).await;
    assert_eq!(stable(&store, "a").await, 1);
    assert_eq!(stable(&store, "b").await, 2);
    // Reads of other kinds on the same connections leave the answers right.
    assert_eq!(store.list_versions("a").await.expect("list").len(), 2);
    assert_eq!(store.history("b").await.expect("history").len(), 1);
    promote(&store, "a", 2).await;
    assert_eq!(stable(&store, "a").await, 2);
    assert_eq!(stable(&store, "b").await, 2);
}
