# Sourced by scripts/package_lambdas.sh and scripts/test.sh (not run on its own): the pinned
# cargo-lambda and zig from PyPI, in one virtualenv under target/, installed only when missing
# or at another version. package_lambdas.sh builds with them (zig is the cross linker); the
# tests run each Lambda binary under cargo-lambda's own emulator (`cargo lambda watch`) and
# invoke it with `cargo lambda invoke`, finding the binary through PROMPTOPS_CARGO_LAMBDA.
# Paths are relative to the workspace root (both scripts cd there first).

CARGO_LAMBDA_VERSION=1.9.2
ZIGLANG_VERSION=0.14.1
LAMBDA_VENV=target/lambda-venv

# Whether the venv holds exactly the pinned versions.
lambda_tools_ready() {
    [[ "$("$LAMBDA_VENV/bin/cargo-lambda" lambda --version 2>/dev/null)" == *"$CARGO_LAMBDA_VERSION"* ]] &&
        "$LAMBDA_VENV/bin/python" -c "import importlib.metadata as m; assert m.version('ziglang') == '$ZIGLANG_VERSION'" 2>/dev/null
}

# Installs the pinned tools unless they are there; fails if they still are not.
install_lambda_tools() {
    if lambda_tools_ready; then
        return 0
    fi
    echo "installing cargo-lambda==$CARGO_LAMBDA_VERSION ziglang==$ZIGLANG_VERSION into $LAMBDA_VENV" >&2
    mkdir -p target
    python3 -m venv --clear "$LAMBDA_VENV" &&
        "$LAMBDA_VENV/bin/python" -m pip install --quiet --disable-pip-version-check \
            "cargo-lambda==$CARGO_LAMBDA_VERSION" "ziglang==$ZIGLANG_VERSION" &&
        lambda_tools_ready
}
