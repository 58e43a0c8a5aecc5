package server

import (
	"context"
	"errors"
	"io"
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
	rc, err := s.logs.OpenLog(ctx, run, LogOptions{Stream: stream, Follow: follow, Tail: tail})
	if err != nil {
		return err
	}
	defer func() { _ = rc.Close() }()

	resp := c.Response()
	resp.Header().Set(echo.HeaderContentType, echo.MIMETextPlainCharsetUTF8)
	resp.Header().Set("Cache-Control", "no-cache")
	resp.Header().Set("X-Accel-Buffering", "no")
	resp.WriteHeader(http.StatusOK)
	resp.Flush()
	buf := make([]byte, 32<<10)
	for {
		n, rerr := rc.Read(buf)
		if n > 0 {
			if _, werr := resp.Write(buf[:n]); werr != nil {
				return nil
			}
			resp.Flush()
		}
		if rerr != nil {
			if !errors.Is(rerr, io.EOF) && ctx.Err() == nil {
				s.log.Warn("read task log", "run", run.Metadata.Name, "err", rerr)
			}
			return nil
		}
	}
}
