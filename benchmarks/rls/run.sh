#!/usr/bin/env bash
# The ScaleOps.Rls benchmark in one command: starts the test PostgreSQL (scripts/servers.sh), builds the skewed data set
# once (database scaleops_rls_bench; SCALEOPS_RLS_BENCH_ROWS rows, default 2,000,000, 1,000 tenants, one whale with 10%),
# then runs the interleaved request benchmark (benchmarks/rls/RlsBench: whole requests for a small tenant and the whale,
# every variant in rotated blocks per round, median and range over rounds, ratios taken inside each round, server-side
# execution time from pg_stat_statements). Prints a markdown table.
#   benchmarks/rls/run.sh          interleaved harness (the figures in docs/benchmarks.md)
#   benchmarks/rls/run.sh --bdn    the same variants under BenchmarkDotNet (RlsRequestBenchmarks; sequential, so
#                                  more exposed to a noisy machine)
#   benchmarks/rls/run.sh --profile  where the overhead goes: pool of one connection per variant, wall time plus client
#                                  and backend CPU per request (/proc/*/schedstat) for context-setting alternatives
#   benchmarks/rls/run.sh --ef-save  EF Core SaveChanges (insert; load and update) through RlsDbCommandInterceptor
#                                  against plain EF Core as a BYPASSRLS role, interleaved rounds
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
scripts/servers.sh start postgres
if [ "${1:-}" = "--bdn" ]; then
  shift
  dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- --filter '*RlsRequestBenchmarks*' "$@"
else
  dotnet run -c Release --project benchmarks/rls/RlsBench -- "$@"
fi
