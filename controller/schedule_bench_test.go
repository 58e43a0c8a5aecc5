package controller_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/internal/wiring"
)

// benchSchedules is the number of Schedules of BenchmarkSchedules_Every1m
// (SPRINT_BENCH_SCHEDULES, default 10000).
func benchSchedules() int {
	if n, err := strconv.Atoi(os.Getenv("SPRINT_BENCH_SCHEDULES")); err == nil && n > 0 {
		return n
	}
	return 10000
}

// lagStore records the commit lag of every firing: the time its
// FireSchedules call returned minus the firing's scheduled time.
type lagStore struct {
	controller.Store
	mu    sync.Mutex
	lags  []time.Duration
	calls []time.Duration
	last  time.Time
	// batches is the size of every FireSchedules call.
	batches []int
}

func (l *lagStore) FireSchedules(ctx context.Context, firings []apis.Firing) []error {
	t0 := time.Now()
	errs := l.Store.FireSchedules(ctx, firings)
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, f := range firings {
		if errs[i] == nil && len(f.Runs) > 0 {
			l.calls = append(l.calls, now.Sub(t0))
			l.lags = append(l.lags, now.Sub(f.ScheduleTime))
			l.last = now
		}
	}
	l.batches = append(l.batches, len(firings))
	return errs
}

func (l *lagStore) fired() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lags)
}

// idleMesos is a Mesos subscription that never offers anything: the
// benchmark measures the leader's firing, not task launches.
type idleMesos struct{}

func (idleMesos) Run(ctx context.Context, _ controller.EventHandler) error {
	<-ctx.Done()
	return ctx.Err()
}
func (idleMesos) Accept(context.Context, mesosproto.OfferID, []mesosproto.TaskInfo, time.Duration) error {
	return nil
}
func (idleMesos) Decline(context.Context, []mesosproto.OfferID, time.Duration) error { return nil }
func (idleMesos) Revive(context.Context) error                                       { return nil }
func (idleMesos) Suppress(context.Context) error                                     { return nil }
func (idleMesos) Kill(context.Context, string, string) error                         { return nil }
func (idleMesos) Reconcile(context.Context, []controller.ReconcileTask) error        { return nil }
func (idleMesos) Acknowledge(context.Context, mesosproto.TaskStatus) error           { return nil }

func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "?"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

// BenchmarkSchedules_Every1m creates benchSchedules Schedules "@every 1m"
// on a one-node store whose controller leads, and waits until each fired
// once: the firing lag (commit time minus scheduled time) p50/p99/max and
// the process's CPU time per firing over the firing window (the store's
// commits, the scheduler, the controller marking each new Run Pending; no
// Mesos: nothing is launched). Its numbers are functional on a shared
// machine; re-measure on a quiet one with
//
//	go test -run '^$' -bench Schedules_Every1m -benchtime 1x ./controller/
func BenchmarkSchedules_Every1m(b *testing.B) {
	n := benchSchedules()
	for range b.N {
		benchSchedules1m(b, n)
	}
}

func benchSchedules1m(b *testing.B, n int) {
	s := startScheduling(b)
	quiet := slog.New(slog.NewTextHandler(logWriter{b}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	store := &lagStore{Store: wiring.NewControllerStore(s)}
	runController(b, s, store, idleMesos{}, controller.Config{}, quiet)

	ctx := context.Background()
	b.ResetTimer()
	start := time.Now()
	var wg sync.WaitGroup
	work := make(chan int)
	for range 32 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				sc := &apis.Schedule{
					Metadata: apis.ObjectMeta{Name: fmt.Sprintf("bench-%05d", i)},
					Spec: apis.ScheduleSpec{
						Schedule:    "@every 1m",
						RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "true", Cpus: 0.01, Mem: 1}},
					},
				}
				apis.SetScheduleDefaults(sc)
				if _, err := s.CreateSchedule(ctx, sc); err != nil {
					b.Error(err)
				}
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	created := time.Since(start)
	// The first firings are due a minute after the first create.
	firstDue := start.Add(time.Minute)
	time.Sleep(time.Until(firstDue)) // the benchmark's workload runs on the wall clock
	cpu0, t0 := cpuTime(), time.Now()
	require.Eventually(b, func() bool { return store.fired() >= n }, 5*time.Minute, 100*time.Millisecond,
		"%d of %d Schedules fired", store.fired(), n)
	cpu := cpuTime() - cpu0
	window := time.Since(t0)
	b.StopTimer()

	store.mu.Lock()
	lags := append([]time.Duration(nil), store.lags...)
	calls := append([]time.Duration(nil), store.calls...)
	batches := append([]int(nil), store.batches...)
	store.mu.Unlock()
	sort.Slice(calls, func(i, j int) bool { return calls[i] < calls[j] })
	sort.Ints(batches)
	b.Logf("FireSchedules call (per firing) p50 %s p99 %s; %d calls, firings per call p50 %d max %d",
		calls[len(calls)/2], calls[len(calls)*99/100], len(batches), batches[len(batches)/2], batches[len(batches)-1])
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	pct := func(p float64) time.Duration { return lags[int(float64(len(lags)-1)*p)] }
	perFiring := cpu / time.Duration(len(lags))
	b.ReportMetric(float64(pct(0.5).Microseconds())/1000, "p50-lag-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-lag-ms")
	b.ReportMetric(float64(perFiring.Microseconds())/1000, "cpu-ms/firing")
	b.Logf("%d schedules created in %s; %d firings in %s: lag p50 %s p99 %s max %s; CPU %s (%s per firing); load average %s",
		n, created.Round(time.Millisecond), len(lags), window.Round(time.Millisecond),
		pct(0.5).Round(time.Millisecond), pct(0.99).Round(time.Millisecond), lags[len(lags)-1].Round(time.Millisecond),
		cpu.Round(time.Millisecond), perFiring.Round(time.Microsecond), loadAverage())
}
