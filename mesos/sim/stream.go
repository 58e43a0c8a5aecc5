package sim

import (
	"context"
	"sync"

	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/clock"
)

// stream is one SUBSCRIBE response: an ordered, unbounded queue of events
// that the master fills (under its lock, never blocking) and one consumer
// drains (the HTTP pump or an in-process Caller's decoder).
type stream struct {
	id   string
	fwID string

	mu       sync.Mutex
	queue    []*scheduler.Event
	finished bool          // the master ends the stream once queue drains
	notify   chan struct{} // capacity 1: queue changed or finished

	// guarded by Master.mu
	heartbeat clock.Timer
}

func newStream(id string) *stream {
	return &stream{id: id, notify: make(chan struct{}, 1)}
}

// push queues e; it reports false if the stream is already finished.
func (s *stream) push(e *scheduler.Event) bool {
	s.mu.Lock()
	if s.finished {
		s.mu.Unlock()
		return false
	}
	s.queue = append(s.queue, e)
	s.mu.Unlock()
	s.wake()
	return true
}

// finish ends the stream after the queued events are consumed.
func (s *stream) finish() {
	s.mu.Lock()
	s.finished = true
	s.mu.Unlock()
	s.wake()
}

func (s *stream) wake() {
	select {
	case s.notify <- struct{}{}:
	default:
	}
}

// next blocks for the next events; ok is false once the stream is finished
// and drained, or ctx is done.
func (s *stream) next(ctx context.Context) (evs []*scheduler.Event, ok bool) {
	for {
		s.mu.Lock()
		if len(s.queue) > 0 {
			evs, s.queue = s.queue, nil
			s.mu.Unlock()
			return evs, true
		}
		fin := s.finished
		s.mu.Unlock()
		if fin {
			return nil, false
		}
		select {
		case <-ctx.Done():
			return nil, false
		case <-s.notify:
		}
	}
}
