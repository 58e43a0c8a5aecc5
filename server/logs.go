package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/labstack/echo/v4"
)

// runLog serves GET /api/v1/runs/{name}/log?stream=stdout|stderr&follow=&tail=
// on the leader, which talks to Mesos. Output is streamed as text/plain and
// flushed as it arrives. HEAD answers what GET would (404 for a missing Run
// or log, 200 with the headers) after reading at most the log's first
// chunk, and never follows.
func (s *Server) runLog(c echo.Context) error {
	stream := c.QueryParam("stream")
	switch stream {
	case "":
		stream = "stdout"
	case "stdout", "stderr":
	default:
		return badRequest("stream=%q: want stdout or stderr", stream)
	}
	follow, err := queryBool(c, "follow")
	if err != nil {
		return err
	}
	tail, err := queryInt(c, "tail")
	if err != nil {
		return err
	}
	if s.logs == nil {
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "this server cannot read task logs")
	}
	head := c.Request().Method == http.MethodHead
	if follow && !head {
		noWriteDeadline(c) // a stream: no deadline for the whole response
	}
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	run, err := s.store.GetRun(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	out := &logWriter{c: c, head: head}
	err = s.logs.CopyLog(ctx, run, LogOptions{Stream: stream, Follow: follow && !head, Tail: tail}, out)
	if errors.Is(err, errHeadAnswered) {
		err = nil
	}
	switch {
	case !out.started && err != nil:
		return err
	case !out.started:
		out.start() // an empty log is a 200 with no body
	case err != nil && ctx.Err() == nil:
		s.log.Warn("copy task log", "run", run.Metadata.Name, "err", err)
	}
	return nil
}

// errHeadAnswered stops copying a log once a HEAD request has its answer.
var errHeadAnswered = errors.New("HEAD answered")

// logWriter sends the 200 and its headers on the first Write, so that a
// LogSource failing before it wrote anything still gets a Status answer,
// and flushes every Write to the client. For HEAD, the first Write sends
// the headers and stops the copy.
type logWriter struct {
	c       echo.Context
	head    bool
	started bool
}

func (w *logWriter) start() {
	w.started = true
	resp := w.c.Response()
	resp.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	resp.Header().Set("Cache-Control", "no-cache")
	resp.Header().Set("X-Accel-Buffering", "no")
	resp.WriteHeader(http.StatusOK)
}

func (w *logWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.start()
	}
	if w.head {
		w.c.Response().Flush()
		return 0, errHeadAnswered
	}
	n, err := w.c.Response().Write(p)
	w.c.Response().Flush()
	return n, err
}
