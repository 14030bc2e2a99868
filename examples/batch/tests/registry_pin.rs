//! A batch run against the real registry (embedded store, loopback HTTP): it resolves its
//! prompt once and pins that version while a promote happens mid-run, and a resumed run on
//! another version is refused unless told to.

use std::sync::Arc;
use std::time::Duration;

use promptops_batch::{find_prompt, run, BatchError, JobConfig, ProgressMode, StopSignal, Target};
use promptops_registry::http::{router, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry};
use promptops_runtime::resolve::http::HttpFetcher;
use promptops_runtime::resolve::{Fetch, ResolverConfig};
use promptops_runtime::{
    Model, ModelFuture, ModelRequest, ModelResponse, Resolver, Runtime, Source, Version,
};
use promptops_tests::TempDir;

const ID: &str = "customer-support.intent-classifier";

/// The shipped classifier's file with another version and a reworded first line: the same
/// contract, other text.
fn classifier(version: u32) -> String {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../prompts/customer_support/intent_classifier.yaml"
    ))
    .expect("shipped prompt");
    shipped
        .replacen("version: 3", &format!("version: {version}"), 1)
        .replacen(
            "You are a customer support intent classifier.",
            &format!("You are intent classifier number {version}."),
            1,
        )
}

/// Answers `billing` after a short pause, so a run of 20 records takes a while.
#[derive(Debug)]
struct Slow;

impl Model for Slow {
    fn backend(&self) -> &'static str {
        "slow"
    }

    fn complete<'a>(&'a self, _request: ModelRequest<'a>) -> ModelFuture<'a> {
        Box::pin(async move {
            tokio::time::sleep(Duration::from_millis(15)).await;
            Ok(ModelResponse {
                text: "billing".into(),
                ..ModelResponse::default()
            })
        })
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_pins_one_version_while_a_promote_happens_mid_run() {
    let scratch = TempDir::new("batch-pin-run");
    let dir = scratch.path();
    let state = Arc::new(AppState {
        registry: Registry::new(SqliteStore::open(dir.join("registry.db")).expect("store")),
        auth: Auth::Disabled,
    });
    for version in [4, 5] {
        let pushed = promptops_registry::push::from_yaml(classifier(version).as_bytes())
            .expect("valid prompt");
        state.registry.push(pushed, "test").await.expect("push");
    }
    state
        .registry
        .promote(ID, &Version::new(4), None, None, "test")
        .await
        .expect("promote 4");
    let url = format!(
        "http://{}",
        promptops_tests::serve::spawn(router(Arc::clone(&state))).await
    );

    let http = HttpFetcher::new(&url, None).expect("client");
    let resolver = Resolver::new(
        vec![Box::new(http) as Box<dyn Fetch>],
        ResolverConfig {
            ttl: Duration::ZERO,
            warm_budget: Duration::from_secs(5),
            cold_budget: Duration::from_secs(5),
            ..ResolverConfig::default()
        },
    );
    let runtime = Runtime::new(Arc::new(Slow))
        .with_name("batch")
        .with_resolver(resolver.clone());

    let input = dir.join("in.jsonl");
    let lines: String = (0..20)
        .map(|n| format!("{{\"id\":\"m{n}\",\"message\":\"charged twice {n}\"}}\n"))
        .collect();
    std::fs::write(&input, lines).expect("input");
    let output = dir.join("out.jsonl");
    let mut config = JobConfig::new(
        &input,
        Target::Results(output.clone().into()),
        find_prompt(ID).expect("compiled in"),
    );
    config.progress = ProgressMode::Off;
    config.concurrency = 1;

    // Promote v5 while the run is going.
    let promoter = {
        let state = Arc::clone(&state);
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(60)).await;
            state
                .registry
                .promote(ID, &Version::new(5), None, None, "test")
                .await
                .expect("promote 5");
        })
    };
    run(&config, &runtime, &StopSignal::new())
        .await
        .expect("run");
    promoter.await.expect("promoter");

    let results = std::fs::read_to_string(&output).expect("results");
    let versions: Vec<String> = results
        .lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("json line");
            value["prompt_version"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(versions.len(), 20);
    assert!(versions.iter().all(|v| v == "4"), "{versions:?}");
    // The registry did move on, and the pin holds for the rest of the process.
    assert_eq!(resolver.pinned(ID), Some(Version::new(4)));
    let pinned = runtime.resolve(find_prompt(ID).expect("compiled")).await;
    assert_eq!(
        (pinned.def.version, pinned.source),
        (Version::new(4), Source::Http),
        "{pinned:?}"
    );
    let unpinned = Resolver::new(
        vec![Box::new(HttpFetcher::new(&url, None).expect("client")) as Box<dyn Fetch>],
        ResolverConfig {
            cold_budget: Duration::from_secs(5),
            ..ResolverConfig::default()
        },
    );
    let current = unpinned.resolve(find_prompt(ID).expect("compiled")).await;
    assert_eq!(current.def.version, Version::new(5), "{current:?}");

    // A resumed run that resolves another version (here: no registry, the compiled v3) is
    // refused, unless told to mix versions.
    let compiled_only = Runtime::new(Arc::new(Slow)).with_name("batch");
    let err = run(&config, &compiled_only, &StopSignal::new())
        .await
        .expect_err("another version must be refused");
    assert!(matches!(err, BatchError::VersionChanged { .. }), "{err}");
    assert!(err.to_string().contains("--allow-version-change"), "{err}");
    config.allow_version_change = true;
    run(&config, &compiled_only, &StopSignal::new())
        .await
        .expect("allowed");
}
