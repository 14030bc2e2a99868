#!/usr/bin/env bash
# Lambda benchmark: size of the release `promptops-lambda` binary (as built and stripped) and
# its cold start against a local Lambda Runtime API (examples/lambda/examples/cold_start.rs):
# spawn → first `GET /runtime/invocation/next` (init) and spawn → first posted response, over
# RUNS fresh processes (median/min/max), then the warm per-invocation latency of one process.
# Measured twice: with the offline local model and with Bedrock through a local mock (so the AWS
# SDK's configuration loading and a real signed HTTP call are included).
# Usage: bench/lambda_bench.sh [RUNS]   (default: 20)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
runs=${1:-20}
cd "$root"

cargo build --quiet --release -p promptops-lambda --bin promptops-lambda
cargo build --quiet --release -p promptops-lambda --example cold_start
target_dir=${CARGO_TARGET_DIR:-$root/target}
bin="$target_dir/release/promptops-lambda"
bench="$target_dir/release/examples/cold_start"

stripped=$(mktemp)
trap 'rm -f "$stripped" "$stripped.gz"' EXIT
strip -o "$stripped" "$bin"
chmod +x "$stripped"
gzip -9 -c "$stripped" > "$stripped.gz"
kib() { echo "$(( $(stat -c %s "$1") / 1024 )) KiB"; }

echo "## promptops-lambda binary ($(rustc --version | cut -d' ' -f2), $(uname -m))"
echo
echo "| binary | size |"
echo "|---|---:|"
echo "| release, as built | $(kib "$bin") |"
echo "| release, stripped (the Lambda \`bootstrap\`) | $(kib "$stripped") |"
echo "| stripped, gzip -9 (≈ deployment zip) | $(kib "$stripped.gz") |"
echo
for model in local bedrock-mock; do
    "$bench" --bin "$stripped" --runs "$runs" --model "$model"
    echo
done
