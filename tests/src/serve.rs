//! An axum router served over loopback HTTP, the way tests need a real server: on a thread
//! and tokio runtime of its own ([`ServerThread`], which a test can stop with its open
//! connections, and which serves blocking tests too), or as a task of the test's own runtime
//! ([`spawn`]).

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;

/// How long [`ServerThread::start_with`] waits for the server to listen.
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// A router served on `127.0.0.1` (any free port) by a thread running its own two-worker
/// tokio runtime. Dropping it (or [`ServerThread::stop`]) stops the server and every
/// connection it holds: the server is gone, not just its listener.
pub struct ServerThread {
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl ServerThread {
    /// Serves `router`.
    pub fn start(router: axum::Router) -> ServerThread {
        ServerThread::start_with(|| async move { router })
    }

    /// Serves the router `make` builds on the server's runtime: for state whose setup is
    /// async (a registry to push to before it serves) in a test that has no runtime.
    ///
    /// Panics when the server cannot start.
    pub fn start_with<F, Fut>(make: F) -> ServerThread
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = axum::Router>,
    {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop, stopped) = oneshot::channel::<()>();
        let thread = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("the server's tokio runtime");
            runtime.block_on(async move {
                let router = make().await;
                let listener = TcpListener::bind(("127.0.0.1", 0))
                    .await
                    .expect("bind a loopback port");
                let _ = addr_tx.send(listener.local_addr().expect("the bound address"));
                tokio::select! {
                    _ = axum::serve(listener, router) => {}
                    _ = stopped => {}
                }
            });
            // Drops every connection task too.
            runtime.shutdown_background();
        });
        let addr = addr_rx
            .recv_timeout(START_TIMEOUT)
            .expect("the server thread starts listening");
        ServerThread {
            addr,
            stop: Some(stop),
            thread: Some(thread),
        }
    }

    /// `127.0.0.1:PORT`.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Stops the server and waits for its thread; later calls do nothing. A panic on the
    /// server's thread is raised here (unless this thread is already unwinding, as in a drop
    /// during a failed test).
    pub fn stop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            if let Err(panic) = thread.join() {
                if !std::thread::panicking() {
                    std::panic::resume_unwind(panic);
                }
            }
        }
    }
}

impl Drop for ServerThread {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Serves `router` on `127.0.0.1` (any free port) as a task of the current tokio runtime, for
/// as long as that runtime runs; returns the address.
pub async fn spawn(router: axum::Router) -> SocketAddr {
    let listener = TcpListener::bind(("127.0.0.1", 0))
        .await
        .expect("bind a loopback port");
    let addr = listener.local_addr().expect("the bound address");
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}
