#!/usr/bin/env bash
# Installs the Debian packages flick needs to build, run, test and benchmark, skipping what
# is already present. Idempotent; safe to run on every `make run` / `make test`.
set -euo pipefail

packages=(
  build-essential pkg-config ca-certificates curl procps
  libevent-dev libpq-dev libhiredis-dev libjansson-dev libsodium-dev libcurl4-openssl-dev
  libwebp-dev webp libavformat-dev libavcodec-dev libavutil-dev libswscale-dev
  libfreetype-dev fonts-dejavu-core libunistring-dev
  libcriterion-dev
  postgresql-15 postgresql-client-15 redis-server redis-tools
  python3 wrk docker-compose
)

missing=()
for p in "${packages[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = installed ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

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
