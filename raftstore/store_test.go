package raftstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

func newRun(name string) *apis.Run {
	return &apis.Run{
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"app": "test"}},
		Spec:     apis.RunSpec{Command: "echo " + name, Cpus: 0.1, Mem: 32},
	}
}

// startSingle starts a one-node store in dir on a fresh port.
func startSingle(t *testing.T, dir string, tune func(*raftstore.Config)) *raftstore.Store {
	t.Helper()
	cfg := raftstore.Config{NodeID: "solo", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://solo", DataDir: dir}
	raftstoretest.TestConfig(&cfg)
	// A single node has no quorum to lose; elect it fast.
	cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
	if tune != nil {
		tune(&cfg)
	}
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Start(t.Context()))
	t.Cleanup(func() { _ = s.Close() })
	require.Eventually(t, func() bool { return s.LinearizableRead(t.Context()) == nil }, 10*time.Second, 10*time.Millisecond)
	return s
}

func TestStore_SingleNodeCRUD(t *testing.T) {
	s := startSingle(t, t.TempDir(), nil)
	ctx := t.Context()
	changes := s.LeadershipChanges()
	require.Eventually(t, func() bool { return <-changes }, 10*time.Second, time.Millisecond,
		"a subscriber gets the current state, then changes")
	id, addr := s.Leader()
	assert.Equal(t, "solo", id)
	assert.Equal(t, "http://solo", addr)

	created, err := s.CreateRun(ctx, newRun("a"))
	require.NoError(t, err)
	assert.NotEmpty(t, created.Metadata.UID)
	assert.NotNil(t, created.Metadata.CreationTimestamp)
	_, err = s.CreateRun(ctx, newRun("a"))
	assert.ErrorIs(t, err, apis.ErrAlreadyExists)

	gen := newRun("")
	gen.Metadata.GenerateName = "etl-"
	g, err := s.CreateRun(ctx, gen)
	require.NoError(t, err)
	assert.Regexp(t, `^etl-[a-z0-9]{5}$`, g.Metadata.Name)

	upd := *created
	upd.Spec.Cancel = true
	u, err := s.UpdateRun(ctx, &upd)
	require.NoError(t, err)
	assert.Equal(t, int64(2), u.Metadata.Generation)
	_, err = s.UpdateRun(ctx, &upd) // created's resourceVersion is stale now
	assert.ErrorIs(t, err, apis.ErrConflict)

	st, err := s.UpdateStatus(ctx, "a", apis.RunStatus{Phase: apis.PhaseRunning, TaskID: "a.1"})
	require.NoError(t, err)
	assert.True(t, st.Spec.Cancel)
	require.NoError(t, s.RecordAttempt(ctx, apis.RunRef{Name: "a"}, apis.Attempt{Number: 1, TaskID: "a.1"}))
	err = s.RecordAttempt(ctx, apis.RunRef{Name: "a"}, apis.Attempt{Number: 2, TaskID: "a.2"})
	assert.ErrorIs(t, err, apis.ErrAttemptLive)
	live, err := s.ListLiveAttempts()
	require.NoError(t, err)
	assert.Len(t, live, 1)

	res, err := s.BatchUpdateStatus(ctx, []apis.StatusUpdate{
		{Run: apis.RunRef{Name: "a"}, Status: apis.RunStatus{Phase: apis.PhaseRunning, Message: "still"}},
		{Run: apis.RunRef{Name: "zz"}},
	})
	require.NoError(t, err)
	require.Len(t, res, 2)
	assert.NoError(t, res[0].Err)
	assert.ErrorIs(t, res[1].Err, apis.ErrNotFound)

	require.NoError(t, s.AppendEvents(ctx, []apis.EventRecord{{Run: "a", Event: apis.RunEvent{Type: apis.EventNormal, Reason: "Launched"}}}))
	evs, err := s.Events("a")
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	require.NoError(t, s.SetFrameworkID(ctx, "fw-1"))
	fw, err := s.FrameworkID(ctx)
	require.NoError(t, err)
	assert.Equal(t, "fw-1", fw)

	run, deleted, err := s.RequestDelete(ctx, "a", "")
	require.NoError(t, err)
	assert.False(t, deleted, "a live attempt keeps the run")
	assert.NotNil(t, run.Metadata.DeletionTimestamp)
	assert.ErrorIs(t, s.DeleteRun(ctx, "a", "wrong-uid"), apis.ErrConflict)
	require.NoError(t, s.DeleteRuns(ctx, []apis.RunRef{{Name: "a", UID: created.Metadata.UID, ResourceVersion: "1"}}), "changed since version 1: skipped")
	_, err = s.GetRun(ctx, "a")
	require.NoError(t, err, "a Run changed since the version named is not deleted")
	require.NoError(t, s.DeleteRun(ctx, "a", created.Metadata.UID))
	_, err = s.GetRun(ctx, "a")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	_, deleted, err = s.RequestDelete(ctx, g.Metadata.Name, "")
	require.NoError(t, err)
	assert.True(t, deleted, "never launched: deleted at once")
}

func TestStore_ListRunsPaginates(t *testing.T) {
	s := startSingle(t, t.TempDir(), nil)
	for i := range 25 {
		r := newRun(fmt.Sprintf("r%02d", i))
		if i%2 == 1 {
			r.Metadata.Labels["odd"] = "true"
		}
		_, err := s.CreateRun(t.Context(), r)
		require.NoError(t, err)
	}
	odd := func(r *apis.Run) bool { return r.Metadata.Labels["odd"] == "true" }
	var names []string
	opts := raftstore.ListOptions{Match: odd, Limit: 5}
	for pages := 0; ; pages++ {
		require.Less(t, pages, 5)
		list, err := s.ListRuns(t.Context(), opts)
		require.NoError(t, err)
		assert.Equal(t, fmt.Sprint(s.AppliedIndex()), list.Metadata.ResourceVersion)
		for _, r := range list.Items {
			names = append(names, r.Metadata.Name)
		}
		if list.Metadata.Continue == "" {
			break
		}
		opts.Continue = list.Metadata.Continue
	}
	assert.Len(t, names, 12)
	assert.Equal(t, "r01", names[0])
	assert.Equal(t, "r23", names[11])
	_, err := s.ListRuns(t.Context(), raftstore.ListOptions{Continue: "!!"})
	assert.ErrorIs(t, err, apis.ErrBadRequest)
}

func TestStore_EachRunScansInNameOrderFromOneRead(t *testing.T) {
	s := startSingle(t, t.TempDir(), nil)
	for i := range 1200 {
		_, err := s.CreateRun(t.Context(), newRun(fmt.Sprintf("r%04d", 1199-i)))
		require.NoError(t, err)
	}
	var names []string
	var maxRV uint64
	idx, err := s.EachRun(t.Context(), func(r *apis.Run) error {
		names = append(names, r.Metadata.Name)
		rv, err := strconv.ParseUint(r.Metadata.ResourceVersion, 10, 64)
		maxRV = max(maxRV, rv)
		return err
	})
	require.NoError(t, err)
	require.Len(t, names, 1200)
	assert.True(t, sort.StringsAreSorted(names), "name order")
	assert.Equal(t, s.AppliedIndex(), idx)
	assert.LessOrEqual(t, maxRV, idx, "no Run newer than the index reported")

	stop := errors.New("stop")
	seen := 0
	_, err = s.EachRun(t.Context(), func(*apis.Run) error {
		if seen++; seen == 10 {
			return stop
		}
		return nil
	})
	assert.ErrorIs(t, err, stop)
	assert.Equal(t, 10, seen, "fn's error ends the scan")

	ctx, cancel := context.WithCancel(t.Context())
	seen = 0
	_, err = s.EachRun(ctx, func(*apis.Run) error {
		if seen++; seen == 1 {
			cancel()
		}
		return nil
	})
	assert.ErrorIs(t, err, context.Canceled)
	assert.Less(t, seen, 1200, "a cancelled scan stops early")
}

// TestStore_RestartRecoversFromDisk covers the three ways a node comes back:
// trusting its FSM file, rebuilding it from the log alone, and rebuilding
// it from a snapshot plus the log.
func TestStore_RestartRecoversFromDisk(t *testing.T) {
	tests := map[string]struct {
		snapshot bool
		lose     bool // delete fsm.db, as if it were torn by an OS crash
	}{
		"fsm file kept":                   {},
		"fsm file lost, log only":         {lose: true},
		"fsm file lost, snapshot and log": {snapshot: true, lose: true},
		"fsm file kept, snapshot and log": {snapshot: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			s := startSingle(t, dir, nil)
			for i := range 20 {
				_, err := s.CreateRun(t.Context(), newRun(fmt.Sprintf("r%d", i)))
				require.NoError(t, err)
				if i == 9 && tc.snapshot {
					require.NoError(t, s.Snapshot())
				}
			}
			_, err := s.UpdateStatus(t.Context(), "r3", apis.RunStatus{Phase: apis.PhaseSucceeded})
			require.NoError(t, err)
			want, err := s.ListRuns(t.Context(), raftstore.ListOptions{})
			require.NoError(t, err)
			addr := s.RaftAddr()
			require.NoError(t, s.Close())
			if tc.lose {
				require.NoError(t, os.Remove(filepath.Join(dir, "fsm.db")))
			}

			s = startSingle(t, dir, func(c *raftstore.Config) { c.RaftAddr = addr })
			got, err := s.ListRuns(t.Context(), raftstore.ListOptions{})
			require.NoError(t, err)
			assert.Equal(t, want.Items, got.Items)

			// Idle after the restart, the log ends in entries the FSM never
			// sees (the leader's no-op and barrier): reads must not wait for
			// a write that may never come.
			changes := s.LeadershipChanges()
			require.Eventually(t, func() bool { return <-changes }, 10*time.Second, time.Millisecond)
			ctx, cancel := context.WithTimeout(t.Context(), 5*time.Second)
			defer cancel()
			require.NoError(t, s.LinearizableRead(ctx))
			require.NoError(t, s.LinearizableRead(ctx))
			assert.True(t, s.Ready())
			_, err = s.CreateRun(t.Context(), newRun("after"))
			require.NoError(t, err)
		})
	}
}

func TestStore_StaticPeersBootstrap(t *testing.T) {
	// Reserve three loopback ports for the static peer list.
	var addrs []string
	for range 3 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		addrs = append(addrs, l.Addr().String())
		require.NoError(t, l.Close())
	}
	spec := fmt.Sprintf("n1=%s=http://h1,n2=%s=http://h2,n3=%s=http://h3", addrs[0], addrs[1], addrs[2])
	peers, err := raftstore.ParsePeers(spec)
	require.NoError(t, err)
	var stores []*raftstore.Store
	for i, p := range peers {
		cfg := raftstore.Config{NodeID: p.ID, RaftAddr: addrs[i], HTTPAddr: p.HTTPAddr, DataDir: t.TempDir(), Peers: peers}
		raftstoretest.TestConfig(&cfg)
		s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
		require.NoError(t, err)
		require.NoError(t, s.Start(t.Context()))
		t.Cleanup(func() { _ = s.Close() })
		stores = append(stores, s)
	}
	var leader *raftstore.Store
	require.Eventually(t, func() bool {
		for _, s := range stores {
			if s.IsLeader() && s.LinearizableRead(t.Context()) == nil {
				leader = s
				return true
			}
		}
		return false
	}, 20*time.Second, 20*time.Millisecond)
	_, err = leader.CreateRun(t.Context(), newRun("a"))
	require.NoError(t, err)
	// Every node learns every member's HTTP address through the log.
	for _, s := range stores {
		require.Eventually(t, func() bool {
			ms, err := s.Members()
			return err == nil && len(ms) == 3 && ms["n2"].HTTPAddr == "http://h2"
		}, 10*time.Second, 10*time.Millisecond)
		id, addr := s.Leader()
		assert.Equal(t, leader.NodeID(), id)
		assert.Equal(t, "http://h"+strings.TrimPrefix(id, "n"), addr)
	}
}

func TestParsePeers(t *testing.T) {
	tests := map[string]struct {
		in      string
		want    []raftstore.Peer
		wantErr bool
	}{
		"two":          {in: "a=1.2.3.4:9091=http://x:9090, b=h:1=http://y?q=1", want: []raftstore.Peer{{"a", "1.2.3.4:9091", "http://x:9090"}, {"b", "h:1", "http://y?q=1"}}},
		"empty":        {in: "", want: nil},
		"missing http": {in: "a=1.2.3.4:9091", wantErr: true},
		"duplicate":    {in: "a=x=y,a=x=z", wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := raftstore.ParsePeers(tc.in)
			if tc.wantErr {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}
}

func TestStore_NewRejectsBadConfig(t *testing.T) {
	_, err := raftstore.New(raftstore.Config{NodeID: "x", RaftAddr: "127.0.0.1:0", DataDir: t.TempDir(),
		Peers: []raftstore.Peer{{ID: "y", RaftAddr: "a", HTTPAddr: "b"}}}, raftstoretest.TestLogger(t))
	assert.Error(t, err)
	_, err = raftstore.New(raftstore.Config{RaftAddr: "127.0.0.1:0", DataDir: t.TempDir()}, raftstoretest.TestLogger(t))
	assert.Error(t, err)
	for _, addr := range []string{"0.0.0.0:9091", "[::]:9091", ":9091"} {
		_, err = raftstore.New(raftstore.Config{NodeID: "x", RaftAddr: addr, DataDir: t.TempDir()}, raftstoretest.TestLogger(t))
		assert.ErrorContains(t, err, "give the IP address peers reach this node at, not every interface", addr)
	}
}

func TestStore_BeforeStartFailsCleanly(t *testing.T) {
	s, err := raftstore.New(raftstore.Config{NodeID: "x", RaftAddr: "127.0.0.1:0", DataDir: t.TempDir()}, raftstoretest.TestLogger(t))
	require.NoError(t, err)
	assert.False(t, s.IsLeader())
	assert.False(t, s.Ready())
	_, err = s.CreateRun(t.Context(), newRun("a"))
	assert.ErrorIs(t, err, raftstore.ErrClosed)
	_, err = s.Cluster()
	assert.ErrorIs(t, err, raftstore.ErrClosed)
	assert.ErrorIs(t, s.LinearizableRead(t.Context()), apis.ErrNotLeader)
	require.NoError(t, s.Close())
	require.NoError(t, s.Close(), "Close is idempotent")
}

func TestStore_ReturnedRunIsTheCallersCopy(t *testing.T) {
	s := startSingle(t, t.TempDir(), nil)
	w, err := s.Watch(t.Context(), 0, nil)
	require.NoError(t, err)
	defer w.Stop()
	created, err := s.CreateRun(t.Context(), newRun("a"))
	require.NoError(t, err)
	created.Spec.Command = "mutated by the caller"
	created.Metadata.Labels["x"] = "y"
	ev := <-w.Events()
	seen := ev.Object.(*apis.Run)
	assert.Equal(t, "echo a", seen.Spec.Command)
	assert.NotContains(t, seen.Metadata.Labels, "x")
}

func TestCheckRaftAddrSecurity(t *testing.T) {
	tests := []struct {
		addr          string
		tls, insecure bool
		refused       bool
	}{
		{addr: "127.0.0.1:9091"},
		{addr: "[::1]:9091"},
		{addr: "localhost:9091"},
		{addr: "127.0.0.2:0"},
		{addr: "0.0.0.0:9091", refused: true},
		{addr: "[::]:9091", refused: true},
		{addr: ":9091", refused: true},
		{addr: "10.0.0.7:9091", refused: true},
		{addr: "node1.example:9091", refused: true},
		{addr: "10.0.0.7:9091", tls: true},
		{addr: "0.0.0.0:9091", insecure: true},
	}
	for _, tc := range tests {
		err := raftstore.CheckRaftAddrSecurity(tc.addr, tc.tls, tc.insecure)
		if tc.refused {
			assert.ErrorIs(t, err, raftstore.ErrInsecureRaftAddr, tc.addr)
		} else {
			assert.NoError(t, err, tc.addr)
		}
	}
	assert.ErrorContains(t, raftstore.CheckRaftAddrSecurity("nonsense", false, false), `raft address "nonsense"`)
}

// TestStore_ReadyLeaderTakesSchedules: a fresh node says ready only once
// its own member record, with its store level, is committed, so the first
// Schedule write after /readyz is not refused as "cluster not fully
// upgraded".
func TestStore_ReadyLeaderTakesSchedules(t *testing.T) {
	for i := range 10 {
		cfg := raftstore.Config{NodeID: "solo", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://solo", DataDir: t.TempDir()}
		raftstoretest.TestConfig(&cfg)
		cfg.HeartbeatTimeout, cfg.ElectionTimeout, cfg.LeaderLeaseTimeout = 100*time.Millisecond, 100*time.Millisecond, 100*time.Millisecond
		s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
		require.NoError(t, err)
		require.NoError(t, s.Start(t.Context()))
		require.Eventually(t, s.Ready, 10*time.Second, 100*time.Microsecond)
		require.NoError(t, s.SchedulesWritable(), "start %d", i)
		require.NoError(t, s.Close())
	}
}
