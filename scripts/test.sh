#!/usr/bin/env bash
# The README's test command: every test of the workspace, including the registry's DynamoDB + S3
# store and the rendering pipeline's S3 tests against moto's standalone server.
#
# moto (PyPI `moto[server]`, pinned below) is installed into a virtualenv under target/venv the
# first time, and only when missing or at another version. Its Python is handed to the tests as
# PROMPTOPS_MOTO_PYTHON; each test starts its own moto on a loopback port. A Python of your own
# with moto installed can be given the same way (the venv is then left alone).
#
# cargo-lambda (pinned in scripts/lambda_tools.sh, shared with scripts/package_lambdas.sh) is
# installed the same way into target/lambda-venv and handed to the tests as
# PROMPTOPS_CARGO_LAMBDA: each Lambda binary is also run under cargo-lambda's own emulator
# (`cargo lambda watch`) and invoked with `cargo lambda invoke` and the event files its README
# shows. A cargo-lambda of your own can be given the same way.
#
# Before the Rust tests run, infra/checks/run.sh runs the static checks of the Terraform and the
# workflows (issue 15), with its own pinned tools under target/; it and moto's install overlap
# the compilation of the tests.
#
# Arguments go to `cargo test` (e.g. `bash scripts/test.sh -p promptops-registry`).
set -euo pipefail
cd "$(dirname "$0")/.."

MOTO_VERSION=5.1.22
VENV=target/venv
source scripts/lambda_tools.sh

moto_ready() {
    "$1" -c "import moto, werkzeug, moto.server; assert moto.__version__ == '$MOTO_VERSION', moto.__version__" \
        >/dev/null 2>&1
}

setup_moto() {
    if moto_ready "$VENV/bin/python"; then
        return 0
    fi
    echo "scripts/test.sh: installing moto[server]==$MOTO_VERSION into $VENV" >&2
    mkdir -p target
    python3 -m venv --clear "$VENV" &&
        "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "moto[server]==$MOTO_VERSION" &&
        moto_ready "$VENV/bin/python"
}

# await_install NAME SPEC VAR PID LOG VENV EXE TESTS: the tool NAME for the tests, through the
# environment variable VAR. When VAR was given, that is used and nothing was installed;
# otherwise the background install PID (of SPEC, into VENV, its output in LOG) is waited for
# and VAR set to VENV/EXE. An install that failed fails a CI run (CI=true) loudly; elsewhere
# the tests named TESTS then say they are skipped, so it is only a warning, and the half-made
# VENV is removed so that no test finds it.
await_install() {
    local name=$1 spec=$2 var=$3 pid=$4 log=$5 venv=$6 exe=$7 tests=$8
    if [[ -n "${!var:-}" ]]; then
        echo "scripts/test.sh: $name from $var=${!var}" >&2
    elif wait "$pid"; then
        cat "$log" >&2
        export "$var=$(pwd)/$venv/$exe"
    else
        cat "$log" >&2
        if [[ "${CI:-}" == "true" ]]; then
            echo "scripts/test.sh: could not install $spec (needs python3 with venv and pip)" >&2
            exit 1
        fi
        rm -rf "$venv"
        echo "scripts/test.sh: WARNING: $name is not available; the $tests tests will be skipped" >&2
    fi
}

# moto's and cargo-lambda's installs and the static checks below are mostly downloads and
# Python: they run in the background while cargo compiles the tests (about 3 minutes of a
# clean-clone run saved), and their output is printed when they are done. The tests themselves
# start only after all three.
mkdir -p target
MOTO_LOG=target/test-moto.log
INFRA_LOG=target/test-infra-checks.log
LAMBDA_LOG=target/test-cargo-lambda.log
moto_pid=""
if [[ -z "${PROMPTOPS_MOTO_PYTHON:-}" ]]; then
    setup_moto >"$MOTO_LOG" 2>&1 &
    moto_pid=$!
fi
lambda_pid=""
if [[ -z "${PROMPTOPS_CARGO_LAMBDA:-}" ]]; then
    install_lambda_tools >"$LAMBDA_LOG" 2>&1 &
    lambda_pid=$!
fi
# The static checks of infra/ and .github/workflows/ (checkov with the project's policies, the
# python-hcl2 tests of the IAM and deployment rules, actionlint); their tools are pinned and
# installed under target/ by the script itself. A failure stops the run before any test.
bash infra/checks/run.sh >"$INFRA_LOG" 2>&1 &
infra_pid=$!

# A CI run builds from a clean clone once: incremental compilation would only add its caches
# (gigabytes of a bounded disk) and its bookkeeping time. Fixture and trybuild builds inherit it.
if [[ "${CI:-}" == "true" ]]; then
    export CARGO_INCREMENTAL=0
fi

# An interrupted or failed run leaves no installer or checker behind.
trap 'jobs -p | xargs -r kill 2>/dev/null' INT TERM
compiled=0
cargo test --workspace --no-run "$@" || compiled=$?
if [[ $compiled -ne 0 ]]; then
    jobs -p | xargs -r kill 2>/dev/null
    exit "$compiled"
fi

infra_status=0
wait "$infra_pid" || infra_status=$?
cat "$INFRA_LOG" >&2
if [[ $infra_status -ne 0 ]]; then
    echo "scripts/test.sh: the infra checks failed (exit $infra_status)" >&2
    exit "$infra_status"
fi

await_install moto "moto[server]==$MOTO_VERSION" PROMPTOPS_MOTO_PYTHON "$moto_pid" "$MOTO_LOG" \
    "$VENV" bin/python "DynamoDB + S3"
await_install cargo-lambda "cargo-lambda==$CARGO_LAMBDA_VERSION" PROMPTOPS_CARGO_LAMBDA "$lambda_pid" \
    "$LAMBDA_LOG" "$LAMBDA_VENV" bin/cargo-lambda "\`cargo lambda watch\`"

exec cargo test --workspace "$@"
