//! What registry resolution adds to a prompt call, on each path, against the real registry
//! (the `promptops_registry` router on its embedded SQLite store, loopback HTTP):
//!
//! * `resolve/*`: one `Runtime::resolve` — compiled only (no resolver), warm cache (a fresh
//!   hit), registry down with the circuit open, cold (a new resolver each time: one fetch and
//!   contract check);
//! * `call/*`: a whole call through a typed handle on the local model, compiled only vs warm
//!   cache;
//! * then a table of revalidation round trips (TTL 0, so every resolve sends `If-None-Match`
//!   and gets 304): p50 and p99 over 2,000 round trips.
//!
//! Run: `cargo bench -p promptops-tests --bench resolve`

use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, Criterion};
use promptops_registry::http::{router, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry};
use promptops_runtime::resolve::http::HttpFetcher;
use promptops_runtime::resolve::{Fetch, ResolverConfig};
use promptops_runtime::{
    Prompt, PromptDef, PromptSpec, Resolver, Runtime, Status, TemplateVars, VarVisitor, Version,
};

const ID: &str = "bench.greeter";

fn prompt_file(version: u32) -> String {
    format!(
        "id: {ID}\nversion: {version}\nowner: team\nmodel: claude-3-5-sonnet\ntags: []\nvariables:\n  name: {{type: string}}\ntemplate: \"Hello {{{{ name }}}}, v{version}.\"\n"
    )
}

fn compiled() -> &'static PromptDef {
    let mut def = promptops_registry::push::from_yaml(prompt_file(1).as_bytes())
        .expect("valid")
        .def;
    def.status = Status::Stable;
    Box::leak(Box::new(def))
}

enum Greeter {}

struct Vars<'a> {
    name: &'a str,
}

impl TemplateVars for Vars<'_> {
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        visitor.string("name", self.name);
    }
}

impl PromptSpec for Greeter {
    type Vars<'a> = Vars<'a>;
    type Output = String;
}

/// A registry serving a promoted v2 on a loopback port (on `rt`), and its URL.
fn serve(rt: &tokio::runtime::Runtime) -> String {
    let dir = std::env::temp_dir().join(format!("promptops-bench-resolve-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("dir");
    rt.block_on(async {
        let state = Arc::new(AppState {
            registry: Registry::new(SqliteStore::open(dir.join("r.db")).expect("store")),
            auth: Auth::Disabled,
        });
        let pushed = promptops_registry::push::from_yaml(prompt_file(2).as_bytes()).expect("ok");
        state.registry.push(pushed, "bench").await.expect("push");
        state
            .registry
            .promote(ID, &Version::new(2), None, None, "bench")
            .await
            .expect("promote");
        format!(
            "http://{}",
            promptops_tests::serve::spawn(router(state)).await
        )
    })
}

fn resolver(url: &str, config: ResolverConfig) -> Resolver {
    let http = HttpFetcher::new(url, None).expect("client");
    Resolver::new(vec![Box::new(http) as Box<dyn Fetch>], config)
}

/// Runs `one` `iters` times inside one `block_on` and returns the elapsed time.
fn timed<F, Fut>(rt: &tokio::runtime::Runtime, iters: u64, mut one: F) -> Duration
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = ()>,
{
    rt.block_on(async {
        let start = Instant::now();
        for _ in 0..iters {
            one().await;
        }
        start.elapsed()
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    let index = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[index]
}

fn bench_resolve(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let url = serve(&rt);
    let def = compiled();

    let client = HttpFetcher::new(&url, None).expect("client");
    let compiled_only = Runtime::local();
    let warm = Runtime::local().with_resolver(resolver(&url, ResolverConfig::default()));
    rt.block_on(warm.resolve(def));
    let down = Runtime::local().with_resolver(resolver(
        "http://127.0.0.1:9",
        ResolverConfig {
            breaker_threshold: 1,
            breaker_cooldown: Duration::from_secs(3600),
            ..ResolverConfig::default()
        },
    ));
    rt.block_on(down.resolve(def));
    assert!(down.resolver().expect("resolver").circuit_open());

    // Each sample runs its iterations inside one `block_on`, so the runtime's own entry cost
    // is not counted per call.
    let (compiled_only, warm, down, client, rt_ref) = (&compiled_only, &warm, &down, &client, &rt);
    let mut group = c.benchmark_group("resolve");
    group.bench_function("compiled_only", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                black_box(compiled_only.resolve(black_box(def)).await);
            })
        })
    });
    group.bench_function("warm_cache", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                black_box(warm.resolve(black_box(def)).await);
            })
        })
    });
    group.bench_function("registry_down_circuit_open", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                black_box(down.resolve(black_box(def)).await);
            })
        })
    });
    group.bench_function("cold_cache", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                // A new cache on the same HTTP client: building a client loads the system's
                // root certificates (tens of ms), a once-per-process cost.
                let cold = Resolver::new(
                    vec![Box::new(client.clone()) as Box<dyn Fetch>],
                    ResolverConfig::default(),
                );
                black_box(cold.resolve(black_box(def)).await);
            })
        })
    });
    group.finish();

    let prompt = Prompt::<Greeter>::__new(def);
    let mut group = c.benchmark_group("call");
    group.bench_function("compiled_only", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                let _ = black_box(prompt.invoke(compiled_only, &Vars { name: "Ada" }).await);
            })
        })
    });
    group.bench_function("warm_cache", |b| {
        b.iter_custom(|iters| {
            timed(rt_ref, iters, move || async move {
                let _ = black_box(prompt.invoke(warm, &Vars { name: "Ada" }).await);
            })
        })
    });
    group.finish();

    // Revalidation round trips: TTL 0, so each resolve is one If-None-Match → 304.
    let revalidating = resolver(
        &url,
        ResolverConfig {
            ttl: Duration::ZERO,
            warm_budget: Duration::from_secs(5),
            ..ResolverConfig::default()
        },
    );
    rt.block_on(revalidating.resolve(def));
    let mut samples: Vec<Duration> = (0..2_000)
        .map(|_| {
            let start = Instant::now();
            rt.block_on(revalidating.resolve(def));
            start.elapsed()
        })
        .collect();
    samples.sort();
    println!(
        "revalidation round trip (304, loopback, embedded store): p50 {:?}  p99 {:?}  (n = {})",
        percentile(&samples, 0.50),
        percentile(&samples, 0.99),
        samples.len()
    );
}

criterion_group!(benches, bench_resolve);
criterion_main!(benches);
