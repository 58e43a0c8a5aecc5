package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime/debug"
	"strconv"
	"sync"
	"time"

	"github.com/labstack/echo/v4"
)

// A watch over HTTP/1.x outlives every part of net/http's request state
// but the socket: once its response headers are out, the server takes the
// connection over (Hijack) and streams on a goroutine of its own. That
// releases, per open watch, the connection's 4 KiB read and 4 KiB write
// buffers, the response's 2 KiB buffer, the request, echo's context and
// the stack of the goroutine that served the request — with thousands of
// watches open, most of a watch's memory (docs/benchmarks.md, (e)).
// HTTP/2, a request with a body and a ResponseWriter that cannot be taken
// over (a test recorder) stream through net/http as before.

// chunkBufSize is the capacity of a taken-over stream's write buffer: the
// events of one batch are sent in chunks of up to this size. A stream
// holds a buffer only while it writes (a pool shares them).
const chunkBufSize = 4 << 10

// chunkRoom is the room kept at the front of a write buffer for the chunk
// header (the size in hex and CRLF), filled in when the chunk is sent.
const chunkRoom = 18

// chunkTail is the room kept at the end of a write buffer for the CRLF
// that ends a chunk.
const chunkTail = 2

// chunkBufs shares write buffers between the streams writing at one time.
type chunkBufs struct{ pool sync.Pool }

func (p *chunkBufs) get() *[]byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return b
	}
	b := make([]byte, 0, chunkBufSize)
	return &b
}

func (p *chunkBufs) put(b *[]byte) {
	*b = (*b)[:0]
	p.pool.Put(b)
}

// streamConn writes a taken-over stream's body to its connection, in HTTP/1.1
// chunks (or plain for an HTTP/1.0 client, whose response ends when the
// connection closes, as net/http framed the headers). Writes are buffered
// until Flush; every write to the socket has the deadline last set.
// It is used by the stream's goroutine only.
type streamConn struct {
	conn     net.Conn
	bufs     *chunkBufs
	chunked  bool
	deadline time.Time
	buf      *[]byte // the chunk being built, after chunkRoom; nil while idle
	failed   bool    // a write failed: the connection is unusable
}

// SetWriteDeadline sets the deadline of the next writes to the socket.
func (c *streamConn) SetWriteDeadline(t time.Time) error {
	c.deadline = t
	return nil
}

// Write buffers p; a p larger than the buffer goes out as a chunk of its own.
func (c *streamConn) Write(p []byte) (int, error) {
	if c.failed {
		return 0, net.ErrClosed
	}
	if c.buf == nil {
		c.buf = c.bufs.get()
		*c.buf = (*c.buf)[:chunkRoom]
	}
	b := *c.buf
	if len(b)+len(p) > cap(b)-chunkTail {
		if err := c.Flush(); err != nil {
			return 0, err
		}
		if chunkRoom+len(p) > chunkBufSize-chunkTail {
			if err := c.send(nil, p); err != nil {
				return 0, err
			}
			return len(p), nil
		}
		c.buf = c.bufs.get()
		b = (*c.buf)[:chunkRoom]
	}
	*c.buf = append(b, p...)
	return len(p), nil
}

// Flush sends what is buffered and gives the buffer back to the pool.
func (c *streamConn) Flush() error {
	if c.buf == nil {
		return nil
	}
	b := c.buf
	c.buf = nil
	defer c.bufs.put(b)
	if len(*b) == chunkRoom {
		return nil
	}
	return c.send(*b, nil)
}

// send writes one chunk: the buffered b (chunkRoom bytes of room, then the
// data) or, when b is nil, p. It fills in the chunk's framing.
func (c *streamConn) send(b, p []byte) error {
	if c.failed {
		return net.ErrClosed
	}
	_ = c.conn.SetWriteDeadline(c.deadline)
	var err error
	switch {
	case b != nil && !c.chunked:
		_, err = c.conn.Write(b[chunkRoom:])
	case b != nil:
		size := len(b) - chunkRoom
		var hdr [chunkRoom]byte
		h := append(strconv.AppendUint(hdr[:0], uint64(size), 16), '\r', '\n')
		start := chunkRoom - len(h)
		copy(b[start:], h)
		_, err = c.conn.Write(append(b, '\r', '\n')[start:])
	case !c.chunked:
		_, err = c.conn.Write(p)
	default:
		hdr := append(strconv.AppendUint(make([]byte, 0, chunkRoom), uint64(len(p)), 16), '\r', '\n')
		bufs := net.Buffers{hdr, p, []byte("\r\n")}
		_, err = bufs.WriteTo(c.conn)
	}
	if err != nil {
		c.failed = true
	}
	return err
}

// close ends the response (the last chunk, if nothing failed) within
// timeout and closes the connection: a taken-over connection serves no
// further request.
func (c *streamConn) close(timeout time.Duration) {
	if !c.failed {
		c.deadline = time.Now().Add(timeout)
		if err := c.Flush(); err == nil && c.chunked {
			_ = c.conn.SetWriteDeadline(c.deadline)
			_, _ = io.WriteString(c.conn, "0\r\n\r\n")
		}
	}
	if c.buf != nil {
		c.bufs.put(c.buf)
		c.buf = nil
	}
	_ = c.conn.Close()
}

// responseDst is a stream written through net/http's response.
type responseDst struct {
	w  io.Writer
	rc *http.ResponseController
}

func (d responseDst) Write(p []byte) (int, error)        { return d.w.Write(p) }
func (d responseDst) Flush() error                       { return d.rc.Flush() }
func (d responseDst) SetWriteDeadline(t time.Time) error { return d.rc.SetWriteDeadline(t) }

// canTakeOver reports whether a watch request's connection can be taken
// over once its headers are sent: HTTP/1.x (HTTP/2 multiplexes streams on
// one connection) and no request body (whose unread rest would be left on
// the connection).
func canTakeOver(r *http.Request) bool {
	return r.ProtoMajor == 1 && r.Method == http.MethodGet &&
		r.ContentLength == 0 && len(r.TransferEncoding) == 0
}

// hijackable reports whether w, or a ResponseWriter it wraps, can hand
// its connection over.
func hijackable(w http.ResponseWriter) bool {
	for {
		if _, ok := w.(http.Hijacker); ok {
			return true
		}
		u, ok := w.(interface{ Unwrap() http.ResponseWriter })
		if !ok {
			return false
		}
		w = u.Unwrap()
	}
}

// takeOver takes ws's connection from net/http, after the response headers
// were flushed, and starts streaming on a goroutine of the server's; it
// reports false, with nothing changed, when the connection cannot be taken
// (ws then streams in the handler). The goroutine, and the one watching
// for the client to go, end with the stream; Close waits for them.
func (s *Server) takeOver(c echo.Context, ws *watchStream, kind string) bool {
	if !ws.takeOver {
		return false
	}
	// From here the request's context is not the stream's: net/http
	// cancels it when the handler returns.
	if !ws.stopReq() {
		return false // the client is gone: end in the handler, as before
	}
	ws.stopReq = func() bool { return true }
	conn, brw, err := http.NewResponseController(c.Response().Writer).Hijack()
	if err != nil {
		// Hijacked already, or a wrapper that says it can and cannot:
		// the client going away no longer cancels the stream, but its
		// writes still fail or time out.
		return false
	}
	sc := &streamConn{conn: conn, bufs: &s.chunkBufs, chunked: c.Request().ProtoAtLeast(1, 1)}
	// Bytes the client sent after its request (a pipelined request, which
	// a stream that never ends cannot answer) stop the watch for the
	// client's going, as net/http's own watch does.
	watchClient := brw.Reader.Buffered() == 0
	ws.out.dst, ws.conn = sc, sc
	if !s.trackStream(conn, watchClient) {
		ws.end() // Close has begun
		return true
	}
	if watchClient {
		go func() {
			defer s.untrackStream(nil)
			var b [1]byte
			if _, err := conn.Read(b[:]); err != nil {
				ws.cancel() // the client closed, or the stream ended
			}
		}()
	}
	go func() {
		defer s.untrackStream(conn)
		defer func() {
			if r := recover(); r != nil {
				s.log.Error("watch stream panicked", "panic", fmt.Sprint(r), "stack", string(debug.Stack()))
			}
		}()
		defer ws.end()
		ws.reason, ws.err = s.stream(ws.ctx, ws.w, ws.out, ws.fromRV, kind)
	}()
	return true
}

// trackStream counts a taken-over stream's goroutines (two when a
// goroutine watches for its client to go) and keeps its connection, so
// that Close can wait for them and close what has not ended in time. It
// reports false once Close has begun.
func (s *Server) trackStream(conn net.Conn, watchClient bool) bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return false
	}
	if s.takenOver == nil {
		s.takenOver = make(map[net.Conn]struct{})
	}
	s.takenOver[conn] = struct{}{}
	s.streamsDone.Add(1)
	if watchClient {
		s.streamsDone.Add(1)
	}
	return true
}

// untrackStream marks a goroutine of a taken-over stream ended; the
// stream's own goroutine passes its connection.
func (s *Server) untrackStream(conn net.Conn) {
	if conn != nil {
		s.mu.Lock()
		delete(s.takenOver, conn)
		s.mu.Unlock()
	}
	s.streamsDone.Done()
}

// waitTakenOver waits for the taken-over streams, which Close has
// cancelled, to send their last chunk and end; at ctx's end it closes
// their connections and waits for their goroutines.
func (s *Server) waitTakenOver(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.streamsDone.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
	}
	s.mu.Lock()
	for conn := range s.takenOver {
		_ = conn.Close()
	}
	s.mu.Unlock()
	<-done
	return errors.New("shutdown: watch streams did not end in time; their connections were closed")
}
