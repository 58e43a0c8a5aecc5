package controller_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/controller/storetest"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// The controller's Store contract holds for the store production uses and
// for the fake the controller's unit tests use.
func TestStoreContract(t *testing.T) {
	t.Run("raftstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			s := startScheduling(t)
			return storetest.Harness{Store: wiring.NewControllerStore(s), Admin: s, Schedules: s, Follower: wiring.NewControllerStore(startStray(t))}
		})
	})
	t.Run("fake", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			s, follower := controller.NewFakeStore(), controller.NewFakeStore()
			follower.SetLeader(false)
			return storetest.Harness{Store: s, Admin: s, Schedules: s, Follower: follower}
		})
	})
}

// startStray starts a node that waits to be joined to a cluster and never
// is: it knows no leader, and every write on it fails as on a follower.
func startStray(t testing.TB) *raftstore.Store {
	t.Helper()
	cfg := raftstore.Config{NodeID: "stray", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://stray", DataDir: t.TempDir(), JoinExisting: true}
	raftstoretest.TestConfig(&cfg)
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// startScheduling starts a one-node store and waits until it recorded its
// own store level: until then it refuses Schedule writes, as a cluster in
// a rolling upgrade does.
func startScheduling(t testing.TB) *raftstore.Store {
	t.Helper()
	s := startSolo(t)
	require.Eventually(t, func() bool {
		ms, err := s.Members()
		return err == nil && ms["solo"].StoreLevel == raftstore.StoreLevel
	}, 10*time.Second, 5*time.Millisecond, "the leader records its own store level")
	return s
}
