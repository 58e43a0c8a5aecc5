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
// one-label map is half (an apis.Run kept for the selectors made it 1,050).
func TestHub_SettledEventFootprint(t *testing.T) {
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
		h.dispatch([]watchEvent{{index: uint64(i + 1), typ: apis.Added, run: &r, json: stored}}, uint64(i+1))
	}
	after := heap()
	beyond := (after - min(after, before+uint64(jsonBytes))) / n
	t.Logf("%d B per event beyond its JSON", beyond)
	require.LessOrEqual(t, beyond, uint64(700), "bytes per event beyond its JSON")
	runtime.KeepAlive(h)
}
