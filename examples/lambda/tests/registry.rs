//! The real `promptops-lambda` binary resolving its prompt through the real registry (the
//! `promptops_registry` router on its embedded store, served over loopback HTTP):
//! the prompt is fetched during init, before the function asks for its first event, and
//! revalidated at the start of an invocation once its TTL has passed, because a frozen
//! function cannot refresh in the background. The responses and events name the version and
//! source that actually ran.

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use common::{printed_events, response_json, WAIT};
use promptops_registry::auth::token_hash;
use promptops_registry::http::{router, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry, Tokens};
use promptops_runtime::Version;
use promptops_tests::lambda_runtime::Function;
use promptops_tests::lambda_runtime::{Report, RuntimeApi};
use promptops_tests::TempDir;
use serde_json::{json, Value};

const READER: &str = "agent-reader-token";
const TTL_MS: u64 = 400;

/// One request the registry saw.
#[derive(Debug, Clone)]
struct Seen {
    path: String,
    conditional: bool,
    at: Instant,
}

async fn record(
    State(log): State<Arc<Mutex<Vec<Seen>>>>,
    request: Request,
    next: Next,
) -> Response {
    let seen = Seen {
        path: request.uri().to_string(),
        conditional: request.headers().contains_key("if-none-match"),
        at: Instant::now(),
    };
    log.lock().unwrap().push(seen);
    next.run(request).await
}

/// The registry on a fresh store, serving the compiled classifier (v3) as stable and a
/// compatible v4 as a draft; returns its URL, the in-process registry and the request log.
async fn start_registry(
    name: &str,
) -> (
    String,
    Registry<SqliteStore>,
    Arc<Mutex<Vec<Seen>>>,
    TempDir,
) {
    let dir = TempDir::new(&format!("lambda-{name}"));
    let store = SqliteStore::open(dir.join("registry.db")).expect("store");
    let registry = Registry::new(store.clone());
    let compiled = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../prompts/customer_support/intent_classifier.yaml"
    ))
    .expect("the classifier's YAML");
    let v4 = compiled
        .replace("version: 3", "version: 4")
        .replace("parent: 2", "parent: 3")
        .replace(
            "You are a customer support intent classifier.",
            "You are a careful customer support intent classifier.",
        );
    for text in [&compiled, &v4] {
        let pushed = promptops_registry::push::from_yaml(text.as_bytes()).expect("valid YAML");
        registry.push(pushed, "test").await.expect("push");
    }
    promote(&registry, 3).await;
    let tokens = Tokens::parse(&format!(
        "tokens:\n  - {{name: agent, role: reader, sha256: {}}}\n",
        token_hash(READER)
    ))
    .expect("tokens");
    let state = Arc::new(AppState {
        registry: Registry::new(store),
        auth: Auth::Tokens(tokens),
    });
    let log = Arc::new(Mutex::new(Vec::new()));
    let app = router(state).layer(axum::middleware::from_fn_with_state(
        Arc::clone(&log),
        record,
    ));
    let url = format!("http://{}", promptops_tests::serve::spawn(app).await);
    (url, registry, log, dir)
}

fn requests(log: &Arc<Mutex<Vec<Seen>>>) -> Vec<Seen> {
    log.lock().unwrap().clone()
}

/// Waits for the function's first poll for an event (init is over).
async fn first_poll(api: &mut RuntimeApi) -> Instant {
    match api.next_report(WAIT).await {
        Some(Report::NextPolled { at }) => at,
        Some(other) => panic!("before the first poll: {other:?}"),
        None => panic!("the function never polled"),
    }
}

async fn classify(id: &str, api: &mut RuntimeApi) -> Report {
    let event = json!({"message": "I was charged twice this month"});
    api.invoke(id, &event, WAIT).await
}

fn ran(response: &Value) -> (String, String) {
    (
        response["prompt_version"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        response["prompt_source"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The function against the registry at `url` (reader token, TTL [`TTL_MS`]), plus `extra`.
fn spawn_against(api: &RuntimeApi, url: &str, extra: &[(&str, &str)]) -> Function {
    let ttl = TTL_MS.to_string();
    let mut env = vec![
        ("PROMPTOPS_MODEL", "local"),
        ("PROMPT_REGISTRY_URL", url),
        ("PROMPTOPS_REGISTRY_TOKEN", READER),
        ("PROMPTOPS_REGISTRY_TTL_MS", ttl.as_str()),
    ];
    env.extend_from_slice(extra);
    common::spawn_function(api, &env)
}

/// Makes `version` of the classifier the stable one.
async fn promote(registry: &Registry<SqliteStore>, version: u32) {
    registry
        .promote(
            "customer-support.intent-classifier",
            &Version::new(version),
            None,
            None,
            "test",
        )
        .await
        .expect("promote");
}

fn pair(version: &str, source: &str) -> (String, String) {
    (version.to_owned(), source.to_owned())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn init_prefetches_and_an_invocation_revalidates_a_stale_prompt() {
    let (url, registry, log, _dir) = start_registry("revalidate").await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = spawn_against(&api, &url, &[]);

    // Init fetched the prompt before the function asked for its first event.
    let polled = first_poll(&mut api).await;
    let seen = requests(&log);
    assert_eq!(seen.len(), 1, "{seen:?}");
    assert!(
        seen[0]
            .path
            .starts_with("/prompts/customer-support.intent-classifier?mode=production"),
        "{seen:?}"
    );
    assert!(!seen[0].conditional && seen[0].at < polled, "{seen:?}");

    // The first invocation finds it fresh: no registry request, the registry's v3 runs.
    let first = response_json(&classify("reg-1", &mut api).await);
    assert_eq!(ran(&first), pair("3", "http"));
    assert_eq!(first["intent"], "billing");
    assert_eq!(requests(&log).len(), 1);

    // v4 is promoted and the TTL passes. With the default warm budget (0) the next invocation
    // is served the stale v3 at once while it revalidates; the one after runs v4 without
    // asking again.
    promote(&registry, 4).await;
    tokio::time::sleep(Duration::from_millis(TTL_MS + 200)).await;
    let enqueued = Instant::now();
    let second = response_json(&classify("reg-2", &mut api).await);
    assert_eq!(ran(&second), pair("3", "http"));
    // Give the revalidation (started by the invocation) time to land.
    tokio::time::sleep(Duration::from_millis(300)).await;
    let seen = requests(&log);
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert!(seen[1].conditional && seen[1].at >= enqueued, "{seen:?}");
    let third = response_json(&classify("reg-3", &mut api).await);
    assert_eq!(ran(&third), pair("4", "http"));
    assert_eq!(requests(&log).len(), 2, "v4 is fresh: no third request");

    let events = printed_events(function).await;
    let resolved: Vec<&Value> = events
        .iter()
        .filter(|event| event["event"] == "prompt_resolved")
        .collect();
    // Init's fetch, then the stale serve of the second invocation; the third was a fresh hit,
    // which shows only in its call's own events.
    let states: Vec<(&Value, &Value)> = resolved
        .iter()
        .map(|event| (&event["cache"], &event["resolved_version"]))
        .collect();
    assert_eq!(
        states,
        [
            (&json!("fetched"), &json!("3")),
            (&json!("stale"), &json!("3"))
        ]
    );
    let completed: Vec<(&Value, &Value)> = events
        .iter()
        .filter(|event| event["event"] == "prompt_completed")
        .map(|event| (&event["request_id"], &event["prompt_version"]))
        .collect();
    assert_eq!(
        completed,
        [
            (&json!("reg-1"), &json!("3")),
            (&json!("reg-2"), &json!("3")),
            (&json!("reg-3"), &json!("4")),
        ]
    );
    assert!(
        events
            .iter()
            .all(|event| event["prompt_source"] != "compiled"),
        "every call ran the registry's version"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_a_warm_budget_the_invocation_waits_for_the_revalidation() {
    let (url, registry, log, _dir) = start_registry("warm-budget").await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = spawn_against(&api, &url, &[("PROMPTOPS_REGISTRY_WARM_BUDGET_MS", "5000")]);
    first_poll(&mut api).await;
    promote(&registry, 4).await;
    tokio::time::sleep(Duration::from_millis(TTL_MS + 200)).await;
    let first = response_json(&classify("warm-1", &mut api).await);
    assert_eq!(ran(&first), pair("4", "http"));
    assert_eq!(requests(&log).len(), 2);

    drop(function);
}
