package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/clock"
)

// fastConfig is a Config with test-sized intervals and one default agent.
func fastConfig() Config {
	return Config{
		MasterID:           "m1",
		Seed:               1,
		HeartbeatInterval:  time.Hour,
		AllocationInterval: 20 * time.Millisecond,
		Agents:             []AgentConfig{{Hostname: "127.0.0.1"}},
	}
}

// testMaster starts a Master on a loopback listener.
type testMaster struct {
	*Master
	url string
}

func startMaster(t *testing.T, cfg Config, opts ...Option) *testMaster {
	t.Helper()
	m, err := New(cfg, opts...)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, m.Start(ctx))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, m.Close())
		<-done
	})
	return &testMaster{Master: m, url: "http://" + l.Addr().String()}
}

// post sends one raw request to the scheduler endpoint.
func post(t *testing.T, url string, hdr map[string]string, body []byte) *http.Response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/api/v1/scheduler", bytes.NewReader(body))
	require.NoError(t, err)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	return resp
}

func readBody(t *testing.T, r *http.Response) string {
	t.Helper()
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	require.NoError(t, err)
	return string(b)
}

func marshalCall(t *testing.T, media string, c *scheduler.Call) []byte {
	t.Helper()
	if media == mediaJSON {
		b, err := json.Marshal(c)
		require.NoError(t, err)
		return b
	}
	b, err := c.Marshal()
	require.NoError(t, err)
	return b
}

func frameworkInfo(name string, caps ...mesos.FrameworkInfo_Capability_Type) *mesos.FrameworkInfo {
	fi := &mesos.FrameworkInfo{User: "tester", Name: name}
	for _, c := range caps {
		fi.Capabilities = append(fi.Capabilities, mesos.FrameworkInfo_Capability{Type: c})
	}
	return fi
}

// sub is a raw subscription: events decoded by a goroutine into a channel.
type sub struct {
	t        *testing.T
	url      string
	media    string
	resp     *http.Response
	streamID string
	fwID     string
	events   chan *scheduler.Event
	done     chan struct{}
	cancel   context.CancelFunc
	mu       sync.Mutex
	sizes    []int
}

func subscribe(t *testing.T, url, media string, fi *mesos.FrameworkInfo, suppressed ...string) *sub {
	t.Helper()
	c := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: fi, SuppressedRoles: suppressed}}
	if fi.ID != nil {
		c.FrameworkID = &mesos.FrameworkID{Value: fi.ID.Value}
	}
	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, url+"/api/v1/scheduler", bytes.NewReader(marshalCall(t, media, c)))
	require.NoError(t, err)
	req.Header.Set("Content-Type", media)
	req.Header.Set("Accept", media)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, resp.StatusCode)
	s := &sub{t: t, url: url, media: media, resp: resp, streamID: resp.Header.Get("Mesos-Stream-Id"),
		events: make(chan *scheduler.Event, 100000), done: make(chan struct{}), cancel: cancel}
	go s.pump()
	t.Cleanup(s.close)
	return s
}

func (s *sub) pump() {
	defer close(s.done)
	r := recordio.NewReader(s.resp.Body)
	for {
		b, err := r.ReadFrame()
		if err != nil {
			return
		}
		s.mu.Lock()
		s.sizes = append(s.sizes, len(b))
		s.mu.Unlock()
		var e scheduler.Event
		if s.media == mediaJSON {
			err = json.Unmarshal(b, &e)
		} else {
			err = e.Unmarshal(b)
		}
		if err != nil {
			s.t.Errorf("decode event: %v", err)
			return
		}
		s.events <- &e
	}
}

func (s *sub) close() {
	s.cancel()
	s.resp.Body.Close()
	<-s.done
}

// next returns the next event or fails after d.
func (s *sub) next(d time.Duration) *scheduler.Event {
	s.t.Helper()
	select {
	case e := <-s.events:
		return e
	case <-time.After(d):
		s.t.Fatalf("no event within %v", d)
		return nil
	}
}

// waitFor skips events until one matches.
func (s *sub) waitFor(d time.Duration, match func(*scheduler.Event) bool) *scheduler.Event {
	s.t.Helper()
	deadline := time.After(d)
	for {
		select {
		case e, ok := <-s.events:
			if !ok {
				s.t.Fatalf("stream ended")
			}
			if match(e) {
				return e
			}
		case <-deadline:
			s.t.Fatalf("no matching event within %v", d)
			return nil
		}
	}
}

// subscribed reads SUBSCRIBED and the first HEARTBEAT.
func (s *sub) subscribed() *scheduler.Event {
	s.t.Helper()
	e := s.next(5 * time.Second)
	require.Equal(s.t, scheduler.Event_SUBSCRIBED, e.Type, "event %v", e)
	s.fwID = e.Subscribed.FrameworkID.Value
	hb := s.next(5 * time.Second)
	require.Equal(s.t, scheduler.Event_HEARTBEAT, hb.Type)
	return e
}

func isType(t scheduler.Event_Type) func(*scheduler.Event) bool {
	return func(e *scheduler.Event) bool { return e.Type == t }
}

func (s *sub) offers(d time.Duration) []mesos.Offer {
	s.t.Helper()
	return s.waitFor(d, isType(scheduler.Event_OFFERS)).Offers.Offers
}

// update waits for an UPDATE of task id.
func (s *sub) update(d time.Duration, taskID string) mesos.TaskStatus {
	s.t.Helper()
	e := s.waitFor(d, func(e *scheduler.Event) bool {
		return e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == taskID
	})
	return e.Update.Status
}

// call sends a non-subscribe call on this subscription and returns the status.
func (s *sub) call(c *scheduler.Call) (int, string) {
	s.t.Helper()
	if c.FrameworkID == nil {
		c.FrameworkID = &mesos.FrameworkID{Value: s.fwID}
	}
	resp := post(s.t, s.url, map[string]string{"Content-Type": s.media, "Accept": s.media, "Mesos-Stream-Id": s.streamID}, marshalCall(s.t, s.media, c))
	return resp.StatusCode, readBody(s.t, resp)
}

func (s *sub) mustCall(c *scheduler.Call) {
	s.t.Helper()
	code, body := s.call(c)
	require.Equal(s.t, http.StatusAccepted, code, body)
}

func (s *sub) ack(st mesos.TaskStatus) {
	s.t.Helper()
	require.NotEmpty(s.t, st.UUID)
	s.mustCall(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: *st.AgentID, TaskID: st.TaskID, UUID: st.UUID}})
}

// ended reports whether the stream closed within d.
func (s *sub) ended(d time.Duration) bool {
	timeout := time.After(d)
	for {
		select {
		case <-s.done:
			return true
		case <-s.events:
		case <-timeout:
			return false
		}
	}
}

func scalar(name string, v float64) mesos.Resource {
	return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
}

// commandTask builds a shell command task for an offer.
func commandTask(id string, o mesos.Offer, cmd string, res ...mesos.Resource) mesos.TaskInfo {
	if len(res) == 0 {
		res = []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}
	}
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID, Resources: res,
		Command: &mesos.CommandInfo{Value: &cmd}}
}

func launch(o mesos.Offer, tasks ...mesos.TaskInfo) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{
		OfferIDs:   []mesos.OfferID{o.ID},
		Operations: []mesos.Offer_Operation{{Type: mesos.Offer_Operation_LAUNCH, Launch: &mesos.Offer_Operation_Launch{TaskInfos: tasks}}},
	}}
}

func simLabels(kv ...string) *mesos.Labels {
	ls := &mesos.Labels{}
	for i := 0; i+1 < len(kv); i += 2 {
		v := kv[i+1]
		ls.Labels = append(ls.Labels, mesos.Label{Key: kv[i], Value: &v})
	}
	return ls
}

func hasPrefix(s, p string) bool { return strings.HasPrefix(s, p) }

var barrierSeq int

// drain returns the events (heartbeats excluded) that precede a barrier: an
// explicit reconciliation of a task no one has, whose answer the master
// queues after everything already sent.
func (s *sub) drain() []*scheduler.Event {
	s.t.Helper()
	barrierSeq++
	id := "barrier-" + itoa(barrierSeq)
	s.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{
		Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: id}}}}})
	var out []*scheduler.Event
	for {
		e := s.next(5 * time.Second)
		if e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == id {
			return out
		}
		if e.Type != scheduler.Event_HEARTBEAT {
			out = append(out, e)
		}
	}
}

func ofType(evs []*scheduler.Event, t scheduler.Event_Type) []*scheduler.Event {
	var out []*scheduler.Event
	for _, e := range evs {
		if e.Type == t {
			out = append(out, e)
		}
	}
	return out
}

// manualMaster starts a master on a clock.Manual with 1 s allocations.
func manualMaster(t *testing.T, cfg Config) (*testMaster, *clock.Manual) {
	clk := clock.NewManual(time.Unix(1_700_000_000, 0))
	cfg.AllocationInterval = time.Second
	return startMaster(t, cfg, WithClock(clk)), clk
}

// subscribeRaw subscribes and returns the stream without reading events.
func subscribeWithID(t *testing.T, url, media string, fi *mesos.FrameworkInfo, id string) *sub {
	cp := *fi
	cp.ID = &mesos.FrameworkID{Value: id}
	return subscribe(t, url, media, &cp)
}

func withFailover(fi *mesos.FrameworkInfo, secs float64) *mesos.FrameworkInfo {
	fi.FailoverTimeout = &secs
	return fi
}

func decline(o mesos.Offer, refuse *float64) *scheduler.Call {
	d := &scheduler.Call_Decline{OfferIDs: []mesos.OfferID{o.ID}}
	if refuse != nil {
		d.Filters = &mesos.Filters{RefuseSeconds: refuse}
	}
	return &scheduler.Call{Type: scheduler.Call_DECLINE, Decline: d}
}

func f64(v float64) *float64 { return &v }

func stateOf(st mesos.TaskStatus) mesos.TaskState { return st.GetState() }

func netListen() (net.Listener, error) { return net.Listen("tcp", "127.0.0.1:0") }
