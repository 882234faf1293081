#!/usr/bin/env bash
# Reproduce the stepbox-vs-peer table: build the release runner, install the
# peer (aws-local-stepfunctions 3.0.0 + Node 22, from npm; once), run the
# orchestrator with both engines. Extra arguments go to run_bench.py, e.g.
#   host/bench/run-vs-peer.sh --workloads w3,w5 --scale w3=items:1000
# Environment: BENCH_DIR (required: the shared benchmark kit, holding
# run_bench.py, workloads/ and peers/), CARGO_TARGET_DIR (default the
# repository's target/), RUNS (default 3).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
bench=${BENCH_DIR:-}
if [ -z "$bench" ] || [ ! -f "$bench/run_bench.py" ]; then
    echo "run-vs-peer.sh: set BENCH_DIR to the shared benchmark kit (the directory holding run_bench.py, workloads/ and peers/)${bench:+; $bench has no run_bench.py}" >&2
    exit 2
fi
export CARGO_TARGET_DIR=${CARGO_TARGET_DIR:-$repo/target}

(cd "$repo" && cargo build --release -p stepbox-bench)
runner="$CARGO_TARGET_DIR/release/stepbox-bench-runner"
bash "$bench/peers/setup.sh"
# Warm the artifact cache so no measured process compiles the component
# (compilation is excluded from timed_s anyway; this keeps process wall honest).
"$runner" "$bench/workloads/manifest.json" w5 --executions 1 >/dev/null

out=$(mktemp --tmpdir stepbox-vs-peer.XXXXXX.jsonl)
python3 "$bench/run_bench.py" --peers als --peer "stepbox=$runner" --runs "${RUNS:-3}" --out "$out" "$@"
echo
python3 "$here/ratios.py" "$out" als
echo "(every run and the medians: $out)"
