package raftstore

import (
	"sync"

	"github.com/sprint-project/sprint/apis"
)

// runCacheSize bounds the decoded Runs kept: those written last, which are
// the ones the controller reads again and again (reconcile, launch, status
// batches) while they move from creation to a terminal phase. A Run that
// reaches a terminal phase leaves the cache: hardly anything reads it again
// (a user's get decodes it), and a decoded Run costs ~5 KiB of heap, so
// 4,096 finished ones were 20 MiB a leader held for nothing.
const runCacheSize = 4096

// runCache keeps the decoded form of recently written Runs so that GetRun
// copies one instead of decoding the stored JSON: decoding was the largest
// part of the leader's CPU in the controller's reads (GetRun 16 %, under a
// stream of new Runs). Only the FSM goroutine fills it, after a batch's
// commit and before the applied index moves past it, from the Runs the
// batch wrote (writes of bucketRuns that do not come with their decoded Run
// evict the name instead), so an entry is always the latest committed state
// of its Run, never older than what bbolt holds. Readers only look: a Run
// read from bbolt is not added, since a write may have overtaken the read.
// The Runs are the FSM's, shared with watchers: callers get DeepCopies.
type runCache struct {
	mu   sync.Mutex
	runs map[string]*apis.Run
}

func newRunCache() *runCache { return &runCache{runs: map[string]*apis.Run{}} }

// get returns a copy of the named Run, or false when it is not cached.
func (c *runCache) get(name string) (*apis.Run, bool) {
	c.mu.Lock()
	r, ok := c.runs[name]
	c.mu.Unlock()
	if !ok {
		return nil, false
	}
	return r.DeepCopy(), true
}

// apply records a committed batch's writes: a Run to keep, or nil for a
// name whose cached Run is no longer current (deleted, or written without
// a decoded Run). Finished Runs are not kept.
func (c *runCache) apply(written map[string]*apis.Run) {
	if len(written) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, r := range written {
		if r == nil || r.Status.Phase.Terminal() {
			delete(c.runs, name)
			continue
		}
		if _, ok := c.runs[name]; !ok && len(c.runs) >= runCacheSize {
			for old := range c.runs { // evict any one
				delete(c.runs, old)
				break
			}
		}
		c.runs[name] = r
	}
}

// reset empties the cache: the state was replaced (restore, wipe).
func (c *runCache) reset() {
	c.mu.Lock()
	c.runs = map[string]*apis.Run{}
	c.mu.Unlock()
}
