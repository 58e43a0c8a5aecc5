package e2e

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
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
// the first apply to the last Succeeded, and apply→Running percentiles.
func BenchmarkE2E_RunsPerSecond100Agents(b *testing.B) {
	benchGate(b)
	n := benchInt("SPRINT_BENCH_RUNS", 2000)
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 100, resources: "cpus:16;mem:65536;disk:100000;ports:[31000-32000]"}})
	leader := c.leader()
	for it := 0; it < b.N; it++ {
		suite := fmt.Sprintf("tp%d", it)
		ctx, cancel := context.WithCancel(context.Background())
		w, err := leader.client.Watch(ctx, client.WatchOptions{LabelSelector: "suite=" + suite})
		require.NoError(b, err)
		var mu sync.Mutex
		applied := map[string]time.Time{}
		running := map[string]time.Time{}
		succeeded := 0
		var lastDone time.Time
		allDone := make(chan struct{})
		go func() {
			for ev := range w.Events() {
				now := time.Now()
				mu.Lock()
				name := ev.Run.Metadata.Name
				if _, ok := running[name]; !ok && ev.Run.Status.Phase == apis.PhaseRunning {
					running[name] = now
				}
				if ev.Run.Status.Phase == apis.PhaseSucceeded {
					if _, ok := running[name]; !ok {
						running[name] = now // Running and Succeeded in one status batch
					}
					succeeded++
					lastDone = now
					if succeeded == n {
						close(allDone)
					}
				}
				mu.Unlock()
			}
		}()
		var specs []*apis.Run
		for _, name := range runNames(suite, n) {
			specs = append(specs, simRun(name, suite, time.Second))
		}
		ap := newApplier(c, 16)
		b.ResetTimer()
		began := time.Now()
		actx, acancel := context.WithTimeout(context.Background(), 10*time.Minute)
		// Time each apply by wrapping the applier's work list.
		var wg sync.WaitGroup
		work := make(chan *apis.Run)
		for i := 0; i < 16; i++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for r := range work {
					t0 := time.Now()
					ap.applyOne(actx, r)
					mu.Lock()
					applied[r.Metadata.Name] = t0
					mu.Unlock()
				}
			}()
		}
		for _, r := range specs {
			work <- r
		}
		close(work)
		wg.Wait()
		appliedIn := time.Since(began)
		select {
		case <-allDone:
		case <-time.After(10 * time.Minute):
			b.Fatalf("only %d of %d Runs succeeded", succeeded, n)
		}
		b.StopTimer()
		acancel()
		cancel()
		w.Stop()
		mu.Lock()
		var lat []time.Duration
		for name, t0 := range applied {
			if t1, ok := running[name]; ok {
				lat = append(lat, t1.Sub(t0))
			}
		}
		total := lastDone.Sub(began)
		mu.Unlock()
		b.ReportMetric(float64(n)/total.Seconds(), "runs/s")
		b.ReportMetric(float64(n)/appliedIn.Seconds(), "applies/s")
		b.ReportMetric(ms(percentile(lat, 50)), "apply-running-p50-ms")
		b.ReportMetric(ms(percentile(lat, 99)), "apply-running-p99-ms")
		b.Logf("%d Runs (1 s each) on 100 agents: applied in %v, all Succeeded after %v; apply→Running p50 %v p90 %v p99 %v max %v; failed applies %d",
			n, appliedIn.Round(time.Millisecond), total.Round(time.Millisecond), percentile(lat, 50).Round(time.Millisecond),
			percentile(lat, 90).Round(time.Millisecond), percentile(lat, 99).Round(time.Millisecond), percentile(lat, 100).Round(time.Millisecond), ap.failures.Load())
	}
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
