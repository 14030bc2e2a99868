//! Resolution through the real registry: the `promptops_registry` router on its embedded SQLite
//! store, served over loopback HTTP on its own tokio runtime (so the test can kill it, open
//! connections included), and the runtime's real HTTP client. One run repeats the promote
//! cases over the DynamoDB + S3 store on moto's standalone server. The SigV4 cases put the
//! router behind a Function URL's IAM check (`promptops_tests::sigv4`, which verifies every
//! signature independently) with the registry in IAM mode, as on Lambda.

mod greeter;
use greeter::{compiled, prompt_file, Greeter, Vars};

#[path = "../../promptops-registry/tests/common/moto.rs"]
mod moto;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, LazyLock};
use std::time::{Duration, Instant};

use aws_credential_types::provider::{self, error::CredentialsError, ProvideCredentials};
use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::Response;
use promptops_aws::sigv4::{Credentials, SharedCredentialsProvider, Signer};
use promptops_registry::api::client::{Credentials as RegistryCredentials, SigV4};
use promptops_registry::auth::{token_hash, IamCaller};
use promptops_registry::http::{router, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry, Store, Tokens};
use promptops_runtime::events::EventCapture;
use promptops_runtime::resolve::http::HttpFetcher;
use promptops_runtime::resolve::{CacheState, Fetch, ResolverConfig, Verdict};
use promptops_runtime::{Resolver, Runtime, Source, Version};
use promptops_tests::moto::Moto;
use promptops_tests::serve::ServerThread;
use promptops_tests::sigv4::{require_signature, VerifiedCaller, Verifier};
use promptops_tests::TempDir;

const READER: &str = "reader-secret-token";
const RELEASER: &str = "releaser-secret-token";
/// The region the signed registry's Function URL is in.
const REGION: &str = "eu-west-1";
/// An application's IAM key: unmapped in the registry, so a reader.
const AGENT_KEY: &str = "AKIAAGENTEXAMPLE";
const AGENT_SECRET: &str = "agent/secret+EXAMPLEKEY";
const AGENT_ARN: &str = "arn:aws:sts::123456789012:assumed-role/classifier/lambda";
/// The deploy job's IAM key: a releaser.
const RELEASE_KEY: &str = "AKIARELEASEEXAMPLE";
const RELEASE_SECRET: &str = "release/secret+EXAMPLEKEY";
const RELEASE_ARN: &str = "arn:aws:sts::123456789012:assumed-role/deploy/promptops-beta-deploy";
/// One global event sink for the whole binary: per-thread subscribers miss events whose
/// callsite another test thread registered first. Each test has its own prompt id.
static CAPTURE: LazyLock<EventCapture> = LazyLock::new(|| {
    let (capture, subscriber) = EventCapture::new();
    tracing::subscriber::set_global_default(subscriber).expect("one global subscriber");
    capture
});

/// The events about prompt `id`, in order.
fn events_about(id: &str) -> Vec<serde_json::Value> {
    CAPTURE
        .events()
        .into_iter()
        .filter(|event| event["prompt_id"] == id)
        .collect()
}

/// A registry server that can be slowed down and killed.
struct TestRegistry {
    /// The prompt id this test uses.
    id: String,
    server: ServerThread,
    knobs: Arc<Knobs>,
    /// The store's files, if any: removed when the registry is dropped.
    _dir: Option<TempDir>,
    client: reqwest::Client,
    /// For a registry behind the IAM check: signs the test's own pushes and promotions.
    releaser: Option<Signer>,
}

/// What the test can turn and read on a running server.
#[derive(Default)]
struct Knobs {
    delay_ms: AtomicU64,
    requests: AtomicU64,
}

async fn delay(State(knobs): State<Arc<Knobs>>, request: Request, next: Next) -> Response {
    knobs.requests.fetch_add(1, Ordering::SeqCst);
    let ms = knobs.delay_ms.load(Ordering::SeqCst);
    if ms > 0 {
        tokio::time::sleep(Duration::from_millis(ms)).await;
    }
    next.run(request).await
}

impl TestRegistry {
    /// A registry on a fresh embedded store.
    fn start(name: &str) -> TestRegistry {
        let dir = TempDir::new(&format!("resolve-{name}"));
        let store = SqliteStore::open(dir.join("registry.db")).expect("store");
        Self::start_on(name, store, Some(dir))
    }

    /// A registry on a fresh embedded store, as on Lambda behind a Function URL with
    /// `AuthType = AWS_IAM`: only requests with a valid SigV4 signature for `lambda` in
    /// [`REGION`] reach it, and it knows callers by their IAM ARN.
    fn start_signed(name: &str) -> TestRegistry {
        let dir = TempDir::new(&format!("resolve-{name}"));
        let store = SqliteStore::open(dir.join("registry.db")).expect("store");
        let verifier = Verifier::new(REGION, "lambda")
            .with_key(AGENT_KEY, AGENT_SECRET, AGENT_ARN)
            .with_key(RELEASE_KEY, RELEASE_SECRET, RELEASE_ARN);
        let mut registry = Self::serve(name, store, Some(dir), Some(verifier));
        registry.releaser = Some(static_signer(RELEASE_KEY, RELEASE_SECRET, None));
        registry
    }

    /// A registry on `store`; `dir` is removed when it is dropped.
    fn start_on<S: Store + Clone>(name: &str, store: S, dir: Option<TempDir>) -> TestRegistry {
        Self::serve(name, store, dir, None)
    }

    /// Bearer tokens without `verifier`; IAM behind it with it.
    fn serve<S: Store + Clone>(
        name: &str,
        store: S,
        dir: Option<TempDir>,
        verifier: Option<Verifier>,
    ) -> TestRegistry {
        let tokens = Tokens::parse(&format!(
            "tokens:\n  - {{name: agent, role: reader, sha256: {}}}\n  - {{name: release-bot, role: releaser, sha256: {}}}\n",
            token_hash(READER),
            token_hash(RELEASER)
        ))
        .expect("tokens");
        let auth = match verifier {
            Some(_) => Auth::iam_from_config(&format!("{RELEASE_ARN}=releaser")).expect("roles"),
            None => Auth::Tokens(tokens),
        };
        let state = Arc::new(AppState {
            registry: Registry::new(store),
            auth,
        });
        let knobs = Arc::new(Knobs::default());
        let mut app = router(state);
        if let Some(verifier) = verifier {
            // Outermost first: the signature check, then the caller handed on as the Lambda
            // adapter hands on a Function URL's IAM caller.
            app = app.layer(axum::middleware::from_fn(as_iam_caller)).layer(
                axum::middleware::from_fn_with_state(Arc::new(verifier), require_signature),
            );
        }
        let app = app.layer(axum::middleware::from_fn_with_state(
            Arc::clone(&knobs),
            delay,
        ));
        LazyLock::force(&CAPTURE);
        TestRegistry {
            id: format!("demo.{name}"),
            server: ServerThread::start(app),
            knobs,
            _dir: dir,
            client: reqwest::Client::new(),
            releaser: None,
        }
    }

    fn url(&self) -> String {
        self.server.url()
    }

    /// POSTs as the releaser: a bearer token, or signed for the IAM-checked registry.
    async fn post_as_releaser(&self, path: &str, content_type: &str, body: String) -> Answer {
        let url = format!("{}{path}", self.url());
        let mut request = self.client.post(&url).header("content-type", content_type);
        match &self.releaser {
            Some(signer) => {
                let headers = signer
                    .sign(
                        "POST",
                        &url,
                        &[("content-type", content_type)],
                        body.as_bytes(),
                    )
                    .await
                    .expect("sign");
                for (name, value) in headers {
                    request = request.header(name, value);
                }
            }
            None => request = request.bearer_auth(RELEASER),
        }
        let response = request.body(body).send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    }

    async fn push(&self, version: u32) {
        let (status, body) = self
            .post_as_releaser(
                "/prompts",
                "application/yaml",
                prompt_file(&self.id, version),
            )
            .await;
        assert_eq!(status, 201, "{body}");
    }

    async fn promote(&self, version: u32) {
        let (status, body) = self
            .post_as_releaser(
                &format!("/prompts/{}/promote", self.id),
                "application/json",
                serde_json::json!({ "version": version.to_string() }).to_string(),
            )
            .await;
        assert_eq!(status, 200, "{body}");
    }

    /// Stops the server, open connections included.
    fn kill(&mut self) {
        self.server.stop();
    }

    fn resolver(&self, config: ResolverConfig) -> Resolver {
        let http = HttpFetcher::new(&self.url(), Some(READER.to_owned())).expect("client");
        Resolver::new(vec![Box::new(http) as Box<dyn Fetch>], config)
    }
}

/// A status and its body.
type Answer = (u16, String);

/// Hands the verified caller on to the registry as a Function URL's IAM caller.
async fn as_iam_caller(mut request: Request, next: Next) -> Response {
    let arn = request
        .extensions()
        .get::<VerifiedCaller>()
        .map(|caller| caller.arn.clone());
    request.extensions_mut().insert(IamCaller(arn));
    next.run(request).await
}

/// A signer for [`REGION`] over static credentials.
fn static_signer(key: &str, secret: &str, session_token: Option<&str>) -> Signer {
    let credentials = Credentials::new(
        key,
        secret,
        session_token.map(str::to_owned),
        None,
        "static",
    );
    Signer::new(SharedCredentialsProvider::new(credentials), REGION)
}

/// A resolver signing with `signer`.
fn signed_resolver(registry: &TestRegistry, signer: Signer, config: ResolverConfig) -> Resolver {
    let http = HttpFetcher::with_credentials(
        &registry.url(),
        RegistryCredentials::SigV4(SigV4::new(signer)),
    )
    .expect("client");
    Resolver::new(vec![Box::new(http) as Box<dyn Fetch>], config)
}

fn config(ttl_ms: u64) -> ResolverConfig {
    ResolverConfig {
        ttl: Duration::from_millis(ttl_ms),
        cold_budget: Duration::from_secs(5),
        warm_budget: Duration::from_secs(5),
        ..ResolverConfig::default()
    }
}

fn events_named<'a>(events: &'a [serde_json::Value], name: &str) -> Vec<&'a serde_json::Value> {
    events
        .iter()
        .filter(|event| event["event"] == name)
        .collect()
}

#[tokio::test]
async fn a_compatible_promotion_is_used_and_an_incompatible_one_refused() {
    let registry = TestRegistry::start("promote");
    for version in [1, 2, 3] {
        registry.push(version).await;
    }
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(config(100));
    let runtime = Runtime::local().with_resolver(resolver.clone());
    let greeter = promptops_runtime::Prompt::<Greeter>::__new(compiled);

    // Nothing stable yet: the registry says 404, the compiled prompt runs.
    let first = resolver.resolve(compiled).await;
    assert_eq!(first.source, Source::Compiled);
    assert_eq!(first.verdict, Verdict::NotFound);
    assert_eq!(first.cache, CacheState::Fetched);
    assert!(std::ptr::eq(&*first.def, compiled));

    // Promote the compatible v2: after the TTL, the next call revalidates and runs v2.
    registry.promote(2).await;
    let cached = resolver.resolve(compiled).await;
    assert_eq!(
        (cached.cache, cached.verdict),
        (CacheState::Fresh, Verdict::NotFound)
    );
    tokio::time::sleep(Duration::from_millis(120)).await;
    let done = greeter
        .invoke(
            &runtime,
            &Vars {
                name: "Ada Lovelace",
            },
        )
        .await
        .expect("call");
    assert_eq!(done.prompt.version, Version::new(2));
    assert_eq!(done.source, Source::Http);
    assert!(
        done.prompt.template.contains("v2"),
        "{}",
        done.prompt.template
    );
    // The contract's sensitivity is the union of both sides: `name` stays sensitive.
    assert!(done.prompt.variable("name").expect("name").sensitive);
    let events = events_about(&registry.id);
    let invoked = events_named(&events, "prompt_invoked");
    let last = invoked.last().expect("prompt_invoked");
    assert_eq!(last["prompt_version"], "2");
    assert_eq!(last["prompt_source"], "http");
    let completed = events_named(&events, "prompt_completed");
    assert_eq!(completed.last().expect("completed")["prompt_version"], "2");
    let resolved = events_named(&events, "prompt_resolved");
    let fetched = resolved.last().expect("prompt_resolved");
    assert_eq!(fetched["source"], "http");
    assert_eq!(fetched["resolved_version"], "2");
    assert_eq!(fetched["verdict"], "compatible");
    assert_eq!(fetched["cache"], "fetched");
    assert_eq!(fetched["content_hash"], done.prompt.content_hash.as_str());
    assert!(
        !CAPTURE.text().contains("Ada Lovelace"),
        "a sensitive value leaked"
    );

    // An unchanged registry answers 304 and the cached v2 stays.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let revalidated = resolver.resolve(compiled).await;
    assert_eq!(revalidated.def.version, Version::new(2));
    assert_eq!(revalidated.cache, CacheState::Fetched);

    // Promote v3, which requires a new variable: refused, the compiled prompt runs.
    let seen = events_about(&registry.id).len();
    registry.promote(3).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let done = greeter
        .invoke(&runtime, &Vars { name: "Grace" })
        .await
        .expect("call");
    assert!(std::ptr::eq(&*done.prompt, compiled));
    assert_eq!(done.source, Source::Compiled);
    let events = events_about(&registry.id).split_off(seen);
    let mismatch = events_named(&events, "prompt_contract_mismatch");
    assert_eq!(mismatch.len(), 1, "{events:#?}");
    assert_eq!(mismatch[0]["remote_version"], "3");
    assert!(
        mismatch[0]["differences"]
            .as_str()
            .is_some_and(|text| text.contains("`account`")),
        "{:?}",
        mismatch[0]
    );
    let resolved = events_named(&events, "prompt_resolved");
    let refused = resolved.last().expect("prompt_resolved");
    assert_eq!(refused["verdict"], "incompatible");
    assert_eq!(refused["source"], "compiled");
    assert_eq!(refused["registry_version"], "3");
    assert_eq!(
        events_named(&events, "prompt_invoked")[0]["prompt_version"],
        "1"
    );

    // Revalidating the refused version (304) keeps refusing it, with no second mismatch event.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let again = resolver.resolve(compiled).await;
    assert_eq!(again.verdict, Verdict::Incompatible);
    assert!(std::ptr::eq(&*again.def, compiled));
    assert_eq!(
        events_named(&events_about(&registry.id), "prompt_contract_mismatch").len(),
        1
    );
}

/// A version that answers with structured data where the compiled prompt answers with text
/// changes the contract: the registry stores and serves it, and the resolver refuses it,
/// naming the output schema.
#[tokio::test]
async fn a_version_with_another_output_schema_is_refused() {
    let registry = TestRegistry::start("schema");
    registry.push(5).await;
    registry.promote(5).await;
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(config(60_000));
    let resolution = resolver.resolve(compiled).await;
    assert_eq!(resolution.verdict, Verdict::Incompatible, "{resolution:?}");
    assert!(std::ptr::eq(&*resolution.def, compiled));
    let events = events_about(&registry.id);
    let mismatch = events_named(&events, "prompt_contract_mismatch");
    assert_eq!(mismatch.len(), 1, "{events:#?}");
    assert_eq!(mismatch[0]["remote_version"], "5");
    assert!(
        mismatch[0]["differences"]
            .as_str()
            .is_some_and(|text| text.contains("output schema")),
        "{:?}",
        mismatch[0]
    );
}

#[tokio::test]
async fn a_dead_registry_serves_stale_then_compiled_and_opens_the_circuit() {
    let mut registry = TestRegistry::start("kill");
    registry.push(2).await;
    registry.promote(2).await;
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(ResolverConfig {
        max_stale: Duration::from_millis(400),
        breaker_threshold: 3,
        breaker_cooldown: Duration::from_secs(60),
        ..config(50)
    });
    assert_eq!(
        resolver.resolve(compiled).await.def.version,
        Version::new(2)
    );

    registry.kill();
    tokio::time::sleep(Duration::from_millis(80)).await;
    // Past the TTL, within max-stale: the revalidation fails, the last good version is served.
    let stale = resolver.resolve(compiled).await;
    assert_eq!(stale.def.version, Version::new(2));
    assert_eq!(stale.source, Source::Http);
    assert_eq!(stale.cache, CacheState::Stale);

    // Past max-stale: the compiled prompt.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let expired = resolver.resolve(compiled).await;
    assert!(std::ptr::eq(&*expired.def, compiled));
    assert_eq!(expired.source, Source::Compiled);
    assert_eq!(expired.cache, CacheState::Miss);

    // Repeated failures open the circuit; then a call tries nothing and costs nothing.
    for _ in 0..3 {
        resolver.resolve(compiled).await;
    }
    assert!(resolver.circuit_open());
    let start = Instant::now();
    let open = resolver.resolve(compiled).await;
    assert!(
        start.elapsed() < Duration::from_millis(50),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(
        (open.source, open.cache),
        (Source::Compiled, CacheState::Miss)
    );
}

#[tokio::test]
async fn a_slow_registry_never_costs_more_than_the_budget() {
    let registry = TestRegistry::start("slow");
    registry.push(2).await;
    registry.promote(2).await;
    registry.knobs.delay_ms.store(600, Ordering::SeqCst);
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(ResolverConfig {
        ttl: Duration::from_millis(400),
        cold_budget: Duration::from_millis(100),
        warm_budget: Duration::ZERO,
        ..ResolverConfig::default()
    });

    // Cold: the call waits the cold budget, then runs the compiled prompt.
    let start = Instant::now();
    let cold = resolver.resolve(compiled).await;
    let waited = start.elapsed();
    assert!(waited >= Duration::from_millis(100), "{waited:?}");
    assert!(waited < Duration::from_millis(500), "{waited:?}");
    assert_eq!(
        (cold.source, cold.cache),
        (Source::Compiled, CacheState::Miss)
    );

    // The fetch went on and warmed the cache.
    tokio::time::sleep(Duration::from_millis(650)).await;
    let warm = resolver.resolve(compiled).await;
    assert_eq!(warm.def.version, Version::new(2));
    assert_eq!(warm.cache, CacheState::Fresh);

    // Warm and past its TTL: a zero warm budget serves the cached version at once.
    tokio::time::sleep(Duration::from_millis(450)).await;
    let start = Instant::now();
    let stale = resolver.resolve(compiled).await;
    assert!(
        start.elapsed() < Duration::from_millis(100),
        "{:?}",
        start.elapsed()
    );
    assert_eq!(stale.def.version, Version::new(2));
    assert_eq!(stale.cache, CacheState::Stale);
}

#[tokio::test]
async fn a_pinned_version_is_kept_while_the_stable_one_moves() {
    let registry = TestRegistry::start("pin");
    for version in [2, 4] {
        registry.push(version).await;
        registry.promote(version).await;
    }
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(config(50));
    resolver.pin(compiled, Version::new(2));
    assert_eq!(resolver.pinned(&registry.id), Some(Version::new(2)));
    let pinned = resolver.resolve(compiled).await;
    assert_eq!(pinned.def.version, Version::new(2));
    assert_eq!(pinned.cache, CacheState::Fetched);

    tokio::time::sleep(Duration::from_millis(80)).await;
    let later = resolver.resolve(compiled).await;
    assert_eq!(later.def.version, Version::new(2));
    assert_eq!(
        later.cache,
        CacheState::Fresh,
        "pinned answers never expire"
    );

    // Unpinned, the same registry answers the stable v4.
    let unpinned = registry.resolver(config(50));
    assert_eq!(
        unpinned.resolve(compiled).await.def.version,
        Version::new(4)
    );

    // A pin from the configuration works the same.
    let from_config = registry.resolver(ResolverConfig {
        pins: [(registry.id.clone(), Version::new(2))].into(),
        ..config(50)
    });
    assert_eq!(
        from_config.resolve(compiled).await.def.version,
        Version::new(2)
    );
}

#[tokio::test]
async fn concurrent_cold_calls_share_one_fetch() {
    let registry = TestRegistry::start("single-flight");
    registry.push(2).await;
    registry.promote(2).await;
    registry.knobs.delay_ms.store(100, Ordering::SeqCst);
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(config(60_000));
    registry.knobs.requests.store(0, Ordering::SeqCst);
    let calls: Vec<_> = (0..8)
        .map(|_| {
            let resolver = resolver.clone();
            tokio::spawn(async move { resolver.resolve(compiled).await })
        })
        .collect();
    let mut versions = Vec::new();
    for call in calls {
        versions.push(call.await.expect("task").def.version);
    }
    assert_eq!(versions, [Version::new(2); 8]);
    // One round trip served all eight calls.
    assert_eq!(registry.knobs.requests.load(Ordering::SeqCst), 1);
    assert_eq!(
        events_named(&events_about(&registry.id), "prompt_resolved").len(),
        8,
        "each waiting call reports its resolution"
    );
}

#[tokio::test]
async fn the_environment_alone_turns_resolution_on() {
    let registry = TestRegistry::start("env");
    registry.push(2).await;
    registry.promote(2).await;
    let url = registry.url();
    let vars = [
        ("PROMPT_REGISTRY_URL", url.as_str()),
        ("PROMPTOPS_REGISTRY_TOKEN", READER),
        ("PROMPTOPS_REGISTRY_MODE", "production"),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let resolver = Resolver::from_lookup(lookup)
        .expect("valid")
        .expect("a registry is configured");
    assert_eq!(resolver.config().mode, promptops_registry::Mode::Production);
    let runtime = Runtime::local().with_resolver(resolver);
    let greeter = promptops_runtime::Prompt::<Greeter>::__new(compiled(&registry.id));
    let done = greeter
        .invoke(&runtime, &Vars { name: "Ada" })
        .await
        .expect("call");
    assert_eq!(done.prompt.version, Version::new(2));
    assert_eq!(done.source, Source::Http);

    // A wrong token is a failing registry: the compiled prompt runs.
    let wrong = [
        ("PROMPT_REGISTRY_URL", url.as_str()),
        ("PROMPTOPS_REGISTRY_TOKEN", "nope"),
    ];
    let resolver = Resolver::from_lookup(|name: &str| {
        wrong
            .iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    })
    .expect("valid")
    .expect("configured");
    let denied = resolver.resolve(compiled(&registry.id)).await;
    assert_eq!(denied.source, Source::Compiled);
    assert_eq!(denied.verdict, Verdict::Unchecked);

    // Explicitly `bearer` works like the default; `none` sends no token, and is refused.
    for (auth, version) in [("bearer", Some(Version::new(2))), ("none", None)] {
        let vars = [
            ("PROMPT_REGISTRY_URL", url.as_str()),
            ("PROMPTOPS_REGISTRY_TOKEN", READER),
            ("PROMPTOPS_REGISTRY_AUTH", auth),
        ];
        let resolver = Resolver::from_lookup(|name: &str| {
            vars.iter()
                .find(|(key, _)| *key == name)
                .map(|(_, value)| (*value).to_owned())
        })
        .expect("valid")
        .expect("configured");
        let resolved = resolver.resolve(compiled(&registry.id)).await;
        assert_eq!(
            resolved.registry_version, version,
            "{auth}: {:?}",
            resolved.source
        );
    }
}

/// The promote cases again, with the registry on DynamoDB + S3 (moto): the resolver sees the
/// same contract whatever store serves it.
#[tokio::test]
async fn the_promote_cases_hold_over_dynamodb_and_s3() {
    let Some(moto) = Moto::start(moto::WHAT).await else {
        return;
    };
    let store = moto::fresh_store(&moto).await;
    let registry = TestRegistry::start_on("moto", store, None);
    for version in [2, 3] {
        registry.push(version).await;
    }
    let compiled = compiled(&registry.id);
    let resolver = registry.resolver(config(100));
    assert_eq!(resolver.resolve(compiled).await.verdict, Verdict::NotFound);

    registry.promote(2).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let used = resolver.resolve(compiled).await;
    assert_eq!(
        (used.def.version, used.source),
        (Version::new(2), Source::Http)
    );
    assert_eq!(used.verdict, Verdict::Compatible);

    registry.promote(3).await;
    tokio::time::sleep(Duration::from_millis(120)).await;
    let refused = resolver.resolve(compiled).await;
    assert!(std::ptr::eq(&*refused.def, compiled));
    assert_eq!(refused.verdict, Verdict::Incompatible);
    assert_eq!(refused.registry_version, Some(Version::new(3)));
    let mismatches = events_named(&events_about(&registry.id), "prompt_contract_mismatch").len();
    assert_eq!(mismatches, 1);
    drop(registry);
    drop(moto);
}

/// The `prompt_registry_unavailable` events about `id`.
fn unavailable(id: &str) -> Vec<serde_json::Value> {
    events_about(id)
        .into_iter()
        .filter(|event| event["event"] == "prompt_registry_unavailable")
        .collect()
}

#[tokio::test]
async fn a_sigv4_signing_resolver_gets_through_the_function_url_check() {
    let registry = TestRegistry::start_signed("sigv4");
    registry.push(2).await;
    registry.promote(2).await;
    let compiled = compiled(&registry.id);
    // Temporary credentials, as on Lambda: the session token is sent and signed too.
    let signer = static_signer(AGENT_KEY, AGENT_SECRET, Some("agent-session-token"));
    let resolver = signed_resolver(&registry, signer, config(100));
    let runtime = Runtime::local().with_resolver(resolver.clone());
    let greeter = promptops_runtime::Prompt::<Greeter>::__new(compiled);

    let done = greeter
        .invoke(&runtime, &Vars { name: "Ada" })
        .await
        .expect("call");
    assert_eq!(done.prompt.version, Version::new(2));
    assert_eq!(done.source, Source::Http);
    assert!(
        done.prompt.template.contains("v2"),
        "{}",
        done.prompt.template
    );

    // Past the TTL: the revalidation (a signed `If-None-Match`) is answered 304.
    tokio::time::sleep(Duration::from_millis(120)).await;
    let requests = registry.knobs.requests.load(Ordering::SeqCst);
    let revalidated = resolver.resolve(compiled).await;
    assert_eq!(revalidated.def.version, Version::new(2));
    assert_eq!(revalidated.cache, CacheState::Fetched);
    assert_eq!(registry.knobs.requests.load(Ordering::SeqCst), requests + 1);
    assert!(
        unavailable(&registry.id).is_empty(),
        "{:?}",
        unavailable(&registry.id)
    );

    // The same registry refuses a request that is not signed at all.
    let unsigned = registry.resolver(config(100));
    let refused = unsigned.resolve(compiled).await;
    assert_eq!(refused.source, Source::Compiled);
    let events = unavailable(&registry.id);
    let error = events.last().expect("an event")["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(error.contains("403 Forbidden"), "{error}");
}

#[tokio::test]
async fn a_wrong_secret_is_refused_and_the_compiled_prompt_runs() {
    let registry = TestRegistry::start_signed("sigv4-wrong");
    registry.push(2).await;
    registry.promote(2).await;
    let compiled = compiled(&registry.id);
    let signer = static_signer(AGENT_KEY, "not-the-agent-secret", None);
    let resolver = signed_resolver(&registry, signer, config(100));
    let runtime = Runtime::local().with_resolver(resolver);
    let greeter = promptops_runtime::Prompt::<Greeter>::__new(compiled);

    let done = greeter
        .invoke(&runtime, &Vars { name: "Grace" })
        .await
        .expect("a refused registry never fails the call");
    assert!(std::ptr::eq(&*done.prompt, compiled));
    assert_eq!(done.source, Source::Compiled);
    let events = unavailable(&registry.id);
    assert_eq!(events.len(), 1, "{events:#?}");
    assert_eq!(events[0]["source"], "http");
    let error = events[0]["error_message"].as_str().unwrap_or_default();
    assert!(
        error.contains("403 Forbidden")
            && error.contains("The request signature we calculated does not match"),
        "{error}"
    );
    assert!(!error.contains("not-the-agent-secret"), "{error}");
    assert!(!CAPTURE.text().contains("not-the-agent-secret"));
    let all = events_about(&registry.id);
    let resolved = events_named(&all, "prompt_resolved");
    assert_eq!(
        resolved.last().expect("prompt_resolved")["source"],
        "compiled"
    );
}

/// Credentials that cannot be had.
#[derive(Debug)]
struct NoCredentials;

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(&'a self) -> provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        provider::future::ProvideCredentials::ready(Err(CredentialsError::not_loaded(
            "no credentials in this test",
        )))
    }
}

#[tokio::test]
async fn missing_credentials_are_a_registry_failure_not_a_call_failure() {
    let registry = TestRegistry::start_signed("sigv4-nocreds");
    let compiled = compiled(&registry.id);
    let requests = registry.knobs.requests.load(Ordering::SeqCst);
    let signer = Signer::new(SharedCredentialsProvider::new(NoCredentials), REGION);
    let resolver = signed_resolver(&registry, signer, config(100));
    let resolution = resolver.resolve(compiled).await;
    assert!(std::ptr::eq(&*resolution.def, compiled));
    assert_eq!(resolution.source, Source::Compiled);
    let events = unavailable(&registry.id);
    let error = events.last().expect("an event")["error_message"]
        .as_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        error.contains("cannot sign it: cannot load AWS credentials"),
        "{error}"
    );
    // Nothing was sent.
    assert_eq!(registry.knobs.requests.load(Ordering::SeqCst), requests);
}

#[tokio::test]
async fn the_environment_alone_signs_with_the_standard_aws_credentials() {
    let registry = TestRegistry::start_signed("sigv4-env");
    registry.push(2).await;
    registry.promote(2).await;
    // The standard chain, read on the first fetch: the environment's keys, nothing from this
    // machine's AWS files or instance metadata. This is the only test in this binary that
    // reads the AWS environment.
    for (name, value) in [
        ("AWS_ACCESS_KEY_ID", AGENT_KEY),
        ("AWS_SECRET_ACCESS_KEY", AGENT_SECRET),
        ("AWS_SESSION_TOKEN", "env-session-token"),
        ("AWS_CONFIG_FILE", "/nonexistent/promptops/aws-config"),
        (
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/promptops/aws-credentials",
        ),
        ("AWS_EC2_METADATA_DISABLED", "true"),
    ] {
        std::env::set_var(name, value);
    }
    std::env::remove_var("AWS_PROFILE");
    let url = registry.url();
    let vars = [
        ("PROMPT_REGISTRY_URL", url.as_str()),
        ("PROMPTOPS_REGISTRY_AUTH", "sigv4"),
        ("AWS_REGION", REGION),
        // Ignored: SigV4 was asked for.
        ("PROMPTOPS_REGISTRY_TOKEN", READER),
    ];
    let lookup = |name: &str| {
        vars.iter()
            .find(|(key, _)| *key == name)
            .map(|(_, value)| (*value).to_owned())
    };
    let resolver = Resolver::from_lookup(lookup)
        .expect("valid")
        .expect("a registry is configured");
    let resolved = resolver.resolve(compiled(&registry.id)).await;
    assert_eq!(
        (resolved.def.version, resolved.source),
        (Version::new(2), Source::Http),
        "{:?}",
        unavailable(&registry.id)
    );

    // Bearer, asked for by name, against this IAM-checked registry: refused, compiled.
    let bearer = Resolver::from_lookup(|name: &str| match name {
        "PROMPT_REGISTRY_URL" => Some(url.clone()),
        "PROMPTOPS_REGISTRY_AUTH" => Some("bearer".to_owned()),
        "PROMPTOPS_REGISTRY_TOKEN" => Some(READER.to_owned()),
        _ => None,
    })
    .expect("valid")
    .expect("configured");
    let refused = bearer.resolve(compiled(&registry.id)).await;
    assert_eq!(refused.source, Source::Compiled);
}
