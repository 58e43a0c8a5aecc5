package client_test

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// smallWindowClient reads through sockets with a 4 KiB receive buffer, so
// that a consumer that stops reading stops the server's writes within a
// few KiB rather than megabytes.
func smallWindowClient() *http.Client {
	d := &net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		})
		if err != nil {
			return err
		}
		return serr
	}}
	return &http.Client{Transport: &http.Transport{DialContext: d.DialContext}}
}

// A consumer that stops reading makes the server cut its watch off as too
// slow (410); the Watcher lists again and the consumer ends up with every
// Run's last state, each Run's versions only going forward: nothing lost,
// nothing repeated.
func TestWatch_RelistsAfterTooSlow(t *testing.T) {
	store := servertest.NewStore()
	store.WatchBuffer = 8
	srv := servertest.Start(t, server.Config{}, store, nil)
	c, err := client.New(srv.URL, "", client.WithHTTPClient(smallWindowClient()))
	require.NoError(t, err)
	ctx := t.Context()
	const runs = 20
	pad := strings.Repeat("x", 32<<10)
	for i := range runs {
		r := newRun(fmt.Sprintf("r%02d", i))
		r.Metadata.Annotations = map[string]string{"pad": pad}
		_, err := store.CreateRun(ctx, r)
		require.NoError(t, err)
	}

	w, err := c.Watch(ctx, client.WatchOptions{Synced: true})
	require.NoError(t, err)
	defer w.Stop()
	view := map[string]string{}
	apply := func(ev client.Event) {
		name, rv := ev.Run.Metadata.Name, ev.Run.Metadata.ResourceVersion
		if old, ok := view[name]; ok {
			require.NotEqual(t, apis.Added, ev.Type, "%s added twice", name)
			n, _ := strconv.Atoi(rv)
			o, _ := strconv.Atoi(old)
			require.Greater(t, n, o, "%s %s@%s after @%s", ev.Type, name, rv, old)
		}
		if ev.Type == apis.Deleted {
			delete(view, name)
			return
		}
		view[name] = rv
	}
	for ev := recv(t, w); ev.Type != client.Synced; ev = recv(t, w) {
		apply(ev)
	}
	require.Len(t, view, runs)

	// The consumer looks away while every Run changes 15 times (and one
	// is deleted): about 10 MB of events, far beyond the socket buffers
	// and the server's buffer of 8 changes.
	for round := range 15 {
		for i := range runs {
			require.NoError(t, store.SetStatus(fmt.Sprintf("r%02d", i), apis.RunStatus{Phase: apis.PhaseRunning, Message: fmt.Sprint(round)}))
		}
	}
	_, _, err = store.RequestDelete(ctx, "r00", "")
	require.NoError(t, err)
	want := map[string]string{}
	list, err := c.ListAll(ctx, client.ListOptions{}, 0)
	require.NoError(t, err)
	for _, r := range list.Items {
		want[r.Metadata.Name] = r.Metadata.ResourceVersion
	}

	relisted := false
	for !relisted || !mapsEqual(view, want) {
		ev := recv(t, w)
		if ev.Type == client.Synced {
			relisted = true
			continue
		}
		apply(ev)
	}
	assert.Regexp(t, `sprint_http_watch_streams_closed_total\{reason="too_slow"\} [1-9]`, metrics(t, srv.URL),
		"the server cut the watch off as too slow")
}

func mapsEqual(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func metrics(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return string(b)
}

// pipeTransport serves requests with a handler in-process, streaming
// each answer through a pipe: no network, so the client's waits run on
// synctest's clock. cut breaks every stream open so far, as a network
// failure would.
type pipeTransport struct {
	h  http.Handler
	mu sync.Mutex
	ws []*io.PipeWriter
}

func (t *pipeTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	pr, pw := io.Pipe()
	rw := &pipeWriter{header: http.Header{}, pw: pw, wrote: make(chan struct{})}
	t.mu.Lock()
	t.ws = append(t.ws, pw)
	t.mu.Unlock()
	go func() {
		t.h.ServeHTTP(rw, r)
		rw.WriteHeader(http.StatusOK)
		_ = pw.Close()
	}()
	<-rw.wrote
	return &http.Response{StatusCode: rw.code, Header: rw.header, Body: pr, Request: r}, nil
}

func (t *pipeTransport) cut() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, w := range t.ws {
		_ = w.CloseWithError(io.ErrUnexpectedEOF)
	}
	t.ws = nil
}

type pipeWriter struct {
	header http.Header
	code   int
	once   sync.Once
	wrote  chan struct{}
	pw     *io.PipeWriter
}

func (w *pipeWriter) Header() http.Header { return w.header }

func (w *pipeWriter) WriteHeader(code int) {
	w.once.Do(func() {
		w.code = code
		w.header = w.header.Clone()
		close(w.wrote)
	})
}

func (w *pipeWriter) Write(b []byte) (int, error) {
	w.WriteHeader(http.StatusOK)
	return w.pw.Write(b)
}

func (w *pipeWriter) Flush() {}

// throttle answers 429 with Retry-After to the first n requests, then
// passes them on.
type throttle struct {
	mu    sync.Mutex
	n     int
	calls []time.Time
	next  http.Handler
}

func (th *throttle) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	th.mu.Lock()
	th.calls = append(th.calls, time.Now())
	refuse := len(th.calls) <= th.n
	th.mu.Unlock()
	if refuse {
		w.Header().Set("Retry-After", "3")
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte(`{"kind":"Status","apiVersion":"sprint/v1","code":429,"reason":"TooManyRequests","message":"too many requests"}`))
		return
	}
	th.next.ServeHTTP(w, r)
}

func TestClient_HonoursRetryAfter(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		srv, err := server.New(server.Config{}, servertest.NewStore(), nil, nil)
		require.NoError(t, err)
		defer srv.Close()
		th := &throttle{n: 2, next: srv.Handler()}
		c, err := client.New("http://sprint.test", "", client.WithHTTPClient(&http.Client{Transport: &pipeTransport{h: th}}))
		require.NoError(t, err)

		began := time.Now()
		_, err = c.List(t.Context(), client.ListOptions{})
		require.NoError(t, err)
		require.Len(t, th.calls, 3)
		assert.Equal(t, 3*time.Second, th.calls[1].Sub(th.calls[0]), "waited as Retry-After said")
		assert.Equal(t, 6*time.Second, time.Since(began))

		// A server that keeps refusing: the 429 comes back after ten
		// more tries, with the wait it asked for.
		th.mu.Lock()
		th.n, th.calls = 1000, nil
		th.mu.Unlock()
		_, err = c.List(t.Context(), client.ListOptions{})
		require.Equal(t, http.StatusTooManyRequests, client.StatusCode(err), "%v", err)
		assert.Len(t, th.calls, 11)
		assert.Contains(t, err.Error(), "too many requests")
	})
}

// A Watcher whose reconnect is refused with 429 waits as told and carries
// on, however long it takes, from where it was.
func TestWatch_WaitsOutTooManyRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		store := servertest.NewStore()
		srv, err := server.New(server.Config{}, store, nil, nil)
		require.NoError(t, err)
		defer srv.Close()
		th := &throttle{next: srv.Handler()}
		tr := &pipeTransport{h: th}
		c, err := client.New("http://sprint.test", "", client.WithHTTPClient(&http.Client{Transport: tr}))
		require.NoError(t, err)
		_, err = store.CreateRun(t.Context(), newRun("a"))
		require.NoError(t, err)

		w, err := c.Watch(t.Context(), client.WatchOptions{})
		require.NoError(t, err)
		defer w.Stop()
		ev := <-w.Events()
		require.Equal(t, "a", ev.Run.Metadata.Name)

		th.mu.Lock()
		th.n = 1 + 25 // the first watch, then 25 refusals: beyond the client's own ten retries
		th.mu.Unlock()
		began := time.Now()
		tr.cut()
		require.NoError(t, store.SetStatus("a", apis.RunStatus{Phase: apis.PhaseRunning}))
		ev, ok := <-w.Events()
		require.True(t, ok, "watch ended: %v", w.Err())
		assert.Equal(t, apis.Modified, ev.Type)
		assert.Equal(t, apis.PhaseRunning, ev.Run.Status.Phase)
		assert.Equal(t, 25*3*time.Second, time.Since(began), "waited 3 s after each 429")
		th.mu.Lock()
		assert.Len(t, th.calls, 1+25+1)
		th.mu.Unlock()
	})
}
