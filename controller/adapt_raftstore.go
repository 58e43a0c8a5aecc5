package controller

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

// RaftStore adapts *raftstore.Store to Store.
type RaftStore struct {
	s        *raftstore.Store
	leaderCh <-chan bool
}

var _ Store = (*RaftStore)(nil)

// NewRaftStore wraps s; it subscribes to s's leadership changes once.
func NewRaftStore(s *raftstore.Store) *RaftStore {
	return &RaftStore{s: s, leaderCh: s.LeadershipChanges()}
}

// GetRun reads a Run from the local applied state.
func (r *RaftStore) GetRun(ctx context.Context, name string) (*apis.Run, error) {
	return r.s.GetRun(ctx, name)
}

// EachRun scans every Run of the local applied state.
func (r *RaftStore) EachRun(ctx context.Context, fn func(*apis.Run) error) (uint64, error) {
	return r.s.EachRun(ctx, fn)
}

// WatchRuns watches every Run from fromIndex.
func (r *RaftStore) WatchRuns(ctx context.Context, fromIndex uint64) (RunWatcher, error) {
	w, err := r.s.Watch(ctx, fromIndex, nil)
	if err != nil {
		return nil, err
	}
	return w, nil
}

// UpdateStatuses writes statuses in one BatchUpdateStatus entry.
func (r *RaftStore) UpdateStatuses(ctx context.Context, updates []StatusUpdate) ([]error, error) {
	in := make([]raftstore.StatusUpdate, len(updates))
	for i, u := range updates {
		in[i] = raftstore.StatusUpdate{Name: u.Run.Name, UID: u.Run.UID, Status: u.Status, FinishTaskID: u.FinishTaskID}
	}
	res, err := r.s.BatchUpdateStatus(ctx, in)
	if err != nil {
		return nil, err
	}
	errs := make([]error, len(updates))
	for i := range res {
		if i < len(errs) {
			errs[i] = res[i].Err
		}
	}
	return errs, nil
}

// RecordAttempt records an attempt; a live one makes it fail with
// ErrAttemptLive.
func (r *RaftStore) RecordAttempt(ctx context.Context, run RunRef, a apis.Attempt) error {
	a.Run = run.Name
	err := r.s.RecordAttempt(ctx, run.UID, a)
	if errors.Is(err, raftstore.ErrLiveAttempt) {
		return fmt.Errorf("%w: %w", ErrAttemptLive, err)
	}
	return err
}

// LiveAttempts lists attempts not known terminal.
func (r *RaftStore) LiveAttempts(context.Context) ([]apis.Attempt, error) {
	return r.s.ListLiveAttempts()
}

// AppendEvents appends events in one entry.
func (r *RaftStore) AppendEvents(ctx context.Context, events []EventRecord) error {
	in := make([]raftstore.RunEventRecord, len(events))
	for i, e := range events {
		in[i] = raftstore.RunEventRecord{Run: e.Run, Event: e.Event}
	}
	return r.s.AppendEvents(ctx, in)
}

// DeleteRuns deletes Runs, concurrently so that Raft batches the entries;
// Runs already gone, re-created (another UID) or changed (another
// resourceVersion, when the RunRef names one) are skipped.
func (r *RaftStore) DeleteRuns(ctx context.Context, runs []RunRef) error {
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
		sem   = make(chan struct{}, 32)
	)
	for _, ref := range runs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			err := r.s.DeleteRunIfUnchanged(ctx, ref.Name, ref.UID, ref.ResourceVersion)
			if err == nil || errors.Is(err, apis.ErrNotFound) || errors.Is(err, apis.ErrConflict) {
				return
			}
			mu.Lock()
			if first == nil {
				first = fmt.Errorf("delete run %s: %w", ref.Name, err)
			}
			mu.Unlock()
		}()
	}
	wg.Wait()
	return first
}

// Barrier returns once every entry committed before it is applied here
// (raftstore's LinearizableRead: a barrier in a new term, then ReadIndex).
func (r *RaftStore) Barrier(ctx context.Context) error { return r.s.LinearizableRead(ctx) }

// IsLeader reports Raft leadership.
func (r *RaftStore) IsLeader() bool { return r.s.IsLeader() }

// LeaderCh delivers leadership changes.
func (r *RaftStore) LeaderCh() <-chan bool { return r.leaderCh }

// RaftFrameworkIDs backs the mesos package's FrameworkIDStore with the
// replicated store, so every leader subscribes with the same FrameworkID.
type RaftFrameworkIDs struct{ Store *raftstore.Store }

// FrameworkID returns the stored FrameworkID ("" if none).
func (f RaftFrameworkIDs) FrameworkID(context.Context) (string, error) { return f.Store.FrameworkID() }

// SetFrameworkID stores the FrameworkID through Raft.
func (f RaftFrameworkIDs) SetFrameworkID(ctx context.Context, id string) error {
	return f.Store.SetFrameworkID(ctx, id)
}
