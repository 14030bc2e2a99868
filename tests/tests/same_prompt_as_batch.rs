//! One generated crate, two runtimes: the real Lambda binary (through a local Runtime API) and
//! the batch job (its library, the code its binary runs) classify the same bundled messages and
//! must report the same prompt id, version and content hash — and, with the same deterministic
//! model, the same label — for every one of them.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::time::Duration;

use promptops_batch::{
    build_runtime, run, JobConfig, ModelChoice, ProgressMode, StopSignal, Target,
};
use promptops_tests::lambda_runtime::{FunctionCommand, Report, RuntimeApi};
use promptops_tests::{workspace_bin, workspace_root, TempDir};
use serde_json::{json, Value};

const SAMPLE_RECORDS: usize = 12;

fn sample() -> Vec<(String, String)> {
    let path = workspace_root().join("examples/batch/data/support_messages.jsonl");
    let file = std::fs::File::open(&path).expect("bundled sample");
    BufReader::new(file)
        .lines()
        .take(SAMPLE_RECORDS)
        .map(|line| {
            let record: Value = serde_json::from_str(&line.expect("line")).expect("JSON");
            (
                record["id"].as_str().expect("id").to_owned(),
                record["message"].as_str().expect("message").to_owned(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lambda_and_batch_report_the_same_prompt_for_the_same_messages() {
    let records = sample();
    let dir = TempDir::new("same-prompt");
    let input = dir.join("input.jsonl");
    let lines: String = records
        .iter()
        .map(|(id, message)| format!("{}\n", json!({"id": id, "message": message})))
        .collect();
    std::fs::write(&input, lines).expect("write input");

    // The batch job.
    let prompt = promptops_batch::find_prompt(promptops_batch::DEFAULT_PROMPT).expect("prompt");
    let results = dir.join("results.jsonl");
    let mut config = JobConfig::new(&input, Target::Results(results.clone().into()), prompt);
    config.progress = ProgressMode::Off;
    config.fresh = true;
    let runtime = build_runtime(Some(ModelChoice::Local))
        .await
        .expect("runtime");
    let summary = run(&config, &runtime, &StopSignal::new())
        .await
        .expect("batch run");
    assert_eq!(
        summary.succeeded,
        SAMPLE_RECORDS as u64,
        "{}",
        summary.text()
    );
    let batch: BTreeMap<String, Value> = std::fs::read_to_string(&results)
        .expect("results")
        .lines()
        .map(|line| {
            let result: Value = serde_json::from_str(line).expect("result JSON");
            (result["id"].as_str().expect("id").to_owned(), result)
        })
        .collect();

    // The Lambda function, as deployed: the real binary on the Runtime API.
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let function = FunctionCommand::new(workspace_bin("examples/lambda", "promptops-lambda"), &api)
        .env("PROMPTOPS_MODEL", "local")
        .spawn();
    for (id, message) in &records {
        let report = api
            .invoke(id, &json!({ "message": message }), Duration::from_secs(60))
            .await;
        let Report::Response { .. } = &report else {
            panic!("{id}: expected a response, got {report:?}");
        };
        let lambda = report.json().expect("JSON response");
        let batch = &batch[id];
        for (lambda_field, batch_field) in [
            ("prompt_id", "prompt_id"),
            ("prompt_version", "prompt_version"),
            ("content_hash", "content_hash"),
            ("intent", "output"),
        ] {
            assert_eq!(
                lambda[lambda_field], batch[batch_field],
                "{id}: lambda {lambda_field} vs batch {batch_field}\n{lambda}\n{batch}"
            );
        }
        assert_eq!(lambda["content_hash"], prompt.content_hash);
        assert_eq!(lambda["request_id"], id.as_str());
    }
    function.stop().await;
}
