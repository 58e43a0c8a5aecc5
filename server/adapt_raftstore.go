package server

import (
	"context"
	"errors"
	"fmt"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

// RaftStore adapts a raftstore.Store to the server's Store: it translates
// raftstore's sentinels (not leader, leadership lost, closed) into the
// server's and its cluster description into ClusterInfo.
type RaftStore struct{ s *raftstore.Store }

var _ Store = RaftStore{}

// NewRaftStore wraps s.
func NewRaftStore(s *raftstore.Store) RaftStore { return RaftStore{s: s} }

func translateStoreErr(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, raftstore.ErrNotLeader):
		return fmt.Errorf("%w: %w", ErrNotLeader, err)
	case errors.Is(err, raftstore.ErrLeadershipLost), errors.Is(err, raftstore.ErrClosed):
		return fmt.Errorf("%w: %w", ErrUnavailable, err)
	}
	return err
}

// CreateRun implements Store.
func (a RaftStore) CreateRun(ctx context.Context, r *apis.Run) (*apis.Run, error) {
	out, err := a.s.CreateRun(ctx, r)
	return out, translateStoreErr(err)
}

// UpdateRun implements Store.
func (a RaftStore) UpdateRun(ctx context.Context, r *apis.Run) (*apis.Run, error) {
	out, err := a.s.UpdateRun(ctx, r)
	return out, translateStoreErr(err)
}

// ApplyRuns implements Store.
func (a RaftStore) ApplyRuns(ctx context.Context, items []ApplyItem, dryRun bool) ([]ApplyResult, error) {
	reqs := make([]raftstore.ApplyRequest, len(items))
	for i, it := range items {
		reqs[i] = raftstore.ApplyRequest(it)
	}
	res, err := a.s.ApplyRuns(ctx, reqs, dryRun)
	if err != nil {
		return nil, translateStoreErr(err)
	}
	out := make([]ApplyResult, len(res))
	for i, r := range res {
		out[i] = ApplyResult{Result: string(r.Outcome), Object: r.Object, Err: r.Err}
	}
	return out, nil
}

// RequestDelete implements Store.
func (a RaftStore) RequestDelete(ctx context.Context, name, rv string) (*apis.Run, bool, error) {
	out, deleted, err := a.s.RequestDelete(ctx, name, rv)
	return out, deleted, translateStoreErr(err)
}

// GetRun implements Store.
func (a RaftStore) GetRun(ctx context.Context, name string) (*apis.Run, error) {
	out, err := a.s.GetRun(ctx, name)
	return out, translateStoreErr(err)
}

// LinearizableRead implements Store.
func (a RaftStore) LinearizableRead(ctx context.Context) error {
	return translateStoreErr(a.s.LinearizableRead(ctx))
}

// ListRuns implements Store.
func (a RaftStore) ListRuns(ctx context.Context, o ListOptions) (*apis.RunList, error) {
	out, err := a.s.ListRuns(ctx, raftstore.ListOptions(o))
	return out, translateStoreErr(err)
}

// Watch implements Store over a raftstore.Feed.
func (a RaftStore) Watch(_ context.Context, o WatchOptions) (Watcher, error) {
	f, err := a.s.Feed(raftstore.FeedOptions{ResourceVersion: o.ResourceVersion, List: o.List, Match: o.Match})
	if err != nil {
		return nil, translateStoreErr(err)
	}
	return feedWatcher{f}, nil
}

// feedWatcher adapts a raftstore.Feed to Watcher.
type feedWatcher struct{ f *raftstore.Feed }

func (w feedWatcher) Ready() <-chan struct{} { return w.f.Ready() }

func (w feedWatcher) Next() (WatchEvent, bool, error) {
	ev, ok, err := w.f.Next()
	if err != nil || !ok {
		return WatchEvent{}, false, translateStoreErr(err)
	}
	return WatchEvent{Type: ev.Type, ResourceVersion: ev.ResourceVersion, Object: ev.Object()}, true, nil
}

func (w feedWatcher) Stop() { w.f.Stop() }

// Events implements Store.
func (a RaftStore) Events(ctx context.Context, name string) ([]apis.RunEvent, error) {
	if _, err := a.s.GetRun(ctx, name); err != nil {
		return nil, err
	}
	return a.s.Events(name)
}

// IsLeader implements Store.
func (a RaftStore) IsLeader() bool { return a.s.IsLeader() }

// Leader implements Store.
func (a RaftStore) Leader() (string, string) { return a.s.Leader() }

// Ready implements Store.
func (a RaftStore) Ready() bool { return a.s.Ready() }

// AppliedIndex implements Store.
func (a RaftStore) AppliedIndex() uint64 { return a.s.AppliedIndex() }

// CommitIndex implements Store.
func (a RaftStore) CommitIndex() uint64 { return a.s.CommitIndex() }

// Remove implements Store.
func (a RaftStore) Remove(ctx context.Context, id string) error {
	return translateStoreErr(a.s.Remove(ctx, id))
}

// Join implements Store.
func (a RaftStore) Join(ctx context.Context, id, raftAddr, httpAddr string) error {
	return translateStoreErr(a.s.Join(ctx, id, raftAddr, httpAddr))
}

// Cluster implements Store.
func (a RaftStore) Cluster(context.Context) (*ClusterInfo, error) {
	c, err := a.s.Cluster()
	if err != nil {
		return nil, translateStoreErr(err)
	}
	out := &ClusterInfo{
		NodeID: c.NodeID, Leader: c.LeaderID, LeaderAddr: c.LeaderHTTP, State: c.State, Term: c.Term,
		CommitIndex: c.CommitIndex, AppliedIndex: c.AppliedIndex, LastIndex: c.LastIndex,
		RejectedEntries: c.RejectedEntries,
	}
	if r := c.LastRejected; r != nil {
		out.LastRejectedEntry = &apis.RejectedEntry{Index: r.Index, Type: r.Type, Reason: r.Reason, Message: r.Message}
	}
	for _, m := range c.Members {
		out.Members = append(out.Members, Member(m))
	}
	return out, nil
}
