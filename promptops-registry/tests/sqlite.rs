//! The behaviour suite over HTTP against the embedded SQLite store.

mod behaviour;
mod common;

use common::{tokens, Server};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::Auth;
use promptops_tests::TempDir;

/// A server over a fresh SQLite store, with the test tokens.
async fn sqlite_server() -> Server {
    let dir = TempDir::new("registry-sqlite");
    let store = SqliteStore::open(dir.join("registry.db")).expect("open store");
    Server::start(store, Auth::Tokens(tokens()))
        .await
        .keeping(dir)
}

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let server = sqlite_server().await;
            behaviour::$case(&server).await;
        }
    )*};
}

behaviour::all_cases!(suite);
