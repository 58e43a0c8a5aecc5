package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/mesos/sim"
)

// benchRuns is the number of Runs per benchmark (SPRINT_BENCH_RUNS,
// default 10000).
func benchRuns() int {
	if n, err := strconv.Atoi(os.Getenv("SPRINT_BENCH_RUNS")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// BenchmarkController_Burst applies benchRuns Runs at once on the
// simulated executor with 100 agents and measures apply→Running and
// apply→Succeeded throughput and the apply→launch latency.
func BenchmarkController_Burst(b *testing.B) {
	for range b.N {
		benchController(b, benchRuns(), 0)
	}
}

// BenchmarkController_Backlog applies benchRuns Runs before the controller
// starts, so it measures the controller alone: start→all Running and
// start→all Succeeded.
func BenchmarkController_Backlog(b *testing.B) {
	for range b.N {
		benchController(b, benchRuns(), -1)
	}
}

// BenchmarkController_Steady applies Runs at a steady 200 per second and
// measures apply→launch latency.
func BenchmarkController_Steady200(b *testing.B) {
	n := benchRuns() / 5
	for range b.N {
		benchController(b, n, 200)
	}
}

// benchController applies n Runs: all at once (rate 0), at rate per
// second, or before the controller starts (rate < 0).
func benchController(b *testing.B, n int, rate int) {
	_, url := startSim(b, 100, sim.ExecutorSimulated, "cpus:8;mem:65536;disk:10000;ports:[31000-32000]")
	s := startSolo(b)
	quiet := slog.New(slog.NewTextHandler(logWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if rate >= 0 {
		startControllerLog(b, s, url, controller.Config{}, nil, quiet)
	}
	ctx := context.Background()

	w, err := s.Watch(ctx, 0, nil)
	require.NoError(b, err)
	defer w.Stop()
	var (
		mu        sync.Mutex
		running   = map[string]time.Time{}
		succeeded = map[string]time.Time{}
		done      = make(chan struct{})
	)
	go func() {
		for ev := range w.Events() {
			r, ok := ev.Object.(*apis.Run)
			if !ok {
				continue
			}
			now := time.Now()
			mu.Lock()
			name := r.Metadata.Name
			if _, seen := running[name]; !seen && (r.Status.Phase == apis.PhaseRunning || r.Status.Phase == apis.PhaseSucceeded) {
				running[name] = now
			}
			if _, seen := succeeded[name]; !seen && r.Status.Phase == apis.PhaseSucceeded {
				succeeded[name] = now
				if len(succeeded) == n {
					close(done)
				}
			}
			mu.Unlock()
		}
	}()

	created := make([]time.Time, n)
	start := time.Now()
	b.ResetTimer()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				created[i] = time.Now()
				_, err := s.CreateRun(ctx, simRun(fmt.Sprintf("bench-%05d", i), "50ms", 0))
				if err != nil {
					b.Error(err)
				}
			}
		}()
	}
	var tick *time.Ticker
	if rate > 0 {
		tick = time.NewTicker(time.Second / time.Duration(rate))
		defer tick.Stop()
	}
	for i := range n {
		if tick != nil {
			<-tick.C
		}
		work <- i
	}
	close(work)
	wg.Wait()
	applied := time.Since(start)
	if rate < 0 {
		start = time.Now() // measure from the controller's start
		startControllerLog(b, s, url, controller.Config{}, nil, quiet)
	}
	select {
	case <-done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("only %d of %d Runs succeeded", len(succeeded), n)
	}
	total := time.Since(start)
	b.StopTimer()

	// apply→launch: the attempt's recorded launch time minus the time the
	// create was sent.
	var lat []time.Duration
	var lastRunning time.Time
	for i := range n {
		name := fmt.Sprintf("bench-%05d", i)
		atts, err := s.Attempts(name)
		require.NoError(b, err)
		require.NotEmpty(b, atts, name)
		lat = append(lat, atts[0].LaunchTime.Sub(created[i]))
		if running[name].After(lastRunning) {
			lastRunning = running[name]
		}
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	pct := func(p float64) time.Duration { return lat[int(float64(len(lat)-1)*p)] }
	b.ReportMetric(float64(n)/lastRunning.Sub(start).Seconds(), "running-runs/s")
	b.ReportMetric(float64(n)/total.Seconds(), "succeeded-runs/s")
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-launch-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-launch-ms")
	b.Logf("%d runs (rate %d/s): applied in %s, all running after %s, all succeeded after %s; apply→launch p50 %s p99 %s max %s",
		n, rate, applied.Round(time.Millisecond), lastRunning.Sub(start).Round(time.Millisecond), total.Round(time.Millisecond),
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lat[len(lat)-1].Round(time.Millisecond))
}
