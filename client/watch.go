package client

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sprint-project/sprint/apis"
)

// Event is one change of a Run seen by a Watcher.
type Event struct {
	// Type is ADDED, MODIFIED or DELETED.
	Type apis.EventType
	// Run is the Run after the change (its last state, for DELETED).
	Run *apis.Run
}

// WatchOptions select what a Watcher sees.
type WatchOptions struct {
	LabelSelector string
	FieldSelector string
	// ResourceVersion resumes after this version. Empty lists the current
	// Runs first (as ADDED events) and then streams changes.
	ResourceVersion string
}

// Reconnect back-off bounds of a Watcher whose stream broke.
const (
	minReconnectWait = 200 * time.Millisecond
	maxReconnectWait = 5 * time.Second
)

// Watcher delivers a Run change stream that survives disconnects: it
// reconnects from the last resourceVersion it saw (bookmarks included),
// and when the server answers that version is too old (410) it lists
// again, reporting what it missed as ADDED, MODIFIED and DELETED events.
type Watcher struct {
	c      *Client
	opts   WatchOptions
	events chan Event // closed by run when it returns
	cancel context.CancelFunc
	done   chan struct{}

	mu  sync.Mutex
	err error

	// Owned by the run goroutine.
	rv    string
	known map[string]*apis.Run
	// seenAtRV names the Runs already delivered at resourceVersion rv.
	// Several Runs share a version when one Raft entry changed them all;
	// a stream resumed from rv sends that whole entry again, and these
	// are the duplicates to drop.
	seenAtRV map[string]bool
}

// Watch starts a Watcher. It returns an error at once when the server
// refuses the first request (bad selector, 401, unreachable server).
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	ctx, cancel := context.WithCancel(ctx)
	w := &Watcher{
		c: c, opts: opts, cancel: cancel,
		events: make(chan Event, 16),
		done:   make(chan struct{}),
		rv:     opts.ResourceVersion,
		known:  map[string]*apis.Run{},
	}
	var initial []Event
	if w.rv == "" {
		var err error
		if initial, err = w.relist(ctx); err != nil {
			cancel()
			return nil, err
		}
	}
	stream, err := w.open(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go w.run(ctx, initial, stream)
	return w, nil
}

// Events delivers changes in order; it is closed when the Watcher stops.
func (w *Watcher) Events() <-chan Event { return w.events }

// Err tells, once Events is closed, why: nil after Stop or the context
// ended, else the error that ended the watch.
func (w *Watcher) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the watch and waits until its connection is closed.
func (w *Watcher) Stop() {
	w.cancel()
	<-w.done
}

// relist lists the selected Runs and returns the events that bring a
// consumer from what it knew to the list.
func (w *Watcher) relist(ctx context.Context) ([]Event, error) {
	list, err := w.c.List(ctx, ListOptions{LabelSelector: w.opts.LabelSelector, FieldSelector: w.opts.FieldSelector})
	if err != nil {
		return nil, err
	}
	var out []Event
	seen := map[string]bool{}
	for i := range list.Items {
		r := &list.Items[i]
		seen[r.Metadata.Name] = true
		old, ok := w.known[r.Metadata.Name]
		switch {
		case !ok:
			out = append(out, Event{Type: apis.Added, Run: r})
		case old.Metadata.ResourceVersion != r.Metadata.ResourceVersion:
			out = append(out, Event{Type: apis.Modified, Run: r})
		}
		w.known[r.Metadata.Name] = r
	}
	for name, r := range w.known {
		if !seen[name] {
			out = append(out, Event{Type: apis.Deleted, Run: r})
			delete(w.known, name)
		}
	}
	w.rv = list.Metadata.ResourceVersion
	return out, nil
}

func (w *Watcher) open(ctx context.Context) (*http.Response, error) {
	q := ListOptions{LabelSelector: w.opts.LabelSelector, FieldSelector: w.opts.FieldSelector}.query()
	q.Set("watch", "true")
	if w.rv != "" {
		q.Set("resourceVersion", w.rv)
	}
	return w.c.do(ctx, request{method: http.MethodGet, path: "/api/v1/runs", query: q, accept: "application/x-ndjson"})
}

// wireEvent is a watch event as it comes over the wire.
type wireEvent struct {
	Type   apis.EventType  `json:"type"`
	Object json.RawMessage `json:"object"`
}

// errRelist means the stream's version is too old: list again.
var errRelist = errors.New("resource version too old")

func (w *Watcher) run(ctx context.Context, initial []Event, stream *http.Response) {
	defer close(w.done)
	defer close(w.events)
	for _, ev := range initial {
		if !w.emit(ctx, ev) {
			return
		}
	}
	wait := minReconnectWait
	for {
		err := w.consume(ctx, stream)
		_ = stream.Body.Close()
		if ctx.Err() != nil {
			return
		}
		if err != nil && !errors.Is(err, errRelist) {
			w.fail(err)
			return
		}
		for {
			if errors.Is(err, errRelist) {
				var evs []Event
				if evs, err = w.relist(ctx); err == nil {
					for _, ev := range evs {
						if !w.emit(ctx, ev) {
							return
						}
					}
				}
			}
			if err == nil {
				if stream, err = w.open(ctx); err == nil {
					wait = minReconnectWait
					break
				}
			}
			if ctx.Err() != nil {
				return
			}
			if IsGone(err) {
				err = errRelist
				continue
			}
			if code := StatusCode(err); code >= 400 && code < 500 {
				w.fail(err)
				return
			}
			// The server is away (restart, leader change): try again.
			t := time.NewTimer(wait)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			wait = min(2*wait, maxReconnectWait)
			err = nil
		}
	}
}

// setRV moves the resume point to rv; a new version starts a new set of
// Runs seen at it.
func (w *Watcher) setRV(rv string) {
	if rv != w.rv || w.seenAtRV == nil {
		w.rv = rv
		w.seenAtRV = map[string]bool{}
	}
}

// consume reads one stream until it ends. It returns nil when the stream
// just ended (reconnect), errRelist on a 410 ERROR event, or the error of
// another ERROR event.
func (w *Watcher) consume(ctx context.Context, stream *http.Response) error {
	sc := bufio.NewScanner(stream.Body)
	sc.Buffer(make([]byte, 64<<10), 4<<20)
	for sc.Scan() {
		var ev wireEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			return fmt.Errorf("decode watch event: %w", err)
		}
		switch ev.Type {
		case apis.Error:
			var st apis.Status
			if err := json.Unmarshal(ev.Object, &st); err != nil {
				return fmt.Errorf("decode watch error: %w", err)
			}
			if st.Code == http.StatusGone {
				return errRelist
			}
			return &st
		case apis.Bookmark:
			var r apis.Run
			if json.Unmarshal(ev.Object, &r) == nil && r.Metadata.ResourceVersion != "" {
				w.setRV(r.Metadata.ResourceVersion)
			}
		case apis.Added, apis.Modified, apis.Deleted:
			var r apis.Run
			if err := json.Unmarshal(ev.Object, &r); err != nil {
				return fmt.Errorf("decode watch event: %w", err)
			}
			if r.Metadata.ResourceVersion == w.rv && w.seenAtRV[r.Metadata.Name] {
				continue // sent again by a stream resumed from rv
			}
			if k := w.known[r.Metadata.Name]; ev.Type != apis.Deleted && k != nil && k.Metadata.ResourceVersion == r.Metadata.ResourceVersion {
				continue // the list this watch started from had it already
			}
			w.setRV(r.Metadata.ResourceVersion)
			w.seenAtRV[r.Metadata.Name] = true
			if ev.Type == apis.Deleted {
				delete(w.known, r.Metadata.Name)
			} else {
				w.known[r.Metadata.Name] = &r
			}
			if !w.emit(ctx, Event{Type: ev.Type, Run: &r}) {
				return nil
			}
		}
	}
	if ctx.Err() != nil {
		return nil
	}
	// A broken connection is as good as an ended stream: reconnect.
	return nil
}

func (w *Watcher) emit(ctx context.Context, ev Event) bool {
	select {
	case w.events <- ev:
		return true
	case <-ctx.Done():
		return false
	}
}

func (w *Watcher) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}
