package raftstore

import (
	"errors"
	"fmt"
)

// Sentinel errors of the store. Business rejections use the apis sentinels
// (apis.ErrNotFound, apis.ErrAlreadyExists, apis.ErrConflict, apis.ErrGone,
// apis.ErrBadRequest) so callers branch on them with errors.Is.
var (
	// ErrNotLeader: a write or linearizable read reached a node that is not
	// the Raft leader. The error is a *NotLeaderError naming the leader.
	ErrNotLeader = errors.New("not the raft leader")
	// ErrLeadershipLost: leadership was lost while a write was in flight;
	// the write may or may not have been committed.
	ErrLeadershipLost = errors.New("leadership lost while committing; outcome unknown")
	// ErrClosed: the store was closed; a write it interrupted may or may
	// not have been committed.
	ErrClosed = errors.New("store closed")
	// ErrLiveAttempt: RecordAttempt found a Run attempt that is not terminal.
	ErrLiveAttempt = errors.New("run has a live attempt")
)

// NotLeaderError is returned by writes on a follower. LeaderID and
// LeaderHTTP are empty when no leader is known.
type NotLeaderError struct {
	LeaderID   string
	LeaderHTTP string
}

// Error names the leader, when known.
func (e *NotLeaderError) Error() string {
	if e.LeaderID == "" {
		return "not the raft leader; no leader known"
	}
	return fmt.Sprintf("not the raft leader; leader is %s at %s", e.LeaderID, e.LeaderHTTP)
}

// Is matches ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == ErrNotLeader }
