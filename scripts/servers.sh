#!/usr/bin/env bash
# Starts and stops the throwaway servers that the tests, benchmarks and demo use, on free loopback ports.
#
#   scripts/servers.sh start [NAME...|all]  start (or reuse) the servers; default all
#   scripts/servers.sh stop  [NAME...|all]  stop them by the PID this script recorded
#   scripts/servers.sh restart NAME         stop, then start on the same port
#   scripts/servers.sh status               what runs where
#   scripts/servers.sh env                  print the connection settings (KEY=value lines)
#
# State, data and logs live in $SCALEOPS_SERVERS_DIR (default: .servers/ in the repository, ignored by git).
# Connection settings are written to $SCALEOPS_SERVERS_DIR/servers.env, which the test fixtures read.
# Missing server software is installed from Debian (apt) or npm when the script runs as root.
# Every server listens on 127.0.0.1 only. Nothing is ever stopped by name: only by the PID recorded here.
# Servers: postgres, redis, azurite, plus one per file in scripts/servers.d/*.sh. Such a file appends its name to
# SERVERS and defines start_NAME, stop_NAME and env_NAME (prints KEY=value lines for servers.env); it may use the
# helpers below (free_port, pid_alive, stop_pid, wait_port, apt_install, as_pg, pg_bindir).
set -euo pipefail

repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
state="${SCALEOPS_SERVERS_DIR:-$repo/.servers}"
envfile="$state/servers.env"
pg_user="${SCALEOPS_PG_OS_USER:-scaleops-pg}"
azurite_version="3.35.0"
mkdir -p "$state"

log() { printf '[servers] %s\n' "$*" >&2; }
die() { printf '[servers] error: %s\n' "$*" >&2; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

port_in_use() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }

# free_port NAME DEFAULT: the port recorded for NAME if it is still free (a restart keeps its port), else the first
# free port from DEFAULT upwards (another checkout's servers may have taken the recorded one meanwhile).
# The defaults (25432 PostgreSQL, 26379 Redis, 17001+ the Redis Cluster with its bus ports at 27001+, ...) lie below
# Linux's ephemeral range (32768-60999): a port in that range can be taken at any moment as the local port of an
# outgoing connection (the tests open thousands), and a server restarted on it (the demo restarts Redis) or started
# just after the check then fails to bind while nothing listens there. Redis also retries on another port.
free_port() {
  local name=$1 p=$2
  if [ -f "$state/$name.port" ] && ! port_in_use "$(cat "$state/$name.port")"; then cat "$state/$name.port"; return; fi
  while port_in_use "$p"; do p=$((p + 1)); done
  echo "$p" >"$state/$name.port"
  echo "$p"
}

pid_alive() { [ -f "$1" ] && kill -0 "$(cat "$1")" 2>/dev/null; }

wait_port() {
  local port=$1 what=$2 tries=${3:-600}
  for _ in $(seq 1 "$tries"); do port_in_use "$port" && return 0; sleep 0.1; done
  die "$what did not open 127.0.0.1:$port in time (see $state/$what.log)"
}

stop_pid() {
  local pidfile=$1 what=$2 signal=${3:-TERM}
  if ! pid_alive "$pidfile"; then rm -f "$pidfile"; return 0; fi
  local pid; pid=$(cat "$pidfile")
  log "stopping $what (pid $pid)"
  kill "-$signal" "$pid" 2>/dev/null || true
  for _ in $(seq 1 300); do kill -0 "$pid" 2>/dev/null || { rm -f "$pidfile"; return 0; }; sleep 0.1; done
  log "$what did not stop in 30 s; sending KILL to pid $pid"
  kill -KILL "$pid" 2>/dev/null || true
  rm -f "$pidfile"
}

apt_install() {
  is_root || die "missing $*; install it: sudo apt-get install -y $*"
  log "installing $* (apt)"
  # Keep Debian's maintainer scripts from starting a system-wide instance on the default port.
  local policy=/usr/sbin/policy-rc.d created=0
  if [ ! -e "$policy" ]; then printf '#!/bin/sh\nexit 101\n' >"$policy"; chmod +x "$policy"; created=1; fi
  if [ ! -f "$state/.apt-updated" ]; then apt-get update -qq >/dev/null && touch "$state/.apt-updated"; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
  [ $created = 1 ] && rm -f "$policy"
  return 0
}

SERVERS=(postgres redis azurite)

write_env() {
  local tmp="$envfile.tmp" s
  : >"$tmp"
  [ -f "$state/postgres.port" ] && pid_alive "$state/postgres.pid" && \
    echo "SCALEOPS_PG=Host=127.0.0.1;Port=$(cat "$state/postgres.port");Username=postgres;Database=postgres" >>"$tmp"
  [ -f "$state/redis.port" ] && pid_alive "$state/redis.pid" && \
    echo "SCALEOPS_REDIS=127.0.0.1:$(cat "$state/redis.port")" >>"$tmp"
  if [ -f "$state/azurite.port" ] && pid_alive "$state/azurite.pid"; then
    local key="Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
    echo "SCALEOPS_BLOB=DefaultEndpointsProtocol=http;AccountName=devstoreaccount1;AccountKey=$key;BlobEndpoint=http://127.0.0.1:$(cat "$state/azurite.port")/devstoreaccount1;" >>"$tmp"
  fi
  for s in "${SERVERS[@]:3}"; do "env_$s" >>"$tmp"; done
  mv "$tmp" "$envfile"
}

# ---------------------------------------------------------------- PostgreSQL 15
pg_bindir() {
  local d
  if command -v pg_config >/dev/null 2>&1; then
    d=$(pg_config --bindir)
    [ -x "$d/postgres" ] && { echo "$d"; return; }
  fi
  [ -x /usr/lib/postgresql/15/bin/postgres ] && { echo /usr/lib/postgresql/15/bin; return; }
  return 1
}

as_pg() {
  if is_root; then runuser -u "$pg_user" -- "$@"; else "$@"; fi
}

# The PostgreSQL OS user must be able to reach the data folder: grant traverse (x) on the parents that lack it.
grant_traverse() {
  local d=$1
  while [ "$d" != "/" ]; do
    if ! runuser -u "$pg_user" -- test -x "$d" 2>/dev/null; then chmod o+x "$d"; fi
    d=$(dirname "$d")
  done
}

start_postgres() {
  local dir="$state/postgres" bindir port
  if pid_alive "$state/postgres.pid"; then log "postgres already running on port $(cat "$state/postgres.port")"; return; fi
  bindir=$(pg_bindir) || { apt_install postgresql-15 postgresql-contrib; bindir=$(pg_bindir) || die "PostgreSQL 15 server binaries not found"; }
  if is_root && ! id "$pg_user" >/dev/null 2>&1; then
    log "creating system user $pg_user (initdb refuses to run as root)"
    useradd --system --no-create-home --shell /usr/sbin/nologin "$pg_user"
  fi
  mkdir -p "$dir"
  if is_root; then chown "$pg_user" "$dir"; grant_traverse "$dir"; fi
  port=$(free_port postgres 25432)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    # Built in data.new and moved into place once configured: an interrupted initdb never passes for a data directory.
    log "initdb in $dir/data"
    rm -rf "$dir/data.new"
    as_pg "$bindir/initdb" -D "$dir/data.new" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    cat >>"$dir/data.new/postgresql.conf" <<EOF

# ScaleOps throwaway server (scripts/servers.sh)
listen_addresses = '127.0.0.1'
unix_socket_directories = ''
max_connections = 400
shared_buffers = 256MB
shared_preload_libraries = 'pg_stat_statements'
fsync = on
synchronous_commit = on
full_page_writes = on
max_wal_size = 2GB
checkpoint_timeout = 15min
max_locks_per_transaction = 256
wal_level = replica
max_wal_senders = 10
jit = off
log_min_messages = warning
log_destination = 'stderr'
EOF
    printf 'host replication all 127.0.0.1/32 trust\n' >>"$dir/data.new/pg_hba.conf"
    mv "$dir/data.new" "$dir/data"
  fi
  # Keep 1 GB of WAL for the streaming replica (scripts/servers.d/pgreplica.sh): a test that cuts it off for a while
  # while other test classes write must not leave it asking for a removed segment.
  sed -i -e "/^port = /d" -e "/^wal_keep_size = /d" "$dir/data/postgresql.conf"
  printf 'port = %s\nwal_keep_size = 1GB\n' "$port" >>"$dir/data/postgresql.conf"
  log "starting postgres on 127.0.0.1:$port"
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 start >/dev/null \
    || die "postgres did not start: $(tail -n 20 "$dir/postgres.log")"
  head -n 1 "$dir/data/postmaster.pid" >"$state/postgres.pid"
  as_pg "$bindir/psql" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAtc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null
}

stop_postgres() { stop_pid "$state/postgres.pid" postgres INT; }

# ---------------------------------------------------------------- Redis 7
start_redis() {
  local dir="$state/redis" port
  if pid_alive "$state/redis.pid"; then log "redis already running on port $(cat "$state/redis.port")"; return; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  mkdir -p "$dir"
  # The port is free when chosen, but another process (a test's private server on an ephemeral port, another
  # checkout's scripts) may bind it before redis does: redis then exits at once, and the next free port is tried.
  local from=26379 mark
  for _ in 1 2 3 4 5; do
    port=$(free_port redis "$from")
    log "starting redis on 127.0.0.1:$port"
    mark=$( { wc -c <"$state/redis.log"; } 2>/dev/null || echo 0)
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
      --dir "$dir" --pidfile "$state/redis.pid" --logfile "$state/redis.log" >/dev/null
    for _ in $(seq 1 600); do
      if port_in_use "$port" && [ -s "$state/redis.pid" ] && pid_alive "$state/redis.pid"; then return; fi
      if tail -c +"$((mark + 1))" "$state/redis.log" 2>/dev/null | grep -q "Failed listening on port $port"; then break; fi
      sleep 0.1
    done
    log "redis could not listen on 127.0.0.1:$port (taken meanwhile?); trying another port"
    rm -f "$state/redis.port" "$state/redis.pid"
    from=$((port + 1))
  done
  die "redis did not open a port (see $state/redis.log)"
}

stop_redis() { stop_pid "$state/redis.pid" redis TERM; }

# ---------------------------------------------------------------- Azurite (Blob storage)
start_azurite() {
  local dir="$state/azurite" port bin
  if pid_alive "$state/azurite.pid"; then log "azurite already running on port $(cat "$state/azurite.port")"; return; fi
  bin="$dir/node_modules/azurite/dist/src/blob/main.js"
  if [ ! -f "$bin" ]; then
    command -v npm >/dev/null 2>&1 || apt_install nodejs npm
    log "installing azurite@$azurite_version (npm)"
    mkdir -p "$dir"
    npm install --prefix "$dir" --no-audit --no-fund --loglevel=error "azurite@$azurite_version" >"$dir/npm.log" 2>&1 \
      || die "npm install azurite failed: $(tail -n 5 "$dir/npm.log")"
  fi
  port=$(free_port azurite 10000)
  mkdir -p "$dir/data"
  log "starting azurite (blob) on 127.0.0.1:$port"
  nohup node "$bin" --blobHost 127.0.0.1 --blobPort "$port" --location "$dir/data" --skipApiVersionCheck --loose \
    --silent >"$state/azurite.log" 2>&1 &
  echo $! >"$state/azurite.pid"
  wait_port "$port" azurite
}

stop_azurite() { stop_pid "$state/azurite.pid" azurite TERM; }

# ---------------------------------------------------------------- plug-ins and main
for plugin in "$repo"/scripts/servers.d/*.sh; do
  [ -f "$plugin" ] && . "$plugin"
done

which_servers() { # NAME... (none: all), in the order given
  local name s found out=()
  [ $# -gt 0 ] || set -- all
  for name in "$@"; do
    if [ "$name" = all ]; then echo "${SERVERS[*]}"; return; fi
    found=
    for s in "${SERVERS[@]}"; do [ "$s" = "$name" ] && found=$s; done
    [ -n "$found" ] || die "unknown server '$name' (one of: ${SERVERS[*]}, or all)"
    out+=("$found")
  done
  echo "${out[*]}"
}

cmd="${1:-}"; shift || true
case "$cmd" in
  start)
    servers=$(which_servers "$@") || exit 1
    for s in $servers; do "start_$s"; done
    write_env
    log "connection settings in $envfile"
    ;;
  stop)
    servers=$(which_servers "$@") || exit 1
    for s in $(echo "$servers" | tr ' ' '\n' | tac); do "stop_$s"; done
    write_env
    ;;
  restart)
    [ -n "${1:-}" ] && [ "$1" != all ] || die "restart takes one server: ${SERVERS[*]}"
    which_servers "$1" >/dev/null || exit 1
    "stop_$1"; "start_$1"; write_env
    ;;
  status)
    for s in "${SERVERS[@]}"; do
      if pid_alive "$state/$s.pid"; then echo "$s: running, pid $(cat "$state/$s.pid"), 127.0.0.1:$(cat "$state/$s.port" 2>/dev/null)"
      else echo "$s: stopped"; fi
    done
    ;;
  env)
    write_env; cat "$envfile"
    ;;
  *)
    sed -n '2,16p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
    ;;
esac
