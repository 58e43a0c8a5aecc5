package raftstore

import (
	"context"
	"errors"
	"math"
	"sync"

	"github.com/sprint-project/sprint/apis"
)

// watcherChan is the capacity of a Watcher's channel. The Feed behind it
// reads the shared history, so this is all a Watcher buffers of its own.
const watcherChan = 64

// Watcher streams changes of Runs over a channel, for consumers in this
// process (the controller); Store.Watch creates it. A goroutine moves
// events from a Feed to the channel and ends with the watch.
type Watcher struct {
	ch   chan apis.WatchEvent // closed by pump when it returns
	stop chan struct{}        // closed by Stop
	once sync.Once
	done chan struct{} // closed when pump returns

	mu  sync.Mutex
	err error
}

func newWatcher(ctx context.Context, f *Feed) *Watcher {
	w := &Watcher{
		ch:   make(chan apis.WatchEvent, watcherChan),
		stop: make(chan struct{}),
		done: make(chan struct{}),
	}
	go w.pump(ctx, f)
	return w
}

func (w *Watcher) pump(ctx context.Context, f *Feed) {
	defer close(w.done)
	defer close(w.ch)
	defer f.Stop()
	for {
		ready := f.Ready()
		ev, ok, err := f.Next()
		if err != nil {
			w.setErr(err)
			return
		}
		if !ok {
			select {
			case <-ready:
				continue
			case <-ctx.Done():
				w.setErr(ctx.Err())
				return
			case <-w.stop:
				return
			}
		}
		run, err := ev.Run()
		if err != nil {
			w.setErr(err)
			return
		}
		select {
		case w.ch <- apis.WatchEvent{Type: ev.Type, Object: run}:
		case <-ctx.Done():
			w.setErr(ctx.Err())
			return
		case <-w.stop:
			return
		}
	}
}

func (w *Watcher) setErr(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}

// Events delivers the changes in resourceVersion order. Each Object is a
// *apis.Run shared with other watchers: read it, do not modify it. The
// channel is closed when the watcher stops; Err then says why.
func (w *Watcher) Events() <-chan apis.WatchEvent { return w.ch }

// Err is nil while the watcher runs and after Stop. It wraps
// apis.ErrTooSlow when the watcher fell behind, apis.ErrGone when a
// snapshot replaced the state, ErrClosed when the store closed, or the
// context's error when it ended.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if errors.Is(w.err, errFeedStopped) {
		return nil
	}
	return w.err
}

// Stop ends the watch and closes Events. It is safe to call more than
// once, and returns once the watcher's goroutine has.
func (w *Watcher) Stop() {
	w.once.Do(func() { close(w.stop) })
	<-w.done
}

// watch starts a Watcher over a Feed of the FSM (Store.Watch, and tests
// without raft).
func (f *fsm) watch(ctx context.Context, fromRV uint64, match func(*apis.Run) bool) (*Watcher, error) {
	feed, err := f.hub.feed(FeedOptions{ResourceVersion: fromRV, Match: match}, nil)
	if err != nil {
		return nil, err
	}
	// A watch in this process (the controller's) may fall behind as far
	// as the history reaches: its cursor holds nothing, while ending it
	// makes its reader list and decode every Run again. A batch of
	// Schedule firings creates a thousand Runs at once, more than the
	// buffer an HTTP client is given.
	feed.limit = math.MaxUint64
	return newWatcher(ctx, feed), nil
}
