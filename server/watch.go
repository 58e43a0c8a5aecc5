package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
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

// watchRuns streams changes as NDJSON, or as Server-Sent Events when the
// client accepts text/event-stream. Without a resourceVersion (or with
// "0") the stream starts with every matching Run as ADDED, as kubectl get -w
// shows them; with one it resumes after it. An SSE client's Last-Event-ID
// (the resourceVersion of the last event it saw) resumes the same way.
func (s *Server) watchRuns(c echo.Context, p *listParams) error {
	req := c.Request()
	match := p.match
	fromRV := p.rv
	sse := strings.Contains(req.Header.Get(echo.HeaderAccept), MIMEEventStream)
	if id := req.Header.Get("Last-Event-ID"); sse && id != "" {
		var err error
		if fromRV, err = strconv.ParseUint(id, 10, 64); err != nil {
			return badRequest("header Last-Event-ID=%s: want a non-negative decimal number", quoteClip(id))
		}
	}

	// The stream ends when the client goes, or when Close ends streams.
	ctx, cancel := context.WithCancel(req.Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	if err := s.waitApplied(ctx, fromRV); err != nil {
		return err
	}
	var initial []apis.Run
	if fromRV == 0 {
		list, err := s.store.ListRuns(ctx, ListOptions{Match: match})
		if err != nil {
			return err
		}
		initial = list.Items
		if fromRV, err = strconv.ParseUint(list.Metadata.ResourceVersion, 10, 64); err != nil && list.Metadata.ResourceVersion != "" {
			return fmt.Errorf("list resourceVersion %q: %w", list.Metadata.ResourceVersion, err)
		}
	}
	w, err := s.store.Watch(ctx, fromRV, match)
	if err != nil && !errors.Is(err, apis.ErrGone) {
		return err
	}

	out := &eventWriter{c: c, sse: sse}
	out.start()
	if req.Method == http.MethodHead {
		if w != nil {
			w.Stop()
		}
		return nil // the headers are the whole answer
	}
	s.metrics.watches.Inc()
	defer s.metrics.watches.Dec()
	if err != nil {
		// Too old: like Kubernetes, a 200 stream holding one ERROR event.
		return out.send(apis.WatchEvent{Type: apis.Error, Object: toStatus(err, "")}, "")
	}
	defer w.Stop()

	lastRV := strconv.FormatUint(fromRV, 10)
	for i := range initial {
		// Only the last initial event carries an SSE id, the list's
		// version: resuming from an earlier item's own version would
		// replay changes the list already showed.
		id := ""
		if i == len(initial)-1 {
			id = lastRV
		}
		ev := apis.WatchEvent{Type: apis.Added, Object: typed(&initial[i])}
		if err := out.send(ev, id); err != nil {
			return nil
		}
	}
	ticker := time.NewTicker(s.cfg.BookmarkInterval)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			if err := out.send(bookmark(lastRV), lastRV); err != nil {
				return nil
			}
		case ev, ok := <-w.Events():
			if !ok {
				if werr := w.Err(); werr != nil && ctx.Err() == nil {
					_ = out.send(apis.WatchEvent{Type: apis.Error, Object: toStatus(werr, "")}, "")
				}
				return nil
			}
			rv := ""
			if r, ok := ev.Object.(*apis.Run); ok {
				ev = apis.WatchEvent{Type: ev.Type, Object: typed(r)}
				rv = r.Metadata.ResourceVersion
				lastRV = rv
			}
			if err := out.send(ev, rv); err != nil {
				return nil
			}
		}
	}
}

// bookmark tells the client every change up to rv has been sent, so it can
// resume from there without replaying the whole history.
func bookmark(rv string) apis.WatchEvent {
	return apis.WatchEvent{Type: apis.Bookmark, Object: &apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{ResourceVersion: rv},
	}}
}

// eventWriter frames watch events as NDJSON lines or SSE messages and
// flushes each one, so clients see changes as they happen.
type eventWriter struct {
	c   echo.Context
	sse bool
}

func (w *eventWriter) start() {
	h := w.c.Response().Header()
	if w.sse {
		h.Set(echo.HeaderContentType, MIMEEventStream)
	} else {
		h.Set(echo.HeaderContentType, MIMENDJSON)
	}
	h.Set("Cache-Control", "no-cache")
	h.Set("X-Accel-Buffering", "no")
	w.c.Response().WriteHeader(http.StatusOK)
	w.c.Response().Flush()
}

func (w *eventWriter) send(ev apis.WatchEvent, id string) error {
	b, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encode watch event: %w", err)
	}
	var frame []byte
	if w.sse {
		frame = fmt.Appendf(nil, "event: %s\n", ev.Type)
		if id != "" {
			frame = fmt.Appendf(frame, "id: %s\n", id)
		}
		frame = fmt.Appendf(frame, "data: %s\n\n", b)
	} else {
		frame = append(b, '\n')
	}
	if _, err := w.c.Response().Write(frame); err != nil {
		return err
	}
	w.c.Response().Flush()
	return nil
}
