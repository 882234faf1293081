#!/usr/bin/env bash
# Run the README's AWS CLI quick-start block verbatim against a fresh
# `stepbox serve`, so the README cannot drift from behaviour. Installs the AWS
# CLI from PyPI into a venv under the cargo target directory on first use.
# Ends with a `test result:` line that scripts/test.sh counts.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)

AWSCLI_VERSION=1.46.2
target_dir=$(realpath -m "${CARGO_TARGET_DIR:-target}")
venv="$target_dir/awscli-venv"
work=$(mktemp -d)
server_pid=

cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}
trap cleanup EXIT

fail() {
    echo "awscli-quickstart: $*" >&2
    if [ -f "$work/server.log" ]; then
        echo "--- server log (last 40 lines)" >&2
        tail -n 40 "$work/server.log" >&2
    fi
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored"
    exit 1
}

if ! "$venv/bin/aws" --version >/dev/null 2>&1; then
    echo "==> installing awscli $AWSCLI_VERSION into $venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION"
fi

echo "==> building stepbox and the example components"
cargo build -q -p stepbox -p stepbox-components
cargo run -q -p stepbox-components --bin export-components -- target/functions >/dev/null
stepbox="$target_dir/debug/stepbox"

port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
"$stepbox" --log info serve --addr "127.0.0.1:$port" --functions target/functions --data "$work/data" >"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 1 100); do
    if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
        break
    fi
    kill -0 "$server_pid" 2>/dev/null || fail "stepbox serve exited before answering /health"
    sleep 0.1
done

# The block between the README markers, without its fence, on this server's port.
awk '/<!-- awscli-quickstart:begin -->/ { on = 1; next } /<!-- awscli-quickstart:end -->/ { on = 0 } on && !/^```/' README.md \
    | sed "s/127\.0\.0\.1:8083/127.0.0.1:$port/g" >"$work/quickstart.sh"
[ -s "$work/quickstart.sh" ] || fail "no awscli-quickstart block in README.md"

# Run it where its relative paths resolve, without writing into the repository.
mkdir -p "$work/run/target"
ln -s "$root/target/functions" "$work/run/target/functions"
ln -s "$root/examples" "$work/run/examples"
echo "==> running the README's AWS CLI quick start (port $port)"
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

# The Standard execution finishes in the background: poll it to SUCCEEDED.
status=
for _ in $(seq 1 100); do
    status=$(cd "$work/run" && PATH="$venv/bin:$PATH" AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test \
        AWS_DEFAULT_REGION=us-east-1 aws --endpoint-url "http://127.0.0.1:$port" stepfunctions describe-execution \
        --execution-arn arn:aws:states:us-east-1:111111111111:execution:orders:first --query status --output text)
    [ "$status" = RUNNING ] || break
    sleep 0.1
done
[ "$status" = SUCCEEDED ] || fail "execution orders:first ended $status"

# SIGTERM shuts the server down cleanly.
kill -TERM "$server_pid"
wait "$server_pid" || fail "stepbox serve exited with status $? after SIGTERM"
server_pid=
echo "test result: ok. 1 passed; 0 failed; 0 ignored (awscli quick start)"
