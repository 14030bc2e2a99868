//! `promptops registry …` with the real binary: `serve` on a loopback port over a fresh SQLite
//! file, and the client commands against it. The SigV4 cases run the client commands against
//! the registry router as deployed on Lambda: in IAM mode, behind a Function URL's signature
//! check (`promptops_tests::sigv4`, which verifies each signature independently), served
//! in-process on loopback.

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use promptops_tests::serve::ServerThread;
use promptops_tests::TempDir;

const RELEASER: &str = "cli-releaser-token";
const READER: &str = "cli-reader-token";

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The binary with a clean registry environment, and no AWS setting of this machine: no
/// `AWS_*` variable, no AWS config or credentials file, no instance metadata.
fn promptops() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops"));
    command
        .env_remove("PROMPTOPS_REGISTRY_URL")
        .env_remove("PROMPTOPS_REGISTRY_TOKEN")
        .env_remove("PROMPTOPS_REGISTRY_AUTH");
    for (name, _) in std::env::vars_os() {
        if name.to_string_lossy().starts_with("AWS_") {
            command.env_remove(name);
        }
    }
    command
        .env("AWS_CONFIG_FILE", "/nonexistent/promptops-test/aws-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/promptops-test/aws-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true");
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
    let scratch = TempDir::new("cli-registry-noauth");
    let dir = scratch.path();
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
    let scratch = TempDir::new("cli-registry-lifecycle");
    let dir = scratch.path();
    let served = serve(dir);
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
        forbidden
            .stderr
            .contains("403 Forbidden: promoting needs the releaser role"),
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
    let scratch = TempDir::new("cli-registry-bump");
    let dir = scratch.path();
    let served = serve(dir);
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

/// The region of the stand-in Function URL.
const REGION: &str = "eu-west-1";
/// The deploy job's key: mapped to `releaser` in the registry.
const RELEASE_KEY: &str = "AKIARELEASEEXAMPLE";
const RELEASE_SECRET: &str = "release/secret+EXAMPLEKEY";
const RELEASE_ARN: &str = "arn:aws:sts::123456789012:assumed-role/deploy/promptops-beta-deploy";
/// Another caller: unmapped, so a reader.
const AGENT_KEY: &str = "AKIAAGENTEXAMPLE";
const AGENT_SECRET: &str = "agent/secret+EXAMPLEKEY";
const AGENT_ARN: &str = "arn:aws:sts::123456789012:assumed-role/classifier/lambda";

/// The registry router in IAM mode behind the signature check, on a loopback port, served by
/// its own runtime on a thread; stopped on drop.
struct SignedRegistry {
    url: String,
    _server: ServerThread,
}

/// Hands the verified caller on as the Lambda adapter hands on a Function URL's IAM caller.
async fn as_iam_caller(
    mut request: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let arn = request
        .extensions()
        .get::<promptops_tests::sigv4::VerifiedCaller>()
        .map(|caller| caller.arn.clone());
    request
        .extensions_mut()
        .insert(promptops_registry::auth::IamCaller(arn));
    next.run(request).await
}

fn serve_signed(dir: &Path) -> SignedRegistry {
    use promptops_registry::http::{router, AppState};
    use promptops_tests::sigv4::{require_signature, Verifier};

    let store = promptops_registry::store::sqlite::SqliteStore::open(dir.join("registry.db"))
        .expect("store");
    let auth = promptops_registry::Auth::iam_from_config(&format!("{RELEASE_ARN}=releaser"))
        .expect("roles");
    let state = std::sync::Arc::new(AppState {
        registry: promptops_registry::Registry::new(store),
        auth,
    });
    let verifier = Verifier::new(REGION, "lambda")
        .with_key(RELEASE_KEY, RELEASE_SECRET, RELEASE_ARN)
        .with_key(AGENT_KEY, AGENT_SECRET, AGENT_ARN);
    let app = router(state)
        .layer(axum::middleware::from_fn(as_iam_caller))
        .layer(axum::middleware::from_fn_with_state(
            std::sync::Arc::new(verifier),
            require_signature,
        ));
    let server = ServerThread::start(app);
    SignedRegistry {
        url: server.url(),
        _server: server,
    }
}

/// The client against the signed registry with `key`/`secret` (and `session_token`) as the
/// environment's AWS credentials and `extra` variables.
fn signed_client(
    served: &SignedRegistry,
    (key, secret, session_token): (&str, &str, Option<&str>),
    extra: &[(&str, &str)],
    args: &[&str],
) -> Run {
    let mut command = promptops();
    command
        .arg("registry")
        .args(args)
        .env("PROMPTOPS_REGISTRY_URL", &served.url)
        .env("AWS_ACCESS_KEY_ID", key)
        .env("AWS_SECRET_ACCESS_KEY", secret);
    if let Some(token) = session_token {
        command.env("AWS_SESSION_TOKEN", token);
    }
    for (name, value) in extra {
        command.env(name, value);
    }
    let output = command.output().expect("run the client");
    Run {
        code: output.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}

#[test]
fn registry_commands_sign_with_the_aws_credentials() {
    let scratch = TempDir::new("cli-registry-sigv4");
    let dir = scratch.path();
    let served = serve_signed(dir);
    let prompts = workspace_root().join("prompts");
    let prompts = prompts.to_str().expect("utf-8 path");
    let releaser = (RELEASE_KEY, RELEASE_SECRET, Some("deploy-session-token"));
    let agent = (AGENT_KEY, AGENT_SECRET, None);
    let sigv4 = [("PROMPTOPS_REGISTRY_AUTH", "sigv4"), ("AWS_REGION", REGION)];

    // POSTs with bodies, signed with temporary credentials (as in the deploy job).
    let published = signed_client(&served, releaser, &sigv4, &["publish", prompts]);
    assert_eq!(
        published.code, 0,
        "{}{}",
        published.stdout, published.stderr
    );
    assert!(
        published
            .stdout
            .ends_with(&format!("{} pushed, 0 unchanged\n", prompts::ALL.len())),
        "{}",
        published.stdout
    );
    let id = "customer-support.intent-classifier";
    let promoted = signed_client(
        &served,
        releaser,
        &sigv4,
        &["promote", id, "3", "--reason", "signed release"],
    );
    assert_eq!(promoted.code, 0, "{}", promoted.stderr);
    assert_eq!(promoted.stdout, format!("{id} stable: 3 (was none)\n"));

    // GETs with a query, by another caller, with `--auth` and AWS_DEFAULT_REGION instead.
    let flags = ["--auth", "sigv4"];
    let region = [("AWS_DEFAULT_REGION", REGION)];
    let stable = signed_client(
        &served,
        agent,
        &region,
        &[&flags[..], &["get", id]].concat(),
    );
    assert_eq!(stable.code, 0, "{}", stable.stderr);
    let body: serde_json::Value = serde_json::from_str(&stable.stdout).expect("JSON");
    assert_eq!(body["version"], "3");
    // The registry knew each caller by the ARN behind its signature.
    let history = signed_client(
        &served,
        agent,
        &region,
        &[&flags[..], &["history", id]].concat(),
    );
    assert!(
        history.stdout.contains(&format!(
            "promote  - -> 3  by {RELEASE_ARN}: signed release"
        )),
        "{}{}",
        history.stdout,
        history.stderr
    );
    // The agent is only a reader.
    let forbidden = signed_client(
        &served,
        agent,
        &region,
        &[&flags[..], &["promote", id, "3"]].concat(),
    );
    assert_eq!(forbidden.code, 1, "{}", forbidden.stderr);
    assert!(
        forbidden
            .stderr
            .contains("403 Forbidden: promoting needs the releaser role"),
        "{}",
        forbidden.stderr
    );
    assert!(
        !forbidden.stderr.contains("help: AWS refused"),
        "{}",
        forbidden.stderr
    );
}

#[test]
fn a_bad_signature_or_none_is_refused_before_the_registry() {
    let scratch = TempDir::new("cli-registry-sigv4-refused");
    let dir = scratch.path();
    let served = serve_signed(dir);
    let sigv4 = [("PROMPTOPS_REGISTRY_AUTH", "sigv4"), ("AWS_REGION", REGION)];

    let wrong = signed_client(
        &served,
        (RELEASE_KEY, "not-the-release-secret", None),
        &sigv4,
        &["versions", "customer-support.intent-classifier"],
    );
    assert_eq!(wrong.code, 1, "{}{}", wrong.stdout, wrong.stderr);
    assert!(
        wrong.stderr.contains(
            "The request signature we calculated does not match the signature you provided"
        ) && wrong.stderr.contains("403 Forbidden: ")
            && wrong.stderr.contains("help: AWS refused the request"),
        "{}",
        wrong.stderr
    );
    assert!(!wrong.stderr.contains("not-the-release-secret"));

    // Signed for another region: refused.
    let elsewhere = signed_client(
        &served,
        (RELEASE_KEY, RELEASE_SECRET, None),
        &[
            ("PROMPTOPS_REGISTRY_AUTH", "sigv4"),
            ("AWS_REGION", "us-east-1"),
        ],
        &["versions", "customer-support.intent-classifier"],
    );
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stderr);
    assert!(elsewhere.stderr.contains("region"), "{}", elsewhere.stderr);

    // Not signed (the default for a URL that is not a Function URL, without a token).
    let unsigned = signed_client(
        &served,
        (RELEASE_KEY, RELEASE_SECRET, None),
        &[("AWS_REGION", REGION)],
        &["versions", "customer-support.intent-classifier"],
    );
    assert_eq!(unsigned.code, 1, "{}", unsigned.stderr);
    assert!(unsigned.stderr.contains("403"), "{}", unsigned.stderr);
}

#[test]
fn signing_without_a_region_or_bearer_without_a_token_is_a_usage_error() {
    let scratch = TempDir::new("cli-registry-sigv4-usage");
    let dir = scratch.path();
    let served = serve_signed(dir);
    let no_region = signed_client(
        &served,
        (RELEASE_KEY, RELEASE_SECRET, None),
        &[],
        &["--auth", "sigv4", "versions", "a"],
    );
    assert_eq!(no_region.code, 2, "{}", no_region.stderr);
    assert!(
        no_region.stderr.contains("no AWS region"),
        "{}",
        no_region.stderr
    );

    let no_token = signed_client(
        &served,
        (RELEASE_KEY, RELEASE_SECRET, None),
        &[("PROMPTOPS_REGISTRY_AUTH", "bearer")],
        &["versions", "a"],
    );
    assert_eq!(no_token.code, 2, "{}", no_token.stderr);
    assert!(
        no_token.stderr.contains("PROMPTOPS_REGISTRY_TOKEN"),
        "{}",
        no_token.stderr
    );

    // No credentials at all: the signer's error, before anything is sent.
    let output = promptops()
        .args(["registry", "--auth", "sigv4", "versions", "a", "--registry"])
        .arg(&served.url)
        .env("AWS_REGION", REGION)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("cannot load AWS credentials"), "{stderr}");
}
