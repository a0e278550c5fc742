#!/usr/bin/env bash
# Shared by scripts/test.sh and scripts/demo.sh: the repository root, the .NET checks, and starting the servers
# once (servers started here are stopped by stop_servers_if_started; servers already running are left alone).
set -euo pipefail
repo="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$repo"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

command -v dotnet >/dev/null 2>&1 || { echo "the .NET SDK 10 is required (dotnet not found on PATH)" >&2; exit 1; }

servers_started_here=""
start_servers() {
  servers_started_here=$(scripts/servers.sh status | sed -n 's/^\([a-z0-9-]*\): stopped$/\1/p' | tr '\n' ' ')
  scripts/servers.sh start
}

stop_servers_if_started() {
  local s
  for s in $(printf "%s\n" $servers_started_here | tac); do scripts/servers.sh stop "$s" || true; done
}
