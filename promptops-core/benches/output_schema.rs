//! Reading and checking a structured answer of about 1 KB against the ticket-triage schema
//! (issue #23's target: at most 5 µs): `parse` is serde_json's read of the answer into a
//! `Value`, `check` the schema's walk over it, `parse_and_check` both, and
//! `parse_check_deserialize` the whole path of a structured answer given as text in the runtime
//! (`structured::checked_in_text`, then the generated `from_answer`): parse, check, then
//! serde's mapping of the checked value onto the struct `promptops-build` generates for this
//! schema (written out below as the build writes it).
//!
//! Run: `cargo bench -p promptops-core --bench output_schema`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion};
use promptops_core::output_schema::Schema;
use serde::Deserialize;
use serde_json::{json, Value};

/// The generated `Output` of the schema below (the derives the build writes, minus the
/// runtime's serde path: this crate has serde itself).
#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[allow(dead_code)]
struct Output {
    intent: Intent,
    urgency: i64,
    order_id: Option<String>,
    summary: String,
    products: Vec<String>,
    customer: Customer,
    escalate: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize, Deserialize)]
#[allow(dead_code)]
struct Customer {
    name: Option<String>,
    tier: Tier,
    sentiment: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Intent {
    Billing,
    Technical,
    Sales,
    Retention,
    Other,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Tier {
    Free,
    Pro,
    Enterprise,
}

fn triage() -> Schema {
    Schema::parse(&json!({
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["billing", "technical", "sales", "retention", "other"]},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
            "order_id": {"type": ["string", "null"]},
            "summary": {"type": "string", "maxLength": 1000},
            "products": {"type": "array", "items": {"type": "string"}, "maxItems": 10},
            "customer": {
                "type": "object",
                "properties": {
                    "name": {"type": ["string", "null"]},
                    "tier": {"type": "string", "enum": ["free", "pro", "enterprise"]},
                    "sentiment": {"type": "number", "minimum": -1, "maximum": 1}
                },
                "required": ["name", "tier", "sentiment"]
            },
            "escalate": {"type": "boolean"}
        },
        "required": ["intent", "urgency", "order_id", "summary", "products", "customer", "escalate"]
    }))
    .expect("a valid schema")
}

/// An answer of about 1 KB that conforms.
fn answer() -> String {
    let text = json!({
        "intent": "billing",
        "urgency": 4,
        "order_id": "ORD-2026-118833",
        "summary": "The customer was charged twice for the annual pro plan after upgrading from the monthly plan on the 3rd; they ask for a refund of the duplicate charge and confirmation that the plan renews once a year. They mention a previous ticket that was closed without an answer and are frustrated but polite.",
        "products": ["pro-annual", "pro-monthly", "invoicing", "billing-portal", "mobile-app", "desktop-app"],
        "customer": {"name": "Ada Lovelace", "tier": "pro", "sentiment": -0.35},
        "escalate": true
    })
    .to_string();
    // Pad to about 1 KB with more products (up to the schema's 10), then a longer summary.
    let mut value: Value = serde_json::from_str(&text).expect("JSON");
    let size = |value: &Value| serde_json::to_string(value).map_or(0, |text| text.len());
    let mut products = value["products"].as_array().cloned().unwrap_or_default();
    while size(&value) < 1000 && products.len() < 10 {
        products.push(Value::from(format!(
            "add-on-{:02}-extended-support",
            products.len()
        )));
        value["products"] = Value::Array(products.clone());
    }
    while size(&value) < 1000 {
        let summary = format!("{} Still waiting.", value["summary"].as_str().unwrap_or(""));
        value["summary"] = Value::from(summary);
    }
    serde_json::to_string(&value).expect("JSON")
}

fn bench(c: &mut Criterion) {
    let schema = triage();
    let text = answer();
    let value: Value = serde_json::from_str(&text).expect("JSON");
    let violations = schema.check(&value);
    assert!(violations.is_empty(), "the answer conforms: {violations:?}");
    eprintln!("answer: {} bytes", text.len());
    let mut group = c.benchmark_group("structured_answer_1kb");
    group.bench_function("parse", |b| {
        b.iter(|| serde_json::from_str::<Value>(black_box(&text)))
    });
    group.bench_function("check", |b| b.iter(|| schema.check(black_box(&value))));
    group.bench_function("parse_and_check", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_str(black_box(&text)).expect("JSON");
            schema.check(&value)
        })
    });
    assert!(
        Output::deserialize(&value).is_ok(),
        "the struct fits the answer"
    );
    group.bench_function("parse_check_deserialize", |b| {
        b.iter(|| {
            let value: Value = serde_json::from_str(black_box(&text)).expect("JSON");
            assert!(schema.check(&value).is_empty());
            Output::deserialize(&value).expect("fits")
        })
    });
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
