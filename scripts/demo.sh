#!/usr/bin/env bash
# The main job end to end: build stepbox and the example task components from
# source, then run the example components with `stepbox invoke`.
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

echo "==> stepbox invoke echo"
$stepbox invoke target/functions/echo.wasm --input '{"hello": "world"}'

echo "==> stepbox invoke hostile (an infinite loop, stopped by its 0.5 s timeout)"
$stepbox invoke target/functions/hostile.wasm --input '{"attack": "loop"}' --timeout 0.5 || echo "(exit code $?, as expected)"
