package raftstore

import (
	"context"
	"fmt"
	"sync"

	"github.com/sprint-project/sprint/apis"
)

// DefaultWatchHistory is how many events the store keeps for watches that
// resume from a resourceVersion.
const DefaultWatchHistory = 10000

// watcherBuffer is each watcher's channel capacity beyond its replay; a
// watcher that falls this far behind is closed with a "too old" error.
const watcherBuffer = 1024

type watchEvent struct {
	index uint64
	typ   apis.EventType
	run   *apis.Run
}

// hub keeps the recent events in a ring and fans them out to watchers.
// dispatch is called by the FSM goroutine after each commit and never
// blocks on a watcher.
type hub struct {
	mu   sync.Mutex
	ring []watchEvent // circular; len(ring) is the capacity
	head int          // index of the oldest event
	n    int
	// start: every event with index > start is in the ring.
	start uint64
	// last is the applied index of the last dispatch.
	last     uint64
	watchers map[*Watcher]struct{}
}

func newHub(size int) *hub {
	if size <= 0 {
		size = DefaultWatchHistory
	}
	return &hub{ring: make([]watchEvent, size), watchers: map[*Watcher]struct{}{}}
}

// reset forgets the history, e.g. after a snapshot replaced the state.
// Watchers are closed with err, since they cannot be told what changed.
func (h *hub) reset(index uint64, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.head, h.n = 0, 0
	clear(h.ring)
	h.start, h.last = index, index
	for w := range h.watchers {
		h.closeLocked(w, err)
	}
}

func (h *hub) closeAll(err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for w := range h.watchers {
		h.closeLocked(w, err)
	}
}

func (h *hub) dispatch(events []watchEvent, index uint64) {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, ev := range events {
		if h.n == len(h.ring) {
			h.start = h.ring[h.head].index
			h.head = (h.head + 1) % len(h.ring)
			h.n--
		}
		h.ring[(h.head+h.n)%len(h.ring)] = ev
		h.n++
	}
	h.last = index
	for w := range h.watchers {
		for _, ev := range events {
			if !w.wants(ev) {
				continue
			}
			select {
			case w.ch <- ev.toAPI():
			default:
				h.closeLocked(w, fmt.Errorf("watcher fell behind at resourceVersion %d: %w", ev.index, apis.ErrGone))
			}
			if w.closed {
				break
			}
		}
	}
}

func (h *hub) closeLocked(w *Watcher, err error) {
	if w.closed {
		return
	}
	w.closed = true
	w.err = err
	close(w.ch)
	delete(h.watchers, w)
	if w.stopCtx != nil {
		w.stopCtx()
	}
}

// watch registers a watcher receiving every event after fromRV (0: after
// the last dispatched one) for which match is true (nil matches all).
func (h *hub) watch(ctx context.Context, fromRV uint64, match func(*apis.Run) bool) (*Watcher, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	explicit := fromRV != 0
	if fromRV == 0 {
		fromRV = h.last
	}
	if fromRV < h.start {
		return nil, fmt.Errorf("watch from resourceVersion %d: oldest kept is %d: %w", fromRV, h.start, apis.ErrGone)
	}
	from := fromRV
	if explicit && h.shared(fromRV) {
		// Several Runs changed in the entry at fromRV (a batch of status
		// writes or GC deletes), so they share its resourceVersion. A
		// client resuming from the version of the last event it got may
		// have missed the rest of that entry: send the whole entry again.
		// Clients see duplicates of events they had, never a gap.
		from = fromRV - 1
	}
	w := &Watcher{hub: h, from: from, match: match}
	var replay []apis.WatchEvent
	for i := 0; i < h.n; i++ {
		ev := h.ring[(h.head+i)%len(h.ring)]
		if w.wants(ev) {
			replay = append(replay, ev.toAPI())
		}
	}
	w.ch = make(chan apis.WatchEvent, len(replay)+watcherBuffer)
	for _, ev := range replay {
		w.ch <- ev
	}
	h.watchers[w] = struct{}{}
	w.stopCtx = context.AfterFunc(ctx, func() { h.stop(w, ctx.Err()) })
	return w, nil
}

// shared reports whether more than one kept event has resourceVersion rv.
// Caller holds h.mu.
func (h *hub) shared(rv uint64) bool {
	n := 0
	for i := h.n - 1; i >= 0; i-- {
		idx := h.ring[(h.head+i)%len(h.ring)].index
		if idx < rv {
			break
		}
		if idx == rv {
			if n++; n > 1 {
				return true
			}
		}
	}
	return false
}

func (h *hub) stop(w *Watcher, err error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.closeLocked(w, err)
}

func (ev watchEvent) toAPI() apis.WatchEvent {
	return apis.WatchEvent{Type: ev.typ, Object: ev.run}
}

// Watcher streams changes of Runs; Store.Watch creates it.
type Watcher struct {
	hub   *hub
	from  uint64
	match func(*apis.Run) bool
	ch    chan apis.WatchEvent // closed by the hub, under hub.mu
	// Guarded by hub.mu.
	closed  bool
	err     error
	stopCtx func() bool
}

func (w *Watcher) wants(ev watchEvent) bool {
	return ev.index > w.from && (w.match == nil || w.match(ev.run))
}

// Events delivers the changes in resourceVersion order. Each Object is a
// *apis.Run shared with other watchers: read it, do not modify it. The
// channel is closed (by the store) when the watcher stops; Err then says why.
func (w *Watcher) Events() <-chan apis.WatchEvent { return w.ch }

// Err is nil while the watcher runs and after Stop. It wraps apis.ErrGone
// when the watcher fell behind or a snapshot replaced the state, ErrClosed
// when the store closed, or the context's error when it ended.
func (w *Watcher) Err() error {
	w.hub.mu.Lock()
	defer w.hub.mu.Unlock()
	return w.err
}

// Stop ends the watch and closes Events. It is safe to call more than once.
func (w *Watcher) Stop() { w.hub.stop(w, nil) }
