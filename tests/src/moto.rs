//! moto's standalone server (PyPI `moto[server]`) as a child process, for the tests that run
//! the real AWS SDK clients against S3 and DynamoDB on loopback (the registry's DynamoDB + S3
//! store, the pipeline's S3 bucket, the runtime's registry client).
//!
//! Each [`MotoServer`] is its own server on a free loopback port, killed on drop. It serves one
//! request at a time: moto's stock threaded server takes no locks in its backends, so there two
//! conditional writes (or two transactions) racing on one item can both pass. Serialized, the
//! tests prove that the conditions and transactions are the right ones; on AWS, DynamoDB itself
//! makes them atomic.
//!
//! Which Python runs moto: `PROMPTOPS_MOTO_PYTHON` (set by `scripts/test.sh`), else the venv
//! that script creates (`target/venv`). Without either, [`MotoServer::start`] prints why and
//! returns `None` (the test passes without running), unless `CI=true`, where it panics: CI must
//! never skip these tests silently.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// Serves moto's WSGI app (as `moto_server` does) with werkzeug's single-threaded server: the
/// one `run_simple(host, port, app, threaded=False)` uses, made directly so the port can be 0
/// (the kernel picks a free one, reported on stdout; no port race). The server exits when its
/// stdin closes, so it never outlives the test process, even one that is killed.
const LAUNCHER: &str = r#"
import logging, os, sys, threading
from werkzeug.serving import make_server
from moto.server import DomainDispatcherApplication, create_backend_app

logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=False, processes=1)
os.environ["MOTO_PORT"] = str(server.port)

def watch_parent():
    sys.stdin.read()
    os._exit(0)

threading.Thread(target=watch_parent, daemon=True).start()
print("PORT", server.port, flush=True)
server.serve_forever()
"#;

/// How long moto may take to start (importing it is slow on a busy machine).
const START_TIMEOUT: Duration = Duration::from_secs(90);

/// A running moto server.
pub struct MotoServer {
    child: Child,
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
}

/// Whether this is a CI run (`CI=true`), where a missing server is a failure.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|value| value == "true" || value == "1")
}

/// The Python to run moto with, if any is configured.
fn moto_python() -> Option<PathBuf> {
    if let Some(python) = std::env::var_os("PROMPTOPS_MOTO_PYTHON").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(python));
    }
    let venv = crate::workspace_root().join("target/venv/bin/python");
    venv.exists().then_some(venv)
}

static NAMES: AtomicU32 = AtomicU32::new(0);

/// A name no other test of this process uses: lowercase, digits and `-` (valid for tables and
/// buckets).
pub fn unique_name(prefix: &str) -> String {
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        NAMES.fetch_add(1, Ordering::Relaxed)
    )
}

impl MotoServer {
    /// Starts moto (blocking until it listens), or, when no Python with moto is configured and
    /// `CI` is not `true`, prints why `what` is skipped and returns `None`. A configured Python
    /// that cannot run moto fails the test.
    pub fn start(what: &str) -> Option<MotoServer> {
        let Some(python) = moto_python() else {
            let why =
                "moto is not installed: run `bash scripts/test.sh` (it installs moto[server] \
                       into target/venv) or set PROMPTOPS_MOTO_PYTHON to a Python that has it";
            if on_ci() {
                panic!("CI=true and {why}");
            }
            eprintln!("SKIPPED ({what}): {why}");
            return None;
        };
        Some(MotoServer::spawn(python))
    }

    fn spawn(python: PathBuf) -> MotoServer {
        let mut child = Command::new(&python)
            .arg("-c")
            .arg(LAUNCHER)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", python.display()));

        // moto's stderr goes to the test's output (shown when a test fails).
        let stderr = child.stderr.take().expect("piped stderr");
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                eprintln!("moto: {line}");
            }
        });
        let stdout = child.stdout.take().expect("piped stdout");
        let (sender, receiver) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut line = String::new();
            let _ = BufReader::new(stdout).read_line(&mut line);
            let _ = sender.send(line);
        });
        let line = match receiver.recv_timeout(START_TIMEOUT) {
            Ok(line) => line,
            Err(_) => {
                let _ = child.kill();
                panic!("moto did not start within {START_TIMEOUT:?}");
            }
        };
        let port: u16 = match line.trim().strip_prefix("PORT ").map(str::parse) {
            Some(Ok(port)) => port,
            _ => {
                let _ = child.kill();
                let status = child.wait();
                panic!(
                    "moto did not start ({status:?}); is moto[server] installed for {}? \
                     (its stderr is above)",
                    python.display()
                );
            }
        };
        MotoServer {
            child,
            endpoint: format!("http://127.0.0.1:{port}"),
        }
    }
}

impl Drop for MotoServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A [`MotoServer`] started from async code, with an SDK configuration for it and the S3
/// operations tests share.
pub struct Moto {
    /// The server: killed when this is dropped.
    pub server: MotoServer,
    /// An SDK configuration pointing at it ([`crate::local_sdk_config`]).
    pub config: aws_config::SdkConfig,
}

impl Moto {
    /// Starts moto without blocking the async worker (see [`MotoServer::start`]: `None` means
    /// `what` is skipped, outside CI only).
    pub async fn start(what: &'static str) -> Option<Moto> {
        let server = tokio::task::spawn_blocking(move || MotoServer::start(what))
            .await
            .unwrap_or_else(|err| std::panic::resume_unwind(err.into_panic()))?;
        let config = crate::local_sdk_config(&server.endpoint);
        Some(Moto { server, config })
    }

    /// `http://127.0.0.1:PORT`.
    pub fn endpoint(&self) -> &str {
        &self.server.endpoint
    }

    /// An S3 client on this server, path-style (as promptops' own S3 clients are configured
    /// for local endpoints).
    pub fn s3(&self) -> aws_sdk_s3::Client {
        let conf = aws_sdk_s3::config::Builder::from(&self.config)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(conf)
    }

    /// Creates `bucket`.
    pub async fn create_bucket(&self, bucket: &str) {
        self.s3()
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|err| panic!("create bucket {bucket} on moto: {err:?}"));
    }

    /// A new bucket named after `prefix` ([`unique_name`]).
    pub async fn fresh_bucket(&self, prefix: &str) -> String {
        let bucket = unique_name(prefix);
        self.create_bucket(&bucket).await;
        bucket
    }

    /// The keys of every object in `bucket`, sorted.
    pub async fn object_keys(&self, bucket: &str) -> Vec<String> {
        let objects = self
            .s3()
            .list_objects_v2()
            .bucket(bucket)
            .send()
            .await
            .unwrap_or_else(|err| panic!("list the objects of {bucket} on moto: {err:?}"));
        let mut keys: Vec<String> = objects
            .contents()
            .iter()
            .filter_map(|object| object.key().map(str::to_owned))
            .collect();
        keys.sort();
        keys
    }
}
