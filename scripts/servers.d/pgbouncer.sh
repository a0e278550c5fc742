# pgbouncer (Debian package) in transaction pooling mode in front of the shared postgres, for the RLS suite that must
# hold behind a transaction-pooling proxy. Any database name is forwarded; users must be listed in userlist.txt
# (trust auth on loopback): postgres and the fixed test application role scaleops_rls_app.
# Setting: SCALEOPS_PGBOUNCER (an Npgsql connection string without a database; add Database=...).
SERVERS+=(pgbouncer)

pgbouncer_bin() { command -v pgbouncer 2>/dev/null || { [ -x /usr/sbin/pgbouncer ] && echo /usr/sbin/pgbouncer; }; }

start_pgbouncer() {
  local dir="$state/pgbouncer" port pgport bin
  if pid_alive "$state/pgbouncer.pid"; then log "pgbouncer already running on port $(cat "$state/pgbouncer.port")"; return; fi
  pid_alive "$state/postgres.pid" || die "pgbouncer needs postgres: scripts/servers.sh start postgres"
  bin=$(pgbouncer_bin) || { apt_install pgbouncer; bin=$(pgbouncer_bin) || die "pgbouncer not found after install"; }
  pgport=$(cat "$state/postgres.port")
  port=$(free_port pgbouncer 26432)
  mkdir -p "$dir"
  printf '"postgres" ""\n"scaleops_rls_app" ""\n' >"$dir/userlist.txt"
  cat >"$dir/pgbouncer.ini" <<INI
[databases]
* = host=127.0.0.1 port=$pgport

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir =
auth_type = trust
auth_file = $dir/userlist.txt
pool_mode = transaction
max_client_conn = 1000
default_pool_size = 4
max_db_connections = 8
server_reset_query =
ignore_startup_parameters = extra_float_digits,search_path
logfile = $dir/pgbouncer.log
pidfile = $dir/pgbouncer.pid
admin_users = postgres
INI
  if is_root; then chown -R "$pg_user" "$dir"; grant_traverse "$dir"; fi
  rm -f "$dir/pgbouncer.pid"
  log "starting pgbouncer (transaction pooling) on 127.0.0.1:$port -> postgres :$pgport"
  as_pg "$bin" -d "$dir/pgbouncer.ini" >"$dir/start.log" 2>&1 || die "pgbouncer did not start: $(tail -n 5 "$dir/start.log")"
  wait_port "$port" pgbouncer
  for _ in $(seq 1 50); do [ -s "$dir/pgbouncer.pid" ] && break; sleep 0.1; done
  cp "$dir/pgbouncer.pid" "$state/pgbouncer.pid"
}

stop_pgbouncer() { stop_pid "$state/pgbouncer.pid" pgbouncer TERM; }

env_pgbouncer() {
  [ -f "$state/pgbouncer.port" ] && pid_alive "$state/pgbouncer.pid" && \
    echo "SCALEOPS_PGBOUNCER=Host=127.0.0.1;Port=$(cat "$state/pgbouncer.port");Username=postgres;No Reset On Close=true"
  return 0
}
