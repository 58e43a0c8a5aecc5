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
		fails     int
		leader    string
		wantCalls int
		recorded  bool
	}{
		{name: "a follower reports once, then is recorded", leader: "n1", wantCalls: 1, recorded: true},
		{name: "an old leader refuses; retried with back-off until upgraded", leader: "n1", fails: 3, wantCalls: 4, recorded: true},
		{name: "no leader: nothing to report to", leader: "", wantCalls: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				st := &fakeLevelStore{leader: tt.leader, members: map[string]raftstore.Member{"n2": {ID: "n2"}}}
				calls := 0
				report := func(context.Context) error {
					calls++
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
				time.Sleep(10 * time.Minute) // the bubble's clock: every retry and check in between
				synctest.Wait()
				cancel()
				<-done
				assert.Equal(t, tt.wantCalls, calls)
				assert.Equal(t, tt.recorded, levelRecorded(st))
			})
		})
	}
}
