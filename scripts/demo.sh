#!/usr/bin/env bash
# The demo: three agents in a mesh of their own on this machine's loopback (a fresh swarm
# key, explicit peers, no mDNS: nothing goes on the machine's network), and the Proxy
# deployment through them: two WebSites on two agents, the Proxy on the third.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin armonic
exec target/debug/armonic demo "$@"
