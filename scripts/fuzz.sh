#!/usr/bin/env bash
# Fuzz stepbox's parsers and evaluators of untrusted text with cargo-fuzz
# (libFuzzer): ASL definitions (parser and validator), JSONPath, intrinsic
# functions, JSONata, the SigV4 Authorization header and presigned query,
# function uploads (CreateFunction's zip) and the request router (whole
# requests answered by an in-memory server). Installs what it needs once per machine (the nightly
# toolchain, cargo-fuzz). Not part of scripts/test.sh: the inputs it finds
# are kept in host/fuzzing/regressions/TARGET/ and replayed on stable by
# `cargo test -p stepbox-fuzzing`.
#
#   bash scripts/fuzz.sh [RUNS_PER_TARGET] [TARGET...]    (default 2500000, all)
#
# FUZZ_SECONDS=N stops each target after N seconds even if it has not made
# its runs (default 3600). The fuzzers run at the lowest priority (nice 19).
# Prints each target's runs and the total; exits 1 when a target found a
# panic (its input is copied into the regressions directory).
set -euo pipefail
cd "$(dirname "$0")/.."

runs=${1:-2500000}
shift || true
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(definition jsonpath intrinsic jsonata authorization upload router)
seconds=${FUZZ_SECONDS:-3600}

if ! rustup toolchain list | grep -q '^nightly'; then
    echo "==> installing the nightly toolchain (cargo-fuzz needs it)"
    rustup toolchain install nightly --profile minimal
fi
if ! command -v cargo-fuzz >/dev/null; then
    echo "==> installing cargo-fuzz"
    cargo +nightly install cargo-fuzz --locked
fi

total=0
found=0
for t in "${targets[@]}"; do
    corpus="fuzz/corpus/$t"
    mkdir -p "$corpus" "host/fuzzing/regressions/$t"
    log=$(mktemp)
    echo "==> $t: $runs runs"
    # No sanitizer (safe Rust; speed), debug assertions on (stepbox's own
    # checks, such as JSONata's direct evaluator against jsonata-core's).
    # The server's targets build the server (with wasmtime): a feature of their own.
    features=()
    case "$t" in authorization | upload | router) features=(--features server) ;; esac
    status=0
    nice -n 19 cargo +nightly fuzz run --sanitizer none --debug-assertions "${features[@]}" --fuzz-dir fuzz "$t" "$corpus" "host/fuzzing/seeds/$t" -- \
        -runs="$runs" -max_total_time="$seconds" -dict="fuzz/dicts/$t.dict" -max_len=4096 -timeout=20 -rss_limit_mb=4096 \
        -print_final_stats=1 >"$log" 2>&1 || status=$?
    done_runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
    total=$((total + ${done_runs:-0}))
    echo "    ran ${done_runs:-0}"
    if [ "$status" -ne 0 ]; then
        found=1
        tail -40 "$log"
        for a in fuzz/artifacts/"$t"/*; do
            [ -e "$a" ] && cp "$a" "host/fuzzing/regressions/$t/" && echo "    kept $(basename "$a") in host/fuzzing/regressions/$t/"
        done
    fi
    rm -f "$log"
done
echo "total: $total runs"
exit "$found"
