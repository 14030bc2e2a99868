//! Hostile input for the batch job: a registry whose stable version is a render bomb. The real
//! binary runs under `prlimit --as` against the real registry (embedded store, loopback HTTP);
//! every record must finish — on the compiled prompt, with one `prompt_render_fallback` event
//! per record — within a bounded time and address space.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promptops_registry::http::{router, AppState};
use promptops_registry::store::sqlite::SqliteStore;
use promptops_registry::{Auth, Registry};
use promptops_runtime::Version;
use promptops_tests::jsonl::read_jsonl;
use promptops_tests::serve::ServerThread;
use promptops_tests::TempDir;

const ID: &str = "customer-support.intent-classifier";
const RECORDS: usize = 12;
/// The address space the batch runs in: the bombs reached 3.4 GB before this bound existed.
const ADDRESS_SPACE: &str = "2147483648";
/// Far more than a bounded run needs (seconds); only a hang reaches it.
const DEADLINE: Duration = Duration::from_secs(120);

/// The shipped classifier as `version` with `template`: the same contract, other text.
fn classifier(version: u32, template: &str) -> String {
    let shipped = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../prompts/customer_support/intent_classifier.yaml"
    ))
    .expect("shipped prompt");
    let head = shipped
        .split("template: |")
        .next()
        .expect("a template field")
        .replacen("version: 3", &format!("version: {version}"), 1);
    format!("{head}template: |\n  {template}\n")
}

/// Serves a registry whose stable classifier is `template` (as version 4) on a loopback port,
/// on a thread of its own for as long as the returned server lives.
fn registry_with_stable(dir: &Path, template: &str) -> ServerThread {
    let yaml = classifier(4, template);
    let db = dir.join("registry.db");
    ServerThread::start_with(move || async move {
        let state = Arc::new(AppState {
            registry: Registry::new(SqliteStore::open(db).expect("store")),
            auth: Auth::Disabled,
        });
        let pushed = promptops_registry::push::from_yaml(yaml.as_bytes())
            .expect("the bomb passes validation: it is valid and within the limits");
        state.registry.push(pushed, "test").await.expect("push");
        state
            .registry
            .promote(ID, &Version::new(4), None, None, "test")
            .await
            .expect("promote");
        router(state)
    })
}

/// Runs the batch binary under `prlimit --as` against `registry`, killing it at [`DEADLINE`].
fn run_batch(dir: &Path, registry: &str) -> (std::process::ExitStatus, Duration) {
    let input = dir.join("in.jsonl");
    let lines: String = (0..RECORDS)
        .map(|n| format!("{{\"id\":\"m{n}\",\"message\":\"I was charged twice ({n})\"}}\n"))
        .collect();
    std::fs::write(&input, lines).expect("input");
    let mut command = Command::new("prlimit");
    command
        .arg(format!("--as={ADDRESS_SPACE}"))
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_promptops-batch"))
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(dir.join("out.jsonl"))
        .arg("--events")
        .arg(dir.join("events.jsonl"))
        .arg("--fresh")
        .env("PROMPT_REGISTRY_URL", registry)
        .env("PROMPTOPS_REGISTRY_COLD_BUDGET_MS", "10000")
        .stdout(Stdio::null())
        .stderr(Stdio::inherit());
    for name in [
        "PROMPTOPS_MODEL",
        "AWS_PROFILE",
        "AWS_REGION",
        "PROMPTOPS_REGISTRY_TOKEN",
    ] {
        command.env_remove(name);
    }
    let started = Instant::now();
    let mut child = command.spawn().expect("prlimit runs the batch");
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return (status, started.elapsed());
        }
        if started.elapsed() > DEADLINE {
            let _ = child.kill();
            panic!("the batch did not finish within {DEADLINE:?}");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn assert_every_record_ran_the_compiled_prompt(dir: &Path, error: &str) {
    let results = read_jsonl(&dir.join("out.jsonl"));
    assert_eq!(results.len(), RECORDS, "{results:?}");
    for line in &results {
        assert_eq!(line["prompt_version"], "3", "{line}");
    }
    let fallbacks: Vec<_> = read_jsonl(&dir.join("events.jsonl"))
        .into_iter()
        .filter(|event| event["event"] == "prompt_render_fallback")
        .collect();
    assert_eq!(fallbacks.len(), RECORDS, "{fallbacks:?}");
    for event in &fallbacks {
        assert_eq!(event["remote_version"], "4", "{event}");
        assert_eq!(event["error"], error, "{event}");
    }
}

fn hostile_dir(name: &str) -> TempDir {
    TempDir::new(&format!("batch-hostile-{name}"))
}

#[test]
fn a_stable_version_with_nested_loops_runs_out_of_fuel_and_every_record_finishes() {
    let scratch = hostile_dir("loops");
    let dir = scratch.path();
    let registry = registry_with_stable(
        dir,
        "{% for a in range(100000) %}{% for b in range(100000) %}x{% endfor %}{% endfor %}",
    );
    let (status, elapsed) = run_batch(dir, &registry.url());
    eprintln!("nested loops: {status} in {elapsed:?}");
    assert!(status.success(), "{status}");
    assert_every_record_ran_the_compiled_prompt(dir, "out_of_fuel");
}

#[test]
fn a_stable_version_that_doubles_a_string_stays_within_the_address_space() {
    let scratch = hostile_dir("doubling");
    let dir = scratch.path();
    // 40 doublings of 8 bytes would be 8 TiB.
    let bomb = format!(
        "{{% set x = 'aaaaaaaa' %}}{}{{{{ x }}}}",
        "{% set x = x ~ x %}".repeat(40)
    );
    let registry = registry_with_stable(dir, &bomb);
    let (status, elapsed) = run_batch(dir, &registry.url());
    eprintln!("doubling: {status} in {elapsed:?}");
    assert!(status.success(), "{status}");
    assert_every_record_ran_the_compiled_prompt(dir, "out_of_fuel");
}
