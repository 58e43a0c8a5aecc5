package server_test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// dial opens a raw connection to a test server.
func dial(t *testing.T, url string) net.Conn {
	t.Helper()
	c, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return c
}

// untilClosed reads c until the server closes it, returning what it
// answered and when the connection ended. A connection the server never
// closes fails the test after limit.
func untilClosed(t *testing.T, c net.Conn, limit time.Duration) (string, time.Time) {
	t.Helper()
	require.NoError(t, c.SetReadDeadline(time.Now().Add(limit)))
	b, err := io.ReadAll(c)
	if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatalf("the server kept the connection open for %v", limit)
	}
	return string(b), time.Now()
}

const postHeader = "POST /api/v1/runs?dryRun=true HTTP/1.1\r\nHost: sprint\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n"

// TestTimeouts_SlowBodyIsCutOff: a body that stops, or trickles in slower
// than the minimum rate, is answered 408 and its connection closed soon
// after the body deadline, where before it held the connection for ever.
func TestTimeouts_SlowBodyIsCutOff(t *testing.T) {
	const grace = 300 * time.Millisecond
	srv := start(t, server.Config{BodyReadTimeout: grace, MinBodyRate: 1024})
	body := runJSON("slow")

	t.Run("stalled", func(t *testing.T) {
		c := dial(t, srv.URL)
		begin := time.Now()
		_, err := fmt.Fprintf(c, postHeader+"%s", len(body), body[:10])
		require.NoError(t, err)
		answer, end := untilClosed(t, c, 10*time.Second)
		assert.True(t, strings.HasPrefix(answer, "HTTP/1.1 408 "), answer)
		assert.Contains(t, answer, `"reason":"Timeout"`)
		assert.Contains(t, answer, "request body arrived too slowly: 10 bytes in")
		assert.GreaterOrEqual(t, end.Sub(begin), grace)
		assert.Less(t, end.Sub(begin), grace+2*time.Second)
	})
	t.Run("a byte at a time", func(t *testing.T) {
		// 1 byte per 20 ms is 50 bytes/s: each byte moves the deadline
		// by 1 ms, so the body is cut off a little after the grace.
		c := dial(t, srv.URL)
		begin := time.Now()
		_, err := fmt.Fprintf(c, postHeader, len(body))
		require.NoError(t, err)
		stop := make(chan struct{})
		defer close(stop)
		go func() {
			tick := time.NewTicker(20 * time.Millisecond)
			defer tick.Stop()
			for i := 0; i < len(body); i++ {
				select {
				case <-stop:
					return
				case <-tick.C:
				}
				if _, err := c.Write([]byte{body[i]}); err != nil {
					return
				}
			}
		}()
		answer, end := untilClosed(t, c, 10*time.Second)
		assert.True(t, strings.HasPrefix(answer, "HTTP/1.1 408 "), answer)
		assert.Less(t, end.Sub(begin), grace+2*time.Second)
	})
}

// TestTimeouts_BodyAtAReasonableRatePasses: a body that takes far longer
// than the grace period, but arrives faster than the minimum rate, is
// read whole.
func TestTimeouts_BodyAtAReasonableRatePasses(t *testing.T) {
	srv := start(t, server.Config{BodyReadTimeout: 200 * time.Millisecond, MinBodyRate: 64 << 10})
	body := runJSON("steady", func(r *apis.Run) { r.Spec.Command = "echo " + strings.Repeat("x", 256<<10) })
	pr, pw := io.Pipe()
	go func() {
		// 16 KiB every 20 ms: 800 KiB/s, a second or so in all.
		tick := time.NewTicker(20 * time.Millisecond)
		defer tick.Stop()
		for rest := []byte(body); len(rest) > 0; {
			<-tick.C
			n := min(16<<10, len(rest))
			if _, err := pw.Write(rest[:n]); err != nil {
				return
			}
			rest = rest[n:]
		}
		pw.Close()
	}()
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v1/runs?dryRun=true", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	begin := time.Now()
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	require.Equal(t, http.StatusCreated, resp.StatusCode, "%.300s", b)
	assert.Greater(t, time.Since(begin), 200*time.Millisecond, "the body took longer than the grace period")
}

// TestTimeouts_SlowHeadersAreCutOff: headers sent slowly end the
// connection after ReadHeaderTimeout.
func TestTimeouts_SlowHeadersAreCutOff(t *testing.T) {
	const timeout = 300 * time.Millisecond
	srv := start(t, server.Config{ReadHeaderTimeout: timeout})
	c := dial(t, srv.URL)
	begin := time.Now()
	_, err := io.WriteString(c, "GET /api/v1/runs HTTP/1.1\r\nHost: sprint\r\nX-Slow: ")
	require.NoError(t, err)
	_, end := untilClosed(t, c, 10*time.Second)
	// The server's clock starts when it accepts, a moment before Dial
	// returns here.
	assert.GreaterOrEqual(t, end.Sub(begin), timeout-50*time.Millisecond)
	assert.Less(t, end.Sub(begin), timeout+2*time.Second)
}

// TestTimeouts_IdleConnectionIsClosed: a kept-alive connection with no
// next request is closed after IdleTimeout.
func TestTimeouts_IdleConnectionIsClosed(t *testing.T) {
	const idle = 300 * time.Millisecond
	srv := start(t, server.Config{IdleTimeout: idle})
	c := dial(t, srv.URL)
	_, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: sprint\r\n\r\n")
	require.NoError(t, err)
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	answered := time.Now()
	_, end := untilClosed(t, c, 10*time.Second)
	assert.GreaterOrEqual(t, end.Sub(answered), idle-50*time.Millisecond)
	assert.Less(t, end.Sub(answered), idle+2*time.Second)
}

// TestTimeouts_HeadersOverTheLimit get 431.
func TestTimeouts_HeadersOverTheLimit(t *testing.T) {
	srv := start(t, server.Config{})
	r := call(t, "GET", srv.URL+"/api/v1/runs", "", "X-Big", strings.Repeat("a", server.DefaultMaxHeaderBytes+8<<10))
	assert.Equal(t, http.StatusRequestHeaderFieldsTooLarge, r.code)
	r = call(t, "GET", srv.URL+"/api/v1/runs", "", "X-Big", strings.Repeat("a", server.DefaultMaxHeaderBytes/2))
	assert.Equal(t, http.StatusOK, r.code)
}

// TestTimeouts_SlowlorisSparesOtherClients opens many connections that
// send headers or bodies a byte at a time while a normal client keeps
// making requests: the normal requests are all answered while the slow
// connections still hold their sockets, and every slow connection is
// closed within seconds.
func TestTimeouts_SlowlorisSparesOtherClients(t *testing.T) {
	const (
		timeout = 3 * time.Second
		slow    = 100 // connections of each kind
	)
	srv := start(t, server.Config{ReadHeaderTimeout: timeout, BodyReadTimeout: timeout, MinBodyRate: 1024})
	mustCreate(t, srv, "present")

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type ended struct {
		kind string
		took time.Duration
		err  error
	}
	results := make(chan ended, 2*slow)
	var wg sync.WaitGroup
	for i := range 2 * slow {
		kind := "headers"
		if i%2 == 1 {
			kind = "body"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				results <- ended{kind: kind, err: err}
				return
			}
			defer c.Close()
			begin := time.Now()
			head := "GET /api/v1/runs HTTP/1.1\r\nHost: sprint\r\nX-Slow: "
			if kind == "body" {
				head = fmt.Sprintf(postHeader, 1000)
			}
			if _, err := io.WriteString(c, head); err != nil {
				results <- ended{kind: kind, err: err}
				return
			}
			go func() { // a byte every 50 ms until the server hangs up
				tick := time.NewTicker(50 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-ctx.Done():
						return
					case <-tick.C:
					}
					if _, err := c.Write([]byte("a")); err != nil {
						return
					}
				}
			}()
			_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, err = io.Copy(io.Discard, c)
			if ne, ok := err.(net.Error); ok && ne.Timeout() {
				results <- ended{kind: kind, err: fmt.Errorf("still open after 30 s")}
				return
			}
			results <- ended{kind: kind, took: time.Since(begin)}
		}()
	}

	// Meanwhile, a normal client.
	var latencies []time.Duration
	hc := &http.Client{Timeout: 10 * time.Second}
	for i := range 40 {
		begin := time.Now()
		var resp *http.Response
		var err error
		if i%2 == 0 {
			resp, err = hc.Get(srv.URL + "/api/v1/runs")
		} else {
			resp, err = hc.Post(srv.URL+"/api/v1/runs?dryRun=true", "application/json", bytes.NewReader([]byte(runJSON(fmt.Sprintf("n%d", i)))))
		}
		require.NoError(t, err)
		_, _ = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		require.Less(t, resp.StatusCode, 300)
		latencies = append(latencies, time.Since(begin))
	}
	// Served while the slow connections still hold their sockets, not
	// after the server cut them off: an order, not a time, so that a
	// loaded machine does not fail it.
	assert.Zero(t, len(results), "a slow connection ended before the normal client's 40 requests were served")
	wg.Wait()
	close(results)
	for r := range results {
		require.NoError(t, r.err, r.kind)
		assert.Less(t, r.took, timeout+3*time.Second, "a slow %s connection lasted %v", r.kind, r.took)
	}
	sort.Slice(latencies, func(i, j int) bool { return latencies[i] < latencies[j] })
	t.Logf("normal client during slowloris: median %v, max %v", latencies[len(latencies)/2], latencies[len(latencies)-1])
}

// deadlineRecorder is a ResponseRecorder that keeps the deadlines set on
// it through an http.ResponseController.
type deadlineRecorder struct {
	*httptest.ResponseRecorder
	mu      sync.Mutex
	write   []time.Time
	read    []time.Time
	onWrite func()
}

func (d *deadlineRecorder) SetWriteDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.write = append(d.write, t)
	return nil
}

func (d *deadlineRecorder) SetReadDeadline(t time.Time) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.read = append(d.read, t)
	return nil
}

func (d *deadlineRecorder) Write(p []byte) (int, error) {
	if d.onWrite != nil {
		d.onWrite()
	}
	return d.ResponseRecorder.Write(p)
}

// TestTimeouts_WriteDeadlines: a plain response gets a write deadline of
// WriteTimeout; a watch and a followed log lift it; a body read to its end
// lifts the read deadline.
func TestTimeouts_WriteDeadlines(t *testing.T) {
	srv := start(t, server.Config{NodeID: "n1", WriteTimeout: time.Minute})
	f := follower(t, server.Config{WriteTimeout: time.Minute}, srv.URL)
	mustCreate(t, srv, "w")
	srv.Logs.Append("w", "stdout", "hello\n")
	tests := map[string]struct {
		method, target, body string
		lifted               bool
		viaFollower          bool
	}{
		"forwarded log":        {method: "GET", target: "/api/v1/runs/w/log", viaFollower: true},
		"forwarded log follow": {method: "GET", target: "/api/v1/runs/w/log?follow=true", lifted: true, viaFollower: true},
		"list":                 {method: "GET", target: "/api/v1/runs"},
		"create":               {method: "POST", target: "/api/v1/runs?dryRun=true", body: runJSON("x")},
		"log":                  {method: "GET", target: "/api/v1/runs/w/log"},
		"watch":                {method: "GET", target: "/api/v1/runs?watch=true", lifted: true},
		"log follow":           {method: "GET", target: "/api/v1/runs/w/log?follow=true", lifted: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			var body io.Reader
			if tc.body != "" {
				body = strings.NewReader(tc.body)
			}
			req := httptest.NewRequestWithContext(ctx, tc.method, tc.target, body)
			req.Header.Set("Content-Type", "application/json")
			rec := &deadlineRecorder{ResponseRecorder: httptest.NewRecorder(), onWrite: cancel} // streams end at their first write
			begin := time.Now()
			h := srv.Handler()
			if tc.viaFollower {
				h = f.Handler()
			}
			h.ServeHTTP(rec, req)
			rec.mu.Lock()
			defer rec.mu.Unlock()
			require.NotEmpty(t, rec.write)
			first := rec.write[0]
			assert.WithinDuration(t, begin.Add(time.Minute), first, 5*time.Second)
			if tc.lifted {
				assert.True(t, rec.write[len(rec.write)-1].IsZero(), "a stream lifts the write deadline: %v", rec.write)
			} else {
				assert.Len(t, rec.write, 1, "%v", rec.write)
			}
			if tc.body != "" {
				require.GreaterOrEqual(t, len(rec.read), 2, "a read deadline for the body, lifted at its end")
				assert.WithinDuration(t, begin.Add(server.DefaultBodyReadTimeout), rec.read[0], 5*time.Second)
				assert.True(t, rec.read[len(rec.read)-1].IsZero())
			} else {
				assert.Empty(t, rec.read)
			}
		})
	}
}

// TestTimeouts_SlowBodyOverHTTP2: the body deadline holds on an HTTP/2
// stream too (HTTPS), where net/http's deadlines are per stream.
func TestTimeouts_SlowBodyOverHTTP2(t *testing.T) {
	cert, key := servertest.SelfSignedCert(t, t.TempDir())
	srv := servertest.Start(t, server.Config{TLSCertFile: cert, TLSKeyFile: key, BodyReadTimeout: 300 * time.Millisecond, MinBodyRate: 1024}, nil, nil)
	pool := x509.NewCertPool()
	caPEM, err := os.ReadFile(cert)
	require.NoError(t, err)
	require.True(t, pool.AppendCertsFromPEM(caPEM))
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	pr, pw := io.Pipe()
	defer pw.Close()
	go func() { _, _ = pw.Write([]byte(`{"apiVersion":`)) }() // then nothing
	req, err := http.NewRequestWithContext(t.Context(), "POST", srv.URL+"/api/v1/runs", pr)
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	begin := time.Now()
	resp, err := hc.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, 2, resp.ProtoMajor, "HTTP/2")
	assert.Equal(t, http.StatusRequestTimeout, resp.StatusCode)
	assert.Less(t, time.Since(begin), 5*time.Second)
}
