#!/usr/bin/env bash
# The cost of the pruning CTE in QuotaReserve.sql: pgbench, the reservation statement without it (reserve-before.sql)
# and with it (reserve-with-pruning.sql), interleaved, on a throwaway database of the repository's PostgreSQL
# (scripts/servers.sh start postgres) seeded with 20,000 tenants x 6 daily periods of this month + standing counts
# (nothing old to delete: the steady state). Usage: benchmarks/resilience/quota-reserve/run.sh [pairs] [seconds]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
pairs="${1:-5}"; seconds="${2:-12}"
bin="$(ls -d /usr/lib/postgresql/15/bin)"
"$repo/scripts/servers.sh" start postgres >/dev/null
port="$(grep -E '^SCALEOPS_PG=' "$repo/.servers/servers.env" | sed -E 's/.*Port=([0-9]+).*/\1/')"
psql=("$bin/psql" -h 127.0.0.1 -p "$port" -U postgres -v ON_ERROR_STOP=1 -q)
db="quota_bench_$$"
"${psql[@]}" -d postgres -c "CREATE DATABASE $db"
trap '"${psql[@]}" -d postgres -c "DROP DATABASE IF EXISTS $db" >/dev/null' EXIT
"${psql[@]}" -d "$db" <<'SQL'
CREATE TABLE quota_usage (tenant_id text NOT NULL, resource text NOT NULL, period_start timestamptz NOT NULL,
  used bigint NOT NULL DEFAULT 0 CHECK (used >= 0), updated_at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (tenant_id, resource, period_start));
CREATE INDEX quota_usage_expiry ON quota_usage (period_start) WHERE period_start > '1970-01-01 00:00:00+00';
INSERT INTO quota_usage SELECT 't' || i, 'api', date_trunc('day', now() - (d || ' days')::interval), 1, now()
  FROM generate_series(1, 20000) i, generate_series(0, 5) d ON CONFLICT DO NOTHING;
INSERT INTO quota_usage SELECT 't' || i, 'standing', '1970-01-01 00:00:00+00', 1, now() FROM generate_series(1, 20000) i;
VACUUM ANALYZE quota_usage;
SQL
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
for n in $(seq 1 "$pairs"); do
  order=(reserve-before reserve-with-pruning); [ $((n % 2)) = 0 ] && order=(reserve-with-pruning reserve-before)
  for s in "${order[@]}"; do
    tps="$("$bin/pgbench" -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c 4 -j 2 -T "$seconds" -f "$here/$s.sql" "$db" 2>/dev/null \
      | sed -nE 's/^tps = ([0-9.]+).*/\1/p')"
    echo "pair $n $s tps $tps"
  done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
