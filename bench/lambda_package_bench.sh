#!/usr/bin/env bash
# The deployment packages of the Lambdas (issue 15): builds them with scripts/package_lambdas.sh
# (cargo lambda build --release, zig as the linker), prints the zip sizes, then times the
# registry Lambda's cold start from its zip's `bootstrap` against a local fake Runtime API
# (bench/lambda_cold_start.py, the approach of bench/lambda_bench.sh):
#   - embedded SQLite store: init, and init + one Function URL request (GET …/versions);
#   - DynamoDB + S3 store (DYNAMODB_TABLE, S3_BUCKET): init only (the AWS SDK's configuration and
#     clients are built at init; a request would need AWS).
# Usage: bench/lambda_package_bench.sh [ARCH] [RUNS]   (default: the host's arch, 20 runs)
# Runs only on an arch whose binary this machine can execute.
set -euo pipefail
cd "$(dirname "$0")/.."
case $(uname -m) in x86_64) host=x86_64 ;; aarch64) host=arm64 ;; *) host=$(uname -m) ;; esac
arch=${1:-$host}
runs=${2:-20}

bash scripts/package_lambdas.sh --arch "$arch" promptops-registry-lambda
[[ "$arch" == "$host" ]] || { echo "(cold starts need a $arch machine)"; exit 0; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unzip -q -o "infra/build/promptops-registry-lambda-$arch.zip" -d "$work"
echo
python3 bench/lambda_cold_start.py --bootstrap "$work/bootstrap" --runs "$runs" --warm 200 \
    --event bench/fixtures/registry_function_url_event.json \
    --env "PROMPTOPS_REGISTRY_STORE=sqlite:$work/registry.db" --label "registry, SQLite store"
echo
python3 bench/lambda_cold_start.py --bootstrap "$work/bootstrap" --runs "$runs" --init-only \
    --event bench/fixtures/registry_function_url_event.json \
    --env DYNAMODB_TABLE=prompts --env S3_BUCKET=prompts --env AWS_REGION=us-east-1 \
    --env AWS_ACCESS_KEY_ID=bench --env AWS_SECRET_ACCESS_KEY=bench \
    --label "registry, DynamoDB + S3 store"
