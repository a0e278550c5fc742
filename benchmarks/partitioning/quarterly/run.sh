#!/usr/bin/env bash
# Quarterly against monthly partitions for a tenant's short queries (docs/benchmarks.md, Partitioning).
#   benchmarks/partitioning/run.sh --only load --database bench_q
#   psql -h 127.0.0.1 -p "$(cat .servers/postgres.port)" -U postgres -d bench_q -f benchmarks/partitioning/quarterly/setup.sql
#   F='2026-11-06 16:00:52+00' TO='2026-12-06 16:01:52+00' QF='2026-10-01 00:00:00+00' \
#     benchmarks/partitioning/quarterly/run.sh s30 6 plain month quarter qdirect
#   psql ... -d bench_q -f benchmarks/partitioning/quarterly/few.sql   # the 'few' variant: 12 monthly partitions attached
# SHAPE is s30 (a small tenant's 30 days), small50 or whale50 (latest 50; F = now - 92 days for the bounded forms);
# F/TO bound the window, QF is the current quarter's start. Every variant runs with generic plans and enable_sort off;
# 2-second pgbench runs in rotation, ROUNDS rounds; prints queries/s and the ratio to the first variant per round.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
port="$(cat "$here/../../../.servers/postgres.port")"
shape=$1; rounds=$2; shift 2; vars=("$@"); n=${#vars[@]}
out=$(mktemp)
for r in $(seq 0 $((rounds - 1))); do
  for k in $(seq 0 $((n - 1))); do
    v=${vars[$(((r + k) % n))]}
    tps=$(PGOPTIONS="-c plan_cache_mode=force_generic_plan -c enable_sort=off" pgbench -h 127.0.0.1 -p "$port" -U postgres -n \
      -M prepared -c 1 -T 2 -D f="$F" -D to="$TO" -D qf="${QF:-$F}" -f "$here/${shape}_$v.sql" bench_q 2>/dev/null \
      | grep -oP 'tps = \K[0-9.]+' | head -1)
    echo "$r $v $tps" >>"$out"
  done
done
python3 - "$out" "$shape" "${vars[@]}" <<'PY'
import sys, statistics
rows = [l.split() for l in open(sys.argv[1])]
shape, variants = sys.argv[2], sys.argv[3:]
tps = {(int(r), v): float(t) for r, v, t in rows}
rounds = sorted({r for r, _ in tps})
print(shape, "rounds", len(rounds))
for v in variants:
    ratios = [tps[(r, v)] / tps[(r, variants[0])] for r in rounds]
    print(f"  {v:10s} tps median {statistics.median(tps[(r, v)] for r in rounds):8.0f}  ratio to {variants[0]}: "
          f"{statistics.median(ratios):.2f} [{min(ratios):.2f}-{max(ratios):.2f}]")
PY
rm -f "$out"
