package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"
)

// runLog serves GET /api/v1/runs/{name}/log?stream=stdout|stderr&follow=&tail=
// on the leader, which talks to Mesos. Output is streamed as text/plain and
// flushed as it arrives.
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
	ctx, cancel := context.WithCancel(c.Request().Context())
	defer cancel()
	stop := context.AfterFunc(s.streams, cancel)
	defer stop()

	run, err := s.store.GetRun(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	out := &logWriter{c: c}
	err = s.logs.CopyLog(ctx, run, LogOptions{Stream: stream, Follow: follow, Tail: tail}, out)
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

// logWriter sends the 200 and its headers on the first Write, so that a
// LogSource failing before it wrote anything still gets a Status answer,
// and flushes every Write to the client.
type logWriter struct {
	c       echo.Context
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
	n, err := w.c.Response().Write(p)
	w.c.Response().Flush()
	return n, err
}
