#!/usr/bin/env bash
# End-to-end benchmarks across real processes (docs/benchmarks.md):
#   (b) Runs/s and apply→Running percentiles, 3 sprint nodes, 100 simulated agents
#       (RunsPerSecond: a burst, one PUT per Run or RunLists with SPRINT_BENCH_BATCH;
#        Steady200: 200 Runs/s; SprintctlApplyFile: sprintctl apply -f of 1,000 Runs)
#   (c) 100,000 Runs stored: leader RSS, paginated list time, restart-to-ready
#   (d) watch fan-out: 100 watchers, delivery percentiles
# Knobs (environment): SPRINT_BENCH_RUNS (2000), SPRINT_BENCH_BATCH (1: one PUT
# per Run), SPRINT_BENCH_CLIENTS (16), SPRINT_BENCH_RATE (200) and
# SPRINT_BENCH_SECONDS (10) of Steady200, SPRINT_BENCH_FILE_RUNS (1000),
# SPRINT_BENCH_STORED (100000), SPRINT_BENCH_WATCHERS (100),
# SPRINT_BENCH_WATCH_RUNS (300), BENCH (regexp, default E2E);
# SPRINT_E2E_BIN (binaries of another build), SPRINT_E2E_LOGDIR (keep each
# process's output there). The (b) benchmarks start once every member's
# store level is recorded and the leader's controller has had offers.
#
#   BENCH='RunsPerSecond|Steady|SprintctlApply' SPRINT_BENCH_RUNS=10000 SPRINT_BENCH_BATCH=100 scripts/bench-e2e.sh
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== go: $(go version)"
SPRINT_BENCH_E2E=1 go test -run '^$' -bench "${BENCH:-E2E}" -benchtime 1x -timeout 60m ./test/e2e/ 2>&1 |
	grep -v '^\s*time=' | grep -v 'harness_test.go:.*--- output of'
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
