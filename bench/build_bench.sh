#!/usr/bin/env bash
# Build-time benchmark for issue #2: for corpora of 10 .. 5,000 prompts (~1.5 KB each) measures
#   1. the build script's work in-process (discover + validate + generate), median of 11 runs,
#      compiled with opt-level 3 as the workspace's [profile.dev.build-override] does;
#   2. a clean `cargo build` of a prompts crate over the corpus (dependencies already built):
#      build-script compile + run + rustc of the generated crate, median of 3;
#   3. an incremental `cargo build` after editing one prompt's template, median of 3.
# Usage: bench/build_bench.sh [--data-only] [--output MODE] [SIZES...]   (default: 10 100 1000 5000)
#   --data-only   the generated crate is built with `Config::typed(false)` (no typed layer)
#   --output MODE the corpus's outputs, passed to gen_corpus.py: mixed (default; one prompt in
#                 three has labels), labels (every prompt) or structured (every prompt has a
#                 10-field output.schema); bench/structured_build_bench.sh compares the last two
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
typed=true
output=mixed
while [ $# -gt 0 ]; do
  case "$1" in
    --data-only) typed=false; shift ;;
    --output) output=$2; shift 2 ;;
    *) break ;;
  esac
done
if [ $# -gt 0 ]; then sizes=("$@"); else sizes=(10 100 1000 5000); fi
work="$root/target/bench-build"
# Shares compiled dependencies with the fixture crates of the integration tests.
export CARGO_TARGET_DIR="$root/target/fixtures"
mkdir -p "$work"

cargo build --quiet --release -p promptops-build --example time_compile --manifest-path "$root/Cargo.toml"
timer="$CARGO_TARGET_DIR/release/examples/time_compile"

crate="$work/bench-prompts"
mkdir -p "$crate/src"
cat > "$crate/Cargo.toml" <<TOML
[package]
name = "bench-prompts"
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
if $typed; then
  echo 'fn main() { promptops_build::compile_prompts("prompts"); }' > "$crate/build.rs"
else
  echo 'fn main() { promptops_build::Config::new().prompts_dir("prompts").typed(false).compile_or_exit(); }' > "$crate/build.rs"
fi
echo 'include!(concat!(env!("OUT_DIR"), "/prompts.rs"));' > "$crate/src/lib.rs"

median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# Times a command; a failed build aborts the benchmark (a fast failure would look like a fast build).
seconds() {
  local s e
  s=$(date +%s.%N)
  if ! "$@" >"$work/last-build.log" 2>&1; then
    echo "build failed: $* (see $work/last-build.log)" >&2
    tail -5 "$work/last-build.log" >&2
    return 1
  fi
  e=$(date +%s.%N)
  echo "$e - $s" | bc
}

printf '%-8s %12s %12s %12s %12s %14s %14s\n' prompts discover_ms validate_ms generate_ms script_ms clean_build_s incr_build_s
for n in "${sizes[@]}"; do
  python3 "$root/bench/gen_corpus.py" --output "$output" "$n" "$crate/prompts"
  read -r count d v g t < <("$timer" "$crate/prompts" 11 "$typed")
  # Warm the dependency graph once so the clean builds below compile only this crate.
  (cd "$crate" && cargo build --quiet --offline)
  clean=()
  for _ in 1 2 3; do
    (cd "$crate" && cargo clean --quiet --offline -p bench-prompts)
    secs=$(cd "$crate" && seconds cargo build --quiet --offline) || exit 1
    clean+=("$secs")
  done
  incr=()
  edited="$crate/prompts/domain_000/task_00000.yaml"   # gen_corpus.py's first prompt
  for i in 1 2 3; do
    sed -i "s/Answer now\..*/Answer now. (edit $i $RANDOM)/" "$edited"
    secs=$(cd "$crate" && seconds cargo build --quiet --offline) || exit 1
    incr+=("$secs")
  done
  printf '%-8s %12s %12s %12s %12s %14.2f %14.2f\n' "$count" "$d" "$v" "$g" "$t" \
    "$(printf '%s\n' "${clean[@]}" | median)" "$(printf '%s\n' "${incr[@]}" | median)"
done
