package mesos

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/require"
)

// fakeMaster speaks just enough of the v1 scheduler API for the client's
// tests: SUBSCRIBE as a chunked RecordIO stream (protobuf or JSON, by
// Content-Type), Mesos-Stream-Id checks on other calls, 202s, heartbeats,
// redirects and injected failures. Events are mesos-go's own types and
// encoders.
type fakeMaster struct {
	t   testing.TB
	srv *httptest.Server

	mu              sync.Mutex
	calls           []recordedCall
	hits            int
	streams         []*fakeStream
	nextFramework   int
	heartbeat       time.Duration // advertised interval
	sendHeartbeats  bool
	subscribeFails  int // answer this many SUBSCRIBEs with 503
	noStreamID      int // open this many streams without Mesos-Stream-Id
	wrongType       int // open this many streams with the other codec's Content-Type
	callStatus      map[scheduler.Call_Type]int
	removed         map[string]bool
	redirectTo      string // host:port; when set every request gets a 307
	anyStream       bool   // accept calls with any stream id (a new leader in tests)
	closeOnTeardown bool
}

type recordedCall struct {
	call        scheduler.Call
	streamID    string
	contentType string
	user, pass  string
}

type fakeStream struct {
	id          string
	frameworkID string
	events      chan *scheduler.Event
	cut         chan struct{}
	cutOnce     sync.Once
}

func (s *fakeStream) close() { s.cutOnce.Do(func() { close(s.cut) }) }

func newFakeMaster(t testing.TB) *fakeMaster {
	t.Helper()
	m := &fakeMaster{
		t:               t,
		heartbeat:       15 * time.Second,
		callStatus:      map[scheduler.Call_Type]int{},
		removed:         map[string]bool{},
		closeOnTeardown: true,
	}
	m.srv = httptest.NewServer(http.HandlerFunc(m.serve))
	t.Cleanup(func() {
		m.mu.Lock()
		for _, s := range m.streams {
			s.close()
		}
		m.mu.Unlock()
		m.srv.Close()
	})
	return m
}

func (m *fakeMaster) url() string  { return m.srv.URL }
func (m *fakeMaster) host() string { u, _ := url.Parse(m.srv.URL); return u.Host }

func (m *fakeMaster) serve(w http.ResponseWriter, r *http.Request) {
	m.mu.Lock()
	m.hits++
	redirect := m.redirectTo
	m.mu.Unlock()
	if redirect != "" {
		// Mesos' form: scheme-relative, with the original path.
		w.Header().Set("Location", "//"+redirect+r.URL.Path)
		w.WriteHeader(http.StatusTemporaryRedirect)
		return
	}
	if r.Method != http.MethodPost || r.URL.Path != schedulerPath {
		http.Error(w, "not found", http.StatusNotFound)
		return
	}
	ct := r.Header.Get("Content-Type")
	body, err := io.ReadAll(r.Body)
	require.NoError(m.t, err)
	var call scheduler.Call
	switch ct {
	case "application/x-protobuf":
		err = call.Unmarshal(body)
	case "application/json":
		err = json.Unmarshal(body, &call)
	default:
		http.Error(w, "Expecting 'Content-Type' of application/json or application/x-protobuf", http.StatusUnsupportedMediaType)
		return
	}
	if err != nil {
		http.Error(w, "Failed to parse body: "+err.Error(), http.StatusBadRequest)
		return
	}
	user, pass, _ := r.BasicAuth()
	m.mu.Lock()
	m.calls = append(m.calls, recordedCall{call: call, streamID: r.Header.Get(headerStreamID), contentType: ct, user: user, pass: pass})
	m.mu.Unlock()
	if call.GetType() == scheduler.Call_SUBSCRIBE {
		m.subscribe(w, r, &call, ct)
		return
	}
	m.mu.Lock()
	status := m.callStatus[call.GetType()]
	var current *fakeStream
	if n := len(m.streams); n > 0 {
		current = m.streams[n-1]
	}
	anyStream := m.anyStream
	m.mu.Unlock()
	switch {
	case status != 0:
		http.Error(w, "injected failure", status)
	case r.Header.Get(headerStreamID) == "":
		http.Error(w, "All non-subscribe calls should include the 'Mesos-Stream-Id' header", http.StatusBadRequest)
	case !anyStream && (current == nil || current.id != r.Header.Get(headerStreamID)):
		http.Error(w, "The stream ID didn't match", http.StatusBadRequest)
	case call.GetFrameworkID().GetValue() == "":
		http.Error(w, "Expecting 'framework_id' to be present", http.StatusBadRequest)
	default:
		w.WriteHeader(http.StatusAccepted)
		if call.GetType() == scheduler.Call_TEARDOWN && current != nil && m.closeOnTeardown {
			current.close()
		}
	}
}

func (m *fakeMaster) subscribe(w http.ResponseWriter, r *http.Request, call *scheduler.Call, ct string) {
	m.mu.Lock()
	if m.subscribeFails > 0 {
		m.subscribeFails--
		m.mu.Unlock()
		http.Error(w, "Master has not finished recovery", http.StatusServiceUnavailable)
		return
	}
	id := call.GetFrameworkID().GetValue()
	removed := m.removed[id]
	if id == "" {
		id = fmt.Sprintf("master-1-%04d", m.nextFramework)
		m.nextFramework++
	}
	s := &fakeStream{
		id:          fmt.Sprintf("stream-%d", len(m.streams)),
		frameworkID: id,
		events:      make(chan *scheduler.Event, 64),
		cut:         make(chan struct{}),
	}
	m.streams = append(m.streams, s)
	interval := m.heartbeat
	beats := m.sendHeartbeats
	header, contentType := s.id, ct
	if m.noStreamID > 0 {
		m.noStreamID--
		header = ""
	} else if m.wrongType > 0 {
		m.wrongType--
		contentType = map[string]string{"application/json": "application/x-protobuf", "application/x-protobuf": "application/json"}[ct]
	}
	m.mu.Unlock()

	w.Header().Set("Content-Type", contentType)
	if header != "" {
		w.Header().Set(headerStreamID, header)
	}
	w.WriteHeader(http.StatusOK)
	flusher := w.(http.Flusher)
	flusher.Flush()
	write := func(ev *scheduler.Event) bool {
		var b []byte
		var err error
		if ct == "application/json" {
			b, err = json.Marshal(ev)
		} else {
			b, err = ev.Marshal()
		}
		require.NoError(m.t, err)
		if _, err := fmt.Fprintf(w, "%d\n%s", len(b), b); err != nil {
			return false
		}
		flusher.Flush()
		return true
	}
	if removed {
		write(&scheduler.Event{Type: scheduler.Event_ERROR, Error: &scheduler.Event_Error{Message: "Framework has been removed"}})
		return
	}
	secs := interval.Seconds()
	write(&scheduler.Event{Type: scheduler.Event_SUBSCRIBED, Subscribed: &scheduler.Event_Subscribed{
		FrameworkID:              &mesosproto.FrameworkID{Value: id},
		HeartbeatIntervalSeconds: &secs,
		MasterInfo:               &mesosproto.MasterInfo{ID: "master-1", IP: 0, Port: ptr(uint32(5050)), Hostname: ptr("master-1")},
	}})
	write(&scheduler.Event{Type: scheduler.Event_HEARTBEAT})
	var tick <-chan time.Time
	if beats {
		t := time.NewTicker(interval)
		defer t.Stop()
		tick = t.C
	}
	for {
		select {
		case <-r.Context().Done():
			return
		case <-s.cut:
			return
		case <-tick:
			if !write(&scheduler.Event{Type: scheduler.Event_HEARTBEAT}) {
				return
			}
		case ev := <-s.events:
			if !write(ev) {
				return
			}
		}
	}
}

// stream returns the i-th stream opened, waiting for it.
func (m *fakeMaster) stream(i int) *fakeStream {
	m.t.Helper()
	var s *fakeStream
	require.Eventually(m.t, func() bool {
		m.mu.Lock()
		defer m.mu.Unlock()
		if len(m.streams) > i {
			s = m.streams[i]
			return true
		}
		return false
	}, 10*time.Second, 5*time.Millisecond, "stream %d never opened", i)
	return s
}

// callsOf returns the recorded calls of type typ.
func (m *fakeMaster) callsOf(typ scheduler.Call_Type) []recordedCall {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []recordedCall
	for _, c := range m.calls {
		if c.call.GetType() == typ {
			out = append(out, c)
		}
	}
	return out
}

func (m *fakeMaster) set(f func(m *fakeMaster)) {
	m.mu.Lock()
	defer m.mu.Unlock()
	f(m)
}

func (m *fakeMaster) hitCount() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.hits
}

// recorder is a Handler that records events for assertions.
type recorder struct {
	mu     sync.Mutex
	events []string
	subs   []string
	update []mesosproto.TaskStatus
	errs   []error
	// onSubscribed runs inside Subscribed, e.g. to read the id store.
	onSubscribed func(id string)
}

func (r *recorder) add(s string) {
	r.mu.Lock()
	r.events = append(r.events, s)
	r.mu.Unlock()
}

func (r *recorder) Subscribed(_ context.Context, id string, _ *mesosproto.MasterInfo) {
	if r.onSubscribed != nil {
		r.onSubscribed(id)
	}
	r.mu.Lock()
	r.subs = append(r.subs, id)
	r.mu.Unlock()
	r.add("subscribed " + id)
}

func (r *recorder) Offers(_ context.Context, offers []mesosproto.Offer) {
	ids := make([]string, len(offers))
	for i, o := range offers {
		ids[i] = o.ID.Value
	}
	r.add("offers " + strings.Join(ids, ","))
}

func (r *recorder) Rescind(_ context.Context, id mesosproto.OfferID) { r.add("rescind " + id.Value) }

func (r *recorder) Update(_ context.Context, st mesosproto.TaskStatus) {
	r.mu.Lock()
	r.update = append(r.update, st)
	r.mu.Unlock()
	r.add("update " + st.TaskID.Value + " " + st.GetState().String())
}

func (r *recorder) Failure(_ context.Context, agentID, executorID string, _ *int32) {
	r.add("failure " + agentID + " " + executorID)
}

func (r *recorder) Error(_ context.Context, msg string) { r.add("error " + msg) }

func (r *recorder) Disconnected(_ context.Context, err error) {
	r.mu.Lock()
	r.errs = append(r.errs, err)
	r.mu.Unlock()
	r.add("disconnected")
}

func (r *recorder) has(event string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.events {
		if e == event {
			return true
		}
	}
	return false
}

func (r *recorder) count(prefix string) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, e := range r.events {
		if strings.HasPrefix(e, prefix) {
			n++
		}
	}
	return n
}

func (r *recorder) snapshot() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.events...)
}
