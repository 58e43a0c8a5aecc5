package mesos

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// FrameworkIDStore keeps the FrameworkID across restarts and leader
// changes, so that a new scheduler instance takes over the framework's
// tasks instead of registering a new framework. *raftstore.Store is one.
type FrameworkIDStore interface {
	// FrameworkID returns the stored ID, or "" when none is stored.
	FrameworkID(ctx context.Context) (string, error)
	// SetFrameworkID stores id; "" clears it.
	SetFrameworkID(ctx context.Context, id string) error
}

// MemoryIDStore is a FrameworkIDStore in memory, for tests and for
// schedulers that need not survive a restart. The zero value is ready.
type MemoryIDStore struct {
	mu sync.Mutex
	id string
}

var _ FrameworkIDStore = (*MemoryIDStore)(nil)

// FrameworkID implements FrameworkIDStore.
func (m *MemoryIDStore) FrameworkID(context.Context) (string, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.id, nil
}

// SetFrameworkID implements FrameworkIDStore.
func (m *MemoryIDStore) SetFrameworkID(_ context.Context, id string) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.id = id
	return nil
}

// Scheduler is a Mesos framework scheduler: Run owns the subscription,
// and the call methods are safe to use from any goroutine.
type Scheduler struct {
	cfg    Config
	caller calls.Caller
	http   *httpCaller // nil when New was given a caller
	ids    FrameworkIDStore
	log    *slog.Logger

	running atomic.Bool

	mu          sync.Mutex
	frameworkID string // the ID in use; outlives a failed store write
	connected   bool
	suppressed  bool // the role is suppressed: re-sent on SUBSCRIBE
	tornDown    bool
	teardown    chan struct{} // closed when a Teardown in flight ends
	endStream   func()        // ends the current subscription, nil when none
}

// New returns a Scheduler speaking HTTP to cfg.Masters. A nil logger
// discards logs.
func New(cfg Config, ids FrameworkIDStore, logger *slog.Logger) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	logger = componentLogger(logger)
	hc, err := newHTTPCaller(cfg, logger)
	if err != nil {
		return nil, err
	}
	s := newScheduler(cfg, hc, ids, logger)
	s.http = hc
	return s, nil
}

// NewWithCaller returns a Scheduler that sends its calls through caller
// instead of HTTP: an in-process master (mesos/sim) or a test double.
// cfg.Masters and the HTTP settings are ignored; the caller must return
// the event stream as the response to SUBSCRIBE, and handle stream ids.
func NewWithCaller(cfg Config, caller calls.Caller, ids FrameworkIDStore, logger *slog.Logger) (*Scheduler, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	if caller == nil {
		return nil, fmt.Errorf("nil caller: %w", ErrInvalidConfig)
	}
	return newScheduler(cfg, caller, ids, componentLogger(logger)), nil
}

func newScheduler(cfg Config, caller calls.Caller, ids FrameworkIDStore, logger *slog.Logger) *Scheduler {
	if ids == nil {
		ids = &MemoryIDStore{}
	}
	return &Scheduler{cfg: cfg, caller: caller, ids: ids, log: logger}
}

func componentLogger(l *slog.Logger) *slog.Logger {
	if l == nil {
		return slog.New(slog.DiscardHandler)
	}
	return l.With("component", "mesos")
}

// Connected reports whether a subscription is established (SUBSCRIBED
// received and the stream still open).
func (s *Scheduler) Connected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.connected
}

// FrameworkID returns the framework ID in use, "" before the first
// subscription when none was stored.
func (s *Scheduler) FrameworkID() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.frameworkID
}

// Run subscribes and re-subscribes until ctx ends (it then returns nil) or
// Teardown succeeds (ErrTornDown). Errors of single attempts are logged and
// retried with jittered exponential back-off between cfg.MinBackoff and
// cfg.MaxBackoff; the back-off restarts after every subscription that got
// SUBSCRIBED. Only one Run may be active at a time.
func (s *Scheduler) Run(ctx context.Context, h Handler) error {
	if h == nil {
		return fmt.Errorf("nil handler: %w", ErrInvalidConfig)
	}
	if !s.running.CompareAndSwap(false, true) {
		return errors.New("mesos scheduler already running")
	}
	defer s.running.Store(false)
	if s.http != nil {
		defer s.http.close()
	}
	resubscribe := s.resubscribe()
	for {
		subscribed, err := s.subscribeOnce(ctx, h)
		if pending := s.pendingTeardown(); pending != nil {
			select {
			case <-pending:
			case <-ctx.Done():
				return nil
			}
		}
		if s.isTornDown() {
			return ErrTornDown
		}
		if ctx.Err() != nil {
			return nil
		}
		if subscribed {
			resubscribe.Reset()
		}
		delay := resubscribe.Next()
		s.log.Warn("subscription ended", "err", err, "retry_in", delay)
		if clock.Sleep(ctx, clock.Real{}, delay) != nil {
			return nil
		}
	}
}

// resubscribe is the back-off between subscriptions: MinBackoff doubling
// to MaxBackoff, the upper half jittered so that many schedulers do not
// reconnect in lockstep after a master failover.
func (s *Scheduler) resubscribe() backoff.Retry {
	return backoff.Retry{Policy: backoff.Policy{Initial: s.cfg.MinBackoff, Max: s.cfg.MaxBackoff, Jitter: 0.5}}
}

// subscribeOnce runs one subscription to its end. subscribed reports
// whether SUBSCRIBED arrived.
func (s *Scheduler) subscribeOnce(ctx context.Context, h Handler) (subscribed bool, err error) {
	id, err := s.currentFrameworkID(ctx)
	if err != nil {
		return false, err
	}
	call := calls.Subscribe(s.cfg.frameworkInfo(id))
	if id != "" {
		call.FrameworkID = &mesosproto.FrameworkID{Value: id}
	}
	s.mu.Lock()
	if s.suppressed {
		// SUBSCRIBE replaces the suppressed set: without this a
		// re-subscription would silently revive offers.
		call.Subscribe.SuppressedRoles = []string{s.cfg.Role}
	}
	s.mu.Unlock()
	subCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := s.caller.Call(subCtx, call)
	if err != nil {
		return false, err
	}
	defer resp.Close()
	// A caller other than HTTP (the in-process simulator) need not watch
	// ctx: closing the stream unblocks its Decode.
	stopClosing := context.AfterFunc(subCtx, func() { _ = resp.Close() })
	defer stopClosing()

	// The watchdog closes the stream when no event arrives in time; the
	// Decode in progress then fails. It is stopped while the handler runs.
	var timedOut atomic.Bool
	watchdog := time.AfterFunc(s.cfg.Timeout, func() {
		timedOut.Store(true)
		_ = resp.Close()
	})
	defer watchdog.Stop()
	s.setEndStream(func() { _ = resp.Close() })
	defer s.setEndStream(nil)

	timeout := s.cfg.Timeout // until SUBSCRIBED says the interval
	for {
		var ev scheduler.Event
		err = resp.Decode(&ev)
		if !watchdog.Stop() && timedOut.Load() {
			err = fmt.Errorf("%w for %s", ErrHeartbeatTimeout, timeout)
		}
		if err == nil && ctx.Err() != nil {
			err = ctx.Err()
		}
		if err != nil {
			if subscribed {
				s.setConnected(false)
				h.Disconnected(ctx, err)
			}
			return subscribed, fmt.Errorf("event stream: %w", err)
		}
		if ev.GetType() == scheduler.Event_SUBSCRIBED {
			if timeout, err = s.onSubscribed(ctx, h, ev.GetSubscribed()); err != nil {
				return false, err
			}
			subscribed = true
		} else if err = s.dispatch(ctx, h, &ev); err != nil {
			if subscribed {
				s.setConnected(false)
				h.Disconnected(ctx, err)
			}
			return subscribed, err
		}
		watchdog.Reset(timeout)
	}
}

// currentFrameworkID returns the ID in use, reading the store when there
// is none yet.
func (s *Scheduler) currentFrameworkID(ctx context.Context) (string, error) {
	s.mu.Lock()
	id := s.frameworkID
	s.mu.Unlock()
	if id != "" {
		return id, nil
	}
	id, err := s.ids.FrameworkID(ctx)
	if err != nil {
		return "", fmt.Errorf("read framework id: %w", err)
	}
	s.mu.Lock()
	s.frameworkID = id
	s.mu.Unlock()
	return id, nil
}

// onSubscribed stores the framework ID, then reports the subscription. It
// returns the watchdog timeout derived from the heartbeat interval.
func (s *Scheduler) onSubscribed(ctx context.Context, h Handler, sub *scheduler.Event_Subscribed) (time.Duration, error) {
	id := sub.GetFrameworkID().GetValue()
	if id == "" {
		return 0, fmt.Errorf("SUBSCRIBED without framework_id: %w", ErrProtocol)
	}
	// Keep the ID in memory even if storing fails: the retry then
	// re-subscribes as the same framework instead of orphaning it.
	s.mu.Lock()
	s.frameworkID = id
	s.mu.Unlock()
	if err := s.ids.SetFrameworkID(ctx, id); err != nil {
		return 0, fmt.Errorf("store framework id %s: %w", id, err)
	}
	interval := defaultHeartbeat
	if secs := sub.GetHeartbeatIntervalSeconds(); secs > 0 {
		interval = time.Duration(secs * float64(time.Second))
	}
	s.setConnected(true)
	s.log.Info("subscribed", "framework_id", id, "master", sub.GetMasterInfo().GetHostname(),
		"heartbeat", interval)
	h.Subscribed(ctx, id, sub.GetMasterInfo())
	return time.Duration(s.cfg.HeartbeatMisses) * interval, nil
}

// dispatch hands one event to h. An error ends the subscription.
func (s *Scheduler) dispatch(ctx context.Context, h Handler, ev *scheduler.Event) error {
	switch ev.GetType() {
	case scheduler.Event_HEARTBEAT:
	case scheduler.Event_OFFERS:
		h.Offers(ctx, ev.GetOffers().GetOffers())
	case scheduler.Event_RESCIND:
		h.Rescind(ctx, ev.GetRescind().GetOfferID())
	case scheduler.Event_UPDATE:
		h.Update(ctx, ev.GetUpdate().GetStatus())
	case scheduler.Event_FAILURE:
		f := ev.GetFailure()
		h.Failure(ctx, f.GetAgentID().GetValue(), f.GetExecutorID().GetValue(), f.Status)
	case scheduler.Event_ERROR:
		msg := ev.GetError().GetMessage()
		if strings.Contains(msg, "Framework has been removed") {
			s.forgetFrameworkID(ctx, "framework removed by mesos; the next subscription registers anew")
		}
		h.Error(ctx, msg)
		return fmt.Errorf("%w: %s", ErrSubscriptionError, msg)
	default:
		// MESSAGE, INVERSE_OFFERS, RESCIND_INVERSE_OFFER,
		// UPDATE_OPERATION_STATUS: sprint uses no custom executors,
		// maintenance or operation feedback.
		s.log.Debug("ignoring event", "type", ev.GetType().String())
	}
	return nil
}

// forgetFrameworkID clears the ID in memory and in the store, so that the
// next subscription registers a new framework.
func (s *Scheduler) forgetFrameworkID(ctx context.Context, why string) {
	s.mu.Lock()
	old := s.frameworkID
	s.frameworkID = ""
	s.mu.Unlock()
	s.log.Warn(why, "framework_id", old)
	if err := s.ids.SetFrameworkID(ctx, ""); err != nil {
		s.log.Error("clear framework id", "err", err)
	}
}

func (s *Scheduler) setConnected(v bool) {
	s.mu.Lock()
	s.connected = v
	s.mu.Unlock()
}

func (s *Scheduler) setEndStream(f func()) {
	s.mu.Lock()
	s.endStream = f
	s.mu.Unlock()
}

func (s *Scheduler) pendingTeardown() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.teardown == nil {
		return nil
	}
	return s.teardown
}

func (s *Scheduler) isTornDown() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.tornDown
}
