package main

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/internal/clock"
	"github.com/sprint-project/sprint/raftstore"
)

// fakeLevelStore is a follower whose member record the fake leader
// rewrites when report succeeds.
type fakeLevelStore struct {
	mu      sync.Mutex
	leader  string
	leading bool
	members map[string]raftstore.Member
}

func (f *fakeLevelStore) NodeID() string { return "n2" }
func (f *fakeLevelStore) Members() (map[string]raftstore.Member, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := map[string]raftstore.Member{}
	for k, v := range f.members {
		out[k] = v
	}
	return out, nil
}
func (f *fakeLevelStore) IsLeader() bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leading
}
func (f *fakeLevelStore) Leader() (string, string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.leader, "http://" + f.leader
}

func TestReportStoreLevel(t *testing.T) {
	tests := []struct {
		name string
		// fails is how many reports the leader refuses first (an old
		// leader that rejects the field).
		fails  int
		leader string
		// leaderAt is when the follower first knows the leader (a
		// cluster electing its first one).
		leaderAt  time.Duration
		wantCalls int
		recorded  bool
	}{
		{name: "a follower reports once, then is recorded", leader: "n1", wantCalls: 1, recorded: true},
		{name: "an old leader refuses; retried with back-off until upgraded", leader: "n1", fails: 3, wantCalls: 4, recorded: true},
		{name: "no leader: nothing to report to", leader: "", wantCalls: 0},
		// The leader refuses newer writes until every follower's
		// level is in: the report must follow the election at once,
		// not after a back-off that grew while there was no leader.
		{name: "a leader elected later gets the report at once", leader: "n1", leaderAt: 2500 * time.Millisecond, wantCalls: 1, recorded: true},
		{name: "a leader elected much later gets the report at once", leader: "n1", leaderAt: 47 * time.Second, wantCalls: 1, recorded: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &fakeLevelStore{members: map[string]raftstore.Member{"n2": {ID: "n2"}}}
				began := time.Now()
				calls := 0
				var firstCall time.Duration
				report := func(context.Context) error {
					calls++
					if calls == 1 {
						firstCall = time.Since(began)
					}
					if calls <= tt.fails {
						return errors.New("400: unknown field storeLevel")
					}
					st.mu.Lock()
					st.members["n2"] = raftstore.Member{ID: "n2", StoreLevel: raftstore.StoreLevel}
					st.mu.Unlock()
					return nil
				}
				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan struct{})
				go func() {
					defer close(done)
					reportStoreLevel(ctx, st, report, clock.Real{}, slog.New(slog.DiscardHandler))
				}()
				time.Sleep(tt.leaderAt) // the bubble's clock
				st.mu.Lock()
				st.leader = tt.leader
				st.mu.Unlock()
				time.Sleep(10 * time.Minute) // every retry and check in between
				synctest.Wait()
				cancel()
				<-done
				assert.Equal(t, tt.wantCalls, calls)
				assert.Equal(t, tt.recorded, levelRecorded(st))
				if tt.wantCalls > 0 {
					assert.LessOrEqual(t, firstCall, tt.leaderAt+levelLeaderPoll, "first report after the leader was known")
				}
			})
		})
	}
}
