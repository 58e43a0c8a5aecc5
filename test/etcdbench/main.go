// Command etcdbench measures etcd put throughput and latency the way
// raftstore's BenchmarkWrite measures CreateRun: N puts of a ~1 KiB value
// spread over W concurrent writers against a running cluster. It lives in
// its own module so that sprint's main module does not depend on etcd.
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

func main() {
	endpoints := flag.String("endpoints", "127.0.0.1:2379", "comma-separated client URLs")
	writers := flag.Int("writers", 16, "concurrent writers")
	n := flag.Int("n", 2000, "total puts")
	size := flag.Int("value-size", 1024, "value size in bytes")
	flag.Parse()
	if err := run(strings.Split(*endpoints, ","), *writers, *n, *size); err != nil {
		log.Fatal(err)
	}
}

func run(endpoints []string, writers, n, size int) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: endpoints, DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("connect: %w", err)
	}
	defer cli.Close()
	ctx := context.Background()
	value := strings.Repeat("x", size)
	// Warm up the connection and the leader.
	if _, err := cli.Put(ctx, "bench/warmup", value); err != nil {
		return fmt.Errorf("warm-up put: %w", err)
	}
	lat := make([][]time.Duration, writers)
	var next atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	run := fmt.Sprint(time.Now().UnixNano())
	start := time.Now()
	for w := range writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(n) {
					return
				}
				t0 := time.Now()
				if _, err := cli.Put(ctx, fmt.Sprintf("bench/%s/w%d-%d", run, w, i), value); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	if err, ok := firstErr.Load().(error); ok {
		return fmt.Errorf("put: %w", err)
	}
	all := slices.Concat(lat...)
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))].Microseconds()) / 1000 }
	fmt.Fprintf(os.Stdout, "etcd writers=%d n=%d ops/s=%.1f p50-ms=%.3f p99-ms=%.3f\n",
		writers, len(all), float64(len(all))/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}
