package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
	"github.com/sprint-project/sprint/raftstore"
)

// levelStore is what reportStoreLevel reads of the store.
type levelStore interface {
	NodeID() string
	Members() (map[string]raftstore.Member, error)
	IsLeader() bool
	Leader() (id, httpAddr string)
}

// levelCheckInterval is how often a node whose level is recorded looks
// again (a member record can be rewritten by an older binary's join).
const levelCheckInterval = time.Minute

// reportStoreLevel makes sure the cluster's member record of this node
// carries the store level of this binary, so that the leader lets writes
// of that level through once every member has it (docs/raftstore.md,
// "Rolling upgrade"). A leader records its own level when it takes
// office; a follower asks the leader with report (a join with its
// unchanged id and addresses, through its own API, which forwards it),
// retrying with back-off while there is no leader or the leader is a
// binary that refuses the level. It returns when ctx ends.
func reportStoreLevel(ctx context.Context, st levelStore, report func(context.Context) error, clk clock.Clock, logger *slog.Logger) {
	retry := backoff.Retry{Policy: backoff.Policy{Initial: time.Second, Max: 10 * time.Second, Jitter: 0.2}}
	for {
		wait := levelCheckInterval
		if !levelRecorded(st) {
			if leaderID, _ := st.Leader(); leaderID != "" && !st.IsLeader() {
				err := report(ctx)
				if err == nil {
					// Recorded once this node applies the entry: look
					// again after a moment, not in a tight loop.
					logger.Info("store level reported", "store_level", raftstore.StoreLevel)
					wait = retry.Next()
				} else {
					logger.Warn("store level not reported yet; retrying", "store_level", raftstore.StoreLevel, "err", err)
					wait = retry.Next()
				}
			} else {
				wait = retry.Next() // no leader, or leading and about to record it
			}
		} else {
			retry.Reset()
		}
		if wait > 0 && clock.Sleep(ctx, clk, wait) != nil {
			return
		}
		if ctx.Err() != nil {
			return
		}
	}
}

// levelRecorded reports whether this node's member record carries at
// least this binary's store level.
func levelRecorded(st levelStore) bool {
	ms, err := st.Members()
	if err != nil {
		return false
	}
	return ms[st.NodeID()].StoreLevel >= raftstore.StoreLevel
}
