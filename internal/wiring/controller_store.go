package wiring

import (
	"context"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/raftstore"
)

// ControllerStore is a *raftstore.Store as the controller's Store. Reads
// and writes with the same shape on both sides come from the embedded
// store; the methods below only reshape.
type ControllerStore struct {
	*raftstore.Store
	leaderCh <-chan bool
}

var _ controller.Store = (*ControllerStore)(nil)

// NewControllerStore wraps s; it subscribes to s's leadership changes once.
func NewControllerStore(s *raftstore.Store) *ControllerStore {
	return &ControllerStore{Store: s, leaderCh: s.LeadershipChanges()}
}

// WatchRuns watches every Run from fromIndex.
func (c *ControllerStore) WatchRuns(ctx context.Context, fromIndex uint64) (controller.RunWatcher, error) {
	w, err := c.Watch(ctx, fromIndex, nil)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// UpdateStatuses writes statuses in one BatchUpdateStatus entry.
func (c *ControllerStore) UpdateStatuses(ctx context.Context, updates []apis.StatusUpdate) ([]error, error) {
	res, err := c.BatchUpdateStatus(ctx, updates)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(res))
	for i, r := range res {
		errs[i] = r.Err
	}
	return errs, nil
}

// LiveAttempts lists the attempts not known terminal.
func (c *ControllerStore) LiveAttempts(context.Context) ([]apis.Attempt, error) {
	return c.ListLiveAttempts()
}

// Barrier returns once every entry committed before it is applied here
// (raftstore's LinearizableRead: a barrier in a new term, then ReadIndex).
func (c *ControllerStore) Barrier(ctx context.Context) error { return c.LinearizableRead(ctx) }

// LeaderCh delivers leadership changes.
func (c *ControllerStore) LeaderCh() <-chan bool { return c.leaderCh }
