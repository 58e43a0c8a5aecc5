package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// The end-to-end benchmarks start real clusters; they run only when
// SPRINT_BENCH_E2E is set (scripts/bench-e2e.sh), one iteration each.
func benchGate(b *testing.B) {
	b.Helper()
	if os.Getenv("SPRINT_BENCH_E2E") == "" {
		b.Skip("set SPRINT_BENCH_E2E=1 (scripts/bench-e2e.sh)")
	}
}

// benchInt reads an integer knob from the environment.
func benchInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// percentile returns the p-th percentile (0–100) of ds, sorting it.
func percentile(ds []time.Duration, p float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	i := int(float64(len(ds)-1) * p / 100)
	return ds[i]
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// rssMiB reads a process's resident set size from /proc, and its parts:
// anonymous memory (the Go heap and stacks) and file pages (bbolt's
// memory-mapped files, shared with the page cache).
func rssMiB(pid int) (total, anon, file float64) {
	total, anon, file, _ = rssStatus(pid)
	return total, anon, file
}

// rssStatus is rssMiB plus the peak RSS of the process's life (VmHWM).
func rssStatus(pid int) (total, anon, file, peak float64) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, 0, 0, 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		key, rest, ok := strings.Cut(line, ":")
		if !ok {
			continue
		}
		kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")))
		switch key {
		case "VmRSS":
			total = float64(kb) / 1024
		case "RssAnon":
			anon = float64(kb) / 1024
		case "RssFile":
			file = float64(kb) / 1024
		case "VmHWM":
			peak = float64(kb) / 1024
		}
	}
	return total, anon, file, peak
}

// rssByMapping sums the resident pages of each file a process maps (from
// /proc/<pid>/smaps), largest first, so a report says which file holds
// the memory: bbolt maps raft.db and fsm.db whole.
func rssByMapping(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/smaps", pid))
	if err != nil {
		return ""
	}
	sums := map[string]int{}
	name := ""
	for _, line := range strings.Split(string(b), "\n") {
		fields := strings.Fields(line)
		if len(fields) >= 5 && strings.Contains(fields[0], "-") && !strings.HasSuffix(fields[0], ":") {
			name = "[anon]"
			if len(fields) >= 6 {
				name = filepath.Base(fields[5])
			}
			continue
		}
		if len(fields) == 3 && fields[0] == "Rss:" {
			kb, _ := strconv.Atoi(fields[1])
			sums[name] += kb
		}
	}
	var names []string
	for n, kb := range sums {
		if kb >= 1024 {
			names = append(names, n)
		}
	}
	sort.Slice(names, func(i, j int) bool { return sums[names[i]] > sums[names[j]] })
	var parts []string
	for _, n := range names {
		parts = append(parts, fmt.Sprintf("%s %d MiB", n, sums[n]/1024))
	}
	return strings.Join(parts, ", ")
}

// (b) End-to-end throughput: Runs applied through the REST API of random
// nodes of a three-node cluster, run by 100 simulated agents; Runs/s from
// the first apply to the last Running and to the last Succeeded, and
// apply→Running percentiles. SPRINT_BENCH_BATCH > 1 applies RunLists of
// that many Runs (POST /api/v1/runs:apply, one Raft entry each) instead of
// one PUT per Run; SPRINT_BENCH_CLIENTS sets the concurrent clients.
func BenchmarkE2E_RunsPerSecond100Agents(b *testing.B) {
	benchGate(b)
	n := benchInt("SPRINT_BENCH_RUNS", 2000)
	batch := benchInt("SPRINT_BENCH_BATCH", 1)
	clients := benchInt("SPRINT_BENCH_CLIENTS", 16)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 100, resources: "cpus:16;mem:65536;disk:100000;ports:[31000-32000]"}})
	waitFormed(b, c)
	for it := 0; it < b.N; it++ {
		suite := fmt.Sprintf("tp%d", it)
		tr := watchRunning(b, c, suite, n)
		var specs []*apis.Run
		for _, name := range runNames(suite, n) {
			specs = append(specs, simRun(name, suite, time.Second))
		}
		b.ResetTimer()
		began := time.Now()
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Minute)
		failures := applyConcurrently(actx, c, specs, clients, batch, tr.sent)
		appliedIn := time.Since(began)
		tr.wait(b, 10*time.Minute)
		b.StopTimer()
		acancel()
		lat, lastRunning, lastDone := tr.results()
		toRunning, total := lastRunning.Sub(began), lastDone.Sub(began)
		b.ReportMetric(float64(n)/toRunning.Seconds(), "running/s")
		b.ReportMetric(float64(n)/total.Seconds(), "runs/s")
		b.ReportMetric(float64(n)/appliedIn.Seconds(), "applies/s")
		b.ReportMetric(ms(percentile(lat, 50)), "apply-running-p50-ms")
		b.ReportMetric(ms(percentile(lat, 99)), "apply-running-p99-ms")
		b.Logf("%d Runs (1 s each) on 100 agents, %d clients, %d Runs per request: applied in %v, all Running after %v (%.0f/s), all Succeeded after %v; apply→Running p50 %v p90 %v p99 %v max %v; failed applies %d",
			n, clients, batch, appliedIn.Round(time.Millisecond), toRunning.Round(time.Millisecond), float64(n)/toRunning.Seconds(),
			total.Round(time.Millisecond), percentile(lat, 50).Round(time.Millisecond),
			percentile(lat, 90).Round(time.Millisecond), percentile(lat, 99).Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond), failures)
		b.Logf("stages: %s", tr.stageReport())
		b.Logf("leader controller %s", controllerCounts(c.leader().url, n))
		b.Logf("raft: %s", raftReport(c, n))
	}
}

// waitFormed waits until every member's store level is recorded and the
// leader's controller has had offers from Mesos, and logs how long each
// took after the nodes were ready. A bootstrapped cluster's leader records
// only its own level as it takes office; the followers report theirs once
// they know it (cmd/sprint, storelevel.go). Until the last report is in,
// the leader refuses writes of newer levels and commits each launch's
// attempt in an entry of its own, and until the controller has subscribed
// to the master, Runs wait for their first offers: a benchmark started
// then measures the cluster forming, not the cluster.
func waitFormed(b *testing.B, c *cluster) {
	b.Helper()
	began := time.Now()
	deadline := began.Add(time.Minute)
	var levels time.Duration
	for {
		ld := c.leader()
		if levels == 0 {
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			info, err := ld.client.Cluster(ctx)
			cancel()
			if err == nil && formed(info, len(c.nodes)) {
				levels = max(time.Since(began), time.Nanosecond)
			}
		}
		if levels > 0 {
			if _, val, err := scrapeMetrics(ld.url); err == nil && val("sprint_controller_offers_received_total") > 0 {
				b.Logf("cluster formed %v after the nodes were ready (every member's store level recorded after %v)",
					time.Since(began).Round(time.Millisecond), levels.Round(time.Millisecond))
				return
			}
		}
		if time.Now().After(deadline) {
			b.Fatalf("cluster not formed within a minute of the nodes being ready (levels recorded after %v)", levels)
		}
		time.Sleep(10 * time.Millisecond) // real processes: nothing to wait on but their answers
	}
}

// formed reports whether info lists n members, each with at least the
// store level the leader recorded for itself (0 for binaries that predate
// levels: nothing to wait for).
func formed(info *client.Cluster, n int) bool {
	level := 0
	for _, m := range info.Members {
		if m.ID == info.Leader {
			level = m.StoreLevel
		}
	}
	if len(info.Members) != n {
		return false
	}
	for _, m := range info.Members {
		if m.StoreLevel < level {
			return false
		}
	}
	return true
}

// (b') A steady stream: SPRINT_BENCH_RATE Runs/s (200) applied one PUT
// each through random nodes for SPRINT_BENCH_SECONDS (10 s);
// apply→Running percentiles.
func BenchmarkE2E_Steady200(b *testing.B) {
	benchGate(b)
	rate := benchInt("SPRINT_BENCH_RATE", 200)
	n := rate * benchInt("SPRINT_BENCH_SECONDS", 10)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 100, resources: "cpus:16;mem:65536;disk:100000;ports:[31000-32000]"}})
	waitFormed(b, c)
	for it := 0; it < b.N; it++ {
		suite := fmt.Sprintf("st%d", it)
		tr := watchRunning(b, c, suite, n)
		b.ResetTimer()
		began := time.Now()
		var wg sync.WaitGroup
		var failures atomic.Int64
		tick := time.NewTicker(time.Second / time.Duration(rate))
		for _, name := range runNames(suite, n) {
			<-tick.C
			r := simRun(name, suite, time.Second)
			wg.Add(1)
			go func() {
				defer wg.Done()
				ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
				defer cancel()
				tr.sent(r.Metadata.Name)
				nd := c.nodes[rand.IntN(len(c.nodes))]
				if _, _, err := nd.client.Apply(ctx, r, client.ApplyOptions{}); err != nil {
					failures.Add(1)
					b.Errorf("apply %s: %v", r.Metadata.Name, err)
				}
			}()
		}
		tick.Stop()
		wg.Wait()
		offered := time.Since(began)
		tr.wait(b, 5*time.Minute)
		b.StopTimer()
		lat, _, _ := tr.results()
		b.ReportMetric(float64(n)/offered.Seconds(), "applies/s")
		b.ReportMetric(ms(percentile(lat, 50)), "apply-running-p50-ms")
		b.ReportMetric(ms(percentile(lat, 99)), "apply-running-p99-ms")
		b.Logf("%d Runs at %d/s (achieved %.0f/s) through random nodes: apply→Running p50 %v p90 %v p99 %v max %v; failed applies %d",
			n, rate, float64(n)/offered.Seconds(), percentile(lat, 50).Round(time.Millisecond), percentile(lat, 90).Round(time.Millisecond),
			percentile(lat, 99).Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond), failures.Load())
		b.Logf("stages: %s", tr.stageReport())
		b.Logf("apply→Running p99/max of the Runs sent in each second: %s", tr.bySecond(began))
		b.Logf("leader controller %s", controllerCounts(c.leader().url, n))
		b.Logf("raft: %s", raftReport(c, n))
	}
}

// (b”) sprintctl apply -f of a file of SPRINT_BENCH_FILE_RUNS (1,000)
// Runs through a follower: the wall time of the command.
func BenchmarkE2E_SprintctlApplyFile(b *testing.B) {
	benchGate(b)
	n := benchInt("SPRINT_BENCH_FILE_RUNS", 1000)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 100, resources: "cpus:16;mem:65536;disk:100000;ports:[31000-32000]"}})
	via := c.followers()[0]
	for it := 0; it < b.N; it++ {
		var file strings.Builder
		for _, name := range runNames(fmt.Sprintf("file%d", it), n) {
			fmt.Fprintf(&file, "---\napiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: %s\nspec:\n  command: \"true\"\n  cpus: 0.01\n  mem: 1\n  env:\n    SIM_DURATION: 1s\n", name)
		}
		path := filepath.Join(b.TempDir(), "runs.yaml")
		require.NoError(b, os.WriteFile(path, []byte(file.String()), 0o644))
		b.ResetTimer()
		began := time.Now()
		cmd := exec.Command(filepath.Join(binDir, "sprintctl"), "--server", via.url, "apply", "-f", path)
		out, err := cmd.CombinedOutput()
		took := time.Since(began)
		b.StopTimer()
		require.NoError(b, err, "%s", out)
		require.Equal(b, n, strings.Count(string(out), " created"), "%s", out)
		b.ReportMetric(took.Seconds(), "apply-s")
		b.Logf("sprintctl apply -f of %d Runs through follower %s: %v", n, via.id, took.Round(time.Millisecond))
	}
}

// runTracker follows a suite's Runs with a watch on the leader: when each
// was sent, when it was first seen Running, when each Succeeded.
type runTracker struct {
	mu          sync.Mutex
	n           int
	sentAt      map[string]time.Time
	running     map[string]time.Time
	stages      map[string]*runStages
	succeeded   int
	lastRunning time.Time
	lastDone    time.Time
	allDone     chan struct{}
	stop        func()
}

func watchRunning(b *testing.B, c *cluster, suite string, n int) *runTracker {
	b.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	w, err := c.leader().client.Watch(ctx, client.WatchOptions{LabelSelector: "suite=" + suite})
	require.NoError(b, err)
	tr := &runTracker{n: n, sentAt: map[string]time.Time{}, running: map[string]time.Time{}, stages: map[string]*runStages{}, allDone: make(chan struct{})}
	tr.stop = func() { cancel(); w.Stop() }
	b.Cleanup(tr.stop)
	go func() {
		for ev := range w.Events() {
			now := time.Now()
			tr.mu.Lock()
			name := ev.Run.Metadata.Name
			phase := ev.Run.Status.Phase
			tr.observe(ev.Run, now)
			if _, ok := tr.running[name]; !ok && (phase == apis.PhaseRunning || phase == apis.PhaseSucceeded) {
				tr.running[name] = now // Running and Succeeded may come in one status batch
				tr.lastRunning = now
			}
			if phase == apis.PhaseSucceeded {
				tr.succeeded++
				tr.lastDone = now
				if tr.succeeded == tr.n {
					close(tr.allDone)
				}
			}
			tr.mu.Unlock()
		}
	}()
	return tr
}

// runStages are the moments of one Run's way to Running: those the
// cluster stamped into the Run (the leader's creation stamp, the status
// writer's batch times of the Starting and the Running status) and when
// the watch delivered each phase here. The stamps are the nodes' clocks,
// the same machine's as the benchmark's.
type runStages struct {
	created, starting, running           time.Time // stamped by the cluster
	seenAdded, seenStarting, seenRunning time.Time // delivered by the watch
}

// observe notes the stages ev shows of its Run. Caller holds tr.mu.
func (tr *runTracker) observe(run *apis.Run, now time.Time) {
	st := tr.stages[run.Metadata.Name]
	if st == nil {
		st = &runStages{seenAdded: now}
		if run.Metadata.CreationTimestamp != nil {
			st.created = *run.Metadata.CreationTimestamp
		}
		tr.stages[run.Metadata.Name] = st
	}
	s := run.Status
	switch {
	case s.Phase == apis.PhaseStarting && st.seenStarting.IsZero():
		st.seenStarting = now
		if s.LastTransitionTime != nil {
			st.starting = *s.LastTransitionTime
		}
	case (s.Phase == apis.PhaseRunning || s.Phase == apis.PhaseSucceeded) && st.seenRunning.IsZero():
		st.seenRunning = now
		if s.StartTime != nil {
			st.running = *s.StartTime
		}
	}
}

// stageReport renders the percentiles of each stage between apply and
// Running, for the Runs whose every stage was seen.
func (tr *runTracker) stageReport() string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	type stage struct {
		name string
		d    func(sent time.Time, s *runStages) time.Duration
	}
	stages := []stage{
		{"sent→created", func(t0 time.Time, s *runStages) time.Duration { return s.created.Sub(t0) }},
		{"created→watch(added)", func(_ time.Time, s *runStages) time.Duration { return s.seenAdded.Sub(s.created) }},
		{"created→starting-batch", func(_ time.Time, s *runStages) time.Duration { return s.starting.Sub(s.created) }},
		{"starting-batch→watch(starting)", func(_ time.Time, s *runStages) time.Duration { return s.seenStarting.Sub(s.starting) }},
		{"starting-batch→running-batch", func(_ time.Time, s *runStages) time.Duration { return s.running.Sub(s.starting) }},
		{"running-batch→watch(running)", func(_ time.Time, s *runStages) time.Duration { return s.seenRunning.Sub(s.running) }},
	}
	var parts []string
	for _, sg := range stages {
		var ds []time.Duration
		for name, t0 := range tr.sentAt {
			s := tr.stages[name]
			if s == nil || s.created.IsZero() || s.starting.IsZero() || s.running.IsZero() || s.seenStarting.IsZero() || s.seenRunning.IsZero() {
				continue
			}
			ds = append(ds, sg.d(t0, s))
		}
		parts = append(parts, fmt.Sprintf("%s p50 %v p99 %v", sg.name,
			percentile(ds, 50).Round(100*time.Microsecond), percentile(ds, 99).Round(100*time.Microsecond)))
	}
	// The slowest Run, stage by stage, from its apply.
	var worst string
	var worstAt time.Duration
	for name, t0 := range tr.sentAt {
		if s := tr.stages[name]; s != nil && !s.seenRunning.IsZero() && s.seenRunning.Sub(t0) > worstAt {
			worst, worstAt = name, s.seenRunning.Sub(t0)
		}
	}
	if s := tr.stages[worst]; s != nil {
		t0 := tr.sentAt[worst]
		at := func(t time.Time) string {
			if t.IsZero() {
				return "-"
			}
			return t.Sub(t0).Round(100 * time.Microsecond).String()
		}
		parts = append(parts, fmt.Sprintf("slowest %s from its apply: created %s, added seen %s, starting batch %s, starting seen %s, running batch %s, running seen %s",
			worst, at(s.created), at(s.seenAdded), at(s.starting), at(s.seenStarting), at(s.running), at(s.seenRunning)))
	}
	return strings.Join(parts, "; ")
}

// scrapeMetrics fetches a node's /metrics. It returns the body and a
// lookup of one sample's value by name (a regexp matched against the
// whole name and labels; 0 when absent).
func scrapeMetrics(url string) ([]byte, func(name string) float64, error) {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return nil, nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, nil, err
	}
	return body, func(name string) float64 {
		m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
		if m == nil {
			return 0
		}
		var v float64
		_, _ = fmt.Sscan(string(m[1]), &v)
		return v
	}, nil
}

// controllerCounts renders, per Run, what the leader's controller did for
// n Runs (from its /metrics): offers accepted and declined, and status
// batches (Raft entries of UpdateStatuses) with their mean size.
func controllerCounts(url string, n int) string {
	body, val, err := scrapeMetrics(url)
	if err != nil {
		return err.Error()
	}
	batches, updates := val("sprint_controller_status_batch_size_count"), val("sprint_controller_status_batch_size_sum")
	// A watch closed as too slow reconnects and relists: what it missed
	// is seen late, which shows as a slow stage of the Runs it missed.
	closed := regexp.MustCompile(`(?m)^sprint_http_watch\S*closed\S* \S+$`).FindAll(body, -1)
	// How long the status entries took in the store (proposal to apply on
	// the leader): a tail here is Raft's and the FSM's, not the controller's.
	writes, writeSum := val("sprint_controller_status_write_seconds_count"), val("sprint_controller_status_write_seconds_sum")
	within := func(le string) float64 {
		return val(`sprint_controller_status_write_seconds_bucket\{le="` + le + `"\}`)
	}
	return fmt.Sprintf("per Run: offers received %.2f, accepted %.2f, declined %.2f, REVIVEs %.3f, status entries %.2f (%.1f updates each; store write mean %.0f ms, over 0.5 s %.0f, over 2 s %.0f of %.0f); watches closed: %s",
		val("sprint_controller_offers_received_total")/float64(n),
		val("sprint_controller_offers_used_total")/float64(n), val("sprint_controller_offers_declined_total")/float64(n),
		val("sprint_controller_revives_total")/float64(n),
		batches/float64(n), updates/max(batches, 1), 1000*writeSum/max(writes, 1), writes-within("0.512"), writes-within("2.048"), writes,
		bytes.Join(closed, []byte(", ")))
}

// raftReport renders how many Raft entries the leader's log holds per Run
// and how many snapshots each node took (raft logs each one), from the
// start of its process: a snapshot writes the whole fsm.db on every node,
// which a tail in the store writes could come from.
func raftReport(c *cluster, n int) string {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	info, err := c.leader().client.Cluster(ctx)
	if err != nil {
		return err.Error()
	}
	var snaps []string
	for _, nd := range c.nodes {
		if p := nd.current(); p != nil {
			snaps = append(snaps, fmt.Sprintf("%s %d", nd.id, strings.Count(p.out.String(), "snapshot complete up to")))
		}
	}
	return fmt.Sprintf("leader's last index %d (%.2f entries per Run), snapshots taken: %s", info.LastIndex, float64(info.LastIndex)/float64(n), strings.Join(snaps, ", "))
}

// sent records that name's apply is being sent now.
func (tr *runTracker) sent(name string) {
	tr.mu.Lock()
	tr.sentAt[name] = time.Now()
	tr.mu.Unlock()
}

func (tr *runTracker) wait(b *testing.B, d time.Duration) {
	b.Helper()
	select {
	case <-tr.allDone:
	case <-time.After(d):
		tr.mu.Lock()
		defer tr.mu.Unlock()
		b.Fatalf("only %d of %d Runs succeeded", tr.succeeded, tr.n)
	}
	tr.stop()
}

// bySecond renders apply→Running p99 and max of the Runs sent in each
// second from began: a tail at the start is the cluster warming up (its
// first offers, connections, heap), one spread over the run is not.
func (tr *runTracker) bySecond(began time.Time) string {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var secs [][]time.Duration
	for name, t0 := range tr.sentAt {
		t1, ok := tr.running[name]
		if !ok {
			continue
		}
		i := max(0, int(t0.Sub(began)/time.Second))
		for len(secs) <= i {
			secs = append(secs, nil)
		}
		secs[i] = append(secs[i], t1.Sub(t0))
	}
	parts := make([]string, len(secs))
	for i, ds := range secs {
		parts[i] = fmt.Sprintf("%ds %v/%v", i, percentile(ds, 99).Round(time.Millisecond), percentile(ds, 100).Round(time.Millisecond))
	}
	return strings.Join(parts, ", ")
}

// results returns apply→Running latencies and the last Running and
// Succeeded times.
func (tr *runTracker) results() ([]time.Duration, time.Time, time.Time) {
	tr.mu.Lock()
	defer tr.mu.Unlock()
	var lat []time.Duration
	for name, t0 := range tr.sentAt {
		if t1, ok := tr.running[name]; ok {
			lat = append(lat, t1.Sub(t0))
		}
	}
	return lat, tr.lastRunning, tr.lastDone
}

// applyConcurrently applies specs through random nodes with the given
// number of clients, one PUT per Run (batch 1) or RunLists of batch Runs,
// retrying failed requests; it returns the count of failed attempts.
func applyConcurrently(ctx context.Context, c *cluster, specs []*apis.Run, clients, batch int, sent func(string)) int64 {
	var failures atomic.Int64
	work := make(chan []*apis.Run)
	var wg sync.WaitGroup
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for group := range work {
				for ctx.Err() == nil {
					for _, r := range group {
						sent(r.Metadata.Name)
					}
					nd := c.nodes[rand.IntN(len(c.nodes))]
					rctx, cancel := context.WithTimeout(ctx, 30*time.Second)
					err := applyGroup(rctx, nd.client, group)
					cancel()
					if err == nil {
						break
					}
					failures.Add(1)
					time.Sleep(50 * time.Millisecond) // back-off before the next node
				}
			}
		}()
	}
	for i := 0; i < len(specs); i += batch {
		work <- specs[i:min(i+batch, len(specs))]
	}
	close(work)
	wg.Wait()
	return failures.Load()
}

func applyGroup(ctx context.Context, cl *client.Client, group []*apis.Run) error {
	if len(group) == 1 {
		_, _, err := cl.Apply(ctx, group[0], client.ApplyOptions{})
		return err
	}
	runs := make([]apis.Run, len(group))
	for i, r := range group {
		runs[i] = *r
	}
	res, err := cl.ApplyList(ctx, runs, client.ApplyOptions{})
	if err != nil {
		return err
	}
	for _, r := range res {
		if r.Err != nil {
			return r.Err
		}
	}
	return nil
}

// (c) 100,000 Runs stored (created with spec.cancel, so they finish as
// Killed without a task, and kept: --gc-max-finished 1000000): leader RSS,
// time to list them all in pages of 500, and restart-to-ready time of the
// whole cluster.
func BenchmarkE2E_100kRunsStored(b *testing.B) {
	benchGate(b)
	n := benchInt("SPRINT_BENCH_STORED", 100000)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 1}, extra: []string{"--gc-max-finished", "1000000"}})
	for it := 0; it < b.N; it++ {
		leader := c.leader()
		began := time.Now()
		work := make(chan string)
		var wg sync.WaitGroup
		var failed sync.Map
		for i := 0; i < 32; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for name := range work {
					r := simRun(name, "stored", 0)
					r.Spec.Cancel = true
					r.Metadata.Annotations = map[string]string{"description": "a Run of the storage benchmark, with an annotation of realistic size"}
					if err := retryErr(func(ctx context.Context) error {
						_, err := c.leader().client.Create(ctx, r)
						if client.IsConflict(err) {
							return nil
						}
						return err
					}); err != nil {
						failed.Store(name, err)
					}
				}
			}()
		}
		for i := 0; i < n; i++ {
			work <- fmt.Sprintf("st%d-%06d", it, i)
		}
		close(work)
		wg.Wait()
		created := time.Since(began)
		failed.Range(func(k, v any) bool { b.Fatalf("create %s: %v", k, v); return false })
		b.Logf("created %d Runs in %v (%.0f/s)", n, created.Round(time.Millisecond), float64(n)/created.Seconds())

		// Let the controller finish them (Killed, no task).
		require.True(b, waitFor(10*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			list, err := leader.client.List(ctx, client.ListOptions{FieldSelector: "status.phase!=Killed", Limit: 1})
			return err == nil && len(list.Items) == 0
		}), "Runs not all Killed")
		b.Logf("all Killed after %v", time.Since(began).Round(time.Millisecond))

		leader = c.leader()
		rss, anon, file, peak := rssStatus(leader.current().cmd.Process.Pid)
		b.Logf("leader RSS by mapping: %s; peak RSS so far %.0f MiB", rssByMapping(leader.current().cmd.Process.Pid), peak)
		lstart := time.Now()
		runs, _, err := listAll(context.Background(), leader.client, "")
		require.NoError(b, err)
		listTime := time.Since(lstart)
		require.GreaterOrEqual(b, len(runs), n)
		fstart := time.Now()
		var f *node
		for _, x := range c.nodes {
			if x != leader {
				f = x
			}
		}
		_, _, err = listAll(context.Background(), f.client, "")
		require.NoError(b, err)
		followerList := time.Since(fstart)

		for _, x := range c.nodes {
			x.current().stop(30 * time.Second)
		}
		restart := time.Now()
		for _, x := range c.nodes {
			c.launch(x, "--peers", c.peers)
		}
		for _, x := range c.nodes {
			waitHTTP(b, x.url+"/readyz", 5*time.Minute)
		}
		c.leader()
		ready := time.Since(restart)
		newLeader := c.leader()
		rssAfter, anonAfter, fileAfter := rssMiB(newLeader.current().cmd.Process.Pid)
		_, _, err = listAll(context.Background(), newLeader.client, "")
		require.NoError(b, err)
		rssAfterList, anonAfterList, fileAfterList := rssMiB(newLeader.current().cmd.Process.Pid)
		b.Logf("leader RSS by mapping after a restart and a list: %s", rssByMapping(newLeader.current().cmd.Process.Pid))

		b.ReportMetric(rss, "leader-rss-MiB")
		b.ReportMetric(listTime.Seconds(), "list-all-s")
		b.ReportMetric(ready.Seconds(), "restart-ready-s")
		b.ReportMetric(anon, "leader-rss-anon-MiB")
		b.ReportMetric(peak, "leader-peak-rss-MiB")
		b.Logf("%d Runs stored: leader RSS %.0f MiB (anon %.0f, file %.0f); after a cluster restart %.0f MiB (anon %.0f, file %.0f), after listing all %.0f MiB (anon %.0f, file %.0f)",
			len(runs), rss, anon, file, rssAfter, anonAfter, fileAfter, rssAfterList, anonAfterList, fileAfterList)
		b.Logf("list all in pages of 500: leader %v, follower %v; restart-to-ready (3 nodes, leader elected) %v",
			listTime.Round(time.Millisecond), followerList.Round(time.Millisecond), ready.Round(time.Millisecond))
	}
}

// (d) Watch fan-out: 100 watchers spread over the three nodes; each Run
// created through the leader must reach every watcher. Delivery time is
// from sending the create to a watcher receiving its ADDED event.
func BenchmarkE2E_WatchFanout100(b *testing.B) {
	benchGate(b)
	watchers := benchInt("SPRINT_BENCH_WATCHERS", 100)
	n := benchInt("SPRINT_BENCH_WATCH_RUNS", 300)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 2}})
	for it := 0; it < b.N; it++ {
		suite := fmt.Sprintf("fan%d", it)
		leader := c.leader()
		ctx, cancel := context.WithCancel(context.Background())
		var mu sync.Mutex
		sent := map[string]time.Time{}
		var lat []time.Duration
		received := 0
		all := make(chan struct{})
		var wws []*client.Watcher
		for i := 0; i < watchers; i++ {
			nd := c.nodes[i%len(c.nodes)]
			w, err := nd.client.Watch(ctx, client.WatchOptions{LabelSelector: "suite=" + suite})
			require.NoError(b, err)
			wws = append(wws, w)
			go func() {
				for ev := range w.Events() {
					if ev.Type != apis.Added {
						continue
					}
					now := time.Now()
					mu.Lock()
					if t0, ok := sent[ev.Run.Metadata.Name]; ok {
						lat = append(lat, now.Sub(t0))
					}
					received++
					if received == watchers*n {
						close(all)
					}
					mu.Unlock()
				}
			}()
		}
		b.ResetTimer()
		began := time.Now()
		for _, name := range runNames(suite, n) {
			r := simRun(name, suite, 0)
			r.Spec.Cancel = true
			mu.Lock()
			sent[name] = time.Now()
			mu.Unlock()
			c.retry(func(ctx context.Context) error { _, err := leader.client.Create(ctx, r); return err })
			time.Sleep(5 * time.Millisecond) // a steady stream, ~150 creates/s, not a burst
		}
		select {
		case <-all:
		case <-time.After(5 * time.Minute):
			mu.Lock()
			b.Fatalf("received %d of %d events", received, watchers*n)
		}
		b.StopTimer()
		elapsed := time.Since(began)
		cancel()
		for _, w := range wws {
			w.Stop()
		}
		mu.Lock()
		b.ReportMetric(ms(percentile(lat, 50)), "delivery-p50-ms")
		b.ReportMetric(ms(percentile(lat, 99)), "delivery-p99-ms")
		b.Logf("%d watchers × %d Runs = %d deliveries in %v: p50 %v p90 %v p99 %v max %v",
			watchers, n, len(lat), elapsed.Round(time.Millisecond), percentile(lat, 50).Round(100*time.Microsecond),
			percentile(lat, 90).Round(100*time.Microsecond), percentile(lat, 99).Round(100*time.Microsecond), percentile(lat, 100).Round(100*time.Microsecond))
		mu.Unlock()
	}
}

func TestFormed(t *testing.T) {
	m := func(id string, level int) client.Member { return client.Member{ID: id, StoreLevel: level} }
	tests := []struct {
		name    string
		members []client.Member
		want    bool
	}{
		{name: "every member at the leader's level", members: []client.Member{m("n1", 3), m("n2", 3), m("n3", 3)}, want: true},
		{name: "a follower's report not in yet", members: []client.Member{m("n1", 3), m("n2", 0), m("n3", 3)}, want: false},
		{name: "a member missing", members: []client.Member{m("n1", 3), m("n2", 3)}, want: false},
		{name: "binaries without levels: nothing to wait for", members: []client.Member{m("n1", 0), m("n2", 0), m("n3", 0)}, want: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			require.Equal(t, tt.want, formed(&client.Cluster{Leader: "n1", Members: tt.members}, 3))
		})
	}
}
