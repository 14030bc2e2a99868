//! Promote latency while readers run: pushes `N` versions of one prompt to a running registry,
//! then promotes them one after another, timing each promote, and prints p50/p99/max.
//! Run it while a load generator resolves the same prompt (see `bench/registry_bench.sh`).
//!
//! `cargo run --release -p promptops-registry --example promote_latency -- http://127.0.0.1:8090 bench.latency 200`

use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let base = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:8090".to_owned());
    let id = args.next().unwrap_or_else(|| "bench.latency".to_owned());
    let count: usize = args.next().map_or(Ok(200), |n| n.parse())?;
    let token = std::env::var("PROMPTOPS_BENCH_TOKEN").unwrap_or_default();
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {token}").parse()?,
    );
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()?;
    for version in 1..=count {
        let body = serde_json::json!({
            "prompt_id": id,
            "version": version.to_string(),
            "content": format!("Version {version}: answer {{{{ question }}}}"),
        });
        let status = client
            .post(format!("{base}/prompts"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?
            .status();
        if !status.is_success() {
            return Err(format!("push {version}: {status}").into());
        }
    }
    let mut micros = Vec::with_capacity(count);
    for version in 1..=count {
        let body = serde_json::json!({ "version": version.to_string() });
        let start = Instant::now();
        let status = client
            .post(format!("{base}/prompts/{id}/promote"))
            .header("content-type", "application/json")
            .body(body.to_string())
            .send()
            .await?
            .status();
        micros.push(start.elapsed().as_micros());
        if !status.is_success() {
            return Err(format!("promote {version}: {status}").into());
        }
    }
    micros.sort_unstable();
    let at = |q: f64| micros[((micros.len() as f64 - 1.0) * q).round() as usize] as f64 / 1000.0;
    println!(
        "promotes {count}  p50 {:.2} ms  p99 {:.2} ms  max {:.2} ms",
        at(0.5),
        at(0.99),
        at(1.0)
    );
    Ok(())
}
