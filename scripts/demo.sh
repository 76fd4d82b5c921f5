#!/usr/bin/env bash
# The demo: the shipped WebServer lifecycle driven by an embedded agent, with its state kept
# in a temporary state directory across two processes.
set -euo pipefail
cd "$(dirname "$0")/.."
cargo build --quiet --bin armonic
armonic=target/debug/armonic
state=$(mktemp -d)
trap 'rm -rf "$state"' EXIT

run() { echo "\$ armonic $*"; "$armonic" "$@"; echo; }

run --local lifecycle
run --local provide //WebServer//start -a
run --local --state-dir "$state" state-goto //WebServer/Configured -R conf port:8080
run --local --state-dir "$state" provide-call //WebServer//start
run --local --state-dir "$state" state-current
