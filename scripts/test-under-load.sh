#!/usr/bin/env bash
# Runs the whole test suite (scripts/test.sh) beside CPU-burning processes, as a busy machine
# would: timers run late, peers answer slowly, and no test may take slowness for failure.
#
#   scripts/test-under-load.sh            # 4 burners
#   ARMONIC_LOAD=8 scripts/test-under-load.sh
#
# The burners are ended by their process ids when the suite ends, however it ends.
set -euo pipefail
cd "$(dirname "$0")/.."

count="${ARMONIC_LOAD:-4}"
case "$count" in
'' | *[!0-9]*)
    echo "ARMONIC_LOAD must be a number of burners, not '$count'" >&2
    exit 2
    ;;
esac

burners=()
stop_burners() {
    if [ "${#burners[@]}" -gt 0 ]; then
        kill "${burners[@]}" 2>/dev/null || true
        wait "${burners[@]}" 2>/dev/null || true
    fi
}
trap stop_burners EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

for _ in $(seq "$count"); do
    sh -c 'while :; do :; done' &
    burners+=("$!")
done
echo "== $count CPU burners running (pids ${burners[*]})"

scripts/test.sh "$@"
