package e2e

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/client"
)

// (e) Watchers (scripts/bench-watch.sh): N Runs stored; W watchers on the leader, of which I never
// read (they open the connection, send the request and never read the
// socket: a watch without resourceVersion, i.e. a listing of the whole
// store), L start with that listing and read it through, and the rest
// watch from the current version; then Runs keep changing at R/s for D
// seconds while a prober times other requests (a Run by name, a page of
// 100). Reported: the leader's RSS (before the watchers, its peak, at the
// end), the probes' percentiles, how many changes each reader got, and
// what the server did with the idle watchers. Target at N=100,000,
// W=1,000, I=100: leader RSS ≤ 300 MiB, probe p99 ≤ 50 ms.
//
// Knobs: SPRINT_BENCH_WATCH_STORED (100000), _WATCHERS (1000), _IDLE
// (100), _LISTERS (10), _RATE (50 changes/s), _SECONDS (30), _PAD (bytes
// of annotation per Run, 64), _RSS_LIMIT (MiB, 4096: the leader is killed
// beyond it, which ends the benchmark rather than the machine).
func BenchmarkWatchers(b *testing.B) {
	benchGate(b)
	n := benchInt("SPRINT_BENCH_WATCH_STORED", 100000)
	watchers := benchInt("SPRINT_BENCH_WATCH_WATCHERS", 1000)
	idle := min(benchInt("SPRINT_BENCH_WATCH_IDLE", 100), watchers)
	listers := min(benchInt("SPRINT_BENCH_WATCH_LISTERS", 10), watchers-idle)
	rate := benchInt("SPRINT_BENCH_WATCH_RATE", 50)
	secs := benchInt("SPRINT_BENCH_WATCH_SECONDS", 30)
	pad := benchInt("SPRINT_BENCH_WATCH_PAD", 64)
	rssLimit := int64(benchInt("SPRINT_BENCH_WATCH_RSS_LIMIT", 4096)) << 20

	extra := []string{"--gc-max-finished", "10000000"}
	if sprintHasFlag("max-client-watches") {
		// Every watcher here is one client (127.0.0.1).
		extra = append(extra, "--max-client-watches", "0", "--max-client-lists", "0")
	}
	c := startCluster(b, clusterOptions{sim: simOptions{agents: 1}, extra: extra})
	for it := 0; it < b.N; it++ {
		leader := c.leader()
		began := time.Now()
		names := storeBenchRuns(b, c, fmt.Sprintf("w%d", it), n, pad)
		b.Logf("created %d Runs in %v", n, time.Since(began).Round(time.Millisecond))
		require.True(b, waitFor(10*time.Minute, func() bool {
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			list, err := leader.client.List(ctx, client.ListOptions{FieldSelector: "status.phase!=Killed", Limit: 1})
			return err == nil && len(list.Items) == 0
		}), "Runs not all Killed")
		leader = c.leader()
		pid := leader.current().cmd.Process.Pid
		peakRSS := leader.current().limitRSS(b, rssLimit)
		// The kernel's peak (VmHWM) is the process's since it started,
		// the creates included: note it, and restart it from the current
		// RSS so that the peak below is the watchers' own.
		createPeak, _ := procStatusBytes(pid, "VmHWM")
		if err := os.WriteFile(fmt.Sprintf("/proc/%d/clear_refs", pid), []byte("5"), 0); err != nil {
			b.Logf("cannot restart the leader's peak RSS (%v): the peak below includes the creates", err)
		}
		rss0, anon0, _ := rssMiB(pid)
		go0 := goMemory(leader.url)
		maps0 := rssByMapping(pid)
		list, err := leader.client.List(context.Background(), client.ListOptions{Limit: 1})
		require.NoError(b, err)
		rv := list.Metadata.ResourceVersion

		// RSS, sampled for the record (the peak is the kernel's VmHWM);
		// at each new high the sampler notes what holds it: each mapped
		// file's resident pages, anon, and the Go runtime's own account.
		stopSampling := make(chan struct{})
		sampled := make(chan struct{})
		var maxRSS atomic.Int64
		var peakMaps, peakGo string
		go func() {
			defer close(sampled)
			t := time.NewTicker(250 * time.Millisecond)
			defer t.Stop()
			for {
				select {
				case <-stopSampling:
					return
				case <-t.C:
				}
				if r, _, _ := rssMiB(pid); int64(r) > maxRSS.Load() {
					maxRSS.Store(int64(r))
					peakMaps, peakGo = rssByMapping(pid), goMemory(leader.url)
				}
			}
		}()

		ctx, cancel := context.WithCancel(context.Background())
		addr := strings.TrimPrefix(leader.url, "http://")
		opened := time.Now()
		var idleConns []net.Conn
		for range idle {
			conn, err := net.Dial("tcp", addr)
			require.NoError(b, err)
			_, err = fmt.Fprintf(conn, "GET /api/v1/runs?watch=true HTTP/1.1\r\nHost: %s\r\n\r\n", addr)
			require.NoError(b, err)
			idleConns = append(idleConns, conn)
		}
		tr := &http.Transport{MaxIdleConnsPerHost: 1}
		readers := make([]*benchReader, watchers-idle)
		var ready, listed sync.WaitGroup
		for i := range readers {
			r := &benchReader{}
			readers[i] = r
			from := rv
			if i < listers {
				from = "" // a listing first
				listed.Add(1)
			}
			ready.Add(1)
			go r.run(ctx, tr, leader.url, from, n, &ready, &listed)
		}
		ready.Wait()
		listed.Wait()
		setup := time.Since(opened)
		b.Logf("%d watchers open (%d idle, %d listed %d Runs each) in %v; leader RSS %.0f MiB",
			watchers, idle, listers, n, setup.Round(time.Millisecond), func() float64 { r, _, _ := rssMiB(pid); return r }())

		// Runs keep changing while the prober times other requests.
		var probes probeTimes
		probeCtx, stopProbes := context.WithCancel(ctx)
		var pwg sync.WaitGroup
		pwg.Add(1)
		go func() { defer pwg.Done(); probes.run(probeCtx, leader.client, names) }()
		changes := churn(b, leader.client, names, rate, time.Duration(secs)*time.Second)
		stopProbes()
		pwg.Wait()

		// Every reader should get every change.
		deadline := time.Now().Add(time.Minute)
		for time.Now().Before(deadline) && minChanges(readers) < changes {
			time.Sleep(100 * time.Millisecond) // a benchmark's drain, not a test's synchronisation
		}
		close(stopSampling)
		<-sampled
		closeSampling := maxRSS.Load()
		endMaps := rssByMapping(pid)
		rssEnd, anonEnd, fileEnd := rssMiB(pid)
		metrics := scrape(leader.url)
		goEnd := goMemory(leader.url)
		ended := 0
		for _, r := range readers {
			if r.ended.Load() {
				ended++
			}
		}
		cancel()
		for _, conn := range idleConns {
			conn.Close()
		}
		tr.CloseIdleConnections()

		got, lo := 0, changes
		for _, r := range readers {
			m := int(r.changes.Load())
			got += m
			lo = min(lo, m)
		}
		peak := float64(peakRSS()) / (1 << 20)
		b.ReportMetric(max(peak, float64(createPeak)/(1<<20)), "leader-peak-rss-MiB")
		b.ReportMetric(peak, "leader-watch-peak-rss-MiB")
		b.ReportMetric(rssEnd, "leader-rss-end-MiB")
		b.ReportMetric(ms(percentile(probes.get, 99)), "get-p99-ms")
		b.ReportMetric(ms(percentile(probes.page, 99)), "page-p99-ms")
		b.Logf("leader RSS: peak %.0f MiB while the Runs were created; %.0f MiB before the watchers (anon %.0f); peak with the watchers %.0f MiB (sampled %d); %.0f MiB at the end (anon %.0f, file %.0f)",
			float64(createPeak)/(1<<20), rss0, anon0, peak, closeSampling, rssEnd, anonEnd, fileEnd)
		// One line each: a benchmark's log is cut after 10 lines.
		b.Logf("leader before the watchers: RSS by mapping %s; Go: %s", maps0, go0)
		b.Logf("leader at the sampled peak (%d MiB): RSS by mapping %s; Go: %s", closeSampling, peakMaps, peakGo)
		b.Logf("leader at the end: RSS by mapping %s; Go: %s", endMaps, goEnd)
		b.Logf("%d changes at %d/s: readers got %d of %d (fewest %d); %d reader streams ended early",
			changes, rate, got, changes*len(readers), lo, ended)
		b.Logf("GET a Run: %d probes, p50 %v p99 %v max %v; list a page of 100: %d probes, p50 %v p99 %v max %v; %d probes failed (10 s timeout) %q",
			len(probes.get), percentile(probes.get, 50).Round(100*time.Microsecond), percentile(probes.get, 99).Round(100*time.Microsecond),
			percentile(probes.get, 100).Round(100*time.Microsecond), len(probes.page), percentile(probes.page, 50).Round(100*time.Microsecond),
			percentile(probes.page, 99).Round(100*time.Microsecond), percentile(probes.page, 100).Round(100*time.Microsecond), probes.failed, probes.errs)
		b.Logf("server: %s", metrics)
	}
}

// sprintHasFlag reports whether the sprint binary under test knows a flag
// (the benchmark also runs older binaries, for before/after figures).
func sprintHasFlag(name string) bool {
	out, _ := exec.Command(filepath.Join(binDir, "sprint"), "-h").CombinedOutput()
	return bytes.Contains(out, []byte("-"+name+" "))
}

// storeBenchRuns creates n Runs (spec.cancel: they finish as Killed
// without a task) through the leader with 32 writers, and returns their
// names.
func storeBenchRuns(b *testing.B, c *cluster, prefix string, n, pad int) []string {
	names := make([]string, n)
	work := make(chan int)
	var wg sync.WaitGroup
	var failed sync.Map
	annotation := strings.Repeat("x", pad)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				r := simRun(names[i], "watchers", 0)
				r.Spec.Cancel = true
				r.Metadata.Annotations = map[string]string{"pad": annotation}
				if err := retryErr(func(ctx context.Context) error {
					_, err := c.leader().client.Create(ctx, r)
					if client.IsConflict(err) {
						return nil
					}
					return err
				}); err != nil {
					failed.Store(names[i], err)
				}
			}
		}()
	}
	for i := range n {
		names[i] = fmt.Sprintf("%s-%06d", prefix, i)
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	failed.Range(func(k, v any) bool { b.Fatalf("create %s: %v", k, v); return false })
	return names
}

// benchReader is a watcher that reads its stream and counts the changes.
type benchReader struct {
	changes atomic.Int64
	ended   atomic.Bool
}

// run watches from rv (a listing of n Runs first when rv is ""), marks
// ready once the server answered and listed once the listing is read.
func (r *benchReader) run(ctx context.Context, tr http.RoundTripper, url, rv string, n int, ready, listed *sync.WaitGroup) {
	defer r.ended.Store(true)
	q := "/api/v1/runs?watch=true"
	if rv != "" {
		q += "&resourceVersion=" + rv
	}
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+q, nil)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	ready.Done()
	if err != nil {
		if rv == "" {
			listed.Done()
		}
		return
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		if rv == "" {
			listed.Done()
		}
		return
	}
	br := bufio.NewReaderSize(resp.Body, 64<<10)
	added := 0
	listing := rv == ""
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			continue // a part of a long line; only line starts are looked at
		}
		if err != nil {
			if listing {
				listed.Done()
			}
			return
		}
		switch {
		case bytes.HasPrefix(line, []byte(`{"type":"ADDED"`)) && listing:
			if added++; added == n {
				listing = false
				listed.Done()
			}
		case bytes.HasPrefix(line, []byte(`{"type":"MODIFIED"`)):
			r.changes.Add(1)
		}
	}
}

func minChanges(rs []*benchReader) int {
	lo := -1
	for _, r := range rs {
		if m := int(r.changes.Load()); lo < 0 || m < lo {
			lo = m
		}
	}
	return lo
}

// churn changes random Runs' annotations at rate per second for d, and
// returns how many changes it made (a failed one is logged and skipped:
// the server under test may not cope).
func churn(b *testing.B, c *client.Client, names []string, rate int, d time.Duration) int {
	rng := rand.New(rand.NewPCG(1, 2))
	tick := time.NewTicker(time.Second / time.Duration(rate))
	defer tick.Stop()
	end := time.Now().Add(d)
	done := 0
	for time.Now().Before(end) {
		<-tick.C
		name := names[rng.IntN(len(names))]
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		r, err := c.Get(ctx, name)
		if err == nil {
			r.Metadata.Annotations["round"] = fmt.Sprint(done)
			r.Metadata.ResourceVersion = ""
			_, _, err = c.Apply(ctx, r, client.ApplyOptions{})
		}
		cancel()
		if err != nil {
			b.Logf("change %s: %v", name, err)
			continue
		}
		done++
	}
	return done
}

// probeTimes are the latencies of requests made while the watchers run.
type probeTimes struct {
	get, page []time.Duration
	failed    int
	errs      []string // the first few failures, for the log
}

func (p *probeTimes) run(ctx context.Context, c *client.Client, names []string) {
	rng := rand.New(rand.NewPCG(3, 4))
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for i := 0; ; i++ {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		rctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		t0 := time.Now()
		var err error
		if i%4 == 3 {
			if _, err = c.List(rctx, client.ListOptions{Limit: 100}); err == nil {
				p.page = append(p.page, time.Since(t0))
			}
		} else if _, err = c.Get(rctx, names[rng.IntN(len(names))]); err == nil {
			p.get = append(p.get, time.Since(t0))
		}
		if err != nil {
			p.failed++
			if len(p.errs) < 3 {
				p.errs = append(p.errs, fmt.Sprintf("after %v: %v", time.Since(t0).Round(time.Millisecond), err))
			}
		}
		cancel()
	}
}

// goMemory summarises the Go runtime's memory from a node's /metrics:
// what the heap holds, what it keeps free but mapped, and the stacks.
func goMemory(url string) string {
	_, metric, err := scrapeMetrics(url)
	if err != nil {
		return err.Error()
	}
	val := func(name string) float64 { return metric(name) / (1 << 20) }
	return fmt.Sprintf("heap in use %.0f MiB, heap free and not returned %.0f MiB, next GC at %.0f MiB heap, stacks %.0f MiB, runtime other %.0f MiB, goroutines %.0f",
		val("go_memstats_heap_inuse_bytes"), val("go_memstats_heap_idle_bytes")-val("go_memstats_heap_released_bytes"),
		val("go_memstats_next_gc_bytes"), val("go_memstats_stack_inuse_bytes"),
		val("go_memstats_mspan_inuse_bytes")+val("go_memstats_mcache_inuse_bytes")+val("go_memstats_buck_hash_sys_bytes")+val("go_memstats_gc_sys_bytes")+val("go_memstats_other_sys_bytes"),
		metric("go_goroutines"))
}

// scrape returns the server's watch metrics, one line.
func scrape(url string) string {
	resp, err := http.Get(url + "/metrics")
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	lines := regexp.MustCompile(`(?m)^sprint_http_watch\S*( \S+)?.*$`).FindAllString(string(body), -1)
	return strings.Join(lines, "; ")
}
