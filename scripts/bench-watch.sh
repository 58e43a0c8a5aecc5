#!/usr/bin/env bash
# Watch benchmark across real processes (docs/benchmarks.md, (e) Watchers):
# N Runs stored on a three-node cluster, W watchers on the leader of which I
# never read, Runs changing meanwhile; the leader's RSS and the p99 of other
# requests. Knobs (environment), defaults the target's size:
#   SPRINT_BENCH_WATCH_STORED (100000) SPRINT_BENCH_WATCH_WATCHERS (1000)
#   SPRINT_BENCH_WATCH_IDLE (100) SPRINT_BENCH_WATCH_LISTERS (10)
#   SPRINT_BENCH_WATCH_RATE (50/s) SPRINT_BENCH_WATCH_SECONDS (30)
#   SPRINT_BENCH_WATCH_PAD (64) SPRINT_BENCH_WATCH_RSS_LIMIT (4096 MiB)
# With a git revision as argument (e.g. main), the same benchmark runs
# against that revision's binaries: the "before" of a change.
#   scripts/bench-watch.sh            # this checkout
#   scripts/bench-watch.sh main       # main's binaries, this benchmark
set -euo pipefail
cd "$(dirname "$0")/.."
rev="${1:-}"
if [ -n "$rev" ]; then
	tmp="$(mktemp -d)"
	trap 'rm -rf "$tmp"' EXIT
	git archive "$rev" | tar -x -C "$tmp"
	(cd "$tmp" && go build -o "$tmp/bin/" ./cmd/...)
	export SPRINT_E2E_BIN="$tmp/bin"
	echo "== binaries of $rev ($(git rev-parse --short "$rev"))"
fi
echo "== machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "== go: $(go version)"
SPRINT_BENCH_E2E=1 go test -run '^$' -bench '^BenchmarkWatchers$' -benchtime 1x -timeout 60m ./test/e2e/ 2>&1 |
	grep -v '^\s*time=' | grep -v 'harness_test.go:.*--- output of'
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
