#!/usr/bin/env bash
# Installs the Debian packages flick needs, skipping what is already present. Idempotent;
# safe to run on every `make run` / `make test`.
#   scripts/deps.sh        what building, serving, the test suites and the benchmarks need
#   scripts/deps.sh run    only what building and serving need (`make run`)
set -euo pipefail
scope=${1:-all}

packages=(
  build-essential pkg-config ca-certificates curl procps
  libevent-dev libpq-dev libhiredis-dev libjansson-dev libsodium-dev libcurl4-openssl-dev
  libwebp-dev webp libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libfreetype-dev fonts-dejavu-core libunistring-dev
  postgresql-15 postgresql-client-15 redis-server redis-tools
)
[ "$scope" = run ] || packages+=(libcriterion-dev python3 wrk docker-compose chromium)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
# Node.js and npm run the OpenAPI lint and the browser suite. Any installation will do (a
# bare Debian 12 has Node 18, which the pinned tools support; NodeSource's nodejs carries its
# own npm and conflicts with Debian's), so look for the commands rather than the packages.
if [ "$scope" != run ]; then
  command -v node >/dev/null 2>&1 || missing+=(nodejs)
  command -v npm >/dev/null 2>&1 || missing+=(npm)
fi

if [ ${#missing[@]} -gt 0 ]; then
  echo "deps: installing ${missing[*]}" >&2
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  export DEBIAN_FRONTEND=noninteractive
  # The package server must not start the distribution's own PostgreSQL cluster: flick runs its own.
  if [ ! -e /etc/postgresql-common/createcluster.conf ] || ! grep -q '^create_main_cluster *= *false' /etc/postgresql-common/createcluster.conf; then
    $sudo mkdir -p /etc/postgresql-common
    echo 'create_main_cluster = false' | $sudo tee -a /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $sudo apt-get update -qq
  $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# The npm tools exactly as package-lock.json pins them: `npm ci` when node_modules is
# missing or was installed from another lock file (a stamp holds the lock's hash). Install
# scripts are not run: none of the pinned tools needs one.
[ "$scope" = run ] && exit 0
cd "$(dirname "$0")/.."
lock_hash=$(sha256sum package-lock.json | cut -d' ' -f1)
stamp=node_modules/.flick-lock-sha256
if [ "$(cat "$stamp" 2>/dev/null)" != "$lock_hash" ]; then
  echo "deps: npm ci (node_modules is missing or older than package-lock.json)" >&2
  npm ci --ignore-scripts --no-audit --no-fund --loglevel=error >&2
  echo "$lock_hash" > "$stamp"
fi
