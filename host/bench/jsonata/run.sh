#!/usr/bin/env bash
# W1 in JSONPath and in JSONata, measured in one run: generates both
# definitions, builds the release runner, then alternates the two workloads
# RUNS times (default 7) and prints the median throughputs and their ratio.
# Environment: CARGO_TARGET_DIR (default the repository's target/), RUNS, EXECUTIONS (default 20).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../../.." && pwd)
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}
(cd "$repo" && cargo build -q --release -p stepbox-bench)
runner="$CARGO_TARGET_DIR/release/stepbox-bench-runner"
work=$(mktemp -d --tmpdir stepbox-w1j.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 "$here/gen_w1.py" "$work"
for i in $(seq "${RUNS:-7}"); do
    for key in w1 w1j; do
        "$runner" "$work/manifest.json" "$key" --executions "${EXECUTIONS:-20}" | grep '^BENCH_RESULT ' | sed "s/^BENCH_RESULT /$key /"
    done
done | python3 -c '
import json, statistics, sys
runs = {}
for line in sys.stdin:
    key, doc = line.split(" ", 1)
    r = json.loads(doc)
    if r["failed_executions"] or r["check_failures"]:
        sys.exit(f"{key} failed: {r}")
    runs.setdefault(key, []).append(r["throughput"])
jp, ja = statistics.median(runs["w1"]), statistics.median(runs["w1j"])
n = len(runs["w1"])  # no quotes inside f-strings: Python before 3.12 rejects them
print(f"W1 JSONPath: {jp:,.0f} transitions/s (median of {n})")
print(f"W1 JSONata:  {ja:,.0f} transitions/s (median of {n})")
print(f"JSONPath / JSONata: {jp / ja:.2f}x (target <= 3x)")
'
