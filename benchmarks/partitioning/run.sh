#!/usr/bin/env bash
# The partitioning benchmark, one command: starts the test servers (PostgreSQL with pg_partman), then loads an audit
# table partitioned and unpartitioned and measures query shapes, retention, ingest, migration and maintenance.
#   benchmarks/partitioning/run.sh [--rows N] [--repeat R] [--seconds S] [--database NAME] [--only queries]
# Defaults: 5,000,000 rows over 24 months (loaded once in SQL, shared by every measurement), 5 blocks, 2 s per
# variant per block of query measurements. Takes 30-45 minutes on 2 busy cores. Results go to stdout (markdown).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
cd "$repo"
scripts/servers.sh start postgres >&2
scripts/servers.sh start partman >&2
exec dotnet run -c Release --project benchmarks/partitioning -- "$@"
