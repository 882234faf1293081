# A throwaway PostgreSQL server for the tests, sourced by scripts/test.sh
# (and usable alone: `source scripts/lib/postgres.sh && postgres_start`).
#
# postgres_start installs Debian's `postgresql` package if no initdb is
# found (once per machine), creates a cluster in a temporary directory,
# starts it on a free loopback port and exports STEPBOX_TEST_DATABASE_URL
# (the `postgres` database as the `postgres` superuser, trust auth);
# postgres_stop stops it and deletes the directory. PostgreSQL refuses to
# run as root, so as root the server runs as the `postgres` system user
# (the Debian package creates it) in a directory that user owns.
# $STEPBOX_PG_OPTIONS adds server options (`-c fsync=on -c
# full_page_writes=on` for benchmark figures: the tests run without fsync).

source "$(dirname "${BASH_SOURCE[0]}")/apt.sh"

postgres_bin_dir() {
    local dir
    for dir in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
        if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then
            echo "$dir"
            return 0
        fi
    done
    if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
        dirname "$(command -v initdb)"
        return 0
    fi
    return 1
}

postgres_install() {
    apt_install postgresql
}

# Runs a command as the user the server runs as.
postgres_as_owner() {
    if [ "$(id -u)" = 0 ]; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

# A loopback TCP port nothing listens on now.
postgres_free_port() {
    local port
    for _ in $(seq 1 50); do
        port=$((20000 + RANDOM % 40000))
        if ! (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            echo "$port"
            return 0
        fi
    done
    return 1
}

postgres_start() {
    local bin
    bin=$(postgres_bin_dir) || { postgres_install && bin=$(postgres_bin_dir); } || {
        echo "no PostgreSQL server binaries (initdb, pg_ctl) found, even after installing" >&2
        return 1
    }
    # As root, in /tmp: the postgres user must reach it ($TMPDIR may be private).
    local base=${TMPDIR:-/tmp}
    [ "$(id -u)" != 0 ] || base=/tmp
    STEPBOX_PG_DIR=$(mktemp -d "$base/stepbox-pg.XXXXXX")
    STEPBOX_PG_BIN=$bin
    if [ "$(id -u)" = 0 ]; then
        chown postgres: "$STEPBOX_PG_DIR"
    fi
    postgres_as_owner "$bin/initdb" -D "$STEPBOX_PG_DIR/data" -U postgres --auth=trust -E UTF8 --no-sync \
        >"$STEPBOX_PG_DIR/initdb.log" 2>&1 || {
        cat "$STEPBOX_PG_DIR/initdb.log" >&2
        return 1
    }
    # The tests kill stepbox, never the database: fsync buys them nothing.
    local port tries
    for tries in 1 2 3 4 5; do
        port=$(postgres_free_port) || return 1
        if postgres_as_owner "$bin/pg_ctl" -D "$STEPBOX_PG_DIR/data" -l "$STEPBOX_PG_DIR/server.log" -w -t 30 \
            -o "-c listen_addresses=127.0.0.1 -p $port -k $STEPBOX_PG_DIR -c fsync=off -c full_page_writes=off -c max_connections=400 ${STEPBOX_PG_OPTIONS:-}" \
            start >/dev/null; then
            export STEPBOX_TEST_DATABASE_URL="postgres://postgres@127.0.0.1:$port/postgres"
            echo "==> PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:$port (data in $STEPBOX_PG_DIR)"
            return 0
        fi
    done
    cat "$STEPBOX_PG_DIR/server.log" >&2
    return 1
}

postgres_stop() {
    if [ -n "${STEPBOX_PG_DIR:-}" ] && [ -d "$STEPBOX_PG_DIR/data" ]; then
        postgres_as_owner "$STEPBOX_PG_BIN/pg_ctl" -D "$STEPBOX_PG_DIR/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    if [ -n "${STEPBOX_PG_DIR:-}" ]; then
        rm -rf "$STEPBOX_PG_DIR"
    fi
    STEPBOX_PG_DIR=""
}
