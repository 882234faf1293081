# Shared by scripts/demo.sh and scripts/awscli-quickstart.sh: the AWS CLI from
# PyPI in a venv under the cargo target directory, and a `stepbox serve`
# process started in the background and stopped on exit.
# Callers set: target_dir, work (a scratch directory), and call fail() on error
# (test scripts: test_failed, below).

AWSCLI_VERSION=1.46.2
venv="$target_dir/awscli-venv"
server_pid=
port=

# Install the AWS CLI into $venv on first use; a venv that no longer runs
# (its target directory was moved or copied: venvs hold absolute paths) is rebuilt.
ensure_awscli() {
    if ! "$venv/bin/aws" --version >/dev/null 2>&1; then
        echo "==> installing awscli $AWSCLI_VERSION into $venv"
        python3 -m venv --clear "$venv"
        "$venv/bin/pip" install -q --disable-pip-version-check "awscli==$AWSCLI_VERSION"
    fi
}

# The AWS CLI against the running server, with test credentials.
aws_local() {
    AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test AWS_DEFAULT_REGION=us-east-1 \
        AWS_DISABLE_HOST_PREFIX_INJECTION=true \
        "$venv/bin/aws" --endpoint-url "http://127.0.0.1:$port" "$@"
}

# start_server STEPBOX_BINARY [serve options…]: a free loopback port, logs in
# $work/server.log, returns once /health answers.
start_server() {
    local stepbox=$1
    shift
    port=$("$venv/bin/python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$stepbox" --log info serve --addr "127.0.0.1:$port" "$@" >>"$work/server.log" 2>&1 &
    server_pid=$!
    for _ in $(seq 1 100); do
        if "$venv/bin/python" -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/health', timeout=1)" 2>/dev/null; then
            return 0
        fi
        kill -0 "$server_pid" 2>/dev/null || fail "stepbox serve exited before answering /health"
        sleep 0.1
    done
    fail "stepbox serve did not answer /health within 10 s"
}

# On exit: stop a server still running (quietly) and remove $work.
cleanup() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    rm -rf "$work"
}

# SIGTERM, then wait: the server shuts down cleanly.
stop_server() {
    if [ -n "$server_pid" ] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid"
        wait "$server_pid" || fail "stepbox serve exited with status $? after SIGTERM"
    fi
    server_pid=
}

# wait_for_execution ARN: poll DescribeExecution until it leaves RUNNING; prints the status.
wait_for_execution() {
    local status=RUNNING
    for _ in $(seq 1 300); do
        status=$(aws_local stepfunctions describe-execution --execution-arn "$1" --query status --output text)
        [ "$status" = RUNNING ] || break
        sleep 0.1
    done
    echo "$status"
}

# A test script's failure: its name ($1) and the reason, the server's last
# log lines, and the `test result:` line scripts/test.sh counts.
test_failed() {
    local name=$1
    shift
    echo "$name: $*" >&2
    if [ -f "$work/server.log" ]; then
        echo "--- server log (last 40 lines)" >&2
        tail -n 40 "$work/server.log" >&2
    fi
    echo "test result: FAILED. 0 passed; 1 failed; 0 ignored"
    exit 1
}
