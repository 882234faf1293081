#!/usr/bin/env bash
# The main job end to end: build stepbox and the example task components from
# source, load the components and an example workflow, and run it.
set -euo pipefail
cd "$(dirname "$0")/.."

if ! rustup target list --installed | grep -qx wasm32-wasip2; then
    echo "==> installing the wasm32-wasip2 target"
    rustup target add wasm32-wasip2
fi

echo "==> building stepbox and the example components"
cargo build -q -p stepbox -p stepbox-components
cargo run -q -p stepbox-components --bin export-components -- target/functions
stepbox=target/debug/stepbox

echo "==> stepbox validate examples/workflows/order.asl.json"
$stepbox validate examples/workflows/order.asl.json

echo "==> stepbox run examples/workflows/order.asl.json (components from target/functions)"
$stepbox run examples/workflows/order.asl.json --input @examples/workflows/order.input.json \
    --functions target/functions

echo "==> stepbox invoke hostile.wasm: an infinite loop, stopped by its 0.5 s timeout"
$stepbox invoke target/functions/hostile.wasm --input '{"attack": "loop"}' --timeout 0.5 \
    || echo "(exit code $?, as expected)"
