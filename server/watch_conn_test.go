package server_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// A watch over HTTP/1.x streams on a connection the server took over from
// net/http once the headers were out (watch_conn.go); over HTTP/2 it
// streams through net/http. Either way, per transport (HTTP/1.1, HTTP/1.0
// without chunks, HTTPS with HTTP/1.1, HTTPS with HTTP/2): the stream
// carries the listing and the changes; a client that goes away, with no
// event to write that would notice, has its watch released at once; and
// Close ends the stream cleanly (the last chunk, or the connection's end
// for HTTP/1.0) and waits for it.
func TestWatch_TakenOverConnection(t *testing.T) {
	t.Parallel()
	for _, transport := range []string{"http/1.1", "http/1.0", "https/1.1", "https/2"} {
		for _, end := range []string{"client goes", "server closes"} {
			t.Run(transport+", "+end, func(t *testing.T) {
				t.Parallel()
				var cfg server.Config
				tlsOn := strings.HasPrefix(transport, "https")
				if tlsOn {
					cfg.TLSCertFile, cfg.TLSKeyFile = servertest.SelfSignedCert(t, t.TempDir())
				}
				srv := servertest.Start(t, cfg, nil, nil)
				_, err := srv.Store.CreateRun(t.Context(), bigRun("a"))
				require.NoError(t, err)

				body, proto, hangUp := openTransportWatch(t, srv, transport, cfg.TLSCertFile)
				wantProto := map[string]int{"http/1.1": 1, "http/1.0": 1, "https/1.1": 1, "https/2": 2}[transport]
				assert.Equal(t, wantProto, proto, "protocol")
				events := lines(body)
				ev := next(t, events)
				require.Equal(t, apis.Added, ev.Type)
				require.Equal(t, "a", ev.run(t).Metadata.Name)
				require.Equal(t, apis.Bookmark, next(t, events).Type)
				_, err = srv.Store.CreateRun(t.Context(), bigRun("b"))
				require.NoError(t, err)
				ev = next(t, events)
				require.Equal(t, apis.Added, ev.Type)
				require.Equal(t, "b", ev.run(t).Metadata.Name)

				switch end {
				case "client goes":
					hangUp()
					require.NoError(t, srv.Store.WaitWatchers(waitCtx(t), 0), "the watch is released when its client goes")
				case "server closes":
					require.NoError(t, srv.Close(), "Close waits for the stream to end")
					require.Equal(t, 0, srv.Store.Watchers(), "the watch ended before Close returned")
					for range events { // the stream's end: no error
					}
					require.NoError(t, <-body.err, "the stream ended cleanly, not cut")
				}
			})
		}
	}
}

// streamBody is a watch's body being read; err gets the error that ended
// the reading (nil for a clean end).
type streamBody struct {
	r   io.Reader
	err chan error
}

// lines decodes body's NDJSON events onto a channel, closed at the body's
// end, whose error goes to body.err.
func lines(body *streamBody) <-chan wireEvent {
	events := make(chan wireEvent, 16)
	go func() {
		defer close(events)
		br := bufio.NewReader(body.r)
		for {
			line, err := br.ReadBytes('\n')
			var ev wireEvent
			if len(line) > 0 && json.Unmarshal(line, &ev) == nil {
				events <- ev
			}
			if err != nil {
				if err == io.EOF {
					err = nil
				}
				body.err <- err
				return
			}
		}
	}()
	return events
}

// openTransportWatch opens a watch of every Run over transport and
// returns its body, the protocol's major version and how the client hangs
// up.
func openTransportWatch(t *testing.T, srv *servertest.Server, transport, certFile string) (*streamBody, int, func()) {
	t.Helper()
	if transport == "http/1.0" {
		conn, err := net.Dial("tcp", strings.TrimPrefix(srv.URL, "http://"))
		require.NoError(t, err)
		t.Cleanup(func() { conn.Close() })
		_, err = fmt.Fprintf(conn, "GET /api/v1/runs?watch=true HTTP/1.0\r\nHost: sprint\r\n\r\n")
		require.NoError(t, err)
		resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, resp.StatusCode)
		assert.Empty(t, resp.TransferEncoding, "no chunks for HTTP/1.0")
		return &streamBody{r: resp.Body, err: make(chan error, 1)}, resp.ProtoMajor, func() { conn.Close() }
	}
	tr := &http.Transport{}
	if strings.HasPrefix(transport, "https") {
		pool := x509.NewCertPool()
		caPEM, err := os.ReadFile(certFile)
		require.NoError(t, err)
		require.True(t, pool.AppendCertsFromPEM(caPEM))
		tr.TLSClientConfig = &tls.Config{RootCAs: pool}
		tr.ForceAttemptHTTP2 = transport == "https/2"
	}
	t.Cleanup(tr.CloseIdleConnections)
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, "GET", srv.URL+"/api/v1/runs?watch=true", nil)
	require.NoError(t, err)
	resp, err := (&http.Client{Transport: tr}).Do(req)
	require.NoError(t, err)
	t.Cleanup(func() { resp.Body.Close() })
	require.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Equal(t, resp.ProtoMajor == 1, resp.Close, "an HTTP/1.1 client learns that the connection ends with the stream")
	return &streamBody{r: resp.Body, err: make(chan error, 1)}, resp.ProtoMajor, cancel
}

// Close does not wait longer than its ShutdownTimeout for a taken-over
// stream blocked on a client that does not read: it closes the connection,
// the stream ends, and Close says what it cut.
func TestWatch_CloseCutsStalledTakenOverStream(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	for i := range 50 { // 800 KiB of listing: more than the sockets hold
		_, err := store.CreateRun(t.Context(), bigRun(fmt.Sprintf("r%03d", i)))
		require.NoError(t, err)
	}
	srv, err := server.New(server.Config{WatchWriteTimeout: time.Hour, ShutdownTimeout: 300 * time.Millisecond}, store, nil, nil)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), smallSendBuffers{ln}) }()
	conn := dialSmallWindow(t, ln.Addr().String(), "/api/v1/runs?watch=true")
	body, closeBody := openStream(t, conn)
	defer closeBody()
	// The first event: the stream is on its own goroutine (events are
	// written only there), and from now on the client reads no further.
	// (Close while the handler still holds the connection is net/http's
	// Shutdown's to wait for, and that stream ends cleanly at once.)
	_, err = body.ReadBytes('\n')
	require.NoError(t, err)

	began := time.Now()
	err = srv.Close()
	require.ErrorContains(t, err, "did not end in time")
	assert.Less(t, time.Since(began), 10*time.Second)
	assert.Equal(t, 0, store.Watchers(), "the stream ended before Close returned")
	require.NoError(t, <-done)
}
