# Plug-in of scripts/servers.sh: a small local Redis Cluster (3 masters, no replicas) for the cache suite.
# Exports SCALEOPS_REDIS_CLUSTER=127.0.0.1:P1,127.0.0.1:P2,127.0.0.1:P3. The cluster is throwaway: every start
# creates it afresh (no persistence). Each node's cluster bus listens on its port + 10000.
SERVERS+=(rediscluster)

rediscluster_nodes=3

start_rediscluster() {
  local dir="$state/rediscluster" i port ports=() endpoints=() tries
  if pid_alive "$state/rediscluster.pid"; then log "redis cluster already running on ports $(cat "$state/rediscluster.ports")"; return; fi
  command -v redis-server >/dev/null 2>&1 || apt_install redis-server
  command -v redis-cli >/dev/null 2>&1 || apt_install redis-tools
  # Nodes of a start that was cut short (no rediscluster.pid yet) are stopped by their recorded PIDs before the new
  # cluster is made: otherwise they would keep running, unrecorded, on the ports the new nodes step over.
  for i in $(seq 0 $((rediscluster_nodes - 1))); do stop_pid "$state/rediscluster$i.pid" "rediscluster$i (left from an interrupted start)" TERM; done
  rm -rf "$dir"; mkdir -p "$dir"
  for i in $(seq 0 $((rediscluster_nodes - 1))); do
    port=$(free_port "rediscluster$i" $((17001 + i)))
    # The bus port (port + 10000) must be free as well.
    while port_in_use "$port" || port_in_use $((port + 10000)); do
      port=$((port + 1)); echo "$port" >"$state/rediscluster$i.port"
    done
    mkdir -p "$dir/$i"
    redis-server --bind 127.0.0.1 --port "$port" --save '' --appendonly no --daemonize yes \
      --cluster-enabled yes --cluster-config-file "$dir/$i/nodes.conf" --cluster-node-timeout 5000 \
      --dir "$dir/$i" --pidfile "$state/rediscluster$i.pid" --logfile "$state/rediscluster$i.log" >/dev/null
    wait_port "$port" "rediscluster$i"
    ports+=("$port"); endpoints+=("127.0.0.1:$port")
  done
  for i in $(seq 0 $((rediscluster_nodes - 1))); do
    for _ in $(seq 1 50); do [ -s "$state/rediscluster$i.pid" ] && break; sleep 0.1; done
  done
  log "creating redis cluster on ${endpoints[*]}"
  redis-cli --cluster create "${endpoints[@]}" --cluster-replicas 0 --cluster-yes >"$dir/create.log" 2>&1 \
    || die "redis-cli --cluster create failed: $(tail -n 5 "$dir/create.log")"
  tries=0
  until redis-cli -h 127.0.0.1 -p "${ports[0]}" cluster info 2>/dev/null | grep -q 'cluster_state:ok'; do
    tries=$((tries + 1)); [ $tries -gt 300 ] && die "redis cluster did not reach cluster_state:ok (see $dir/create.log)"
    sleep 0.1
  done
  (IFS=,; echo "${endpoints[*]}") >"$state/rediscluster.ports"
  cp "$state/rediscluster0.pid" "$state/rediscluster.pid"
  echo "${ports[0]}" >"$state/rediscluster.port"
}

stop_rediscluster() {
  local i
  for i in $(seq 0 $((rediscluster_nodes - 1))); do stop_pid "$state/rediscluster$i.pid" "rediscluster$i" TERM; done
  rm -f "$state/rediscluster.pid" "$state/rediscluster.port"
}

env_rediscluster() {
  if pid_alive "$state/rediscluster.pid" && [ -f "$state/rediscluster.ports" ]; then
    echo "SCALEOPS_REDIS_CLUSTER=$(cat "$state/rediscluster.ports")"
  fi
}
