#!/usr/bin/env bash
# Build-time cost of structured outputs (issue #23): the same N prompts (default 100) built as
#   A  labels-only: every prompt declares `output.labels` (5 labels)   gen_corpus.py --output labels
#   B  structured:  every prompt declares `output.schema`, 10 fields   gen_corpus.py --output structured
# Each side is its own prompts crate (same Cargo.toml and build.rs as bench/build_bench.sh), both in
# one target directory of this script's own, so it neither waits on nor invalidates the
# workspace's target/ or target/fixtures.
#
# Per round, for A then B (B then A in even rounds, so a drift in the machine's speed hits both):
#   clean  `cargo build` after `cargo clean -p` (build-script compile + run + rustc on the
#          generated crate; dependencies already built);
#   incr   `cargo build` after editing one prompt's template.
# Prints every run, the medians and B - A; then the build script's own time (in-process,
# median of 11, as build_bench.sh) and, with valgrind, the instructions rustc executes on each
# generated file (clean in incremental mode, and a rebuild after one template edit), which
# machine load does not change (the method of bench/rustc_instructions.sh).
#
# Usage: bench/structured_build_bench.sh [N] [ROUNDS]     (defaults 100 and 6)
#   BENCH_TARGET_DIR   target directory (default target/bench-structured)
#   NO_INSTRUCTIONS=1  skip the valgrind counts (~1 min each on 2 cores at N=100)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
n=${1:-100}
rounds=${2:-6}
export CARGO_TARGET_DIR="${BENCH_TARGET_DIR:-$root/target/bench-structured}"
work="$CARGO_TARGET_DIR/work"
mkdir -p "$work"

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2 ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2)}'; }
seconds() {   # a failed build aborts the benchmark (a fast failure would look like a fast build)
  local s e
  s=$(date +%s.%N)
  if ! "$@" >"$work/last-build.log" 2>&1; then
    echo "build failed: $* (see $work/last-build.log)" >&2
    tail -20 "$work/last-build.log" >&2
    return 1
  fi
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}
loadavg() { cut -d' ' -f1-3 /proc/loadavg; }

setup() {   # setup SIDE MODE: a prompts crate named bench-prompts-SIDE over a MODE corpus
  local side=$1 mode=$2 crate="$work/$1"
  mkdir -p "$crate/src"
  cat > "$crate/Cargo.toml" <<TOML
[package]
name = "bench-prompts-$side"
version = "0.1.0"
edition = "2021"

[dependencies]
promptops-macros = { path = "$root/promptops-macros" }
promptops-runtime = { path = "$root/promptops-runtime", default-features = false }

[build-dependencies]
promptops-build = { path = "$root/promptops-build" }

[profile.dev.build-override]
opt-level = 3

[workspace]
TOML
  cp "$root/Cargo.lock" "$crate/Cargo.lock"
  echo 'fn main() { promptops_build::compile_prompts("prompts"); }' > "$crate/build.rs"
  echo 'include!(concat!(env!("OUT_DIR"), "/prompts.rs"));' > "$crate/src/lib.rs"
  python3 "$root/bench/gen_corpus.py" --output "$mode" "$n" "$crate/prompts"
  (cd "$crate" && cargo build --quiet --offline)   # dependencies, once
}

echo "load average at start: $(loadavg)"
cargo build --quiet --release -p promptops-build --example time_compile --manifest-path "$root/Cargo.toml"
timer="$CARGO_TARGET_DIR/release/examples/time_compile"
setup labels labels
setup structured structured

declare -A clean incr
edit=0
run_side() {   # run_side SIDE: one clean and one incremental build
  local side=$1 crate="$work/$1" secs
  (cd "$crate" && cargo clean --quiet --offline -p "bench-prompts-$side")
  secs=$(cd "$crate" && seconds cargo build --quiet --offline) || exit 1
  clean[$side]+="$secs "
  edit=$((edit + 1))
  sed -i "s/Answer now\..*/Answer now. (edit $edit)/" "$crate/prompts/domain_000/task_00000.yaml"
  secs=$(cd "$crate" && seconds cargo build --quiet --offline) || exit 1
  incr[$side]+="$secs "
}
for r in $(seq 1 "$rounds"); do
  if [ $((r % 2)) = 1 ]; then order="labels structured"; else order="structured labels"; fi
  for side in $order; do run_side "$side"; done
  echo "round $r done (load average $(loadavg))"
done

med() { printf '%s\n' $1 | median; }
list() { printf '%s\n' $1 | awk '{printf "%s%.2f", (NR > 1 ? ", " : ""), $1}'; }
ca=$(med "${clean[labels]}"); cb=$(med "${clean[structured]}")
ia=$(med "${incr[labels]}"); ib=$(med "${incr[structured]}")
echo
echo "$n prompts, $rounds alternating rounds; load average at end: $(loadavg)"
printf '%-16s %-44s %8s   %-44s %8s\n' corpus "clean s (every run)" median "incr s (every run)" median
printf '%-16s %-44s %8.2f   %-44s %8.2f\n' "A labels" "$(list "${clean[labels]}")" "$ca" "$(list "${incr[labels]}")" "$ia"
printf '%-16s %-44s %8.2f   %-44s %8.2f\n' "B structured" "$(list "${clean[structured]}")" "$cb" "$(list "${incr[structured]}")" "$ib"
printf '%-16s %-44s %+8.2f   %-44s %+8.2f\n' "B - A" "" "$(echo "$cb - $ca" | bc)" "" "$(echo "$ib - $ia" | bc)"

echo
echo "build script in-process (median of 11, ms): prompts discover validate generate total"
for side in labels structured; do echo "  $side: $("$timer" "$work/$side/prompts" 11 true)"; done
for side in labels structured; do
  out_dir=$(ls -td "$CARGO_TARGET_DIR"/debug/build/bench-prompts-$side-*/out | head -1)
  echo "  $side: generated prompts.rs $(wc -c < "$out_dir/prompts.rs") bytes, $(wc -l < "$out_dir/prompts.rs") lines"
done

[ "${NO_INSTRUCTIONS:-}" = 1 ] && exit 0
command -v valgrind >/dev/null || { echo "no valgrind: skipping rustc instruction counts"; exit 0; }
rustc_bin=$(rustup which rustc 2>/dev/null || command -v rustc)   # the real binary, not the proxy
count() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$rustc_bin" "$@" 2>&1 \
  | awk '/I *refs/ { gsub(",", "", $NF); printf "%.0f", $NF / 1e6 }'; }
echo
echo "rustc instructions on the generated file (M), flags as cargo passes them:"
printf '%-16s %10s %14s\n' corpus clean incremental
declare -A ic ii
for side in labels structured; do
  crate="$work/$side"
  touch "$crate/src/lib.rs"
  line=$(cd "$crate" && cargo build -v --offline 2>&1 | grep -o "Running \`[^\`]*--crate-name bench_prompts_$side[^\`]*\`" | head -1)
  args=${line#Running \`}; args=${args%\`}
  out_dir=$(ls -td "$CARGO_TARGET_DIR"/debug/build/bench-prompts-$side-*/out | head -1)
  tmp=$(mktemp -d)
  cp "$out_dir/prompts.rs" "$tmp/prompts.rs"
  echo 'include!("prompts.rs");' > "$tmp/lib.rs"
  flags=$(echo "$args" | sed -E "s#^[^ ]+ ##; s#src/lib.rs#$tmp/lib.rs#; s#--out-dir [^ ]+#--out-dir $tmp#; s#-C incremental=[^ ]+#-C incremental=$tmp/inc#; s#--error-format=json##; s#--json=[^ ]+##")
  eval "set -- $flags"
  ic[$side]=$(cd "$crate" && count "$@")
  python3 - "$tmp/prompts.rs" <<'PY'
import re, sys
path = sys.argv[1]; text = open(path).read()
text = text.replace("Answer now.", "Answer now. (edited)", 1)
text = re.sub(r'hash = "[0-9a-f]{64}"', 'hash = "' + "e" * 64 + '"', text, count=1)
open(path, "w").write(text)
PY
  ii[$side]=$(cd "$crate" && count "$@")
  rm -rf "$tmp"
  printf '%-16s %10s %14s\n' "$side" "${ic[$side]}" "${ii[$side]}"
done
printf '%-16s %+10d %+14d\n' "B - A" $((ic[structured] - ic[labels])) $((ii[structured] - ii[labels]))
