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
#   PROFILE=dir scripts/bench-entries.sh     # also CPU profiles of every node
#                                            # over the burst, raft's stage timings
#                                            # and the status writes' durations
set -euo pipefail
cd "$(dirname "$0")/.."
root=$PWD
N=${N:-2000}
W=${W:-16}
BATCH=${BATCH:-0}
AGENTS=${AGENTS:-100}
PORTS=${PORTS:-20000} # node i listens on PORTS+1000i+190 (API), +191 (Raft), +192 (pprof)
port() { echo $((PORTS + 1000 * $1 + $2)); }

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

# With PROFILE, every build gets a pprof listener on $SPRINT_BENCH_PPROF,
# added with go build -overlay so that any revision can be profiled, and
# hashicorp/raft's stage timings at /debug/raft-stages (as bench-api.sh).
cp "$root/scripts/benchpprof.go.in" "$work/benchpprof.go"
build() { # build SRC_DIR OUT_DIR
  local src=$1 dst=$2 overlay=()
  mkdir -p "$dst"
  if [[ -n ${PROFILE:-} ]]; then
    printf '{"Replace":{"%s/cmd/sprint/zz_benchpprof.go":"%s/benchpprof.go"}}' "$src" "$work" >"$work/overlay.json"
    overlay=(-overlay "$work/overlay.json")
  fi
  (cd "$src" && go build "${overlay[@]}" -o "$dst/" ./cmd/sprint ./cmd/mesos-sim)
}
systems=("new=$work/new")
build "$root" "$work/new"
if [[ -n ${BASE:-} ]]; then
  base_src=$work/base-src
  git worktree add --detach "$base_src" "$BASE" >/dev/null 2>&1
  build "$base_src" "$work/base"
  systems=("base=$work/base" "${systems[@]}")
fi
if [[ -n ${PROFILE:-} ]]; then mkdir -p "$PROFILE"; fi
go build -o "$work/apibench" ./test/apibench

leader_applied() {
  curl -fs http://127.0.0.1:$(port 1 190)/api/v1/cluster | sed -n 's/.*"appliedIndex":\([0-9]*\).*/\1/p'
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
  "$bin/mesos-sim" --listen 127.0.0.1:$(port 5 50) --agents "$AGENTS" --executor simulated \
    --agent-resources "cpus:16;mem:65536;disk:100000;ports:[31000-32000]" --work-dir "$d/sim" >"$d/sim.log" 2>&1 &
  pids+=($!)
  peers=""
  for i in 1 2 3; do peers+="${peers:+,}n$i=127.0.0.1:$(port $i 191)=http://127.0.0.1:$(port $i 190)"; done
  for i in 1 2 3; do
    SPRINT_BENCH_PPROF="127.0.0.1:$(port $i 192)" "$bin/sprint" --node-id "n$i" --data-dir "$d/n$i" --listen "127.0.0.1:$(port $i 190)" --raft-addr "127.0.0.1:$(port $i 191)" \
      --peers "$peers" --mesos-master http://127.0.0.1:$(port 5 50) --log-level warn >"$d/n$i.log" 2>&1 &
    pids+=($!)
  done
  for i in 1 2 3; do
    for _ in $(seq 150); do curl -fs "http://127.0.0.1:$(port $i 190)/readyz" >/dev/null 2>&1 && break; sleep 0.2; done
  done
  sleep 2 # the leader's first entries (members, framework ID)
  i0=$(leader_applied) c0=$(cpu_ticks) t0=$(date +%s.%N)
  profs=()
  if [[ -n ${PROFILE:-} ]]; then
    for i in 1 2 3; do
      role=follower
      if curl -fs "http://127.0.0.1:$(port $i 190)/api/v1/cluster" | grep -q '"state":"Leader"'; then role=leader; fi
      curl -fs -o "$PROFILE/$tag-n$i-$role.pprof" "http://127.0.0.1:$(port $i 192)/debug/pprof/profile?seconds=${PROFILE_SECONDS:-15}" &
      profs+=($!)
    done
  fi
  "$work/apibench" -endpoints "http://127.0.0.1:$(port 1 190),http://127.0.0.1:$(port 2 190),http://127.0.0.1:$(port 3 190)" \
    -writers "$W" -n "$N" -batch "$BATCH" -prefix "$tag" >/dev/null
  last=0 still=0
  while ((still < 6)); do
    sleep 0.5
    cur=$(leader_applied)
    if [[ $cur == "$last" ]]; then still=$((still + 1)); else still=0 last=$cur; fi
  done
  t1=$(date +%s.%N) c1=$(cpu_ticks)
  # Status writes (Runs written per status entry, summed) by the leader's
  # controller: only the leader's is non-zero.
  sw=0
  for i in 1 2 3; do
    v=$(curl -fs "http://127.0.0.1:$(port $i 190)/metrics" | awk '$1 == "sprint_controller_status_batch_size_sum" {print $2}')
    sw=$(awk -v a="$sw" -v b="${v:-0}" 'BEGIN{print a + b}')
  done
  for p in "${profs[@]}"; do wait "$p" || true; done
  if [[ -n ${PROFILE:-} ]]; then
    for i in 1 2 3; do
      curl -fs -o "$PROFILE/$tag-n$i.stages" "http://127.0.0.1:$(port $i 192)/debug/raft-stages?since=${t0%.*}" || true
      curl -fs "http://127.0.0.1:$(port $i 190)/metrics" | grep '^sprint_controller_status_write_seconds' >"$PROFILE/$tag-n$i.statuswrites" || true
    done
  fi
  awk -v tag="$tag" -v n="$N" -v i0="$i0" -v i1="$last" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" \
    -v t0="$t0" -v t1="$t1" -v l="$(cut -d' ' -f1 /proc/loadavg)" -v sw="$sw" \
    'BEGIN{printf "[%s] entries/Run=%.2f status-writes/Run=%.2f cpu-ms/Run(3 nodes)=%.2f until-idle-s=%.1f (load %s)\n", tag, (i1-i0)/n, sw/n, (c1-c0)*1000/hz/n, t1-t0-3, l}'
  stop_all
done
