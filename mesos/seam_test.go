package mesos

import (
	"context"
	"errors"
	"io"
	"sync"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/encoding"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// These tests plug the Scheduler in at mesos-go's calls.Caller seam, as
// the in-process simulator does: no HTTP, events from a channel.

// seamStream is a SUBSCRIBE response fed from a channel.
type seamStream struct {
	events chan *scheduler.Event
	closed chan struct{}
	once   sync.Once
}

func newSeamStream() *seamStream {
	return &seamStream{events: make(chan *scheduler.Event, 16), closed: make(chan struct{})}
}

func (s *seamStream) Decode(u encoding.Unmarshaler) error {
	select {
	case ev := <-s.events:
		b, err := ev.Marshal()
		if err != nil {
			return err
		}
		return u.Unmarshal(b)
	case <-s.closed:
		return io.EOF
	}
}

func (s *seamStream) Close() error {
	s.once.Do(func() { close(s.closed) })
	return nil
}

// seamCaller answers SUBSCRIBE with a new seamStream that starts with
// SUBSCRIBED, and records every call.
type seamCaller struct {
	mu        sync.Mutex
	calls     []*scheduler.Call
	streams   []*seamStream
	subscribe error // returned for SUBSCRIBE while set
}

func (c *seamCaller) caller() calls.Caller {
	return calls.CallerFunc(func(_ context.Context, call *scheduler.Call) (mesosproto.Response, error) {
		c.mu.Lock()
		defer c.mu.Unlock()
		c.calls = append(c.calls, call)
		if call.GetType() != scheduler.Call_SUBSCRIBE {
			return nil, nil
		}
		if c.subscribe != nil {
			return nil, c.subscribe
		}
		id := call.GetFrameworkID().GetValue()
		if id == "" {
			id = "fw-new"
		}
		st := newSeamStream()
		st.events <- &scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
			FrameworkID: &mesosproto.FrameworkID{Value: id},
		}}
		c.streams = append(c.streams, st)
		return st, nil
	})
}

func (c *seamCaller) subscribes() []*scheduler.Call {
	c.mu.Lock()
	defer c.mu.Unlock()
	var out []*scheduler.Call
	for _, call := range c.calls {
		if call.GetType() == scheduler.Call_SUBSCRIBE {
			out = append(out, call)
		}
	}
	return out
}

func (c *seamCaller) set(f func()) {
	c.mu.Lock()
	defer c.mu.Unlock()
	f()
}

// flakyStore fails reads and writes while told to, and logs writes.
type flakyStore struct {
	mu        sync.Mutex
	id        string
	failRead  error
	failWrite error
	log       *[]string
	logMu     *sync.Mutex
}

func (f *flakyStore) FrameworkID(context.Context) (string, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.id, f.failRead
}

func (f *flakyStore) SetFrameworkID(_ context.Context, id string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failWrite != nil {
		return f.failWrite
	}
	f.id = id
	f.logMu.Lock()
	*f.log = append(*f.log, "stored "+id)
	f.logMu.Unlock()
	return nil
}

func (f *flakyStore) set(fn func()) {
	f.mu.Lock()
	defer f.mu.Unlock()
	fn()
}

func TestSeam_StoreWriteFailureRetriesAsSameFramework(t *testing.T) {
	var mu sync.Mutex
	var order []string
	store := &flakyStore{failWrite: errors.New("raft: not leader"), log: &order, logMu: &mu}
	fc := &seamCaller{}
	s, err := NewWithCaller(testConfig("protobuf"), fc.caller(), store, testLogger(t))
	require.NoError(t, err)
	subscribed := make(chan struct{}, 1)
	h := HandlerFuncs{OnSubscribed: func(_ context.Context, id string, _ *mesosproto.MasterInfo) {
		mu.Lock()
		order = append(order, "subscribed "+id)
		mu.Unlock()
		subscribed <- struct{}{}
	}}
	runScheduler(t, s, h)

	// While the store refuses, no Subscribed is delivered and the client
	// keeps re-subscribing with the ID Mesos gave it, not as a new framework.
	require.Eventually(t, func() bool { return len(fc.subscribes()) >= 3 }, waitFor, time.Millisecond)
	mu.Lock()
	assert.Empty(t, order)
	mu.Unlock()
	assert.False(t, s.Connected())
	subs := fc.subscribes()
	assert.Nil(t, subs[0].FrameworkID)
	assert.Equal(t, "fw-new", subs[1].GetFrameworkID().GetValue())

	store.set(func() { store.failWrite = nil })
	// Connected turns true before the handler runs: wait for the handler.
	select {
	case <-subscribed:
	case <-time.After(waitFor):
		t.Fatal("no Subscribed delivered after the store accepted the write")
	}
	assert.True(t, s.Connected())
	mu.Lock()
	defer mu.Unlock()
	require.Len(t, order, 2)
	assert.Equal(t, []string{"stored fw-new", "subscribed fw-new"}, order, "stored before the handler hears of it")
}

func TestSeam_StoreReadFailureRetries(t *testing.T) {
	var mu sync.Mutex
	var log []string
	store := &flakyStore{id: "fw-1", failRead: errors.New("not ready"), log: &log, logMu: &mu}
	fc := &seamCaller{}
	s, err := NewWithCaller(testConfig("protobuf"), fc.caller(), store, testLogger(t))
	require.NoError(t, err)
	runScheduler(t, s, HandlerFuncs{})
	require.Never(t, func() bool { return len(fc.subscribes()) > 0 }, 50*time.Millisecond, time.Millisecond,
		"no SUBSCRIBE without knowing the stored id: it would register a second framework")
	store.set(func() { store.failRead = nil })
	require.Eventually(t, s.Connected, waitFor, time.Millisecond)
	assert.Equal(t, "fw-1", fc.subscribes()[0].GetFrameworkID().GetValue())
}

func TestSeam_SubscribeErrorRetries(t *testing.T) {
	fc := &seamCaller{subscribe: &StatusError{Code: 503, Message: "No leader elected"}}
	s, err := NewWithCaller(testConfig("protobuf"), fc.caller(), nil, testLogger(t))
	require.NoError(t, err)
	runScheduler(t, s, HandlerFuncs{})
	require.Eventually(t, func() bool { return len(fc.subscribes()) >= 3 }, waitFor, time.Millisecond)
	fc.set(func() { fc.subscribe = nil })
	require.Eventually(t, s.Connected, waitFor, time.Millisecond)
	assert.Equal(t, "fw-new", s.FrameworkID())
}

func TestSeam_CallsGoThroughCallerWithFrameworkID(t *testing.T) {
	fc := &seamCaller{}
	s, err := NewWithCaller(testConfig("protobuf"), fc.caller(), nil, testLogger(t))
	require.NoError(t, err)
	updates := make(chan mesosproto.TaskStatus, 1)
	runScheduler(t, s, HandlerFuncs{OnUpdate: func(_ context.Context, st mesosproto.TaskStatus) { updates <- st }})
	require.Eventually(t, s.Connected, waitFor, time.Millisecond)
	fc.mu.Lock()
	st := fc.streams[0]
	fc.mu.Unlock()
	st.events <- updateEvent("t-1", mesosproto.TASK_FINISHED, []byte("0123456789abcdef"))
	status := <-updates
	require.NoError(t, s.Acknowledge(context.Background(), status))
	fc.mu.Lock()
	last := fc.calls[len(fc.calls)-1]
	fc.mu.Unlock()
	assert.Equal(t, scheduler.Call_ACKNOWLEDGE, last.GetType())
	assert.Equal(t, "fw-new", last.GetFrameworkID().GetValue())
	assert.Equal(t, "t-1", last.GetAcknowledge().TaskID.Value)
}

func TestSeam_WatchdogBeforeSubscribed(t *testing.T) {
	// A master that accepts SUBSCRIBE but never sends SUBSCRIBED is
	// abandoned after cfg.Timeout.
	var mu sync.Mutex
	n := 0
	caller := calls.CallerFunc(func(context.Context, *scheduler.Call) (mesosproto.Response, error) {
		mu.Lock()
		n++
		mu.Unlock()
		return newSeamStream(), nil
	})
	cfg := testConfig("protobuf")
	cfg.Timeout = 30 * time.Millisecond
	s, err := NewWithCaller(cfg, caller, nil, testLogger(t))
	require.NoError(t, err)
	runScheduler(t, s, HandlerFuncs{})
	require.Eventually(t, func() bool { mu.Lock(); defer mu.Unlock(); return n >= 2 }, waitFor, time.Millisecond)
}
