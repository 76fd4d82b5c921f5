#!/usr/bin/env bash
# The demo: deployments on an embedded local mesh (several locations in one process, on this
# machine only; no network).
#  1. WebSite and the WebServer it needs, unattended (--autofill).
#  2. A Proxy on a third location in front of two WebSites on two other locations,
#     replayed from a saved record of answers (examples/proxy-answers.json).
#  3. The lifecycle commands on a persisted state.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin armonic
armonic=target/debug/armonic
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { printf '\n\033[1m$ armonic %s\033[0m\n' "$*"; "$armonic" "$@"; }

run --local deploy //WebSite//start --autofill --save "$work/website.json"
run --local --location web1 --location web2 --location proxy \
    deploy //Proxy//start --answers examples/proxy-answers.json
run --local --location web1 --location web2 --location proxy \
    deploy //Proxy//start --answers examples/proxy-answers.json --dry-run
run --local --state-dir "$work/state" state-goto //WebServer/Configured -R conf port:8080
run --local --state-dir "$work/state" provide-call //WebServer//start
