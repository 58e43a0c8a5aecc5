package server

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"time"

	"github.com/labstack/echo/v4"
)

// Defaults of the HTTP timeouts and limits (Config's zero values).
const (
	DefaultReadHeaderTimeout = 10 * time.Second
	DefaultBodyReadTimeout   = 10 * time.Second
	DefaultMinBodyRate       = 32 << 10 // bytes per second
	DefaultWriteTimeout      = time.Minute
	DefaultIdleTimeout       = 2 * time.Minute
	DefaultMaxHeaderBytes    = 64 << 10
)

// errBodyTooSlow is a request body that did not arrive at the minimum rate.
var errBodyTooSlow = errors.New("request body arrived too slowly")

// deadlines wraps the API with the per-request deadlines net/http has no
// setting for. http.Server.ReadTimeout would cut off a large body on a slow
// link, and without it a body sent a byte every few seconds holds its
// connection for ever; its WriteTimeout would cut every watch. So:
//   - a request body must arrive within Config.BodyReadTimeout plus one
//     second per Config.MinBodyRate bytes received: the read deadline moves
//     on as bytes arrive. A body too slow ends in 408 and the connection
//     closes. A handler that does not read the body leaves the first
//     deadline in place, which bounds net/http's draining of it.
//   - a response must be written within Config.WriteTimeout of the request;
//     a stream lifts the deadline with noWriteDeadline (or sets its own,
//     per event, with an http.ResponseController).
func (s *Server) deadlines(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rc := http.NewResponseController(w)
		start := time.Now()
		if s.cfg.WriteTimeout > 0 {
			// ErrNotSupported (a ResponseRecorder in tests) leaves the
			// response without a deadline.
			_ = rc.SetWriteDeadline(start.Add(s.cfg.WriteTimeout))
		}
		if r.Body != nil && r.Body != http.NoBody && s.cfg.BodyReadTimeout > 0 {
			b := &rateReader{body: r.Body, rc: rc, start: start, grace: s.cfg.BodyReadTimeout, rate: s.cfg.MinBodyRate}
			if err := rc.SetReadDeadline(b.deadline()); err == nil {
				r.Body = b
			}
		}
		next.ServeHTTP(w, r)
	})
}

// noWriteDeadline lifts the write deadline deadlines set, for a response
// that streams for as long as the client reads (a watch, a followed log).
func noWriteDeadline(c echo.Context) {
	_ = http.NewResponseController(c.Response()).SetWriteDeadline(time.Time{})
}

// streams reports whether r asks for a response that streams for as long
// as the client reads: a watch or a followed log. A follower relaying one
// from the leader lifts its write deadline as the leader does.
func streams(r *http.Request) bool {
	if r.URL.RawQuery == "" {
		return false // a write's request: no query to parse
	}
	q := r.URL.Query()
	for _, k := range []string{"watch", "follow"} {
		if v := q.Get(k); v != "" {
			if b, err := strconv.ParseBool(v); err == nil && b {
				return true
			}
		}
	}
	return false
}

// rateReader is a request body whose connection read deadline moves on as
// bytes arrive: start + grace + received/rate. At the end of the body it
// lifts the deadline, so that net/http's watch for the client going away,
// which reads the connection while the handler runs, does not time out and
// cancel the request.
type rateReader struct {
	body  io.ReadCloser
	rc    *http.ResponseController
	start time.Time
	grace time.Duration
	rate  int64 // bytes per second; 0: the whole body within grace
	n     int64
	done  bool
}

func (b *rateReader) deadline() time.Time {
	d := b.start.Add(b.grace)
	if b.rate > 0 {
		d = d.Add(time.Duration(float64(b.n) / float64(b.rate) * float64(time.Second)))
	}
	return d
}

func (b *rateReader) Read(p []byte) (int, error) {
	n, err := b.body.Read(p)
	b.n += int64(n)
	switch {
	case err == io.EOF:
		if !b.done {
			b.done = true
			_ = b.rc.SetReadDeadline(time.Time{})
		}
	case err != nil && errors.Is(err, os.ErrDeadlineExceeded):
		err = fmt.Errorf("%w: %d bytes in %v; a body must arrive within %v plus 1 s per %d bytes: %w",
			errBodyTooSlow, b.n, time.Since(b.start).Round(time.Millisecond), b.grace, b.rate, err)
	case n > 0 && b.rate > 0:
		_ = b.rc.SetReadDeadline(b.deadline())
	}
	return n, err
}

func (b *rateReader) Close() error { return b.body.Close() }
