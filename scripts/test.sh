#!/usr/bin/env bash
# Run every stepbox test. Installs what a fresh machine with only the Rust
# toolchain lacks (the wasm32-wasip2 and wasm32-unknown-unknown targets, the
# Python and JavaScript handler toolchains), then runs the workspace tests,
# which build the guest components from source (host/components/build.rs),
# and the AWS CLI quick start of docs/api.md (scripts/awscli-quickstart.sh).
# The web console's tests drive headless Chromium over WebDriver (Debian's
# chromium and chromium-driver packages, installed first if missing:
# scripts/lib/chromium.sh).
# The store's and the server's tests also run on PostgreSQL: a throwaway
# server is started for them (scripts/lib/postgres.sh; Debian's postgresql
# package is installed first if missing) and stopped at the end.
set -euo pipefail
cd "$(dirname "$0")/.."

# wasm32-wasip2 for the guest components; wasm32-unknown-unknown for their lean builds.
for target in wasm32-wasip2 wasm32-unknown-unknown; do
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "==> installing the $target target"
        rustup target add "$target"
    fi
done

# The console's browser tests drive headless Chromium through chromedriver
# (scripts/lib/chromium.sh: Debian's packages installed if missing).
source scripts/lib/chromium.sh
chromium_ensure

# The builders of Python and JavaScript handlers (componentize-py, componentize-js),
# once per machine into the per-user toolchain cache; tests/all/polyglot.rs uses them.
echo "==> stepbox toolchain install python js"
cargo run -q -p stepbox -- toolchain install python js

source scripts/lib/postgres.sh
log=$(mktemp)
trap 'postgres_stop; rm -f "$log"' EXIT
postgres_start

echo "==> cargo test --workspace"
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

# docs/api.md's AWS CLI commands against a real `stepbox serve` (installs the
# AWS CLI from PyPI into a venv under the target directory on first use).
echo "==> AWS CLI quick start (docs/api.md)"
bash scripts/awscli-quickstart.sh 2>&1 | tee -a "$log" || status=1

# docs/testing.md through Python's AWS SDK core (botocore, from the same venv).
echo "==> botocore testing (docs/testing.md)"
bash scripts/sdk-testing.sh 2>&1 | tee -a "$log" || status=1

# One closing line for all test binaries (cargo prints one per binary, the
# last of which is often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
