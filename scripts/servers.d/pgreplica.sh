# A streaming replica of the shared postgres (pg_basebackup -R), hot standby, for read/write splitting tests.
# Setting: SCALEOPS_PG_REPLICA (superuser connection string of the replica's postgres database).
SERVERS+=(pgreplica)

start_pgreplica() {
  local dir="$state/pgreplica" port pgport bindir
  if pid_alive "$state/pgreplica.pid"; then log "pgreplica already running on port $(cat "$state/pgreplica.port")"; return; fi
  pid_alive "$state/postgres.pid" || die "pgreplica needs postgres: scripts/servers.sh start postgres"
  bindir=$(pg_bindir) || die "PostgreSQL binaries not found (start postgres first)"
  pgport=$(cat "$state/postgres.port")
  port=$(free_port pgreplica 25532)
  mkdir -p "$dir"
  if is_root; then chown "$pg_user" "$dir"; grant_traverse "$dir"; fi
  # A base backup cut short (the script interrupted while pg_basebackup ran, before backups went to data.new) has no
  # pg_control, and pg_controldata below would fail: take a new one.
  if [ -f "$dir/data/PG_VERSION" ] && [ ! -f "$dir/data/global/pg_control" ]; then
    log "pgreplica's data directory is incomplete (an interrupted base backup): taking a new one"
    rm -rf "$dir/data"
  fi
  # A replica made from another primary (the primary's port moved, or it was initialised again) would stream from the
  # wrong server or not at all: take a new base backup.
  local want have
  want="$pgport:$(sysid "$bindir" "$state/postgres/data")"
  have="$(cat "$dir/upstream" 2>/dev/null || true)"
  if [ -f "$dir/data/PG_VERSION" ] && [ "$have" != "$want" ]; then
    log "pgreplica was made from another primary ($have, now $want): taking a new base backup"
    rm -rf "$dir/data"
  fi
  # A replica stopped while its primary went on (another session's benchmarks, a later test run) may need WAL the
  # primary has recycled since: it would start, then wait forever for it ("requested WAL segment ... has already been
  # removed"). Its last restartpoint's segment must still be in the primary's pg_wal (segments go oldest first).
  if [ -f "$dir/data/PG_VERSION" ]; then
    local need oldest
    need=$(as_pg "$bindir/pg_controldata" "$dir/data" 2>/dev/null | awk -F': *' '/REDO WAL file/ {print $2}' || true)
    oldest=$(as_pg ls "$state/postgres/data/pg_wal" 2>/dev/null | grep -E '^[0-9A-F]{24}$' | sort | head -n 1 || true)
    if [ -n "$need" ] && [ -n "$oldest" ] && [[ "$need" < "$oldest" ]]; then
      log "pgreplica needs WAL $need, the primary keeps $oldest and later: taking a new base backup"
      rm -rf "$dir/data"
    fi
  fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    # Into data.new, moved into place once complete: an interrupted backup never passes for a data directory.
    log "pg_basebackup of postgres :$pgport into $dir/data"
    rm -rf "$dir/data.new"
    as_pg "$bindir/pg_basebackup" -h 127.0.0.1 -p "$pgport" -U postgres -D "$dir/data.new" -R -X stream -c fast \
      >"$dir/basebackup.log" 2>&1 || die "pg_basebackup failed: $(tail -n 5 "$dir/basebackup.log")"
    mv "$dir/data.new" "$dir/data"
    echo "$want" >"$dir/upstream"
  fi
  sed -i "/^port = /d" "$dir/data/postgresql.conf"
  printf 'port = %s\nhot_standby = on\nhot_standby_feedback = on\n' "$port" >>"$dir/data/postgresql.conf"
  log "starting pgreplica (hot standby) on 127.0.0.1:$port"
  as_pg "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgres.log" -w -t 120 start >/dev/null \
    || die "pgreplica did not start: $(tail -n 20 "$dir/postgres.log")"
  head -n 1 "$dir/data/postmaster.pid" >"$state/pgreplica.pid"
}

sysid() { # bindir datadir: the cluster's system identifier
  as_pg "$1/pg_controldata" "$2" 2>/dev/null | awk -F': *' '/system identifier/ {print $2}'
}

stop_pgreplica() { stop_pid "$state/pgreplica.pid" pgreplica INT; }

env_pgreplica() {
  [ -f "$state/pgreplica.port" ] && pid_alive "$state/pgreplica.pid" && \
    echo "SCALEOPS_PG_REPLICA=Host=127.0.0.1;Port=$(cat "$state/pgreplica.port");Username=postgres;Database=postgres"
  return 0
}
