#!/usr/bin/env bash
# Starts a local three-node sprint cluster against one mesos-sim process, all
# on loopback, data under ${CLUSTER_DIR:-./cluster-data}. Ctrl-C stops it all.
#
#   make cluster                      # or: scripts/cluster.sh
#
# The nodes run as a real deployment should: Raft over mutual TLS with a
# cluster CA, the HTTPS API with certificates of the same CA, and bearer
# tokens. `sprint certs` makes the CA and node certificates in
# $CLUSTER_DIR/certs and a random token goes to $CLUSTER_DIR/token, both on
# the first start and reused after. What to type to talk to the cluster is
# printed once it is up, e.g.:
#
#   export SPRINT_SERVER=https://127.0.0.1:9190 SPRINT_TOKEN=$(cat cluster-data/token) \
#          SPRINT_CA_FILE=cluster-data/certs/ca.crt
#   sprintctl apply -f manifests/examples/hello.yaml
#
# mesos-sim requires the framework credential in $CLUSTER_DIR/mesos-secret
# (principal sprint), made on the first start too.
#
# Every node talks to the same Mesos master (mesos-sim on :5050 with three
# agents running tasks as local processes), so a new Raft leader finds the
# tasks its predecessor launched.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-bin}
DIR=${CLUSTER_DIR:-./cluster-data}
EXECUTOR=${EXECUTOR:-process}
CERTS="$DIR/certs"
mkdir -p "$DIR"
chmod 700 "$DIR"

# Certificates: a cluster CA and one certificate per node, for Raft's mutual
# TLS and the HTTPS API alike.
if [ ! -f "$CERTS/n3.key" ]; then
  "$BIN/sprint" certs --dir "$CERTS" --nodes n1,n2,n3 --hosts 127.0.0.1,localhost
fi
# A bearer token, readable by this user only.
if [ ! -s "$DIR/token" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/token")
fi
TOKEN=$(cat "$DIR/token")
# The Mesos framework credential: mesos-sim authenticates frameworks and its
# read-only and fault-control endpoints, as a Mesos master should.
if [ ! -s "$DIR/mesos-secret" ]; then
  (umask 077; head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' >"$DIR/mesos-secret")
fi
if [ ! -s "$DIR/mesos-credentials.json" ]; then
  (umask 077; printf '{"credentials":[{"principal":"sprint","secret":"%s"}]}\n' "$(cat "$DIR/mesos-secret")" >"$DIR/mesos-credentials.json")
fi

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM

"$BIN/mesos-sim" --listen 127.0.0.1:5050 --agents 3 --executor "$EXECUTOR" \
  --agent-resources "cpus:2;mem:2048;disk:10000;ports:[31000-32000]" \
  --work-dir "$DIR/mesos-sim" --credentials "$DIR/mesos-credentials.json" \
  --authenticate-http-frameworks --authenticate-http-readonly --authenticate-http-readwrite \
  >"$DIR/mesos-sim.log" 2>&1 &
pids+=($!)

peers="n1=127.0.0.1:9191=https://127.0.0.1:9190,n2=127.0.0.1:9291=https://127.0.0.1:9290,n3=127.0.0.1:9391=https://127.0.0.1:9390"
for i in 1 2 3; do
  "$BIN/sprint" --node-id "n$i" --data-dir "$DIR/n$i" \
    --listen "127.0.0.1:9${i}90" --raft-addr "127.0.0.1:9${i}91" --peers "$peers" \
    --raft-tls-cert "$CERTS/n$i.crt" --raft-tls-key "$CERTS/n$i.key" --raft-tls-ca "$CERTS/ca.crt" \
    --tls-cert "$CERTS/n$i.crt" --tls-key "$CERTS/n$i.key" --tls-ca "$CERTS/ca.crt" \
    --token-file "$DIR/token" --mesos-principal sprint --mesos-secret-file "$DIR/mesos-secret" \
    --mesos-master http://127.0.0.1:5050 >"$DIR/n$i.log" 2>&1 &
  pids+=($!)
done

for i in 1 2 3; do
  for _ in $(seq 1 100); do
    curl -fs --cacert "$CERTS/ca.crt" "https://127.0.0.1:9${i}90/readyz" >/dev/null 2>&1 && break
    sleep 0.2
  done
done
cat <<EOF
sprint cluster up: https://127.0.0.1:9190 https://127.0.0.1:9290 https://127.0.0.1:9390 (mesos-sim http://127.0.0.1:5050)
Raft runs over mutual TLS (CA $CERTS/ca.crt); the API needs the token in $DIR/token;
mesos-sim needs principal sprint with the secret in $DIR/mesos-secret.
Talk to it with:

  export SPRINT_SERVER=https://127.0.0.1:9190 SPRINT_TOKEN=\$(cat $DIR/token) SPRINT_CA_FILE=$CERTS/ca.crt
  $BIN/sprintctl apply -f manifests/examples/hello.yaml

or per command: $BIN/sprintctl --server https://127.0.0.1:9290 --token "\$(cat $DIR/token)" --certificate-authority $CERTS/ca.crt cluster status
Logs in $DIR/*.log; Ctrl-C stops everything.
EOF
"$BIN/sprintctl" --server https://127.0.0.1:9190 --token "$TOKEN" --certificate-authority "$CERTS/ca.crt" cluster status || true
wait
