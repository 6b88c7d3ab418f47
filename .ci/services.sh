# shellcheck shell=bash
# Install and start what the export and report tests need: a private PostgreSQL 15
# cluster on 127.0.0.1:54329 and headless Chromium (Debian packages, never
# `playwright install`).
#
# Meant to be SOURCED by .ci/run (or by a developer) so the exports reach the caller:
#
#     source .ci/services.sh          # installs if missing, starts PostgreSQL
#     ... run pytest ...
#     cc_services_stop                # stops the private cluster (safe to call twice)
#
# Exports:
#   CUSTOMER_CHUNKS_TEST_PG_URL   postgresql://postgres@127.0.0.1:54329/postgres
#   CUSTOMER_CHUNKS_PG_DIR        the cluster's temporary directory (data, log, socket)
#   CUSTOMER_CHUNKS_CHROMIUM      /usr/bin/chromium when installed
# Run as a program instead (`bash .ci/services.sh`) it does the same and prints the
# export lines, leaving the cluster running; `bash .ci/services.sh stop` stops a cluster
# whose directory is in CUSTOMER_CHUNKS_PG_DIR.
#
# Idempotent: packages already installed are not reinstalled, and a server already
# answering on the port is reused. Needs root (as on the project's machines and CI).

CC_PG_PORT="${CC_PG_PORT:-54329}"

cc_services_log() { echo "[services] $*" >&2; }

cc_services_install() {
    local missing=()
    compgen -G "/usr/lib/postgresql/*/bin/initdb" >/dev/null || missing+=(postgresql)
    [ -x /usr/bin/chromium ] || missing+=(chromium)
    command -v pdftoppm >/dev/null || missing+=(poppler-utils)
    if [ "${#missing[@]}" -eq 0 ]; then
        cc_services_log "packages already installed"
        return 0
    fi
    cc_services_log "installing: ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq || return 1
    apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null || return 1
}

cc_services_pg_bin() {
    # Newest installed major version (the notes measured 15).
    local d
    d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
    [ -n "$d" ] && echo "$d"
}

cc_services_start_pg() {
    local bin dir
    bin=$(cc_services_pg_bin) || { cc_services_log "no PostgreSQL binaries"; return 1; }
    export CUSTOMER_CHUNKS_TEST_PG_URL="postgresql://postgres@127.0.0.1:${CC_PG_PORT}/postgres"
    if "$bin/pg_isready" -q -h 127.0.0.1 -p "$CC_PG_PORT"; then
        cc_services_log "PostgreSQL already answering on 127.0.0.1:${CC_PG_PORT}; reusing it"
        return 0
    fi
    dir=$(mktemp -d /tmp/customer-chunks-pg.XXXXXX) || return 1
    chown -R postgres:postgres "$dir"
    runuser -u postgres -- "$bin/initdb" -D "$dir/data" -U postgres --auth=trust \
        -E UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; return 1; }
    runuser -u postgres -- "$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w \
        -o "-c listen_addresses=127.0.0.1 -p ${CC_PG_PORT} -k $dir -c fsync=off" start \
        >/dev/null || { cat "$dir/log" >&2; return 1; }
    export CUSTOMER_CHUNKS_PG_DIR="$dir"
    cc_services_log "PostgreSQL $("$bin/postgres" --version | awk '{print $3}') on 127.0.0.1:${CC_PG_PORT} ($dir)"
}

cc_services_stop() {
    local bin
    bin=$(cc_services_pg_bin) || return 0
    if [ -n "${CUSTOMER_CHUNKS_PG_DIR:-}" ] && [ -d "$CUSTOMER_CHUNKS_PG_DIR/data" ]; then
        runuser -u postgres -- "$bin/pg_ctl" -D "$CUSTOMER_CHUNKS_PG_DIR/data" -m fast -w stop \
            >/dev/null 2>&1 || true
        rm -rf "$CUSTOMER_CHUNKS_PG_DIR"
        cc_services_log "PostgreSQL stopped"
        unset CUSTOMER_CHUNKS_PG_DIR
    fi
}

cc_services_main() {
    cc_services_install || { cc_services_log "apt-get install failed"; return 1; }
    if [ -x /usr/bin/chromium ]; then
        export CUSTOMER_CHUNKS_CHROMIUM=/usr/bin/chromium
    fi
    cc_services_start_pg || { cc_services_log "PostgreSQL did not start"; return 1; }
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
    # Executed, not sourced.
    set -euo pipefail
    if [ "${1:-}" = "stop" ]; then
        cc_services_stop
        exit 0
    fi
    cc_services_main
    for var in CUSTOMER_CHUNKS_TEST_PG_URL CUSTOMER_CHUNKS_PG_DIR CUSTOMER_CHUNKS_CHROMIUM; do
        if [ -n "${!var:-}" ]; then
            echo "export $var=${!var}"
        fi
    done
else
    cc_services_main
fi
