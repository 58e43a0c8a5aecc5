// Command apibench measures sprint's REST write path the way
// test/etcdbench measures etcd puts: W concurrent writers apply Runs whose
// JSON is about 1 KiB with PUT /api/v1/runs/{name} for a fixed duration
// (or N writes), each writer sending its requests to the given nodes in
// turn, so that in a three-node cluster two writes in three reach a
// follower and are forwarded to the leader. With -batch B each request is
// instead one POST /api/v1/runs:apply of a RunList of B Runs, and a "write"
// is one Run applied.
//
// It prints one line: ops/s, p50 and p99 latency of a request in
// milliseconds, and the count of failed requests (any failure stops the
// run with an error, since a benchmark that drops writes measures nothing).
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// options are the command line.
type options struct {
	endpoints []string
	writers   int
	n         int
	duration  time.Duration
	warmup    time.Duration
	size      int
	batch     int
	prefix    string
	token     string
}

func main() {
	var o options
	endpoints := flag.String("endpoints", "http://127.0.0.1:9090", "comma-separated base URLs of the sprint nodes")
	flag.IntVar(&o.writers, "writers", 16, "concurrent writers")
	flag.IntVar(&o.n, "n", 2000, "total writes (ignored with -duration)")
	flag.DurationVar(&o.duration, "duration", 0, "measure for this long instead of -n writes")
	flag.DurationVar(&o.warmup, "warmup", 0, "write for this long before measuring (with -duration)")
	flag.IntVar(&o.size, "size", 1024, "approximate JSON size of one Run in bytes")
	flag.IntVar(&o.batch, "batch", 0, "Runs per request via POST /api/v1/runs:apply (0: one PUT per Run)")
	flag.StringVar(&o.prefix, "prefix", "", "Run name prefix (default: derived from the time)")
	flag.StringVar(&o.token, "token", os.Getenv("SPRINT_TOKEN"), "bearer token")
	flag.Parse()
	o.endpoints = strings.Split(*endpoints, ",")
	if o.prefix == "" {
		o.prefix = fmt.Sprintf("b%x", time.Now().UnixNano()&0xffffffff)
	}
	if err := run(o); err != nil {
		log.Fatal(err)
	}
}

func run(o options) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConns = 0
	tr.MaxIdleConnsPerHost = o.writers + 4 // every writer keeps its connection to every node
	tr.DisableCompression = true
	b := &bench{o: o, hc: &http.Client{Transport: tr, Timeout: 30 * time.Second}}
	b.pad = strings.Repeat("x", max(0, o.size-len(b.body("x", 0, 0))))
	ctx := context.Background()
	if o.duration > 0 && o.warmup > 0 {
		if _, _, err := b.load(ctx, 0, o.warmup, "w"); err != nil {
			return fmt.Errorf("warm-up: %w", err)
		}
	}
	start := time.Now()
	lat, writes, err := b.load(ctx, o.n, o.duration, "m")
	elapsed := time.Since(start)
	if err != nil {
		return err
	}
	slices.Sort(lat)
	pct := func(p float64) float64 { return float64(lat[int(p*float64(len(lat)-1))].Microseconds()) / 1000 }
	mode := "put"
	if o.batch > 0 {
		mode = fmt.Sprintf("apply-list-%d", o.batch)
	}
	fmt.Printf("sprint %s writers=%d n=%d ops/s=%.1f p50-ms=%.3f p99-ms=%.3f\n",
		mode, o.writers, writes, float64(writes)/elapsed.Seconds(), pct(0.50), pct(0.99))
	return nil
}

type bench struct {
	o   options
	hc  *http.Client
	pad string
}

// body is one Run's JSON.
func (b *bench) body(phase string, w, i int) []byte {
	name := fmt.Sprintf("%s-%s%d-%d", b.o.prefix, phase, w, i)
	return []byte(`{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"` + name +
		`","labels":{"bench":"` + b.o.prefix + `"},"annotations":{"pad":"` + b.pad +
		`"}},"spec":{"command":"true","cpus":0.01,"mem":1}}`)
}

func (b *bench) name(phase string, w, i int) string {
	return fmt.Sprintf("%s-%s%d-%d", b.o.prefix, phase, w, i)
}

// load runs the writers until n writes were made (n > 0) or d passed, and
// returns every request's latency and the count of Runs written.
func (b *bench) load(ctx context.Context, n int, d time.Duration, phase string) ([]time.Duration, int, error) {
	lat := make([][]time.Duration, b.o.writers)
	var next, written atomic.Int64
	var wg sync.WaitGroup
	var firstErr atomic.Value
	deadline := time.Now().Add(d)
	per := max(1, b.o.batch)
	for w := range b.o.writers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				if firstErr.Load() != nil {
					return
				}
				i := int(next.Add(int64(per)))
				if d > 0 && !time.Now().Before(deadline) || d <= 0 && i > n {
					return
				}
				base := b.o.endpoints[(w+k)%len(b.o.endpoints)]
				t0 := time.Now()
				if err := b.write(ctx, base, phase, w, i, per); err != nil {
					firstErr.CompareAndSwap(nil, err)
					return
				}
				lat[w] = append(lat[w], time.Since(t0))
				written.Add(int64(per))
			}
		}()
	}
	wg.Wait()
	if err, ok := firstErr.Load().(error); ok {
		return nil, 0, err
	}
	all := slices.Concat(lat...)
	if len(all) == 0 {
		return nil, 0, errors.New("no write completed")
	}
	return all, int(written.Load()), nil
}

// write sends one request: a PUT of one Run, or an apply of a RunList.
func (b *bench) write(ctx context.Context, base, phase string, w, i, per int) error {
	var method, url string
	var body []byte
	if b.o.batch == 0 {
		method, url, body = http.MethodPut, base+"/api/v1/runs/"+b.name(phase, w, i), b.body(phase, w, i)
	} else {
		var buf bytes.Buffer
		buf.WriteString(`{"apiVersion":"sprint/v1","kind":"RunList","items":[`)
		for j := range per {
			if j > 0 {
				buf.WriteByte(',')
			}
			buf.Write(b.body(phase, w, i-j))
		}
		buf.WriteString(`]}`)
		method, url, body = http.MethodPost, base+"/api/v1/runs:apply", buf.Bytes()
	}
	req, err := http.NewRequestWithContext(ctx, method, url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	if b.o.token != "" {
		req.Header.Set("Authorization", "Bearer "+b.o.token)
	}
	resp, err := b.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%s %s: %w", method, url, err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		return fmt.Errorf("%s %s: read answer: %w", method, url, err)
	}
	if resp.StatusCode != http.StatusCreated && resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s %s: %s: %s", method, url, resp.Status, bytes.TrimSpace(out))
	}
	if b.o.batch > 0 {
		return checkItems(out, per)
	}
	return nil
}

// checkItems fails when an item of an apply-list answer failed.
func checkItems(out []byte, want int) error {
	var list struct {
		Items []struct {
			Name   string          `json:"name"`
			Result string          `json:"result"`
			Error  json.RawMessage `json:"error"`
		} `json:"items"`
	}
	if err := json.Unmarshal(out, &list); err != nil {
		return fmt.Errorf("decode apply answer: %w", err)
	}
	if len(list.Items) != want {
		return fmt.Errorf("apply answer has %d items, want %d", len(list.Items), want)
	}
	for _, it := range list.Items {
		if len(it.Error) > 0 {
			return fmt.Errorf("apply %s: %s", it.Name, it.Error)
		}
	}
	return nil
}
