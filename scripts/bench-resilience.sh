#!/usr/bin/env bash
# Runs the ScaleOps.Resilience benchmarks (local and Redis limiters against System.Threading.RateLimiting and a raw
# Redis round trip, the leased hot-tenant mode, a closed breaker against a bare call and Polly alone) in one run.
# Starts the Redis test server if needed (scripts/servers.sh) and stops it again if it started it.
# Results: BenchmarkDotNet.Artifacts/results/*Resilience*.md. Extra arguments go to BenchmarkDotNet; BENCH_FILTER=*Redis*
# runs a subset.
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
started_here=0
if scripts/servers.sh status | grep -q '^redis: stopped'; then started_here=1; fi
scripts/servers.sh start redis
cleanup() { if [ $started_here = 1 ]; then scripts/servers.sh stop redis || true; fi; }
trap cleanup EXIT
dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- \
  --filter "${BENCH_FILTER:-*Resilience*}" --job short --warmupCount 3 --iterationCount 9 "$@"
