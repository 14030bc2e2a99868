//! Cold start of the `promptops-lambda` binary against a local Lambda Runtime API.
//!
//! Each run starts a fresh fake Runtime API with one event queued, spawns the binary, and
//! measures from spawn to its first `GET .../invocation/next` (init: logging, runtime, model
//! client) and to its first posted response (init + one invocation), then kills it. A last
//! process serves `--warm` more events back to back for the warm per-invocation latency.
//!
//! ```sh
//! cargo build --release -p promptops-lambda
//! cargo run --release -p promptops-lambda --example cold_start -- \
//!     --bin target/release/promptops-lambda --runs 20 --model local
//! ```
//!
//! `--model bedrock-mock` points the function at a local Bedrock-compatible server
//! (`promptops-bedrock-mock`), so the AWS SDK's configuration loading and client construction
//! are part of the cold start, and each invocation is a real signed HTTP call.

use std::time::{Duration, Instant};

use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_tests::lambda_runtime::{Function, FunctionCommand, Report, RuntimeApi};
use serde_json::json;

const WAIT: Duration = Duration::from_secs(60);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Model {
    Local,
    BedrockMock,
}

struct Args {
    bin: String,
    runs: usize,
    warm: usize,
    model: Model,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        bin: "target/release/promptops-lambda".to_owned(),
        runs: 20,
        warm: 200,
        model: Model::Local,
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--bin" => args.bin = value()?,
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            "--warm" => args.warm = value()?.parse().map_err(|e| format!("--warm: {e}"))?,
            "--model" => {
                args.model = match value()?.as_str() {
                    "local" => Model::Local,
                    "bedrock-mock" => Model::BedrockMock,
                    other => return Err(format!("--model {other}: use local or bedrock-mock")),
                }
            }
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: cold_start [--bin PATH] [--runs N] \
                     [--warm N] [--model local|bedrock-mock]"
                ))
            }
        }
    }
    if args.runs == 0 {
        return Err("--runs must be at least 1".to_owned());
    }
    Ok(args)
}

/// Environment for the function besides the Lambda variables.
fn model_env(model: Model, mock: Option<&MockBedrock>) -> Vec<(&'static str, String)> {
    let mut env = vec![("RUST_LOG", "info".to_owned())];
    match (model, mock) {
        (Model::BedrockMock, Some(mock)) => {
            let missing = std::env::temp_dir()
                .join("promptops-lambda-bench-no-aws-file")
                .to_string_lossy()
                .into_owned();
            env.extend([
                ("PROMPTOPS_MODEL", "bedrock".to_owned()),
                ("AWS_REGION", "us-east-1".to_owned()),
                ("AWS_ACCESS_KEY_ID", "AKIDLAMBDABENCH".to_owned()),
                ("AWS_SECRET_ACCESS_KEY", "lambda-bench-secret".to_owned()),
                ("AWS_SESSION_TOKEN", "lambda-bench-token".to_owned()),
                ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", mock.endpoint_url()),
                ("AWS_CONFIG_FILE", missing.clone()),
                ("AWS_SHARED_CREDENTIALS_FILE", missing),
                ("AWS_EC2_METADATA_DISABLED", "true".to_owned()),
            ]);
        }
        _ => env.push(("PROMPTOPS_MODEL", "local".to_owned())),
    }
    env
}

/// The function polling `api`; Lambda ships stdout to CloudWatch Logs, here it is discarded.
fn spawn(bin: &str, api: &RuntimeApi, env: &[(&'static str, String)]) -> Function {
    FunctionCommand::new(bin, api)
        .envs(env.iter().map(|(name, value)| (*name, value.as_str())))
        .spawn()
}

fn event(i: usize) -> serde_json::Value {
    let messages = [
        "I was charged twice this month, please refund me",
        "The app crashes with an error when I log in",
        "What does the enterprise plan cost?",
        "I want to cancel my subscription",
    ];
    json!({ "message": messages[i % messages.len()] })
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn stats(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

/// One cold start: (spawn → first poll, spawn → first response).
async fn cold_run(bin: &str, env: &[(&'static str, String)], i: usize) -> (Duration, Duration) {
    let mut api = RuntimeApi::start().await.expect("start the Runtime API");
    api.enqueue(&format!("cold-{i}"), &event(i));
    let start = Instant::now();
    let child = spawn(bin, &api, env);
    let mut init = None;
    let first = loop {
        match api.next_report(WAIT).await {
            Some(Report::NextPolled { at }) => {
                init.get_or_insert(at - start);
            }
            Some(Report::Response { at, body, .. }) => {
                assert!(body.contains("\"intent\""), "unexpected response {body}");
                break at - start;
            }
            Some(other) => panic!("run {i}: unexpected {other:?}"),
            None => panic!("run {i}: no response within {WAIT:?}"),
        }
    };
    child.stop().await;
    (init.unwrap_or(first), first)
}

/// Warm latency: one process, `count` events one after the other, queue → response.
async fn warm_runs(bin: &str, env: &[(&'static str, String)], count: usize) -> Vec<f64> {
    let mut api = RuntimeApi::start().await.expect("start the Runtime API");
    let child = spawn(bin, &api, env);
    let mut latencies = Vec::with_capacity(count);
    for i in 0..=count {
        let queued = Instant::now();
        api.enqueue(&format!("warm-{i}"), &event(i));
        match api.next_outcome(WAIT).await {
            Some(Report::Response { at, .. }) => {
                // The first one includes the cold start.
                if i > 0 {
                    latencies.push(ms(at - queued));
                }
            }
            other => panic!("warm {i}: unexpected {other:?}"),
        }
    }
    child.stop().await;
    latencies
}

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    let mock = match args.model {
        Model::BedrockMock => {
            let mock = MockBedrock::start().await.expect("start the Bedrock mock");
            mock.script_default(Script::answer("billing"));
            Some(mock)
        }
        Model::Local => None,
    };
    let env = model_env(args.model, mock.as_ref());
    let model = match args.model {
        Model::Local => "local",
        Model::BedrockMock => "bedrock-mock",
    };

    // One unmeasured run so the binary is in the page cache.
    cold_run(&args.bin, &env, usize::MAX / 2).await;

    println!("model: {model}, binary: {}", args.bin);
    println!("| run | init (spawn → first poll) ms | first response ms |");
    println!("|---:|---:|---:|");
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    for i in 0..args.runs {
        let (init, first) = cold_run(&args.bin, &env, i).await;
        println!("| {} | {:.2} | {:.2} |", i + 1, ms(init), ms(first));
        inits.push(ms(init));
        firsts.push(ms(first));
    }
    let (init_median, init_min, init_max) = stats(&mut inits);
    let (median, min, max) = stats(&mut firsts);
    println!();
    println!(
        "| {model}, {} runs | median ms | min ms | max ms |",
        args.runs
    );
    println!("|---|---:|---:|---:|");
    println!("| init (spawn → first poll) | {init_median:.2} | {init_min:.2} | {init_max:.2} |");
    println!("| spawn → first response | {median:.2} | {min:.2} | {max:.2} |");

    if args.warm > 0 {
        let mut warm = warm_runs(&args.bin, &env, args.warm).await;
        let (median, min, max) = stats(&mut warm);
        let p99 = percentile(&warm, 99.0);
        println!(
            "| warm invocation (queue → response), {} events, p99 {p99:.3} | {median:.3} | {min:.3} | {max:.3} |",
            args.warm
        );
    }
}
