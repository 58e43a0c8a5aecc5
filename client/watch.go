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
	// Run is the Run after the change (its last state, for DELETED). With
	// a selector, a Run that starts to match comes as ADDED and one that
	// stops matching as DELETED, in its state after that change (it still
	// exists). For Synced it holds only metadata.resourceVersion, the
	// listing's.
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
	loop   *watchLoop[apis.Run]
	events <-chan Event // closed by the loop when it returns
}

// Watch starts a Watcher. It returns an error at once when the server
// refuses the first request (bad selector, 401, unreachable server).
func (c *Client) Watch(ctx context.Context, opts WatchOptions) (*Watcher, error) {
	loop, events, err := watchKind(ctx, c, runKind, opts, func(typ apis.EventType, r *apis.Run) Event {
		return Event{Type: typ, Run: r}
	})
	if err != nil {
		return nil, err
	}
	return &Watcher{loop: loop, events: events}, nil
}

// Events delivers changes in order; it is closed when the Watcher stops.
func (w *Watcher) Events() <-chan Event { return w.events }

// Err tells, once Events is closed, why: nil after Stop or the context
// ended, else the error that ended the watch.
func (w *Watcher) Err() error { return w.loop.Err() }

// Stop ends the watch and waits until its connection is closed.
func (w *Watcher) Stop() { w.loop.Stop() }

// watchLoop is the engine of Watcher and ScheduleWatcher: one stream of
// objects of type T (a Run or a Schedule) at path, reconnected and
// relisted as Watcher describes. deliver hands an event to the consumer
// (false when ctx ended); closed runs when the loop returns.
type watchLoop[T any] struct {
	c       *Client
	path    string
	opts    WatchOptions
	meta    func(*T) *apis.ObjectMeta
	deliver func(ctx context.Context, typ apis.EventType, obj *T) bool
	closed  func()
	cancel  context.CancelFunc
	done    chan struct{}

	mu  sync.Mutex
	err error

	// Owned by the run goroutine.
	rv    string
	known map[string]*T
	// seenAtRV names the objects already delivered at resourceVersion rv.
	// Several share a version when one Raft entry changed them all; a
	// stream resumed from rv sends that whole entry again, and these are
	// the duplicates to drop.
	seenAtRV map[string]bool
	// listed is non-nil while a listing streams: the objects it showed.
	listed map[string]bool
}

func newWatchLoop[T any](c *Client, path string, opts WatchOptions, meta func(*T) *apis.ObjectMeta,
	deliver func(context.Context, apis.EventType, *T) bool, closed func()) *watchLoop[T] {
	return &watchLoop[T]{
		c: c, path: path, opts: opts, meta: meta, deliver: deliver, closed: closed,
		done: make(chan struct{}), rv: opts.ResourceVersion, known: map[string]*T{},
	}
}

// start opens the first stream and runs the loop.
func (w *watchLoop[T]) start(ctx context.Context) error {
	ctx, w.cancel = context.WithCancel(ctx)
	stream, err := w.open(ctx)
	if err != nil {
		w.cancel()
		return err
	}
	go w.run(ctx, stream)
	return nil
}

// Err is the error that ended the loop, nil after Stop.
func (w *watchLoop[T]) Err() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.err
}

// Stop ends the loop and waits until its connection is closed.
func (w *watchLoop[T]) Stop() {
	w.cancel()
	<-w.done
}

// open starts a stream: from w.rv, or a listing when there is none.
func (w *watchLoop[T]) open(ctx context.Context) (*http.Response, error) {
	q := ListOptions{LabelSelector: w.opts.LabelSelector, FieldSelector: w.opts.FieldSelector}.query()
	q.Set("watch", "true")
	if w.rv != "" && w.rv != "0" {
		q.Set("resourceVersion", w.rv)
		w.listed = nil
	} else {
		w.listed = map[string]bool{}
	}
	return w.c.do(ctx, request{method: http.MethodGet, path: w.path, query: q, accept: "application/x-ndjson"})
}

// wireEvent is a watch event as it comes over the wire.
type wireEvent struct {
	Type   apis.EventType  `json:"type"`
	Object json.RawMessage `json:"object"`
}

// errRelist means the stream's version is too old: list again.
var errRelist = errors.New("resource version too old")

func (w *watchLoop[T]) run(ctx context.Context, stream *http.Response) {
	defer close(w.done)
	defer w.closed()
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
// objects seen at it.
func (w *watchLoop[T]) setRV(rv string) {
	if rv != w.rv || w.seenAtRV == nil {
		w.rv = rv
		w.seenAtRV = map[string]bool{}
	}
}

// consume reads one stream until it ends. It returns nil when the stream
// just ended (reconnect), errRelist on a 410 ERROR event, or the error of
// another ERROR event.
func (w *watchLoop[T]) consume(ctx context.Context, stream *http.Response) error {
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
			var end struct {
				Metadata apis.ObjectMeta `json:"metadata"`
			}
			if json.Unmarshal(ev.Object, &end) != nil || end.Metadata.ResourceVersion == "" {
				continue
			}
			if w.listed != nil {
				if end.Metadata.Annotations[apis.InitialEventsEndAnnotation] == "true" && !w.endListing(ctx, end.Metadata.ResourceVersion) {
					return nil
				}
				continue // a listing's objects come in no version order: no resume point yet
			}
			w.setRV(end.Metadata.ResourceVersion)
		case apis.Added, apis.Modified, apis.Deleted:
			obj := new(T)
			if err := json.Unmarshal(ev.Object, obj); err != nil {
				return fmt.Errorf("decode watch event: %w", err)
			}
			if w.meta(obj).Name == "" {
				return fmt.Errorf("decode watch event: %s without metadata.name", ev.Type)
			}
			typ, ok := w.change(ev.Type, obj)
			if ok && !w.deliver(ctx, typ, obj) {
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
func (w *watchLoop[T]) change(typ apis.EventType, obj *T) (apis.EventType, bool) {
	m := w.meta(obj)
	name := m.Name
	old := w.known[name]
	if w.listed != nil {
		// During a listing every event says what the object is now.
		if typ == apis.Deleted {
			delete(w.listed, name)
			if old == nil {
				return "", false
			}
			delete(w.known, name)
			return apis.Deleted, true
		}
		w.listed[name] = true
		w.known[name] = obj
		switch {
		case old == nil:
			return apis.Added, true
		case w.meta(old).ResourceVersion != m.ResourceVersion:
			return apis.Modified, true
		}
		return "", false
	}
	if m.ResourceVersion == w.rv && w.seenAtRV[name] {
		return "", false // sent again by a stream resumed from rv
	}
	if typ != apis.Deleted && old != nil && w.meta(old).ResourceVersion == m.ResourceVersion {
		return "", false // the listing this watch started from had it already
	}
	w.setRV(m.ResourceVersion)
	w.seenAtRV[name] = true
	if typ == apis.Deleted {
		delete(w.known, name)
	} else {
		w.known[name] = obj
	}
	return typ, true
}

// endListing reports the objects the listing did not show as deleted and
// resumes from the listing's version rv. It returns false when ctx ended.
func (w *watchLoop[T]) endListing(ctx context.Context, rv string) bool {
	for name, obj := range w.known {
		if w.listed[name] {
			continue
		}
		delete(w.known, name)
		if !w.deliver(ctx, apis.Deleted, obj) {
			return false
		}
	}
	w.listed = nil
	w.setRV(rv)
	if w.opts.Synced {
		end := new(T)
		w.meta(end).ResourceVersion = rv
		return w.deliver(ctx, Synced, end)
	}
	return true
}

func (w *watchLoop[T]) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.err = err
}
