package raftstore_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// benchRun is a Run whose stored JSON is about 1 KiB.
func benchRun(name string) *apis.Run {
	r := newRun(name)
	r.Metadata.Annotations = map[string]string{"pad": strings.Repeat("x", 1024-330)}
	return r
}

// createOnLeader follows leadership changes as etcd's client does: a busy
// machine can move leadership mid-run, and a benchmark should measure the
// store, not fail. The latency includes the time to find the new leader.
func createOnLeader(ctx context.Context, c *raftstoretest.Cluster, run *apis.Run) error {
	deadline := time.Now().Add(30 * time.Second)
	for tries := 0; ; tries++ {
		var s *raftstore.Store
		for _, n := range c.Running() {
			if n.Store.IsLeader() {
				s = n.Store
			}
		}
		if s == nil {
			wait, cancel := context.WithDeadline(ctx, deadline)
			_, err := c.AwaitLeader(wait)
			cancel()
			if err != nil {
				return fmt.Errorf("no leader: %w", err)
			}
			continue
		}
		_, err := s.CreateRun(ctx, run)
		switch {
		case err == nil, tries > 0 && errors.Is(err, apis.ErrAlreadyExists):
			return nil
		case raftstoretest.Retryable(err) && time.Now().Before(deadline):
			continue
		}
		return err
	}
}

// BenchmarkWrite measures CreateRun throughput and latency on a 3-node
// cluster over loopback TCP with data on disk, with 1, 16 and 64
// concurrent writers; fsm-sync=true is the same with an fsync per FSM
// commit, to show what the durability choice (DESIGN.md) saves; raft-tls
// runs Raft over mutual TLS, to show what that costs. Metrics: ops/s,
// p50-ms, p99-ms. Run with -benchtime=3000x or so.
func BenchmarkWrite(b *testing.B) {
	cases := []struct {
		writers int
		fsync   bool
		tls     bool
	}{{1, false, false}, {16, false, false}, {64, false, false}, {1, true, false}, {16, true, false}, {64, true, false},
		{1, false, true}, {16, false, true}, {64, false, true}}
	for _, tc := range cases {
		name := fmt.Sprintf("writers=%d/fsm-sync=%t", tc.writers, tc.fsync)
		if tc.tls {
			name += "/raft-tls"
		}
		b.Run(name, func(b *testing.B) {
			var pki *raftstoretest.PKI
			if tc.tls {
				pki = raftstoretest.NewPKI(b)
			}
			c := raftstoretest.New(b, 3, func(cfg *raftstore.Config) {
				if pki != nil {
					pki.Tune(cfg)
				}
				cfg.FSMSync = tc.fsync
				cfg.HeartbeatTimeout = raftstore.DefaultHeartbeatTimeout
				cfg.ElectionTimeout = raftstore.DefaultElectionTimeout
				cfg.LeaderLeaseTimeout = raftstore.DefaultLeaderLeaseTimeout
				cfg.CommitTimeout = raftstore.DefaultCommitTimeout
			})
			c.Leader()
			ctx := context.Background()
			lat := make([][]time.Duration, tc.writers)
			var next atomic.Int64
			var wg sync.WaitGroup
			b.ResetTimer()
			start := time.Now()
			for w := range tc.writers {
				wg.Add(1)
				go func() {
					defer wg.Done()
					for {
						i := next.Add(1)
						if i > int64(b.N) {
							return
						}
						t0 := time.Now()
						if err := createOnLeader(ctx, c, benchRun(fmt.Sprintf("w%d-%d", w, i))); err != nil {
							b.Error(err)
							return
						}
						lat[w] = append(lat[w], time.Since(t0))
					}
				}()
			}
			wg.Wait()
			elapsed := time.Since(start)
			b.StopTimer()
			all := slices.Concat(lat...)
			slices.Sort(all)
			if len(all) == 0 {
				return
			}
			pct := func(p float64) float64 {
				return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000
			}
			b.ReportMetric(float64(len(all))/elapsed.Seconds(), "ops/s")
			b.ReportMetric(pct(0.50), "p50-ms")
			b.ReportMetric(pct(0.99), "p99-ms")
			b.ReportMetric(0, "ns/op") // wall time per op across writers is ops/s's inverse
		})
	}
}
