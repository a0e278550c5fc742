#!/usr/bin/env bash
# The README's demo command: starts PostgreSQL, Redis and Azurite (scripts/servers.sh), builds and starts the sample
# host on a free loopback port against a fresh demo database, then drives a scripted walk over HTTP that prints what
# each package did. Exits 0 only if every step behaved. Servers this script started are stopped at the end.
# The walk stops Redis (scripts/servers.sh stop redis) to show the breaker open and starts it again on the same port.
# It also starts a second sample host (the same build, a port of its own) that must refuse to start, and waits for it to exit.
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"
# Only the servers the demo uses (common.sh's start_servers would start every server, plug-ins included).
demo_servers="postgres redis azurite"
servers_started_here=$(scripts/servers.sh status | sed -n 's/^\([a-z0-9-]*\): stopped$/\1/p' | grep -xE "${demo_servers// /|}" | tr '\n' ' ' || true)
trap stop_servers_if_started EXIT
for s in $demo_servers; do scripts/servers.sh start "$s"; done
# servers.env holds KEY=value lines whose values contain ';', so read them rather than source them.
while IFS='=' read -r key value; do
  [ -n "$key" ] && export "$key=$value"
done <"${SCALEOPS_SERVERS_DIR:-$repo/.servers}/servers.env"

host_pid=""
cleanup() {
  if [ -n "$host_pid" ] && kill -0 "$host_pid" 2>/dev/null; then
    kill -TERM "$host_pid" 2>/dev/null || true
    for _ in $(seq 1 100); do kill -0 "$host_pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$host_pid" 2>/dev/null || true
  fi
  # The walk stops and restarts Redis; if it stopped partway, bring back a Redis that this script did not start.
  case " $servers_started_here " in
    (*" redis "*) ;;
    (*) scripts/servers.sh status | grep -q '^redis: stopped' && scripts/servers.sh start redis >/dev/null 2>&1 || true ;;
  esac
  stop_servers_if_started
}
trap cleanup EXIT

echo "[demo] building the sample host and the walk-through"
mkdir -p "$repo/artifacts"
for project in samples/ScaleOps.SampleHost samples/ScaleOps.Demo; do
  dotnet build "$project" -c Release -nologo -v:quiet >"$repo/artifacts/demo-build.log" 2>&1 \
    || { cat "$repo/artifacts/demo-build.log" >&2; exit 1; }
done

# A fresh database for the demo, owned by the NOSUPERUSER role the host connects as (so RLS applies to it).
pg_connection=$(scripts/sample-db.sh --fresh scaleops_demo)

port=5080
while (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; do port=$((port + 1)); done
url="http://127.0.0.1:$port"
admin_key="demo-admin-key-$(date +%s)"
log="$repo/artifacts/demo-host.log"

echo "[demo] starting the sample host on $url (log: artifacts/demo-host.log)"
ConnectionStrings__Postgres="$pg_connection" \
ConnectionStrings__Redis="${SCALEOPS_REDIS:-}" \
ConnectionStrings__Blob="${SCALEOPS_BLOB:-}" \
Sample__AdminKey="$admin_key" \
Sample__DemoEndpoints=true \
Sample__Plans__free__MaxDocuments=3 \
ASPNETCORE_ENVIRONMENT=Production \
  dotnet samples/ScaleOps.SampleHost/bin/Release/net10.0/ScaleOps.SampleHost.dll --urls "$url" >"$log" 2>&1 &
host_pid=$!

for _ in $(seq 1 300); do
  if ! kill -0 "$host_pid" 2>/dev/null; then echo "[demo] the host exited; its log:" >&2; tail -n 40 "$log" >&2; exit 1; fi
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then break; fi
  sleep 0.1
done

set +e
# SCALEOPS_DEMO_POSTGRES: the walk starts a second host with a tenant as a session default, which must refuse to start.
SCALEOPS_REPO="$repo" SCALEOPS_DEMO_POSTGRES="$pg_connection" \
  dotnet samples/ScaleOps.Demo/bin/Release/net10.0/ScaleOps.Demo.dll "$url" "$admin_key"
status=$?
set -e
exit $status
