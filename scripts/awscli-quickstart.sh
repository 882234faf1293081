#!/usr/bin/env bash
# Run the AWS CLI quick-start block of docs/api.md verbatim against a fresh
# `stepbox serve`, so the docs cannot drift from behaviour. Installs the AWS
# CLI from PyPI into a venv under the cargo target directory on first use.
# Ends with a `test result:` line that scripts/test.sh counts.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
work=$(mktemp -d)
source scripts/lib/server.sh

trap cleanup EXIT

fail() { test_failed awscli-quickstart "$@"; }

ensure_awscli

echo "==> building stepbox and the example components"
cargo build -q -p stepbox -p stepbox-components
cargo run -q -p stepbox-components --bin export-components -- target/functions >/dev/null
stepbox="$target_dir/debug/stepbox"

start_server "$stepbox" --functions target/functions --data "$work/data"

# The block between the markers NAME:begin and NAME:end in docs/api.md, without its fence, on this server's port.
block() {
    awk "/<!-- $1:begin -->/ { on = 1; next } /<!-- $1:end -->/ { on = 0 } on && !/^\`\`\`/" docs/api.md \
        | sed "s/127\.0\.0\.1:8083/127.0.0.1:$port/g"
}
# The quick start, then the functions built from source (Python and
# JavaScript, with the toolchains scripts/test.sh installs) on the same server.
block awscli-quickstart >"$work/quickstart.sh"
[ -s "$work/quickstart.sh" ] || fail "no awscli-quickstart block in docs/api.md"
block awscli-source >"$work/source.sh"
[ -s "$work/source.sh" ] || fail "no awscli-source block in docs/api.md"
cat "$work/source.sh" >>"$work/quickstart.sh"

# Run it where its relative paths resolve, without writing into the repository.
mkdir -p "$work/run/target"
ln -s "$root/target/functions" "$work/run/target/functions"
ln -s "$root/examples" "$work/run/examples"
echo "==> running the AWS CLI quick start of docs/api.md (port $port)"
(cd "$work/run" && PATH="$venv/bin:$PATH" bash -euo pipefail "$work/quickstart.sh") >"$work/out.txt" 2>&1 \
    || { cat "$work/out.txt" >&2; fail "the quick-start block failed"; }
cat "$work/out.txt"

expect() {
    grep -qF -- "$1" "$work/out.txt" || fail "expected '$1' in the quick-start output"
}
expect '"arn:aws:lambda:us-east-1:111111111111:function:greeter"'
expect '{"hello":"world"}'
expect '"arn:aws:states:us-east-1:111111111111:execution:orders:first"'
expect '"SUCCEEDED"'
expect '"Pending"'
expect '{"carrier": "UPS", "cost": 11.0, "free": false}'
expect '{"sku":"pen","qty":2,"line_total":3,"label":"2 x pen (3.00)"}'
expect '"InProgress"'
expect '{"carrier": "UPS", "cost": 0, "free": true}'
expect '"arn:aws:lambda:us-east-1:111111111111:function:shipping:live"'

# The polyglot executions: 100 items labelled in JavaScript, shipping quoted
# by the alias's Python; an order without an address held by the Catch.
status=$(cd "$work/run" && wait_for_execution arn:aws:states:us-east-1:111111111111:execution:polyglot:order-100)
[ "$status" = SUCCEEDED ] || fail "execution polyglot:order-100 ended $status"
output=$(cd "$work/run" && aws_local stepfunctions describe-execution \
    --execution-arn arn:aws:states:us-east-1:111111111111:execution:polyglot:order-100 --query output --output text)
echo "$output" | python3 -c '
import json, sys
out = json.load(sys.stdin)
labels = [item["label"] for item in out["items"]]
assert len(labels) == 100 and labels[99] == "1 x SKU-99 (2.00)", labels[-3:]
assert out["shipping"] == {"carrier": "Colissimo", "cost": 0, "free": True}, out["shipping"]
' || fail "polyglot:order-100 output: $output"
status=$(cd "$work/run" && wait_for_execution arn:aws:states:us-east-1:111111111111:execution:polyglot:order-8)
[ "$status" = FAILED ] || fail "execution polyglot:order-8 ended $status"
held=$(cd "$work/run" && aws_local stepfunctions describe-execution \
    --execution-arn arn:aws:states:us-east-1:111111111111:execution:polyglot:order-8 --query '[error, cause]' --output text)
for part in OrderHeld '"errorType":"AddressMissing"' '"errorMessage":"order order-8 has no shipping address"'; do
    grep -qF -- "$part" <<<"$held" || fail "polyglot:order-8 was not held by the Catch of AddressMissing: $held"
done

# The Standard execution finishes in the background: poll it to SUCCEEDED.
status=$(cd "$work/run" && wait_for_execution arn:aws:states:us-east-1:111111111111:execution:orders:first)
[ "$status" = SUCCEEDED ] || fail "execution orders:first ended $status"

# SIGTERM shuts the server down cleanly.
stop_server
echo "test result: ok. 3 passed; 0 failed; 0 ignored (awscli quick start, functions from source, the polyglot workflow)"
