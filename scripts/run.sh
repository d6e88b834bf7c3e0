#!/usr/bin/env bash
# `make run`: starts the local PostgreSQL and Redis, migrates, seeds the demo admin (prints
# its token and an invite code) and, the first time, the demo posts, and serves the API in
# the foreground (Ctrl-C stops it; the databases keep running: `scripts/services.sh down`
# stops them).
set -euo pipefail
cd "$(dirname "$0")/.."

bash scripts/services.sh up
eval "$(bash scripts/services.sh env | sed 's/^/export /')"
export FLICK_DATA_DIR=${FLICK_DATA_DIR:-./var/data}
mkdir -p "$FLICK_DATA_DIR"

build/flickd migrate
echo "----------------------------------------------------------------"
build/flickd seed
echo "API: http://${FLICK_LISTEN:-127.0.0.1:8080}/v1   (try: curl -H \"Authorization: Bearer <admin token>\" http://${FLICK_LISTEN:-127.0.0.1:8080}/v1/me)"
echo "----------------------------------------------------------------"
exec build/flickd all
