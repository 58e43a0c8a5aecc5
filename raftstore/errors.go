package raftstore

import (
	"fmt"

	"github.com/sprint-project/sprint/apis"
)

// Sentinel errors of the store. Callers branch on the apis sentinels, which
// every store of the program shares: business rejections
// (apis.ErrNotFound, apis.ErrAlreadyExists, apis.ErrConflict,
// apis.ErrAttemptLive, apis.ErrGone, apis.ErrBadRequest), apis.ErrNotLeader
// (a *NotLeaderError) and apis.ErrUnavailable, which the two below match
// and refine.
var (
	// ErrLeadershipLost: leadership was lost while a write was in flight;
	// the write may or may not have been committed. It matches
	// apis.ErrUnavailable.
	ErrLeadershipLost = fmt.Errorf("leadership lost while committing; outcome unknown: %w", apis.ErrUnavailable)
	// ErrClosed: the store was closed; a write it interrupted may or may
	// not have been committed. It matches apis.ErrUnavailable.
	ErrClosed = fmt.Errorf("store closed: %w", apis.ErrUnavailable)
)

// NotLeaderError is returned by writes on a follower; it matches
// apis.ErrNotLeader. LeaderID and LeaderHTTP are empty when no leader is
// known.
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

// Is matches apis.ErrNotLeader.
func (e *NotLeaderError) Is(target error) bool { return target == apis.ErrNotLeader }
