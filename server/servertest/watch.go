package servertest

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

// defaultWatchBuffer is how far a watcher may fall behind before it ends
// with apis.ErrTooSlow, when Store.WatchBuffer is 0.
const defaultWatchBuffer = 256

// watcher reads the Store's history with a cursor, as raftstore's feeds
// read theirs.
type watcher struct {
	store *Store
	match func(*apis.Run) bool
	next  uint64 // sequence of the next history change to look at
	limit uint64
	// listing holds the initial listing's Runs (copies) still to send,
	// then its end BOOKMARK; nil when there is none.
	listing []server.WatchEvent
	err     error
}

var _ server.Watcher = (*watcher)(nil)

// Watch implements server.Store.
func (s *Store) Watch(ctx context.Context, o server.WatchOptions) (server.Watcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if o.List && o.ResourceVersion != 0 {
		return nil, fmt.Errorf("watch: a listing starts from now: %w", apis.ErrBadRequest)
	}
	fromRV := o.ResourceVersion
	if fromRV == 0 {
		fromRV = s.rv
	}
	if len(s.history) > 0 && fromRV+1 < s.history[0].rv {
		return nil, fmt.Errorf("watch from %d, oldest kept is %d: %w", fromRV, s.history[0].rv, apis.ErrGone)
	}
	if len(s.history) == 0 && fromRV < s.rv {
		return nil, fmt.Errorf("watch from %d, no history kept: %w", fromRV, apis.ErrGone)
	}
	w := &watcher{store: s, match: o.Match, next: s.seq}
	for i := len(s.history) - 1; i >= 0 && s.history[i].rv > fromRV; i-- {
		w.next--
	}
	buffer := s.WatchBuffer
	if buffer <= 0 {
		buffer = defaultWatchBuffer
	}
	w.limit = s.seq - w.next + uint64(buffer)
	if o.List {
		for _, name := range slices.Sorted(maps.Keys(s.runs)) {
			if r := s.runs[name]; o.Match == nil || o.Match(r) {
				w.listing = append(w.listing, server.WatchEvent{Type: apis.Added, Object: encode(r)})
			}
		}
		end := &apis.Run{Metadata: apis.ObjectMeta{
			ResourceVersion: strconv.FormatUint(s.rv, 10),
			Annotations:     map[string]string{apis.InitialEventsEndAnnotation: "true"},
		}}
		w.listing = append(w.listing, server.WatchEvent{Type: apis.Bookmark, ResourceVersion: s.rv, Object: encode(end)})
	}
	s.watchers[w] = false
	s.watchersChangedLocked()
	return w, nil
}

// encode is a Run's JSON with its apiVersion and kind.
func encode(r *apis.Run) []byte {
	c := *r
	c.APIVersion, c.Kind = apis.APIVersion, apis.KindRun
	b, err := json.Marshal(&c)
	if err != nil {
		panic(err)
	}
	return b
}

// Ready implements server.Watcher.
func (w *watcher) Ready() <-chan struct{} {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	return w.store.notify
}

// Next implements server.Watcher.
func (w *watcher) Next() (server.WatchEvent, bool, error) {
	if w.err != nil {
		return server.WatchEvent{}, false, w.err
	}
	if len(w.listing) > 0 {
		ev := w.listing[0]
		w.listing = w.listing[1:]
		return ev, true, nil
	}
	s := w.store
	s.mu.Lock()
	defer s.mu.Unlock()
	if expired, ok := s.watchers[w]; !ok || expired {
		w.err = fmt.Errorf("watcher stopped: %w", apis.ErrUnavailable)
		if expired {
			w.err = fmt.Errorf("watch history replaced: %w", apis.ErrGone)
		}
		return server.WatchEvent{}, false, w.err
	}
	oldest := s.seq - uint64(len(s.history))
	for w.next < s.seq {
		if pending := s.seq - w.next; pending > w.limit || w.next < oldest {
			w.err = fmt.Errorf("watcher fell %d changes behind: %w", pending, apis.ErrTooSlow)
			return server.WatchEvent{}, false, w.err
		}
		c := s.history[w.next-oldest]
		w.next++
		r := c.ev.Object.(*apis.Run)
		typ, ok := selectEvent(c.ev.Type, w.match, r, c.prev)
		if !ok {
			continue
		}
		return server.WatchEvent{Type: typ, ResourceVersion: c.rv, Object: encode(r)}, true, nil
	}
	return server.WatchEvent{}, false, nil
}

// selectEvent is the event a watch with selector match sends for a change
// of typ that made run of prev (nil but for a MODIFIED), as raftstore and
// the Kubernetes API server decide it: ADDED when the Run starts to
// match, DELETED (with its state after the change) when it stops,
// MODIFIED when it matches before and after, nothing when it matches
// neither.
func selectEvent(typ apis.EventType, match func(*apis.Run) bool, run, prev *apis.Run) (apis.EventType, bool) {
	if match == nil {
		return typ, true
	}
	now := match(run)
	was := now
	if prev != nil {
		was = match(prev)
	}
	return apis.SelectedEvent(typ, was, now)
}

// ExpireWatches ends every open watch with apis.ErrGone (a 410 ERROR
// event), as a replica does when a snapshot replaces its state.
func (s *Store) ExpireWatches() {
	s.mu.Lock()
	defer s.mu.Unlock()
	for w := range s.watchers {
		s.watchers[w] = true
	}
	close(s.notify)
	s.notify = make(chan struct{})
}

// Stop implements server.Watcher.
func (w *watcher) Stop() {
	w.store.mu.Lock()
	defer w.store.mu.Unlock()
	if _, ok := w.store.watchers[w]; ok {
		delete(w.store.watchers, w)
		w.store.watchersChangedLocked()
	}
}
