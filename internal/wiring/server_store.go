package wiring

import (
	"context"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/server"
)

// ServerStore is a *raftstore.Store as the server's Store. Methods with the
// same shape on both sides come from the embedded store; the methods below
// only reshape.
type ServerStore struct {
	*raftstore.Store
}

var _ server.Store = ServerStore{}

// NewServerStore wraps s.
func NewServerStore(s *raftstore.Store) ServerStore { return ServerStore{Store: s} }

// ApplyRuns applies manifests in one Raft entry (create, update or leave
// each as it is, decided against the state the entry applies to).
func (a ServerStore) ApplyRuns(ctx context.Context, items []server.ApplyItem, dryRun bool) ([]server.ApplyResult, error) {
	reqs := make([]raftstore.ApplyRequest, len(items))
	for i, it := range items {
		reqs[i] = raftstore.ApplyRequest(it)
	}
	res, err := a.Store.ApplyRuns(ctx, reqs, dryRun)
	if err != nil {
		return nil, err
	}
	out := make([]server.ApplyResult, len(res))
	for i, r := range res {
		out[i] = server.ApplyResult{Result: string(r.Outcome), Object: r.Object, Err: r.Err}
	}
	return out, nil
}

// ListRuns lists a page of Runs from the local applied state.
func (a ServerStore) ListRuns(ctx context.Context, o server.ListOptions) (*apis.RunList, error) {
	return a.Store.ListRuns(ctx, raftstore.ListOptions(o))
}

// Watch streams changes from the local applied state over a
// raftstore.Feed.
func (a ServerStore) Watch(_ context.Context, o server.WatchOptions) (server.Watcher, error) {
	f, err := a.Feed(raftstore.FeedOptions{ResourceVersion: o.ResourceVersion, List: o.List, Match: o.Match})
	if err != nil {
		return nil, err
	}
	return feedWatcher{f}, nil
}

// feedWatcher is a raftstore.Feed as a server.Watcher.
type feedWatcher struct{ f *raftstore.Feed }

func (w feedWatcher) Ready() <-chan struct{} { return w.f.Ready() }

func (w feedWatcher) Next() (server.WatchEvent, bool, error) {
	ev, ok, err := w.f.Next()
	if err != nil || !ok {
		return server.WatchEvent{}, false, err
	}
	return server.WatchEvent{Type: ev.Type, ResourceVersion: ev.ResourceVersion, Object: ev.Object()}, true, nil
}

func (w feedWatcher) Stop() { w.f.Stop() }

// Events returns a Run's events; apis.ErrNotFound when the Run is gone.
func (a ServerStore) Events(ctx context.Context, name string) ([]apis.RunEvent, error) {
	if _, err := a.GetRun(ctx, name); err != nil {
		return nil, err
	}
	return a.Store.Events(name)
}

// Cluster describes the Raft configuration as this node sees it.
func (a ServerStore) Cluster(context.Context) (*server.ClusterInfo, error) {
	c, err := a.Store.Cluster()
	if err != nil {
		return nil, err
	}
	out := &server.ClusterInfo{
		NodeID: c.NodeID, Leader: c.LeaderID, LeaderAddr: c.LeaderHTTP, State: c.State, Term: c.Term,
		CommitIndex: c.CommitIndex, AppliedIndex: c.AppliedIndex, LastIndex: c.LastIndex,
		RejectedEntries: c.RejectedEntries,
	}
	if r := c.LastRejected; r != nil {
		out.LastRejectedEntry = &apis.RejectedEntry{Index: r.Index, Type: r.Type, Reason: r.Reason, Message: r.Message}
	}
	for _, m := range c.Members {
		out.Members = append(out.Members, server.Member(m))
	}
	return out, nil
}

var _ server.NotifierStore = ServerStore{}

// ListNotifiers lists a page of Notifiers from the local applied state.
func (a ServerStore) ListNotifiers(ctx context.Context, o server.NotifierListOptions) (*apis.NotifierList, error) {
	return a.Store.ListNotifiers(ctx, raftstore.NotifierListOptions(o))
}
