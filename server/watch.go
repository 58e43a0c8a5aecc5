package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// Content types of watch streams.
const (
	MIMENDJSON      = "application/x-ndjson"
	MIMEEventStream = "text/event-stream"
)

// tooLargeRVWait is how long a watch from a resourceVersion this node has
// not applied yet waits for it, as Kubernetes' API server does: a client
// may have read the version from a node ahead of this one.
const tooLargeRVWait = 3 * time.Second

// waitApplied returns once this node has applied rv. After tooLargeRVWait
// it fails, rather than open a stream that could stay silent for ever: with
// a 400 when rv is beyond any change the cluster has committed (a typo, a
// version from another cluster), with a 504 Timeout when the cluster has
// it and this node is lagging (retry, as Kubernetes clients do).
func (s *Server) waitApplied(ctx context.Context, rv uint64) error {
	if rv == 0 || s.store.AppliedIndex() >= rv {
		return nil
	}
	deadline := time.NewTimer(tooLargeRVWait)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-deadline.C:
			applied, commit := s.store.AppliedIndex(), s.store.CommitIndex()
			if rv > commit {
				return badRequest("resourceVersion %d is newer than any change in this cluster (the latest is %d): list, and watch from the list's resourceVersion", rv, commit)
			}
			return statusError(http.StatusGatewayTimeout, "Timeout",
				"resourceVersion %d is not applied on this node yet (it has %d): retry", rv, applied)
		case <-tick.C:
			if s.store.AppliedIndex() >= rv {
				return nil
			}
		}
	}
}

// maxBatch is how many events a watch writes before it flushes and looks
// at its context and timers again.
const maxBatch = 256

// watchRuns streams changes as NDJSON, or as Server-Sent Events when the
// client accepts text/event-stream. Without a resourceVersion (or with
// "0") the stream starts with every matching Run as ADDED, as kubectl get -w
// shows them, ends that listing with a BOOKMARK annotated
// apis.InitialEventsEndAnnotation, and goes on with the changes; with one
// it resumes after it. An SSE client's Last-Event-ID (the resourceVersion
// of the last event it saw) resumes the same way.
//
// A stream costs no copy of the store: the listing is read in short
// transactions and written as it is read, and changes come from the
// store's shared history. A client that falls further behind than the
// store's watch buffer gets an ERROR event (410 Gone, "too slow") and its
// stream ends; one that does not take a write within the write timeout is
// disconnected.
func (s *Server) watchRuns(c echo.Context, p *listParams) error {
	return s.serveWatch(c, p.rv, apis.KindRun, func(ctx context.Context, fromRV uint64) (Watcher, error) {
		return s.store.Watch(ctx, WatchOptions{ResourceVersion: fromRV, List: fromRV == 0, Match: p.match})
	})
}

// serveWatch streams a watch of kind (Runs or Schedules) from rv, as
// watchRuns describes; open starts the store's watcher from the version
// the stream resumes after (rv, or an SSE client's Last-Event-ID).
//
// The setup is done in openWatch, and only this small frame stays below
// stream for the stream's life: a handler's stack is sized by its deepest
// moment, and the runtime halves it at a GC only when less than a quarter
// of it is in use. With the setup's locals off the stack a waiting watch
// fits in 8 KiB rather than 16 KiB — per open watch, with thousands open.
// Over HTTP/1.x the handler does not even stay: takeOver moves the stream
// to a goroutine of its own on the hijacked connection (watch_conn.go).
func (s *Server) serveWatch(c echo.Context, rv uint64, kind string, open func(ctx context.Context, fromRV uint64) (Watcher, error)) error {
	ws, err := s.openWatch(c, rv, open)
	if ws == nil {
		return err
	}
	if s.takeOver(c, ws, kind) {
		return nil // the stream goes on on the server's goroutine
	}
	defer ws.end()
	ws.reason, ws.err = s.stream(ws.ctx, ws.w, ws.out, ws.fromRV, kind)
	return nil
}

// watchStream is a watch between its setup and its end.
type watchStream struct {
	s   *Server
	ctx context.Context
	w   Watcher
	out *eventWriter
	// takeOver: the connection is to be taken over from net/http once
	// the headers are out; conn: it was.
	takeOver bool
	conn     *streamConn
	fromRV   uint64
	client   string
	// What undoes the setup: the stream's context (cancel), the request's
	// going away cancelling it (stopReq, until the connection is taken
	// over), its place among the client's watches (release).
	cancel  context.CancelFunc
	stopReq func() bool
	release func()
	// Why the server ended the stream ("" when the client or the
	// server's shutdown did), and the error behind it.
	reason string
	err    error
}

// openWatch checks the request, takes the watch's place among the
// client's, opens the store's watcher and sends the response headers. It
// returns nil (and the error to answer, if any) when the request ends
// here: refused, a HEAD, a client gone, or a resourceVersion too old
// (a 200 stream holding one ERROR event, as Kubernetes answers).
func (s *Server) openWatch(c echo.Context, rv uint64, open func(ctx context.Context, fromRV uint64) (Watcher, error)) (_ *watchStream, err error) {
	noWriteDeadline(c) // a stream: no deadline for the whole response
	req := c.Request()
	fromRV := rv
	sse := strings.Contains(req.Header.Get(echo.HeaderAccept), MIMEEventStream)
	if id := req.Header.Get("Last-Event-ID"); sse && id != "" {
		if fromRV, err = strconv.ParseUint(id, 10, 64); err != nil {
			return nil, badRequest("header Last-Event-ID=%s: want a non-negative decimal number", quoteClip(id))
		}
	}
	client := s.clientOf(c)
	release, err := s.limits.acquire(callWatch, client)
	if err != nil {
		return nil, err
	}
	// The stream ends when the client goes, or when Close ends streams.
	// Its context is not the request's, which net/http cancels when the
	// handler returns, and a taken-over stream outlives the handler.
	ctx, cancel := context.WithCancel(s.streams)
	ws := &watchStream{s: s, ctx: ctx, fromRV: fromRV, client: client, cancel: cancel, release: release}
	ws.stopReq = context.AfterFunc(req.Context(), cancel)
	opened := false
	defer func() {
		if !opened {
			ws.cleanup()
		}
	}()

	if err := s.waitApplied(ctx, fromRV); err != nil {
		return nil, err
	}
	w, err := open(ctx, fromRV)
	if err != nil && !errors.Is(err, apis.ErrGone) {
		return nil, err
	}
	// A stream whose connection will be taken over says so: the
	// connection ends with the stream (watch_conn.go).
	ws.takeOver = err == nil && canTakeOver(req) && hijackable(c.Response().Writer)
	if ws.takeOver {
		c.Response().Header().Set("Connection", "close")
	}
	rc := http.NewResponseController(c.Response().Writer)
	out := &eventWriter{dst: responseDst{w: c.Response(), rc: rc}, sse: sse, timeout: s.cfg.WatchWriteTimeout}
	if err := startStream(c, sse, rc, s.cfg.WatchWriteTimeout); err != nil {
		if w != nil {
			w.Stop()
		}
		return nil, nil // the client is gone
	}
	if req.Method == http.MethodHead {
		if w != nil {
			w.Stop()
		}
		return nil, nil // the headers are the whole answer
	}
	// A deadline left on the connection would fail the next request on it.
	defer func() {
		if !opened {
			_ = rc.SetWriteDeadline(time.Time{})
		}
	}()
	if err != nil {
		// Too old: like Kubernetes, a 200 stream holding one ERROR event.
		s.metrics.watches.Inc()
		_ = out.sendError(err)
		s.metrics.watches.Dec()
		return nil, nil
	}
	s.metrics.watches.Inc()
	ws.w, ws.out = w, out
	opened = true
	return ws, nil
}

// end stops the store's watcher, records why the server ended the stream
// and undoes openWatch's setup.
func (ws *watchStream) end() {
	s := ws.s
	if ws.reason != "" {
		s.metrics.watchesClosed.WithLabelValues(ws.reason).Inc()
		s.log.Info("watch closed", "client", clientLabel(ws.client), "reason", ws.reason, "err", ws.err)
	}
	ws.w.Stop()
	s.metrics.watches.Dec()
	if ws.conn != nil {
		ws.conn.close(s.cfg.WatchWriteTimeout)
	} else {
		_ = ws.out.dst.SetWriteDeadline(time.Time{})
	}
	ws.cleanup()
}

// cleanup undoes openWatch's setup.
func (ws *watchStream) cleanup() {
	ws.stopReq()
	ws.cancel()
	ws.release()
}

// Reasons a watch is closed by the server, as logged and counted.
const (
	closedTooSlow      = "too_slow"      // fell further behind than the buffer
	closedWriteTimeout = "write_timeout" // a write blocked longer than the write timeout
	closedError        = "error"         // the store ended the watch (snapshot, closing)
)

// stream writes w's events to out until the client goes, the server
// closes, or the watch fails. It returns why the server ended it ("" when
// the client or the server's shutdown did).
func (s *Server) stream(ctx context.Context, w Watcher, out *eventWriter, fromRV uint64, kind string) (string, error) {
	listing := fromRV == 0 // until the listing's end BOOKMARK
	lastRV := fromRV
	ticker := time.NewTicker(s.cfg.BookmarkInterval)
	defer ticker.Stop()
	for {
		ready := w.Ready()
		n := 0
		for ; n < maxBatch; n++ {
			ev, ok, err := w.Next()
			if err != nil {
				if ctx.Err() != nil {
					return "", nil
				}
				reason := closedError
				if errors.Is(err, apis.ErrTooSlow) {
					reason = closedTooSlow
				}
				if werr := out.sendError(err); werr != nil {
					return closedWriteTimeout, werr
				}
				return reason, err
			}
			if !ok {
				break
			}
			// Only events in resourceVersion order carry an SSE id: a
			// client resuming from a listing's Run would miss changes.
			id := ""
			if ev.Type == apis.Bookmark {
				listing = false
			}
			if !listing {
				lastRV = ev.ResourceVersion
				if out.sse {
					id = strconv.FormatUint(lastRV, 10)
				}
			}
			if err := out.write(ev.Type, ev.Object, id); err != nil {
				return out.failure(err)
			}
		}
		if n > 0 {
			if err := out.flush(); err != nil {
				return out.failure(err)
			}
		}
		if n == maxBatch && ctx.Err() == nil {
			continue
		}
		select {
		case <-ctx.Done():
			return "", nil
		case <-ready:
		case <-ticker.C:
			if listing {
				continue // the listing's own BOOKMARK comes at its end
			}
			rv := strconv.FormatUint(lastRV, 10)
			if err := out.sendJSON(bookmark(rv, kind), rv); err != nil {
				return out.failure(err)
			}
		}
	}
}

// bookmark tells the client every change up to rv has been sent, so it can
// resume from there without replaying the whole history.
func bookmark(rv, kind string) apis.WatchEvent {
	tm := apis.TypeMeta{APIVersion: apis.APIVersion, Kind: kind}
	meta := apis.ObjectMeta{ResourceVersion: rv}
	if kind == apis.KindSchedule {
		return apis.WatchEvent{Type: apis.Bookmark, Object: &apis.Schedule{TypeMeta: tm, Metadata: meta}}
	}
	return apis.WatchEvent{Type: apis.Bookmark, Object: &apis.Run{TypeMeta: tm, Metadata: meta}}
}

// eventWriter frames watch events as NDJSON lines or SSE messages. Every
// write must go through within timeout: a client that stops reading fills
// the socket's buffers, the write blocks, and the deadline ends it.
type eventWriter struct {
	dst     streamDst
	sse     bool
	timeout time.Duration
	scratch []byte // an event's envelope
}

// streamDst is where a stream's events go: net/http's response, or the
// connection once taken over (streamConn).
type streamDst interface {
	Write(p []byte) (int, error)
	Flush() error
	SetWriteDeadline(t time.Time) error
}

// startStream sends a stream's response headers. Like every write of the
// stream, they must go out within timeout.
func startStream(c echo.Context, sse bool, rc *http.ResponseController, timeout time.Duration) error {
	h := c.Response().Header()
	if sse {
		h.Set(echo.HeaderContentType, MIMEEventStream)
	} else {
		h.Set(echo.HeaderContentType, MIMENDJSON)
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	c.Response().WriteHeader(http.StatusOK)
	_ = rc.SetWriteDeadline(time.Now().Add(timeout))
	return rc.Flush()
}

// deadline bounds the next write. Writers that cannot have one (a test
// recorder) just have none.
func (w *eventWriter) deadline() {
	_ = w.dst.SetWriteDeadline(time.Now().Add(w.timeout))
}

// write buffers one event whose object is already encoded (and shared
// with other watches: the envelope is all that is made per watch).
func (w *eventWriter) write(typ apis.EventType, object []byte, id string) error {
	w.deadline()
	b := w.scratch[:0]
	if w.sse {
		b = append(append(append(b, "event: "...), typ...), '\n')
		if id != "" {
			b = append(append(append(b, "id: "...), id...), '\n')
		}
		b = append(b, "data: "...)
	}
	b = append(append(append(b, `{"type":"`...), typ...), `","object":`...)
	w.scratch = b
	r := w.dst
	if _, err := r.Write(b); err != nil {
		return err
	}
	if _, err := r.Write(object); err != nil {
		return err
	}
	end := []byte("}\n\n")
	if !w.sse {
		end = end[:2]
	}
	_, err := r.Write(end)
	return err
}

func (w *eventWriter) flush() error {
	w.deadline()
	return w.dst.Flush()
}

// sendJSON writes and flushes an event built here (a BOOKMARK or ERROR).
func (w *eventWriter) sendJSON(ev apis.WatchEvent, id string) error {
	b, err := json.Marshal(ev.Object)
	if err != nil {
		return fmt.Errorf("encode watch event: %w", err)
	}
	if err := w.write(ev.Type, b, id); err != nil {
		return err
	}
	return w.flush()
}

// sendError ends a stream with an ERROR event holding err's Status.
func (w *eventWriter) sendError(err error) error {
	return w.sendJSON(apis.WatchEvent{Type: apis.Error, Object: toStatus(err, "")}, "")
}

// failure tells why a write failed: the client did not take it within the
// timeout, or it went away (or the server is closing). A failed write
// also cancels the request's context, so the deadline is looked at first.
func (w *eventWriter) failure(err error) (string, error) {
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return closedWriteTimeout, fmt.Errorf("a write to the client blocked for %v: %w", w.timeout, err)
	}
	return "", nil
}
