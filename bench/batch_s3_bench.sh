#!/usr/bin/env bash
# S3 streaming of promptops-batch (issue 27): throughput against moto, and peak RSS from 10k to
# 1M records, with the same job file → file beside it for comparison.
#
#   bash bench/batch_s3_bench.sh                      # 10k / 100k / 1M records: ~1.5-2 min
#   SIZES="10000 100000" bash bench/batch_s3_bench.sh # other sizes
#
# 1. builds promptops-batch in release mode (the shared target/);
# 2. starts moto's server (moto_server's threaded werkzeug server, objects in memory) on a free
#    loopback port, killed on exit; the Python is PROMPTOPS_MOTO_PYTHON, else target/venv
#    (`bash scripts/test.sh` creates it);
# 3. for each size N: generates N support messages once (cached in target/bench-s3/), uploads
#    them to a bucket with boto3, then runs the job with the offline local model (so the model
#    costs ~nothing and the I/O path is what is measured), same flags both ways:
#      file: --input FILE            --output FILE
#      s3:   --input s3://bench/…    --output s3://bench/…   (staged parts, one multipart upload)
#    each under /usr/bin/time (wall, peak RSS, CPU); moto's own CPU time is read from
#    /proc/PID/stat around each S3 run;
# 4. checks every run before it counts: the summary says N succeeded and 0 failed, the results
#    (file or object) hold N lines with N distinct ids, the errors file/object is empty and no
#    staged part is left under `<key>.parts/`. A failed check stops the script (exit 1).
# Prints a markdown table; MB = 2^20 bytes.
set -euo pipefail
cd "$(dirname "$0")/.."

SIZES=${SIZES:-10000 100000 1000000}
CONCURRENCY=${CONCURRENCY:-16}
WORK=${WORK:-target/bench-s3}
PY=${PROMPTOPS_MOTO_PYTHON:-target/venv/bin/python}
BUCKET=bench
[[ -x "$PY" ]] || { echo "no Python with moto: run 'bash scripts/test.sh' or set PROMPTOPS_MOTO_PYTHON" >&2; exit 1; }

cargo build --release -q -p promptops-batch --bin promptops-batch
BIN=target/release/promptops-batch
mkdir -p "$WORK"

# moto as `moto_server` serves it (werkzeug, threaded), but on port 0 so the kernel picks a free
# port (reported on stdout): no race with other servers. Threaded as S3 is: an S3 → S3 job keeps
# its input's GetObject open while it stages parts, which a one-request-at-a-time server (the
# tests' tests/src/moto.rs) never answers once the input is larger than the socket buffers.
rm -f "$WORK/moto.port"
"$PY" -c '
import logging, os
from werkzeug.serving import make_server
from moto.server import DomainDispatcherApplication, create_backend_app
logging.getLogger("werkzeug").setLevel(logging.ERROR)
app = DomainDispatcherApplication(create_backend_app)
server = make_server("127.0.0.1", 0, app, threaded=True)
os.environ["MOTO_PORT"] = str(server.port)
print("PORT", server.port, flush=True)
server.serve_forever()
' >"$WORK/moto.port" 2>"$WORK/moto.log" &
MOTO_PID=$!
trap 'kill "$MOTO_PID" 2>/dev/null || true' EXIT
for _ in $(seq 300); do [[ -s "$WORK/moto.port" ]] && break; sleep 0.1; done
PORT=$(awk '/^PORT/ {print $2}' "$WORK/moto.port")
[[ -n "$PORT" ]] || { echo "moto did not start:" >&2; cat "$WORK/moto.log" >&2; exit 1; }

export AWS_ENDPOINT_URL="http://127.0.0.1:$PORT" AWS_REGION=us-east-1
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing AWS_EC2_METADATA_DISABLED=true
export AWS_CONFIG_FILE=/dev/null AWS_SHARED_CREDENTIALS_FILE=/dev/null
unset AWS_PROFILE AWS_SESSION_TOKEN PROMPTOPS_MODEL RUST_LOG || true

# s3 COMMAND ARGS...: the few S3 operations the script needs, through boto3.
s3() {
  "$PY" - "$@" <<'EOF'
import json, os, sys
import boto3
from boto3.s3.transfer import TransferConfig
s3 = boto3.client("s3", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
cmd, args = sys.argv[1], sys.argv[2:]
if cmd == "mkbucket":
    s3.create_bucket(Bucket=args[0])
elif cmd == "upload":  # FILE BUCKET KEY
    s3.upload_file(args[0], args[1], args[2], Config=TransferConfig(multipart_chunksize=64 << 20))
elif cmd == "check":  # BUCKET KEY N: results lines, distinct ids, errors lines, parts left
    bucket, key, n = args[0], args[1], int(args[2])
    lines, ids, rest = 0, set(), b""
    for chunk in s3.get_object(Bucket=bucket, Key=key)["Body"].iter_chunks(1 << 20):
        *whole, rest = (rest + chunk).split(b"\n")
        for line in whole:
            lines += 1
            ids.add(json.loads(line)["id"])
    if rest:
        lines += 1
        ids.add(json.loads(rest)["id"])
    errors = s3.get_object(Bucket=bucket, Key=key + ".errors.jsonl")["Body"].read().count(b"\n")
    parts = s3.list_objects_v2(Bucket=bucket, Prefix=key + ".parts/").get("KeyCount", 0)
    print(lines, len(ids), errors, parts)
elif cmd == "rm":  # BUCKET PREFIX: frees moto's memory between sizes
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=args[0], Prefix=args[1]):
        keys = [{"Key": o["Key"]} for o in page.get("Contents", [])]
        if keys:
            s3.delete_objects(Bucket=args[0], Delete={"Objects": keys})
EOF
}

# cpu_s PID: user + system CPU seconds of a process so far (all its threads).
cpu_s() {
  awk -v tck="$(getconf CLK_TCK)" '{sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / tck}' "/proc/$1/stat"
}

s3 mkbucket "$BUCKET"
ROWS=()

# run N ROUTE INPUT OUTPUT INPUT_BYTES: one job under /usr/bin/time, checked; adds a table row.
run() {
  local n=$1 route=$2 input=$3 output=$4 bytes=$5 name="$1-$2"
  local moto_before moto_after moto_cpu=-
  [[ $route == s3 ]] && moto_before=$(cpu_s "$MOTO_PID")
  /usr/bin/time -f '%e %M %U %S' -o "$WORK/$name.time" "$BIN" --input "$input" --output "$output" \
    --fresh --progress off --model local --concurrency "$CONCURRENCY" \
    --summary-json "$WORK/$name.summary.json" >"$WORK/$name.stdout" 2>"$WORK/$name.stderr" || {
    echo "run $name failed:" >&2
    cat "$WORK/$name.stdout" "$WORK/$name.stderr" "$WORK/$name.time" >&2
    exit 1
  }
  if [[ $route == s3 ]]; then
    moto_after=$(cpu_s "$MOTO_PID")
    moto_cpu=$(awk -v a="$moto_before" -v b="$moto_after" 'BEGIN {printf "%.1f", b - a}')
  fi
  # The results must be there before the numbers count.
  local check
  if [[ $route == s3 ]]; then
    local rest=${output#s3://}
    check=$(s3 check "${rest%%/*}" "${rest#*/}" "$n")
  else
    check="$(wc -l <"$output") $("$PY" -c 'import json, sys; print(len({json.loads(l)["id"] for l in open(sys.argv[1])}))' "$output") $(wc -l <"$output.errors.jsonl") 0"
  fi
  local wall rss_kb user sys row
  read -r wall rss_kb user sys <"$WORK/$name.time"
  row=$("$PY" - "$WORK/$name.summary.json" "$n" $check "$name" "$route" "$wall" "$rss_kb" \
    "$user" "$sys" "$bytes" "$moto_cpu" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
n, lines, ids, errors, parts = map(int, sys.argv[2:7])
name, route, wall, rss_kb, user, sys_s, size, moto = sys.argv[7:]
problems = [f"{what}: {got} (want {want})" for what, got, want in [
    ("summary succeeded", s["succeeded"], n), ("summary failed", s["failed"], 0),
    ("result lines", lines, n), ("distinct ids", ids, n), ("error lines", errors, 0),
    ("staged parts left", parts, 0)] if got != want]
if problems:
    sys.exit(f"run {name} is broken: " + "; ".join(problems))
wall = float(wall)
print(f"| {n:,} | {route} | {wall:.2f} | {n / wall:,.0f} | {int(size) / 2**20 / wall:.1f} | "
      f"{int(rss_kb) / 1024:.1f} | {float(user) + float(sys_s):.1f} | {moto} |")
EOF
) || exit 1
  ROWS+=("$row")
  echo "$row" >&2
}

for n in $SIZES; do
  input="$WORK/input-$n.jsonl"
  if [[ ! -s $input ]]; then
    python3 examples/batch/data/gen_support_messages.py --count "$n" --seed 7 >"$input.tmp"
    mv "$input.tmp" "$input"
  fi
  bytes=$(stat -c %s "$input")
  s3 upload "$input" "$BUCKET" "in/input-$n.jsonl"
  run "$n" file "$input" "$WORK/results-$n.jsonl" "$bytes"
  run "$n" s3 "s3://$BUCKET/in/input-$n.jsonl" "s3://$BUCKET/out/$n/results.jsonl" "$bytes"
  rm -f "$WORK/results-$n.jsonl" "$WORK/results-$n.jsonl.errors.jsonl"
  s3 rm "$BUCKET" ""
done

echo
echo "promptops-batch, S3 (moto $("$PY" -c 'import moto; print(moto.__version__)'), loopback) vs. files," \
  "--model local --concurrency $CONCURRENCY, $(nproc) cores, $(date -u +%Y-%m-%d)"
echo
echo "| records | route | wall s | rec/s | input MB/s | peak RSS MB | job CPU s | moto CPU s |"
echo "|---:|---|---:|---:|---:|---:|---:|---:|"
printf '%s\n' "${ROWS[@]}"
