#!/usr/bin/env bash
# The tenant context's server-side cost, measured with pgbench (docs/benchmarks.md, Rls, "The context procedure's body").
# Needs the RLS benchmark database (benchmarks/rls/run.sh builds it and installs the shipped procedure), then:
#   benchmarks/rls/pgbench/run.sh setup          # reference procedures: rls/0001's body (a PERFORM), an empty one
#   benchmarks/rls/pgbench/run.sh exec 10        # pairs of 20,000 CALLs: shipped body against rls/0001's, server µs per CALL
#   benchmarks/rls/pgbench/run.sh exec 10 reset  # the same as Npgsql sends it by default: DISCARD ALL first (its pool reset),
#                                                # statements not prepared (10,000 per run)
#   benchmarks/rls/pgbench/run.sh tps 8 4         # rounds of 4 s per variant, rotated: transactions/s, ratio to the query alone
# Variants: query (explicit WHERE, BYPASSRLS role), empty (an empty statement before it in one pipeline), context /
# perform / noop (CALL of the shipped, the rls/0001 and an empty procedure, then the query without WHERE, RLS role).
# The small tenant's point lookup; every pipeline is one Sync, one implicit transaction, as an Npgsql batch.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="$(cat "$here/../../../.servers/postgres.port")"
export PATH="$(pg_config --bindir):$PATH"
db=scaleops_rls_bench
sql() { PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -p "$port" -U postgres -d "$db" -qAtc "$1"; }
tid=$(sql "SELECT tenant_id FROM events GROUP BY 1 ORDER BY count(*), 1 LIMIT 1")
id=$(sql "SELECT max(id) FROM events WHERE tenant_id = '$tid'")
bench() { # VARIANT ROLE ARGS...
  local v=$1 role=$2; shift 2
  pgbench -n -M prepared -c 1 -h 127.0.0.1 -p "$port" -U "$role" -D tid="$tid" -D id="$id" "$@" -f "$here/$v.sql" "$db" 2>/dev/null
}
role() { case $1 in query|empty) echo bench_plain ;; *) echo bench_app ;; esac; }
case "${1:-}" in
  setup)
    # rls/0001's procedure under another name (the database's own was replaced by rls/0002), and the floor of any CALL.
    sed -e 's/{{schema}}\.rls_set_context(/public.ctx_perform(/' -e 's/{{schema}}/scaleops/g' \
      "$here/../../../src/ScaleOps.Rls/Sql/Migrations/0001_tenant_context.sql" | PGOPTIONS="-c client_min_messages=warning" psql -h 127.0.0.1 -p "$port" -U postgres -d "$db" -q
    sql "CREATE OR REPLACE PROCEDURE public.ctx_empty(tenant_id text, user_id text, roles text[]) LANGUAGE plpgsql AS \$\$BEGIN END\$\$"
    sql "GRANT EXECUTE ON PROCEDURE public.ctx_empty(text, text, text[]) TO PUBLIC" ;;
  exec)
    sql "CREATE EXTENSION IF NOT EXISTS pg_stat_statements" >/dev/null 2>&1
    mode=(-t 20000); scripts="$here"
    if [ "${3:-}" = reset ]; then
      mode=(-t 10000 -M extended); scripts="$(mktemp -d)"
      for v in perform context; do { echo "DISCARD ALL;"; cat "$here/$v.sql"; } >"$scripts/$v.sql"; done
    fi
    for pair in $(seq 1 "${2:-10}"); do
      sql "SELECT pg_stat_statements_reset()" >/dev/null
      if [ $((pair % 2)) = 0 ]; then order="perform context"; else order="context perform"; fi
      for v in $order; do here="$scripts" bench "$v" bench_app "${mode[@]}" >/dev/null; done
      sql "SELECT '$pair ' || string_agg(split_part(split_part(query, '(', 1), ' ', 2) || ' ' || round(mean_exec_time::numeric * 1000, 2), '  ' ORDER BY query)
           FROM pg_stat_statements WHERE query LIKE 'CALL %'"
    done ;;
  tps)
    rounds=${2:-8}; seconds=${3:-4}; vars=(query empty noop perform context); n=${#vars[@]}
    out=$(mktemp)
    for r in $(seq 1 "$rounds"); do
      for k in $(seq 0 $((n - 1))); do
        v=${vars[$(((r + k) % n))]}
        echo "$r $v $(bench "$v" "$(role "$v")" -T "$seconds" | sed -n 's/^tps = \([0-9]*\).*/\1/p')" | tee -a "$out"
      done
    done
    python3 - "$out" <<'PY'
import statistics, sys
tps = {}
for line in open(sys.argv[1]):
    r, v, t = line.split()
    tps.setdefault(int(r), {})[v] = float(t)
for v in ["query", "empty", "noop", "perform", "context"]:
    ratios = [round[v] / round["query"] for round in tps.values()]
    print(f"{v:8} ratio to query alone: median {statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
PY
    rm -f "$out" ;;
  *) sed -n '2,10p' "$0"; exit 2 ;;
esac
