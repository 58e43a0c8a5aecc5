package raftstore

import (
	"context"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func drain(t *testing.T, w *Watcher, n int) []apis.WatchEvent {
	t.Helper()
	var out []apis.WatchEvent
	for range n {
		ev, ok := <-w.Events()
		require.True(t, ok, "watcher closed early: %v", w.Err())
		out = append(out, ev)
	}
	return out
}

func TestWatch_DeliversChangesInOrder(t *testing.T) {
	f := newTestFSM(t)
	w, err := f.watch(t.Context(), 0, nil)
	require.NoError(t, err)
	mustCreate(t, f, "a")
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}}})
	applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: "a"})
	evs := drain(t, w, 3)
	want := []struct {
		typ apis.EventType
		rv  string
	}{{apis.Added, "1"}, {apis.Modified, "2"}, {apis.Deleted, "3"}}
	for i, ev := range evs {
		assert.Equal(t, want[i].typ, ev.Type)
		assert.Equal(t, want[i].rv, ev.Object.(*apis.Run).Metadata.ResourceVersion)
	}
	w.Stop()
	_, ok := <-w.Events()
	assert.False(t, ok)
	assert.NoError(t, w.Err())
}

func TestWatch_ResumeFromResourceVersion(t *testing.T) {
	f := newTestFSM(t) // history of 100 events
	for i := range 150 {
		mustCreate(t, f, fmt.Sprintf("r%03d", i))
	}
	tests := map[string]struct {
		from      uint64
		wantFirst string
		wantErr   error
	}{
		"inside history":      {from: 120, wantFirst: "121"},
		"oldest kept":         {from: 50, wantFirst: "51"},
		"too old":             {from: 49, wantErr: apis.ErrGone},
		"zero means from now": {from: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			match := func(r *apis.Run) bool { return r.Metadata.Name != "r140" }
			w, err := f.watch(t.Context(), tc.from, match)
			if tc.wantErr != nil {
				require.ErrorIs(t, err, tc.wantErr)
				return
			}
			require.NoError(t, err)
			defer w.Stop()
			if tc.wantFirst == "" {
				assert.Empty(t, w.Events())
				return
			}
			n := 150 - int(tc.from) - 1 // minus the filtered r140
			evs := drain(t, w, n)
			assert.Equal(t, tc.wantFirst, evs[0].Object.(*apis.Run).Metadata.ResourceVersion)
			assert.Empty(t, w.Events())
		})
	}
}

func TestWatch_LaggingWatcherIsClosedNotBlocking(t *testing.T) {
	f := newTestFSM(t)
	f.hub.setBuffer(10)
	w, err := f.watch(t.Context(), 0, nil)
	require.NoError(t, err)
	const n = 200 // more than the channel and the history together
	for i := range n {
		mustCreate(t, f, fmt.Sprintf("r%03d", i)) // must not block
	}
	got := 0
	for ev := range w.Events() {
		// A prefix of the changes, without a gap.
		require.Equal(t, fmt.Sprintf("r%03d", got), ev.Object.(*apis.Run).Metadata.Name)
		got++
	}
	assert.Less(t, got, n)
	assert.ErrorIs(t, w.Err(), apis.ErrTooSlow)
}

// An in-process watch falls behind by more than the buffer HTTP watches
// get without being closed, as long as the history holds its position.
func TestWatch_InProcessWatchFallsBehindAsFarAsTheHistory(t *testing.T) {
	f := newTestFSM(t) // history 100
	f.hub.setBuffer(5)
	w, err := f.watch(t.Context(), 0, nil)
	require.NoError(t, err)
	const n = 90 // the channel's 64, then 26 behind in the history
	for i := range n {
		mustCreate(t, f, fmt.Sprintf("r%03d", i))
	}
	for i := range n {
		ev := <-w.Events()
		require.NotNil(t, ev.Object, "event %d", i)
		require.Equal(t, fmt.Sprintf("r%03d", i), ev.Object.(*apis.Run).Metadata.Name)
	}
	require.NoError(t, w.Err())
	w.Stop()
}

func TestWatch_ContextEndStopsWatcher(t *testing.T) {
	f := newTestFSM(t)
	ctx, cancel := context.WithCancel(t.Context())
	w, err := f.watch(ctx, 0, nil)
	require.NoError(t, err)
	cancel()
	for range w.Events() {
	}
	assert.ErrorIs(t, w.Err(), context.Canceled)
}

// A batch of status writes is one Raft entry, so its events share one
// resourceVersion. A watch resumed from that version (the last one a client
// got, perhaps in the middle of the batch) gets the whole batch again:
// duplicates, never a gap. A version of an entry with one event resumes
// after it.
func TestWatch_ResumeFromSharedVersionReplaysTheWholeEntry(t *testing.T) {
	f := newTestFSM(t)
	for _, n := range []string{"a", "b", "c"} {
		mustCreate(t, f, n) // versions 1, 2, 3
	}
	r := applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{
		{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}},
		{Name: "b", Status: apis.RunStatus{Phase: apis.PhaseRunning}},
		{Name: "c", Status: apis.RunStatus{Phase: apis.PhaseRunning}},
	}}) // version 4, three events
	require.NoError(t, r.Err)
	mustCreate(t, f, "d") // version 5

	names := func(evs []apis.WatchEvent) []string {
		var out []string
		for _, ev := range evs {
			run := ev.Object.(*apis.Run)
			out = append(out, run.Metadata.Name+"@"+run.Metadata.ResourceVersion)
		}
		return out
	}
	w, err := f.watch(t.Context(), 4, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a@4", "b@4", "c@4", "d@5"}, names(drain(t, w, 4)))
	assert.Empty(t, w.Events())
	w.Stop()

	w, err = f.watch(t.Context(), 3, nil)
	require.NoError(t, err)
	assert.Equal(t, []string{"a@4", "b@4", "c@4", "d@5"}, names(drain(t, w, 4)))
	w.Stop()

	w, err = f.watch(t.Context(), 5, nil)
	require.NoError(t, err)
	assert.Empty(t, w.Events(), "an entry with one event is not sent again")
	w.Stop()
}
