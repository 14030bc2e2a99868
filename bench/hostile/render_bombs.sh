#!/usr/bin/env bash
# Render bombs through the runtime's renderer (promptops-runtime/examples/render_bombs.rs), each
# under `prlimit --as` and `/usr/bin/time`: with the default render limits ("after"), and with
# fuel and the output cap lifted to their maximum, which is how the runtime rendered before it
# had them ("before"; the template limits cannot be lifted, so the `chain` row's "before" is the
# stack overflow measured on the unmodified tree: see BENCHMARKS.md).
#
#   bash bench/hostile/render_bombs.sh            # debug build, as the attacks were measured
#   PROFILE=release bash bench/hostile/render_bombs.sh
set -euo pipefail
cd "$(dirname "$0")/../.."

PROFILE=${PROFILE:-debug}
AS_BYTES=${AS_BYTES:-4294967296}
TIMEOUT_S=${TIMEOUT_S:-60}
flag=()
[[ "$PROFILE" == release ]] && flag=(--release)
cargo build -q "${flag[@]}" -p promptops-runtime --example render_bombs
BIN=target/$PROFILE/examples/render_bombs

printf '%-9s %-8s %-10s %-12s %s\n' bomb limits seconds "max RSS MB" outcome
for bomb in loops doubling chain wide; do
    for limits in default lifted; do
        env=()
        if [[ $limits == lifted ]]; then
            env=(PROMPTOPS_RENDER_FUEL=18446744073709551615 PROMPTOPS_RENDER_MAX_OUTPUT_BYTES=18446744073709551615)
        fi
        out=$(mktemp)
        set +e
        env ${env[@]+"${env[@]}"} timeout "$TIMEOUT_S" /usr/bin/time -f '%e %M %x' -o "$out.time" \
            prlimit --as="$AS_BYTES" -- "$BIN" "$bomb" >"$out" 2>/dev/null
        status=$?
        set -e
        seconds="$TIMEOUT_S+"
        rss_kb=0
        if [[ -s "$out.time" ]]; then
            read -r seconds rss_kb _ < <(tail -n 1 "$out.time")
        fi
        outcome=$(sed -e "s/^$bomb: //" "$out" | cut -c1-60)
        if [[ -z "$outcome" ]]; then
            case $status in
                124) outcome="killed at the ${TIMEOUT_S} s timeout" ;;
                *) outcome="process died (exit $status)" ;;
            esac
        fi
        printf '%-9s %-8s %-10s %-12s %s\n' "$bomb" "$limits" "$seconds" "$((rss_kb / 1024))" "$outcome"
        rm -f "$out" "$out.time"
    done
done
