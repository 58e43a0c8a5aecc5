#!/usr/bin/env bash
# bench-raftstore.sh: raftstore's write benchmark side by side with a
# 3-member etcd on the same machine, same disk, same value size (~1 KiB),
# at 1, 16 and 64 concurrent writers, interleaved so both see the same load.
#
#   scripts/bench-raftstore.sh            # N=3000 writes per point
#   N=5000 WRITERS="1 16 64" scripts/bench-raftstore.sh
#
# Needs etcd: installs Debian's etcd-server when /usr/bin/etcd is missing.
set -euo pipefail
cd "$(dirname "$0")/.."

N=${N:-3000}
WRITERS=${WRITERS:-"1 16 64"}
ETCD=${ETCD:-/usr/bin/etcd}

if [[ ! -x $ETCD ]]; then
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-raftstore.XXXXXX")
pids=()
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

cluster="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
for i in 1 2 3; do
  "$ETCD" --name "e$i" --data-dir "$work/e$i" \
    --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
    --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
    --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
    --logger zap --log-level error >"$work/e$i.log" 2>&1 &
  pids+=($!)
done
endpoints="127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793"

(cd test/etcdbench && go build -o "$work/etcdbench" .)
go test -c -o "$work/raftstore.test" ./raftstore

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), load $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# etcd: $("$ETCD" --version | head -1); N=$N writes of ~1 KiB per point"
for w in $WRITERS; do
  "$work/etcdbench" -endpoints "$endpoints" -writers "$w" -n "$N"
  (cd raftstore && "$work/raftstore.test" -test.run '^$' -test.bench "BenchmarkWrite/^writers=$w\$/^fsm-sync=false\$" \
    -test.benchtime "${N}x" 2>&1 | grep -E '^Benchmark|FAIL|Error|error' | grep -v '^ *cluster.go' || true)
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
