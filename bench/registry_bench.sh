#!/usr/bin/env bash
# Registry benchmark (issue #12): resolve throughput and latency on the embedded store, side by
# side with a trivial axum JSON handler on the same stack, in alternating rounds; then promote
# latency while readers resolve the same prompt.
#
# Usage: bench/registry_bench.sh [ROUNDS] [SECONDS]      (default 3 rounds of 10 s)
# Needs wrk (Debian package `wrk`; installed with apt-get when missing and running as root).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
rounds=${1:-3}
seconds=${2:-10}
work="$root/target/registry-bench"
reg_port=8090
base_port=8091
token="bench-reader-and-releaser"

if ! command -v wrk >/dev/null; then
  if [ "$(id -u)" = 0 ]; then apt-get install -y -qq wrk >/dev/null; else echo "install wrk" >&2; exit 1; fi
fi

cd "$root"
cargo build --quiet --release -p promptops-cli
cargo build --quiet --release -p promptops-registry --example trivial_json --example promote_latency
rm -rf "$work" && mkdir -p "$work"
hash=$(printf %s "$token" | sha256sum | cut -d' ' -f1)
printf 'tokens:\n  - name: bench\n    role: releaser\n    sha256: %s\n' "$hash" > "$work/tokens.yaml"

pids=()
cleanup() { for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done; }
trap cleanup EXIT
target/release/promptops registry serve --listen "127.0.0.1:$reg_port" \
  --store "sqlite:$work/registry.db" --tokens "$work/tokens.yaml" 2>"$work/registry.log" &
pids+=($!)
target/release/examples/trivial_json "127.0.0.1:$base_port" 2>"$work/trivial.log" &
pids+=($!)
for port in $reg_port $base_port; do
  for _ in $(seq 50); do (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null && break; sleep 0.1; done
done

auth=(-H "Authorization: Bearer $token")
curl -sf "${auth[@]}" -H 'content-type: application/json' \
  -d '{"prompt_id":"bench.prompt","version":"1","content":"Classify: {{ message }}"}' \
  "http://127.0.0.1:$reg_port/prompts" >/dev/null
curl -sf "${auth[@]}" -H 'content-type: application/json' -d '{"version":"1"}' \
  "http://127.0.0.1:$reg_port/prompts/bench.prompt/promote" >/dev/null

# wrk's summary: requests/s, then p50 and p99 latency in ms.
measure() {
  wrk -t2 -c64 -d"${seconds}s" --latency "${auth[@]}" "$1" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /Requests\/sec/ { rps = $2 }
    /^ +50%/ { p50 = ms($2) }
    /^ +99%/ { p99 = ms($2) }
    / Non-2xx/ { bad = $NF }
    END { if (bad != "") { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.3f %.3f\n", rps, p50, p99 }'
}

printf '%-6s %-28s %12s %9s %9s\n' round server req/s p50_ms p99_ms
for round in $(seq "$rounds"); do
  read -r rps p50 p99 < <(measure "http://127.0.0.1:$base_port/prompts/bench.prompt")
  printf '%-6s %-28s %12s %9s %9s\n' "$round" "trivial axum JSON handler" "$rps" "$p50" "$p99"
  echo "$rps" >> "$work/base.txt"
  read -r rps p50 p99 < <(measure "http://127.0.0.1:$reg_port/prompts/bench.prompt")
  printf '%-6s %-28s %12s %9s %9s\n' "$round" "registry resolve (sqlite)" "$rps" "$p50" "$p99"
  echo "$rps $p99" >> "$work/registry.txt"
done
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
base=$(median < "$work/base.txt")
reg=$(cut -d' ' -f1 "$work/registry.txt" | median)
reg_p99=$(cut -d' ' -f2 "$work/registry.txt" | median)
echo "median req/s: registry $reg, trivial handler $base, ratio $(echo "scale=2; $reg / $base" | bc)"
echo "median p99: registry ${reg_p99} ms"

echo "promote latency while 64 connections resolve the prompt being promoted:"
wrk -t2 -c64 -d30s "${auth[@]}" "http://127.0.0.1:$reg_port/prompts/bench.latency" >/dev/null 2>&1 &
load=$!
sleep 1
PROMPTOPS_BENCH_TOKEN=$token target/release/examples/promote_latency "http://127.0.0.1:$reg_port" bench.latency 200
kill "$load" 2>/dev/null || true
