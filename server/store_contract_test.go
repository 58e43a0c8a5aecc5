package server_test

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
	"github.com/sprint-project/sprint/server/servertest"
	"github.com/sprint-project/sprint/server/storetest"
)

// The server's Store contract holds for the store production uses and for
// servertest's fake, which the API's tests use.
func TestStoreContract(t *testing.T) {
	t.Parallel()
	const history = 32
	t.Run("raftstore", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			s := startStore(t, "n1", false, func(c *raftstore.Config) { c.WatchHistory = history })
			raftstoretest.WaitLeader(t, s, 20*time.Second)
			stray := startStore(t, "stray", true, nil)
			return storetest.Harness{
				Store: wiring.NewServerStore(s),
				Launch: func(t *testing.T, name string) {
					r, err := s.GetRun(t.Context(), name)
					require.NoError(t, err)
					ref := apis.RunRef{Name: name, UID: r.Metadata.UID}
					require.NoError(t, s.RecordAttempt(t.Context(), ref, apis.Attempt{Number: 1, TaskID: name + ".1.x"}))
					_, err = s.ApplyStatus(t.Context(), apis.StatusUpdate{Run: ref, Status: apis.RunStatus{Phase: apis.PhaseRunning, TaskID: name + ".1.x"}})
					require.NoError(t, err)
				},
				AddEvent: func(t *testing.T, name string, ev apis.RunEvent) {
					require.NoError(t, s.AppendEvents(t.Context(), []apis.EventRecord{{Run: name, Event: ev}}))
				},
				History:  history,
				Follower: wiring.NewServerStore(stray),
			}
		})
	})
	t.Run("fake", func(t *testing.T) {
		t.Parallel()
		storetest.Run(t, func(t *testing.T) storetest.Harness {
			s := servertest.NewStore()
			s.HistorySize = history
			follower := servertest.NewStore()
			follower.SetLeader(false, "n1", "http://127.0.0.1:1")
			return storetest.Harness{
				Store: s,
				Launch: func(t *testing.T, name string) {
					require.NoError(t, s.SetStatus(name, apis.RunStatus{Phase: apis.PhaseRunning, TaskID: name + ".1.x"}))
				},
				AddEvent: func(_ *testing.T, name string, ev apis.RunEvent) { s.AddEvent(name, ev) },
				History:  history,
				Follower: follower,
			}
		})
	})
}

// startStore starts a raftstore node on loopback: it bootstraps a
// one-node cluster, or with join waits to be joined (and is never, here:
// it knows no leader, as a follower cut off from one).
func startStore(t *testing.T, id string, join bool, tune func(*raftstore.Config)) *raftstore.Store {
	t.Helper()
	cfg := raftstore.Config{NodeID: id, RaftAddr: "127.0.0.1:0", HTTPAddr: "http://" + id + ".test", DataDir: t.TempDir(), JoinExisting: join}
	if join {
		raftstoretest.TestConfig(&cfg)
	} else {
		raftstoretest.SoloConfig(&cfg) // the only member: it may elect itself fast
	}
	if tune != nil {
		tune(&cfg)
	}
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { require.NoError(t, s.Close()) })
	return s
}
