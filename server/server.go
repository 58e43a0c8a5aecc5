package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httputil"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/ui"
)

// Defaults of Config's zero values.
const (
	DefaultMaxBodyBytes     = 1 << 20
	DefaultMaxYAMLBodyBytes = 512 << 10
	DefaultBookmarkInterval = 30 * time.Second
	DefaultForwardTimeout   = 10 * time.Second
	DefaultForwardRetryWait = 100 * time.Millisecond
	maxForwardRetryWait     = time.Second
	DefaultShutdownTimeout  = 10 * time.Second
	// DefaultWatchWriteTimeout is how long a write to a watch's client may
	// block (the client stopped reading and the socket is full) before the
	// watch is closed.
	DefaultWatchWriteTimeout = 10 * time.Second
)

// Config configures a Server. The zero value serves plain HTTP without
// authentication, as suits a loopback listener.
type Config struct {
	// NodeID names this node in Via headers, so that a forwarding loop is
	// detected. Required when the node is part of a cluster.
	NodeID string
	// Version is reported by GET /version and /status.
	Version string
	// Tokens are the accepted bearer tokens; empty disables
	// authentication. Load them with LoadTokens.
	Tokens []string
	// TLSCertFile and TLSKeyFile, when both set, make Serve speak TLS.
	TLSCertFile string
	TLSKeyFile  string
	// Registry gathers the metrics served at /metrics; the server
	// registers its own HTTP metrics in it. Pass the registry the
	// controller and store register theirs in. Nil makes a private one.
	Registry *prometheus.Registry
	// MaxBodyBytes caps request bodies (413 beyond); 0 means 1 MiB.
	MaxBodyBytes int64
	// BookmarkInterval is how often a watch stream gets a BOOKMARK event;
	// 0 means 30 s.
	BookmarkInterval time.Duration
	// ForwardTransport carries requests forwarded to the leader; nil means
	// NewForwardTransport(). Set its TLSClientConfig when the cluster's
	// nodes serve TLS with a private CA.
	ForwardTransport http.RoundTripper
	// ForwardTimeout bounds how long a request waits out a leader change
	// (no leader known, leader unreachable, or it just stepped down),
	// retrying while nothing can have been written; 0 means 10 s, which
	// covers a Raft election with room to spare; negative means no retry.
	ForwardTimeout time.Duration
	// ForwardRetryWait is the first pause between those retries, doubled
	// after each up to 1 s; 0 means 100 ms.
	ForwardRetryWait time.Duration
	// ShutdownTimeout bounds Close's wait for in-flight requests; 0 means 10 s.
	ShutdownTimeout time.Duration
	// WatchWriteTimeout bounds each write to a watch's client; 0 means
	// 10 s.
	WatchWriteTimeout time.Duration
	// MaxWatches bounds the watch streams served at once (429 beyond);
	// MaxClientWatches the streams of one client (a bearer token, or a
	// remote address without authentication); MaxClientLists one
	// client's lists without a limit in flight. 0 means the default,
	// negative no limit.
	MaxWatches       int
	MaxClientWatches int
	MaxClientLists   int

	// MaxYAMLBodyBytes caps YAML request bodies (413 beyond, saying to
	// send JSON); 0 means 512 KiB. YAML costs go-yaml up to ~100 bytes of
	// memory per byte of input, so a YAML body gets half the JSON limit to
	// stay within the same decoding budget.
	MaxYAMLBodyBytes int64
	// MaxConcurrentDecodes bounds how many request bodies are decoded at
	// once; 0 means GOMAXPROCS (at least 2).
	MaxConcurrentDecodes int

	// ReadHeaderTimeout bounds reading a request's headers (and a TLS
	// handshake); 0 means 10 s.
	ReadHeaderTimeout time.Duration
	// BodyReadTimeout and MinBodyRate bound reading a request body: it
	// must arrive within BodyReadTimeout plus one second per MinBodyRate
	// bytes (408 otherwise). 0 means 10 s and 32 KiB/s; a negative
	// BodyReadTimeout disables the bound, a negative MinBodyRate gives the
	// whole body BodyReadTimeout.
	BodyReadTimeout time.Duration
	MinBodyRate     int64
	// WriteTimeout bounds writing a non-streaming response, from the start
	// of the request; 0 means 1 minute, negative disables it. Watches and
	// followed logs are not bound by it.
	WriteTimeout time.Duration
	// IdleTimeout closes a kept-alive connection with no request for this
	// long; 0 means 2 minutes.
	IdleTimeout time.Duration
	// MaxHeaderBytes caps a request's header block (431 beyond); 0 means
	// 64 KiB.
	MaxHeaderBytes int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Policy is the admission policy every create path applies (native
	// and Sprint API); nil means apis.DefaultPolicy(). It is this node's:
	// writes are served by the leader, so the leader's policy is the one in
	// force.
	Policy *apis.Policy
	// Mesos reports the Mesos connection and agents at
	// GET /api/v1/cluster/mesos; nil answers 503 there.
	Mesos MesosSource
	// Schedules serves /api/v1/schedules; nil answers 404 there.
	Schedules ScheduleStore
}

// orDefault is d for 0, 0 (none) for a negative duration, else v.
func orDefault(v, d time.Duration) time.Duration {
	switch {
	case v == 0:
		return d
	case v < 0:
		return 0
	}
	return v
}

func (c *Config) setDefaults() {
	if c.MaxBodyBytes <= 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.BookmarkInterval <= 0 {
		c.BookmarkInterval = DefaultBookmarkInterval
	}
	if c.ForwardTransport == nil {
		c.ForwardTransport = NewForwardTransport()
	}
	if c.ForwardTimeout == 0 {
		c.ForwardTimeout = DefaultForwardTimeout
	} else if c.ForwardTimeout < 0 {
		c.ForwardTimeout = 0
	}
	if c.ForwardRetryWait <= 0 {
		c.ForwardRetryWait = DefaultForwardRetryWait
	}
	if c.ShutdownTimeout <= 0 {
		c.ShutdownTimeout = DefaultShutdownTimeout
	}
	if c.WatchWriteTimeout <= 0 {
		c.WatchWriteTimeout = DefaultWatchWriteTimeout
	}
	for _, l := range []struct {
		v   *int
		def int
	}{{&c.MaxWatches, DefaultMaxWatches}, {&c.MaxClientWatches, DefaultMaxClientWatches}, {&c.MaxClientLists, DefaultMaxClientLists}} {
		if *l.v == 0 {
			*l.v = l.def
		}
	}
	if c.MaxYAMLBodyBytes <= 0 {
		c.MaxYAMLBodyBytes = DefaultMaxYAMLBodyBytes
	}
	if c.MaxConcurrentDecodes <= 0 {
		c.MaxConcurrentDecodes = max(2, runtime.GOMAXPROCS(0))
	}
	c.ReadHeaderTimeout = orDefault(c.ReadHeaderTimeout, DefaultReadHeaderTimeout)
	c.BodyReadTimeout = orDefault(c.BodyReadTimeout, DefaultBodyReadTimeout)
	c.WriteTimeout = orDefault(c.WriteTimeout, DefaultWriteTimeout)
	c.IdleTimeout = orDefault(c.IdleTimeout, DefaultIdleTimeout)
	switch {
	case c.MinBodyRate == 0:
		c.MinBodyRate = DefaultMinBodyRate
	case c.MinBodyRate < 0:
		c.MinBodyRate = 0
	}
	if c.MaxHeaderBytes <= 0 {
		c.MaxHeaderBytes = DefaultMaxHeaderBytes
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

// maxForwardIdleConns is how many idle keep-alive connections a node
// keeps to the leader: one per concurrent forwarded request it had, up to
// this many, so that a burst of writes through a follower does not open
// (and then close) a connection per request, as the 2 of
// http.DefaultTransport would.
const maxForwardIdleConns = 512

// NewForwardTransport is the default Config.ForwardTransport:
// http.DefaultTransport's settings, with enough idle connections per host
// for every request forwarded at once to reuse one.
func NewForwardTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	t.MaxIdleConns = maxForwardIdleConns
	t.MaxIdleConnsPerHost = maxForwardIdleConns
	return t
}

// policy is the admission policy in Config, copied so that the caller's
// slices are not shared.
func (c *Config) policy() apis.Policy {
	if c.Policy == nil {
		return apis.DefaultPolicy()
	}
	p := *c.Policy
	p.AllowedHostPaths = slices.Clone(p.AllowedHostPaths)
	p.AllowedURISchemes = slices.Clone(p.AllowedURISchemes)
	return p
}

// Server serves sprint's HTTP API over a Store. Create it with New, serve
// with Serve (or mount Handler), stop with Close.
type Server struct {
	cfg     Config
	store   Store
	logs    LogSource
	log     *slog.Logger
	echo    *echo.Echo
	handler http.Handler // echo within deadlines
	metrics *metrics
	tokens  *tokenSet
	policy  apis.Policy // read-only after New
	console *ui.Handler
	limits  *limiter
	proxy   *httputil.ReverseProxy
	// lastLeader is the leader address forwards last went to, parsed
	// (forward.go).
	lastLeader atomic.Pointer[parsedLeader]

	// streams is cancelled by Close so that watches and followed logs,
	// which never go idle, end before the graceful shutdown waits.
	// decodeSlots bounds concurrent body decodes (see decode).
	decodeSlots chan struct{}

	streams      context.Context
	stopStreams  context.CancelFunc
	mu           sync.Mutex // guards servers, closed and takenOver
	servers      []*http.Server
	closed       bool
	shutdownOnce sync.Once

	// Watch streams taken over from net/http (watch_conn.go): their
	// connections, the goroutines Close waits for, their write buffers.
	takenOver   map[net.Conn]struct{}
	streamsDone sync.WaitGroup
	chunkBufs   chunkBufs
}

// New builds a Server. logs may be nil, in which case log requests get 503.
func New(cfg Config, store Store, logs LogSource, logger *slog.Logger) (*Server, error) {
	if store == nil {
		return nil, errors.New("server: nil store")
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	if (cfg.TLSCertFile == "") != (cfg.TLSKeyFile == "") {
		return nil, errors.New("server: TLS needs both a certificate and a key file")
	}
	cfg.setDefaults()
	m, err := newMetrics(cfg.Registry)
	if err != nil {
		return nil, fmt.Errorf("register metrics: %w", err)
	}
	console, err := ui.New()
	if err != nil {
		return nil, err
	}
	s := &Server{
		console: console,
		cfg:     cfg,
		store:   store,
		logs:    logs,
		log:     logger.With("component", "server"),
		metrics: m,
		tokens:  newTokenSet(cfg.Tokens),
		policy:  cfg.policy(),
		limits:  newLimiter(cfg.MaxWatches, cfg.MaxClientWatches, cfg.MaxClientLists),

		decodeSlots: make(chan struct{}, cfg.MaxConcurrentDecodes),
	}
	s.streams, s.stopStreams = context.WithCancel(context.Background())
	s.proxy = s.newForwardProxy()
	s.echo = s.newEcho()
	s.handler = s.deadlines(s.echo)
	return s, nil
}

// Handler returns the HTTP handler serving every route, with the
// per-request body and write deadlines.
func (s *Server) Handler() http.Handler { return s.handler }

// Serve accepts connections on ln until ctx ends or Close is called, then
// shuts down gracefully. It speaks TLS when Config has a certificate.
// It returns nil after a graceful shutdown.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.handler,
		ReadHeaderTimeout: s.cfg.ReadHeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		MaxHeaderBytes:    s.cfg.MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	if s.cfg.TLSCertFile != "" {
		hs.TLSConfig = &tls.Config{MinVersion: tls.VersionTLS12}
	}
	s.mu.Lock()
	if s.closed {
		// Closed before it started serving: as graceful as it gets.
		s.mu.Unlock()
		return ln.Close()
	}
	s.servers = append(s.servers, hs)
	s.mu.Unlock()

	errc := make(chan error, 1)
	go func() {
		if s.cfg.TLSCertFile != "" {
			errc <- hs.ServeTLS(ln, s.cfg.TLSCertFile, s.cfg.TLSKeyFile)
			return
		}
		errc <- hs.Serve(ln)
	}()
	s.log.Info("serving http", "addr", ln.Addr().String(), "tls", s.cfg.TLSCertFile != "", "auth", !s.tokens.empty())
	select {
	case err := <-errc:
		if errors.Is(err, http.ErrServerClosed) {
			return nil
		}
		return fmt.Errorf("serve %s: %w", ln.Addr(), err)
	case <-ctx.Done():
		err := s.Close()
		<-errc
		return err
	}
}

// Close ends open watch and log streams, then shuts every Serve down,
// waiting up to Config.ShutdownTimeout for in-flight requests.
func (s *Server) Close() error {
	var err error
	s.shutdownOnce.Do(func() {
		s.stopStreams()
		s.mu.Lock()
		s.closed = true
		servers := s.servers
		s.mu.Unlock()
		ctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
		defer cancel()
		for _, hs := range servers {
			if e := hs.Shutdown(ctx); e != nil {
				err = errors.Join(err, fmt.Errorf("shutdown: %w", e))
				_ = hs.Close()
			}
		}
		// net/http's shutdown does not know the watches it handed over.
		err = errors.Join(err, s.waitTakenOver(ctx))
	})
	return err
}
