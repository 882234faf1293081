#!/usr/bin/env bash
# Run every stepbox test. Installs what a fresh machine with only the Rust
# toolchain lacks (the wasm32-wasip2 target), then runs the workspace tests,
# which build the guest components from source (host/components/build.rs).
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

echo "==> cargo test --workspace"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
status=0
cargo test --workspace "$@" 2>&1 | tee "$log" || status=$?

# One closing line for all test binaries (cargo prints one per binary, the
# last of which is often an empty doc-test run).
awk '/^test result:/ { for (i = 1; i <= NF; i++) { if ($i ~ /^passed;?$/) p += $(i-1); if ($i ~ /^failed;?$/) f += $(i-1) } }
     END { printf "\ntotal: %d passed, %d failed\n", p, f }' "$log"
exit "$status"
