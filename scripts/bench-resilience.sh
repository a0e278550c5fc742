#!/usr/bin/env bash
# Runs the ScaleOps.Resilience benchmarks in one command:
#  1. BenchmarkDotNet (benchmarks/ScaleOps.Benchmarks/Resilience): local and Redis limiters against
#     System.Threading.RateLimiting and a raw Redis round trip, the leased hot-tenant mode, a closed breaker against a
#     bare call and Polly alone. Results: BenchmarkDotNet.Artifacts/results/*Resilience*.md.
#  2. The interleaved harness (benchmarks/resilience), HARNESS_RUNS times (default 3): raw GET, raw EVALSHA of the
#     limiter's script and the limiter's AcquireAsync in rotating order per round, 1 in flight and N in flight, plus
#     bytes allocated per call. Results: BenchmarkDotNet.Artifacts/results/resilience-harness-<n>.md.
# Starts the Redis test server if needed (scripts/servers.sh) and stops it again if it started it.
# Extra arguments go to BenchmarkDotNet; BENCH_FILTER=*Redis* runs a subset; SKIP_BDN=1 or HARNESS_RUNS=0 skips a part;
# HARNESS_ARGS passes options to the harness (--rounds 300 --batch 20 --inflight 16 --slice-ms 250 --throughput-rounds 12).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
started_here=0
if scripts/servers.sh status | grep -q '^redis: stopped'; then started_here=1; fi
scripts/servers.sh start redis
cleanup() { if [ $started_here = 1 ]; then scripts/servers.sh stop redis || true; fi; }
trap cleanup EXIT
if [ "${SKIP_BDN:-0}" != 1 ]; then
  dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- \
    --filter "${BENCH_FILTER:-*Resilience*}" --job short --warmupCount 3 --iterationCount 9 --buildTimeout 1200 "$@"
fi
runs="${HARNESS_RUNS:-3}"
if [ "$runs" -gt 0 ]; then
  mkdir -p BenchmarkDotNet.Artifacts/results
  dotnet build -c Release benchmarks/resilience -nologo -v q >/dev/null
  for n in $(seq 1 "$runs"); do
    # shellcheck disable=SC2086
    dotnet run -c Release --no-build --project benchmarks/resilience -- ${HARNESS_ARGS:-} \
      | tee "BenchmarkDotNet.Artifacts/results/resilience-harness-$n.md"
  done
fi
