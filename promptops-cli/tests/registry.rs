//! `promptops registry …` with the real binary: `serve` on a loopback port over a fresh SQLite
//! file, and the client commands against it.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

const RELEASER: &str = "cli-releaser-token";
const READER: &str = "cli-reader-token";

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "promptops-cli-registry-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary with a clean registry environment.
fn promptops() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops"));
    command
        .env_remove("PROMPTOPS_REGISTRY_URL")
        .env_remove("PROMPTOPS_REGISTRY_TOKEN");
    command
}

/// A running `promptops registry serve`, killed on drop.
struct Served {
    child: Child,
    url: String,
}

impl Drop for Served {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: &Path) -> Served {
    let tokens = dir.join("tokens.yaml");
    std::fs::write(
        &tokens,
        format!(
            "tokens:\n  - name: release-bot\n    role: releaser\n    sha256: {}\n  - name: dashboard\n    role: reader\n    sha256: {}\n",
            promptops_registry::auth::token_hash(RELEASER),
            promptops_registry::auth::token_hash(READER)
        ),
    )
    .expect("tokens file");
    let mut child = promptops()
        .args(["registry", "serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite:{}", dir.join("registry.db").display()))
        .arg("--tokens")
        .arg(&tokens)
        .stderr(Stdio::piped())
        .stdout(Stdio::null())
        .spawn()
        .expect("start the server");
    let stderr = child.stderr.take().expect("stderr");
    let mut line = String::new();
    BufReader::new(stderr)
        .read_line(&mut line)
        .expect("the server says where it listens");
    let url = line
        .split_whitespace()
        .find(|word| word.starts_with("http://"))
        .unwrap_or_else(|| panic!("no URL in {line:?}"))
        .to_owned();
    Served { child, url }
}

struct Run {
    code: i32,
    stdout: String,
    stderr: String,
}

fn client(served: &Served, token: &str, args: &[&str]) -> Run {
    let output = promptops()
        .arg("registry")
        .args(args)
        .env("PROMPTOPS_REGISTRY_URL", &served.url)
        .env("PROMPTOPS_REGISTRY_TOKEN", token)
        .output()
        .expect("run the client");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn serve_refuses_to_start_without_auth() {
    let dir = temp_dir("noauth");
    let output = promptops()
        .args(["registry", "serve", "--listen", "127.0.0.1:0", "--store"])
        .arg(format!("sqlite:{}", dir.join("r.db").display()))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("--no-auth"));
}

#[test]
fn publish_get_promote_history_against_a_served_registry() {
    let dir = temp_dir("lifecycle");
    let served = serve(&dir);
    let prompts = workspace_root().join("prompts");
    let prompts = prompts.to_str().expect("utf-8 path");

    let first = client(&served, RELEASER, &["publish", prompts]);
    assert_eq!(first.code, 0, "{}{}", first.stdout, first.stderr);
    assert!(
        first
            .stdout
            .ends_with(&format!("{} pushed, 0 unchanged\n", prompts::ALL.len())),
        "{}",
        first.stdout
    );
    let again = client(&served, RELEASER, &["publish", prompts]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert!(
        again
            .stdout
            .ends_with(&format!("0 pushed, {} unchanged\n", prompts::ALL.len())),
        "{}",
        again.stdout
    );

    let id = "customer-support.intent-classifier";
    let draft = client(&served, RELEASER, &["get", id, "--mode", "dev"]);
    assert_eq!(draft.code, 0, "{}", draft.stderr);
    let body: serde_json::Value = serde_json::from_str(&draft.stdout).expect("JSON");
    assert_eq!(body["version"], "3");
    assert_eq!(body["status"], "draft");
    let compiled = prompts::customer_support::intent_classifier();
    assert_eq!(
        body["content_hash"],
        compiled.content_hash(),
        "one version, one text"
    );

    // Nothing stable yet: the reader gets 404 → exit 1.
    let missing = client(&served, READER, &["get", id]);
    assert_eq!(missing.code, 1, "{}", missing.stderr);
    assert!(missing.stderr.contains("not_found"), "{}", missing.stderr);
    // A reader cannot promote.
    let forbidden = client(&served, READER, &["promote", id, "3"]);
    assert_eq!(forbidden.code, 1);
    assert!(
        forbidden.stderr.contains("403 forbidden"),
        "{}",
        forbidden.stderr
    );

    let promoted = client(
        &served,
        RELEASER,
        &["promote", id, "3", "--reason", "first release"],
    );
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert_eq!(promoted.stdout, format!("{id} stable: 3 (was none)\n"));
    let stable = client(&served, READER, &["get", id]);
    assert_eq!(stable.code, 0, "{}", stable.stderr);
    let history = client(&served, READER, &["history", id]);
    assert!(
        history
            .stdout
            .contains("promote  - -> 3  by release-bot: first release"),
        "{}",
        history.stdout
    );
    let versions = client(&served, READER, &["versions", id]);
    assert!(
        versions.stdout.starts_with("3            stable"),
        "{}",
        versions.stdout
    );
}

#[test]
fn publish_refuses_changed_text_under_a_released_version() {
    let dir = temp_dir("bump");
    let served = serve(&dir);
    let tree = dir.join("prompts");
    let file = tree.join("support/greet.yaml");
    std::fs::create_dir_all(file.parent().expect("parent")).expect("tree");
    let text = "id: support.greet\nversion: 1\nowner: team\nmodel: nova-lite\ntags: []\ntemplate: Hello {{ name }}\n";
    std::fs::write(&file, text).expect("write");
    let tree_arg = tree.to_str().expect("utf-8");
    assert_eq!(client(&served, RELEASER, &["publish", tree_arg]).code, 0);
    std::fs::write(&file, text.replace("Hello", "Hi")).expect("edit");
    let refused = client(&served, RELEASER, &["publish", tree_arg]);
    assert_eq!(refused.code, 1, "{}{}", refused.stdout, refused.stderr);
    assert!(
        refused.stderr.contains("bump `version`"),
        "{}",
        refused.stderr
    );
    std::fs::write(
        &file,
        text.replace("Hello", "Hi")
            .replace("version: 1", "version: 2"),
    )
    .expect("bump");
    let bumped = client(&served, RELEASER, &["publish", tree_arg]);
    assert_eq!(bumped.code, 0, "{}", bumped.stderr);
    assert!(
        bumped.stdout.contains("pushed    support.greet@2"),
        "{}",
        bumped.stdout
    );
    let diff = client(&served, RELEASER, &["diff", "support.greet", "1", "2"]);
    assert!(
        diff.stdout.contains("-Hello {{ name }}") && diff.stdout.contains("+Hi {{ name }}"),
        "{}",
        diff.stdout
    );
}

#[test]
fn an_unreachable_registry_exits_3_and_a_missing_url_exits_2() {
    let output = promptops()
        .args(["registry", "versions", "a"])
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(2));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    drop(listener);
    let output = promptops()
        .args(["registry", "versions", "a", "--registry"])
        .arg(format!("http://127.0.0.1:{port}"))
        .output()
        .expect("run");
    assert_eq!(output.status.code(), Some(3));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unreachable"));
}
