#!/usr/bin/env bash
# The README's test command: starts the test servers (PostgreSQL, Redis, Azurite and any in scripts/servers.d),
# builds the solution and runs every test project against them in parallel, then prints "N passed, N failed".
# Servers this script started are stopped again at the end; servers that were already running are left alone.
# Extra arguments go to `dotnet test` (for example: --filter "FullyQualifiedName~Jobs").
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command -v dotnet >/dev/null 2>&1 || { echo "the .NET SDK 10 is required (dotnet not found on PATH)" >&2; exit 1; }

started_here=0
if scripts/servers.sh status | grep -q stopped; then started_here=1; fi
scripts/servers.sh start
cleanup() { if [ $started_here = 1 ]; then scripts/servers.sh stop || true; fi; }
trap cleanup EXIT

results="$repo/artifacts/test-results"
rm -rf "$results"
dotnet build ScaleOps.sln -c Release -nologo -clp:NoSummary -v:quiet
set +e
dotnet test ScaleOps.sln -c Release --no-build --nologo --logger "trx" --logger "console;verbosity=minimal" \
  --results-directory "$results" "$@"
status=$?
set -e
scripts/trx-summary.sh "$results"
exit $status
