package raftstore

import (
	"sync"

	"github.com/sprint-project/sprint/apis"
)

// runCacheSize bounds the decoded Runs kept: those written last, which are
// the ones the controller reads again and again (reconcile, launch, status
// batches) while they move from creation to a terminal phase.
const runCacheSize = 4096

// finishedCacheSize bounds the Runs in a terminal phase among them: only
// the last ones to finish are kept. Right after its terminal write a Run
// is read once more by the leader's controller (the writer queues a
// reconcile of every Run it wrote, and the watch event queues one too),
// which decoded it from the file once it had left the cache (4 % of the
// leader's CPU in a burst of 3,000 Runs); after that hardly anything reads
// it, and a decoded Run costs ~5 KiB of heap, so 4,096 finished ones were
// 20 MiB a leader held for nothing. 512 cover the reconciles of a burst
// finishing at a few thousand Runs a second and hold ~2.5 MiB at rest.
const finishedCacheSize = 512

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
	// finished names the Runs cached in a terminal phase, oldest first;
	// past finishedCacheSize the oldest leaves the cache. A name may be
	// stale (evicted, deleted, written again since): leaving then removes
	// only a Run that is still the terminal one it was queued for.
	finished []finishedRun
}

type finishedRun struct {
	name string
	run  *apis.Run
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
// a decoded Run). Of the Runs in a terminal phase only the last
// finishedCacheSize are kept.
func (c *runCache) apply(written map[string]*apis.Run) {
	if len(written) == 0 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, r := range written {
		if r == nil {
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
		if r.Status.Phase.Terminal() {
			c.finished = append(c.finished, finishedRun{name: name, run: r})
		}
	}
	if n := len(c.finished) - finishedCacheSize; n > 0 {
		for _, f := range c.finished[:n] {
			if c.runs[f.name] == f.run {
				delete(c.runs, f.name)
			}
		}
		c.finished = append(c.finished[:0], c.finished[n:]...)
	}
}

// reset empties the cache: the state was replaced (restore, wipe).
func (c *runCache) reset() {
	c.mu.Lock()
	c.runs = map[string]*apis.Run{}
	c.finished = nil
	c.mu.Unlock()
}
