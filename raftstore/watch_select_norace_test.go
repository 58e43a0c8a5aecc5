//go:build !race

package raftstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// Deciding what a selector watch is sent costs no allocation per change,
// also for changes that moved a Run's phase or labels: the state before
// is looked at in the feed's own scratch Run.
func TestFeed_SelectorCostsNoAllocationPerChange(t *testing.T) {
	const n = 2000
	h := newHub(n+10, n+10)
	feed, err := h.feed(FeedOptions{Match: func(r *apis.Run) bool {
		return r.Metadata.Labels["team"] == "data" && r.Status.Phase == apis.PhaseRunning
	}}, nil)
	require.NoError(t, err)
	for i := range n {
		prev, next := testRun(fmt.Sprintf("r%d", i)), testRun(fmt.Sprintf("r%d", i))
		prev.Status.Phase = apis.PhasePending
		next.Status.Phase = apis.PhaseRunning
		if i%2 == 1 {
			next.Metadata.Labels = map[string]string{"team": "ml"}
		}
		h.dispatch([]watchEvent{{index: uint64(i + 1), typ: apis.Modified, run: &next, prior: priorOf(&prev, &next)}}, uint64(i+1))
	}
	_, _, _ = feed.Next() // makes the scratch Run
	allocs := testing.AllocsPerRun(n/2-10, func() {
		ev, ok, err := feed.Next()
		if err != nil || !ok || ev.Type != apis.Added {
			t.Fatalf("event %v %v %v", ev.Type, ok, err)
		}
	})
	require.Zero(t, allocs)
}
