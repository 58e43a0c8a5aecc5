package e2e

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/hostile"
)

// hostileFast are the shapes the fast subset sends; SPRINT_E2E=1 sends
// them all.
var hostileFast = map[string]bool{
	"json-deep-arrays": true, "json-deep-labels": true, "json-deep-labels-max": true,
	"json-many-objects": true, "yaml-deep-flow": true, "yaml-billion-laughs": true,
	"yaml-alias-fanout": true, "yaml-many-objects": true, "yaml-10k-documents": true,
}

// postShape sends one hostile body and returns the status code.
func postShape(ctx context.Context, url string, sh hostile.Shape) (int, error) {
	ct := "application/json"
	if sh.YAML {
		ct = "application/yaml"
	}
	req, err := http.NewRequestWithContext(ctx, "POST", url+"/api/v1/runs", bytes.NewReader(sh.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", ct)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, nil
}

// TestHostile_RealNodeStaysWithinMemory sends the hostile bodies to a
// real sprint node, one at a time and eight at once, under a 384 MiB bound
// on its peak RSS: each is answered (4xx, or stored when valid) within
// seconds, and the node stays up. Then slow clients: connections sending
// headers or a body a byte at a time are closed within seconds while the
// node keeps answering. Before, 600 KB of objects nested under
// metadata.labels drove a node to 24 GB.
func TestHostile_RealNodeStaysWithinMemory(t *testing.T) {
	url, node := startNode(t, "--http-header-timeout", "1s", "--http-body-timeout", "1s")
	peak := node.limitRSS(t, 384<<20)
	base := peak()
	var shapes []hostile.Shape
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		if longTests() || hostileFast[sh.Name] {
			shapes = append(shapes, sh)
		}
	}
	for _, sh := range shapes {
		ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
		begin := time.Now()
		code, err := postShape(ctx, url, sh)
		cancel()
		require.NoError(t, err, sh.Name)
		took := time.Since(begin)
		t.Logf("%-24s %7d bytes: %d in %v, peak RSS %d MiB", sh.Name, len(sh.Body), code, took.Round(time.Millisecond), peak()>>20)
		if sh.Valid {
			assert.Contains(t, []int{201, 400, 422}, code, sh.Name)
		} else {
			assert.Equal(t, http.StatusBadRequest, code, sh.Name)
		}
		assert.Less(t, took, 10*time.Second, sh.Name)
	}

	// Eight at once: decodes queue for a slot rather than pile up.
	var wg sync.WaitGroup
	for i, sh := range shapes[:min(8, len(shapes))] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			ctx, cancel := context.WithTimeout(t.Context(), time.Minute)
			defer cancel()
			code, err := postShape(ctx, url, sh)
			assert.NoError(t, err, "%d %s", i, sh.Name)
			assert.Less(t, code, 500, sh.Name)
		}()
	}
	wg.Wait()
	t.Logf("peak RSS %d MiB (ready: %d MiB)", peak()>>20, base>>20)

	// Slow clients.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	host := strings.TrimPrefix(url, "http://")
	ended := make(chan time.Duration, 100)
	for i := range 100 {
		go func() {
			c, err := net.Dial("tcp", host)
			if err != nil {
				ended <- -1
				return
			}
			defer c.Close()
			begin := time.Now()
			head := "GET /api/v1/runs HTTP/1.1\r\nHost: sprint\r\nX-Slow: "
			if i%2 == 1 {
				head = "POST /api/v1/runs HTTP/1.1\r\nHost: sprint\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
			}
			_, _ = io.WriteString(c, head)
			go func() {
				tick := time.NewTicker(200 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
						if _, err := c.Write([]byte("a")); err != nil {
							return
						}
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				ended <- 30 * time.Second
				return
			}
			ended <- time.Since(begin)
		}()
	}
	out, errOut, code := ctl(t, url, "", "get", "runs")
	require.Equal(t, 0, code, "a normal client during slowloris: %s %s", out, errOut)
	for range 100 {
		d := <-ended
		require.GreaterOrEqual(t, d, time.Duration(0), "dial failed")
		assert.Less(t, d, 10*time.Second, "a slow connection stayed open")
	}
	t.Logf("peak RSS %d MiB at the end", peak()>>20)
}

// BenchmarkE2EHostileBodies sends each hostile shape to a fresh real node
// (the binaries built from this tree) and reports the answer, its time and
// the node's peak RSS growth; a node whose RSS passes 4 GiB is killed and
// reported as such. It measures the figures of docs/benchmarks.md: run it
// on two trees to compare.
func BenchmarkE2EHostileBodies(b *testing.B) {
	benchGate(b)
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		b.Run(sh.Name, func(b *testing.B) {
			for b.Loop() {
				hostileOnce(b, sh)
			}
		})
	}
}

func hostileOnce(b *testing.B, sh hostile.Shape) {
	listen, raft := freePort(b), freePort(b)
	p := start(b, "sprint", nil, "--data-dir", b.TempDir()+"/data", "--listen", listen, "--raft-addr", raft)
	url := "http://" + listen
	waitHTTP(b, url+"/readyz", 30*time.Second)
	pid := p.cmd.Process.Pid
	ready, _ := procStatusBytes(pid, "VmHWM")
	const limit = 4 << 30
	killed := make(chan struct{})
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
			}
			if hwm, err := procStatusBytes(pid, "VmHWM"); err == nil && hwm > limit {
				_ = p.cmd.Process.Kill()
				close(killed)
				return
			}
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	begin := time.Now()
	code, err := postShape(ctx, url, sh)
	took := time.Since(begin)
	hwm, _ := procStatusBytes(pid, "VmHWM")
	answer := fmt.Sprint(code)
	select {
	case <-killed:
		answer = fmt.Sprintf("killed at %d GiB", limit>>30)
	default:
		if err != nil {
			answer = err.Error()
		}
	}
	b.ReportMetric(float64(took.Milliseconds()), "ms")
	b.ReportMetric(float64(hwm-ready)/(1<<20), "MiB-peak-RSS-growth")
	fmt.Fprintf(os.Stderr, "%-24s %8d B  %-16s %9v  peak RSS %5d MiB (ready %d MiB)\n", sh.Name, len(sh.Body), answer, took.Round(time.Millisecond), hwm>>20, ready>>20)
}
