#!/usr/bin/env bash
# Registry benchmark (issue #12): resolve throughput and latency on the embedded store, side by
# side with a trivial axum JSON handler on the same stack, in alternating rounds; then promote
# latency while readers resolve the same prompt.
#
# latency while readers resolve the same prompt; last, the same resolve figures with the registry
# on DynamoDB + S3 served by moto's standalone server (for scale: moto is a Python emulator, so
# this measures moto far more than the registry).
#
# Usage: bench/registry_bench.sh [ROUNDS] [SECONDS]      (default 3 rounds of 10 s)
# PROMPTOPS_BENCH_BEFORE=PATH: a `promptops` binary built from another commit (say main's); it
# serves a second registry (its own database, same setup) and each round measures it too, right
# after this build's, so "before" and "after" share the machine's conditions.
# Needs wrk (Debian package `wrk`; installed with apt-get when missing and running as root) and,
# for the moto row, the venv that scripts/test.sh creates (target/venv; skipped when absent).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
seconds=${2:-10}
work="$root/target/registry-bench"
reg_port=8090
base_port=8091
moto_port=8092
dyn_port=8093
before_port=8094
token="bench-reader-and-releaser"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk" >&2; exit 1; fi
fi

cd "$root"
# PROMPTOPS_BENCH_NO_BUILD=1 reuses the release binaries already in target/release.
if [ -z "${PROMPTOPS_BENCH_NO_BUILD:-}" ]; then
  cargo build --quiet --release -p promptops-cli
  cargo build --quiet --release -p promptops-registry --example trivial_json --example promote_latency
fi
rm -rf "$work" && mkdir -p "$work"
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
printf 'tokens:\n  - name: bench\n    role: releaser\n    sha256: %s\n' "$hash" > "$work/tokens.yaml"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
target/release/promptops registry serve --listen "127.0.0.1:$reg_port" \
  --store "sqlite:$work/registry.db" --tokens "$work/tokens.yaml" 2>"$work/registry.log" &
reg_pid=$!
pids+=("$reg_pid")
target/release/examples/trivial_json "127.0.0.1:$base_port" 2>"$work/trivial.log" &
base_pid=$!
pids+=("$base_pid")
ports=("$reg_port" "$base_port")
before=${PROMPTOPS_BENCH_BEFORE:-}
if [ -n "$before" ]; then
  "$before" registry serve --listen "127.0.0.1:$before_port" \
    --store "sqlite:$work/registry-before.db" --tokens "$work/tokens.yaml" 2>"$work/registry-before.log" &
  before_pid=$!
  pids+=("$before_pid")
  ports+=("$before_port")
fi
for port in "${ports[@]}"; do
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

auth=(-H "Authorization: Bearer $token")
for port in "${ports[@]}"; do
  [ "$port" = "$base_port" ] && continue
  curl -sf "${auth[@]}" -H 'content-type: application/json' \
    -d '{"prompt_id":"bench.prompt","version":"1","content":"Classify: {{ message }}"}' \
    "http://127.0.0.1:$port/prompts" >/dev/null
  curl -sf "${auth[@]}" -H 'content-type: application/json' -d '{"version":"1"}' \
    "http://127.0.0.1:$port/prompts/bench.prompt/promote" >/dev/null
done
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"

# CPU time a process has used, in clock ticks (user + system).
cpu_ticks() { awk '{print $14 + $15}' "/proc/$1/stat"; }
ticks_per_second=$(getconf CLK_TCK)

# wrk against one server (URL, server PID): requests/s, p50 and p99 latency in ms, and the
# server's CPU time per request in µs (user + system, from /proc): on a busy machine
# throughput depends on what else runs, CPU per request much less.
measure() {
  local before after
  before=$(cpu_ticks "$2")
  wrk -t2 -c64 -d"${seconds}s" --latency "${auth[@]}" "$1" > "$work/wrk.txt"
  after=$(cpu_ticks "$2")
  awk -v ticks=$((after - before)) -v hz="$ticks_per_second" '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /requests in/ { count = $1 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / Non-2xx/ { bad = $NF }
    END { if (bad != "") { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
          printf "%.0f %.3f %.3f %.1f\n", rps, p50, p99, ticks * 1e6 / hz / count }' "$work/wrk.txt"
}

printf '%-6s %-28s %10s %9s %9s %12s\n' round server req/s p50_ms p99_ms cpu_us/req
for round in $(seq "$rounds"); do
  read -r rps p50 p99 cpu < <(measure "http://127.0.0.1:$base_port/prompts/bench.prompt" "$base_pid")
  printf '%-6s %-28s %10s %9s %9s %12s\n' "$round" "trivial axum JSON handler" "$rps" "$p50" "$p99" "$cpu"
  echo "$rps $cpu" >> "$work/base.txt"
  read -r rps p50 p99 cpu < <(measure "http://127.0.0.1:$reg_port/prompts/bench.prompt" "$reg_pid")
  printf '%-6s %-28s %10s %9s %9s %12s\n' "$round" "registry resolve (sqlite)" "$rps" "$p50" "$p99" "$cpu"
  echo "$rps $p99 $cpu" >> "$work/registry.txt"
  if [ -n "$before" ]; then
    read -r rps p50 p99 cpu < <(measure "http://127.0.0.1:$before_port/prompts/bench.prompt" "$before_pid")
    printf '%-6s %-28s %10s %9s %9s %12s\n' "$round" "registry resolve, before" "$rps" "$p50" "$p99" "$cpu"
    echo "$rps $p99 $cpu" >> "$work/before.txt"
  fi
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(cut -d' ' -f1 "$work/base.txt" | median)
base_cpu=$(cut -d' ' -f2 "$work/base.txt" | median)
reg=$(cut -d' ' -f1 "$work/registry.txt" | median)
reg_p99=$(cut -d' ' -f2 "$work/registry.txt" | median)
reg_cpu=$(cut -d' ' -f3 "$work/registry.txt" | median)
echo "median req/s: registry $reg, trivial handler $base, ratio $(echo "scale=2; $reg / $base" | bc)"
echo "median CPU per request: registry ${reg_cpu} µs, trivial handler ${base_cpu} µs, ratio $(echo "scale=2; $base_cpu / $reg_cpu" | bc)"
echo "median p99: registry ${reg_p99} ms"
if [ -n "$before" ]; then
  bef=$(cut -d' ' -f1 "$work/before.txt" | median)
  bef_p99=$(cut -d' ' -f2 "$work/before.txt" | median)
  bef_cpu=$(cut -d' ' -f3 "$work/before.txt" | median)
  echo "before: median req/s $bef (ratio $(echo "scale=2; $bef / $base" | bc)), p99 ${bef_p99} ms, CPU per request ${bef_cpu} µs (ratio $(echo "scale=2; $base_cpu / $bef_cpu" | bc))"
fi

echo "promote latency while 64 connections resolve the prompt being promoted:"
wrk -t2 -c64 -d30s "${auth[@]}" "http://127.0.0.1:$reg_port/prompts/bench.latency" >/dev/null 2>&1 &
load=$!
sleep 1
PROMPTOPS_BENCH_TOKEN=$token target/release/examples/promote_latency "http://127.0.0.1:$reg_port" bench.latency 200
kill "$load" 2>/dev/null || true

moto_python=${PROMPTOPS_MOTO_PYTHON:-$root/target/venv/bin/python}
if [ ! -x "$moto_python" ]; then
  echo "moto row skipped: no $moto_python (run bash scripts/test.sh once, or set PROMPTOPS_MOTO_PYTHON)"
  exit 0
fi
echo "resolve on DynamoDB + S3 served by moto (1 round, same wrk settings):"
export AWS_ACCESS_KEY_ID=bench AWS_SECRET_ACCESS_KEY=bench AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1
export AWS_ENDPOINT_URL="http://127.0.0.1:$moto_port"
"$moto_python" -m moto.server -p "$moto_port" >"$work/moto.log" 2>&1 &
pids+=($!)
for _ in $(seq 100); do (exec 3<>"/dev/tcp/127.0.0.1/$moto_port") 2>/dev/null && break; sleep 0.1; done
"$moto_python" - <<'PY'
import boto3
boto3.client("dynamodb").create_table(
    TableName="bench-prompts",
    AttributeDefinitions=[{"AttributeName": n, "AttributeType": "S"} for n in ("prompt_key", "version")],
    KeySchema=[{"AttributeName": "prompt_key", "KeyType": "HASH"}, {"AttributeName": "version", "KeyType": "RANGE"}],
    BillingMode="PAY_PER_REQUEST")
boto3.client("s3").create_bucket(Bucket="bench-prompt-docs")
PY
target/release/promptops registry serve --listen "127.0.0.1:$dyn_port" \
  --store "dynamodb:bench-prompts?bucket=bench-prompt-docs" --tokens "$work/tokens.yaml" 2>"$work/registry-dynamo.log" &
dyn_pid=$!
pids+=("$dyn_pid")
for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$dyn_port") 2>/dev/null && break; sleep 0.1; done
curl -sf "${auth[@]}" -H 'content-type: application/json' \
  -d '{"prompt_id":"bench.prompt","version":"1","content":"Classify: {{ message }}"}' \
  "http://127.0.0.1:$dyn_port/prompts" >/dev/null
curl -sf "${auth[@]}" -H 'content-type: application/json' -d '{"version":"1"}' \
  "http://127.0.0.1:$dyn_port/prompts/bench.prompt/promote" >/dev/null
read -r rps p50 p99 cpu < <(measure "http://127.0.0.1:$dyn_port/prompts/bench.prompt" "$dyn_pid")
printf '%-6s %-28s %10s %9s %9s %12s\n' 1 "registry resolve (moto)" "$rps" "$p50" "$p99" "$cpu"
