#!/usr/bin/env bash
# The ScaleOps.Rls benchmark in one command: starts the test PostgreSQL (scripts/servers.sh), builds the skewed data set
# once (database scaleops_rls_bench; SCALEOPS_RLS_BENCH_ROWS rows, default 2,000,000, 1,000 tenants, one whale), then
# runs RlsRequestBenchmarks (BenchmarkDotNet, Release). Results: BenchmarkDotNet.Artifacts/results/*Rls*.
# Extra arguments go to BenchmarkDotNet (for example: --filter '*Rls*Ours*').
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
scripts/servers.sh start postgres
args=("$@")
[ ${#args[@]} -eq 0 ] && args=(--filter '*RlsRequestBenchmarks*')
dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- "${args[@]}"
