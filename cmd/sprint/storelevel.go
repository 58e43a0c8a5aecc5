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

// levelLeaderPoll is how often a node whose level is not recorded looks
// for a leader to report it to: one read of the member records and an
// atomic read of raft's state. It is short because the level gate is shut until the last member's report is
// in. A bootstrapped cluster records only the leader's level when it takes
// office; until the followers' reports land, the leader refuses every
// write of a newer level — a Schedule, a Notifier, and the controller's
// launches, whose attempts then each take a Raft commit of their own
// before the launch's status (raftstore's batchUpdateStatusSeparately).
// A follower that slept a back-off of 1–3 s before its first look left
// that gate shut for the first second or two of every new cluster, and a
// burst of launches in it made status writes of 0.5–2.5 s
// (docs/benchmarks.md, part 4, round 6).
const levelLeaderPoll = 50 * time.Millisecond

// reportStoreLevel makes sure the cluster's member record of this node
// carries the store level of this binary, so that the leader lets writes
// of that level through once every member has it (docs/raftstore.md,
// "Rolling upgrade"). A leader records its own level when it takes
// office; a follower asks the leader with report (a join with its
// unchanged id and addresses, through its own API, which forwards it) as
// soon as it knows one, retrying with back-off (100 ms doubling to 10 s)
// while the report fails: the leader's address not known here yet, or a
// leader of a binary that refuses the level. It returns when ctx ends.
func reportStoreLevel(ctx context.Context, st levelStore, report func(context.Context) error, clk clock.Clock, logger *slog.Logger) {
	retry := backoff.Retry{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Max: 10 * time.Second, Jitter: 0.2}}
	for {
		wait := levelCheckInterval
		if !levelRecorded(st) {
			leaderID, _ := st.Leader()
			switch {
			case leaderID == "":
				wait = levelLeaderPoll // no leader to report to yet
			case st.IsLeader():
				wait = retry.Next() // leading: it records its own level as it takes office
			default:
				if err := report(ctx); err != nil {
					// The first failures are the cluster forming (the
					// leader's address not applied here yet): not
					// worth a warning.
					level := slog.LevelDebug
					if retry.Retries() >= 4 {
						level = slog.LevelWarn
					}
					logger.Log(ctx, level, "store level not reported yet; retrying", "store_level", raftstore.StoreLevel, "err", err)
				} else {
					// Recorded once this node applies the entry: look
					// again after a moment, not in a tight loop.
					logger.Info("store level reported", "store_level", raftstore.StoreLevel)
				}
				wait = retry.Next()
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
