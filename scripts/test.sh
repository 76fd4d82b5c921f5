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

# What the tests need besides Rust: ip (iproute2) for the network namespaces of the
# zero-configuration tests and nft (nftables) for the one losing packets, script (bsdutils)
# for the terminal tests, Prosody, ejabberd and openssl (certificates for the TLS tests) for
# the XMPP bridge's, tmux, profanity and poezio
# for the tests driving XMPP clients, systemd-nspawn (systemd-container), debootstrap and
# dpkg-scanpackages (dpkg-dev) for the multi-host tests' Debian containers (tests/hosts.rs,
# tests/common/hosts.rs). As root they are installed when missing, and every
# test must then run: a test that cannot run fails instead of skipping
# (ARMONIC_REQUIRE_ALL_TESTS).
missing=()
need ip || missing+=(iproute2)
need nft || [ -x /usr/sbin/nft ] || missing+=(nftables)
need script || missing+=(bsdutils)
need prosody || missing+=(prosody)
need openssl || missing+=(openssl)
need ejabberdctl || [ -x /usr/sbin/ejabberdctl ] || missing+=(ejabberd)
need tmux || missing+=(tmux)
need profanity || missing+=(profanity)
need poezio || missing+=(poezio)
need systemd-nspawn || missing+=(systemd-container)
need debootstrap || [ -x /usr/sbin/debootstrap ] || missing+=(debootstrap)
need dpkg-scanpackages || missing+=(dpkg-dev)
if [ "$(id -u)" = 0 ] && need apt-get; then
    if [ "${#missing[@]}" -gt 0 ]; then
        echo "installing ${missing[*]}"
        # The servers are started by the tests, each with its own configuration: keep the
        # packages from starting system-wide services while they install.
        guard=/usr/sbin/policy-rc.d
        made_guard=
        if [ ! -e "$guard" ]; then
            printf '#!/bin/sh\nexit 101\n' >"$guard"
            chmod +x "$guard"
            made_guard=1
        fi
        export DEBIAN_FRONTEND=noninteractive
        apt-get install -y -qq "${missing[@]}" >/dev/null ||
            { apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null; }
        if [ -n "$made_guard" ]; then
            rm -f "$guard"
        fi
    fi
    export ARMONIC_REQUIRE_ALL_TESTS=1
elif [ "${#missing[@]}" -gt 0 ]; then
    echo "not installed (the tests needing them will say so and skip): ${missing[*]}" >&2
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
