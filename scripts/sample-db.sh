#!/usr/bin/env bash
# Creates (or re-creates with --fresh) a database for the sample host, owned by the NOSUPERUSER NOBYPASSRLS role
# scaleops_app so that row-level security applies to it, on the PostgreSQL started by scripts/servers.sh.
# Prints the connection string for ConnectionStrings__Postgres.
#   scripts/sample-db.sh [--fresh] [DATABASE]      (default database: scaleops_sample)
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
fresh=0
if [ "${1:-}" = "--fresh" ]; then fresh=1; shift; fi
db="${1:-scaleops_sample}"
role=scaleops_app
case "$db" in (*[!a-z0-9_]*|"") echo "database name must be lowercase letters, digits and _" >&2; exit 2;; esac

envfile="${SCALEOPS_SERVERS_DIR:-$repo/.servers}/servers.env"
[ -f "$envfile" ] || { echo "no servers: run scripts/servers.sh start first" >&2; exit 1; }
port=$(sed -n 's/^SCALEOPS_PG=.*Port=\([0-9]*\).*/\1/p' "$envfile")
[ -n "$port" ] || { echo "PostgreSQL is not running: run scripts/servers.sh start" >&2; exit 1; }
psql_bin="$(pg_config --bindir 2>/dev/null || echo /usr/lib/postgresql/15/bin)/psql"
psql() { PGOPTIONS="-c client_min_messages=warning" "$psql_bin" -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAtv ON_ERROR_STOP=1 "$@"; }

psql -c "DO \$\$ BEGIN CREATE ROLE $role LOGIN NOSUPERUSER NOBYPASSRLS; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END \$\$" >/dev/null
if [ $fresh = 1 ]; then psql -c "DROP DATABASE IF EXISTS $db WITH (FORCE)" >/dev/null; fi
if [ -z "$(psql -c "SELECT 1 FROM pg_database WHERE datname = '$db'")" ]; then
  psql -c "CREATE DATABASE $db OWNER $role" >/dev/null
fi
echo "Host=127.0.0.1;Port=$port;Username=$role;Database=$db"
