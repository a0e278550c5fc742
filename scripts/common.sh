#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/demo.sh: the repository root, the .NET checks, and starting the servers
# once (servers started here are stopped by stop_servers_if_started; servers already running are left alone).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command -v dotnet >/dev/null 2>&1 || { echo "the .NET SDK 10 is required (dotnet not found on PATH)" >&2; exit 1; }

servers_started_here=0
start_servers() {
  if scripts/servers.sh status | grep -q stopped; then servers_started_here=1; fi
  scripts/servers.sh start
}

stop_servers_if_started() {
  if [ "$servers_started_here" = 1 ]; then scripts/servers.sh stop || true; fi
}
