#!/usr/bin/env bash
# docs/testing.md through Python's AWS SDK core (botocore, as the AWS CLI in
# its venv ships it): a `stepbox serve` with a mock configuration, wait-time scale 0, a
# bound integration, local S3 buckets and a built-in DynamoDB table, driven as a Python test suite
# would. Ends with a `test result:` line that scripts/test.sh counts.
set -euo pipefail
cd "$(dirname "$0")/.."

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
work=$(mktemp -d)
source scripts/lib/server.sh

trap cleanup EXIT

fail() { test_failed sdk-testing "$@"; }

ensure_awscli
cargo build -q -p stepbox -p stepbox-components
cargo run -q -p stepbox-components --bin export-components -- target/functions >/dev/null
mkdir -p "$work/buckets/reports"
start_server "$target_dir/debug/stepbox" --in-memory --functions target/functions \
    --mock-config tests/all/server/mocks/MockConfigFile.json --wait-time-scale 0 \
    --bind sqs:sendMessage=echo --buckets "$work/buckets" --dynamodb-table Visits=page
"$venv/bin/python" scripts/sdk_testing.py "$port" "$work/buckets" || fail "the Python checks failed"
stop_server
