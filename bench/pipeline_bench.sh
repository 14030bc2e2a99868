#!/usr/bin/env bash
# Rendering pipeline benchmark (issue #14): 1,000 and 4,000 configs through the whole pipeline
# (local bucket directory, the real Bedrock SDK client against promptops-bedrock-mock answering
# after 50 ms, concurrency 64) against the concurrency/latency limit, with the resident set after
# each run; then the promptops-pipeline-lambda binary's cold start and warm per-event latency
# against a local Lambda Runtime API (promptops-pipeline/examples/pipeline_bench.rs).
# Compare with bench/lambda_bench.sh (the classifier Lambda).
# Usage: bench/pipeline_bench.sh [RUNS]   (default: 20 cold starts)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
cd "$root"

cargo build --quiet --release -p promptops-pipeline --bin promptops-pipeline-lambda --example pipeline_bench
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin="$target_dir/release/promptops-pipeline-lambda"
stripped=$(mktemp)
trap 'rm -f "$stripped"' EXIT
strip -o "$stripped" "$bin"
chmod +x "$stripped"
echo "promptops-pipeline-lambda: release $(( $(stat -c %s "$bin") / 1024 )) KiB, stripped $(( $(stat -c %s "$stripped") / 1024 )) KiB"
echo
"$target_dir/release/examples/pipeline_bench" --concurrency 64 --latency-ms 50 --sizes 1000,4000 \
    --lambda "$stripped" --runs "$runs"
