#!/usr/bin/env bash
# The real topology on one machine: a 3-node NATS cluster with JetStream, two edges (each on a
# different NATS node), two registry replicas and the admin API. Ctrl-C stops everything.
#   npm run local-cluster            (ports: edges 8080/8082, admin 8081, NATS 4222-4224)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/ensure-deps.sh
NATS="$(bash scripts/install-nats-server.sh | tail -n 1)"
npm run -s build

RUN="${MESH_LOCAL_DIR:-$PWD/.mesh-dev/local-cluster}"
mkdir -p "$RUN"
SECRET="$(node -e "import('./services/mesh/dist/dev-secrets.js').then(m => process.stdout.write(m.devJwtSecret()))")"
ADMIN_TOKEN="$(node -e "import('./services/mesh/dist/dev-secrets.js').then(m => process.stdout.write(m.devAdminToken()))")"
pids=()       # services: stopped first, so edges drain while NATS is still up
nats_pids=()
cleanup() {
  trap - EXIT INT TERM
  echo "stopping..."
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  for pid in "${nats_pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
}
trap cleanup EXIT INT TERM

for i in 0 1 2; do
  cat > "$RUN/nats-$i.conf" <<CONF
server_name: mesh-nats-$i
listen: 127.0.0.1:$((4222 + i))
http: 127.0.0.1:$((8222 + i))
jetstream { store_dir: "$RUN/js-$i" }
cluster {
  name: mesh-local
  listen: 127.0.0.1:$((6222 + i))
  routes: [ nats://127.0.0.1:6222, nats://127.0.0.1:6223, nats://127.0.0.1:6224 ]
}
CONF
  "$NATS" -c "$RUN/nats-$i.conf" > "$RUN/nats-$i.log" 2>&1 &
  nats_pids+=($!)
done
# Ready when every node sees two routes and JetStream has a meta leader.
for _ in $(seq 1 100); do
  ok=0
  for i in 0 1 2; do
    routes="$(curl -fs "http://127.0.0.1:$((8222 + i))/routez" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(String(JSON.parse(s).num_routes))}catch{process.stdout.write("0")}})')"
    [ "${routes:-0}" -ge 2 ] && ok=$((ok + 1))
  done
  leader="$(curl -fs "http://127.0.0.1:8222/jsz" 2>/dev/null | node -e 'let s="";process.stdin.on("data",d=>s+=d).on("end",()=>{try{process.stdout.write(JSON.parse(s).meta_cluster?.leader??"")}catch{}})')"
  [ "$ok" = 3 ] && [ -n "$leader" ] && break
  sleep 0.2
done
echo "NATS cluster up (JetStream leader: ${leader:-none})"

common=(MESH_JWT_SECRET="$SECRET" MESH_KV_REPLICAS=3 MESH_LOG_LEVEL="${MESH_LOG_LEVEL:-info}")
start() { # name, env...
  local name=$1; shift
  env "${common[@]}" "$@" node "services/${name%%-*}/dist/main.js" > "$RUN/$name.log" 2>&1 &
  pids+=($!)
}
start registry-1 MESH_NATS_URL=nats://127.0.0.1:4222 MESH_OPS_PORT=8090 MESH_REGISTRY_ID=registry-1
start registry-2 MESH_NATS_URL=nats://127.0.0.1:4223 MESH_OPS_PORT=8091 MESH_REGISTRY_ID=registry-2
start admin MESH_NATS_URL=nats://127.0.0.1:4224 MESH_ADMIN_PORT=8081 MESH_OPS_PORT=8092 MESH_ADMIN_TOKENS="$ADMIN_TOKEN"
start edge-a MESH_NATS_URL=nats://127.0.0.1:4222 MESH_EDGE_PORT=8080 MESH_OPS_PORT=8093 MESH_EDGE_ID=edge-a
start edge-b MESH_NATS_URL=nats://127.0.0.1:4223 MESH_EDGE_PORT=8082 MESH_OPS_PORT=8094 MESH_EDGE_ID=edge-b

# Probes live on each process's internal ops port (MESH_OPS_PORT).
for url in http://127.0.0.1:8093/readyz http://127.0.0.1:8094/readyz http://127.0.0.1:8092/readyz http://127.0.0.1:8090/readyz http://127.0.0.1:8091/readyz; do
  for _ in $(seq 1 150); do curl -fs "$url" > /dev/null 2>&1 && break; sleep 0.2; done
  curl -fs "$url" > /dev/null || { echo "not ready: $url (logs in $RUN)"; exit 1; }
done
cat <<INFO

Session Mesh local cluster is up (logs in $RUN)
  edges      ws://127.0.0.1:8080  ws://127.0.0.1:8082
  admin API  http://127.0.0.1:8081   (admin token: $ADMIN_TOKEN)
  ops ports  registry 8090 8091, admin 8092, edges 8093 8094 (/healthz /readyz /stats)
  NATS       nats://127.0.0.1:4222,nats://127.0.0.1:4223,nats://127.0.0.1:4224

  TOKEN=\$(npm run -s token -- --user alice)
  npm run -s client -- --token "\$TOKEN" --url ws://127.0.0.1:8080 &
  npm run -s client -- --token "\$TOKEN" --url ws://127.0.0.1:8082 &
  curl -X POST -H "Authorization: Bearer $ADMIN_TOKEN" --data 'hello alice' http://127.0.0.1:8081/v1/users/alice/push

Ctrl-C stops everything.
INFO
wait -n "${pids[@]}" "${nats_pids[@]}"
echo "a process exited; see $RUN/*.log"
