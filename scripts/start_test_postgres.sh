#!/usr/bin/env bash
# Start a throwaway PostgreSQL server for the tests of the PostgreSQL-backed Dagster instance.
#
# Installs Debian's `postgresql` package when no server binaries are found (needs root or
# passwordless sudo, and the Debian package registry), creates a cluster in $INFLUENCER_PG_DIR
# (default: $TMPDIR/influencer_pipeline_pg) listening on 127.0.0.1 only, on a free port, with a
# user that may create databases. Idempotent: a second call reuses the running server.
#
# Prints the connection settings as `export DAGSTER_PG_...=...` lines (also written to
# $INFLUENCER_PG_DIR/env), so `eval "$(scripts/start_test_postgres.sh)"` sets them.
# Stop it with: scripts/start_test_postgres.sh --stop (keeps the cluster; delete $INFLUENCER_PG_DIR
# to throw it away).
set -euo pipefail

PG_DIR="${INFLUENCER_PG_DIR:-${TMPDIR:-/tmp}/influencer_pipeline_pg}"
DATA="$PG_DIR/data"
SOCKET_DIR="$PG_DIR/socket"
ENV_FILE="$PG_DIR/env"
PG_USER="influencer"
PG_DB="influencer_test"

log() { echo "start_test_postgres: $*" >&2; }

find_bindir() {
  local dir
  if command -v pg_config >/dev/null 2>&1; then
    dir="$(pg_config --bindir 2>/dev/null || true)"
    if [ -x "$dir/initdb" ] && [ -x "$dir/pg_ctl" ]; then echo "$dir"; return 0; fi
  fi
  # Debian keeps the server binaries out of PATH, one folder per major version
  dir="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)"
  if [ -n "$dir" ] && [ -x "$dir/initdb" ]; then echo "$dir"; return 0; fi
  return 1
}

SUDO=()
CAN_INSTALL=1
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    CAN_INSTALL=0
  fi
fi

# The server refuses to run as root: as root, run it as Debian's `postgres` system user.
as_server() {
  if [ "$(id -u)" -eq 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

BIN="$(find_bindir || true)"
if [ "${1:-}" = "--stop" ]; then
  if [ -n "$BIN" ] && [ -s "$DATA/PG_VERSION" ]; then
    as_server "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2 || true
  fi
  exit 0
fi
if [ -z "$BIN" ]; then
  if [ "$CAN_INSTALL" = 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "error: PostgreSQL is not installed and cannot be installed here (needs apt-get and root)."
    log "install it with: apt-get install -y --no-install-recommends postgresql"
    exit 1
  fi
  log "installing Debian's postgresql package ..."
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends postgresql >&2
  BIN="$(find_bindir)" || { log "error: postgresql installed but initdb not found"; exit 1; }
fi

if [ "$(id -u)" -eq 0 ]; then
  id postgres >/dev/null 2>&1 || { log "error: no 'postgres' system user"; exit 1; }
  SERVER_OWNER="postgres"
else
  SERVER_OWNER="$(id -un)"
fi

free_port() {  # a port the kernel says is free; 55432 when there is no Python to ask
  local python
  python="$(command -v python3 || command -v python || true)"
  if [ -z "$python" ]; then echo 55432; return 0; fi
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

psql_admin() {
  as_server "$BIN/psql" -h "$SOCKET_DIR" -p "$PORT" -U postgres -d postgres -v ON_ERROR_STOP=1 \
    -qtA "$@"
}

mkdir -p "$PG_DIR"
chmod 700 "$PG_DIR"
mkdir -p "$SOCKET_DIR"
if [ "$(id -u)" -eq 0 ]; then chown -R "$SERVER_OWNER" "$PG_DIR"; fi

if [ ! -s "$DATA/PG_VERSION" ]; then
  log "creating a cluster in $DATA"
  as_server "$BIN/initdb" -D "$DATA" -U postgres --auth-local=trust --auth-host=scram-sha-256 \
    -E UTF8 >/dev/null
fi

if as_server "$BIN/pg_ctl" -D "$DATA" status >/dev/null 2>&1; then
  if [ -s "$ENV_FILE" ]; then
    log "reusing the running server"
    cat "$ENV_FILE"
    exit 0
  fi
  as_server "$BIN/pg_ctl" -D "$DATA" -m fast stop >&2  # settings lost: start afresh
fi

PORT="${INFLUENCER_PG_PORT:-$(free_port)}"
as_server "$BIN/pg_ctl" -D "$DATA" -l "$PG_DIR/server.log" -w -t 60 \
  -o "-p $PORT -k $SOCKET_DIR -c listen_addresses=127.0.0.1" start >&2

PASSWORD_FILE="$PG_DIR/password"
if [ ! -s "$PASSWORD_FILE" ]; then
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
fi
PASSWORD="$(cat "$PASSWORD_FILE")"

if [ "$(psql_admin -c "SELECT 1 FROM pg_roles WHERE rolname = '$PG_USER'")" != "1" ]; then
  psql_admin -c "CREATE ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null
else
  psql_admin -c "ALTER ROLE $PG_USER LOGIN CREATEDB PASSWORD '$PASSWORD'" >/dev/null
fi
if [ "$(psql_admin -c "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'")" != "1" ]; then
  psql_admin -c "CREATE DATABASE $PG_DB OWNER $PG_USER" >/dev/null
fi

(umask 077 && cat >"$ENV_FILE" <<EOF
export DAGSTER_PG_HOST=127.0.0.1
export DAGSTER_PG_PORT=$PORT
export DAGSTER_PG_USERNAME=$PG_USER
export DAGSTER_PG_PASSWORD=$PASSWORD
export DAGSTER_PG_DB=$PG_DB
EOF
)
log "$("$BIN/postgres" --version) on 127.0.0.1:$PORT (data: $DATA)"
cat "$ENV_FILE"
