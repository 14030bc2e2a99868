//! The runtime's direct Lambda invoke tier (`PROMPT_REGISTRY_FUNCTION`) against the real
//! `promptops-registry-lambda` binary: the real `aws-sdk-lambda` client sends `Invoke` to a
//! local stand-in of the Lambda service, which hands the payload as an event to the function
//! process polling the same server's Runtime API and returns its answer. The registry runs on
//! the embedded store; releases are made in-process on the same database file, as another
//! registry instance would.

mod greeter;

use std::sync::LazyLock;
use std::time::Duration;

use greeter::{compiled, prompt_file, Greeter, Vars};
use promptops_registry::push::from_yaml;
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::Registry;
use promptops_runtime::events::EventCapture;
use promptops_runtime::resolve::lambda::LambdaFetcher;
use promptops_runtime::resolve::{CacheState, Fetch, ResolverConfig, Verdict};
use promptops_runtime::{Resolver, Runtime, Source, Version};
use promptops_tests::lambda_runtime::{
    Function, FunctionCommand, Report, RuntimeApi, FUNCTION_ARN, FUNCTION_NAME,
};
use promptops_tests::{workspace_bin, TempDir};

/// One global event sink for the whole binary (per-thread subscribers miss events whose
/// callsite another thread registered first). Each test has its own prompt id.
static CAPTURE: LazyLock<EventCapture> = LazyLock::new(|| {
    let (capture, subscriber) = EventCapture::new();
    tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    capture
});

fn events_about(id: &str, name: &str) -> Vec<serde_json::Value> {
    CAPTURE
        .events()
        .into_iter()
        .filter(|event| event["prompt_id"] == id && event["event"] == name)
        .collect()
}

/// The registry function polling `api`, on the SQLite file at `db`.
fn spawn_registry(api: &RuntimeApi, db: &std::path::Path) -> Function {
    FunctionCommand::new(
        workspace_bin("promptops-registry", "promptops-registry-lambda"),
        api,
    )
    .env(
        "PROMPTOPS_REGISTRY_STORE",
        format!("sqlite:{}", db.display()),
    )
    .env_remove("DYNAMODB_TABLE")
    .env_remove("S3_BUCKET")
    .env_remove("PROMPTOPS_REGISTRY_IAM_ROLES")
    .spawn()
}

/// A real Lambda client sending `Invoke` to `api` with static test credentials.
fn lambda_client(api: &RuntimeApi) -> aws_sdk_lambda::Client {
    aws_sdk_lambda::Client::new(&promptops_tests::local_sdk_config(&api.endpoint_url()))
}

/// The Function URL responses the function has returned since the last call.
async fn function_answers(api: &mut RuntimeApi) -> Vec<serde_json::Value> {
    let mut answers = Vec::new();
    while let Some(report) = api.next_report(Duration::from_millis(50)).await {
        if let Report::Response { body, .. } = report {
            answers.push(serde_json::from_str(&body).expect("a JSON response"));
        }
    }
    answers
}

fn config(ttl_ms: u64) -> ResolverConfig {
    ResolverConfig {
        ttl: Duration::from_millis(ttl_ms),
        cold_budget: Duration::from_secs(10),
        warm_budget: Duration::from_secs(10),
        fetch_timeout: Duration::from_secs(10),
        ..ResolverConfig::default()
    }
}

/// Push versions 1–3 of `id` through the in-process registry on `db`.
async fn releases(db: &std::path::Path, id: &str) -> Registry<SqliteStore> {
    let registry = Registry::new(SqliteStore::open(db).expect("store"));
    for version in 1..=3 {
        let pushed = from_yaml(prompt_file(id, version).as_bytes()).expect("valid");
        registry.push(pushed, "test").await.expect("push");
    }
    registry
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn resolution_goes_through_a_direct_invoke_of_the_registry_function() {
    LazyLock::force(&CAPTURE);
    let dir = TempDir::new("lambda-tier");
    let db = dir.join("registry.db");
    let id = "demo.lambda-tier";
    let registry = releases(&db, id).await;
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let _function = spawn_registry(&api, &db);

    let fetcher = LambdaFetcher::with_client(FUNCTION_NAME, lambda_client(&api)).expect("tier");
    let resolver = Resolver::new(vec![Box::new(fetcher) as Box<dyn Fetch>], config(150));
    let runtime = Runtime::local().with_resolver(resolver.clone());
    let compiled = compiled(id);
    let greeter = promptops_runtime::Prompt::<Greeter>::__new(compiled);

    // Nothing stable yet: the function answers 404 and the compiled prompt runs.
    let first = resolver.resolve(compiled).await;
    assert_eq!(
        (first.source, first.verdict, first.cache),
        (Source::Compiled, Verdict::NotFound, CacheState::Fetched)
    );

    // Promote the compatible v2: after the TTL the next call fetches it through the function.
    registry
        .promote(id, &Version::new(2), None, None, "test")
        .await
        .expect("promote 2");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = greeter
        .invoke(&runtime, &Vars { name: "Ada" })
        .await
        .expect("call");
    assert_eq!(done.prompt.version, Version::new(2));
    assert_eq!(done.source, Source::Lambda);
    assert!(
        done.prompt.template.contains("v2"),
        "{}",
        done.prompt.template
    );
    let resolved = events_about(id, "prompt_resolved");
    let last = resolved.last().expect("prompt_resolved");
    assert_eq!(last["source"], "lambda");
    assert_eq!(last["resolved_version"], "2");
    assert_eq!(last["verdict"], "compatible");
    assert_eq!(
        events_about(id, "prompt_invoked").last().expect("invoked")["prompt_source"],
        "lambda"
    );

    // Unchanged: the revalidation sends the ETag through the event and the function answers
    // 304, so the cached v2 stays.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let revalidated = resolver.resolve(compiled).await;
    assert_eq!(revalidated.def.version, Version::new(2));
    assert_eq!(revalidated.source, Source::Lambda);
    assert_eq!(revalidated.cache, CacheState::Fetched);
    let answers = function_answers(&mut api).await;
    assert_eq!(
        answers.last().map(|answer| answer["statusCode"].clone()),
        Some(serde_json::json!(304)),
        "{answers:?}"
    );

    // The incompatible v3: refused, the compiled prompt runs, one mismatch event.
    registry
        .promote(id, &Version::new(3), None, None, "test")
        .await
        .expect("promote 3");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let done = greeter
        .invoke(&runtime, &Vars { name: "Grace" })
        .await
        .expect("call");
    assert!(std::ptr::eq(&*done.prompt, compiled));
    let mismatch = events_about(id, "prompt_contract_mismatch");
    assert_eq!(mismatch.len(), 1, "{mismatch:#?}");
    assert_eq!(mismatch[0]["remote_version"], "3");

    // A pinned version is asked for by number through the same event.
    resolver.pin(compiled, Version::new(2));
    let pinned = resolver.resolve(compiled).await;
    assert_eq!(pinned.def.version, Version::new(2));
    assert_eq!(pinned.source, Source::Lambda);
    assert!(!CAPTURE.text().contains("Ada"), "a sensitive value leaked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unknown_or_silent_function_falls_back_to_the_compiled_prompt() {
    LazyLock::force(&CAPTURE);
    let api = RuntimeApi::start().await.expect("runtime api");
    let id = "demo.lambda-tier-missing";
    let compiled = compiled(id);

    // The service answers ResourceNotFoundException: the compiled prompt, and a warning that
    // names the function.
    let fetcher =
        LambdaFetcher::with_client("no-such-registry", lambda_client(&api)).expect("tier");
    let resolver = Resolver::new(vec![Box::new(fetcher) as Box<dyn Fetch>], config(60_000));
    let resolution = resolver.resolve(compiled).await;
    assert!(std::ptr::eq(&*resolution.def, compiled));
    assert_eq!(
        (resolution.source, resolution.cache),
        (Source::Compiled, CacheState::Miss)
    );
    let text = CAPTURE.text();
    assert!(
        text.contains("no-such-registry") && text.contains("ResourceNotFound"),
        "the failure is named: {text}"
    );

    // The named function exists but never answers (no process polls for its events): the
    // call waits no longer than the cold budget, then runs the compiled prompt.
    let fetcher = LambdaFetcher::with_client(FUNCTION_ARN, lambda_client(&api)).expect("tier");
    let resolver = Resolver::new(
        vec![Box::new(fetcher) as Box<dyn Fetch>],
        ResolverConfig {
            cold_budget: Duration::from_millis(300),
            ..config(60_000)
        },
    );
    let started = std::time::Instant::now();
    let resolution = resolver.resolve(compiled).await;
    let waited = started.elapsed();
    assert!(std::ptr::eq(&*resolution.def, compiled));
    assert_eq!(
        (resolution.source, resolution.cache),
        (Source::Compiled, CacheState::Miss)
    );
    assert!(
        waited < Duration::from_secs(2),
        "the budget holds: waited {waited:?}"
    );
}

/// The zero-code path: `Resolver::from_lookup` with `PROMPT_REGISTRY_FUNCTION` builds the
/// client from the standard AWS configuration (here `AWS_ENDPOINT_URL_LAMBDA` and static
/// credentials in this test process's environment) and the mode from
/// `PROMPTOPS_REGISTRY_MODE`, sent on every request.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_environment_alone_selects_the_lambda_tier_and_its_mode() {
    LazyLock::force(&CAPTURE);
    let dir = TempDir::new("lambda-tier-env");
    let db = dir.join("registry.db");
    let id = "demo.lambda-tier-env";
    let _registry = releases(&db, id).await;
    let api = RuntimeApi::start().await.expect("runtime api");
    let _function = spawn_registry(&api, &db);
    for (name, value) in [
        ("AWS_ENDPOINT_URL_LAMBDA", api.endpoint_url()),
        ("AWS_REGION", "us-east-1".to_owned()),
        ("AWS_ACCESS_KEY_ID", "AKIDTEST".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "secret".to_owned()),
        ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
        ("AWS_CONFIG_FILE", "/nonexistent/promptops-test".to_owned()),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/promptops-test".to_owned(),
        ),
    ] {
        std::env::set_var(name, value);
    }
    let compiled = compiled(id);
    let resolver_in = |mode: &'static str| {
        Resolver::from_lookup(move |name| match name {
            "PROMPT_REGISTRY_FUNCTION" => Some(FUNCTION_NAME.to_owned()),
            "PROMPTOPS_REGISTRY_MODE" => Some(mode.to_owned()),
            "PROMPTOPS_REGISTRY_COLD_BUDGET_MS" => Some("10000".to_owned()),
            _ => None,
        })
        .expect("valid configuration")
        .expect("a registry is configured")
    };

    // Nothing is stable: production sees no version. Dev would see drafts, which the
    // registry shows only to authors, and a direct invoke is a reader: the 403 that names
    // the mode shows the mode reached the function.
    let production = resolver_in("production").resolve(compiled).await;
    assert_eq!(production.verdict, Verdict::NotFound, "{production:?}");
    assert_eq!(production.source, Source::Compiled);
    let dev = resolver_in("dev").resolve(compiled).await;
    assert!(std::ptr::eq(&*dev.def, compiled));
    let unavailable = events_about(id, "prompt_registry_unavailable");
    let message = unavailable
        .last()
        .and_then(|event| event["error_message"].as_str())
        .unwrap_or_default();
    assert!(
        message.contains("403") && message.contains("dev mode"),
        "{unavailable:?}"
    );
}
