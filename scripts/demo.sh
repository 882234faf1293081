#!/usr/bin/env bash
# The main job end to end: build stepbox and the example task components from
# source, start `stepbox serve` on its embedded store (redb, under
# target/demo-data), load the example components and the example workflow,
# run it with the AWS CLI, restart the server to show the execution persisted,
# and let a hostile component hit its timeout.
#
# Needs the Rust toolchain and python3 (the AWS CLI is installed from PyPI into
# a venv under the target directory on first use).
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
work=$(mktemp -d)
data=target/demo-data
source scripts/lib/server.sh

fail() {
    echo "demo: $*" >&2
    [ -f "$work/server.log" ] && tail -n 40 "$work/server.log" >&2
    exit 1
}
trap cleanup EXIT

# wasm32-wasip2 for the guest components; wasm32-unknown-unknown for their lean builds.
for target in wasm32-wasip2 wasm32-unknown-unknown; do
    if ! rustup target list --installed | grep -qx "$target"; then
        echo "==> installing the $target target"
        rustup target add "$target"
    fi
done
ensure_awscli

echo "==> building stepbox and the example components"
cargo build -q -p stepbox -p stepbox-components
cargo run -q -p stepbox-components --bin export-components -- target/functions
stepbox="$target_dir/debug/stepbox"

echo "==> stepbox validate examples/workflows/order.asl.json"
"$stepbox" validate examples/workflows/order.asl.json

echo "==> stepbox serve --data $data (the embedded store; loads every component of target/functions)"
rm -rf "$data"
start_server "$stepbox" --data "$data" --functions target/functions
aws_local lambda list-functions --query 'Functions[].FunctionName' --output text

echo "==> create the state machine, start an execution, wait for it"
sm=$(aws_local stepfunctions create-state-machine --name orders \
    --definition file://examples/workflows/order.asl.json \
    --role-arn arn:aws:iam::111111111111:role/stepbox --query stateMachineArn --output text)
exec_arn=$(aws_local stepfunctions start-execution --state-machine-arn "$sm" --name demo \
    --input file://examples/workflows/order.input.json --query executionArn --output text)
status=$(wait_for_execution "$exec_arn")
echo "$exec_arn: $status"
[ "$status" = SUCCEEDED ] || fail "the execution ended $status"
aws_local stepfunctions describe-execution --execution-arn "$exec_arn" --query output --output text
echo "first history events:"
aws_local stepfunctions get-execution-history --execution-arn "$exec_arn" \
    --query 'events[:12].[id, type]' --output text

echo "==> restart the server on the same store: the execution is still there"
stop_server
start_server "$stepbox" --data "$data" --functions target/functions
aws_local stepfunctions describe-execution --execution-arn "$exec_arn" --query '[name, status]' --output text
stop_server

echo "==> stepbox invoke hostile.wasm: an infinite loop, stopped by its 0.5 s timeout"
"$stepbox" invoke target/functions/hostile.wasm --input '{"attack": "loop"}' --timeout 0.5 \
    || echo "(exit code $?, as expected)"
