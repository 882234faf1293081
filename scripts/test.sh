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
cargo test --workspace "$@"
