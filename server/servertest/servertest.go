package servertest

import (
	"log/slog"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
)

// Server is a real server.Server over the fakes, listening on loopback.
type Server struct {
	*server.Server
	// URL is the server's base URL, e.g. http://127.0.0.1:40123.
	URL   string
	Store *Store
	Logs  *Logs
}

// Start serves a new server over store and logs (new fakes when nil) on
// 127.0.0.1:0 until the test ends. Its logs go to t.Log.
func Start(t testing.TB, cfg server.Config, store *Store, logs *Logs) *Server {
	t.Helper()
	if store == nil {
		store = NewStore()
	}
	if logs == nil {
		logs = NewLogs()
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	srv, err := server.New(cfg, store, logs, logger)
	require.NoError(t, err)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(t.Context(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	scheme := "http://"
	if cfg.TLSCertFile != "" {
		scheme = "https://"
	}
	return &Server{Server: srv, URL: scheme + ln.Addr().String(), Store: store, Logs: logs}
}

// testWriter sends log lines to t.Log.
type testWriter struct{ t testing.TB }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Helper()
	w.t.Log(string(p))
	return len(p), nil
}
