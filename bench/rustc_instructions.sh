#!/usr/bin/env bash
# rustc instructions (valgrind cachegrind, unaffected by machine load) for the generated crate
# of the last `bench/build_bench.sh` run: a clean compile in incremental mode (as cargo does
# after `cargo clean -p`) and an incremental recompile after one template edit.
#
# Usage: bench/build_bench.sh 1000 && bench/rustc_instructions.sh [TREE]
#   TREE: another checkout whose bench/build_bench.sh ran (e.g. an older commit in a
#   `git worktree`); default this one.
# Prints: "clean N M" and "incremental N M" (millions of instructions).
set -euo pipefail
root=$(cd "${1:-$(dirname "$0")/..}" && pwd)
crate="$root/target/bench-build/bench-prompts"
export CARGO_TARGET_DIR="$root/target/fixtures"
command -v valgrind >/dev/null || { echo "needs valgrind" >&2; exit 1; }

# The exact rustc invocation cargo uses for the crate (flags, --extern paths).
touch "$crate/src/lib.rs"
line=$(cd "$crate" && cargo build -v --offline 2>&1 | grep -o 'Running `[^`]*--crate-name bench_prompts[^`]*`' | head -1)
[ -n "$line" ] || { echo "run bench/build_bench.sh first" >&2; exit 1; }
args=${line#Running \`}; args=${args%\`}
rustc_bin=$(rustup which rustc 2>/dev/null || command -v rustc)   # the real binary, not the rustup proxy
out_dir=$(ls -td "$CARGO_TARGET_DIR"/debug/build/bench-prompts-*/out | head -1)

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp "$out_dir/prompts.rs" "$work/prompts.rs"
echo 'include!("prompts.rs");' > "$work/lib.rs"
# Same flags, but our own source, output and incremental directories.
flags=$(echo "$args" | sed -E "s#^[^ ]+ ##; s#src/lib.rs#$work/lib.rs#; s#--out-dir [^ ]+#--out-dir $work#; s#-C incremental=[^ ]+#-C incremental=$work/inc#; s#--error-format=json##; s#--json=[^ ]+##")
eval "set -- $flags"   # cargo prints shell-quoted arguments ('cfg(docsrs,test)')
count() { valgrind --tool=cachegrind --cache-sim=no --cachegrind-out-file=/dev/null "$rustc_bin" "$@" 2>&1 \
  | awk '/I *refs/ { gsub(",", "", $NF); printf "%.0f", $NF / 1e6 }'; }
(cd "$crate" && echo "clean $(count "$@") M")
python3 - "$work/prompts.rs" <<'PY'
import re, sys
path = sys.argv[1]; text = open(path).read()
text = text.replace("Answer now.", "Answer now. (edited)", 1)        # gen_corpus.py's templates
text = re.sub(r'hash = "[0-9a-f]{64}"', 'hash = "' + "e" * 64 + '"', text, count=1)  # the tree hash changes too
open(path, "w").write(text)
PY
(cd "$crate" && echo "incremental $(count "$@") M")
