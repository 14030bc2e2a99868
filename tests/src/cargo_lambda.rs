//! cargo-lambda's own emulator (`cargo lambda watch`) and client (`cargo lambda invoke`), for
//! the tests that run each Lambda binary the way the READMEs' "Run it locally" sections do,
//! with the event and environment files those sections ship.
//!
//! `cargo lambda watch` would compile the function itself (`cargo run`), with the feature set
//! of one package: a second build of most of the workspace. So [`Watch::start`] runs it with
//! `--only-lambda-apis` (the emulator alone) and starts the already-built binary itself, with
//! the environment watch gives the processes it starts (`AWS_LAMBDA_RUNTIME_API` at the
//! function's path of the emulator, `AWS_LAMBDA_FUNCTION_NAME`, ...). What the function sees —
//! the emulator's events and headers, its deadline among them — is cargo-lambda's.
//!
//! Which cargo-lambda: `PROMPTOPS_CARGO_LAMBDA` (set by `scripts/test.sh`), else the one
//! `scripts/lambda_tools.sh` installs (`target/lambda-venv/bin/cargo-lambda`). Without either,
//! [`Watch::start`] prints why and returns `None` (the test passes without running), unless
//! `CI=true`, where it panics, as [`crate::moto`] does.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::moto::on_ci;

/// How long the emulator may take to listen (it runs `cargo metadata` first).
const START_TIMEOUT: Duration = Duration::from_secs(60);

/// How long one `cargo lambda invoke` may take.
pub const INVOKE_TIMEOUT: Duration = Duration::from_secs(60);

/// Attempts at a free port: another process may take the one picked before the emulator binds.
const PORT_ATTEMPTS: usize = 3;

/// The cargo-lambda binary to use, if any is configured.
fn cargo_lambda() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("PROMPTOPS_CARGO_LAMBDA").filter(|p| !p.is_empty()) {
        return Some(PathBuf::from(path));
    }
    let venv = crate::workspace_root().join("target/lambda-venv/bin/cargo-lambda");
    venv.exists().then_some(venv)
}

/// A process killed (and reaped) on drop, its output lines collected as they come.
struct Process {
    child: Child,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<Vec<String>>>,
}

impl Process {
    fn spawn(command: &mut Command) -> std::io::Result<Process> {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let stdout = collect(child.stdout.take());
        let stderr = collect(child.stderr.take());
        Ok(Process {
            child,
            stdout,
            stderr,
        })
    }

    fn exited(&mut self) -> bool {
        !matches!(self.child.try_wait(), Ok(None))
    }
}

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn collect(pipe: Option<impl Read + Send + 'static>) -> Arc<Mutex<Vec<String>>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    if let Some(pipe) = pipe {
        let sink = Arc::clone(&lines);
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                sink.lock()
                    .unwrap_or_else(|poisoned| poisoned.into_inner())
                    .push(line);
            }
        });
    }
    lines
}

fn lines(lines: &Mutex<Vec<String>>) -> Vec<String> {
    lines
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .clone()
}

/// `KEY=VALUE` lines of an env file as `cargo lambda watch --env-file` reads them (blank lines
/// and `#` comments skipped, quotes around a value removed). [`Watch::start`] also hands the
/// file to the emulator, whose stricter reader then refuses what it cannot parse.
pub fn read_env_file(path: &Path) -> Vec<(String, String)> {
    let text = std::fs::read_to_string(path)
        .unwrap_or_else(|err| panic!("cannot read {}: {err}", path.display()));
    text.lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| match line.split_once('=') {
            Some((key, value)) => {
                let value = value.trim();
                let unquoted = ['"', '\'']
                    .iter()
                    .find_map(|quote| value.strip_prefix(*quote)?.strip_suffix(*quote))
                    .unwrap_or(value);
                (key.trim().to_owned(), unquoted.to_owned())
            }
            None => panic!("{}: not KEY=VALUE: {line:?}", path.display()),
        })
        .collect()
}

/// What one `cargo lambda invoke` printed.
#[derive(Debug)]
pub struct Invoked {
    /// Whether it exited successfully.
    pub success: bool,
    /// Standard output: the function's answer.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Invoked {
    /// The answer parsed as JSON (panics with the whole output when it is not).
    pub fn json(&self) -> serde_json::Value {
        assert!(self.success, "cargo lambda invoke failed: {self:#?}");
        serde_json::from_str(self.stdout.trim())
            .unwrap_or_else(|err| panic!("not JSON ({err}): {self:#?}"))
    }
}

/// `cargo lambda watch --only-lambda-apis` on a loopback port, and the function binary polling
/// it. Both are killed on drop.
pub struct Watch {
    cargo_lambda: PathBuf,
    port: u16,
    function: String,
    // Dropped first: the function goes before its emulator.
    function_process: Process,
    /// Held so the emulator lives as long as this, and is killed on drop.
    _emulator: Process,
}

impl Watch {
    /// Starts the emulator for `package`'s binary `function` with `--env-file env_file`
    /// (waiting until it listens), then `binary` (the built `function`) with watch's Lambda
    /// environment plus the file's variables, `overrides` replacing or adding some; or, when no
    /// cargo-lambda is configured and `CI` is not `true`, prints why `what` is skipped and
    /// returns `None`.
    pub fn start(
        what: &str,
        package: &str,
        function: &str,
        binary: &Path,
        env_file: &Path,
        overrides: &[(&str, String)],
    ) -> Option<Watch> {
        let Some(cargo_lambda) = cargo_lambda() else {
            let why = "cargo-lambda is not installed: run `bash scripts/test.sh` (it installs \
                       cargo-lambda into target/lambda-venv) or set PROMPTOPS_CARGO_LAMBDA to a \
                       cargo-lambda binary";
            if on_ci() {
                panic!("CI=true and {why}");
            }
            eprintln!("SKIPPED ({what}): {why}");
            return None;
        };
        let mut env = read_env_file(env_file);
        env.retain(|(key, _)| !overrides.iter().any(|(k, _)| k == key));
        env.extend(overrides.iter().map(|(k, v)| ((*k).to_owned(), v.clone())));
        let mut failures = Vec::new();
        for _ in 0..PORT_ATTEMPTS {
            let port = free_port();
            let mut emulator = Process::spawn(
                Command::new(&cargo_lambda)
                    .args(["lambda", "watch", "--only-lambda-apis", "--quiet"])
                    .args(["-p", package, "--bin", function])
                    .arg("--env-file")
                    .arg(env_file)
                    .args(["-A", "127.0.0.1", "-P", &port.to_string()])
                    .current_dir(crate::workspace_root())
                    .env("CARGO_TERM_COLOR", "never"),
            )
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", cargo_lambda.display()));
            if !wait_for_port(port, &mut emulator) {
                failures.push(format!(
                    "port {port}: {}",
                    lines(&emulator.stderr).join("\n")
                ));
                continue;
            }
            let function_process = Process::spawn(
                Command::new(binary)
                    // What `cargo lambda watch` sets for the functions it starts.
                    .env(
                        "AWS_LAMBDA_RUNTIME_API",
                        format!("http://127.0.0.1:{port}/.rt/{function}"),
                    )
                    .env("AWS_LAMBDA_FUNCTION_NAME", function)
                    .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
                    .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "4096")
                    // The developer's AWS settings must not reach a local run.
                    .env_remove("AWS_PROFILE")
                    .env_remove("AWS_ENDPOINT_URL")
                    .env("RUST_LOG", "info")
                    .envs(env.iter().map(|(k, v)| (k, v))),
            )
            .unwrap_or_else(|err| panic!("cannot run {}: {err}", binary.display()));
            return Some(Watch {
                cargo_lambda,
                port,
                function: function.to_owned(),
                function_process,
                _emulator: emulator,
            });
        }
        panic!(
            "cargo lambda watch did not listen within {START_TIMEOUT:?}:\n{}",
            failures.join("\n")
        );
    }

    /// `cargo lambda invoke FUNCTION --data-file FILE --output-format json` against this
    /// emulator, bounded by [`INVOKE_TIMEOUT`].
    pub fn invoke(&self, data_file: &Path) -> Invoked {
        let mut process = Process::spawn(
            Command::new(&self.cargo_lambda)
                .args(["lambda", "invoke", &self.function, "--data-file"])
                .arg(data_file)
                .args(["--output-format", "json"])
                .args(["-A", "127.0.0.1", "-P", &self.port.to_string()])
                .env("CARGO_TERM_COLOR", "never"),
        )
        .unwrap_or_else(|err| panic!("cannot run {}: {err}", self.cargo_lambda.display()));
        let started = Instant::now();
        let status = loop {
            match process.child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if started.elapsed() < INVOKE_TIMEOUT => {
                    std::thread::sleep(Duration::from_millis(20))
                }
                _ => panic!(
                    "cargo lambda invoke {} did not finish within {INVOKE_TIMEOUT:?}; \
                     the function's stderr: {:#?}",
                    data_file.display(),
                    lines(&self.function_process.stderr)
                ),
            }
        };
        // The pipes close with the process; give the readers a moment to drain them.
        let drained = Instant::now();
        while Arc::strong_count(&process.stdout) > 1 && drained.elapsed() < Duration::from_secs(5) {
            std::thread::sleep(Duration::from_millis(10));
        }
        Invoked {
            success: status.success(),
            stdout: lines(&process.stdout).join("\n"),
            stderr: lines(&process.stderr).join("\n"),
        }
    }

    /// `POST`s `body` (JSON) to the emulator's Function URL endpoint for the function
    /// (`/lambda-url/FUNCTION/`, what `curl` would reach): the emulator wraps it in a payload v2
    /// event and turns the function's answer back into an HTTP response. Returns its status and
    /// body; bounded by [`INVOKE_TIMEOUT`].
    pub fn post_function_url(&self, body: &str) -> (u16, String) {
        let fail = |err: std::io::Error| -> ! {
            panic!("POST to the emulator's Function URL endpoint: {err}")
        };
        let mut stream = TcpStream::connect(("127.0.0.1", self.port)).unwrap_or_else(|e| fail(e));
        stream
            .set_read_timeout(Some(INVOKE_TIMEOUT))
            .unwrap_or_else(|e| fail(e));
        let request = format!(
            "POST /lambda-url/{}/ HTTP/1.1\r\nhost: 127.0.0.1:{}\r\n\
             content-type: application/json\r\ncontent-length: {}\r\n\
             connection: close\r\n\r\n{body}",
            self.function,
            self.port,
            body.len()
        );
        stream
            .write_all(request.as_bytes())
            .unwrap_or_else(|e| fail(e));
        let mut answer = String::new();
        stream
            .read_to_string(&mut answer)
            .unwrap_or_else(|e| fail(e));
        let status = answer
            .split(' ')
            .nth(1)
            .and_then(|code| code.parse().ok())
            .unwrap_or_else(|| panic!("not an HTTP answer: {answer:?}"));
        let body = answer
            .split_once("\r\n\r\n")
            .map(|(_, body)| body.to_owned())
            .unwrap_or_default();
        (status, body)
    }

    /// The JSON objects the function printed so far (its events; other lines skipped).
    pub fn function_events(&self) -> Vec<serde_json::Value> {
        lines(&self.function_process.stdout)
            .iter()
            .filter_map(|line| serde_json::from_str(line).ok())
            .collect()
    }

    /// What the function printed on stderr so far.
    pub fn function_stderr(&self) -> Vec<String> {
        lines(&self.function_process.stderr)
    }
}

/// A loopback port free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind(("127.0.0.1", 0))
        .and_then(|listener| listener.local_addr())
        .map(|addr| addr.port())
        .unwrap_or_else(|err| panic!("no free loopback port: {err}"))
}

/// Whether the emulator listens on `port` before [`START_TIMEOUT`] (false if it exits first).
fn wait_for_port(port: u16, emulator: &mut Process) -> bool {
    let started = Instant::now();
    while started.elapsed() < START_TIMEOUT {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return true;
        }
        if emulator.exited() {
            return false;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    false
}
