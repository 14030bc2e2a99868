#!/usr/bin/env bash
# `promptops-batch bedrock import` over a Bedrock batch inference job's output (issue 27): time
# and peak RSS for 100,000 and 1,000,000 records, side by side in one run.
#
#   bash bench/bedrock_import_bench.sh                       # 100,000 and 1,000,000 records
#   SIZES="10000 100000" bash bench/bedrock_import_bench.sh  # other sizes
#
# For each size N (all files under target/bench-import/, generated once):
# 1. N support messages (examples/batch/data/gen_support_messages.py);
# 2. the export, with the release binary (`--export-bedrock`, one file: the per-job quota is
#    raised for the benchmark so the import reads one job's output);
# 3. the job's output as Bedrock writes it: per record `{"recordId", "modelInput",
#    "modelOutput"}` with an Anthropic Messages response whose text is one of the classifier's
#    labels (a fixed function of the id), and usage counts;
# 4. the import under /usr/bin/time (wall, peak RSS), checked before it counts: N results, no
#    errors, exit 0.
# Prints a markdown table; MB = 2^20 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-100000 1000000}
WORK=${WORK:-target/bench-import}
mkdir -p "$WORK"
cargo build --release -q -p promptops-batch --bin promptops-batch
BIN=target/release/promptops-batch

echo "| records | job output MB | import wall s | records/s | peak RSS MB |"
echo "|---:|---:|---:|---:|---:|"
for n in $SIZES; do
    input="$WORK/input-$n.jsonl"
    export="$WORK/export-$n.jsonl"
    out="$export.out"
    if [[ ! -s "$out" ]]; then
        python3 examples/batch/data/gen_support_messages.py --count "$n" > "$input"
        "$BIN" --input "$input" --export-bedrock "$export" --bedrock-max-records 100000000 \
            --bedrock-max-bytes 100000000000 --progress off > /dev/null
        python3 - "$export" "$out" <<'PY'
import json, sys, zlib
labels = ["billing", "technical", "sales", "retention", "other"]
with open(sys.argv[1]) as export, open(sys.argv[2], "w") as out:
    for line in export:
        record = json.loads(line)
        rid = record["recordId"]
        label = labels[zlib.crc32(rid.encode()) % len(labels)]
        record["modelOutput"] = {
            "id": "msg_bdrk_" + rid, "type": "message", "role": "assistant",
            "model": "claude-3-5-sonnet-20240620", "stop_reason": "end_turn",
            "content": [{"type": "text", "text": label}],
            "usage": {"input_tokens": 84, "output_tokens": 1},
        }
        out.write(json.dumps(record, separators=(",", ":")) + "\n")
PY
    fi
    results="$WORK/results-$n.jsonl"
    rm -f "$results" "$results.errors.jsonl"
    /usr/bin/time -f "%e %M" -o "$WORK/time-$n" "$BIN" bedrock import --input "$export" \
        --job-output "$out" --output "$results" > "$WORK/import-$n.stdout"
    read -r wall rss_kb < "$WORK/time-$n"
    lines=$(wc -l < "$results")
    errors=$(wc -l < "$results.errors.jsonl")
    if [[ "$lines" -ne "$n" || "$errors" -ne 0 ]]; then
        echo "import of $n records wrote $lines results and $errors errors" >&2
        cat "$WORK/import-$n.stdout" >&2
        exit 1
    fi
    size_mb=$(( $(stat -c %s "$out") / 1048576 ))
    awk -v n="$n" -v mb="$size_mb" -v wall="$wall" -v rss="$rss_kb" 'BEGIN {
        printf "| %d | %d | %.2f | %.0f | %.1f |\n", n, mb, wall, n / (wall > 0 ? wall : 0.01), rss / 1024
    }'
done
