//! The pipeline's benchmark (BENCHMARKS.md, "Rendering pipeline"): `bench/pipeline_bench.sh`
//! runs it in release mode.
//!
//! **Throughput.** N configs in a local bucket directory go through the whole pipeline (read,
//! render, Bedrock Converse through the real SDK client to `promptops-bedrock-mock` answering
//! after `--latency-ms`, publish) at `--concurrency`. The limit is concurrency / latency (64 /
//! 50 ms = 1,280 configs/s); the table prints throughput against it. Runs of 1,000 and then
//! 4,000 configs in one process show whether memory stays flat (resident set after each run).
//!
//! **Lambda.** With `--lambda BIN` it also times the `promptops-pipeline-lambda` binary against
//! a local Lambda Runtime API: spawn → first poll (init) and spawn → first response over `--runs`
//! fresh processes, then warm per-event latency over 200 events, for a `POST /preview` API
//! event (render only: no S3, no model) — the same measurements `bench/lambda_bench.sh` makes
//! for the classifier Lambda.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use promptops_bedrock_mock::{MockBedrock, Script};
use promptops_pipeline::{Bucket, DirBucket, Env, Pipeline, PipelineSettings};
use promptops_runtime::bedrock::sdk;
use promptops_runtime::{BedrockApi, BedrockModel, RetryPolicy, Runtime};
use promptops_tests::events::http_v2_event;
use promptops_tests::lambda_runtime::{Function, FunctionCommand, Report, RuntimeApi};
use serde_json::json;

const MODEL: &str = "anthropic.claude-3-haiku-20240307-v1:0";

struct Args {
    concurrency: usize,
    latency_ms: u64,
    sizes: Vec<usize>,
    lambda: Option<String>,
    runs: usize,
    local: bool,
    dir: PathBuf,
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        concurrency: 64,
        latency_ms: 50,
        sizes: vec![1000, 4000],
        lambda: None,
        runs: 20,
        local: false,
        // tmpfs when there is one: on ext4, creating thousands of files in directories that were
        // just emptied takes a slow kernel path (`recently_deleted`) that dominated the first
        // measurements; the bucket stands in for S3, so its file system is not what is measured.
        dir: if Path::new("/dev/shm").is_dir() {
            PathBuf::from("/dev/shm")
        } else {
            std::env::temp_dir()
        },
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || it.next().ok_or(format!("{flag} needs a value"));
        match flag.as_str() {
            "--concurrency" => args.concurrency = value()?.parse().map_err(|e| format!("--concurrency: {e}"))?,
            "--latency-ms" => args.latency_ms = value()?.parse().map_err(|e| format!("--latency-ms: {e}"))?,
            "--sizes" => {
                args.sizes = value()?
                    .split(',')
                    .map(|n| n.trim().parse().map_err(|e| format!("--sizes: {e}")))
                    .collect::<Result<_, _>>()?
            }
            "--lambda" => args.lambda = Some(value()?),
            "--local" => args.local = true,
            "--dir" => args.dir = PathBuf::from(value()?),
            "--runs" => args.runs = value()?.parse().map_err(|e| format!("--runs: {e}"))?,
            other => {
                return Err(format!(
                    "unknown argument {other}; usage: pipeline_bench [--concurrency 64] [--latency-ms 50] [--sizes 1000,4000] [--lambda BIN] [--runs 20] [--local] [--dir DIR]"
                ))
            }
        }
    }
    Ok(args)
}

/// Resident set size (VmRSS) and its peak (VmHWM) in KiB, from /proc.
fn memory_kib() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|line| line.starts_with(name))
            .and_then(|line| line.split_whitespace().nth(1))
            .and_then(|value| value.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn bucket_with(dir: &Path, count: usize) {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir.join("prompt_inputs")).expect("bucket dir");
    for i in 0..count {
        let config = json!({
            "prompt": "marketing.welcome-email",
            "variables": {"customer_name": format!("Customer {i}"), "product": "Acme Cloud"},
            "output_format": if i % 2 == 0 { "html" } else { "md" },
        });
        std::fs::write(
            dir.join(format!("prompt_inputs/beta-c{i:05}.json")),
            config.to_string(),
        )
        .expect("write config");
    }
}

fn bedrock_runtime(mock: &MockBedrock) -> Runtime {
    let conf = sdk::Config::builder()
        .behavior_version(sdk::config::BehaviorVersion::latest())
        .region(sdk::config::Region::new("us-east-1"))
        .endpoint_url(mock.endpoint_url())
        .credentials_provider(sdk::config::Credentials::new(
            "AKIDBENCH",
            "bench",
            None,
            None,
            "bench",
        ))
        .build();
    Runtime::new(Arc::new(BedrockModel::from_conf(
        conf,
        BedrockApi::Converse,
    )))
    .with_retry(RetryPolicy::no_retries())
    .with_name("bench")
}

fn throughput(args: &Args) {
    let mock = MockBedrock::start_in_background().expect("bedrock mock");
    mock.script(
        MODEL,
        Script::answer("Welcome aboard! <b>Start here</b>.")
            .latency(Duration::from_millis(args.latency_ms)),
    );
    let tokio = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("tokio");
    let limit = args.concurrency as f64 / (args.latency_ms as f64 / 1000.0);
    let root = args
        .dir
        .join(format!("promptops-pipeline-bench-{}", std::process::id()));
    println!(
        "pipeline throughput: concurrency {}, {} → limit {:.0} configs/s; bucket directory under {}",
        args.concurrency,
        if args.local { "local model".to_owned() } else { format!("Bedrock mock latency {} ms", args.latency_ms) },
        limit,
        args.dir.display()
    );
    println!();
    println!("| configs | published | elapsed s | configs/s | % of limit | RSS after MiB | peak RSS MiB |");
    println!("|---:|---:|---:|---:|---:|---:|---:|");
    // One unmeasured warm-up run: connections, page cache, the prompt decoded once.
    let runs: Vec<(usize, bool)> = std::iter::once((args.concurrency * 2, false))
        .chain(args.sizes.iter().map(|&n| (n, true)))
        .collect();
    for (count, report) in runs {
        let dir: PathBuf = root.join(format!("n{count}"));
        bucket_with(&dir, count);
        // `--local`: the offline model instead of Bedrock, to see the pipeline's own cost.
        let model_id = (!args.local).then(|| MODEL.to_owned());
        let pipeline = Arc::new(
            Pipeline::new(
                Bucket::Dir(DirBucket::new(&dir)),
                PipelineSettings {
                    own_env: Env::Beta,
                    default_env: None,
                    model_id,
                },
            )
            .with_bedrock(bedrock_runtime(&mock)),
        );
        let started = Instant::now();
        // The mock records every request it serves; forgetting them as the run goes keeps the
        // mock's memory out of the pipeline's resident set.
        let done = std::sync::atomic::AtomicBool::new(false);
        let summary = std::thread::scope(|scope| {
            scope.spawn(|| {
                while !done.load(std::sync::atomic::Ordering::Relaxed) {
                    mock.clear_requests();
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
            let summary = tokio
                .block_on(pipeline.process_all(args.concurrency))
                .expect("run");
            done.store(true, std::sync::atomic::Ordering::Relaxed);
            summary
        });
        let elapsed = started.elapsed().as_secs_f64();
        let (rss, peak) = memory_kib();
        assert_eq!(
            summary.failed(),
            0,
            "{:?}",
            summary.outcomes.iter().find(|o| !o.is_published())
        );
        if report {
            let rate = count as f64 / elapsed;
            println!(
                "| {count} | {} | {elapsed:.3} | {rate:.0} | {:.1}% | {:.1} | {:.1} |",
                summary.published(),
                100.0 * rate / limit,
                rss as f64 / 1024.0,
                peak as f64 / 1024.0
            );
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
    let _ = std::fs::remove_dir_all(&root);
}

fn preview_event() -> serde_json::Value {
    let body = json!({"prompt": "marketing.welcome-email", "variables": {"customer_name": "Ada", "product": "Acme"}, "output_format": "html"});
    http_v2_event("POST", "/preview", "", Some(&body.to_string()))
}

/// The pipeline's function polling `api`, configured for beta with static credentials.
fn spawn(bin: &str, api: &RuntimeApi) -> Function {
    FunctionCommand::new(bin, api)
        .env("PIPELINE_ENV", "beta")
        .env("BUCKET", "bench-bucket")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ACCESS_KEY_ID", "AKIDBENCH")
        .env("AWS_SECRET_ACCESS_KEY", "bench")
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .spawn()
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

fn median_min_max(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let n = values.len();
    let median = if n % 2 == 1 {
        values[n / 2]
    } else {
        (values[n / 2 - 1] + values[n / 2]) / 2.0
    };
    (median, values[0], values[n - 1])
}

async fn cold_run(bin: &str, i: usize) -> (Duration, Duration) {
    let mut api = RuntimeApi::start().await.expect("runtime api");
    api.enqueue(&format!("cold-{i}"), &preview_event());
    let start = Instant::now();
    let child = spawn(bin, &api);
    let mut init = None;
    let first = loop {
        match api.next_report(Duration::from_secs(60)).await {
            Some(Report::NextPolled { at }) => {
                init.get_or_insert(at - start);
            }
            Some(Report::Response { at, body, .. }) => {
                assert!(
                    body.contains("\\\"prompt_id\\\""),
                    "unexpected response {body}"
                );
                break at - start;
            }
            other => panic!("cold run {i}: {other:?}"),
        }
    };
    child.stop().await;
    (init.unwrap_or(first), first)
}

async fn lambda(bin: &str, runs: usize) {
    cold_run(bin, usize::MAX / 2).await;
    let mut inits = Vec::new();
    let mut firsts = Vec::new();
    for i in 0..runs {
        let (init, first) = cold_run(bin, i).await;
        inits.push(ms(init));
        firsts.push(ms(first));
    }
    let mut api = RuntimeApi::start().await.expect("runtime api");
    let child = spawn(bin, &api);
    let mut warm = Vec::new();
    for i in 0..=200 {
        let queued = Instant::now();
        api.enqueue(&format!("warm-{i}"), &preview_event());
        match api.next_outcome(Duration::from_secs(60)).await {
            Some(Report::Response { at, .. }) if i > 0 => warm.push(ms(at - queued)),
            Some(Report::Response { .. }) => {}
            other => panic!("warm {i}: {other:?}"),
        }
    }
    child.stop().await;
    let (a, b, c) = median_min_max(&mut inits);
    let (d, e, f) = median_min_max(&mut firsts);
    let (g, h, k) = median_min_max(&mut warm);
    println!();
    println!("promptops-pipeline-lambda ({bin}), POST /preview events, {runs} cold starts:");
    println!();
    println!("| measurement | median ms | min ms | max ms |");
    println!("|---|---:|---:|---:|");
    println!("| init (spawn → first poll) | {a:.2} | {b:.2} | {c:.2} |");
    println!("| spawn → first response | {d:.2} | {e:.2} | {f:.2} |");
    println!("| warm event (queue → response), 200 events | {g:.3} | {h:.3} | {k:.3} |");
}

fn main() {
    let args = match parse_args() {
        Ok(args) => args,
        Err(err) => {
            eprintln!("{err}");
            std::process::exit(2);
        }
    };
    throughput(&args);
    if let Some(bin) = &args.lambda {
        let tokio = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("tokio");
        tokio.block_on(lambda(bin, args.runs));
    }
}
