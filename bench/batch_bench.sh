#!/usr/bin/env bash
# Throughput and memory of promptops-batch (release build) against the local Bedrock mock.
#
#   bash bench/batch_bench.sh            # full run: ~2-3 minutes after the release build
#   RECORDS=20000 bash bench/batch_bench.sh
#
# 1. builds promptops-batch and the mock server example in release mode;
# 2. generates RECORDS (default 100,000) synthetic support messages with the sample's generator;
# 3. starts the mock (every call answers after LATENCY_MS, default 50 ms) and runs the job with
#    --model bedrock through the real AWS SDK client: a concurrency sweep on SWEEP_RECORDS, then
#    the full input at CONCURRENCY (default 64) under /usr/bin/time -v for the peak RSS;
# 4. prints a table and checks the targets: throughput >= 90% of CONCURRENCY / latency, and
#    peak RSS < 64 MB on the full input. Exits 1 when a target is missed.
set -euo pipefail
cd "$(dirname "$0")/.."

RECORDS=${RECORDS:-100000}
SWEEP_RECORDS=${SWEEP_RECORDS:-10000}
CONCURRENCY=${CONCURRENCY:-64}
LATENCY_MS=${LATENCY_MS:-50}
RSS_LIMIT_MB=${RSS_LIMIT_MB:-64}
MIN_EFFICIENCY=${MIN_EFFICIENCY:-90}
WORK=${WORK:-target/batch-bench}

cargo build --release -q -p promptops-batch --bin promptops-batch --example mock_server
BIN=target/release/promptops-batch
MOCK=target/release/examples/mock_server
mkdir -p "$WORK"

python3 examples/batch/data/gen_support_messages.py --count "$RECORDS" --seed 7 >"$WORK/input.jsonl"
head -n "$SWEEP_RECORDS" "$WORK/input.jsonl" >"$WORK/sweep.jsonl"

"$MOCK" --latency-ms "$LATENCY_MS" --max-seconds 1800 >"$WORK/mock.url" &
MOCK_PID=$!
trap 'kill "$MOCK_PID" 2>/dev/null || true' EXIT
for _ in $(seq 50); do [[ -s "$WORK/mock.url" ]] && break; sleep 0.1; done
ENDPOINT=$(head -n 1 "$WORK/mock.url")

# The real SDK client, pointed at the mock, with dummy credentials and nothing from ~/.aws.
export AWS_REGION=us-east-1 AWS_ACCESS_KEY_ID=AKIDBENCH AWS_SECRET_ACCESS_KEY=bench-secret
export AWS_ENDPOINT_URL_BEDROCK_RUNTIME="$ENDPOINT" AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE="$WORK/no-such-file" AWS_SHARED_CREDENTIALS_FILE="$WORK/no-such-file"
unset AWS_PROFILE AWS_ENDPOINT_URL AWS_SESSION_TOKEN PROMPTOPS_MODEL RUST_LOG || true

ROWS=()
FAILED=0

# run NAME INPUT CONCURRENCY [extra args...]: one job under /usr/bin/time -v; adds a table row.
run() {
  local name=$1 input=$2 concurrency=$3
  shift 3
  local out="$WORK/$name.results.jsonl"
  /usr/bin/time -v "$BIN" --input "$input" --output "$out" --fresh --progress off \
    --concurrency "$concurrency" --summary-json "$WORK/$name.summary.json" "$@" \
    >"$WORK/$name.stdout" 2>"$WORK/$name.time" || {
    echo "run $name failed:" >&2
    cat "$WORK/$name.stdout" "$WORK/$name.time" >&2
    exit 1
  }
  local rss_kb
  rss_kb=$(awk -F: '/Maximum resident set size/ {gsub(/ /, "", $2); print $2}' "$WORK/$name.time")
  ROWS+=("$(python3 - "$WORK/$name.summary.json" "$rss_kb" "$concurrency" "$LATENCY_MS" "$name" <<'EOF'
import json, sys
summary = json.load(open(sys.argv[1]))
rss_mb = int(sys.argv[2]) / 1024
concurrency, latency_ms, name = int(sys.argv[3]), float(sys.argv[4]), sys.argv[5]
ideal = concurrency / (latency_ms / 1000) if summary["backend"] != "local" else float("nan")
rate = summary["throughput_rps"]
eff = rate / ideal * 100 if ideal == ideal else float("nan")
eff_text = f"{eff:.1f}%" if eff == eff else "-"
ideal_text = f"{ideal:,.0f}" if ideal == ideal else "-"
print(f"| {name} | {summary['backend']} | {summary['succeeded'] + summary['failed']:,} | "
      f"{concurrency} | {ideal_text} | {rate:,.1f} | {eff_text} | {summary['elapsed_s']:.1f} | "
      f"{rss_mb:.1f} |\t{eff}\t{rss_mb}\t{summary['failed']}")
EOF
)")
}

for c in 16 64 256; do
  run "sweep-c$c" "$WORK/sweep.jsonl" "$c" --model bedrock
done
run "full-c$CONCURRENCY" "$WORK/input.jsonl" "$CONCURRENCY" --model bedrock
run "local-full" "$WORK/input.jsonl" "$CONCURRENCY" --model local

echo
echo "promptops-batch vs. the Bedrock mock (latency ${LATENCY_MS} ms), $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| run | backend | records | concurrency | ideal rec/s | rec/s | of ideal | elapsed s | peak RSS MB |"
echo "|---|---|---:|---:|---:|---:|---:|---:|---:|"
for row in "${ROWS[@]}"; do
  printf '%s\n' "${row%%$'\t'*}"
done
echo

# Targets, on the full run at CONCURRENCY.
full=""
for row in "${ROWS[@]}"; do
  [[ $row == "| full-c$CONCURRENCY "* ]] && full=$row
done
IFS=$'\t' read -r _ eff rss failed <<<"$full"
python3 - "$eff" "$rss" "$failed" "$MIN_EFFICIENCY" "$RSS_LIMIT_MB" <<'EOF' || FAILED=1
import sys
eff, rss, failed = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3])
min_eff, limit = float(sys.argv[4]), float(sys.argv[5])
ok = True
print(f"throughput target: {eff:.1f}% of ideal (need >= {min_eff:.0f}%): {'ok' if eff >= min_eff else 'MISSED'}")
print(f"memory target: peak RSS {rss:.1f} MB (need < {limit:.0f} MB): {'ok' if rss < limit else 'MISSED'}")
print(f"failed records: {failed}: {'ok' if failed == 0 else 'MISSED'}")
sys.exit(0 if eff >= min_eff and rss < limit and failed == 0 else 1)
EOF
exit $FAILED
