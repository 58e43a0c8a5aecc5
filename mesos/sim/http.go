package sim

import (
	"errors"
	"io"
	"net/http"
	"strconv"
	"time"

	"github.com/mesos/mesos-go/api/v1/lib/recordio"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

const maxCallBytes = 16 << 20

// Handler serves the scheduler API, /master/state, the agents' /files/read
// and the /sim/v1/ fault controls.
func (m *Master) Handler() http.Handler {
	mux := http.NewServeMux()
	ro, rw := m.cfg.AuthenticateHTTPReadOnly, m.cfg.AuthenticateHTTPReadWrite
	// The scheduler endpoint authenticates itself: it needs the principal.
	mux.HandleFunc("/api/v1/scheduler", m.serveScheduler)
	mux.HandleFunc("/master/state", m.guard(ro, realmMasterReadOnly, m.serveState))
	mux.HandleFunc("/master/state.json", m.guard(ro, realmMasterReadOnly, m.serveState))
	// /state and /files/read are what clients ask an agent (at its URL).
	mux.HandleFunc("/state", m.guard(ro, realmAgentReadOnly, m.serveState))
	mux.HandleFunc("/files/read", m.guard(ro, realmAgentReadOnly, m.serveFilesRead))
	mux.HandleFunc("/files/read.json", m.guard(ro, realmAgentReadOnly, m.serveFilesRead))
	// As in Mesos, /redirect and /health need no credentials.
	mux.HandleFunc("/master/redirect", m.serveRedirect)
	mux.HandleFunc("/redirect", m.serveRedirect)
	mux.HandleFunc("/health", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusOK) })
	mux.HandleFunc("/sim/v1/", m.guard(rw, realmMasterReadWrite, m.serveFaults))
	return mux
}

// plainError writes a Mesos-style error: text/plain with Content-Length.
func plainError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Content-Length", strconv.Itoa(len(msg)))
	w.WriteHeader(status)
	_, _ = io.WriteString(w, msg)
}

// leadershipError is check 2-3 of §1.1. Caller holds mu.
func (m *Master) leadershipError(path, rawQuery string) (status int, msg, location string) {
	switch {
	case m.leader.standbyOf != "":
		loc := "//" + m.leader.standbyOf + path
		if rawQuery != "" {
			loc += "?" + rawQuery
		}
		return http.StatusTemporaryRedirect, "", loc
	case m.leader.noLeader:
		return http.StatusServiceUnavailable, "No leader elected", ""
	case m.clk.Now().Before(m.leader.recoveringUntil):
		return http.StatusServiceUnavailable, "Master has not finished recovery", ""
	}
	return 0, "", ""
}

// serveRedirect is Mesos' /master/redirect: 307 to //<leader host:port>,
// 503 when no leader is known.
func (m *Master) serveRedirect(w http.ResponseWriter, _ *http.Request) {
	m.mu.Lock()
	leader := m.leader.standbyOf
	if leader == "" && !m.leader.noLeader {
		host, port := m.hostPort()
		leader = host + ":" + strconv.Itoa(port)
	}
	m.mu.Unlock()
	if leader == "" {
		plainError(w, http.StatusServiceUnavailable, "No leader elected")
		return
	}
	w.Header().Set("Location", "//"+leader)
	w.WriteHeader(http.StatusTemporaryRedirect)
}

// serveScheduler is POST /api/v1/scheduler with the checks of §1.1 in order.
func (m *Master) serveScheduler(w http.ResponseWriter, r *http.Request) {
	// libprocess authenticates before the handler runs: even a standby
	// master answers 401 first.
	principal, ok := m.authenticateFramework(r)
	if !ok {
		unauthorized(w, realmScheduler)
		return
	}
	m.mu.Lock()
	status, msg, loc := m.leadershipError(r.URL.Path, r.URL.RawQuery)
	m.mu.Unlock()
	if status == http.StatusTemporaryRedirect {
		w.Header().Set("Location", loc)
		w.WriteHeader(status)
		return
	}
	if status != 0 {
		plainError(w, status, msg)
		return
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		plainError(w, http.StatusMethodNotAllowed, "Expecting one of { 'POST' }, but received '"+r.Method+"'")
		return
	}
	ct := r.Header.Get("Content-Type")
	if len(r.Header.Values("Content-Type")) == 0 {
		plainError(w, http.StatusBadRequest, "Expecting 'Content-Type' to be present")
		return
	}
	if ct != mediaProtobuf && ct != mediaJSON {
		plainError(w, http.StatusUnsupportedMediaType, "Expecting 'Content-Type' of application/json or application/x-protobuf")
		return
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxCallBytes))
	if err != nil {
		plainError(w, http.StatusBadRequest, "Failed to read body: "+err.Error())
		return
	}
	call, err := decodeCall(ct, body)
	if err != nil {
		var ce *callError
		if errors.As(err, &ce) {
			plainError(w, ce.status, ce.msg)
			return
		}
		plainError(w, http.StatusBadRequest, err.Error())
		return
	}
	if err := validateCall(call, principal); err != nil {
		plainError(w, http.StatusBadRequest, "Failed to validate scheduler::Call: "+err.Error())
		return
	}
	var media string
	if call.Type == scheduler.Call_SUBSCRIBE || call.Type == scheduler.Call_RECONCILE_OPERATIONS {
		media, err = responseMediaType(r.Header.Values("Accept"))
		if err != nil {
			plainError(w, http.StatusNotAcceptable, err.Error())
			return
		}
	}
	streamID, hasStreamID := "", len(r.Header.Values("Mesos-Stream-Id")) > 0
	if hasStreamID {
		streamID = r.Header.Get("Mesos-Stream-Id")
	}
	if call.Type == scheduler.Call_SUBSCRIBE {
		if hasStreamID {
			plainError(w, http.StatusBadRequest, "Subscribe calls should not include the 'Mesos-Stream-Id' header")
			return
		}
		if fi := call.Subscribe.FrameworkInfo; principal != "" && fi.Principal == nil {
			// As Mesos: an authenticated framework that names no principal
			// gets the authenticated one.
			m.log.Warn("setting FrameworkInfo.principal to the principal the framework authenticated with", "principal", principal)
			fi.Principal = &principal
		}
		m.serveSubscription(w, r, call, media)
		return
	}
	if ce := m.dispatch(call, principal, streamID, hasStreamID); ce != nil {
		if ce.status < 300 {
			w.WriteHeader(ce.status)
			return
		}
		plainError(w, ce.status, ce.msg)
		return
	}
	w.WriteHeader(http.StatusAccepted)
}

// serveSubscription answers 200 at once, then pumps the stream's events as
// RecordIO records, one flush per record, until it ends or the client goes.
func (m *Master) serveSubscription(w http.ResponseWriter, r *http.Request, call *scheduler.Call, media string) {
	s := m.openStream(call, true)
	flusher, _ := w.(http.Flusher)
	h := w.Header()
	h.Set("Content-Type", media)
	h.Set("Mesos-Stream-Id", s.id)
	h.Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	if flusher != nil {
		flusher.Flush()
	}
	defer m.wg.Done() // Add in openStream
	defer m.streamEnded(s)
	rw := recordio.NewWriter(w)
	rc := http.NewResponseController(w)
	for {
		evs, ok := s.next(r.Context())
		if !ok {
			return
		}
		// A client that stops reading for a minute is treated as gone, so
		// one stuck connection cannot block the master's shutdown.
		_ = rc.SetWriteDeadline(time.Now().Add(time.Minute))
		for _, e := range evs {
			b, err := encodeEvent(media, e)
			if err != nil {
				m.log.Error("encode event", "err", err)
				return
			}
			if err := rw.WriteFrame(b); err != nil {
				return
			}
			if flusher != nil {
				flusher.Flush()
			}
		}
	}
}

// openStream creates a stream and runs the SUBSCRIBE on it. With counted,
// the stream's consumer is counted in m.wg (under mu, so never after
// Close's Wait began) and calls m.wg.Done when it stops.
func (m *Master) openStream(call *scheduler.Call, counted bool) *stream {
	if m.observe != nil {
		m.observe(call)
	}
	m.lock()
	defer m.unlock()
	if counted {
		m.wg.Add(1)
	}
	s := newStream(m.newUUIDString())
	if m.closed {
		s.finish()
		return s
	}
	m.streams[s] = true
	m.subscribe(call.Subscribe, s)
	return s
}

// dispatch runs a non-SUBSCRIBE call (checks of §1.1 step 10). A nil result
// means 202 Accepted; a callError with status 200 means 200 with no body.
func (m *Master) dispatch(c *scheduler.Call, principal, streamID string, hasStreamID bool) *callError {
	m.lock()
	defer m.unlock()
	if m.closed {
		return &callError{http.StatusServiceUnavailable, "Master is shutting down"}
	}
	if status, msg, _ := m.leadershipError("", ""); status != 0 {
		return &callError{status, msg}
	}
	fw := m.frameworks[c.FrameworkID.Value]
	if fw == nil {
		return &callError{http.StatusBadRequest, "Framework cannot be found"}
	}
	if principal != "" && fw.info.GetPrincipal() != principal {
		return &callError{http.StatusBadRequest, "Authenticated principal '" + principal + "' does not match principal '" + fw.info.GetPrincipal() + "' set in `FrameworkInfo`"}
	}
	if fw.stream == nil {
		return &callError{http.StatusForbidden, "Framework is not subscribed"}
	}
	if !hasStreamID {
		return &callError{http.StatusBadRequest, "All non-subscribe calls should include the 'Mesos-Stream-Id' header"}
	}
	if streamID != fw.stream.id {
		return &callError{http.StatusBadRequest, "The stream ID '" + streamID + "' included in this request didn't match the stream ID currently associated with framework ID " + fw.id}
	}
	if m.observe != nil {
		m.observe(c) // under mu: observed in the order the master processes calls
	}
	switch c.Type {
	case scheduler.Call_TEARDOWN:
		m.removeFramework(fw)
	case scheduler.Call_ACCEPT:
		m.accept(fw, c.Accept)
	case scheduler.Call_DECLINE:
		m.decline(fw, c.Decline)
	case scheduler.Call_ACCEPT_INVERSE_OFFERS, scheduler.Call_DECLINE_INVERSE_OFFERS, scheduler.Call_REQUEST:
		// No maintenance schedules; the allocator ignores requests.
	case scheduler.Call_REVIVE:
		var roles []string
		if c.Revive != nil {
			roles = c.Revive.Roles
		}
		m.revive(fw, roles)
	case scheduler.Call_SUPPRESS:
		var roles []string
		if c.Suppress != nil {
			roles = c.Suppress.Roles
		}
		m.suppress(fw, roles)
	case scheduler.Call_KILL:
		m.kill(fw, c.Kill)
	case scheduler.Call_SHUTDOWN:
		m.shutdownExecutor(fw, c.Shutdown)
	case scheduler.Call_ACKNOWLEDGE:
		m.acknowledge(fw, c.Acknowledge)
	case scheduler.Call_ACKNOWLEDGE_OPERATION_STATUS:
		// No operation feedback is simulated.
	case scheduler.Call_RECONCILE:
		m.reconcile(fw, c.Reconcile.Tasks)
	case scheduler.Call_RECONCILE_OPERATIONS:
		m.reconcileOperations(fw, c.ReconcileOperations)
	case scheduler.Call_MESSAGE:
		m.message(fw, c.Message)
	case scheduler.Call_UPDATE_FRAMEWORK:
		if err := m.updateFramework(fw, c.UpdateFramework); err != nil {
			return &callError{http.StatusBadRequest, err.Error()}
		}
		return &callError{http.StatusOK, ""}
	default:
		return &callError{http.StatusNotImplemented, "Unsupported call type"}
	}
	return nil
}
