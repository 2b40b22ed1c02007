#!/usr/bin/env bash
# Start a throwaway Redis server: the Celery broker and result backend of the celery executor test.
#
# Installs Debian's `redis-server` package when no server binary is found (needs root or
# passwordless sudo, and the Debian package registry), then starts a server in
# $INFLUENCER_REDIS_DIR (default: $TMPDIR/influencer_pipeline_redis) that listens on 127.0.0.1
# only, on a free port, with a random password, and keeps nothing on disk (no RDB, no AOF).
# Idempotent: a second call reuses the running server.
#
# Prints the settings as `export INFLUENCER_CELERY_...=...` lines (also written to
# $INFLUENCER_REDIS_DIR/env), so `eval "$(scripts/start_test_redis.sh)"` sets them; the celery
# executor config (deploy/celery/celery.yaml) reads them. Stop it with:
# scripts/start_test_redis.sh --stop
set -euo pipefail

REDIS_DIR="${INFLUENCER_REDIS_DIR:-${TMPDIR:-/tmp}/influencer_pipeline_redis}"
ENV_FILE="$REDIS_DIR/env"
CONF_FILE="$REDIS_DIR/redis.conf"
PID_FILE="$REDIS_DIR/redis.pid"
PORT_FILE="$REDIS_DIR/port"
PASSWORD_FILE="$REDIS_DIR/password"

log() { echo "start_test_redis: $*" >&2; }

find_server() {
  command -v redis-server 2>/dev/null && return 0
  [ -x /usr/bin/redis-server ] && { echo /usr/bin/redis-server; return 0; }
  return 1
}

running_pid() {  # the pid of our server if it is alive, else nothing
  local pid
  [ -s "$PID_FILE" ] || return 1
  pid="$(cat "$PID_FILE")"
  kill -0 "$pid" 2>/dev/null || return 1
  echo "$pid"
}

ping() {  # PONG when our server answers
  REDISCLI_AUTH="$(cat "$PASSWORD_FILE")" redis-cli -h 127.0.0.1 -p "$(cat "$PORT_FILE")" \
    ping 2>/dev/null || true
}

if [ "${1:-}" = "--stop" ]; then
  if pid="$(running_pid)"; then
    kill "$pid" 2>/dev/null || true
    for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    log "stopped the server (pid $pid)"
  fi
  exit 0
fi

SUDO=()
CAN_INSTALL=1
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
    SUDO=(sudo)
  else
    CAN_INSTALL=0
  fi
fi

SERVER="$(find_server || true)"
if [ -z "$SERVER" ]; then
  if [ "$CAN_INSTALL" = 0 ] || ! command -v apt-get >/dev/null 2>&1; then
    log "error: Redis is not installed and cannot be installed here (needs apt-get and root)."
    log "install it with: apt-get install -y --no-install-recommends redis-server"
    exit 1
  fi
  log "installing Debian's redis-server package ..."
  "${SUDO[@]}" apt-get update -qq >&2
  "${SUDO[@]}" env DEBIAN_FRONTEND=noninteractive \
    apt-get install -y -qq --no-install-recommends redis-server >&2
  SERVER="$(find_server)" || { log "error: redis-server installed but not found"; exit 1; }
fi
command -v redis-cli >/dev/null 2>&1 || { log "error: redis-cli not found (Debian: redis-tools)"; exit 1; }

mkdir -p "$REDIS_DIR"
chmod 700 "$REDIS_DIR"

if running_pid >/dev/null && [ -s "$ENV_FILE" ] && [ "$(ping)" = "PONG" ]; then
  log "reusing the running server"
  cat "$ENV_FILE"
  exit 0
fi
if pid="$(running_pid)"; then kill "$pid" 2>/dev/null || true; sleep 0.5; fi  # settings lost

free_port() {  # a port the kernel says is free; 56379 when there is no Python to ask
  local python
  python="$(command -v python3 || command -v python || true)"
  if [ -z "$python" ]; then echo 56379; return 0; fi
  "$python" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

PORT="${INFLUENCER_REDIS_PORT:-$(free_port)}"
if [ ! -s "$PASSWORD_FILE" ]; then
  (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$PASSWORD_FILE")
fi
PASSWORD="$(cat "$PASSWORD_FILE")"
echo "$PORT" >"$PORT_FILE"
# the password goes in a config file (mode 600), not on the command line where `ps` shows it
(umask 077 && cat >"$CONF_FILE" <<EOF
bind 127.0.0.1
port $PORT
protected-mode yes
requirepass $PASSWORD
daemonize yes
pidfile $PID_FILE
dir $REDIS_DIR
logfile $REDIS_DIR/server.log
save ""
appendonly no
EOF
)
"$SERVER" "$CONF_FILE" >&2
for _ in $(seq 100); do
  [ "$(ping)" = "PONG" ] && break
  sleep 0.1
done
if [ "$(ping)" != "PONG" ]; then
  log "error: the server did not answer on 127.0.0.1:$PORT (see $REDIS_DIR/server.log)"
  exit 1
fi

(umask 077 && cat >"$ENV_FILE" <<EOF
export INFLUENCER_CELERY_BROKER=redis://:$PASSWORD@127.0.0.1:$PORT/0
export INFLUENCER_CELERY_BACKEND=redis://:$PASSWORD@127.0.0.1:$PORT/1
EOF
)
log "$("$SERVER" --version | cut -d' ' -f1-3) on 127.0.0.1:$PORT (folder: $REDIS_DIR)"
cat "$ENV_FILE"
