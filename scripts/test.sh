#!/usr/bin/env bash
# Runs the whole test suite: formatting, lints, every test of the workspace (unit, behaviour,
# end-to-end, documentation examples). Installs what the tests need when it is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

need() { command -v "$1" >/dev/null 2>&1; }

if ! need cargo; then
    echo "cargo is missing: install Rust (https://rustup.rs) first" >&2
    exit 1
fi
if ! need cargo-nextest && ! cargo nextest --version >/dev/null 2>&1; then
    echo "installing cargo-nextest"
    cargo install --locked cargo-nextest
fi

# The zero-configuration test makes network namespaces with ip (iproute2), as root.
if ! need ip && [ "$(id -u)" = 0 ] && need apt-get; then
    echo "installing iproute2"
    apt-get install -y -qq iproute2 >/dev/null
fi

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets -- -D warnings
echo "== tests"
cargo nextest run --workspace --no-fail-fast
echo "== documentation examples"
cargo test --workspace --doc
echo "== API documentation builds without broken links"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet
