package raftstore

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// The watch history is held whether or not anything watches: a change
// older than the newest DefaultWatchBuffer costs its JSON and what
// selectors look at: here about 550 bytes beyond the JSON, of which a
// one-label map is half (an apis.Run kept for the selectors made it 1,050);
// a change of phase keeps the phase before it too, about 40 bytes more.
func TestHub_SettledEventFootprint(t *testing.T) {
	// A status write that changes the phase (most of a Run's changes)
	// also keeps the phase before it, for selectors (watch_select.go).
	for _, tc := range []struct {
		name  string
		typ   apis.EventType
		prior *runPrior
	}{
		{"added", apis.Added, nil},
		{"phase changed", apis.Modified, priorOf(&apis.Run{Status: apis.RunStatus{Phase: apis.PhaseRunning}}, &apis.Run{Status: apis.RunStatus{Phase: apis.PhaseSucceeded}})},
	} {
		t.Run(tc.name, func(t *testing.T) { settledEventFootprint(t, tc.typ, tc.prior) })
	}
}

func settledEventFootprint(t *testing.T, typ apis.EventType, prior *runPrior) {
	const n = 10000
	h := newHub(n, 16)
	heap := func() uint64 {
		// Pools keep what they held through one more collection.
		runtime.GC()
		runtime.GC()
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		return ms.HeapAlloc
	}
	before := heap()
	jsonBytes := 0
	for i := range n {
		r := testRun(fmt.Sprintf("run-%05d", i))
		r.Metadata.UID = fmt.Sprintf("00000000-0000-0000-0000-%012d", i)
		r.Metadata.ResourceVersion = fmt.Sprint(i + 1)
		r.Status.Phase = apis.PhaseSucceeded
		stored := encodeTyped(&r)
		jsonBytes += cap(stored)
		var p *runPrior
		if prior != nil {
			c := *prior // one per event, as the FSM makes them
			p = &c
		}
		h.dispatch([]watchEvent{{index: uint64(i + 1), typ: typ, run: &r, json: stored, prior: p}}, uint64(i+1))
	}
	after := heap()
	beyond := (after - min(after, before+uint64(jsonBytes))) / n
	t.Logf("%d B per event beyond its JSON", beyond)
	require.LessOrEqual(t, beyond, uint64(700), "bytes per event beyond its JSON")
	runtime.KeepAlive(h)
}
