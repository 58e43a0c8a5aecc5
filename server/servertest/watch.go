package servertest

import (
	"context"
	"fmt"
	"sync"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

// watchBuffer is how far a watcher may fall behind before it is closed
// with apis.ErrGone, as raftstore closes slow watchers.
const watchBuffer = 256

type watcher struct {
	match  func(*apis.Run) bool
	ch     chan apis.WatchEvent // closed by close, under Store.mu
	once   sync.Once
	err    error // set before ch is closed
	store  *Store
	closed bool // guarded by Store.mu
}

var _ server.Watcher = (*watcher)(nil)

// Watch implements server.Store.
func (s *Store) Watch(ctx context.Context, fromRV uint64, match func(*apis.Run) bool) (server.Watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.history) > 0 && fromRV+1 < s.history[0].rv {
		return nil, fmt.Errorf("watch from %d, oldest kept is %d: %w", fromRV, s.history[0].rv, apis.ErrGone)
	}
	if len(s.history) == 0 && fromRV < s.rv {
		return nil, fmt.Errorf("watch from %d, no history kept: %w", fromRV, apis.ErrGone)
	}
	w := &watcher{match: match, ch: make(chan apis.WatchEvent, watchBuffer), store: s}
	for _, c := range s.history {
		if c.rv > fromRV {
			w.offer(s, c)
		}
	}
	s.watchers[w] = struct{}{}
	context.AfterFunc(ctx, w.Stop)
	return w, nil
}

// offer queues an event for the watcher, closing it with ErrGone when it
// has fallen too far behind; caller holds s.mu.
func (w *watcher) offer(s *Store, c change) {
	if w.closed {
		return
	}
	if r, ok := c.ev.Object.(*apis.Run); ok && w.match != nil && !w.match(r) {
		return
	}
	ev := apis.WatchEvent{Type: c.ev.Type, Object: clone(c.ev.Object.(*apis.Run))}
	select {
	case w.ch <- ev:
	default:
		w.closeLocked(s, fmt.Errorf("watcher fell behind: %w", apis.ErrGone))
	}
}

func (w *watcher) closeLocked(s *Store, err error) {
	if w.closed {
		return
	}
	w.closed = true
	w.err = err
	delete(s.watchers, w)
	close(w.ch)
}

// Events implements server.Watcher.
func (w *watcher) Events() <-chan apis.WatchEvent { return w.ch }

// Err implements server.Watcher.
func (w *watcher) Err() error {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	return w.err
}

// Stop implements server.Watcher.
func (w *watcher) Stop() {
	w.once.Do(func() {
		w.store.mu.Lock()
		defer w.store.mu.Unlock()
		w.closeLocked(w.store, nil)
	})
}
