#!/usr/bin/env bash
# The README's test command: starts the test servers (PostgreSQL, Redis, Azurite and any in scripts/servers.d),
# builds the solution and runs every test project against them in parallel, then prints "N passed, N failed".
# Servers this script started are stopped again at the end; servers that were already running are left alone.
# Extra arguments go to `dotnet test` (for example: --filter "FullyQualifiedName~Jobs").
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
start_servers
trap stop_servers_if_started EXIT

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
