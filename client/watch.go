package client

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// Event is one change of a Run seen by a Watcher.
type Event struct {
	// Type is ADDED, MODIFIED or DELETED, or Synced when asked for.
	Type apis.EventType
	// Run is the Run after the change (its last state, for DELETED). For
	// Synced it holds only metadata.resourceVersion, the listing's.
	Run *apis.Run
}

// Synced is the type of the Event a Watcher with WatchOptions.Synced
// delivers after each listing: the events before it brought the consumer
// to the state of the Runs at that moment (the first listing, or a
// relist after the server said 410).
const Synced apis.EventType = "SYNCED"

// WatchOptions select what a Watcher sees.
type WatchOptions struct {
	LabelSelector string
	FieldSelector string
	// ResourceVersion resumes after this version. Empty lists the current
	// Runs first (as ADDED events) and then streams changes.
	ResourceVersion string
	// Synced asks for a Synced event after each listing.
	Synced bool
}

// reconnectPolicy spaces the reconnects of a Watcher whose stream broke,
// jittered so that the watchers of a restarted server do not all come
// back at once.
var reconnectPolicy = backoff.Policy{Initial: 200 * time.Millisecond, Max: 5 * time.Second, Jitter: 0.5}

// Watcher delivers a Run change stream that survives disconnects: it
// reconnects from the last resourceVersion it saw (bookmarks included),
// and when the server answers 410 (the version is too old, or this client
// read too slowly and was cut off) it lists again, reporting what changed
// meanwhile as ADDED, MODIFIED and DELETED events: nothing twice, nothing
// lost. A listing is a watch without a resourceVersion, which the server
// streams from one consistent state and ends with a BOOKMARK.
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
	// listed is non-nil while a listing streams: the Runs it showed.
	listed map[string]bool
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
	stream, err := w.open(ctx)
	if err != nil {
		cancel()
		return nil, err
	}
	go w.run(ctx, stream)
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

// open starts a stream: from w.rv, or a listing when there is none.
func (w *Watcher) open(ctx context.Context) (*http.Response, error) {
	q := ListOptions{LabelSelector: w.opts.LabelSelector, FieldSelector: w.opts.FieldSelector}.query()
	q.Set("watch", "true")
	if w.rv != "" && w.rv != "0" {
		q.Set("resourceVersion", w.rv)
		w.listed = nil
	} else {
		w.listed = map[string]bool{}
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

func (w *Watcher) run(ctx context.Context, stream *http.Response) {
	defer close(w.done)
	defer close(w.events)
	reconnect := backoff.Retry{Policy: reconnectPolicy}
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
				w.rv = "" // the next stream is a listing
			}
			if stream, err = w.open(ctx); err == nil {
				reconnect.Reset()
				break
			}
			if ctx.Err() != nil {
				return
			}
			var pause time.Duration
			switch code := StatusCode(err); {
			case IsGone(err):
				err = errRelist
				continue
			case code == http.StatusTooManyRequests:
				// The server is at its limit of watches: come back when
				// it says, however long that takes.
				pause = retryAfter(err)
			case code >= 400 && code < 500:
				w.fail(err)
				return
			default:
				// The server is away (restart, leader change): try again.
				pause = reconnect.Next()
			}
			if clock.Sleep(ctx, clock.Real{}, pause) != nil {
				return
			}
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
	sc.Split(wholeLines)
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
			if json.Unmarshal(ev.Object, &r) != nil || r.Metadata.ResourceVersion == "" {
				continue
			}
			if w.listed != nil {
				if r.Metadata.Annotations[apis.InitialEventsEndAnnotation] == "true" && !w.endListing(ctx, &r) {
					return nil
				}
				continue // a listing's Runs come in no version order: no resume point yet
			}
			w.setRV(r.Metadata.ResourceVersion)
		case apis.Added, apis.Modified, apis.Deleted:
			var r apis.Run
			if err := json.Unmarshal(ev.Object, &r); err != nil {
				return fmt.Errorf("decode watch event: %w", err)
			}
			if r.Metadata.Name == "" {
				return fmt.Errorf("decode watch event: %s without metadata.name", ev.Type)
			}
			out, ok := w.change(ev.Type, &r)
			if ok && !w.emit(ctx, out) {
				return nil
			}
		}
	}
	// A broken connection is as good as an ended stream: reconnect (a
	// listing cut short starts again).
	return nil
}

// wholeLines splits a stream into lines like bufio.ScanLines, but drops a
// last line without its newline: the connection broke in the middle of
// that event, and it comes again after the reconnect.
func wholeLines(data []byte, atEOF bool) (int, []byte, error) {
	if i := bytes.IndexByte(data, '\n'); i >= 0 {
		return i + 1, bytes.TrimSuffix(data[:i], []byte("\r")), nil
	}
	if atEOF {
		return len(data), nil, nil
	}
	return 0, nil, nil
}

// change folds one event into what the consumer knows and returns what to
// tell it, if anything.
func (w *Watcher) change(typ apis.EventType, r *apis.Run) (Event, bool) {
	name := r.Metadata.Name
	old := w.known[name]
	if w.listed != nil {
		// During a listing every event says what the Run is now.
		if typ == apis.Deleted {
			delete(w.listed, name)
			if old == nil {
				return Event{}, false
			}
			delete(w.known, name)
			return Event{Type: apis.Deleted, Run: r}, true
		}
		w.listed[name] = true
		w.known[name] = r
		switch {
		case old == nil:
			return Event{Type: apis.Added, Run: r}, true
		case old.Metadata.ResourceVersion != r.Metadata.ResourceVersion:
			return Event{Type: apis.Modified, Run: r}, true
		}
		return Event{}, false
	}
	if r.Metadata.ResourceVersion == w.rv && w.seenAtRV[name] {
		return Event{}, false // sent again by a stream resumed from rv
	}
	if typ != apis.Deleted && old != nil && old.Metadata.ResourceVersion == r.Metadata.ResourceVersion {
		return Event{}, false // the listing this watch started from had it already
	}
	w.setRV(r.Metadata.ResourceVersion)
	w.seenAtRV[name] = true
	if typ == apis.Deleted {
		delete(w.known, name)
	} else {
		w.known[name] = r
	}
	return Event{Type: typ, Run: r}, true
}

// endListing reports the Runs the listing did not show as deleted and
// resumes from the listing's version. It returns false when ctx ended.
func (w *Watcher) endListing(ctx context.Context, end *apis.Run) bool {
	for name, r := range w.known {
		if w.listed[name] {
			continue
		}
		delete(w.known, name)
		if !w.emit(ctx, Event{Type: apis.Deleted, Run: r}) {
			return false
		}
	}
	w.listed = nil
	w.setRV(end.Metadata.ResourceVersion)
	if w.opts.Synced {
		rv := &apis.Run{Metadata: apis.ObjectMeta{ResourceVersion: end.Metadata.ResourceVersion}}
		return w.emit(ctx, Event{Type: Synced, Run: rv})
	}
	return true
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
