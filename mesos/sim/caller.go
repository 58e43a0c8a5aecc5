package sim

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"sync"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
)

// CallError is what the in-process Caller returns where the HTTP API would
// answer a non-2xx status.
type CallError struct {
	Code    int
	Message string
}

// Error implements error.
func (e *CallError) Error() string {
	return fmt.Sprintf("mesos-sim: %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// Caller returns an in-process calls.Caller (mesos-go's scheduler seam) that
// runs calls against m without HTTP: the same validation, status codes
// (as *CallError) and events, each event passed through a protobuf
// round-trip so the consumer gets its own copy. Like httpsched it remembers
// the Mesos-Stream-Id of its last SUBSCRIBE and sends it with other calls.
func (m *Master) Caller() calls.Caller { return &inProcCaller{m: m} }

type inProcCaller struct {
	m        *Master
	mu       sync.Mutex
	streamID string
}

var _ calls.Caller = (*inProcCaller)(nil)

// Call implements calls.Caller.
func (c *inProcCaller) Call(ctx context.Context, call *scheduler.Call) (mesos.Response, error) {
	// Round-trip the call, as the wire would, so the master owns its copy.
	b, err := call.Marshal()
	if err != nil {
		return nil, fmt.Errorf("encode call: %w", err)
	}
	own, err := decodeCall(mediaProtobuf, b)
	if err != nil {
		ce := err.(*callError)
		return nil, &CallError{ce.status, ce.msg}
	}
	c.m.mu.Lock()
	status, msg, loc := c.m.leadershipError("/api/v1/scheduler", "")
	c.m.mu.Unlock()
	if status != 0 {
		if loc != "" {
			msg = "redirect to " + loc
		}
		return nil, &CallError{status, msg}
	}
	if err := validateCall(own, ""); err != nil {
		return nil, &CallError{http.StatusBadRequest, "Failed to validate scheduler::Call: " + err.Error()}
	}
	if own.Type == scheduler.Call_SUBSCRIBE {
		s := c.m.openStream(own, false)
		c.mu.Lock()
		c.streamID = s.id
		c.mu.Unlock()
		sctx, cancel := context.WithCancel(ctx)
		return &inProcStream{m: c.m, s: s, ctx: sctx, cancel: cancel}, nil
	}
	c.mu.Lock()
	sid := c.streamID
	c.mu.Unlock()
	if ce := c.m.dispatch(own, "", sid, sid != ""); ce != nil && ce.status >= 300 {
		return nil, &CallError{ce.status, ce.msg}
	}
	return emptyResponse{}, nil
}

// inProcStream is the Response of an in-process SUBSCRIBE: Decode yields the
// stream's events; Close disconnects like a closed TCP connection.
type inProcStream struct {
	m      *Master
	s      *stream
	ctx    context.Context
	cancel context.CancelFunc
	buf    []*scheduler.Event
	once   sync.Once
}

// Decode implements encoding.Decoder; it returns io.EOF when the stream ends.
func (r *inProcStream) Decode(u encoding.Unmarshaler) error {
	for len(r.buf) == 0 {
		evs, ok := r.s.next(r.ctx)
		if !ok {
			r.Close()
			return io.EOF
		}
		r.buf = evs
	}
	e := r.buf[0]
	r.buf = r.buf[1:]
	b, err := e.Marshal()
	if err != nil {
		return fmt.Errorf("encode event: %w", err)
	}
	return u.Unmarshal(b)
}

// Close implements io.Closer.
func (r *inProcStream) Close() error {
	r.once.Do(func() {
		r.cancel()
		r.m.streamEnded(r.s)
	})
	return nil
}

type emptyResponse struct{}

func (emptyResponse) Decode(encoding.Unmarshaler) error { return io.EOF }
func (emptyResponse) Close() error                      { return nil }
