#!/usr/bin/env bash
# Make sure the services proxbox-mq needs run on this machine: Redis, RabbitMQ,
# PostgreSQL. Checks first, starts what is stopped, installs (apt-get) what is
# missing. Fails loudly, naming the service, when one cannot be brought up.
# Usage: scripts/services.sh [redis] [rabbitmq] [postgresql]   (default: all three)
set -euo pipefail

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; fi
fi

say() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

port_open() { (exec 3<>"/dev/tcp/127.0.0.1/$1") >/dev/null 2>&1; }

wait_port() {  # name port seconds
  local i
  for ((i = 0; i < $3 * 5; i++)); do
    port_open "$2" && return 0
    sleep 0.2
  done
  die "$1 did not open 127.0.0.1:$2 within $3 s"
}

apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "$* missing and apt-get not available: install it by hand"
  say "installing $* with apt-get"
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get update -qq
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}

ensure_redis() {
  if port_open 6379; then say "redis: running on 6379"; return; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  say "redis: starting"
  $SUDO mkdir -p /var/lib/redis /var/log/redis
  $SUDO redis-server --daemonize yes --bind 127.0.0.1 -::1 --port 6379 --save "" \
    --appendonly no --dir /var/lib/redis --logfile /var/log/redis/ci.log
  wait_port redis 6379 20
}

ensure_rabbitmq() {
  if port_open 5672; then say "rabbitmq: running on 5672"; return; fi
  command -v rabbitmq-server >/dev/null 2>&1 || apt_install rabbitmq-server
  say "rabbitmq: starting (takes 5-15 s)"
  $SUDO rabbitmq-server -detached >/dev/null 2>&1 || true
  wait_port rabbitmq 5672 90
}

ensure_postgresql() {
  if port_open 5432; then say "postgresql: running on 5432"; return; fi
  if ! ls /etc/postgresql/*/main >/dev/null 2>&1; then apt_install postgresql; fi
  local version
  version=$(ls /etc/postgresql | sort -V | tail -n 1)
  say "postgresql $version: starting"
  $SUDO pg_ctlcluster --skip-systemctl-redirect "$version" main start || true
  wait_port postgresql 5432 60
  # The tests connect as postgres over TCP without a password (trust on loopback).
  if ! psql -h 127.0.0.1 -U postgres -c 'select 1' >/dev/null 2>&1; then
    die "postgresql runs but 'psql -h 127.0.0.1 -U postgres' is refused: allow trust for 127.0.0.1 in pg_hba.conf (or set PROXBOX_TEST_POSTGRES_URL)"
  fi
}

services=("$@")
[ ${#services[@]} -eq 0 ] && services=(redis rabbitmq postgresql)
for service in "${services[@]}"; do
  case "$service" in
    redis) ensure_redis ;;
    rabbitmq) ensure_rabbitmq ;;
    postgresql) ensure_postgresql ;;
    *) die "unknown service '$service' (redis, rabbitmq, postgresql)" ;;
  esac
done
