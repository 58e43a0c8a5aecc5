#!/usr/bin/env bash
# bench-api.sh: sprint's REST write path side by side with etcd on the same
# machine and disk (docs/benchmarks.md, "REST writes vs etcd").
#
# Per writer count (1, 16, 64), interleaved so that every system sees the
# same load: a fresh 3-member etcd (Put of a 1 KiB value), then a fresh
# 3-node sprint cluster of each build under test (PUT /api/v1/runs/{name}
# of a Run whose JSON is ~1 KiB). Clients send their requests to all
# members/nodes in turn, so two sprint writes in three reach a follower and
# are forwarded. Each point runs DURATION after a 1 s warm-up; only one
# cluster runs at a time.
#
# Sprint's nodes talk to a mesos-sim process with no agents: Runs are
# stored and marked Pending by the controller (one batched status write per
# ~2 ms, as in production), but never launched, so the controller's Mesos
# work does not compete with the writes being measured.
#
#   scripts/bench-api.sh                      # this tree only
#   BASE=main scripts/bench-api.sh            # main's binaries too ("before"), same run
#   BASE_BIN=/path/to/bin scripts/bench-api.sh   # prebuilt sprint + mesos-sim as "before"
#   WRITERS="16 64" DURATION=20s PROFILE=64 scripts/bench-api.sh
#
# Each sprint line also gives the CPU time per write of the three nodes
# and of the leader (user+system from /proc over the point, warm-up
# included) and the Go heap allocations per write of the three nodes
# (their /metrics): the allocations do not depend on the machine's load,
# CPU time much less than the rates do.
#
# AGENTS=N gives mesos-sim N simulated agents, so that the Runs launch and
# finish at once (a profile of the whole pipeline rather than of the write
# path; not what docs/benchmarks.md compares); BATCH=B applies RunLists of
# B Runs (POST /api/v1/runs:apply) instead of one PUT per Run; ETCD=none
# skips etcd.
#
# PROFILE=W (default 64; PROFILE= for none) takes 5 s CPU profiles of the
# leader and of one follower during the point with W writers and prints
# their top entries and Raft's stage timings over the same 5 s (log
# writes, replication round trips, commit time, FSM batches); the profiles stay in OUT (default: a temporary
# directory that is removed; set OUT to keep them).
#
# Needs etcd: installs Debian's etcd-server when /usr/bin/etcd is missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD

WRITERS=${WRITERS:-"1 16 64"}
DURATION=${DURATION:-10s}
ETCD=${ETCD:-/usr/bin/etcd}
PROFILE=${PROFILE-64}
BATCH=${BATCH:-0}
AGENTS=${AGENTS:-0}

if [[ $ETCD != none && ! -x $ETCD ]]; then
  apt-get update -qq && apt-get install -y -qq etcd-server >/dev/null
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-api.XXXXXX")
out=${OUT:-$work/out}
mkdir -p "$out"
pids=()
node_pids=() # the sprint nodes' pids, by node number (1-3)
stop_all() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
  pids=()
}
cleanup() {
  stop_all
  if [[ -n ${base_src:-} ]]; then git -C "$root" worktree remove --force "$base_src" >/dev/null 2>&1 || true; fi
  rm -rf "$work"
}
trap cleanup EXIT

# Every build gets a pprof listener on $SPRINT_BENCH_PPROF, added with
# go build -overlay so that any revision can be profiled without changes;
# the nodes of the profiled point alone set it.
cp "$root/scripts/benchpprof.go.in" "$work/benchpprof.go"
build() { # build SRC_DIR OUT_DIR
  local src=$1 dst=$2
  mkdir -p "$dst"
  printf '{"Replace":{"%s/cmd/sprint/zz_benchpprof.go":"%s/benchpprof.go"}}' "$src" "$work" >"$work/overlay.json"
  (cd "$src" && go build -overlay "$work/overlay.json" -o "$dst/" ./cmd/sprint ./cmd/mesos-sim)
}

systems=()
echo "# building this tree ($(git describe --always --dirty 2>/dev/null || echo '?'))"
build "$root" "$work/new"
systems+=("new=$work/new")
if [[ -n ${BASE_BIN:-} ]]; then
  systems=("base=$BASE_BIN" "${systems[@]}")
elif [[ -n ${BASE:-} ]]; then
  base_src=$work/base-src
  echo "# building $BASE ($(git rev-parse --short "$BASE"))"
  git worktree add --detach "$base_src" "$BASE" >/dev/null 2>&1
  build "$base_src" "$work/base"
  systems=("base=$work/base" "${systems[@]}")
fi
(cd test/etcdbench && go build -o "$work/etcdbench" .)
go build -o "$work/apibench" ./test/apibench

wait_http() { # wait_http URL: up to 30 s for a 200
  for _ in $(seq 1 150); do
    curl -fs "$1" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "no answer from $1" >&2
  return 1
}

start_etcd() {
  local cluster="e1=http://127.0.0.1:23801,e2=http://127.0.0.1:23802,e3=http://127.0.0.1:23803"
  rm -rf "$work/etcd"
  for i in 1 2 3; do
    "$ETCD" --name "e$i" --data-dir "$work/etcd/e$i" \
      --listen-client-urls "http://127.0.0.1:2379$i" --advertise-client-urls "http://127.0.0.1:2379$i" \
      --listen-peer-urls "http://127.0.0.1:2380$i" --initial-advertise-peer-urls "http://127.0.0.1:2380$i" \
      --initial-cluster "$cluster" --initial-cluster-state new --initial-cluster-token bench \
      --logger zap --log-level error >"$work/etcd-e$i.log" 2>&1 &
    pids+=($!)
    etcd_pids[i]=$!
  done
  for i in 1 2 3; do wait_http "http://127.0.0.1:2379$i/health"; done
}

start_sprint() { # start_sprint BIN_DIR PROFILED (1: with the pprof listener and raft's timings)
  local bin=$1 profiled=${2:-0} peers=""
  rm -rf "$work/sprint"
  mkdir -p "$work/sprint"
  "$bin/mesos-sim" --listen 127.0.0.1:25050 --agents "$AGENTS" --executor simulated \
    --agent-resources "cpus:16;mem:65536;disk:100000;ports:[31000-32000]" \
    --work-dir "$work/sprint/mesos-sim" >"$work/sprint/mesos-sim.log" 2>&1 &
  pids+=($!)
  for i in 1 2 3; do peers+="${peers:+,}n$i=127.0.0.1:2${i}191=http://127.0.0.1:2${i}190"; done
  for i in 1 2 3; do
    # Only a profiled point gets the listener: it also keeps raft's
    # timings in memory (go-metrics), which costs CPU on every entry.
    SPRINT_BENCH_PPROF=$([[ $profiled == 1 ]] && echo "127.0.0.1:2${i}192") "$bin/sprint" --node-id "n$i" --data-dir "$work/sprint/n$i" \
      --listen "127.0.0.1:2${i}190" --raft-addr "127.0.0.1:2${i}191" --peers "$peers" \
      --mesos-master http://127.0.0.1:25050 --log-level warn >"$work/sprint/n$i.log" 2>&1 &
    pids+=($!)
    node_pids[i]=$!
  done
  for i in 1 2 3; do wait_http "http://127.0.0.1:2${i}190/readyz"; done
}

# cpu_ticks PID...: user+system clock ticks the processes used so far.
cpu_ticks() {
  local t=0 p
  for p in "$@"; do t=$((t + $(awk '{print $14 + $15}' "/proc/$p/stat" 2>/dev/null || echo 0))); done
  echo "$t"
}

# heap_allocs: objects and bytes the three nodes' Go heaps allocated so far
# (go_memstats_mallocs_total, go_memstats_alloc_bytes_total).
heap_allocs() {
  local i o=0 b=0 m
  for i in 1 2 3; do
    m=$(curl -fs "http://127.0.0.1:2${i}190/metrics" | awk '$1 == "go_memstats_mallocs_total" {o = $2} $1 == "go_memstats_alloc_bytes_total" {b = $2} END {printf "%d %d", o, b}')
    o=$((o + ${m% *})) b=$((b + ${m#* }))
  done
  echo "$o $b"
}

# commit_index N: node N's Raft commit index.
commit_index() {
  curl -fs "http://127.0.0.1:2${1}190/api/v1/cluster" | sed -n 's/.*"commitIndex":\([0-9]*\).*/\1/p'
}

# leader_index prints 1, 2 or 3: the node the cluster agrees leads.
leader_index() {
  local id
  for _ in $(seq 1 100); do
    id=$(curl -fs http://127.0.0.1:21190/api/v1/cluster | sed -n 's/.*"leader":"\(n[0-9]\)".*/\1/p')
    [[ -n $id ]] && { echo "${id#n}"; return 0; }
    sleep 0.2
  done
  return 1
}

# profile TAG WRITERS: CPU profiles of the leader and a follower, 5 s,
# starting 2 s into the measured part.
profile() {
  local tag=$1 w=$2 l f
  l=$(leader_index)
  f=$(( l % 3 + 1 ))
  sleep 3 # the 1 s warm-up, then 2 s into the measurement
  local since
  since=$(date +%s)
  curl -fs -o "$out/$tag-w$w-leader.pprof" "http://127.0.0.1:2${l}192/debug/pprof/profile?seconds=5" &
  curl -fs -o "$out/$tag-w$w-follower.pprof" "http://127.0.0.1:2${f}192/debug/pprof/profile?seconds=5" &
  if [[ -n ${ALLOCS:-} ]]; then
    curl -fs -o "$out/$tag-w$w-leader.allocs" "http://127.0.0.1:2${l}192/debug/pprof/allocs?seconds=5" &
    curl -fs -o "$out/$tag-w$w-follower.allocs" "http://127.0.0.1:2${f}192/debug/pprof/allocs?seconds=5" &
  fi
  wait
  sleep 1
  curl -fs -o "$out/$tag-w$w-leader.stages" "http://127.0.0.1:2${l}192/debug/raft-stages?since=$since" || true
  curl -fs -o "$out/$tag-w$w-follower.stages" "http://127.0.0.1:2${f}192/debug/raft-stages?since=$since" || true
}

endpoints_sprint="http://127.0.0.1:21190,http://127.0.0.1:22190,http://127.0.0.1:23190"
endpoints_etcd="127.0.0.1:23791,127.0.0.1:23792,127.0.0.1:23793"
ops() { sed -n 's/.*ops\/s=\([0-9.]*\).*/\1/p' <<<"$1"; }

echo "# machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | xargs), $(go version | cut -d' ' -f3)"
echo "# etcd: $([[ $ETCD == none ]] && echo none || "$ETCD" --version | head -1); $DURATION per point after a 1 s warm-up; 1 KiB values / ~1 KiB Run JSON; systems: ${systems[*]%%=*}"
for w in $WRITERS; do
  echo "## writers=$w (load $(cut -d' ' -f1-3 /proc/loadavg))"
  e="etcd ops/s=0"
  if [[ $ETCD != none ]]; then
    start_etcd
    t0=$(cpu_ticks "${etcd_pids[@]}")
    e=$("$work/etcdbench" -endpoints "$endpoints_etcd" -spread -writers "$w" -duration "$DURATION" -warmup 1s)
    t1=$(cpu_ticks "${etcd_pids[@]}")
    stop_all
    # The three members' CPU per put, measured as sprint's below.
    n=$(sed -n 's/.* n=\([0-9]*\).*/\1/p' <<<"$e")
    echo "$e $(awk -v t=$((t1 - t0)) -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" 'BEGIN{if (n > 0) printf "cpu-ms/put=%.3f", t*1000/hz/n; else printf "cpu-ms/put=-"}')"
  fi
  for s in "${systems[@]}"; do
    tag=${s%%=*} bin=${s#*=}
    start_sprint "$bin" "$([[ $PROFILE == "$w" ]] && echo 1 || echo 0)"
    if [[ $PROFILE == "$w" ]]; then profile "$tag" "$w" & prof=$!; fi
    lead=$(leader_index)
    a0=$(heap_allocs) t0=$(cpu_ticks "${node_pids[@]}") l0=$(cpu_ticks "${node_pids[lead]}") c0=$(commit_index "$lead")
    r=$("$work/apibench" -endpoints "$endpoints_sprint" -writers "$w" -duration "$DURATION" -warmup 1s -batch "$BATCH" -prefix "$tag$w")
    t1=$(cpu_ticks "${node_pids[@]}") l1=$(cpu_ticks "${node_pids[lead]}") a1=$(heap_allocs) c1=$(commit_index "$lead")
    if [[ $PROFILE == "$w" ]]; then wait "$prof" || true; fi
    stop_all
    # CPU per write: the three nodes' (and the leader's) user+system time
    # over the point, warm-up included, divided by the writes measured
    # (without the warm-up's): a slight overestimate, the same for every build.
    n=$(sed -n 's/.* n=\([0-9]*\).*/\1/p' <<<"$r")
    # Heap allocations per write, the three nodes together (GC's work
    # follows them), measured the same way; unlike CPU time they do not
    # depend on the machine's load. Raft entries per write: the entries
    # the leader committed over the point (warm-up and the controller's
    # status writes included) per write measured.
    cpu=$(awk -v t=$((t1 - t0)) -v l=$((l1 - l0)) -v n="${n:-0}" -v hz="$(getconf CLK_TCK)" \
      -v o=$((${a1% *} - ${a0% *})) -v b=$((${a1#* } - ${a0#* })) -v e=$((${c1:-0} - ${c0:-0})) \
      'BEGIN{if (n > 0) printf "cpu-ms/write=%.3f leader=%.3f allocs/write=%.0f KiB/write=%.1f entries/write=%.2f", t*1000/hz/n, l*1000/hz/n, o/n, b/1024/n, e/n; else printf "cpu-ms/write=-"}')
    echo "$r ratio=$(awk -v a="$(ops "$r")" -v b="$(ops "$e")" 'BEGIN{if (b > 0) printf "%.2f", a/b; else printf "-"}') $cpu [$tag] (load $(cut -d' ' -f1 /proc/loadavg))"
  done
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"

if [[ -n $PROFILE ]]; then
  for f in "$out"/*.pprof; do
    [[ -s $f ]] || continue
    echo "## $(basename "$f" .pprof): top entries (flat)"
    go tool pprof -top -nodecount=25 "$f" 2>/dev/null | sed -n '4,30p'
  done
  # Where a write's time goes inside Raft (hashicorp/raft's timings, ms):
  # leader.dispatchLog is the leader's log write (raft-boltdb: two fsyncs)
  # before it replicates; replication.appendEntries.rpc a follower's round
  # trip, its own log write (rpc.appendEntries.storeLogs) included;
  # commitTime from the leader's dispatch to the commit; fsm.applyBatch
  # the FSM's bbolt transaction per batch; boltdb.logsPerBatch and
  # fsm.applyBatchNum the entries per log write and per FSM batch.
  stages='raft\.(commitTime|leader\.dispatchLog|replication\.appendEntries\.rpc |rpc\.appendEntries\.storeLogs|boltdb\.(storeLogs|logsPerBatch)|fsm\.(applyBatch|applyBatchNum|enqueue)|thread\.(main|fsm)\.saturation)'
  for f in "$out"/*.stages; do
    [[ -s $f ]] || continue
    echo "## $(basename "$f" .stages): raft stages during the profile (ms; counts per 5 s)"
    grep -E "$stages" "$f" || true
  done
  [[ -n ${OUT:-} ]] && echo "# profiles in $out"
fi
