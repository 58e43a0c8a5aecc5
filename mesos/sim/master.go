package sim

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/clock"
)

// Sentinel errors.
var (
	// ErrClosed is returned by Start and Serve after Close.
	ErrClosed = errors.New("sim: master closed")
	// ErrUnknownAgent is returned by fault controls naming an agent the master does not know.
	ErrUnknownAgent = errors.New("sim: unknown agent")
)

// Master is a simulated Mesos master with its agents. One mutex (mu) guards
// all of its state; see DESIGN.md.
type Master struct {
	cfg     Config
	creds   credentialSet // digests of cfg.Credentials, which is cleared
	log     *slog.Logger
	clk     clock.Clock
	exec    ExecutorFactory
	observe func(*scheduler.Call)

	wg sync.WaitGroup // stream pumps and background work, awaited by Close

	mu   sync.Mutex
	post []func() // side effects to run after mu is released (executor calls)
	// Everything below is guarded by mu.
	rng          *rand.Rand
	closed       bool
	done         chan struct{}
	started      bool
	masterID     string
	advertise    string
	leader       leadership
	frameworks   map[string]*framework
	completedFws []*framework
	removedIDs   map[string]bool
	nextFwID     int
	agents       map[string]*agent
	agentList    []*agent
	nextAgentID  int
	offers       map[string]*offer
	nextOfferID  int
	allocTimer   clock.Timer
	faults       faults
	streams      map[*stream]bool
}

// leadership is what the scheduler endpoint answers before any call check.
type leadership struct {
	standbyOf       string    // non-empty: 307 to this host:port
	noLeader        bool      // 503 "No leader elected"
	recoveringUntil time.Time // 503 "Master has not finished recovery" until then
}

// New builds a Master; Start registers its agents and starts allocating.
func New(cfg Config, opts ...Option) (*Master, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, fmt.Errorf("sim config: %w", err)
	}
	d := deps{clock: clock.Real{}}
	for _, o := range opts {
		o(&d)
	}
	if d.rand == nil {
		d.rand = rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x5eed))
	}
	if d.logger == nil {
		d.logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if d.exec == nil {
		d.exec = DefaultExecutorFactory
	}
	m := &Master{
		cfg:        cfg,
		creds:      newCredentialSet(cfg.Credentials),
		log:        d.logger.With("component", "mesos-sim"),
		clk:        d.clock,
		exec:       d.exec,
		observe:    d.observe,
		rng:        d.rand,
		frameworks: map[string]*framework{},
		removedIDs: map[string]bool{},
		agents:     map[string]*agent{},
		offers:     map[string]*offer{},
		streams:    map[*stream]bool{},
		advertise:  cfg.AdvertiseAddr,
	}
	// Only digests of the secrets are kept.
	m.cfg.Credentials = nil
	if cfg.AuthenticateFrameworks || cfg.AuthenticateHTTPReadOnly || cfg.AuthenticateHTTPReadWrite {
		m.log.Info("authentication on", "frameworks", cfg.AuthenticateFrameworks,
			"http_readonly", cfg.AuthenticateHTTPReadOnly, "http_readwrite", cfg.AuthenticateHTTPReadWrite,
			"principals", principals(cfg.Credentials))
	}
	m.masterID = cfg.MasterID
	if m.masterID == "" {
		m.masterID = m.newUUIDString()
	}
	if m.cfg.WorkDir == "" {
		m.cfg.WorkDir = filepath.Join(os.TempDir(), "mesos-sim", m.masterID)
	}
	abs, err := filepath.Abs(m.cfg.WorkDir)
	if err != nil {
		return nil, fmt.Errorf("sim work dir: %w", err)
	}
	m.cfg.WorkDir = abs
	return m, nil
}

// Start registers the configured agents and starts the allocator. The
// master runs until ctx ends or Close is called.
func (m *Master) Start(ctx context.Context) error {
	m.lock()
	if m.closed {
		m.unlock()
		return ErrClosed
	}
	if m.started {
		m.unlock()
		return errors.New("sim: master already started")
	}
	m.started = true
	for _, ac := range m.cfg.Agents {
		if _, err := m.addAgentLocked(ac); err != nil {
			m.unlock()
			return err
		}
	}
	m.scheduleAllocation()
	m.unlock()
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		select {
		case <-ctx.Done():
			_ = m.shutdown()
		case <-m.doneCh():
		}
	}()
	return nil
}

func (m *Master) doneCh() <-chan struct{} {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.done == nil {
		m.done = make(chan struct{})
	}
	return m.done
}

// Close ends every stream, stops every executor and waits for the
// simulator's goroutines.
func (m *Master) Close() error {
	err := m.shutdown()
	m.wg.Wait()
	return err
}

func (m *Master) shutdown() error {
	m.lock()
	if m.closed {
		m.unlock()
		return nil
	}
	m.closed = true
	if m.done == nil {
		m.done = make(chan struct{})
	}
	close(m.done)
	if m.allocTimer != nil {
		m.allocTimer.Stop()
	}
	for s := range m.streams {
		s.finish()
	}
	var execs []Executor
	for _, a := range m.agentList {
		execs = append(execs, a.exec)
		for _, t := range a.tasks {
			t.stopTimers()
		}
	}
	for _, fw := range m.frameworks {
		fw.stopTimers()
	}
	m.unlock()
	var errs []error
	for _, e := range execs {
		if err := e.Close(); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// lock takes the master lock; unlock releases it and then runs the side
// effects queued with m.after, so executors are never called under mu.
func (m *Master) lock() { m.mu.Lock() }

func (m *Master) unlock() {
	fx := m.post
	m.post = nil
	m.mu.Unlock()
	for _, f := range fx {
		f()
	}
}

// after queues f to run once mu is released. Caller holds mu.
func (m *Master) after(f func()) { m.post = append(m.post, f) }

// afterFunc arms a clock timer whose callback runs under mu (if the master
// is still open). Caller holds mu.
func (m *Master) afterFunc(d time.Duration, f func()) clock.Timer {
	return m.clk.AfterFunc(d, func() {
		m.lock()
		defer m.unlock()
		if m.closed {
			return
		}
		f()
	})
}

// newUUID returns 16 random RFC-4122 version-4 bytes from the seeded source.
// Caller holds mu (or the master is not yet shared).
func (m *Master) newUUID() []byte {
	b := make([]byte, 16)
	for i := 0; i < 16; i += 8 {
		v := m.rng.Uint64()
		for j := 0; j < 8; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	b[6] = b[6]&0x0f | 0x40
	b[8] = b[8]&0x3f | 0x80
	return b
}

func (m *Master) newUUIDString() string {
	b := m.newUUID()
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// MasterID returns the current master id (it changes on simulated failover).
func (m *Master) MasterID() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.masterID
}

// Serve serves Handler on l until Close or ctx ends. If no AdvertiseAddr was
// configured, the listener's address becomes the advertised one.
func (m *Master) Serve(ctx context.Context, l net.Listener) error {
	m.setAdvertise(l.Addr().String())
	srv := &http.Server{Handler: m.Handler(), ReadHeaderTimeout: 10 * time.Second}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(l) }()
	select {
	case <-ctx.Done():
	case <-m.doneCh():
	case err := <-errc:
		return err
	}
	_ = m.shutdown()
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	if err != nil {
		// Streams to clients that stopped reading: cut them.
		err = srv.Close()
	}
	if serr := <-errc; serr != nil && !errors.Is(serr, http.ErrServerClosed) {
		return serr
	}
	return err
}

// ListenAndServe listens on addr (e.g. "127.0.0.1:5050") and calls Serve.
func (m *Master) ListenAndServe(ctx context.Context, addr string) error {
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("listen %s: %w", addr, err)
	}
	return m.Serve(ctx, l)
}

func (m *Master) setAdvertise(addr string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.advertise == "" {
		m.advertise = addr
	}
}

// Addr returns the advertised host:port ("" before Serve if not configured).
func (m *Master) Addr() string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.advertise
}

// hostPort splits the advertised address. Caller holds mu.
func (m *Master) hostPort() (string, int) {
	host, port := "127.0.0.1", 5050
	if m.advertise != "" {
		if h, p, err := net.SplitHostPort(m.advertise); err == nil {
			if h != "" && h != "::" && h != "0.0.0.0" {
				host = h
			}
			if n, err := strconv.Atoi(p); err == nil {
				port = n
			}
		}
	}
	if m.cfg.Hostname != "" {
		host = m.cfg.Hostname
	}
	return host, port
}

// masterInfo builds MasterInfo. Only capabilities mesos-go v0.0.11 knows are
// listed (an unknown enum name breaks its JSON decoder). Caller holds mu.
func (m *Master) masterInfo() *mesos.MasterInfo {
	host, port := m.hostPort()
	var ip uint32
	if a := net.ParseIP(host).To4(); a != nil {
		// Mesos stores the IPv4 address in network byte order in a uint32.
		ip = uint32(a[0]) | uint32(a[1])<<8 | uint32(a[2])<<16 | uint32(a[3])<<24
	}
	p := uint32(port)
	pid := fmt.Sprintf("master@%s:%d", host, port)
	version := "1.10.0"
	ipStr := host
	return &mesos.MasterInfo{
		ID:       m.masterID,
		IP:       ip,
		Port:     &p,
		PID:      &pid,
		Hostname: &host,
		Version:  &version,
		Address:  &mesos.Address{Hostname: &host, IP: &ipStr, Port: int32(port)},
		Capabilities: []mesos.MasterInfo_Capability{
			{Type: mesos.MasterInfo_Capability_AGENT_UPDATE},
			{Type: mesos.MasterInfo_Capability_AGENT_DRAINING},
		},
	}
}
