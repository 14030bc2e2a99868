//! Runtime hot paths: rendering, lookup by id, event emission, whole local and mock calls.
//!
//! Run: `cargo bench -p promptops-runtime --bench runtime` (medians in
//! `target/criterion/<group>/<bench>/new/estimates.json`, see bench/RUNTIME_BENCHMARKS.md).

#[path = "../tests/common/mod.rs"]
mod common;

use std::hint::black_box;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

use common::intent_classifier::{self, SONNET};
use common::support_reply;
use criterion::{criterion_group, criterion_main, Criterion};
use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_runtime::__private::DefCell;
use promptops_runtime::events::{self, CallIdentity, Completed};
use promptops_runtime::{
    lookup, BedrockApi, BedrockModel, NoVars, Prompt, PromptDef, PromptSpec, Registry, RetryPolicy,
    Runtime, TemplateVars, VarDef, VarType, VarVisitor, Version,
};
use tracing_subscriber::EnvFilter;

/// The ~2 KB templated prompt shared with bench/python_load_prompt.py.
const TICKET_TEMPLATE: &str = include_str!("../../bench/fixtures/ticket_summary.j2");

static TICKET_DEF: LazyLock<PromptDef> = LazyLock::new(|| {
    let mut def = PromptDef::new(
        "customer-support.ticket-summary",
        Version::new(1),
        "support-team",
        "claude-3-5-sonnet",
        TICKET_TEMPLATE,
    );
    def.model_id = SONNET.to_owned();
    def.variables = [
        ("company", VarType::String),
        ("ticket_id", VarType::String),
        ("priority", VarType::Integer),
        ("opened_at", VarType::String),
        ("customer_name", VarType::String),
        ("plan", VarType::String),
        ("customer_since", VarType::String),
        ("vip", VarType::Boolean),
        ("history", VarType::List),
        ("message", VarType::String),
        ("max_words", VarType::Integer),
        ("language", VarType::String),
    ]
    .into_iter()
    .map(|(name, ty)| VarDef::required(name, ty))
    .collect();
    def.source_path = Some("customer_support/ticket_summary.yaml".into());
    def.refresh_contract_hash();
    def
});

// The shape promptops-build generates, so the bench measures the generated read path.
struct TicketVars<'a> {
    company: &'a str,
    ticket_id: &'a str,
    priority: i64,
    opened_at: &'a str,
    customer_name: &'a str,
    plan: &'a str,
    customer_since: &'a str,
    vip: bool,
    history: &'a [&'a str],
    message: &'a str,
    max_words: i64,
    language: &'a str,
}

impl TemplateVars for TicketVars<'_> {
    #[inline]
    fn visit(&self, visitor: &mut dyn VarVisitor) {
        visitor.string("company", self.company);
        visitor.string("ticket_id", self.ticket_id);
        visitor.integer("priority", self.priority);
        visitor.string("opened_at", self.opened_at);
        visitor.string("customer_name", self.customer_name);
        visitor.string("plan", self.plan);
        visitor.string("customer_since", self.customer_since);
        visitor.boolean("vip", self.vip);
        visitor.list("history", self.history);
        visitor.string("message", self.message);
        visitor.integer("max_words", self.max_words);
        visitor.string("language", self.language);
    }
}

struct TicketSpec;

impl PromptSpec for TicketSpec {
    type Vars<'a> = TicketVars<'a>;
    type Output = String;
}

const HISTORY: &[&str] = &[
    "2026-05-01 09:12 customer: dashboards show no data since the 04:00 deploy",
    "2026-05-01 09:30 support: asked for the workspace id and a screenshot",
    "2026-05-01 10:02 customer: workspace ws-4471, screenshot attached, still empty",
    "2026-05-01 10:15 support: suggested clearing the cache and re-running the import",
    "2026-05-01 11:40 customer: cache cleared, import re-run, nothing changed",
];

fn ticket_vars() -> TicketVars<'static> {
    TicketVars {
        company: "ACME Analytics",
        ticket_id: "T-2026-04471",
        priority: 1,
        opened_at: "2026-05-01T09:12:00Z",
        customer_name: "Grace Hopper",
        plan: "enterprise",
        customer_since: "2019",
        vip: true,
        history: HISTORY,
        message: "Our board meeting is at 15:00 and every revenue dashboard is still empty. \
                  Request id 7f3e-91aa. Please escalate.",
        max_words: 200,
        language: "English",
    }
}

fn bench_render(c: &mut Criterion) {
    let mut group = c.benchmark_group("render");
    let classifier: Prompt<intent_classifier::Spec> = intent_classifier::handle();
    let ticket: Prompt<TicketSpec> = Prompt::__new(&TICKET_DEF);
    let reply: Prompt<support_reply::Spec> = support_reply::handle();
    let vars = ticket_vars();
    let rendered = ticket.render(&vars).expect("ticket renders");
    eprintln!("ticket_summary renders to {} bytes", rendered.user.len());

    group.bench_function("intent_classifier_with_input", |b| {
        b.iter(|| {
            classifier
                .render_with_input(black_box(&NoVars), black_box("I was charged twice"))
                .expect("renders")
        })
    });
    group.bench_function("intent_classifier_template_only", |b| {
        b.iter(|| classifier.render(black_box(&NoVars)).expect("renders"))
    });
    group.bench_function("ticket_summary_2kb", |b| {
        b.iter(|| ticket.render(black_box(&vars)).expect("renders"))
    });
    let reply_vars = support_reply::Vars {
        customer_name: "Ada",
        account_number: "ACCT-1",
        message: "Where is my order?",
        tone: None,
        items: None,
        max_words: None,
    };
    group.bench_function("support_reply_system_and_user", |b| {
        b.iter(|| reply.render(black_box(&reply_vars)).expect("renders"))
    });
    group.finish();
}

/// A sorted table of `n` decoded definitions, as `&prompts::ALL[..]` holds them.
fn table_of(n: usize) -> &'static [&'static PromptDef] {
    let mut defs: Vec<PromptDef> = (0..n)
        .map(|i| PromptDef {
            id: format!("domain-{:02}.prompt-{i:04}", i % 37),
            ..intent_classifier::DEF.clone()
        })
        .collect();
    defs.sort_by(|a, b| a.id.cmp(&b.id));
    let defs: &'static [PromptDef] = Box::leak(defs.into_boxed_slice());
    Box::leak(defs.iter().collect::<Vec<_>>().into_boxed_slice())
}

/// A generated crate's `ALL` over `table`'s prompts: sorted ids and JSON definitions.
fn registry_of(table: &[&'static PromptDef]) -> &'static Registry {
    let ids: Vec<&'static str> = table.iter().map(|def| def.id.as_str()).collect();
    let data: Vec<&'static str> = table
        .iter()
        .map(|def| &*Box::leak(promptops_core::wire::to_json(def).into_boxed_str()))
        .collect();
    let cache: Vec<DefCell> = table.iter().map(|_| DefCell::EMPTY).collect();
    Box::leak(Box::new(Registry::new(
        Box::leak(ids.into_boxed_slice()),
        Box::leak(data.into_boxed_slice()),
        Box::leak(cache.into_boxed_slice()),
    )))
}

/// The one-time cost of reading a compiled-in definition: JSON to `PromptDef` (format and
/// contract hash checked), per prompt.
fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    for (name, def) in [
        ("intent_classifier", &*intent_classifier::DEF),
        ("support_reply", &*support_reply::DEF),
    ] {
        let json = promptops_core::wire::to_json(def);
        group.bench_function(format!("{name}_{}_bytes", json.len()), |b| {
            b.iter(|| promptops_core::wire::from_json(black_box(&json)).expect("decodes"))
        });
    }
    group.finish();
}

fn bench_lookup(c: &mut Criterion) {
    let table = table_of(1000);
    let ids: Vec<&'static str> = (0..1000).step_by(7).map(|i| table[i].id.as_str()).collect();
    let mut group = c.benchmark_group("lookup");
    group.bench_function("hit_in_1000", |b| {
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % ids.len();
            lookup(black_box(table), black_box(ids[next]))
        })
    });
    // For comparison: the same binary search over a plain sorted array of ids (no
    // `&PromptDef` indirection), i.e. what a generated parallel `IDS` table would cost.
    let plain: Vec<&'static str> = table.iter().map(|def| def.id.as_str()).collect();
    group.bench_function("hit_in_1000_plain_id_array", |b| {
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % ids.len();
            black_box(&plain)
                .binary_search(&black_box(ids[next]))
                .ok()
                .map(|index| table[index])
        })
    });
    // And a hash map built once (what a generated `get` could use instead of binary search).
    let map: std::collections::HashMap<&'static str, &'static PromptDef> =
        table.iter().map(|def| (def.id.as_str(), *def)).collect();
    group.bench_function("hit_in_1000_std_hashmap", |b| {
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % ids.len();
            black_box(&map).get(black_box(ids[next])).copied()
        })
    });
    group.bench_function("miss_in_1000", |b| {
        b.iter(|| lookup(black_box(table), black_box("domain-99.missing")))
    });
    // What generated `get(id)` does: `Registry::get` (a binary search over the generated
    // sorted id array, then the slot's decoded definition).
    let index = registry_of(table);
    index.defs(); // decode every prompt up front: the bench measures the steady state
    group.bench_function("generated_get_hit_in_1000", |b| {
        let mut next = 0;
        b.iter(|| {
            next = (next + 1) % ids.len();
            index.get(black_box(ids[next]))
        })
    });
    group.bench_function("generated_get_miss_in_1000", |b| {
        b.iter(|| index.get(black_box("domain-99.missing")))
    });
    group.finish();
}

fn identity() -> CallIdentity<'static> {
    CallIdentity {
        prompt: &intent_classifier::DEF,
        source: promptops_runtime::Source::Compiled,
        model_id: SONNET,
        backend: "bedrock-converse",
        request_id: "req-0001",
        runtime: "bench",
    }
}

fn emit_pair() {
    let id = identity();
    events::emit_invoked(black_box(&id));
    events::emit_completed(
        black_box(&id),
        black_box(&Completed {
            latency_ms: 412,
            attempts: 1,
            input_tokens: Some(180),
            output_tokens: Some(1),
            cost_usd: Some(0.000555),
            provider_request_id: Some("mock-00000001"),
            label: Some("billing"),
            ..Completed::default()
        }),
    );
}

fn bench_events(c: &mut Criterion) {
    let mut group = c.benchmark_group("events");
    group.bench_function("invoked_and_completed_no_subscriber", |b| b.iter(emit_pair));
    let subscriber = events::json_subscriber(std::io::sink, EnvFilter::new("promptops=info"));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("invoked_and_completed_json_to_sink", |b| b.iter(emit_pair));
    });
    group.finish();
}

fn bench_calls(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let classifier: Prompt<intent_classifier::Spec> = intent_classifier::handle();
    let mut group = c.benchmark_group("call");

    let local = Runtime::local().with_name("bench");
    let subscriber = events::json_subscriber(std::io::sink, EnvFilter::new("promptops=info"));
    tracing::subscriber::with_default(subscriber, || {
        group.bench_function("local_classifier_render_model_parse_events", |b| {
            b.iter(|| {
                rt.block_on(classifier.invoke_with_input(&local, &NoVars, "I need a refund"))
                    .expect("local call")
            })
        });
    });

    let mock = MockBedrock::start_in_background().expect("mock server");
    mock.script(SONNET, Script::answer("billing"));
    let conf = promptops_runtime::bedrock::sdk::Config::builder()
        .behavior_version(promptops_runtime::bedrock::sdk::config::BehaviorVersion::latest())
        .region(promptops_runtime::bedrock::sdk::config::Region::new(
            "us-east-1",
        ))
        .endpoint_url(mock.endpoint_url())
        .credentials_provider(promptops_runtime::bedrock::sdk::config::Credentials::new(
            "AKIDBENCH",
            "bench",
            None,
            None,
            "bench",
        ))
        .build();
    let bedrock = Runtime::new(Arc::new(BedrockModel::from_conf(
        conf,
        BedrockApi::Converse,
    )))
    .with_retry(RetryPolicy::no_retries())
    .with_name("bench");
    group.sample_size(30);
    group.measurement_time(Duration::from_secs(4));
    group.bench_function("converse_via_sdk_to_loopback_mock", |b| {
        b.iter(|| {
            rt.block_on(classifier.invoke_with_input(&bedrock, &NoVars, "I need a refund"))
                .expect("mock call")
        })
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_render,
    bench_decode,
    bench_lookup,
    bench_events,
    bench_calls
);
criterion_main!(benches);
