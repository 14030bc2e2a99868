#!/usr/bin/env bash
# Builds the Lambda functions with `cargo lambda build --release` and zips each `bootstrap` where
# Terraform expects it: infra/build/<binary>-<arch>.zip (modules/registry, modules/pipeline and
# modules/classifier default their `package_path` to that file), or, for the production build
# (PROMPTOPS_ENV=production), infra/build/<binary>-<arch>-production.zip, the only packages
# infra/envs/prod deploys. Prints the sizes.
#
# Usage: scripts/package_lambdas.sh [--arch arm64|x86_64] [BINARY...]
#   default: --arch arm64, the three binaries (promptops-registry-lambda, promptops-pipeline-lambda,
#   promptops-lambda)
#
# cargo-lambda and zig come pinned from PyPI into target/lambda-venv (scripts/lambda_tools.sh,
# shared with scripts/test.sh); zig is the cross linker (cargo-zigbuild links against an old
# glibc that provided.al2023 satisfies). What needs a
# machine with access to the Rust dist server (the CI runner): the Rust standard library of the
# target, `rustup target add aarch64-unknown-linux-gnu` for arm64 (x86_64 hosts ship only their
# own). The production build (drafts excluded from the prompts crate) is PROMPTOPS_ENV=production
# in the environment, as prod.yml sets it.
set -euo pipefail
cd "$(dirname "$0")/.."

# The pinned cargo-lambda and zig, shared with scripts/test.sh.
source scripts/lambda_tools.sh

arch=arm64
binaries=()
while [[ $# -gt 0 ]]; do
    case $1 in
        --arch) arch=$2; shift 2 ;;
        --arch=*) arch=${1#--arch=}; shift ;;
        -h|--help) sed -n '2,18p' "$0"; exit 0 ;;
        *) binaries+=("$1"); shift ;;
    esac
done
[[ ${#binaries[@]} -gt 0 ]] || binaries=(promptops-registry-lambda promptops-pipeline-lambda promptops-lambda)

case $arch in
    arm64) triple=aarch64-unknown-linux-gnu; flag=--arm64 ;;
    x86_64) triple=x86_64-unknown-linux-gnu; flag=--x86-64 ;;
    *) echo "package_lambdas.sh: --arch must be arm64 or x86_64, not $arch" >&2; exit 2 ;;
esac

# The crate (package name and directory) of each binary.
package_of() {
    case $1 in
        promptops-registry-lambda) echo promptops-registry promptops-registry ;;
        promptops-pipeline-lambda) echo promptops-pipeline promptops-pipeline ;;
        promptops-lambda) echo promptops-lambda examples/lambda ;;
        *) echo "package_lambdas.sh: unknown binary $1" >&2; return 1 ;;
    esac
}

# The production build (drafts compiled out of the prompts crate) gets its own file name, so a
# development build can never stand in for it: infra/envs/prod points at `-production` zips.
case ${PROMPTOPS_ENV:-} in
    production) suffix=-production ;;
    *) suffix= ;;
esac

install_lambda_tools
# cargo-zigbuild finds zig as `python3 -m ziglang` when `zig` is not on PATH: the venv's python.
export PATH="$PWD/$LAMBDA_VENV/bin:$PATH"

if ! rustup target list --installed 2>/dev/null | grep -qx "$triple"; then
    echo "package_lambdas.sh: the Rust standard library for $triple is not installed;" >&2
    echo "  run \`rustup target add $triple\` (needs the Rust dist server: the CI runner does this)" >&2
    exit 1
fi

mkdir -p infra/build
kib() { echo $(( $(stat -c %s "$1") / 1024 )); }
rows=()
for bin in "${binaries[@]}"; do
    crate=$(package_of "$bin")
    read -r package dir <<<"$crate"
    [[ -f "$dir/Cargo.toml" ]] || { echo "package_lambdas.sh: crate $package ($dir) is missing (for $bin)" >&2; exit 1; }
    echo "package_lambdas.sh: cargo lambda build --release $flag -p $package --bin $bin" >&2
    cargo lambda build --release "$flag" -p "$package" --bin "$bin" --output-format zip
    zip_path=target/lambda/$bin/bootstrap.zip
    out=infra/build/$bin-$arch$suffix.zip
    cp "$zip_path" "$out"
    bootstrap_size=$(unzip -l "$out" | awk '$4 == "bootstrap" { print $1 }')
    rows+=("| \`$bin\` | $arch | $(( bootstrap_size / 1024 )) KiB | $(kib "$out") KiB | \`$out\` |")
done

echo
echo "| binary | arch | bootstrap (unzipped) | zip | written to |"
echo "|---|---|---:|---:|---|"
printf '%s\n' "${rows[@]}"
