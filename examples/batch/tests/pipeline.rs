//! The library pipeline end to end on real files: malformed lines, accounting, resume after a
//! crash, shards, concurrency bound, stop/resume, and the Bedrock export format.

mod common;

use std::collections::BTreeSet;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use common::*;
use promptops_batch::{
    find_prompt, run, JobConfig, ProgressMode, Shard, StopSignal, Summary, Target, DEFAULT_PROMPT,
};
use promptops_runtime::{
    LocalModel, Model, ModelError, ModelErrorKind, ModelFuture, ModelRequest, ModelResponse,
    RetryPolicy, Runtime,
};
use promptops_tests::jsonl::{read_jsonl, unique_ids};

fn local() -> Runtime {
    Runtime::local().with_name("batch")
}

fn config(input: &Path, output: &Path) -> JobConfig {
    let mut config = JobConfig::new(
        input,
        Target::Results(output.into()),
        find_prompt(DEFAULT_PROMPT).unwrap(),
    );
    config.progress = ProgressMode::Off;
    config
}

async fn run_ok(config: &JobConfig, runtime: &Runtime) -> Summary {
    run(config, runtime, &StopSignal::new())
        .await
        .expect("job runs")
}

/// Answers like the local model, but fails (not retried) for messages containing `FAIL`,
/// answers a non-label for `GARBAGE`, and sleeps `delay` per call; tracks calls in flight.
#[derive(Debug, Default)]
struct ScriptedModel {
    delay: Duration,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    calls: AtomicUsize,
}

impl Model for ScriptedModel {
    fn backend(&self) -> &'static str {
        "scripted"
    }

    fn complete<'a>(&'a self, request: ModelRequest<'a>) -> ModelFuture<'a> {
        Box::pin(async move {
            let now = self.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            self.max_in_flight.fetch_max(now, Ordering::SeqCst);
            self.calls.fetch_add(1, Ordering::SeqCst);
            if !self.delay.is_zero() {
                tokio::time::sleep(self.delay).await;
            }
            self.in_flight.fetch_sub(1, Ordering::SeqCst);
            if request.user.contains("FAIL") {
                return Err(ModelError {
                    kind: ModelErrorKind::Rejected,
                    code: Some("ValidationException".into()),
                    message: "scripted rejection".into(),
                    provider_request_id: None,
                });
            }
            if request.user.contains("GARBAGE") {
                return Ok(ModelResponse {
                    text: "I think it's about money".into(),
                    ..ModelResponse::default()
                });
            }
            LocalModel::new().complete(request).await
        })
    }
}

#[tokio::test]
async fn malformed_lines_are_reported_with_line_numbers_and_the_job_continues() {
    let dir = scratch("malformed");
    let input = dir.join("in.jsonl");
    std::fs::write(
        &input,
        concat!(
            "{\"id\":\"a\",\"message\":\"I want a refund\"}\n",
            "{\"id\":\"b\",\"message\":\"unterminated\n",
            "[1,2,3]\n",
            "\n",
            "{\"message\":\"no id here\"}\n",
            "{\"id\":1.5,\"message\":\"float id\"}\n",
            "{\"id\":\"c\",\"message\":42}\n",
            "{\"id\":\"a\",\"message\":\"duplicate of line 1\"}\n",
            "{\"id\":7,\"input\":\"The app crashes\"}\n",
            "{\"id\":\"d\",\"message\":\"last line without newline\"}",
        ),
    )
    .unwrap();
    let output = dir.join("out.jsonl");
    let summary = run_ok(&config(&input, &output), &local()).await;

    let errors = read_jsonl(&dir.join("out.jsonl.errors.jsonl"));
    let reported: Vec<(u64, Option<&str>, &str)> = errors
        .iter()
        .map(|e| {
            (
                e["line"].as_u64().unwrap(),
                e["id"].as_str(),
                e["error"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        reported,
        vec![
            (2, None, "bad_json"),
            (3, None, "not_object"),
            (5, None, "missing_id"),
            (6, None, "bad_id"),
            (7, Some("c"), "bad_input"),
            (8, Some("a"), "duplicate_id"),
        ]
    );
    assert_eq!(
        unique_ids(&output),
        BTreeSet::from(["a".into(), "7".into(), "d".into()])
    );
    assert_eq!(
        (summary.succeeded, summary.failed, summary.lines),
        (3, 6, 10)
    );
    assert_eq!(summary.exit_code(), 1);
}

#[tokio::test]
async fn every_id_ends_in_results_or_errors() {
    let dir = scratch("accounting");
    let input = dir.join("in.jsonl");
    // 300 records: every 7th is rejected by the model, every 11th gets a non-label answer,
    // every 13th lacks its message, every 17th repeats an earlier id.
    let mut text = String::new();
    let mut expected_ids = BTreeSet::new();
    for index in 0..300 {
        let id = if index % 17 == 16 {
            format!("id-{}", index - 1)
        } else {
            format!("id-{index}")
        };
        expected_ids.insert(id.clone());
        let line = if index % 13 == 12 {
            serde_json::json!({"id": id, "channel": "email"})
        } else {
            let message = match index {
                i if i % 7 == 0 => "FAIL me",
                i if i % 11 == 0 => "GARBAGE",
                _ => "I was charged twice",
            };
            serde_json::json!({"id": id, "message": message})
        };
        text.push_str(&format!("{line}\n"));
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.join("out.jsonl");
    let runtime = Runtime::new(Arc::new(ScriptedModel::default()))
        .with_retry(RetryPolicy::no_retries())
        .with_name("batch");
    let mut config = config(&input, &output);
    config.concurrency = 8;
    let summary = run_ok(&config, &runtime).await;

    let results = unique_ids(&output);
    let errors = read_jsonl(&dir.join("out.jsonl.errors.jsonl"));
    let error_ids: BTreeSet<String> = errors
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_owned())
        .collect();
    for error in &errors {
        // Only a duplicate's id may also have a result (from its first occurrence).
        if error["error"] != "duplicate_id" {
            assert!(!results.contains(error["id"].as_str().unwrap()), "{error}");
        }
    }
    let union: BTreeSet<String> = results.union(&error_ids).cloned().collect();
    assert_eq!(union, expected_ids, "results ∪ errors == input ids");
    assert_eq!(summary.succeeded + summary.failed, 300);
    let kinds: BTreeSet<&str> = errors
        .iter()
        .map(|e| e["error"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from(["rejected", "bad_output", "missing_input", "duplicate_id"])
    );
    let rejected = errors.iter().find(|e| e["error"] == "rejected").unwrap();
    assert_eq!(rejected["attempts"], 1);
    assert!(rejected["line"].as_u64().is_some_and(|line| line >= 1));
}

#[tokio::test]
async fn resume_after_a_crash_has_no_duplicates_and_the_full_set() {
    let dir = scratch("resume");
    let input = dir.join("in.jsonl");
    write_records(&input, 500);
    let output = dir.join("out.jsonl");
    let first = run_ok(&config(&input, &output), &local()).await;
    assert_eq!(first.succeeded, 500);

    // Simulate a crash mid-write: keep 123 complete lines and half of the next one.
    let text = std::fs::read_to_string(&output).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let mut crashed = lines[..123].join("\n");
    crashed.push('\n');
    crashed.push_str(&lines[123][..lines[123].len() / 2]);
    std::fs::write(&output, crashed).unwrap();

    let second = run_ok(&config(&input, &output), &local()).await;
    assert_eq!(second.skipped, 123);
    assert_eq!(second.succeeded, 377);
    assert!(second.truncated_bytes > 0);
    let ids = unique_ids(&output);
    assert_eq!(ids, unique_ids(&input));
    assert_eq!(
        read_jsonl(&output).len(),
        500,
        "every line parses, none repeated"
    );

    // A third run has nothing left to do.
    let third = run_ok(&config(&input, &output), &local()).await;
    assert_eq!((third.skipped, third.succeeded, third.failed), (500, 0, 0));
    assert_eq!(read_jsonl(&output).len(), 500);

    // --fresh starts over.
    let mut fresh = config(&input, &output);
    fresh.fresh = true;
    assert_eq!(run_ok(&fresh, &local()).await.succeeded, 500);
    assert_eq!(read_jsonl(&output).len(), 500);
}

#[tokio::test]
async fn failed_records_are_retried_on_resume_and_the_errors_file_is_rewritten() {
    let dir = scratch("retry-errors");
    let input = dir.join("in.jsonl");
    let mut text = String::new();
    for index in 0..50 {
        let message = if index % 5 == 0 {
            "FAIL now"
        } else {
            "refund please"
        };
        text.push_str(&format!(
            "{}\n",
            serde_json::json!({"id": format!("x{index}"), "message": message})
        ));
    }
    std::fs::write(&input, text).unwrap();
    let output = dir.join("out.jsonl");
    let errors = dir.join("out.jsonl.errors.jsonl");
    let flaky = Runtime::new(Arc::new(ScriptedModel::default()))
        .with_retry(RetryPolicy::no_retries())
        .with_name("batch");
    let first = run_ok(&config(&input, &output), &flaky).await;
    assert_eq!((first.succeeded, first.failed), (40, 10));
    assert_eq!(read_jsonl(&errors).len(), 10);

    // The outage is over: the same command retries only the 10 failed records.
    let second = run_ok(&config(&input, &output), &local()).await;
    assert_eq!(
        (second.skipped, second.succeeded, second.failed),
        (40, 10, 0)
    );
    assert!(
        read_jsonl(&errors).is_empty(),
        "errors file describes the latest run"
    );
    assert_eq!(unique_ids(&output), unique_ids(&input));
}

#[tokio::test]
async fn shards_partition_the_input_exactly() {
    let dir = scratch("shards");
    let input = dir.join("in.jsonl");
    write_records(&input, 1000);
    // Two unreadable lines: each must be reported by exactly one shard.
    let mut text = std::fs::read_to_string(&input).unwrap();
    text.push_str("garbage line\n{\"message\":\"no id\"}\n");
    std::fs::write(&input, text).unwrap();

    let count = 3;
    let mut all = BTreeSet::new();
    let mut reported_lines = Vec::new();
    for index in 0..count {
        let output = dir.join(format!("out-{index}.jsonl"));
        let mut config = config(&input, &output);
        config.shard = Shard::new(index, count).unwrap();
        let summary = run_ok(&config, &local()).await;
        let ids = unique_ids(&output);
        assert!(
            ids.len() > 250 && ids.len() < 420,
            "shard {index}: {} ids",
            ids.len()
        );
        assert!(all.is_disjoint(&ids), "shard {index} overlaps another");
        assert_eq!(
            summary.succeeded + summary.other_shards + summary.failed,
            1002
        );
        all.extend(ids);
        for error in read_jsonl(&dir.join(format!("out-{index}.jsonl.errors.jsonl"))) {
            reported_lines.push(error["line"].as_u64().unwrap());
        }
    }
    assert_eq!(all, input_ids_lenient(&input));
    reported_lines.sort_unstable();
    assert_eq!(reported_lines, vec![1001, 1002]);

    // The same shard twice gives the same ids (the hash is fixed).
    let again = dir.join("again.jsonl");
    let mut config = config(&input, &again);
    config.shard = Shard::new(1, count).unwrap();
    run_ok(&config, &local()).await;
    assert_eq!(unique_ids(&again), unique_ids(&dir.join("out-1.jsonl")));
}

fn input_ids_lenient(path: &Path) -> BTreeSet<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
        .filter_map(|value| value["id"].as_str().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_is_bounded_and_used() {
    let dir = scratch("concurrency");
    let input = dir.join("in.jsonl");
    write_records(&input, 200);
    let output = dir.join("out.jsonl");
    let model = Arc::new(ScriptedModel {
        delay: Duration::from_millis(20),
        ..ScriptedModel::default()
    });
    let runtime = Runtime::new(Arc::clone(&model) as Arc<dyn Model>).with_name("batch");
    let mut config = config(&input, &output);
    config.concurrency = 10;
    let summary = run_ok(&config, &runtime).await;
    assert_eq!(summary.succeeded, 200);
    assert_eq!(model.max_in_flight.load(Ordering::SeqCst), 10);
    // 200 calls of 20 ms, 10 at a time: about 0.4 s, far from the 4 s of one at a time.
    assert!(summary.elapsed_s < 2.0, "{}", summary.elapsed_s);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_job_resumes_to_the_full_set() {
    let dir = scratch("stop");
    let input = dir.join("in.jsonl");
    write_records(&input, 400);
    let output = dir.join("out.jsonl");
    let slow = Runtime::new(Arc::new(ScriptedModel {
        delay: Duration::from_millis(10),
        ..ScriptedModel::default()
    }))
    .with_name("batch");
    let mut config = config(&input, &output);
    config.concurrency = 4;
    let stop = StopSignal::new();
    let trigger = stop.clone();
    tokio::spawn(async move {
        tokio::time::sleep(Duration::from_millis(150)).await;
        trigger.request();
    });
    let first = run(&config, &slow, &stop).await.unwrap();
    assert!(first.interrupted);
    assert_eq!(first.exit_code(), 130);
    assert!(
        first.succeeded > 0 && first.succeeded < 400,
        "{}",
        first.succeeded
    );
    let second = run_ok(&config, &local()).await;
    assert_eq!(second.skipped, first.succeeded);
    assert_eq!(unique_ids(&output), unique_ids(&input));
}

#[tokio::test]
async fn export_writes_bedrock_batch_records_without_calling_a_model() {
    let dir = scratch("export");
    let export = dir.join("bedrock.jsonl");
    let mut config = JobConfig::new(
        sample(),
        Target::BedrockExport(export.clone()),
        find_prompt(DEFAULT_PROMPT).unwrap(),
    );
    config.progress = ProgressMode::Off;
    let model = Arc::new(ScriptedModel::default());
    let runtime = Runtime::new(Arc::clone(&model) as Arc<dyn Model>);
    let summary = run(&config, &runtime, &StopSignal::new()).await.unwrap();
    assert_eq!(model.calls.load(Ordering::SeqCst), 0, "no model calls");
    assert_eq!(summary.succeeded, 200);
    assert!(summary
        .next_steps
        .as_deref()
        .unwrap()
        .contains("create-model-invocation-job"));

    let lines = read_jsonl(&export);
    assert_eq!(lines.len(), 200);
    let sample_lines = read_jsonl(&sample());
    for (line, record) in lines.iter().zip(&sample_lines) {
        let keys: Vec<&String> = line.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["modelInput", "recordId"]);
        assert_eq!(line["recordId"], record["id"]);
        let body = &line["modelInput"];
        assert_eq!(body["anthropic_version"], "bedrock-2023-05-31");
        assert_eq!(body["max_tokens"], 1024);
        assert_eq!(body["messages"].as_array().unwrap().len(), 1);
        assert_eq!(body["messages"][0]["role"], "user");
        assert_eq!(body["messages"][0]["content"][0]["type"], "text");
        assert_eq!(body["messages"][0]["content"][0]["text"], record["message"]);
        assert!(body["system"]
            .as_str()
            .unwrap()
            .starts_with("You are a customer support intent classifier."));
    }

    // A prompt with variables and inference settings: the system template, temperature, top_p.
    let drafts = dir.join("drafts.jsonl");
    let mut config = JobConfig::new(
        sample(),
        Target::BedrockExport(drafts.clone()),
        find_prompt("customer-support.reply-drafter").unwrap(),
    );
    config.progress = ProgressMode::Off;
    config.shard = Shard::new(0, 4).unwrap();
    let summary = run(&config, &runtime, &StopSignal::new()).await.unwrap();
    let lines = read_jsonl(&drafts);
    assert_eq!(lines.len() as u64, summary.succeeded);
    assert!(summary.other_shards > 0);
    let body = &lines[0]["modelInput"];
    assert_eq!(body["max_tokens"], 400);
    assert!((body["temperature"].as_f64().unwrap() - 0.3).abs() < 1e-6);
    assert!(body["system"].as_str().unwrap().contains("friendly tone"));
    assert!(body["messages"][0]["content"][0]["text"]
        .as_str()
        .unwrap()
        .starts_with("Customer name: "));
}

/// Writes `count` valid classifier records `r-00000`.. with a few keyword messages.
fn write_records(path: &Path, count: usize) {
    let messages = [
        "I was charged twice, please refund",
        "The app crashes with an error",
        "What does the enterprise plan cost?",
        "Please cancel my subscription",
        "Do you have an office in Oslo?",
    ];
    let mut text = String::new();
    for index in 0..count {
        let line = serde_json::json!({
            "id": format!("r-{index:05}"),
            "message": messages[index % messages.len()],
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    std::fs::write(path, text).expect("write input");
}

/// Runs `prompt` over `input` live on the local model, and exports the same input for Bedrock
/// batch inference: (the live result lines by id, the export's lines).
async fn live_and_export(
    dir: &Path,
    prompt: &str,
    input: &Path,
) -> (
    std::collections::HashMap<String, serde_json::Value>,
    Vec<serde_json::Value>,
) {
    let def = find_prompt(prompt).unwrap();
    let results = dir.join("live.jsonl");
    let mut live = JobConfig::new(input, Target::Results(results.as_path().into()), def);
    live.progress = ProgressMode::Off;
    run_ok(&live, &local()).await;
    let by_id = read_jsonl(&results)
        .into_iter()
        .map(|line| (line["id"].as_str().unwrap().to_owned(), line))
        .collect();
    let export = dir.join("export.jsonl");
    let mut config = JobConfig::new(input, Target::BedrockExport(export.clone()), def);
    config.progress = ProgressMode::Off;
    run_ok(&config, &local()).await;
    (by_id, read_jsonl(&export))
}

/// The output line Bedrock batch inference writes for one record answered with `content`.
fn job_line(export: &serde_json::Value, content: serde_json::Value, tokens: (u64, u64)) -> String {
    let output = serde_json::json!({
        "recordId": export["recordId"],
        "modelInput": export["modelInput"],
        "modelOutput": {
            "id": "msg_bdrk_01", "type": "message", "role": "assistant",
            "model": "claude-3-5-sonnet-20240620", "stop_reason": "end_turn",
            "content": [content],
            "usage": {"input_tokens": tokens.0, "output_tokens": tokens.1}
        }
    });
    format!("{output}\n")
}

fn import_config(dir: &Path, outputs: &[&Path]) -> promptops_batch::bedrock_batch::ImportConfig {
    promptops_batch::bedrock_batch::ImportConfig {
        input: dir.join("export.jsonl").into(),
        job_outputs: outputs.iter().map(|path| (*path).into()).collect(),
        output: dir.join("imported.jsonl").into(),
        s3: None,
        stage_bytes: 1 << 20,
    }
}

/// 10,000 records through Bedrock batch inference's output format: the import writes the result
/// lines live calls on the local model write for the same input (same outputs, version, hash,
/// tokens), and turns a failed record, an unacceptable answer and a record the output lacks
/// into error lines.
#[tokio::test]
async fn bedrock_import_of_10k_records_equals_live_calls() {
    let dir = scratch("bedrock-import");
    let input = dir.join("in.jsonl");
    let sample = std::fs::read_to_string(sample()).unwrap();
    let sample: Vec<&str> = sample.lines().collect();
    let mut lines = String::new();
    for i in 0..10_000 {
        let mut record: serde_json::Value = serde_json::from_str(sample[i % sample.len()]).unwrap();
        record["id"] = format!("r{i:05}").into();
        lines.push_str(&format!("{record}\n"));
    }
    std::fs::write(&input, lines).unwrap();
    let (live, export) = live_and_export(&dir, DEFAULT_PROMPT, &input).await;
    assert_eq!((live.len(), export.len()), (10_000, 10_000));
    let manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("export.jsonl.manifest.json")).unwrap())
            .unwrap();
    assert_eq!(manifest["records"], 10_000);
    assert_eq!(manifest["prompt_id"], DEFAULT_PROMPT);

    // The job's output: each record answered with the live call's label, except a failed
    // record, an answer that is no label, and a record the output lacks; plus a line about a
    // record that was never exported and a repeated line, which the import ignores.
    let mut out = String::new();
    for (i, line) in export.iter().enumerate() {
        let id = line["recordId"].as_str().unwrap();
        let result = &live[id];
        let tokens = (
            result["input_tokens"].as_u64().unwrap(),
            result["output_tokens"].as_u64().unwrap(),
        );
        match i {
            5 => out.push_str(&format!(
                "{}\n",
                serde_json::json!({"recordId": id, "modelInput": line["modelInput"],
                    "error": {"errorCode": 400, "errorMessage": "Malformed input request"}})
            )),
            6 => {}
            7 => out.push_str(&job_line(
                line,
                serde_json::json!({"type": "text", "text": "no such label"}),
                tokens,
            )),
            _ => out.push_str(&job_line(
                line,
                serde_json::json!({"type": "text", "text": result["output"]}),
                tokens,
            )),
        }
    }
    out.push_str(&job_line(
        &serde_json::json!({"recordId": "stranger", "modelInput": {}}),
        serde_json::json!({"type": "text", "text": "billing"}),
        (1, 1),
    ));
    let repeated = format!("{}\n", out.lines().next().unwrap());
    out.push_str(&repeated);
    let job_output = dir.join("export.jsonl.out");
    std::fs::write(&job_output, out).unwrap();

    let summary = promptops_batch::bedrock_batch::import(&import_config(&dir, &[&job_output]))
        .await
        .unwrap();
    assert_eq!(
        (
            summary.succeeded,
            summary.failed,
            summary.missing,
            summary.ignored
        ),
        (9_997, 2, 1, 2)
    );
    assert_eq!(summary.exit_code(), 1);
    let imported = read_jsonl(&dir.join("imported.jsonl"));
    assert_eq!(imported.len(), 9_997);
    let sonnet_batch =
        promptops_runtime::pricing::price_for(manifest["model_id"].as_str().unwrap()).unwrap();
    for line in &imported {
        let id = line["id"].as_str().unwrap();
        let expected = &live[id];
        for field in [
            "prompt_id",
            "prompt_version",
            "content_hash",
            "output",
            "input_tokens",
            "output_tokens",
        ] {
            assert_eq!(line[field], expected[field], "{id}: {field}");
        }
        let cost = sonnet_batch.cost(
            line["input_tokens"].as_u64().unwrap() as u32,
            line["output_tokens"].as_u64().unwrap() as u32,
        ) * 0.5;
        assert!((line["cost_usd"].as_f64().unwrap() - cost).abs() < 1e-12);
    }
    let errors = read_jsonl(&dir.join("imported.jsonl.errors.jsonl"));
    let kinds: BTreeSet<(String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["id"].as_str().unwrap().to_owned(),
                e["error"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        kinds,
        BTreeSet::from([
            ("r00005".into(), "bedrock_error".into()),
            ("r00006".into(), "missing".into()),
            ("r00007".into(), "unexpected_output".into()),
        ])
    );
    assert!(summary.text().contains("r00006"));
}

/// A structured prompt is exported with its schema in the system prompt (batch inference has no
/// tool calling), and its answers come back as text holding a JSON object: the import checks
/// them against the schema as a live call does, and writes the same objects.
#[tokio::test]
async fn bedrock_import_reads_structured_answers_through_the_schema() {
    let dir = scratch("bedrock-import-structured");
    let input = dir.join("in.jsonl");
    std::fs::copy(sample(), &input).unwrap();
    let (live, export) = live_and_export(&dir, "customer-support.ticket-triage", &input).await;
    assert_eq!(export.len(), 200);
    let body = &export[0]["modelInput"];
    assert!(body.get("tools").is_none() && body.get("tool_choice").is_none());
    assert!(
        body["system"].as_str().unwrap().contains("\"urgency\""),
        "the schema is in the system prompt: {body}"
    );
    let mut out = String::new();
    for (i, line) in export.iter().enumerate() {
        let id = line["recordId"].as_str().unwrap();
        let mut answer = live[id]["output"].clone();
        if i == 3 {
            answer["urgency"] = 99.into(); // out of the schema's range
        }
        out.push_str(&job_line(
            line,
            // Models put prose around the object now and then; the first object is the answer.
            serde_json::json!({"type": "text", "text": format!("Here is the record:\n{answer}\nDone.")}),
            (50, 20),
        ));
    }
    let job_output = dir.join("export.jsonl.out");
    std::fs::write(&job_output, out).unwrap();
    let summary = promptops_batch::bedrock_batch::import(&import_config(&dir, &[&job_output]))
        .await
        .unwrap();
    assert_eq!((summary.succeeded, summary.failed), (199, 1));
    for line in read_jsonl(&dir.join("imported.jsonl")) {
        let id = line["id"].as_str().unwrap();
        assert_eq!(line["output"], live[id]["output"], "{id}");
        assert_eq!(line["repair_turns"], 0);
    }
    let errors = read_jsonl(&dir.join("imported.jsonl.errors.jsonl"));
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0]["error"], "output_invalid");
    assert!(errors[0]["message"].as_str().unwrap().contains("urgency"));
}

/// The import refuses an export made with another prompt, and a manifest it cannot read.
#[tokio::test]
async fn bedrock_import_refuses_another_prompt_version() {
    let dir = scratch("bedrock-import-version");
    let input = dir.join("in.jsonl");
    std::fs::copy(sample(), &input).unwrap();
    let (_, export) = live_and_export(&dir, DEFAULT_PROMPT, &input).await;
    let job_output = dir.join("export.jsonl.out");
    std::fs::write(
        &job_output,
        job_line(
            &export[0],
            serde_json::json!({"type": "text", "text": "billing"}),
            (1, 1),
        ),
    )
    .unwrap();
    let manifest_path = dir.join("export.jsonl.manifest.json");
    let mut manifest: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&manifest_path).unwrap()).unwrap();
    manifest["content_hash"] = "0000".into();
    std::fs::write(&manifest_path, manifest.to_string()).unwrap();
    let err = promptops_batch::bedrock_batch::import(&import_config(&dir, &[&job_output]))
        .await
        .unwrap_err();
    assert!(
        err.to_string()
            .contains("import with the binary that exported"),
        "{err}"
    );
    std::fs::write(&manifest_path, b"{\"format\":\"something-else/9\"}").unwrap();
    let err = promptops_batch::bedrock_batch::import(&import_config(&dir, &[&job_output]))
        .await
        .unwrap_err();
    assert!(err.to_string().contains("not a manifest"), "{err}");
}

/// An export past Bedrock's per-job quotas is split into several files, one job each, every
/// file with its own manifest; a limit on bytes splits too.
#[tokio::test]
async fn export_splits_by_the_bedrock_quotas() {
    let dir = scratch("export-split");
    let export = dir.join("bedrock.jsonl");
    let def = find_prompt(DEFAULT_PROMPT).unwrap();
    let mut config = JobConfig::new(sample(), Target::BedrockExport(export.clone()), def);
    config.progress = ProgressMode::Off;
    config.export_limits.max_records = 80;
    let summary = run_ok(&config, &local()).await;
    assert_eq!(summary.succeeded, 200);
    let files = [
        export.clone(),
        dir.join("bedrock-0002.jsonl"),
        dir.join("bedrock-0003.jsonl"),
    ];
    let counts: Vec<usize> = files.iter().map(|file| read_jsonl(file).len()).collect();
    assert_eq!(counts, [80, 80, 40]);
    assert!(!dir.join("bedrock-0004.jsonl").exists());
    for (file, count) in files.iter().zip(counts) {
        let mut manifest = file.as_os_str().to_owned();
        manifest.push(".manifest.json");
        let manifest: serde_json::Value =
            serde_json::from_slice(&std::fs::read(manifest).unwrap()).unwrap();
        assert_eq!(manifest["records"], count);
    }
    let steps = summary.next_steps.unwrap();
    assert!(steps.contains("split into 3 files"), "{steps}");
    assert!(
        steps.contains("bedrock-0003.jsonl has 40 records"),
        "{steps}"
    );
    let ids: BTreeSet<String> = files
        .iter()
        .flat_map(|file| read_jsonl(file))
        .map(|line| line["recordId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 200, "every record in exactly one file");

    // By bytes: each file stays under the limit.
    config.export_limits = promptops_batch::export::ExportLimits {
        max_records: 1_000,
        max_bytes: 100_000,
    };
    let split = dir.join("bytes.jsonl");
    config.target = Target::BedrockExport(split.clone());
    run_ok(&config, &local()).await;
    let mut total = 0;
    for index in 1.. {
        let file = promptops_batch::export::part_path(&split, index);
        if !file.exists() {
            assert!(index > 2, "the byte limit split the export");
            break;
        }
        assert!(std::fs::metadata(&file).unwrap().len() <= 100_000);
        total += read_jsonl(&file).len();
    }
    assert_eq!(total, 200);
}
