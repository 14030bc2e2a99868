//! The behaviour suite over HTTP against the embedded SQLite store.

mod behaviour;
mod common;

use common::Server;

macro_rules! suite {
    ($($case:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $case() {
            let server = Server::sqlite().await;
            behaviour::$case(&server).await;
        }
    )*};
}

behaviour::all_cases!(suite);
