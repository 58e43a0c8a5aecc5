// Command etcdbench measures etcd put throughput and latency the way
// raftstore's BenchmarkWrite measures CreateRun and test/apibench measures
// sprint's REST writes: puts of a ~1 KiB value spread over W concurrent
// writers against a running cluster, either N puts in all or for a fixed
// duration. With -spread each endpoint gets a client of its own and every
// writer sends its puts to the endpoints in turn, as apibench spreads
// writes over sprint's nodes. It lives in its own module so that sprint's
// main module does not depend on etcd.
package main

import (
	"context"
	"flag"
	"fmt"
	"log"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

// options are the command line.
type options struct {
	endpoints []string
	writers   int
	n         int
	duration  time.Duration
	warmup    time.Duration
	size      int
	spread    bool
}

func main() {
	var o options
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	flag.IntVar(&o.writers, "writers", 16, "concurrent writers")
	flag.IntVar(&o.n, "n", 2000, "total puts (ignored with -duration)")
	flag.DurationVar(&o.duration, "duration", 0, "measure for this long instead of -n puts")
	flag.DurationVar(&o.warmup, "warmup", 0, "put for this long before measuring (with -duration)")
	flag.IntVar(&o.size, "value-size", 1024, "value size in bytes")
	flag.BoolVar(&o.spread, "spread", false, "one client per endpoint; each writer sends its puts to them in turn")
	flag.Parse()
	o.endpoints = strings.Split(*endpoints, ",")
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	var clients []*clientv3.Client
	groups := [][]string{o.endpoints}
	if o.spread {
		groups = nil
		for _, e := range o.endpoints {
			groups = append(groups, []string{e})
		}
	}
	for _, g := range groups {
		cli, err := clientv3.New(clientv3.Config{Endpoints: g, DialTimeout: 5 * time.Second})
		if err != nil {
			return fmt.Errorf("connect %v: %w", g, err)
		}
		defer cli.Close()
		clients = append(clients, cli)
	}
	ctx := context.Background()
	value := strings.Repeat("x", o.size)
	// Warm up every connection and the leader.
	for _, cli := range clients {
		if _, err := cli.Put(ctx, "bench/warmup", value); err != nil {
			return fmt.Errorf("warm-up put: %w", err)
		}
	}
	runID := fmt.Sprint(time.Now().UnixNano())
	if o.duration > 0 && o.warmup > 0 {
		if _, err := load(ctx, clients, o.writers, 0, o.warmup, runID+"w", value); err != nil {
			return err
		}
	}
	start := time.Now()
	all, err := load(ctx, clients, o.writers, o.n, o.duration, runID, value)
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Fprintf(os.Stdout, "etcd writers=%d n=%d ops/s=%.1f p50-ms=%.3f p99-ms=%.3f\n",
		o.writers, len(all), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}

// load runs the writers until n puts were made (n > 0) or d passed, and
// returns every put's latency.
func load(ctx context.Context, clients []*clientv3.Client, writers, n int, d time.Duration, runID, value string) ([]time.Duration, error) {
	lat := make([][]time.Duration, writers)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				i := next.Add(1)
				if d > 0 && !time.Now().Before(deadline) || d <= 0 && i > int64(n) {
					return
				}
				cli := clients[(w+k)%len(clients)]
				t0 := time.Now()
				if _, err := cli.Put(ctx, fmt.Sprintf("bench/%s/w%d-%d", runID, w, i), value); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, fmt.Errorf("put: %w", err)
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return nil, fmt.Errorf("no put completed")
	}
	return all, nil
}
