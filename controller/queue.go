package controller

import (
	"sync"
	"time"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// queue is a rate-limited work queue of Run names with client-go's
// semantics: a name is processed by at most one worker at a time (the
// processing set); a name added while it is being processed is marked dirty
// and handed out again after Done; a name is queued at most once however
// often it is added. Delayed adds go through the injected Clock.
type queue struct {
	clock clock.Clock

	mu         sync.Mutex
	cond       *sync.Cond
	items      []string            // ready, FIFO; each also in dirty
	dirty      map[string]struct{} // queued or to be re-queued after Done
	processing map[string]struct{}
	waiting    map[string]delayed // names with a pending AddAfter
	failures   map[string]int     // consecutive AddRateLimited calls
	shutdown   bool

	baseDelay time.Duration
	maxDelay  time.Duration
}

type delayed struct {
	at    time.Time
	timer clock.Timer
}

func newQueue(clk clock.Clock, baseDelay, maxDelay time.Duration) *queue {
	q := &queue{
		clock:      clk,
		dirty:      map[string]struct{}{},
		processing: map[string]struct{}{},
		waiting:    map[string]delayed{},
		failures:   map[string]int{},
		baseDelay:  baseDelay,
		maxDelay:   maxDelay,
	}
	q.cond = sync.NewCond(&q.mu)
	return q
}

// Add queues name now.
func (q *queue) Add(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.addLocked(name)
}

// caller holds q.mu.
func (q *queue) addLocked(name string) {
	if q.shutdown {
		return
	}
	if _, ok := q.dirty[name]; ok {
		return
	}
	q.dirty[name] = struct{}{}
	if _, ok := q.processing[name]; ok {
		return // re-queued by Done
	}
	q.items = append(q.items, name)
	q.cond.Signal()
}

// AddAfter queues name once d has elapsed. An earlier pending AddAfter for
// the same name wins; a later one is ignored.
func (q *queue) AddAfter(name string, d time.Duration) {
	if d <= 0 {
		q.Add(name)
		return
	}
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.shutdown {
		return
	}
	at := q.clock.Now().Add(d)
	if w, ok := q.waiting[name]; ok {
		if !w.at.After(at) {
			return
		}
		w.timer.Stop()
	}
	var t clock.Timer
	t = q.clock.AfterFunc(d, func() {
		q.mu.Lock()
		defer q.mu.Unlock()
		if w, ok := q.waiting[name]; ok && w.timer == t {
			delete(q.waiting, name)
		}
		q.addLocked(name)
	})
	q.waiting[name] = delayed{at: at, timer: t}
}

// AddRateLimited queues name after a per-name exponential back-off.
func (q *queue) AddRateLimited(name string) {
	q.mu.Lock()
	n := q.failures[name]
	q.failures[name] = n + 1
	q.mu.Unlock()
	q.AddAfter(name, backoff.Policy{Initial: q.baseDelay, Max: q.maxDelay}.Delay(n))
}

// Forget resets name's back-off.
func (q *queue) Forget(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.failures, name)
}

// Get blocks until a name is ready and marks it processing; ok is false
// once the queue is shut down.
func (q *queue) Get() (name string, ok bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	for len(q.items) == 0 && !q.shutdown {
		q.cond.Wait()
	}
	if q.shutdown {
		return "", false
	}
	name = q.items[0]
	q.items[0] = ""
	q.items = q.items[1:]
	q.processing[name] = struct{}{}
	delete(q.dirty, name)
	return name, true
}

// Done ends processing of name; if it was added meanwhile it is queued again.
func (q *queue) Done(name string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.processing, name)
	if _, ok := q.dirty[name]; ok && !q.shutdown {
		q.items = append(q.items, name)
		q.cond.Signal()
	}
}

// Len is the number of names ready to be processed.
func (q *queue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.items)
}

// ShutDown wakes every Get with ok false and cancels pending delayed adds.
func (q *queue) ShutDown() {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.shutdown = true
	for name, w := range q.waiting {
		w.timer.Stop()
		delete(q.waiting, name)
	}
	q.cond.Broadcast()
}
