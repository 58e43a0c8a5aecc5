package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// errLeaderMoved is returned by the forwarding proxy when the node it
// reached answered that it is not the leader any more.
var errLeaderMoved = errors.New("leader moved")

// errBadLeaderAddr means the leader's advertised address is unusable;
// nothing was sent, and the next leader may advertise a better one.
var errBadLeaderAddr = errors.New("bad leader address")

// viaToken names this node in Via headers.
func (s *Server) viaToken() string { return "sprint-" + s.cfg.NodeID }

// sawUs reports whether a request already passed through this node: a
// forwarding loop, e.g. two nodes each believing the other leads.
func (s *Server) sawUs(h http.Header) bool {
	if s.cfg.NodeID == "" {
		return false
	}
	vias := h.Values("Via")
	if len(vias) == 0 {
		return false
	}
	me := s.viaToken()
	for _, v := range vias {
		for _, hop := range strings.Split(v, ",") {
			f := strings.Fields(hop)
			if len(f) >= 2 && f[1] == me {
				return true
			}
		}
	}
	return false
}

// leaderOnly runs a handler on the leader. On a follower it forwards the
// request, body buffered, to the leader. Across a leader change (no leader
// known, the leader refusing connections, or answering 503 Sprint-Not-Leader
// before doing anything) it retries with back-off for up to ForwardTimeout,
// long enough for a Raft election. It never retries once a write may have
// reached the leader: then the outcome is unknown and the client decides.
// A request that already passed through this node is refused with 508.
func (s *Server) leaderOnly(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		req := c.Request()
		body, err := s.readBody(c)
		if err != nil {
			return err
		}
		deadline := s.cfg.Now().Add(s.cfg.ForwardTimeout)
		// Jittered, so that the requests a follower holds during an
		// election do not all reach the new leader at once.
		retry := backoff.Retry{Policy: backoff.Policy{Initial: s.cfg.ForwardRetryWait, Max: maxForwardRetryWait, Jitter: 0.5}}
		wait := retry.Next()
		for attempt := 0; ; attempt++ {
			if attempt > 0 {
				if err := clock.Sleep(req.Context(), clock.Real{}, wait); err != nil {
					return err
				}
				wait = retry.Next()
				req.Body = newReplayBody(body)
			}
			retriesLeft := s.cfg.Now().Add(wait).Before(deadline)
			if s.store.IsLeader() {
				err := next(c)
				if err == nil || !errors.Is(err, apis.ErrNotLeader) || c.Response().Committed || !retriesLeft {
					return err
				}
				continue
			}
			id, addr := s.store.Leader()
			if id != "" && id == s.cfg.NodeID {
				// Raft still names us while we step down: no leader yet.
				addr = ""
			}
			if addr == "" {
				if !retriesLeft {
					s.metrics.forwarded.WithLabelValues("no_leader").Inc()
					return fmt.Errorf("%w is known: the cluster is electing one, retry shortly", ErrNoLeader)
				}
				continue
			}
			// Only a request about to leave can loop; a leader serves
			// whatever Via a client sent.
			if s.sawUs(req.Header) {
				s.metrics.forwarded.WithLabelValues("loop").Inc()
				return statusError(http.StatusLoopDetected, "LoopDetected",
					"forwarding loop: the request already passed through node %s (Via: %s); the cluster has no agreed leader yet, retry",
					s.cfg.NodeID, clip(strings.Join(req.Header.Values("Via"), ", ")))
			}
			err := s.forward(c, addr, body)
			if err == nil {
				s.metrics.forwarded.WithLabelValues("ok").Inc()
				return nil
			}
			if !safeToRetry(req.Method, err) {
				s.metrics.forwarded.WithLabelValues("failed").Inc()
				return fmt.Errorf("forward to leader %s: %v; the request may or may not have been applied: %w", addr, err, apis.ErrUnavailable)
			}
			if !retriesLeft {
				s.metrics.forwarded.WithLabelValues("failed").Inc()
				return fmt.Errorf("%w reachable: forward to leader %s: %v", ErrNoLeader, addr, err)
			}
			s.metrics.forwarded.WithLabelValues("retry").Inc()
			s.log.Debug("forward retry", "leader", addr, "attempt", attempt+1, "err", err)
		}
	}
}

// safeToRetry tells whether a failed forward can be sent again: reads
// always; writes only when the leader cannot have acted on them (the
// connection was never made, or it answered that it is not the leader).
func safeToRetry(method string, err error) bool {
	if method == http.MethodGet || method == http.MethodHead {
		return true
	}
	if errors.Is(err, errLeaderMoved) || errors.Is(err, errBadLeaderAddr) {
		return true
	}
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// leaderURL turns a leader's advertised HTTP address into a base URL.
func leaderURL(addr string) (*url.URL, error) {
	if !strings.Contains(addr, "://") {
		addr = "http://" + addr
	}
	u, err := url.Parse(addr)
	if err != nil {
		return nil, fmt.Errorf("%w %q: %w", errBadLeaderAddr, addr, err)
	}
	if u.Host == "" {
		return nil, fmt.Errorf("%w %q: no host", errBadLeaderAddr, addr)
	}
	return u, nil
}

// parsedLeader is a leader's address with its URL, as leaderTarget last
// parsed it; the URL is never modified.
type parsedLeader struct {
	addr string
	url  *url.URL
}

// leaderTarget is leaderURL(addr), parsed once per leader rather than
// once per forwarded request.
func (s *Server) leaderTarget(addr string) (*url.URL, error) {
	if p := s.lastLeader.Load(); p != nil && p.addr == addr {
		return p.url, nil
	}
	u, err := leaderURL(addr)
	if err != nil {
		return nil, err
	}
	s.lastLeader.Store(&parsedLeader{addr: addr, url: u})
	return u, nil
}

// forwardState is one forwarded request's part of the shared proxy's
// work, carried in the outgoing request's context.
type forwardState struct {
	target *url.URL
	body   []byte
	err    error // set by the proxy's ErrorHandler
}

type forwardKey struct{}

// newForwardProxy builds the one reverse proxy every forward goes
// through, so that requests to the leader reuse the transport's
// keep-alive connections and the proxy's copy buffers.
func (s *Server) newForwardProxy() *httputil.ReverseProxy {
	via := "1.1 " + s.viaToken()
	return &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			st := pr.In.Context().Value(forwardKey{}).(*forwardState)
			pr.SetURL(st.target)
			// Keep the hops before us, then add the client we saw.
			pr.Out.Header["X-Forwarded-For"] = pr.In.Header["X-Forwarded-For"]
			pr.SetXForwarded()
			pr.Out.Header.Add("Via", via)
			body := st.body
			pr.Out.Body = newReplayBody(body)
			pr.Out.ContentLength = int64(len(body))
			pr.Out.GetBody = func() (io.ReadCloser, error) { return newReplayBody(body), nil }
		},
		Transport: s.cfg.ForwardTransport,
		// 0: an answer of known length (a write's Run, a GET) goes out in
		// one piece when it is complete. An answer of unknown length (a
		// watch or a followed log) the proxy flushes after every write
		// anyway, so streams still pass through at once. With -1 every
		// forwarded write's answer was flushed twice: the headers by a
		// timer as soon as they came, then the body.
		FlushInterval: 0,
		BufferPool:    &proxyBuffers{},
		ModifyResponse: func(resp *http.Response) error {
			if resp.StatusCode == http.StatusServiceUnavailable && resp.Header.Get(HeaderNotLeader) != "" {
				_ = resp.Body.Close()
				return errLeaderMoved
			}
			return nil
		},
		ErrorHandler: func(_ http.ResponseWriter, r *http.Request, err error) {
			r.Context().Value(forwardKey{}).(*forwardState).err = err
		},
	}
}

// proxyBuffers lends the proxy its 32 KiB copy buffers.
type proxyBuffers struct{ pool sync.Pool }

func (p *proxyBuffers) Get() []byte {
	if b, ok := p.pool.Get().(*[]byte); ok {
		return *b
	}
	return make([]byte, 32<<10)
}

func (p *proxyBuffers) Put(b []byte) { p.pool.Put(&b) }

// forward proxies the request to the leader with path, query, headers
// (Authorization included) and body intact, adding Via and
// X-Forwarded-For. It returns nil once the leader's answer, whatever its
// status, has been relayed; an error means nothing was written and the
// request may be retried.
func (s *Server) forward(c echo.Context, addr string, body []byte) error {
	target, err := s.leaderTarget(addr)
	if err != nil {
		return err
	}
	if streams(c.Request()) {
		noWriteDeadline(c) // the leader's stream passes through
	}
	st := &forwardState{target: target, body: body}
	req := c.Request()
	s.proxy.ServeHTTP(c.Response(), req.WithContext(context.WithValue(req.Context(), forwardKey{}, st)))
	if st.err != nil && c.Response().Committed {
		// The answer was partly relayed (a stream broke): nothing to retry.
		return nil
	}
	return st.err
}
