#!/usr/bin/env bash
# ScaleOps.Jobs against graphile-worker and pg-boss (npm, installed into benchmarks/jobs/node/, git-ignored) and
# Hangfire.PostgreSql (NuGet, benchmarks/jobs/Hangfire.Bench) on the same PostgreSQL (scripts/servers.sh: fsync and synchronous_commit on). Every measurement runs in its own process on a
# freshly created database; CHECKPOINT before the timer; processing stops when the DATABASE shows every job done.
#
#   benchmarks/jobs/run.sh [REPS]            default 3 reps, interleaved (rep 1 of every peer, then rep 2, ...)
#
# Environment: QUIET_MAX_WAIT (s, default 20) waits for the CPU to be at most QUIET_BUSY% (default 25) busy before each
# measurement and records the busy% it started at; PEERS (default "scaleops graphile pgboss hangfire"); SCENARIOS
# (default "bulk single process latency"; "backlog" adds processing of a 100,000-job backlog at c=10, without Hangfire).
# Hangfire is one to two orders of magnitude slower, so it runs smaller N (HANGFIRE_N, default "bulk=2000 single=500
# process=2000 latency=100"; processing capped at 30 s, a capped run reports jobs done / elapsed) to keep a rep short.
# PROCESS_WARMUP (default 1): untimed processing rounds of N jobs every peer runs, in the database jobs_bench_warm, before a
# timed processing run in jobs_bench (warm code, new tables).
# Output: benchmarks/jobs/results/<time>.jsonl (one line per measurement) and a markdown summary on stdout.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
reps="${1:-3}"
peers="${PEERS:-scaleops graphile pgboss hangfire}"
hangfire_n="${HANGFIRE_N:-bulk=2000 single=500 process=2000 latency=100}"
quiet_wait="${QUIET_MAX_WAIT:-20}"
quiet_busy="${QUIET_BUSY:-25}"
scenarios="${SCENARIOS:-bulk single process latency}"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1

"$repo/scripts/servers.sh" start postgres >&2
state="${SCALEOPS_SERVERS_DIR:-$repo/.servers}"
port="$(cat "$state/postgres.port")"
# The .NET harness reports its own CPU and the server's (the postmaster's children) per processed job.
BENCH_PG_PID="$(cat "$state/postgres.pid" 2>/dev/null || true)"
export BENCH_PG_PID
psql=(psql -h 127.0.0.1 -p "$port" -U postgres -d postgres -qAt)
echo "[bench] PostgreSQL $("${psql[@]}" -c 'SHOW server_version') on 127.0.0.1:$port: fsync=$("${psql[@]}" -c 'SHOW fsync'), synchronous_commit=$("${psql[@]}" -c 'SHOW synchronous_commit')" >&2

if [ ! -d "$here/node/node_modules/graphile-worker" ] || [ ! -d "$here/node/node_modules/pg-boss" ]; then
  echo "[bench] installing graphile-worker and pg-boss (npm)" >&2
  npm install --prefix "$here/node" --no-audit --no-fund --loglevel=error >&2
fi
dotnet build "$here/ScaleOps.Jobs.Bench/ScaleOps.Jobs.Bench.csproj" -c Release -nologo -clp:NoSummary -v:quiet >&2
bench_dll="$here/ScaleOps.Jobs.Bench/bin/Release/net10.0/ScaleOps.Jobs.Bench.dll"
if [[ " $peers " == *" hangfire "* ]]; then
  dotnet build "$here/Hangfire.Bench/Hangfire.Bench.csproj" -c Release -nologo -clp:NoSummary -v:quiet >&2
fi
hangfire_dll="$here/Hangfire.Bench/bin/Release/net10.0/Hangfire.Bench.dll"

mkdir -p "$here/results"
out="$here/results/$(date -u +%Y%m%dT%H%M%SZ).jsonl"

cpu_busy() { # percent busy over one second, from /proc/stat
  local a b
  read -r _ a1 a2 a3 a4 a5 a6 a7 _ < /proc/stat; sleep 1; read -r _ b1 b2 b3 b4 b5 b6 b7 _ < /proc/stat
  a=$((a1 + a2 + a3 + a4 + a5 + a6 + a7)); b=$((b1 + b2 + b3 + b4 + b5 + b6 + b7))
  echo $(( 100 - 100 * (b4 - a4 + b5 - a5) / (b - a) ))
}

wait_quiet() {
  local start=$SECONDS busy
  while true; do
    busy=$(cpu_busy)
    if [ "$busy" -le "$quiet_busy" ] || [ $((SECONDS - start)) -ge "$quiet_wait" ]; then echo "$busy"; return; fi
  done
}

fresh_db() { # jobs_bench for the measurement, jobs_bench_warm for the processing warm-up (so the timed run's tables are new)
  "${psql[@]}" -c "DROP DATABASE IF EXISTS jobs_bench WITH (FORCE)" -c "CREATE DATABASE jobs_bench" \
    -c "DROP DATABASE IF EXISTS jobs_bench_warm WITH (FORCE)" -c "CREATE DATABASE jobs_bench_warm" >/dev/null 2>&1
}

measure() { # peer scenario N C
  local peer=$1 scenario=$2 n=$3 c=$4 busy line
  fresh_db
  busy=$(wait_quiet)
  case "$peer" in
    scaleops) line=$(dotnet "$bench_dll" "$scenario" "Host=127.0.0.1;Port=$port;Username=postgres;Database=jobs_bench;Maximum Pool Size=100" "$n" "$c") ;;
    scaleops-buffer) line=$(dotnet "$bench_dll" "$scenario" "Host=127.0.0.1;Port=$port;Username=postgres;Database=jobs_bench;Maximum Pool Size=100" "$n" "$c" buffer) ;;
    scaleops-local) line=$(dotnet "$bench_dll" "$scenario" "Host=127.0.0.1;Port=$port;Username=postgres;Database=jobs_bench;Maximum Pool Size=100" "$n" "$c" local) ;;
    hangfire)
      for kv in $hangfire_n; do [ "${kv%%=*}" = "$scenario" ] && n="${kv#*=}"; done
      line=$(dotnet "$hangfire_dll" "$scenario" "Host=127.0.0.1;Port=$port;Username=postgres;Database=jobs_bench;Maximum Pool Size=100" "$n" "$c") ;;
    graphile|pgboss) line=$(cd "$here/node" && node bench.mjs "$peer" "$scenario" "postgres://postgres@127.0.0.1:$port/jobs_bench" "$n" "$c") ;;
  esac
  line=$(printf '%s\n' "$line" | grep '^{"peer"' | tail -n 1)
  line="${line%\}},\"rep\":$rep,\"busy\":$busy,\"load\":\"$(cut -d' ' -f1-3 /proc/loadavg)\"}"
  echo "$line" >>"$out"
  echo "[bench] $line" >&2
}

for rep in $(seq 1 "$reps"); do
  for spec in "bulk 20000 10" "single 2000 1" "process 20000 10" "process 20000 50" "backlog 100000 10" "latency 200 1"; do
    set -- $spec
    [[ " $scenarios " == *" $1 "* ]] || continue
    if [ "$1" = backlog ]; then
      # Processing a 100,000-job backlog (opt-in scenario): the same measurement as "process", at five times N.
      # Hangfire is left out (it would run its small N, see HANGFIRE_N).
      for peer in $peers; do [ "$peer" = hangfire ] || measure "$peer" process "$2" "$3"; done
      if [[ " $peers " == *" scaleops "* ]]; then measure scaleops-buffer process "$2" "$3"; fi
      continue
    fi
    for peer in $peers; do measure "$peer" "$1" "$2" "$3"; done
    if [ "$1" = process ] && [[ " $peers " == *" scaleops "* ]]; then measure scaleops-buffer "$1" "$2" "$3"; fi
    if [ "$1" = latency ] && [[ " $peers " == *" scaleops "* ]]; then measure scaleops-local "$1" "$2" "$3"; fi
  done
done
"${psql[@]}" -c "DROP DATABASE IF EXISTS jobs_bench WITH (FORCE)" -c "DROP DATABASE IF EXISTS jobs_bench_warm WITH (FORCE)" >/dev/null 2>&1 || true
python3 "$here/summarize.py" "$out"
