#!/usr/bin/env bash
# Starts, stops and reports the private PostgreSQL 15 cluster and Redis server that flick
# runs against, both on loopback under $FLICK_VAR (default ./var). Safe to call twice.
#   scripts/services.sh up|down|status|env|pg-start|pg-stop|redis-start|redis-stop
# Environment: FLICK_VAR, FLICK_PG_PORT (15432), FLICK_REDIS_PORT (16379).
set -euo pipefail

cd "$(dirname "$0")/.."
VAR=${FLICK_VAR:-./var}
mkdir -p "$VAR"
VAR=$(cd "$VAR" && pwd)
PG_PORT=${FLICK_PG_PORT:-15432}
REDIS_PORT=${FLICK_REDIS_PORT:-16379}
PG_BIN=/usr/lib/postgresql/15/bin
PG_USER=flick
PG_DB=flick
REDIS_DIR="$VAR/redis"

as_root=0
[ "$(id -u)" -eq 0 ] && as_root=1

# As root the server runs as the unprivileged `postgres` user, which may not be able to
# reach ./var (a clone under a private temporary folder, say). Then the cluster lives in a
# folder of its own, and ./var/pg links to it.
pg_dir() {
  if [ -L "$VAR/pg" ] || [ -d "$VAR/pg" ]; then
    readlink -f "$VAR/pg"; return
  fi
  if [ $as_root -eq 1 ] && ! runuser -u postgres -- test -x "$VAR" 2>/dev/null; then
    local home
    home="/var/tmp/flick-$(printf '%s' "$VAR" | sha256sum | cut -c1-16)"
    mkdir -p "$home/pg"
    ln -sfn "$home/pg" "$VAR/pg"
  else
    mkdir -p "$VAR/pg"
  fi
  readlink -f "$VAR/pg"
}

pg_run() {  # runs a PostgreSQL server program as the cluster's owner
  if [ $as_root -eq 1 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

pg_ready() { "$PG_BIN/pg_isready" -q -h 127.0.0.1 -p "$PG_PORT" -d postgres -U "$PG_USER"; }
redis_ready() { [ "$(redis-cli -h 127.0.0.1 -p "$REDIS_PORT" ping 2>/dev/null)" = PONG ]; }

pg_start() {
  local dir; dir=$(pg_dir)
  if [ ! -f "$dir/PG_VERSION" ]; then
    [ $as_root -eq 1 ] && chown postgres: "$dir"
    chmod 700 "$dir"
    pg_run "$PG_BIN/initdb" -D "$dir" -U "$PG_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    local extra=""
    # Throw-away test clusters trade durability for speed; the `make run` cluster never does.
    if [ "${FLICK_PG_FAST:-0}" = 1 ]; then
      extra=$'fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n'
    fi
    cat >> "$dir/postgresql.conf" <<CONF
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$dir'
max_connections = 200
$extra
CONF
  fi
  if ! pg_ready; then
    pg_run "$PG_BIN/pg_ctl" -D "$dir" -l "$dir/server.log" -w -t 30 start >/dev/null ||
      { echo "services: PostgreSQL did not start; see $dir/server.log" >&2; tail -5 "$dir/server.log" >&2; exit 1; }
  fi
  for _ in $(seq 1 100); do pg_ready && break; sleep 0.1; done
  pg_ready || { echo "services: PostgreSQL is not answering on port $PG_PORT" >&2; exit 1; }
  if ! psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -tAc \
       "SELECT 1 FROM pg_database WHERE datname = '$PG_DB'" | grep -q 1; then
    psql -h 127.0.0.1 -p "$PG_PORT" -U "$PG_USER" -d postgres -qc "CREATE DATABASE $PG_DB" >/dev/null
  fi
}

pg_stop() {
  local dir; dir=$(pg_dir)
  [ -f "$dir/postmaster.pid" ] || return 0
  pg_run "$PG_BIN/pg_ctl" -D "$dir" -m fast -w stop >/dev/null 2>&1 || true
}

redis_start() {
  mkdir -p "$REDIS_DIR"
  redis_ready && return 0
  redis-server --port "$REDIS_PORT" --bind 127.0.0.1 --save '' --appendonly no \
    --daemonize yes --pidfile "$REDIS_DIR/redis.pid" --dir "$REDIS_DIR" \
    --logfile "$REDIS_DIR/redis.log" >/dev/null
  for _ in $(seq 1 100); do redis_ready && return 0; sleep 0.05; done
  echo "services: Redis is not answering on port $REDIS_PORT; see $REDIS_DIR/redis.log" >&2
  exit 1
}

redis_stop() {
  redis_ready || return 0
  redis-cli -h 127.0.0.1 -p "$REDIS_PORT" shutdown nosave >/dev/null 2>&1 || true
  for _ in $(seq 1 50); do redis_ready || return 0; sleep 0.05; done
}

print_env() {
  echo "FLICK_DATABASE_URL=postgresql://$PG_USER@127.0.0.1:$PG_PORT/$PG_DB"
  echo "FLICK_REDIS_URL=redis://127.0.0.1:$REDIS_PORT/0"
}

case "${1:-}" in
  up) pg_start; redis_start ;;
  down) redis_stop; pg_stop ;;
  status)
    pg_ready && echo "postgresql: up (127.0.0.1:$PG_PORT)" || echo "postgresql: down"
    redis_ready && echo "redis: up (127.0.0.1:$REDIS_PORT)" || echo "redis: down" ;;
  env) print_env ;;
  pg-start) pg_start ;;
  pg-stop) pg_stop ;;
  redis-start) redis_start ;;
  redis-stop) redis_stop ;;
  *) echo "usage: $0 up|down|status|env|pg-start|pg-stop|redis-start|redis-stop" >&2; exit 2 ;;
esac
