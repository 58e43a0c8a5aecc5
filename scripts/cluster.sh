#!/usr/bin/env bash
# Starts a local three-node sprint cluster against one mesos-sim process, all
# on loopback, data under ${CLUSTER_DIR:-./cluster-data}. Ctrl-C stops it all.
#
#   make cluster                      # or: scripts/cluster.sh
#   sprintctl --server http://127.0.0.1:9190 apply -f manifests/examples/hello.yaml
#   sprintctl --server http://127.0.0.1:9290 get runs -w   # any node serves reads
#
# Every node talks to the same Mesos master (mesos-sim on :5050 with three
# agents running tasks as local processes), so a new Raft leader finds the
# tasks its predecessor launched.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DIR=${CLUSTER_DIR:-./cluster-data}
EXECUTOR=${EXECUTOR:-process}
mkdir -p "$DIR"

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/mesos-sim" --listen 127.0.0.1:5050 --agents 3 --executor "$EXECUTOR" \
  --agent-resources "cpus:2;mem:2048;disk:10000;ports:[31000-32000]" \
  --work-dir "$DIR/mesos-sim" >"$DIR/mesos-sim.log" 2>&1 &
pids+=($!)

peers="n1=127.0.0.1:9191=http://127.0.0.1:9190,n2=127.0.0.1:9291=http://127.0.0.1:9290,n3=127.0.0.1:9391=http://127.0.0.1:9390"
for i in 1 2 3; do
  "$BIN/sprint" --node-id "n$i" --data-dir "$DIR/n$i" \
    --listen "127.0.0.1:9${i}90" --raft-addr "127.0.0.1:9${i}91" \
    --peers "$peers" --mesos-master http://127.0.0.1:5050 >"$DIR/n$i.log" 2>&1 &
  pids+=($!)
done

for i in 1 2 3; do
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:9${i}90/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
done
echo "sprint cluster up: http://127.0.0.1:9190 http://127.0.0.1:9290 http://127.0.0.1:9390 (mesos-sim http://127.0.0.1:5050)"
echo "logs in $DIR/*.log; Ctrl-C stops everything"
"$BIN/sprintctl" --server http://127.0.0.1:9190 cluster status || true
wait
