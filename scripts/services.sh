#!/usr/bin/env bash
# Installs (from Debian packages) and starts private PostgreSQL and Redis servers on loopback for
# Apex's scale-out mode and its test suites. Each server gets its own data directory and port, so
# nothing collides with a system-wide installation.
#
#   scripts/services.sh start   install if missing and start both
#   scripts/services.sh stop    stop both
#   scripts/services.sh env     print the settings as APEX__ environment variables
#
# Settings: APEX_SERVICES_DIR (default /tmp/apex-services), APEX_PG_PORT (55432),
# APEX_REDIS_PORT (56379). A password for the `apex` database role is generated on first start and
# kept in $APEX_SERVICES_DIR/pg-password (mode 0600).
set -euo pipefail

dir=${APEX_SERVICES_DIR:-/tmp/apex-services}
pg_port=${APEX_PG_PORT:-55432}
redis_port=${APEX_REDIS_PORT:-56379}
pg_data="$dir/pg"
redis_dir="$dir/redis"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_missing() {
  local missing=()
  ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || missing+=(postgresql)
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get -o DPkg::Lock::Timeout=600 update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq "${missing[@]}" >/dev/null
  fi
}

pg_bin() { ls -d /usr/lib/postgresql/*/bin | sort -V | tail -n 1; }

# PostgreSQL refuses to run as root: run its tools as the `postgres` system user.
as_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }

pg_password() { cat "$dir/pg-password"; }

start_pg() {
  local bin; bin=$(pg_bin)
  mkdir -p "$dir"
  if [ ! -f "$dir/pg-password" ]; then
    (umask 077; head -c 24 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' > "$dir/pg-password")
  fi
  if [ ! -f "$pg_data/PG_VERSION" ]; then
    mkdir -p "$pg_data"
    [ "$(id -u)" = 0 ] && chown postgres:postgres "$pg_data"
    as_pg "$bin/initdb" -D "$pg_data" -U postgres --auth-local=peer --auth-host=scram-sha-256 >/dev/null
  fi
  if ! as_pg "$bin/pg_ctl" -D "$pg_data" status >/dev/null 2>&1; then
    as_pg "$bin/pg_ctl" -D "$pg_data" -w -t 60 -l "$pg_data/server.log" \
      -o "-p $pg_port -c listen_addresses=127.0.0.1 -k $pg_data -c max_connections=300 -c fsync=off" start >/dev/null
  fi
  local pw; pw=$(pg_password)
  as_pg "$bin/psql" -h "$pg_data" -p "$pg_port" -U postgres -qtAc \
    "DO \$\$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname='apex') THEN CREATE ROLE apex LOGIN CREATEDB PASSWORD '$pw'; ELSE ALTER ROLE apex PASSWORD '$pw'; END IF; END \$\$;" >/dev/null
  as_pg "$bin/psql" -h "$pg_data" -p "$pg_port" -U postgres -qtAc "SELECT 1 FROM pg_database WHERE datname='apex'" | grep -q 1 \
    || as_pg "$bin/psql" -h "$pg_data" -p "$pg_port" -U postgres -qc "CREATE DATABASE apex OWNER apex" >/dev/null
}

stop_pg() {
  [ -f "$pg_data/PG_VERSION" ] || return 0
  as_pg "$(pg_bin)/pg_ctl" -D "$pg_data" -m fast stop >/dev/null 2>&1 || true
}

start_redis() {
  mkdir -p "$redis_dir"
  if ! redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1; then
    redis-server --bind 127.0.0.1 --port "$redis_port" --dir "$redis_dir" --save '' --appendonly no \
      --daemonize yes --pidfile "$redis_dir/redis.pid" --logfile "$redis_dir/redis.log"
    for _ in $(seq 1 50); do redis-cli -h 127.0.0.1 -p "$redis_port" ping >/dev/null 2>&1 && break; sleep 0.1; done
  fi
}

stop_redis() { redis-cli -h 127.0.0.1 -p "$redis_port" shutdown nosave >/dev/null 2>&1 || true; }

print_env() {
  echo "APEX__Database__Provider=Postgres"
  echo "APEX__Database__ConnectionString=Host=127.0.0.1;Port=$pg_port;Database=apex;Username=apex;Password=$(pg_password)"
  echo "APEX__Broker__Provider=Redis"
  echo "APEX__Redis__Configuration=127.0.0.1:$redis_port"
}

case "${1:-start}" in
  start)
    install_missing; start_pg; start_redis
    echo "PostgreSQL on 127.0.0.1:$pg_port (database and role 'apex', password in $dir/pg-password)"
    echo "Redis on 127.0.0.1:$redis_port"
    echo "Settings for Apex: $0 env" ;;
  stop) stop_redis; stop_pg ;;
  env) print_env ;;
  *) echo "usage: $0 start|stop|env" >&2; exit 2 ;;
esac
