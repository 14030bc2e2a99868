//! Hostile clients against the real `promptops registry serve` (issue 21): each attack over real
//! TCP against the binary, run under `prlimit --as` so that a server which buffers what it
//! should refuse dies instead of passing. Every test is bounded in time (a few seconds) by the
//! short limits it passes to the server and by its socket timeouts; every test checks that the
//! server is alive and still answering a normal client afterwards.
//!
//! The raw-socket client below is deliberate: the attacks need byte-level control (a head sent
//! in pieces, a body held back, a `Content-Length` that is a lie).

use std::io::{BufRead, BufReader, ErrorKind, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

const READER: &str = "hostile-reader-token";
const AUTHOR: &str = "hostile-author-token";
const RELEASER: &str = "hostile-releaser-token";

/// The address space the server may use: far above what it needs (about 250 MiB of mappings
/// at rest), far below what buffering the attacks' bodies would take.
const ADDRESS_SPACE: u64 = 1536 * 1024 * 1024;

/// How long any single exchange may take before the test fails rather than hangs.
const EXCHANGE: Duration = Duration::from_secs(10);

/// A running `promptops registry serve` under `prlimit --as`, killed on drop.
struct Served {
    child: Child,
    addr: SocketAddr,
    dir: PathBuf,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

impl Served {
    /// Starts the server with the test tokens and `flags` (the limits under test).
    fn start(name: &str, flags: &[&str]) -> Served {
        let dir = std::env::temp_dir().join(format!(
            "promptops-registry-hostile-{name}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        let tokens = dir.join("tokens.yaml");
        let hash = promptops_registry::auth::token_hash;
        std::fs::write(
            &tokens,
            format!(
                "tokens:\n  - {{name: reader, role: reader, sha256: {}}}\n  - {{name: author, role: author, sha256: {}}}\n  - {{name: bot, role: releaser, sha256: {}}}\n",
                hash(READER),
                hash(AUTHOR),
                hash(RELEASER)
            ),
        )
        .expect("tokens file");
        let mut child = Command::new("prlimit")
            .arg(format!("--as={ADDRESS_SPACE}"))
            .arg("--")
            .arg(env!("CARGO_BIN_EXE_promptops"))
            .args(["registry", "serve", "--listen", "127.0.0.1:0", "--store"])
            .arg(format!("sqlite:{}", dir.join("registry.db").display()))
            .arg("--tokens")
            .arg(&tokens)
            .args(flags)
            .env_remove("RUST_LOG")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start prlimit (util-linux) with the server");
        let mut stderr = BufReader::new(child.stderr.take().expect("stderr"));
        let mut line = String::new();
        stderr
            .read_line(&mut line)
            .expect("the server's first line");
        let addr = line
            .split_whitespace()
            .find_map(|word| word.strip_prefix("http://"))
            .unwrap_or_else(|| panic!("the server did not start: {line:?}"))
            .parse()
            .expect("a socket address");
        // Keep draining its log so that it never blocks on a full pipe.
        thread::spawn(move || std::io::copy(&mut stderr, &mut std::io::sink()));
        Served { child, addr, dir }
    }

    fn connect(&self) -> TcpStream {
        let stream = TcpStream::connect_timeout(&self.addr, EXCHANGE).expect("connect");
        stream.set_read_timeout(Some(EXCHANGE)).expect("timeout");
        stream.set_write_timeout(Some(EXCHANGE)).expect("timeout");
        stream
    }

    /// One request on its own connection (`Connection: close`), answered in full.
    fn request(
        &self,
        method: &str,
        target: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> Answer {
        self.try_request(method, target, token, body)
            .unwrap_or_else(|err| panic!("{method} {target}: no answer: {err}"))
    }

    /// [`Served::request`], when the connection may be refused.
    fn try_request(
        &self,
        method: &str,
        target: &str,
        token: Option<&str>,
        body: Option<(&str, &[u8])>,
    ) -> std::io::Result<Answer> {
        let mut head =
            format!("{method} {target} HTTP/1.1\r\nHost: registry\r\nConnection: close\r\n");
        if let Some(token) = token {
            head += &format!("Authorization: Bearer {token}\r\n");
        }
        if let Some((content_type, bytes)) = body {
            head += &format!(
                "Content-Type: {content_type}\r\nContent-Length: {}\r\n",
                bytes.len()
            );
        }
        head += "\r\n";
        let mut stream = self.connect();
        stream.write_all(head.as_bytes())?;
        if let Some((_, bytes)) = body {
            stream.write_all(bytes)?;
        }
        Answer::read(&mut stream)
    }

    fn push(&self, id: &str, version: &str, content: &str) -> Answer {
        let body = serde_json::json!({"prompt_id": id, "version": version, "content": content});
        self.request(
            "POST",
            "/prompts",
            Some(AUTHOR),
            Some(("application/json", body.to_string().as_bytes())),
        )
    }

    /// A stable prompt `reader.p`, and a production read of it answering 200.
    fn stable_prompt(&self) {
        self.push("reader.p", "1", "Hello {{ name }}").expect(201);
        self.request(
            "POST",
            "/prompts/reader.p/promote",
            Some(RELEASER),
            Some(("application/json", br#"{"version": "1"}"#)),
        )
        .expect(200);
        self.request("GET", "/prompts/reader.p", Some(READER), None)
            .expect(200);
    }

    /// Asserts the process runs and a normal client is served.
    fn assert_alive_and_serving(&mut self) {
        assert!(
            self.child.try_wait().expect("wait").is_none(),
            "the server died"
        );
        self.request("GET", "/prompts/nothing.here", Some(READER), None)
            .expect_error(404, "not_found");
    }

    /// The server's peak resident set, in bytes.
    fn peak_rss(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .expect("the server's /proc status");
        let kib: u64 = status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.split_whitespace().next())
            .and_then(|kib| kib.parse().ok())
            .expect("VmHWM");
        kib * 1024
    }
}

/// A response: status, headers (lower-case names) and body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Answer {
    /// Reads one response (the body by `Content-Length`, else to the end).
    fn read(stream: &mut TcpStream) -> std::io::Result<Answer> {
        let mut reader = BufReader::new(stream);
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(std::io::Error::new(
                ErrorKind::UnexpectedEof,
                "closed without an answer",
            ));
        }
        let status = line
            .split_whitespace()
            .nth(1)
            .and_then(|code| code.parse().ok())
            .ok_or_else(|| std::io::Error::new(ErrorKind::InvalidData, line.clone()))?;
        let mut headers = Vec::new();
        loop {
            line.clear();
            reader.read_line(&mut line)?;
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((name, value)) = line.split_once(':') {
                headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
            }
        }
        let length = headers
            .iter()
            .find(|(name, _)| name == "content-length")
            .and_then(|(_, value)| value.parse::<usize>().ok());
        let mut body = Vec::new();
        match length {
            Some(length) => {
                body.resize(length, 0);
                reader.read_exact(&mut body)?;
            }
            None => {
                reader.read_to_end(&mut body)?;
            }
        }
        Ok(Answer {
            status,
            headers,
            body,
        })
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|_| {
            panic!(
                "status {}: not JSON: {}",
                self.status,
                String::from_utf8_lossy(&self.body)
            )
        })
    }

    #[track_caller]
    fn expect(self, status: u16) -> Answer {
        assert_eq!(
            self.status,
            status,
            "body: {}",
            String::from_utf8_lossy(&self.body)
        );
        self
    }

    /// Asserts a JSON error answer with this status and `code`.
    #[track_caller]
    fn expect_error(self, status: u16, code: &str) -> Answer {
        let body = self.json();
        assert_eq!(
            (self.status, body["code"].as_str()),
            (status, Some(code)),
            "{body}"
        );
        assert!(
            body["error"].as_str().is_some_and(|e| !e.is_empty()),
            "{body}"
        );
        self
    }
}

/// Whether the server closes `stream` within `wait` (EOF or reset), reading whatever it sends.
fn closed_within(stream: &mut TcpStream, wait: Duration) -> bool {
    let start = Instant::now();
    stream
        .set_read_timeout(Some(Duration::from_millis(100)))
        .expect("timeout");
    let mut buffer = [0u8; 4096];
    while start.elapsed() < wait {
        match stream.read(&mut buffer) {
            Ok(0) => return true,
            Ok(_) => {}
            Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return true,
        }
    }
    false
}

#[test]
fn slow_and_idle_connections_are_closed_and_normal_clients_served() {
    let mut served = Served::start("slow", &["--header-timeout", "1s"]);
    let silent: Vec<TcpStream> = (0..20).map(|_| served.connect()).collect();
    let mut dribbling: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = served.connect();
            stream
                .write_all(b"GET /prompts/x HTTP/1.1\r\nHost: x\r\n")
                .expect("partial head");
            stream
        })
        .collect();
    let idle: Vec<TcpStream> = (0..20)
        .map(|_| {
            let mut stream = served.connect();
            stream
                .write_all(format!("GET /prompts/nothing.here HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {READER}\r\n\r\n").as_bytes())
                .expect("a keep-alive request");
            Answer::read(&mut stream).expect("answered").expect(404);
            stream
        })
        .collect();
    // The slow heads keep sending, a header line every 200 ms: the timeout is on the whole
    // head, not on silence.
    let stop = Arc::new(AtomicBool::new(false));
    let dribblers: Vec<TcpStream> = dribbling
        .iter()
        .map(|s| s.try_clone().expect("clone"))
        .collect();
    let dribble = {
        let stop = Arc::clone(&stop);
        thread::spawn(move || {
            let mut dribblers = dribblers;
            while !stop.load(Ordering::Relaxed) {
                for stream in &mut dribblers {
                    let _ = stream.write_all(b"X-Slow: 1\r\n");
                }
                thread::sleep(Duration::from_millis(200));
            }
        })
    };
    served.assert_alive_and_serving();
    for (kind, streams) in [("silent", silent), ("idle keep-alive", idle)] {
        for mut stream in streams {
            assert!(
                closed_within(&mut stream, Duration::from_secs(5)),
                "a {kind} connection stayed open"
            );
        }
    }
    for stream in &mut dribbling {
        assert!(
            closed_within(stream, Duration::from_secs(5)),
            "a slow head stayed open"
        );
    }
    stop.store(true, Ordering::Relaxed);
    dribble.join().expect("dribbler");
    served.assert_alive_and_serving();
}

#[test]
fn connections_over_the_cap_are_refused_clearly_and_served_after() {
    let mut served = Served::start(
        "cap",
        &[
            "--max-connections",
            "8",
            "--max-refused",
            "4",
            "--header-timeout",
            "5s",
        ],
    );
    let held: Vec<TcpStream> = (0..8).map(|_| served.connect()).collect();
    // One more: a JSON 503 as soon as its head arrives.
    let refused = served.request("GET", "/prompts/reader.p", Some(READER), None);
    let refused = refused.expect_error(503, "too_many_connections");
    assert_eq!(refused.header("retry-after"), Some("1"));
    assert_eq!(refused.header("connection"), Some("close"));
    // Four refusals waiting for their heads fill the refusal slots: the next connection is
    // closed at once, without an answer and without holding a file descriptor.
    let waiting: Vec<TcpStream> = (0..4).map(|_| served.connect()).collect();
    // The server takes the four into its refusal slots as it accepts them, which on a loaded
    // machine can take longer than any fixed sleep: until then a probe is still refused with
    // an answer (and frees its slot at once). Probe until one is closed unanswered.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let mut dropped = served.connect();
        let _ = dropped.write_all(b"GET /prompts/reader.p HTTP/1.1\r\nHost: x\r\n\r\n");
        match Answer::read(&mut dropped) {
            Err(err) => {
                assert_ne!(err.kind(), ErrorKind::WouldBlock, "no answer and no close");
                break;
            }
            Ok(answer) if answer.status == 503 && Instant::now() < deadline => {
                thread::sleep(Duration::from_millis(50));
            }
            Ok(answer) => panic!("expected a closed connection, got {answer:?}"),
        }
    }
    drop((held, waiting));
    // The held slots come free as the server sees them close: normal service again.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        match served.try_request("GET", "/prompts/nothing.here", Some(READER), None) {
            Ok(answer) if answer.status == 404 => break,
            refused => assert!(Instant::now() < deadline, "still refused: {refused:?}"),
        }
        thread::sleep(Duration::from_millis(50));
    }
    served.assert_alive_and_serving();
}

#[test]
fn strangers_bodies_are_refused_before_they_are_read() {
    let mut served = Served::start("bodies", &["--max-body-bytes", "1048576"]);
    served.assert_alive_and_serving();
    let rss_before = served.peak_rss();
    // 200 strangers each announce 1 MiB and send all but its last byte, then wait.
    let answers: Arc<Mutex<Vec<String>>> = Arc::default();
    let clients: Vec<_> = (0..200)
        .map(|_| {
            let mut stream = served.connect();
            let answers = Arc::clone(&answers);
            thread::spawn(move || {
                let size = 1024 * 1024;
                let head = format!("POST /prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {size}\r\n\r\n");
                let sent = stream
                    .write_all(head.as_bytes())
                    .and_then(|()| stream.write_all(&vec![b' '; size - 1]));
                // Refused early, the server may close before all of it is sent.
                let outcome = match Answer::read(&mut stream) {
                    Ok(answer) => format!("{} {}", answer.status, answer.json()["code"]),
                    Err(err) if matches!(err.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                        "no answer".to_owned()
                    }
                    Err(_) if sent.is_err() => "reset".to_owned(),
                    Err(err) => format!("error {err}"),
                };
                answers.lock().expect("answers").push(outcome);
            })
        })
        .collect();
    for client in clients {
        client.join().expect("client");
    }
    let answers = answers.lock().expect("answers");
    assert!(
        answers
            .iter()
            .all(|a| a == "401 \"unauthorized\"" || a == "reset"),
        "{answers:?}"
    );
    assert!(answers.iter().any(|a| a.starts_with("401")), "{answers:?}");
    let grown = served.peak_rss().saturating_sub(rss_before);
    assert!(grown < 64 * 1024 * 1024, "the server grew by {grown} bytes");

    // A declared 10 GB body: 401 for a stranger, 413 for an author, before a byte of it.
    for (token, status, code) in [
        (None, 401, "unauthorized"),
        (Some(AUTHOR), 413, "payload_too_large"),
    ] {
        let mut stream = served.connect();
        let auth = token
            .map(|t| format!("Authorization: Bearer {t}\r\n"))
            .unwrap_or_default();
        stream
            .write_all(format!("POST /prompts HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{auth}Content-Length: 10000000000\r\n\r\n").as_bytes())
            .expect("head");
        Answer::read(&mut stream)
            .expect("an early answer")
            .expect_error(status, code);
    }
    served.assert_alive_and_serving();
}

#[test]
fn bodies_are_capped_as_they_stream_and_timed() {
    let mut served = Served::start(
        "stream",
        &[
            "--max-body-bytes",
            "65536",
            "--request-timeout",
            "3s",
            "--cpu-queue-timeout",
            "1s",
            "--cpu-deadline",
            "1s",
        ],
    );
    // Chunked, no Content-Length: cut off at the limit.
    let mut stream = served.connect();
    stream
        .write_all(format!("POST /prompts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUTHOR}\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").as_bytes())
        .expect("head");
    let chunk = format!("4000\r\n{}\r\n", " ".repeat(0x4000));
    for _ in 0..8 {
        if stream.write_all(chunk.as_bytes()).is_err() {
            break;
        }
    }
    Answer::read(&mut stream)
        .expect("an answer")
        .expect_error(413, "payload_too_large");
    // A body that stops arriving: 408 at the request timeout.
    let mut stream = served.connect();
    stream
        .write_all(format!("POST /prompts HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {AUTHOR}\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{{\"prompt").as_bytes())
        .expect("head and a little body");
    Answer::read(&mut stream)
        .expect("an answer")
        .expect_error(408, "body_timeout");
    served.assert_alive_and_serving();
}

/// 13,000 distinct names of up to three base-36 digits and one repeated: 52 KB, under hyper's
/// 64 KiB URI limit.
fn huge_query() -> String {
    let name = |mut i: u32| {
        let mut name = String::new();
        loop {
            name.insert(0, char::from_digit(i % 36, 36).expect("a digit"));
            i /= 36;
            if i == 0 {
                return name;
            }
        }
    };
    let mut query: Vec<String> = (0..13_000).map(name).collect();
    query.push(name(0));
    query.join("&")
}

#[test]
fn a_huge_query_is_401_for_strangers_and_a_bounded_400_for_readers() {
    let mut served = Served::start("query", &[]);
    let target = format!("/prompts/reader.p?{}", huge_query());
    served
        .request("GET", &target, None, None)
        .expect_error(401, "unauthorized");
    let refused = served
        .request("GET", &target, Some(READER), None)
        .expect_error(400, "bad_request");
    assert!(
        refused.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("at most"),
        "{:?}",
        refused.json()
    );
    served.assert_alive_and_serving();
}

#[test]
fn a_template_bomb_push_is_422_and_the_server_lives() {
    let mut served = Served::start("bomb", &[]);
    let bomb = format!("{{{{ x{} }}}}", "|upper".repeat(2000));
    let answer = served
        .push("bomb", "1", &bomb)
        .expect_error(422, "invalid_prompt");
    assert_eq!(
        answer.json()["diagnostics"][0]["code"],
        "P0204",
        "{}",
        answer.json()
    );
    served.assert_alive_and_serving();
}

/// Production reads in a loop until `stop`, each answer's status and latency.
fn read_while(served: &Served, stop: &AtomicBool) -> Vec<(u16, Duration)> {
    let mut reads = Vec::new();
    while !stop.load(Ordering::Relaxed) {
        let start = Instant::now();
        let answer = served.request("GET", "/prompts/reader.p", Some(READER), None);
        reads.push((answer.status, start.elapsed()));
        thread::sleep(Duration::from_millis(50));
    }
    reads
}

#[test]
fn diffs_under_load_leave_readers_served_and_stop_at_their_deadline() {
    let mut served = Served::start(
        "diff",
        &[
            "--cpu-slots",
            "2",
            "--cpu-deadline",
            "4s",
            "--cpu-queue-timeout",
            "500ms",
        ],
    );
    served.stable_prompt();
    // Two unrelated 16k-line versions: tens of seconds of Myers diff without a deadline.
    for (version, prefix) in [("1", "a"), ("2", "b")] {
        let text: Vec<String> = (0..16_000).map(|i| format!("{prefix}{i}")).collect();
        served
            .push("big.diff", version, &text.join("\n"))
            .expect(201);
    }
    let stop = AtomicBool::new(false);
    let (diffs, busy, reads) = thread::scope(|scope| {
        let reads = scope.spawn(|| read_while(&served, &stop));
        let diff = || {
            served.request(
                "GET",
                "/prompts/big.diff/diff?v1=1&v2=2",
                Some(AUTHOR),
                None,
            )
        };
        let diffs: Vec<_> = (0..2).map(|_| scope.spawn(diff)).collect();
        // Both CPU slots are taken now: a third diff waits 500 ms, then is told to come back.
        thread::sleep(Duration::from_millis(1000));
        let busy = diff();
        let diffs: Vec<Answer> = diffs.into_iter().map(|d| d.join().expect("diff")).collect();
        stop.store(true, Ordering::Relaxed);
        (diffs, busy, reads.join().expect("reader"))
    });
    for answer in diffs {
        let answer = answer.expect_error(422, "too_complex");
        assert!(answer.json()["error"]
            .as_str()
            .unwrap_or_default()
            .contains("diffing big.diff 1 and 2"));
    }
    let busy = busy.expect_error(503, "busy");
    assert_eq!(busy.header("retry-after"), Some("1"));
    // Readers were answered all along, each well inside the diffs' 4 s.
    assert!(reads.len() >= 10, "{reads:?}");
    for (status, took) in &reads {
        assert_eq!(*status, 200, "{reads:?}");
        assert!(
            *took < Duration::from_secs(2),
            "a read took {took:?} while diffs ran: {reads:?}"
        );
    }
    served.assert_alive_and_serving();
}

#[test]
fn heavy_push_validation_leaves_readers_served() {
    let mut served = Served::start(
        "validate",
        &[
            "--cpu-slots",
            "2",
            "--cpu-deadline",
            "3s",
            "--cpu-queue-timeout",
            "1s",
        ],
    );
    served.stable_prompt();
    // A prompt file using 1,500 variables it does not declare: seconds of validation on a
    // debug build (minutes before validation was linear).
    let mut file = "id: slow.push\nversion: 1\nowner: x\nmodel: nova-lite\ntags: []\nvariables:\n  declared: {type: string}\ntemplate: |\n  {{ declared }}\n".to_owned();
    for i in 0..1500 {
        file += &format!("  {{{{ v{i} }}}}\n");
    }
    let stop = AtomicBool::new(false);
    let (pushes, reads) = thread::scope(|scope| {
        let reads = scope.spawn(|| read_while(&served, &stop));
        let pushes: Vec<_> = (0..2)
            .map(|_| {
                scope.spawn(|| {
                    served.request(
                        "POST",
                        "/prompts",
                        Some(AUTHOR),
                        Some(("application/yaml", file.as_bytes())),
                    )
                })
            })
            .collect();
        let pushes: Vec<Answer> = pushes
            .into_iter()
            .map(|p| p.join().expect("push"))
            .collect();
        thread::sleep(Duration::from_millis(300));
        stop.store(true, Ordering::Relaxed);
        (pushes, reads.join().expect("reader"))
    });
    for answer in pushes {
        // Past the deadline, or refused by fast validation: never accepted, never a 5xx.
        let code = answer.json()["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert_eq!(answer.status, 422, "{}", answer.json());
        assert!(code == "too_complex" || code == "invalid_prompt", "{code}");
    }
    for (status, took) in &reads {
        assert_eq!(*status, 200, "{reads:?}");
        assert!(
            *took < Duration::from_secs(2),
            "a read took {took:?} during validation: {reads:?}"
        );
    }
    served.assert_alive_and_serving();
}

#[test]
fn bad_limits_are_a_usage_error() {
    let output = Command::new(env!("CARGO_BIN_EXE_promptops"))
        .args([
            "registry",
            "serve",
            "--no-auth",
            "--listen",
            "127.0.0.1:0",
            "--store",
            "sqlite:/nonexistent/x.db",
        ])
        .args(["--cpu-deadline", "40s"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("request timeout"), "{stderr}");
}
