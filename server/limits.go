package server

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// Defaults of the limits on expensive calls (Config's zero values).
const (
	// DefaultMaxWatches bounds the watch streams a node serves at once.
	// A watch costs a goroutine, a connection's buffers and a cursor into
	// the shared history: some tens of KiB, so 10,000 fit in a few hundred
	// MiB.
	DefaultMaxWatches = 10000
	// DefaultMaxClientWatches bounds one client's watch streams, so that
	// one client (a bearer token, or an address without authentication)
	// cannot take every slot.
	DefaultMaxClientWatches = 1000
	// DefaultMaxClientLists bounds one client's unpaginated lists in
	// flight: each reads and encodes every matching Run.
	DefaultMaxClientLists = 4
	// retryAfterSeconds is what a 429 asks clients to wait: the calls it
	// limits end (a list) or are given up (a watch) all the time.
	retryAfterSeconds = 1
)

// limiter counts the expensive calls in flight, server-wide and per
// client, and refuses those beyond the limits with 429 Too Many Requests.
// Only clients with something in flight have an entry, so its size is
// bounded by the limits themselves.
type limiter struct {
	maxWatches, maxClientWatches, maxClientLists int // <0: no limit

	mu      sync.Mutex
	watches int
	clients map[string]*clientUse
}

type clientUse struct{ watches, lists int }

func newLimiter(maxWatches, maxClientWatches, maxClientLists int) *limiter {
	return &limiter{
		maxWatches: maxWatches, maxClientWatches: maxClientWatches, maxClientLists: maxClientLists,
		clients: map[string]*clientUse{},
	}
}

// callKind is what a limit counts.
type callKind int

const (
	callWatch callKind = iota
	callList
)

// acquire admits one call of kind for client, or returns a 429 Status
// (with retryAfterSeconds) saying which limit it hit. release must be
// called once the call ends.
func (l *limiter) acquire(kind callKind, client string) (release func(), err error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	use := l.clients[client]
	if use == nil {
		use = &clientUse{}
	}
	switch kind {
	case callWatch:
		if l.maxWatches >= 0 && l.watches >= l.maxWatches {
			return nil, tooMany("this server has %d watches open, its limit (--max-watches)", l.watches)
		}
		if l.maxClientWatches >= 0 && use.watches >= l.maxClientWatches {
			return nil, tooMany("this client (%s) has %d watches open, its limit (--max-client-watches)", clientLabel(client), use.watches)
		}
		l.watches++
		use.watches++
	case callList:
		if l.maxClientLists >= 0 && use.lists >= l.maxClientLists {
			return nil, tooMany("this client (%s) has %d lists without limit in flight, its limit (--max-client-lists); page with limit= and continue=, or wait", clientLabel(client), use.lists)
		}
		use.lists++
	}
	l.clients[client] = use
	var once sync.Once
	return func() { once.Do(func() { l.release(kind, client) }) }, nil
}

func (l *limiter) release(kind callKind, client string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	use := l.clients[client]
	if use == nil {
		return
	}
	switch kind {
	case callWatch:
		l.watches--
		use.watches--
	case callList:
		use.lists--
	}
	if use.watches == 0 && use.lists == 0 {
		delete(l.clients, client)
	}
}

func tooMany(format string, args ...any) *apis.Status {
	st := statusError(http.StatusTooManyRequests, apis.ReasonTooMany, "too many requests: "+format+": retry after %ds",
		append(args, retryAfterSeconds)...)
	st.Details = &apis.StatusDetails{RetryAfterSeconds: retryAfterSeconds}
	return st
}

// clientOf names the client a request counts against: its bearer token
// when the server checks tokens (the middleware has accepted it by now),
// else its remote address. Tokens are kept as a digest, never as given.
// Lists and watches are served where they arrive, never forwarded, so the
// remote address is the client's (or its proxy's).
func (s *Server) clientOf(c echo.Context) string {
	r := c.Request()
	if !s.tokens.empty() {
		if scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " "); ok && strings.EqualFold(scheme, "Bearer") {
			d := sha256.Sum256([]byte(strings.TrimSpace(token)))
			return "token:" + hex.EncodeToString(d[:8])
		}
	}
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	return "addr:" + host
}

// clientLabel is how a 429 names the client: the address, or "token
// <digest prefix>", which tells tokens apart without revealing them.
func clientLabel(client string) string {
	if d, ok := strings.CutPrefix(client, "token:"); ok {
		return fmt.Sprintf("bearer token sha256:%s", d)
	}
	return strings.TrimPrefix(client, "addr:")
}
