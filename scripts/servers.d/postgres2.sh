# A second, independent PostgreSQL primary (same settings as postgres), for tenant placement (shard) tests.
# Setting: SCALEOPS_PG2 (superuser connection string of its postgres database).
SERVERS+=(postgres2)

start_postgres2() {
  local dir="$state/postgres2" port bindir
  if pid_alive "$state/postgres2.pid"; then log "postgres2 already running on port $(cat "$state/postgres2.port")"; return; fi
  bindir=$(pg_bindir) || die "PostgreSQL binaries not found (start postgres first)"
  mkdir -p "$dir"
  if is_root; then chown "$pg_user" "$dir"; grant_traverse "$dir"; fi
  port=$(free_port postgres2 25632)
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    # Built in data.new and moved into place once configured, as the main server's.
    log "initdb in $dir/data"
    rm -rf "$dir/data.new"
    as_pg "$bindir/initdb" -D "$dir/data.new" -U postgres --auth=trust -E UTF8 --no-locale --no-sync >"$dir/initdb.log" 2>&1 \
      || die "initdb failed: $(tail -n 5 "$dir/initdb.log")"
    printf "\nlisten_addresses = '127.0.0.1'\nunix_socket_directories = ''\nmax_connections = 200\njit = off\nlog_min_messages = warning\n" \
      >>"$dir/data.new/postgresql.conf"
    mv "$dir/data.new" "$dir/data"
  fi
  sed -i "/^port = /d" "$dir/data/postgresql.conf"
  echo "port = $port" >>"$dir/data/postgresql.conf"
  log "starting postgres2 on 127.0.0.1:$port"
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 start >/dev/null \
    || die "postgres2 did not start: $(tail -n 20 "$dir/postgres.log")"
  head -n 1 "$dir/data/postmaster.pid" >"$state/postgres2.pid"
}

stop_postgres2() { stop_pid "$state/postgres2.pid" postgres2 INT; }

env_postgres2() {
  [ -f "$state/postgres2.port" ] && pid_alive "$state/postgres2.pid" && \
    echo "SCALEOPS_PG2=Host=127.0.0.1;Port=$(cat "$state/postgres2.port");Username=postgres;Database=postgres"
  return 0
}
