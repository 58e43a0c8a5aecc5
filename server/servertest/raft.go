package servertest

import (
	"context"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
	"github.com/sprint-project/sprint/server"
)

// RaftServer is a real server.Server over a real single-node raftstore,
// Schedules included (the fakes have no Schedule store).
type RaftServer struct {
	*server.Server
	// URL is the server's base URL.
	URL   string
	Store *raftstore.Store
}

// StartRaft serves cfg (its Schedules set to the store's) over a new
// single-node raftstore in a temporary directory, on 127.0.0.1:0, until
// the test ends. cfg.Now, when set, is the store's clock too. It returns once the node leads and records its store
// level, so Schedule writes are accepted.
func StartRaft(t testing.TB, cfg server.Config) *RaftServer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	url := "http://" + ln.Addr().String()
	rc := raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", HTTPAddr: url, DataDir: t.TempDir()}
	raftstoretest.SoloConfig(&rc)
	if cfg.Now != nil {
		rc.Now = cfg.Now
	}
	logger := raftstoretest.TestLogger(t)
	store, err := raftstore.New(rc, logger)
	require.NoError(t, err)
	require.NoError(t, store.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, store.Close()) })
	raftstoretest.WaitLeader(t, store, 20*time.Second)
	if cfg.NodeID == "" {
		cfg.NodeID = "n1"
	}
	cfg.Schedules = wiring.NewServerSchedules(store)
	srv, err := server.New(cfg, wiring.NewServerStore(store), nil, logger)
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- srv.Serve(context.Background(), ln) }()
	t.Cleanup(func() {
		require.NoError(t, srv.Close())
		require.NoError(t, <-done)
	})
	return &RaftServer{Server: srv, URL: url, Store: store}
}
