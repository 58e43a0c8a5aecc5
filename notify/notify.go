package notify

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
)

// Store is what delivery needs from the replicated store
// (raftstore.Store satisfies it).
type Store interface {
	// LeadershipChanges holds true while this node leads with its state
	// caught up, false otherwise; lossy but never loses the last value;
	// closed when the store closes.
	LeadershipChanges() <-chan bool
	// OutboxIDs lists up to limit record IDs after the ID after, in ID
	// order ("<notifier>/…"), without reading the records.
	OutboxIDs(ctx context.Context, after string, limit int) ([]string, error)
	// OutboxRecord reads one record. Errors: apis.ErrNotFound when it has
	// been completed.
	OutboxRecord(ctx context.Context, id string) (*apis.Notification, error)
	// CompleteNotifications commits outcomes: the records leave the
	// outbox and are counted in their Notifiers' status.
	CompleteNotifications(ctx context.Context, results []apis.NotificationResult) error
	// GetNotifier reads a Notifier. Errors: apis.ErrNotFound.
	GetNotifier(ctx context.Context, name string) (*apis.Notifier, error)
	// Dependents names the Runs whose spec.dependsOn names the Run (for
	// the blocked downstream subtree).
	Dependents(ctx context.Context, name string) ([]string, error)
	// GetRun reads a Run. Errors: apis.ErrNotFound.
	GetRun(ctx context.Context, name string) (*apis.Run, error)
}

// Logs reads the end of a Run's task stderr, as GET
// /api/v1/runs/{name}/log?stream=stderr&tail=N does. Optional.
type Logs interface {
	Stderr(ctx context.Context, run *apis.Run, tailLines int, w io.Writer) error
}

// Config tunes delivery. Zero values take the defaults.
type Config struct {
	// MaxAge is how long after its event a notification is retried before
	// it is recorded as failed (--notify-max-age, default 24h).
	MaxAge time.Duration
	// Concurrency bounds the attempts in flight (default 8).
	Concurrency int
	// Timeout bounds one attempt: the HTTP request or the SMTP session
	// (default 10s).
	Timeout time.Duration
	// Backoff spaces the retries of one notification (default 1s doubling
	// to 5m, jitter 0.5).
	Backoff backoff.Policy
	// Poll is how often the outbox is read for new records (default 1s).
	Poll time.Duration
	// Transport carries webhook requests (default: a dialer with timeouts
	// whose connections DenyCIDRs filters, and HTTPS_PROXY/HTTP_PROXY/
	// NO_PROXY from the environment, so that outbound requests can go
	// through an egress proxy; the filter then judges the proxy's
	// address, and the proxy the destinations).
	Transport http.RoundTripper
	// DialSMTP opens SMTP connections (default: a net.Dialer whose
	// connections DenyCIDRs filters).
	DialSMTP func(ctx context.Context, addr string) (net.Conn, error)
	// SecretDir is --notifier-secret-dir: Notifiers' secret files are read
	// only below it, through an os.Root, so that neither ".." nor a
	// symlink leads out of it whatever the file system or the admitting
	// node's flags were; "" reads none.
	SecretDir string
	// DenyCIDRs is --notifier-deny-cidrs: the default Transport and
	// DialSMTP refuse to connect to an address in one of these prefixes,
	// judged on the resolved address at connect time. nil means
	// apis.DefaultNotifierDenyCIDRs; an empty list denies nothing.
	DenyCIDRs []netip.Prefix
	// StderrLines and StderrBytes bound the stderr tail of a payload
	// (default 40 lines, 4 KiB).
	StderrLines int
	StderrBytes int
	// MaxBlocked bounds the blocked downstream Runs of a payload (default
	// 100).
	MaxBlocked int
}

func (c *Config) setDefaults() {
	if c.MaxAge <= 0 {
		c.MaxAge = 24 * time.Hour
	}
	if c.Concurrency <= 0 {
		c.Concurrency = 8
	}
	if c.Timeout <= 0 {
		c.Timeout = 10 * time.Second
	}
	if c.Backoff == (backoff.Policy{}) {
		c.Backoff = backoff.Policy{Initial: time.Second, Max: 5 * time.Minute, Jitter: 0.5}
	}
	if c.Poll <= 0 {
		c.Poll = time.Second
	}
	if c.DenyCIDRs == nil {
		c.DenyCIDRs, _ = apis.ParseNotifierDenyCIDRs(apis.DefaultNotifierDenyCIDRs)
	}
	filter := destinationFilter{deny: c.DenyCIDRs}
	if c.Transport == nil {
		c.Transport = &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: c.Timeout, KeepAlive: 30 * time.Second, Control: filter.control}).DialContext,
			TLSHandshakeTimeout:   c.Timeout,
			ResponseHeaderTimeout: c.Timeout,
			MaxIdleConnsPerHost:   2,
			IdleConnTimeout:       90 * time.Second,
		}
	}
	if c.DialSMTP == nil {
		d := &net.Dialer{Timeout: c.Timeout, Control: filter.control}
		c.DialSMTP = func(ctx context.Context, addr string) (net.Conn, error) { return d.DialContext(ctx, "tcp", addr) }
	}
	if c.StderrLines <= 0 {
		c.StderrLines = 40
	}
	if c.StderrBytes <= 0 {
		c.StderrBytes = 4096
	}
	if c.MaxBlocked <= 0 {
		c.MaxBlocked = 100
	}
}

// Service delivers the outbox while this node leads.
type Service struct {
	cfg    Config
	store  Store
	logs   Logs
	log    *slog.Logger
	m      *metrics
	client *http.Client
	// openRoot opens SecretDir (os.OpenRoot; tests point it elsewhere).
	openRoot func(dir string) (*os.Root, error)
}

// New makes a Service; logs may be nil (payloads then carry no stderr).
func New(cfg Config, store Store, logs Logs, logger *slog.Logger, reg prometheus.Registerer) (*Service, error) {
	cfg.setDefaults()
	m, err := newMetrics(reg)
	if err != nil {
		return nil, err
	}
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	return &Service{
		cfg: cfg, store: store, logs: logs, log: logger.With("component", "notify"), m: m,
		openRoot: os.OpenRoot,
		client: &http.Client{
			Transport: cfg.Transport,
			// A redirect is not followed: the target is the URL the
			// Notifier names, nothing a receiver points the leader to.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
	}, nil
}

// Run delivers while this node leads, one term at a time, until ctx ends
// or the store's leadership channel closes.
func (s *Service) Run(ctx context.Context) error {
	changes := s.store.LeadershipChanges()
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	for {
		select {
		case <-ctx.Done():
			return nil
		case leading, ok := <-changes:
			if !ok {
				return nil
			}
			switch {
			case leading && stop == nil:
				stop = s.startTerm(ctx)
			case !leading && stop != nil:
				stop()
				stop = nil
			}
		}
	}
}

func (s *Service) startTerm(parent context.Context) func() {
	ctx, cancel := context.WithCancel(parent)
	t := &term{s: s, states: map[string]*recordState{}}
	done := make(chan struct{})
	go func() {
		defer close(done)
		t.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// recordState is a term's knowledge of one outbox record: attempts made
// and when the next is due. It lives as long as the term; a new leader
// starts each record's back-off over, bounded by the record's MaxAge.
type recordState struct {
	attempts int
	next     time.Time
	busy     bool // an attempt or the commit of its outcome is in flight
	lastErr  string
}

// outcome is what one attempt came to.
type outcome struct {
	rec *apis.Notification
	err error // nil: delivered
}

// term is one leadership's delivery loop; the loop goroutine owns states.
type term struct {
	s      *Service
	states map[string]*recordState
}

// maxScan bounds the records one pass of the loop reads.
const maxScan = 5000

func (t *term) run(ctx context.Context) {
	s := t.s
	s.log.Info("delivering notifications")
	// work is buffered to the worker count and the loop counts what is
	// in flight, so handing a record over never blocks and never misses
	// a free worker.
	work := make(chan *apis.Notification, s.cfg.Concurrency)
	inflight := 0
	outcomes := make(chan outcome, s.cfg.Concurrency)
	commits := make(chan []apis.NotificationResult, 1)
	committed := make(chan commitDone, 1)
	var wg sync.WaitGroup
	for range s.cfg.Concurrency {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for rec := range work {
				err := s.attempt(ctx, rec)
				select {
				case outcomes <- outcome{rec: rec, err: err}:
				case <-ctx.Done():
				}
			}
		}()
	}
	wg.Add(1)
	go func() {
		defer wg.Done()
		t.commitLoop(ctx, commits, committed)
	}()
	defer func() {
		close(work)
		wg.Wait()
		s.m.pending.Reset() // a follower reports nothing pending
	}()

	var batch []apis.NotificationResult
	inCommit := false
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		// Hand the outcomes gathered so far to the committer, one batch
		// in flight at a time.
		if !inCommit && len(batch) > 0 {
			select {
			case commits <- batch:
				batch, inCommit = nil, true
			default:
			}
		}
		select {
		case <-ctx.Done():
			return
		case o := <-outcomes:
			inflight--
			if r, final := t.settle(o); final {
				batch = append(batch, r)
			}
		case d := <-committed:
			inCommit = false
			for _, r := range d.results {
				if st := t.states[r.ID]; st != nil {
					if d.err != nil {
						st.busy = false // not recorded: deliver again (same idempotency key)
						continue
					}
					delete(t.states, r.ID)
				}
			}
			if d.err == nil {
				t.count(d.results)
			}
		case <-timer.C:
			inflight += t.pass(ctx, work, s.cfg.Concurrency-inflight)
			timer.Reset(s.cfg.Poll)
		}
	}
}

// pass reads the outbox and starts an attempt of every record that is due
// and not in flight, up to free of them; it returns how many it started.
func (t *term) pass(ctx context.Context, work chan<- *apis.Notification, free int) int {
	s := t.s
	now := time.Now()
	started := 0
	seen := map[string]bool{}
	pending := map[string]float64{}
	after := ""
	for len(seen) < maxScan {
		ids, err := s.store.OutboxIDs(ctx, after, 1000)
		if err != nil {
			s.log.Warn("read outbox", "err", err)
			return started
		}
		if len(ids) == 0 {
			break
		}
		after = ids[len(ids)-1]
		for _, id := range ids {
			seen[id] = true
			pending[notifierOf(id)]++
			st := t.states[id]
			if st == nil {
				st = &recordState{}
				t.states[id] = st
			}
			if st.busy || now.Before(st.next) || started == free {
				continue // in flight, not due, or no worker free until the next pass
			}
			// Only a record about to be sent is read in full.
			rec, err := s.store.OutboxRecord(ctx, id)
			if err != nil {
				continue // completed since the listing
			}
			work <- rec
			st.busy = true
			started++
		}
	}
	for id, st := range t.states {
		if !seen[id] && !st.busy {
			delete(t.states, id) // removed by an earlier leader's commit
		}
	}
	s.m.pending.Reset()
	for n, v := range pending {
		s.m.pending.WithLabelValues(n).Set(v)
	}
	return started
}

// settle records an attempt's outcome and returns the result to commit
// when the record is done: delivered, failed for good, or out of time.
func (t *term) settle(o outcome) (apis.NotificationResult, bool) {
	s := t.s
	st := t.states[o.rec.ID]
	if st == nil {
		st = &recordState{busy: true}
		t.states[o.rec.ID] = st
	}
	st.attempts++
	now := time.Now()
	res := apis.NotificationResult{ID: o.rec.ID, NotifierUID: o.rec.NotifierUID, Time: now.UTC()}
	if o.err == nil {
		res.Delivered = true
		return res, true
	}
	var perm *PermanentError
	if errors.As(o.err, &perm) {
		res.Error = o.err.Error()
		s.log.Warn("notification failed for good", "notifier", o.rec.Notifier, "id", o.rec.ID, "err", o.err)
		return res, true
	}
	delay := s.cfg.Backoff.Delay(st.attempts - 1)
	if now.Add(delay).Sub(o.rec.Time) > s.cfg.MaxAge {
		res.Error = fmt.Sprintf("gave up after %d attempts over %s (--notify-max-age %s): %v",
			st.attempts, now.Sub(o.rec.Time).Round(time.Second), s.cfg.MaxAge, o.err)
		s.log.Warn("notification failed: too old to retry", "notifier", o.rec.Notifier, "id", o.rec.ID, "err", o.err)
		return res, true
	}
	s.m.retried.WithLabelValues(o.rec.Notifier).Inc()
	st.busy = false
	st.next = now.Add(delay)
	st.lastErr = o.err.Error()
	s.log.Info("notification attempt failed; retrying", "notifier", o.rec.Notifier, "id", o.rec.ID,
		"attempt", st.attempts, "retry_in", delay.Round(time.Millisecond), "err", o.err)
	return apis.NotificationResult{}, false
}

func (t *term) count(results []apis.NotificationResult) {
	for _, r := range results {
		name := notifierOf(r.ID)
		if r.Delivered {
			t.s.m.delivered.WithLabelValues(name).Inc()
		} else {
			t.s.m.failed.WithLabelValues(name).Inc()
		}
	}
}

func notifierOf(id string) string {
	for i := 0; i < len(id); i++ {
		if id[i] == '/' {
			return id[:i]
		}
	}
	return id
}

type commitDone struct {
	results []apis.NotificationResult
	err     error
}

// commitLoop commits batches of outcomes through Raft, one at a time.
func (t *term) commitLoop(ctx context.Context, in <-chan []apis.NotificationResult, out chan<- commitDone) {
	for {
		select {
		case <-ctx.Done():
			return
		case results := <-in:
			cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
			err := t.s.store.CompleteNotifications(cctx, results)
			cancel()
			if err != nil && ctx.Err() == nil {
				t.s.log.Warn("commit notification outcomes", "n", len(results), "err", err)
			}
			select {
			case out <- commitDone{results: results, err: err}:
			case <-ctx.Done():
				return
			}
		}
	}
}
