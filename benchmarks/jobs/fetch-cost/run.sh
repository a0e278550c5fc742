#!/usr/bin/env bash
# What the fetch's fairness costs (docs/benchmarks.md, Jobs): the shipped JobFetch.sql against the simplest SKIP LOCKED
# claim (one UPDATE of the first LIMIT pending jobs in index order), both after the same advisory lock, each in a
# transaction that is rolled back, on 20,000 pending jobs of one tenant, 10 and 500 jobs per fetch.
#   benchmarks/jobs/fetch-cost/run.sh [REPS]
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../../.." && pwd)"
"$repo/scripts/servers.sh" start postgres >&2
port="$(cat "$repo/.servers/postgres.port")"
psql=(psql -h 127.0.0.1 -p "$port" -U postgres -qAt)
work="$(mktemp -d)"
trap 'rm -rf "$work"; "${psql[@]}" -c "DROP DATABASE IF EXISTS jobs_fetch_cost WITH (FORCE)" >/dev/null 2>&1 || true' EXIT
"${psql[@]}" -c "DROP DATABASE IF EXISTS jobs_fetch_cost WITH (FORCE)" -c "CREATE DATABASE jobs_fetch_cost" >/dev/null
{
  echo "CREATE SCHEMA scaleops;"
  for m in "$repo"/src/ScaleOps.Jobs/Sql/Migrations/*.sql; do sed 's/{{schema}}/scaleops/g' "$m"; done
  echo "INSERT INTO scaleops.jobs (queue, kind, payload, run_at, max_attempts, created_at)
        SELECT 'default', 'bench', '{\"n\":1}', now() - interval '1 second', 3, now() FROM generate_series(1, 20000);
        VACUUM ANALYZE scaleops.jobs;"
} | "${psql[@]}" -d jobs_fetch_cost >/dev/null
python3 - "$repo/src/ScaleOps.Jobs/Sql/Queries/JobFetch.sql" "$work" <<'PY'
import re, sys
src, work = sys.argv[1], sys.argv[2]
s = open(src).read().replace('{{schema}}', 'scaleops')
for name, value in {'@queue': ':queue::text', '@limit': ':lim::int', '@max_tenants': ':lim::int', '@max_scan': ':maxs::int',
                    '@cursor': "NULL::text", '@tenant_cap': ':cap::int', '@now': ':now::timestamptz',
                    '@lease': "interval '30 seconds'"}.items():
    s = s.replace(name, value)
s = ' '.join(re.sub(r'--[^\n]*', '', s).split())
lock = "BEGIN;\nSELECT pg_advisory_xact_lock(12345);\n"
open(f"{work}/full.sql", "w").write(lock + s + ";\nROLLBACK;\n")
simple = ("UPDATE scaleops.jobs j SET state = 'running', attempt = j.attempt + 1, lease_id = j.lease_id + 1, "
          "attempted_at = :now::timestamptz, lease_until = (SELECT clock_timestamp() + interval '30 seconds') WHERE j.id = ANY (ARRAY(SELECT c.id FROM "
          "scaleops.jobs c WHERE c.queue = :queue::text AND c.state = 'pending' AND c.run_at <= :now::timestamptz "
          "ORDER BY c.tenant_id, c.priority, c.run_at, c.id LIMIT :lim::int FOR UPDATE SKIP LOCKED)) RETURNING j.id, j.kind, "
          "j.tenant_id, j.payload::text, j.attempt, j.max_attempts, j.timeout_ms, j.run_at, j.created_at, j.lease_id")
open(f"{work}/simple.sql", "w").write(lock + simple + ";\nROLLBACK;\n")
PY
now="$(date -u -d '+1 hour' '+%Y-%m-%d %H:%M:%S+00')"
for rep in $(seq 1 "${1:-3}"); do
  for f in simple full; do
    for lim in 10 500; do
      ms=$(pgbench -h 127.0.0.1 -p "$port" -U postgres -n -M prepared -c 1 -T 4 -D queue=default -D lim=$lim \
        -D maxs=$((lim + 16)) -D cap=0 -D now="$now" -f "$work/$f.sql" jobs_fetch_cost 2>&1 \
        | grep -oP 'latency average = \K[0-9.]+')
      echo "rep $rep  $f  limit $lim  $ms ms per fetch"
    done
  done
done
