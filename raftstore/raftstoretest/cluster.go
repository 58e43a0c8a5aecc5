package raftstoretest

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

// Node is one cluster member. Store is nil while the node is shut down.
type Node struct {
	ID       string
	Dir      string
	RaftAddr string
	HTTPAddr string
	Store    *raftstore.Store
}

// Cluster is a set of nodes started by New.
type Cluster struct {
	t      testing.TB
	logger *slog.Logger
	tune   func(*raftstore.Config)

	mu    sync.Mutex
	nodes []*Node
}

// TestConfig returns timeouts short enough for tests yet stable on two
// busy cores under -race.
func TestConfig(c *raftstore.Config) {
	c.HeartbeatTimeout = 1000 * time.Millisecond
	c.ElectionTimeout = 1000 * time.Millisecond
	c.LeaderLeaseTimeout = 1000 * time.Millisecond
	c.CommitTimeout = 5 * time.Millisecond
	c.ApplyTimeout = 5 * time.Second
}

// SoloConfig is TestConfig for a store that is and stays the only member of
// its cluster: it elects itself after 50 ms instead of a second or two. A
// lone voter is its own quorum, so short timeouts cannot make it step down
// on a busy machine, as they would a leader with followers.
func SoloConfig(c *raftstore.Config) {
	TestConfig(c)
	c.HeartbeatTimeout = 50 * time.Millisecond
	c.ElectionTimeout = 50 * time.Millisecond
	c.LeaderLeaseTimeout = 50 * time.Millisecond
}

// New starts an n-node cluster: node n1 bootstraps alone and the others
// join through the leader, so that nodes can take loopback ports chosen by
// the kernel. tune, if not nil, adjusts every node's Config after
// TestConfig. The cluster is shut down by t.Cleanup.
func New(t testing.TB, n int, tune func(*raftstore.Config)) *Cluster {
	t.Helper()
	c := &Cluster{t: t, logger: TestLogger(t), tune: tune}
	// The temporary directory first: cleanups run last-registered first, so
	// the nodes are closed before their files are removed (the other way
	// round, a node still writing made the removal fail with "directory
	// not empty").
	base := t.TempDir()
	t.Cleanup(c.closeAll)
	for i := 1; i <= n; i++ {
		id := fmt.Sprintf("n%d", i)
		node := &Node{ID: id, Dir: filepath.Join(base, id), RaftAddr: "127.0.0.1:0", HTTPAddr: "http://" + id + ".test"}
		c.nodes = append(c.nodes, node)
		c.start(node, i > 1)
		if i == 1 {
			c.Leader()
			continue
		}
		c.Join(id)
	}
	c.WaitConverged()
	return c
}

// Join adds node id through the leader, retrying when leadership moves.
// The node reports this binary's store level, as sprint does when it
// joins.
func (c *Cluster) Join(id string) {
	c.t.Helper()
	n := c.Node(id)
	require.NoError(c.t, c.Do(func(s *raftstore.Store) error {
		return s.JoinLevel(context.Background(), id, n.RaftAddr, n.HTTPAddr, raftstore.StoreLevel)
	}), "join %s", id)
}

// Retryable reports whether an error means "try again on the leader": no
// leader here, store closed, or leadership lost mid-write (then the write
// may have been applied, so fn given to Do must tolerate running twice).
func Retryable(err error) bool {
	return errors.Is(err, apis.ErrNotLeader) || errors.Is(err, raftstore.ErrClosed) ||
		errors.Is(err, raftstore.ErrLeadershipLost)
}

// Do runs fn on the leader, again on the next leader while it fails with a
// Retryable error, for up to 30 seconds. Machines shared with other work
// see elections at any time; tests whose subject is not failover use Do.
func (c *Cluster) Do(fn func(s *raftstore.Store) error) error {
	c.t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := fn(c.Leader().Store)
		if err == nil || !Retryable(err) || time.Now().After(deadline) {
			return err
		}
	}
}

func (c *Cluster) start(node *Node, join bool) {
	c.t.Helper()
	cfg := raftstore.Config{
		NodeID:       node.ID,
		RaftAddr:     node.RaftAddr,
		HTTPAddr:     node.HTTPAddr,
		DataDir:      node.Dir,
		JoinExisting: join,
	}
	TestConfig(&cfg)
	if c.tune != nil {
		c.tune(&cfg)
	}
	s, err := raftstore.New(cfg, c.logger)
	require.NoError(c.t, err, "new %s", node.ID)
	require.NoError(c.t, s.Start(context.Background()), "start %s", node.ID)
	c.update(node.ID, func(n *Node) {
		n.RaftAddr = s.RaftAddr()
		n.Store = s
	})
}

// closeAll closes every running node; a node that fails to close fails
// the test.
func (c *Cluster) closeAll() {
	for _, n := range c.Nodes() {
		if n.Store != nil {
			if err := n.Store.Close(); err != nil {
				c.t.Errorf("close %s: %v", n.ID, err)
			}
		}
	}
}

// AwaitLeader blocks until a running node reports through its
// LeadershipChanges that it leads (at once if one does), or ctx ends. It
// is how a test waits out an election without polling.
func (c *Cluster) AwaitLeader(ctx context.Context) (*Node, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	nodes := c.Running()
	found := make(chan *Node, len(nodes))
	for _, n := range nodes {
		ch := n.Store.LeadershipChanges()
		go func() {
			for {
				select {
				case leading, ok := <-ch:
					if !ok {
						return // the node was closed
					}
					if leading {
						found <- n
						return
					}
				case <-ctx.Done():
					return
				}
			}
		}()
	}
	select {
	case n := <-found:
		return n, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// WaitLeader waits until s leads and has caught up with the log (its
// LeadershipChanges say so), or fails t after timeout. It waits on the
// store's notifications, not by polling.
func WaitLeader(t testing.TB, s *raftstore.Store, timeout time.Duration) {
	t.Helper()
	ch := s.LeadershipChanges()
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for {
		select {
		case leading, ok := <-ch:
			require.True(t, ok, "store closed before it led")
			if leading {
				return
			}
		case <-deadline.C:
			t.Fatalf("%s did not become leader within %s", s.NodeID(), timeout)
		}
	}
}

// Nodes returns copies of the nodes, running or not, as they are now.
func (c *Cluster) Nodes() []*Node {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]*Node, len(c.nodes))
	for i, n := range c.nodes {
		cp := *n
		out[i] = &cp
	}
	return out
}

// Node returns a copy of the node with id.
func (c *Cluster) Node(id string) *Node {
	for _, n := range c.Nodes() {
		if n.ID == id {
			return n
		}
	}
	c.t.Fatalf("no node %s", id)
	return nil
}

func (c *Cluster) update(id string, fn func(n *Node)) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, n := range c.nodes {
		if n.ID == id {
			fn(n)
		}
	}
}

// Running returns the nodes whose store is open.
func (c *Cluster) Running() []*Node {
	var out []*Node
	for _, n := range c.Nodes() {
		if n.Store != nil {
			out = append(out, n)
		}
	}
	return out
}

// Followers returns the running nodes that are not the leader.
func (c *Cluster) Followers() []*Node {
	leader := c.Leader()
	var out []*Node
	for _, n := range c.Running() {
		if n.ID != leader.ID {
			out = append(out, n)
		}
	}
	return out
}

// Leader waits until exactly one running node leads, has caught up with
// the log, and is known as leader by every running member; it returns it.
func (c *Cluster) Leader() *Node {
	c.t.Helper()
	var leader *Node
	require.Eventually(c.t, func() bool {
		leader = nil
		for _, n := range c.Running() {
			if n.Store.IsLeader() {
				if leader != nil {
					return false
				}
				leader = n
			}
		}
		if leader == nil || leader.Store.LinearizableRead(context.Background()) != nil {
			return false
		}
		info, err := leader.Store.Cluster()
		if err != nil {
			return false
		}
		members := map[string]bool{}
		for _, m := range info.Members {
			members[m.ID] = true
		}
		for _, n := range c.Running() {
			if id, _ := n.Store.Leader(); members[n.ID] && id != leader.ID {
				return false
			}
		}
		return true
	}, 30*time.Second, 20*time.Millisecond, "no stable leader")
	return leader
}

// WaitApplied waits until every running node has applied idx.
func (c *Cluster) WaitApplied(idx uint64) {
	c.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	for _, n := range c.Running() {
		require.NoError(c.t, n.Store.WaitApplied(ctx, idx), "node %s", n.ID)
	}
}

// WaitConverged waits until every running node has applied the leader's
// last index.
func (c *Cluster) WaitConverged() {
	c.t.Helper()
	leader := c.Leader()
	c.WaitApplied(leader.Store.AppliedIndex())
}

// Shutdown stops a node abruptly as far as the cluster is concerned: no
// leadership transfer, no goodbye.
func (c *Cluster) Shutdown(id string) {
	c.t.Helper()
	n := c.Node(id)
	require.NotNil(c.t, n.Store, "node %s not running", id)
	require.NoError(c.t, n.Store.Close())
	c.update(id, func(n *Node) { n.Store = nil })
}

// Restart starts a shut down node again from its data dir, on its port.
func (c *Cluster) Restart(id string) {
	c.t.Helper()
	n := c.Node(id)
	require.Nil(c.t, n.Store, "node %s still running", id)
	c.start(n, true)
}

// SetRaftAddr changes where a shut down node will listen when restarted.
func (c *Cluster) SetRaftAddr(id, addr string) {
	c.update(id, func(n *Node) { n.RaftAddr = addr })
}

// Wipe shuts a node down if needed and deletes its data dir.
func (c *Cluster) Wipe(id string) {
	c.t.Helper()
	if c.Node(id).Store != nil {
		c.Shutdown(id)
	}
	require.NoError(c.t, os.RemoveAll(c.Node(id).Dir))
}

// EnsureSame waits until every running node has applied the same index and
// then checks that all hold the same Runs, attempts, events, members,
// Notifiers and outbox records.
func (c *Cluster) EnsureSame() {
	c.t.Helper()
	c.WaitConverged()
	type state struct {
		Runs     []apis.Run
		Attempts map[string][]apis.Attempt
		Events   map[string][]apis.RunEvent
		Members  map[string]raftstore.Member
		FW       string
		// Notifiers and Outbox: the outbox is derived by each FSM from
		// status entries, so it must come out the same everywhere.
		Notifiers []apis.Notifier
		Outbox    []apis.Notification
	}
	var ref *state
	var refID string
	for _, n := range c.Running() {
		list, err := n.Store.ListRuns(context.Background(), raftstore.ListOptions{})
		require.NoError(c.t, err)
		st := &state{Runs: list.Items, Attempts: map[string][]apis.Attempt{}, Events: map[string][]apis.RunEvent{}}
		for _, r := range list.Items {
			st.Attempts[r.Metadata.Name], err = n.Store.Attempts(r.Metadata.Name)
			require.NoError(c.t, err)
			st.Events[r.Metadata.Name], err = n.Store.Events(r.Metadata.Name)
			require.NoError(c.t, err)
		}
		st.Members, err = n.Store.Members()
		require.NoError(c.t, err)
		st.FW, err = n.Store.FrameworkID(context.Background())
		require.NoError(c.t, err)
		nl, err := n.Store.ListNotifiers(context.Background(), raftstore.NotifierListOptions{})
		require.NoError(c.t, err)
		st.Notifiers = nl.Items
		st.Outbox, err = n.Store.Outbox(context.Background(), "", 0)
		require.NoError(c.t, err)
		if ref == nil {
			ref, refID = st, n.ID
			continue
		}
		require.True(c.t, reflect.DeepEqual(ref, st), "state of %s differs from %s", n.ID, refID)
	}
}

// TestLogger sends records at RAFTSTORE_LOG level (default warn) to t.Log,
// and drops them once the test has finished.
func TestLogger(t testing.TB) *slog.Logger {
	level := slog.LevelWarn
	if v := os.Getenv("RAFTSTORE_LOG"); v != "" {
		_ = level.UnmarshalText([]byte(v))
	}
	h := &tlogHandler{t: t, level: level, done: &atomic.Bool{}}
	t.Cleanup(func() { h.done.Store(true) })
	return slog.New(h)
}

type tlogHandler struct {
	t     testing.TB
	level slog.Level
	attrs []slog.Attr
	done  *atomic.Bool
}

func (h *tlogHandler) Enabled(_ context.Context, l slog.Level) bool { return l >= h.level }

func (h *tlogHandler) Handle(_ context.Context, r slog.Record) error {
	if h.done.Load() {
		return nil
	}
	s := r.Level.String() + " " + r.Message
	for _, a := range h.attrs {
		s += " " + a.String()
	}
	r.Attrs(func(a slog.Attr) bool { s += " " + a.String(); return true })
	h.t.Log(s)
	return nil
}

func (h *tlogHandler) WithAttrs(attrs []slog.Attr) slog.Handler {
	c := *h
	c.attrs = append(slices.Clone(h.attrs), attrs...)
	return &c
}

func (h *tlogHandler) WithGroup(string) slog.Handler { return h }
