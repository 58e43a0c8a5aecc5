package server_test

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// closedLog passes log records to the test log and sends the attributes
// of each "watch closed" record on a channel: the server's own report that
// it gave up on a watch.
type closedLog struct {
	slog.Handler
	closed chan map[string]string
}

func (h closedLog) Handle(ctx context.Context, r slog.Record) error {
	if r.Message == "watch closed" {
		attrs := map[string]string{}
		r.Attrs(func(a slog.Attr) bool { attrs[a.Key] = a.Value.String(); return true })
		h.closed <- attrs
	}
	return h.Handler.Handle(ctx, r)
}

func (h closedLog) WithAttrs(as []slog.Attr) slog.Handler {
	return closedLog{Handler: h.Handler.WithAttrs(as), closed: h.closed}
}

func (h closedLog) WithGroup(name string) slog.Handler {
	return closedLog{Handler: h.Handler.WithGroup(name), closed: h.closed}
}

// smallSendBuffers shrinks the send buffer of every connection the server
// accepts, so a client that stops reading blocks the server's writes after
// a few KiB.
type smallSendBuffers struct{ net.Listener }

func (l smallSendBuffers) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// slowServer serves store with small socket buffers and reports every
// watch it closes.
func slowServer(t *testing.T, cfg server.Config, store *servertest.Store) (string, <-chan map[string]string) {
	t.Helper()
	closed := make(chan map[string]string, 16)
	logger := slog.New(closedLog{Handler: slog.NewTextHandler(testLog{t}, nil), closed: closed})
	srv, err := server.New(cfg, store, nil, logger)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), smallSendBuffers{ln}) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	return ln.Addr().String(), closed
}

type testLog struct{ t *testing.T }

func (w testLog) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// dialSmallWindow opens a connection whose receive buffer is 4 KiB and
// sends one GET on it; the caller decides whether to ever read.
func dialSmallWindow(t *testing.T, addr, target string) net.Conn {
	t.Helper()
	d := net.Dialer{Control: func(_, _ string, rc syscall.RawConn) error {
		var serr error
		if err := rc.Control(func(fd uintptr) {
			serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
		}); err != nil {
			return err
		}
		return serr
	}}
	conn, err := d.DialContext(t.Context(), "tcp", addr)
	require.NoError(t, err)
	t.Cleanup(func() { conn.Close() })
	_, err = fmt.Fprintf(conn, "GET %s HTTP/1.1\r\nHost: sprint\r\nAccept: application/x-ndjson\r\n\r\n", target)
	require.NoError(t, err)
	return conn
}

// bigRun is a Run with a 16 KiB annotation: a few of them fill a socket.
func bigRun(name string) *apis.Run {
	return &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{Name: name, Annotations: map[string]string{"pad": strings.Repeat("x", 16<<10)}},
		Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32},
	}
}

// openStream reads the answer's headers from conn.
func openStream(t *testing.T, conn net.Conn) (*bufio.Reader, func() error) {
	t.Helper()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(30*time.Second)))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	return bufio.NewReader(resp.Body), resp.Body.Close
}

// readStream reads a stream to its end and returns its NDJSON events, and
// whether it ended cleanly (its chunked body was terminated) rather than
// being cut.
func readStream(t *testing.T, body *bufio.Reader) ([]wireEvent, bool) {
	t.Helper()
	b, err := io.ReadAll(body)
	var ne net.Error
	require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server never ended the stream")
	var evs []wireEvent
	for _, line := range strings.Split(string(b), "\n") {
		var ev wireEvent
		if json.Unmarshal([]byte(line), &ev) == nil {
			evs = append(evs, ev)
		}
	}
	return evs, err == nil
}

// A client that stops reading in the middle of a large listing is
// disconnected once a write has blocked for the write timeout; the server
// holds nothing for it meanwhile but its connection.
func TestWatch_ClientThatNeverReadsIsDisconnected(t *testing.T) {
	store := servertest.NewStore()
	for i := range 200 { // 3.2 MiB of listing
		_, err := store.CreateRun(t.Context(), bigRun(fmt.Sprintf("r%03d", i)))
		require.NoError(t, err)
	}
	const timeout = 300 * time.Millisecond
	addr, closed := slowServer(t, server.Config{WatchWriteTimeout: timeout}, store)
	began := time.Now()
	conn := dialSmallWindow(t, addr, "/api/v1/runs?watch=true")

	select {
	case attrs := <-closed:
		assert.Equal(t, "write_timeout", attrs["reason"])
		assert.Equal(t, "127.0.0.1", attrs["client"])
		assert.Less(t, time.Since(began), timeout+5*time.Second, "closed soon after the write timeout")
	case <-time.After(30 * time.Second):
		t.Fatal("the server never gave up on a client that does not read")
	}
	body, closeBody := openStream(t, conn)
	defer closeBody()
	evs, clean := readStream(t, body)
	assert.False(t, clean, "the stream was cut, not ended")
	assert.Less(t, len(evs), 200, "it got a part of the listing at most")
	for i, ev := range evs {
		require.Equal(t, apis.Added, ev.Type)
		require.Equal(t, fmt.Sprintf("r%03d", i), ev.run(t).Metadata.Name, "a prefix of the listing")
	}
	require.NoError(t, store.WaitWatchers(waitCtx(t), 0), "the watch is released")
}

// A client that reads too slowly for the changes (here: not at all for a
// while, then everything) falls behind the server's buffer: its stream
// holds every change up to where it fell behind, in order and without a
// gap, then an ERROR event 410 "too slow", then ends.
func TestWatch_ClientThatFallsBehindGetsTooSlow(t *testing.T) {
	store := servertest.NewStore()
	store.WatchBuffer = 4
	addr, closed := slowServer(t, server.Config{WatchWriteTimeout: time.Minute}, store)
	conn := dialSmallWindow(t, addr, "/api/v1/runs?watch=true")
	body, closeBody := openStream(t, conn)
	defer closeBody()
	// The (empty) listing's end: the watch streams. Now the client looks
	// away while 1.6 MiB of changes come.
	line, err := body.ReadBytes('\n')
	require.NoError(t, err)
	require.Contains(t, string(line), `"type":"BOOKMARK"`)
	for i := range 100 {
		_, err := store.CreateRun(t.Context(), bigRun(fmt.Sprintf("r%03d", i)))
		require.NoError(t, err)
	}
	evs, clean := readStream(t, body)
	assert.True(t, clean, "the stream ended with its ERROR event")
	require.NotEmpty(t, evs)
	last := evs[len(evs)-1]
	require.Equal(t, apis.Error, last.Type)
	var st apis.Status
	require.NoError(t, json.Unmarshal(last.Object, &st))
	assert.Equal(t, http.StatusGone, st.Code)
	assert.Equal(t, apis.ReasonGone, st.Reason)
	assert.Contains(t, st.Message, "too slow")

	names := 0
	for _, ev := range evs[:len(evs)-1] {
		require.Equal(t, apis.Added, ev.Type)
		require.Equal(t, fmt.Sprintf("r%03d", names), ev.run(t).Metadata.Name, "every change up to the cut, in order")
		names++
	}
	assert.Less(t, names, 100)
	select {
	case attrs := <-closed:
		assert.Equal(t, "too_slow", attrs["reason"])
	case <-time.After(30 * time.Second):
		t.Fatal("no report of the closed watch")
	}
}
