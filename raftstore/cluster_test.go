package raftstore_test

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// createRun creates a Run through the leader, tolerating a retry after
// leadership was lost mid-write (the first try may have been applied).
func createRun(t *testing.T, c *raftstoretest.Cluster, run *apis.Run) {
	t.Helper()
	tries := 0
	err := c.Do(func(s *raftstore.Store) error {
		tries++
		_, err := s.CreateRun(t.Context(), run)
		if tries > 1 && errors.Is(err, apis.ErrAlreadyExists) {
			return nil
		}
		return err
	})
	require.NoError(t, err, "create %s", run.Metadata.Name)
}

func TestCluster_FollowerWriteReturnsLeaderAddress(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	var leader, f *raftstoretest.Node
	var err error
	require.Eventually(t, func() bool { // a stable leader on a busy machine
		leader = c.Leader()
		f = c.Followers()[0]
		_, err = f.Store.CreateRun(t.Context(), newRun("a"))
		id, _ := f.Store.Leader()
		return err != nil && id == leader.ID
	}, 20*time.Second, 10*time.Millisecond)
	var nl *raftstore.NotLeaderError
	require.ErrorAs(t, err, &nl)
	assert.ErrorIs(t, err, apis.ErrNotLeader)
	assert.Equal(t, leader.ID, nl.LeaderID)
	assert.Equal(t, leader.HTTPAddr, nl.LeaderHTTP)
	assert.ErrorIs(t, f.Store.LinearizableRead(t.Context()), apis.ErrNotLeader)

	info, err := f.Store.Cluster()
	require.NoError(t, err)
	assert.Equal(t, leader.ID, info.LeaderID)
	require.Len(t, info.Members, 3)
	for _, m := range info.Members {
		assert.Equal(t, "Voter", m.Suffrage)
		assert.Equal(t, c.Node(m.ID).HTTPAddr, m.HTTPAddr)
		assert.Equal(t, m.ID == leader.ID, m.Leader)
	}
	assert.True(t, f.Store.Ready())
}

// writeOnLeader retries a write on whichever node leads until it is
// acknowledged, refused for good, or ctx ends. ok reports an acknowledged
// write; a write whose outcome is unknown is not retried (ok false).
func writeOnLeader(ctx context.Context, c *raftstoretest.Cluster, fn func(s *raftstore.Store) error) (ok bool, err error) {
	for ctx.Err() == nil {
		for _, n := range c.Running() {
			s := n.Store
			if s == nil || !s.IsLeader() {
				continue
			}
			err := fn(s)
			switch {
			case err == nil:
				return true, nil
			case errors.Is(err, apis.ErrNotLeader):
				continue // not applied: safe to retry elsewhere
			case errors.Is(err, raftstore.ErrClosed):
				continue // maybe applied: a retry then finds the name taken and is not counted
			default:
				return false, err
			}
		}
		if _, err := c.AwaitLeader(ctx); err != nil {
			return false, err
		}
	}
	return false, ctx.Err()
}

func TestCluster_LeaderShutdownLosesNoAcknowledgedWrite(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()

	var (
		mu    sync.Mutex
		acked []string
		wg    sync.WaitGroup
		count atomic.Int64
		stop  = make(chan struct{})
	)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				name := fmt.Sprintf("w%d-%d", w, i)
				ok, err := writeOnLeader(ctx, c, func(s *raftstore.Store) error {
					_, err := s.CreateRun(ctx, newRun(name))
					return err
				})
				if ok {
					mu.Lock()
					acked = append(acked, name)
					mu.Unlock()
					count.Add(1)
				} else if err != nil && ctx.Err() == nil && !errors.Is(err, raftstore.ErrLeadershipLost) && !errors.Is(err, apis.ErrAlreadyExists) {
					t.Errorf("write %s: %v", name, err)
				}
			}
		}()
	}
	require.Eventually(t, func() bool { return count.Load() > 100 }, 20*time.Second, 10*time.Millisecond)
	old := c.Leader()
	c.Shutdown(old.ID)
	before := count.Load()
	require.Eventually(t, func() bool { return count.Load() > before+100 }, 20*time.Second, 10*time.Millisecond, "writes resume under a new leader")
	close(stop)
	wg.Wait()

	c.Restart(old.ID)
	c.EnsureSame()
	for _, n := range c.Running() {
		for _, name := range acked {
			_, err := n.Store.GetRun(ctx, name)
			require.NoError(t, err, "acknowledged %s missing on %s", name, n.ID)
		}
	}
	t.Logf("%d acknowledged writes survived the leader's shutdown", len(acked))
}

func TestCluster_FollowerWatchSeesEveryEventInOrder(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	follower := c.Followers()[0]
	w, err := follower.Store.Watch(t.Context(), 0, func(r *apis.Run) bool { return r.Metadata.Labels["app"] == "test" })
	require.NoError(t, err)
	defer w.Stop()

	ctx := t.Context()
	const n = 40
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() { // concurrent writers share raft batches
			defer wg.Done()
			name := fmt.Sprintf("r%02d", i)
			createRun(t, c, newRun(name))
			assert.NoError(t, c.Do(func(s *raftstore.Store) error {
				_, err := s.UpdateStatus(ctx, name, apis.RunStatus{Phase: apis.PhaseRunning})
				return err
			}))
			tries := 0
			assert.NoError(t, c.Do(func(s *raftstore.Store) error {
				tries++
				_, deleted, err := s.RequestDelete(ctx, name, "")
				if err == nil && !deleted {
					return fmt.Errorf("%s not deleted", name)
				}
				if tries > 1 && errors.Is(err, apis.ErrNotFound) {
					return nil
				}
				return err
			}))
		}()
	}
	other := newRun("unlabelled")
	other.Metadata.Labels = nil
	createRun(t, c, other)
	wg.Wait()
	// Created after everything above: once the watch delivers it, every
	// earlier event was delivered, the unlabelled Run's included if the
	// filter let it through.
	createRun(t, c, newRun("sentinel"))

	seen := map[string][]apis.EventType{}
	var last uint64
	timeout := time.After(20 * time.Second)
	for i := range 3*n + 1 {
		select {
		case ev, ok := <-w.Events():
			require.True(t, ok, "watch closed: %v", w.Err())
			run := ev.Object.(*apis.Run)
			var rv uint64
			_, err := fmt.Sscan(run.Metadata.ResourceVersion, &rv)
			require.NoError(t, err)
			require.GreaterOrEqual(t, rv, last, "event %d out of order", i)
			last = rv
			seen[run.Metadata.Name] = append(seen[run.Metadata.Name], ev.Type)
		case <-timeout:
			t.Fatalf("got %d of %d events", i, 3*n)
		}
	}
	assert.Equal(t, []apis.EventType{apis.Added}, seen["sentinel"], "the sentinel comes last")
	delete(seen, "sentinel")
	assert.NotContains(t, seen, "unlabelled", "the unlabelled Run is filtered out")
	require.Len(t, seen, n)
	for name, types := range seen {
		assert.Equal(t, []apis.EventType{apis.Added, apis.Modified, apis.Deleted}, types, name)
	}
}

func TestCluster_SnapshotUnderWriteLoadDoesNotDeadlock(t *testing.T) {
	c := raftstoretest.New(t, 3, func(cfg *raftstore.Config) {
		cfg.SnapshotThreshold = 64
		cfg.SnapshotInterval = 50 * time.Millisecond
		cfg.TrailingLogs = 32
		cfg.FSMInitialMmapSize = 32 << 10 // remap often while snapshots copy
	})
	var wg sync.WaitGroup
	var written atomic.Int64
	payload := strings.Repeat("x", 2048)
	for w := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				r := newRun(fmt.Sprintf("w%d-%d", w, i))
				r.Metadata.Annotations = map[string]string{"pad": payload}
				createRun(t, c, r)
				written.Add(1)
				if i%20 == 0 {
					assert.NoError(t, c.Do((*raftstore.Store).Snapshot))
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, int64(480), written.Load())
	c.EnsureSame()
}

func TestCluster_WipedNodeRejoinsAndCatchesUp(t *testing.T) {
	c := raftstoretest.New(t, 3, func(cfg *raftstore.Config) {
		cfg.TrailingLogs = 8 // the wiped node must be sent a snapshot
	})
	ctx := t.Context()
	for i := range 30 {
		createRun(t, c, newRun(fmt.Sprintf("a%d", i)))
	}
	c.WaitConverged()
	for _, n := range c.Running() {
		require.NoError(t, n.Store.Snapshot())
	}
	victim := c.Followers()[0]
	c.Wipe(victim.ID)
	require.NoError(t, c.Do(func(s *raftstore.Store) error { return s.Remove(ctx, victim.ID) }))
	for i := range 30 {
		createRun(t, c, newRun(fmt.Sprintf("b%d", i)))
	}
	c.SetRaftAddr(victim.ID, "127.0.0.1:0")
	c.Restart(victim.ID)
	c.Join(victim.ID)
	c.EnsureSame()
	list, err := c.Node(victim.ID).Store.ListRuns(ctx, raftstore.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 60)
}

func TestCluster_MembershipJoinAndRemove(t *testing.T) {
	c := raftstoretest.New(t, 5, nil)
	ctx := t.Context()
	info, err := c.Leader().Store.Cluster()
	require.NoError(t, err)
	require.Len(t, info.Members, 5)

	var gone string
	for _, n := range c.Followers()[:2] {
		tries := 0
		require.NoError(t, c.Do(func(s *raftstore.Store) error {
			tries++
			err := s.Remove(ctx, n.ID)
			if tries > 1 && errors.Is(err, apis.ErrNotFound) {
				return nil
			}
			return err
		}))
		c.Shutdown(n.ID)
		gone = n.ID
	}
	assert.ErrorIs(t, c.Do(func(s *raftstore.Store) error { return s.Remove(ctx, gone) }), apis.ErrNotFound)
	leader := c.Leader()
	info, err = leader.Store.Cluster()
	require.NoError(t, err)
	assert.Len(t, info.Members, 3)
	ms, err := leader.Store.Members()
	require.NoError(t, err)
	assert.NotContains(t, ms, gone)

	// The remaining three still commit, and survive losing one more.
	createRun(t, c, newRun("x"))
	c.Shutdown(leader.ID)
	ok, err := writeOnLeader(ctx, c, func(s *raftstore.Store) error {
		_, err := s.CreateRun(ctx, newRun("y"))
		return err
	})
	require.NoError(t, err)
	require.True(t, ok)
	c.Restart(leader.ID)
	c.EnsureSame()
}

func TestCluster_FullRestartRecoversFromDisk(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	ctx := t.Context()
	for i := range 20 {
		createRun(t, c, newRun(fmt.Sprintf("r%d", i)))
	}
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		_, err := s.UpdateStatus(ctx, "r7", apis.RunStatus{Phase: apis.PhaseRunning})
		return err
	}))
	require.NoError(t, c.Do(func(s *raftstore.Store) error { return s.SetFrameworkID(ctx, "fw-9") }))
	c.EnsureSame()
	want, err := c.Leader().Store.ListRuns(ctx, raftstore.ListOptions{})
	require.NoError(t, err)

	for _, n := range c.Nodes() {
		c.Shutdown(n.ID)
	}
	for _, n := range c.Nodes() {
		c.Restart(n.ID)
	}
	c.EnsureSame()
	for _, n := range c.Running() {
		got, err := n.Store.ListRuns(ctx, raftstore.ListOptions{})
		require.NoError(t, err)
		assert.Equal(t, want.Items, got.Items, n.ID)
		fw, err := n.Store.FrameworkID(t.Context())
		require.NoError(t, err)
		assert.Equal(t, "fw-9", fw)
	}
	createRun(t, c, newRun("after-restart"))
}

// A join naming a Raft address nobody answers on is refused before the
// configuration changes: adding such a voter to a one-node cluster would
// leave it without a quorum for good.
func TestCluster_JoinRefusesUnreachableRaftAddress(t *testing.T) {
	c := raftstoretest.New(t, 1, nil)
	leader := c.Leader()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	dead := ln.Addr().String()
	require.NoError(t, ln.Close())

	for addr, want := range map[string]string{
		"nonsense": "raftAddr: must be host:port",
		dead:       "raftAddr: not reachable",
	} {
		err := leader.Store.Join(t.Context(), "x", addr, "http://127.0.0.1:1")
		require.Error(t, err)
		assert.ErrorIs(t, err, apis.ErrInvalid)
		assert.Contains(t, err.Error(), want)
	}
	info, err := leader.Store.Cluster()
	require.NoError(t, err)
	assert.Len(t, info.Members, 1, "the configuration is unchanged")
	assert.True(t, leader.Store.IsLeader())
}
