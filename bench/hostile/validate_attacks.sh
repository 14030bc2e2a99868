#!/usr/bin/env bash
# Runs each validation attack of issue 21 (item 2) through the build's `validate` in a debug
# build, as the issue measured them, and prints time, peak RSS and outcome per attack.
#
# Usage: bench/hostile/validate_attacks.sh [ATTACK...]
#   TIMEOUT=seconds (default 300) stops an attack that runs longer;
#   MEMORY=bytes (default 8 GiB) is its address-space limit (prlimit --as), so a blow-up
#   fails instead of taking the machine's memory;
#   BIN=path runs another build of the `validate_tree` example (to measure a commit before
#   the fix: check it out elsewhere with promptops-build/examples/validate_tree.rs copied in,
#   `cargo build -p promptops-build --example validate_tree`, and pass its binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
TIMEOUT=${TIMEOUT:-300}
MEMORY=${MEMORY:-$((8 * 1024 * 1024 * 1024))}
OUT=${OUT:-target/hostile-attacks}

if [ -z "${BIN:-}" ]; then
  cargo build -q -p promptops-build --example validate_tree
  BIN=target/debug/examples/validate_tree
fi
python3 bench/hostile/gen_validate_attacks.py "$OUT"

attacks=("$@")
if [ ${#attacks[@]} -eq 0 ]; then
  mapfile -t attacks < <(ls "$OUT")
fi
printf '%-28s %8s %10s %8s  %s\n' attack seconds peak_MiB bytes outcome
for attack in "${attacks[@]}"; do
  file=$(ls "$OUT/$attack"/hostile/*.yaml)
  bytes=$(stat -c %s "$file")
  log=$(mktemp)
  set +e
  outcome=$(/usr/bin/time -v -o "$log" timeout "$TIMEOUT" \
    prlimit --as="$MEMORY" -- "$BIN" "$OUT/$attack" 2>/dev/null)
  status=$?
  set -e
  wall=$(awk -F': ' '/Elapsed \(wall clock\)/ {print $2}' "$log")
  seconds=$(echo "$wall" | awk -F: '{ if (NF == 3) print $1*3600 + $2*60 + $3; else print $1*60 + $2 }')
  rss_kib=$(awk -F': ' '/Maximum resident set size/ {print $2}' "$log")
  rm -f "$log"
  case $status in
    0) ;;
    124) outcome="killed after ${TIMEOUT}s (timeout)" ;;
    *) outcome="exit $status (out of memory or crash) ${outcome}" ;;
  esac
  printf '%-28s %8.2f %10d %8d  %s\n' "$attack" "$seconds" $((rss_kib / 1024)) "$bytes" "$outcome"
done
