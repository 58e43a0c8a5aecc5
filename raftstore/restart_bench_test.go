package raftstore_test

import (
	"fmt"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// BenchmarkRestartChecked stores SPRINT_BENCH_STORED Runs (default
// 100,000; about 1 KiB each, with the default snapshot settings, so the
// data dir holds a realistic raft.db and two snapshots) on a single node,
// stops it and measures what a restart costs: new-ms is New (the data-dir
// check, then bbolt opening both files), ready-ms Start until Ready, and
// check-ms the offline `sprint check` (CheckDataDir: every snapshot's
// structure and every stored value too).
func BenchmarkRestartChecked(b *testing.B) {
	n := 100000
	if v := os.Getenv("SPRINT_BENCH_STORED"); v != "" {
		_, _ = fmt.Sscan(v, &n)
	}
	dir := b.TempDir()
	cfg := raftstore.Config{NodeID: "solo", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://solo", DataDir: dir}
	raftstoretest.TestConfig(&cfg)
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(b))
	require.NoError(b, err)
	require.NoError(b, s.Start(b.Context()))
	require.Eventually(b, s.Ready, 10*time.Second, 10*time.Millisecond)
	var wg sync.WaitGroup
	const writers = 64
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < n; i += writers {
				if _, err := s.CreateRun(b.Context(), benchRun(fmt.Sprintf("run-%06d", i))); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	cfg.RaftAddr = s.RaftAddr()
	require.NoError(b, s.Close())

	b.ResetTimer()
	for range b.N {
		start := time.Now()
		s, err := raftstore.New(cfg, raftstoretest.TestLogger(b))
		require.NoError(b, err)
		opened := time.Now()
		require.NoError(b, s.Start(b.Context()))
		require.Eventually(b, s.Ready, 30*time.Second, time.Millisecond)
		ready := time.Now()
		require.NoError(b, s.Close())
		checkStart := time.Now()
		rep, err := raftstore.CheckDataDir(dir)
		require.NoError(b, err)
		require.True(b, rep.Sound(), "%v", rep.Problems)
		b.ReportMetric(float64(opened.Sub(start).Milliseconds()), "new-ms")
		b.ReportMetric(float64(ready.Sub(opened).Milliseconds()), "ready-ms")
		b.ReportMetric(float64(time.Since(checkStart).Milliseconds()), "check-ms")
	}
}
