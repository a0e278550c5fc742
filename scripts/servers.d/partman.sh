# scripts/servers.d/partman.sh: makes the pg_partman 4.7 extension available to the test PostgreSQL server.
# ScaleOps.Partitioning compares its partition names and bounds with pg_partman's in a test, and its benchmark times
# pg_partman's run_maintenance on the same table. pg_partman 4.7 runs without its background worker, so nothing is
# added to shared_preload_libraries: installing the Debian package is enough (CREATE EXTENSION does the rest).
# Sourced by scripts/servers.sh; installs only when the extension files are missing (idempotent).
SERVERS+=(partman)

partman_installed() {
  local bindir sharedir
  bindir=$(pg_bindir) || return 1
  sharedir=$("$bindir/pg_config" --sharedir 2>/dev/null || echo /usr/share/postgresql/15)
  [ -f "$sharedir/extension/pg_partman.control" ] || [ -f /usr/share/postgresql/15/extension/pg_partman.control ]
}

# There is no process of its own: "running" means "available in the running postgres", so the status line (which
# scripts/test.sh reads) shows the postgres PID. stop_partman only forgets it and never signals anything.
start_partman() {
  if ! partman_installed; then
    apt_install postgresql-15-partman
    partman_installed || die "pg_partman is still missing after installing postgresql-15-partman"
  fi
  if pid_alive "$state/postgres.pid"; then
    cp "$state/postgres.pid" "$state/partman.pid"
    cp "$state/postgres.port" "$state/partman.port"
  fi
}

stop_partman() { rm -f "$state/partman.pid" "$state/partman.port"; }

env_partman() { return 0; }
