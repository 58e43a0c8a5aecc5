#!/usr/bin/env bash
# bench-entries.sh: what one Run costs the cluster from apply to Succeeded,
# counted rather than timed, so that it can be compared on a shared
# machine (docs/benchmarks.md, "Round 2 of issue 17").
#
# Per build: a fresh 3-node cluster with mesos-sim (AGENTS simulated agents,
# default 100); N Runs (default 2000) applied by W writers (default 16)
# through all three nodes, one PUT each (BATCH=B: RunLists of B); then it
# waits until the leader's applied index has been still for 3 s and prints
# the Raft entries per Run (applied index over the span / N) and the CPU
# time of the three sprint processes per Run (/proc/PID/stat).
#
#   scripts/bench-entries.sh                 # this tree
#   BASE=main scripts/bench-entries.sh       # main too ("before"), same run
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
N=${N:-2000}
W=${W:-16}
BATCH=${BATCH:-0}
AGENTS=${AGENTS:-100}

work=$(mktemp -d "${TMPDIR:-/tmp}/bench-entries.XXXXXX")
pids=()
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

systems=("new=$work/new")
go build -o "$work/new/" ./cmd/sprint ./cmd/mesos-sim
if [[ -n ${BASE:-} ]]; then
  base_src=$work/base-src
  git worktree add --detach "$base_src" "$BASE" >/dev/null 2>&1
  (cd "$base_src" && go build -o "$work/base/" ./cmd/sprint ./cmd/mesos-sim)
  systems=("base=$work/base" "${systems[@]}")
fi
go build -o "$work/apibench" ./test/apibench

leader_applied() {
  curl -fs http://127.0.0.1:21190/api/v1/cluster | sed -n 's/.*"appliedIndex":\([0-9]*\).*/\1/p'
}
cpu_ticks() { # utime+stime of the sprint processes
  local t=0 u s
  for p in "${pids[@]:1}"; do
    read -r u s < <(awk '{print $14, $15}' "/proc/$p/stat")
    t=$((t + u + s))
  done
  echo "$t"
}

echo "# $(nproc) cores, $(go version | cut -d' ' -f3); $N Runs, $W writers, batch $BATCH, $AGENTS agents"
for sys in "${systems[@]}"; do
  tag=${sys%%=*} bin=${sys#*=} d=$work/run-$tag
  mkdir -p "$d"
  "$bin/mesos-sim" --listen 127.0.0.1:25050 --agents "$AGENTS" --executor simulated \
    --agent-resources "cpus:16;mem:65536;disk:100000;ports:[31000-32000]" --work-dir "$d/sim" >"$d/sim.log" 2>&1 &
  pids+=($!)
  peers=""
  for i in 1 2 3; do peers+="${peers:+,}n$i=127.0.0.1:2${i}191=http://127.0.0.1:2${i}190"; done
  for i in 1 2 3; do
    "$bin/sprint" --node-id "n$i" --data-dir "$d/n$i" --listen "127.0.0.1:2${i}190" --raft-addr "127.0.0.1:2${i}191" \
      --peers "$peers" --mesos-master http://127.0.0.1:25050 --log-level warn >"$d/n$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 150); do curl -fs "http://127.0.0.1:2${i}190/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  done
  sleep 2 # the leader's first entries (members, framework ID)
  i0=$(leader_applied) c0=$(cpu_ticks) t0=$(date +%s.%N)
  "$work/apibench" -endpoints http://127.0.0.1:21190,http://127.0.0.1:22190,http://127.0.0.1:23190 \
    -writers "$W" -n "$N" -batch "$BATCH" -prefix "$tag" >/dev/null
  last=0 still=0
  while ((still < 6)); do
    sleep 0.5
    cur=$(leader_applied)
    if [[ $cur == "$last" ]]; then still=$((still + 1)); else still=0 last=$cur; fi
  done
  t1=$(date +%s.%N) c1=$(cpu_ticks)
  awk -v tag="$tag" -v n="$N" -v i0="$i0" -v i1="$last" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" \
    -v t0="$t0" -v t1="$t1" -v l="$(cut -d' ' -f1 /proc/loadavg)" \
    'BEGIN{printf "[%s] entries/Run=%.2f cpu-ms/Run(3 nodes)=%.2f until-idle-s=%.1f (load %s)\n", tag, (i1-i0)/n, (c1-c0)*1000/hz/n, t1-t0-3, l}'
  stop_all
done
