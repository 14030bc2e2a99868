//! The real binary: the README's main command on the bundled sample with the local model,
//! rerun (resume), argument errors, and Bedrock calls against the local wire-compatible mock.

mod common;

use std::path::Path;
use std::process::{Command, Output};

use common::*;
use promptops_bedrock_mock::{Fault, MockBedrock, Operation, Script};
use promptops_tests::jsonl::{read_jsonl, unique_ids};

const SONNET: &str = "anthropic.claude-3-5-sonnet-20240620-v1:0";
const LABELS: [&str; 5] = ["billing", "technical", "sales", "retention", "other"];

/// The binary with an environment that cannot reach real AWS or pick up a developer's setup.
fn batch() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_promptops-batch"));
    for name in [
        "PROMPTOPS_MODEL",
        "PROMPTOPS_RUNTIME",
        "AWS_PROFILE",
        "AWS_REGION",
        "AWS_DEFAULT_REGION",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_BEDROCK_RUNTIME",
        "AWS_SESSION_TOKEN",
        "RUST_LOG",
    ] {
        command.env_remove(name);
    }
    command
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command) -> Output {
    let output = command.output().expect("run promptops-batch");
    eprintln!(
        "stdout:\n{}\nstderr:\n{}",
        text(&output.stdout),
        text(&output.stderr)
    );
    output
}

#[test]
fn the_main_command_on_the_bundled_sample_then_rerun_resumes() {
    let dir = scratch("cli-sample");
    let output = dir.join("results.jsonl");
    let summary_json = dir.join("summary.json");
    let main_command = |extra: &[&str]| {
        let mut command = batch();
        command
            .arg("--input")
            .arg(sample())
            .arg("--output")
            .arg(&output)
            .args(extra);
        run(&mut command)
    };

    let first = main_command(&["--summary-json", summary_json.to_str().unwrap()]);
    assert_eq!(first.status.code(), Some(0));
    let stdout = text(&first.stdout);
    assert!(stdout.contains("local model, concurrency 16"), "{stdout}");
    assert!(stdout.contains("succeeded         200"), "{stdout}");
    let results = read_jsonl(&output);
    assert_eq!(results.len(), 200);
    assert_eq!(unique_ids(&output), unique_ids(&sample()));
    for result in &results {
        assert_eq!(result["prompt_id"], "customer-support.intent-classifier");
        assert_eq!(result["prompt_version"], "3");
        assert_eq!(result["content_hash"].as_str().unwrap().len(), 64);
        assert!(
            LABELS.contains(&result["output"].as_str().unwrap()),
            "{result}"
        );
        assert_eq!(result["attempts"], 1);
        assert!(result["input_tokens"].as_u64().unwrap() > 0);
        assert_eq!(result["cost_usd"], 0.0);
    }
    // The local model's keyword rules agree with the generator's intent on most messages.
    let expected: std::collections::HashMap<String, String> = read_jsonl(&sample())
        .into_iter()
        .map(|r| {
            (
                r["id"].as_str().unwrap().to_owned(),
                r["expected_intent"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    let agree = results
        .iter()
        .filter(|r| expected[r["id"].as_str().unwrap()] == r["output"].as_str().unwrap())
        .count();
    assert!(agree >= 170, "{agree}/200");
    let summary: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&summary_json).unwrap()).unwrap();
    assert_eq!(summary["succeeded"], 200);
    assert_eq!(summary["backend"], "local");
    assert_eq!(summary["records"], 200);
    assert!(std::fs::read(dir.join("results.jsonl.errors.jsonl"))
        .unwrap()
        .is_empty());

    // The same command again: nothing to do.
    let second = main_command(&[]);
    assert_eq!(second.status.code(), Some(0));
    let stdout = text(&second.stdout);
    assert!(stdout.contains("skipped           200"), "{stdout}");
    assert!(
        stdout.contains("nothing to do: all 200 records are already done"),
        "{stdout}"
    );
    assert_eq!(read_jsonl(&output).len(), 200);

    // Plain progress lines go to stderr, the summary to stdout.
    let third = main_command(&[
        "--fresh",
        "--progress",
        "plain",
        "--progress-interval",
        "0.001",
    ]);
    assert_eq!(third.status.code(), Some(0));
    assert!(text(&third.stdout).contains("succeeded         200"));
    assert_eq!(read_jsonl(&output).len(), 200);
}

#[test]
fn bad_arguments_exit_2_with_a_message() {
    let dir = scratch("cli-args");
    let out = dir.join("o.jsonl");
    let cases: [(&[&str], &str); 8] = [
        (&["--shard", "3/3"], "below the shard count"),
        (&["--shard", "0/0"], "at least 1"),
        // Outside an AWS Batch array job there is no index to take.
        (&["--shard", "array/4"], "AWS_BATCH_JOB_ARRAY_INDEX"),
        (&["--errors", "s3://Bad_Bucket/e.jsonl"], "lowercase"),
        (&["--stage-bytes", "0"], "--stage-bytes must be between"),
        (
            &["--prompt", "customer-support.nope"],
            "customer-support.reply-drafter",
        ),
        (&["--concurrency", "0"], "at least 1"),
        (&["--model", "gpt"], "invalid value"),
    ];
    for (args, message) in cases {
        let mut command = batch();
        command
            .arg("--input")
            .arg(sample())
            .arg("--output")
            .arg(&out)
            .args(args);
        let output = run(&mut command);
        assert_eq!(output.status.code(), Some(2), "{args:?}");
        assert!(
            text(&output.stderr).contains(message),
            "{args:?}: {}",
            text(&output.stderr)
        );
    }
    let missing = run(batch()
        .args(["--input", "/no/such/file.jsonl", "--output"])
        .arg(&out));
    // An input that cannot be read is an I/O error (exit 3, which AWS Batch retries), not a
    // usage error.
    assert_eq!(missing.status.code(), Some(3));
    assert!(text(&missing.stderr).contains("cannot read input"));
    let no_target = run(batch().arg("--input").arg(sample()));
    assert_eq!(no_target.status.code(), Some(2));
    // `{shard}` without --shard is refused before anything runs.
    let unfilled = run(batch()
        .arg("--input")
        .arg(sample())
        .arg("--output")
        .arg(dir.join("r-{shard}.jsonl")));
    assert_eq!(unfilled.status.code(), Some(2));
    assert!(text(&unfilled.stderr).contains("give --shard"));
    let merge_without_placeholder = run(batch().args([
        "merge", "--shards", "2", "--from", "r.jsonl", "--output", "m.jsonl",
    ]));
    assert_eq!(merge_without_placeholder.status.code(), Some(2));
    assert!(text(&merge_without_placeholder.stderr).contains("{shard}"));
}

/// An array child (`--shard array/N`) on local files: its index comes from
/// AWS_BATCH_JOB_ARRAY_INDEX and names its output, and a local merge checks the shards.
#[test]
fn array_children_on_local_files_then_merge() {
    let dir = scratch("cli-array");
    let from = dir.join("results-{shard}.jsonl");
    for index in 0..2 {
        let output = run(batch()
            .env("AWS_BATCH_JOB_ARRAY_INDEX", index.to_string())
            .arg("--input")
            .arg(sample())
            .arg("--output")
            .arg(&from)
            .args(["--shard", "array/2", "--progress", "off"]));
        assert_eq!(output.status.code(), Some(0), "shard {index}");
        assert!(dir
            .join(format!("results-000{index}-of-0002.jsonl"))
            .exists());
    }
    let merged = dir.join("results.jsonl");
    let output = run(batch()
        .arg("merge")
        .args(["--shards", "2", "--from"])
        .arg(&from)
        .arg("--output")
        .arg(&merged)
        .arg("--input")
        .arg(sample()));
    assert_eq!(output.status.code(), Some(0));
    assert_eq!(read_jsonl(&merged).len(), 200);
    assert_eq!(unique_ids(&merged).len(), 200);
    assert!(!dir.join("results.jsonl.merging").exists());
}

fn bedrock_env(command: &mut Command, mock: &MockBedrock, dir: &Path) {
    let missing = dir.join("no-such-aws-file");
    command
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBATCHTEST")
        .env("AWS_SECRET_ACCESS_KEY", "batch-test-secret")
        .env("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", mock.endpoint_url())
        .env("AWS_CONFIG_FILE", &missing)
        .env("AWS_SHARED_CREDENTIALS_FILE", &missing)
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("PROMPTOPS_BACKOFF_BASE_MS", "1")
        .env("PROMPTOPS_BACKOFF_MAX_MS", "5");
}

/// The first 40 sample records.
fn small_input(dir: &Path) -> std::path::PathBuf {
    let input = dir.join("in.jsonl");
    let text = std::fs::read_to_string(sample()).unwrap();
    let head: Vec<&str> = text.lines().take(40).collect();
    std::fs::write(&input, head.join("\n") + "\n").unwrap();
    input
}

#[test]
fn bedrock_run_against_the_mock_with_faults_ending_in_the_errors_file() {
    let dir = scratch("cli-bedrock");
    let input = small_input(&dir);
    let output = dir.join("results.jsonl");
    let events = dir.join("events.jsonl");
    let mock = MockBedrock::start_in_background().unwrap();
    // Three validation errors (not retried: three records end in the errors file), then two
    // throttles (retried, then answered), then answers.
    mock.script(
        SONNET,
        Script::answer("technical")
            .fail_first(3, Fault::Validation)
            .fail_first(2, Fault::Throttling),
    );
    let mut command = batch();
    bedrock_env(&mut command, &mock, &dir);
    command
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--model", "bedrock", "--concurrency", "8", "--events"])
        .arg(&events);
    let first = run(&mut command);
    assert_eq!(first.status.code(), Some(1), "failures exit 1");
    assert!(text(&first.stdout).contains("bedrock-converse model"));

    let results = read_jsonl(&output);
    let errors = read_jsonl(&dir.join("results.jsonl.errors.jsonl"));
    assert_eq!((results.len(), errors.len()), (37, 3));
    for error in &errors {
        assert_eq!(error["error"], "rejected");
        assert_eq!(error["attempts"], 1);
        assert!(error["message"]
            .as_str()
            .unwrap()
            .contains("ValidationException"));
        assert!(error["id"].as_str().unwrap().starts_with("msg-"));
    }
    let attempts: u64 = results
        .iter()
        .map(|r| r["attempts"].as_u64().unwrap())
        .sum();
    assert_eq!(attempts, 37 + 2, "each throttle cost one retry");
    for result in &results {
        assert_eq!(result["output"], "technical");
        assert!(
            result["cost_usd"].as_f64().unwrap() > 0.0,
            "priced from tokens"
        );
    }
    let requests = mock.requests_for(SONNET);
    assert_eq!(requests.len(), 40 + 2);
    assert!(requests
        .iter()
        .all(|r| r.signed && r.operation == Operation::Converse));

    // Events: runtime "batch", request_id = record id, one completed per result.
    let events = read_jsonl(&events);
    assert!(events.iter().all(|e| e["runtime"] == "batch"));
    let completed: Vec<&serde_json::Value> = events
        .iter()
        .filter(|e| e["event"] == "prompt_completed")
        .collect();
    assert_eq!(completed.len(), 37);
    assert!(completed
        .iter()
        .all(|e| e["request_id"].as_str().unwrap().starts_with("msg-")));
    assert_eq!(
        events
            .iter()
            .filter(|e| e["event"] == "prompt_failed")
            .count(),
        3
    );

    // Rerun once the service is healthy: only the three failed records are called again.
    mock.clear_requests();
    let second = run(&mut command);
    assert_eq!(second.status.code(), Some(0));
    assert_eq!(mock.requests_for(SONNET).len(), 3);
    assert_eq!(unique_ids(&output), unique_ids(&input));
    assert!(read_jsonl(&dir.join("results.jsonl.errors.jsonl")).is_empty());
}

#[test]
fn bedrock_invoke_model_and_an_unavailable_model() {
    let dir = scratch("cli-bedrock-invoke");
    let input = small_input(&dir);
    let mock = MockBedrock::start_in_background().unwrap();
    mock.script(SONNET, Script::answer("Billing."));
    mock.script(
        "anthropic.claude-3-haiku-20240307-v1:0",
        Script::always(Fault::ServiceUnavailable),
    );

    let output = dir.join("invoke.jsonl");
    let mut command = batch();
    bedrock_env(&mut command, &mock, &dir);
    command
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--model", "bedrock-invoke", "--progress", "off"]);
    assert_eq!(run(&mut command).status.code(), Some(0));
    assert!(read_jsonl(&output).iter().all(|r| r["output"] == "billing"));
    let requests = mock.requests_for(SONNET);
    assert_eq!(requests.len(), 40);
    assert!(requests
        .iter()
        .all(|r| r.operation == Operation::InvokeModel
            && r.body["anthropic_version"] == "bedrock-2023-05-31"));

    // A model that stays unavailable: every record ends in the errors file after 2 attempts.
    let output = dir.join("down.jsonl");
    let mut command = batch();
    bedrock_env(&mut command, &mock, &dir);
    command
        .env("PROMPTOPS_MAX_ATTEMPTS", "2")
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args([
            "--model",
            "bedrock",
            "--model-id",
            "anthropic.claude-3-haiku-20240307-v1:0",
        ]);
    assert_eq!(run(&mut command).status.code(), Some(1));
    assert!(read_jsonl(&output).is_empty());
    let errors = read_jsonl(&dir.join("down.jsonl.errors.jsonl"));
    assert_eq!(errors.len(), 40);
    assert!(errors
        .iter()
        .all(|e| e["error"] == "unavailable" && e["attempts"] == 2));
}

#[test]
fn export_through_the_binary_prints_the_next_step() {
    let dir = scratch("cli-export");
    let export = dir.join("bedrock-input.jsonl");
    let output = run(batch()
        .arg("--input")
        .arg(sample())
        .arg("--export-bedrock")
        .arg(&export));
    assert_eq!(output.status.code(), Some(0));
    let stdout = text(&output.stdout);
    assert!(
        stdout.contains("aws bedrock create-model-invocation-job"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("--model-id {SONNET}")), "{stdout}");
    assert_eq!(read_jsonl(&export).len(), 200);
}

/// A prompt with an output schema over JSON Lines: each result's `output` is the answer's JSON
/// object, checked against the schema; a repaired answer says so; an answer still invalid after
/// the repair turn ends in the errors file.
#[test]
fn a_structured_prompt_writes_json_objects() {
    const HAIKU: &str = "anthropic.claude-3-5-haiku-20241022-v1:0";
    const TRIAGE: &str = "customer-support.ticket-triage";
    let dir = scratch("cli-structured");
    let input = small_input(&dir);

    // The offline model: a valid record for every message.
    let output = dir.join("local.jsonl");
    let mut command = batch();
    command
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--prompt", TRIAGE, "--progress", "off"]);
    assert_eq!(run(&mut command).status.code(), Some(0));
    let results = read_jsonl(&output);
    assert_eq!(results.len(), 40);
    let schema = prompts::customer_support::ticket_triage()
        .def()
        .output_schema
        .as_ref()
        .expect("a schema");
    for result in &results {
        assert_eq!(result["prompt_id"], TRIAGE);
        assert!(result["output"].is_object(), "{result}");
        assert_eq!(schema.check(&result["output"]), [], "{result}");
        assert_eq!(result["repair_turns"], 0);
    }
    let billing = results
        .iter()
        .filter(|r| r["output"]["intent"] == "billing")
        .count();
    assert!(billing > 0, "the keyword rules find billing messages");

    // Bedrock through the mock: the first answer breaks the schema and is repaired.
    let valid = r#"{"intent": "billing", "urgency": 2, "order_id": null, "summary": "Billing question.", "products": []}"#;
    let broken = r#"{"intent": "refunds", "urgency": 2, "order_id": null, "summary": "Billing question.", "products": []}"#;
    let mock = MockBedrock::start_in_background().unwrap();
    mock.script(HAIKU, Script::answer(broken).then(valid));
    let output = dir.join("bedrock.jsonl");
    let mut command = batch();
    bedrock_env(&mut command, &mock, &dir);
    command
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args([
            "--prompt",
            TRIAGE,
            "--model",
            "bedrock",
            "--concurrency",
            "1",
        ]);
    assert_eq!(run(&mut command).status.code(), Some(0));
    let results = read_jsonl(&output);
    assert_eq!(results.len(), 40);
    assert!(results.iter().all(|r| r["output"]["intent"] == "billing"));
    let repaired: Vec<&serde_json::Value> =
        results.iter().filter(|r| r["repair_turns"] == 1).collect();
    assert_eq!(repaired.len(), 1, "only the first call's answer was broken");
    assert_eq!(repaired[0]["attempts"], 2);
    assert_eq!(mock.requests_for(HAIKU).len(), 41);
    assert!(mock
        .requests_for(HAIKU)
        .iter()
        .all(|r| r.body["toolConfig"]["toolChoice"]["tool"]["name"] == "answer"));

    // An answer that never fills the schema: every record in the errors file.
    mock.script(HAIKU, Script::answer(broken));
    let output = dir.join("broken.jsonl");
    let mut command = batch();
    bedrock_env(&mut command, &mock, &dir);
    command
        .arg("--input")
        .arg(&input)
        .arg("--output")
        .arg(&output)
        .args(["--prompt", TRIAGE, "--model", "bedrock"]);
    assert_eq!(run(&mut command).status.code(), Some(1));
    let errors = read_jsonl(&dir.join("broken.jsonl.errors.jsonl"));
    assert_eq!(errors.len(), 40);
    for error in &errors {
        assert_eq!(error["error"], "output_invalid", "{error}");
        assert_eq!(error["attempts"], 2);
        let message = error["message"].as_str().unwrap();
        assert!(
            message.contains("/intent: \"refunds\" is not one of"),
            "{message}"
        );
    }
}
