package raftstore

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func cacheRun(name string, phase apis.RunPhase) *apis.Run {
	r := &apis.Run{Metadata: apis.ObjectMeta{Name: name, UID: name + "-uid"}}
	r.Status.Phase = phase
	return r
}

// The run cache keeps a finished Run, so that the controller's reconcile
// right after its terminal write copies it instead of decoding it from the
// file, but only the last finishedCacheSize of them.
func TestRunCache_FinishedRuns(t *testing.T) {
	tests := map[string]struct {
		batches []map[string]*apis.Run
		cached  []string
		missing []string
	}{
		"a finished Run stays": {
			batches: []map[string]*apis.Run{
				{"a": cacheRun("a", apis.PhaseRunning)},
				{"a": cacheRun("a", apis.PhaseSucceeded)},
			},
			cached: []string{"a"},
		},
		"a deleted Run leaves": {
			batches: []map[string]*apis.Run{
				{"a": cacheRun("a", apis.PhaseFailed)},
				{"a": nil},
			},
			missing: []string{"a"},
		},
		"only the last finishedCacheSize finished Runs stay": {
			batches: func() []map[string]*apis.Run {
				var bs []map[string]*apis.Run
				for i := range finishedCacheSize + 3 {
					n := fmt.Sprintf("f%04d", i)
					bs = append(bs, map[string]*apis.Run{n: cacheRun(n, apis.PhaseSucceeded)})
				}
				return bs
			}(),
			cached:  []string{"f0003", fmt.Sprintf("f%04d", finishedCacheSize+2)},
			missing: []string{"f0000", "f0001", "f0002"},
		},
		"a name written again after it finished is not evicted with its old Run": {
			batches: func() []map[string]*apis.Run {
				bs := []map[string]*apis.Run{
					{"a": cacheRun("a", apis.PhaseSucceeded)},
					{"a": cacheRun("a", apis.PhasePending)}, // re-created
				}
				for i := range finishedCacheSize {
					n := fmt.Sprintf("f%04d", i)
					bs = append(bs, map[string]*apis.Run{n: cacheRun(n, apis.PhaseKilled)})
				}
				return bs
			}(),
			cached: []string{"a", "f0000"},
		},
		"pending and running Runs are not counted as finished": {
			batches: func() []map[string]*apis.Run {
				bs := []map[string]*apis.Run{{"p": cacheRun("p", apis.PhaseRunning)}}
				for i := range finishedCacheSize {
					n := fmt.Sprintf("f%04d", i)
					bs = append(bs, map[string]*apis.Run{n: cacheRun(n, apis.PhaseSucceeded)})
				}
				return bs
			}(),
			cached: []string{"p", "f0000"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newRunCache()
			for _, b := range tc.batches {
				c.apply(b)
			}
			for _, n := range tc.cached {
				r, ok := c.get(n)
				require.True(t, ok, "%s cached", n)
				assert.Equal(t, n, r.Metadata.Name)
			}
			for _, n := range tc.missing {
				_, ok := c.get(n)
				assert.False(t, ok, "%s cached", n)
			}
			assert.LessOrEqual(t, len(c.finished), finishedCacheSize)
		})
	}
}
