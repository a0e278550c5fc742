#!/usr/bin/env bash
# Runs the caching benchmarks (ScaleOps.Caching against FusionCache 2.9.0 and HybridCache 10.11.0, same run, same
# Redis) with one command:  benchmarks/run-caching.sh [BenchmarkDotNet arguments]
# Without a --filter it runs every class in ScaleOps.Benchmarks.Caching (L1 hit, L2 hit, stampede, outage); for one
# class: benchmarks/run-caching.sh --filter '*L2Hit*'. Starts the local Redis with scripts/servers.sh if needed (and
# stops it again if it started it). Results land in BenchmarkDotNet.Artifacts/results (Markdown and CSV) and
# BenchmarkDotNet.Artifacts/caching-stampede-runs.txt (factory runs per stampede).
#   benchmarks/run-caching.sh --interleaved [--runs 3] [--rounds 2000] [--l1-rounds 500]
# runs the interleaved harness instead (benchmarks/caching/CachingBench: L1 and L2 hits of every contender measured
# back to back in an order rotated each round, medians of per-round ratios; the figures in docs/benchmarks.md).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1
started_here=0
if scripts/servers.sh status | grep -q '^redis: stopped'; then started_here=1; fi
scripts/servers.sh start redis
cleanup() { if [ $started_here = 1 ]; then scripts/servers.sh stop redis || true; fi; }
trap cleanup EXIT
echo "machine: $(nproc) cores, load average: $(cut -d' ' -f1-3 /proc/loadavg), $(date -u +%FT%TZ)"
if [ "${1:-}" = "--interleaved" ]; then
  shift
  dotnet run -c Release --project benchmarks/caching/CachingBench -- "$@"
  exit 0
fi
filter=(--filter '*ScaleOps.Benchmarks.Caching*')
for arg in "$@"; do [ "$arg" = --filter ] && filter=(); done
# A loaded machine builds BenchmarkDotNet's boilerplate slowly: allow 20 minutes (its default is 2).
dotnet run -c Release --project benchmarks/ScaleOps.Benchmarks -- --buildTimeout 1200 "${filter[@]}" "$@"
