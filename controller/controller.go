package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// Controller runs the reconcile loop while, and only while, its node is the
// Raft leader (Nomad's monitorLeadership): Start watches leadership, and
// each leader term gets fresh state, its own context and goroutines, all
// stopped and awaited before leadership is given up.
type Controller struct {
	cfg   Config
	store Store
	sched Scheduler
	build TaskBuilder
	clock clock.Clock
	log   *slog.Logger
	m     *metrics

	randMu sync.Mutex
	rand   *rand.Rand

	mu   sync.Mutex
	term *term // current leader term; nil while not leading
}

// New returns a Controller. store and sched are the replicated Run store
// and the Mesos subscription; build turns a Run into a Mesos TaskInfo; clk
// may be nil (wall clock), log may be nil (discard), reg may be nil (no
// metrics registered).
func New(cfg Config, store Store, sched Scheduler, build TaskBuilder, clk clock.Clock, log *slog.Logger, reg prometheus.Registerer) (*Controller, error) {
	if store == nil || sched == nil || build == nil {
		return nil, errors.New("controller: store, scheduler and task builder are required")
	}
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if clk == nil {
		clk = clock.Real{}
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if reg == nil {
		reg = prometheus.NewRegistry()
	}
	c := &Controller{
		cfg:   cfg,
		store: store,
		sched: sched,
		build: build,
		clock: clk,
		log:   log.With("component", "controller"),
		rand:  rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 0x5eed)),
	}
	m, err := newMetrics(reg, c.queueLen)
	if err != nil {
		return nil, fmt.Errorf("register controller metrics: %w", err)
	}
	c.m = m
	return c, nil
}

func (c *Controller) queueLen() float64 {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t == nil {
		return 0
	}
	return float64(t.queue.Len())
}

// Start runs until ctx ends: it starts a leader term whenever the store
// reports leadership and stops it (cancel, then wait for every goroutine)
// when leadership is lost or ctx ends. It returns nil after ctx ends.
func (c *Controller) Start(ctx context.Context) error {
	leaderCh := c.store.LeaderCh()
	var stop func()
	defer func() {
		if stop != nil {
			stop()
		}
	}()
	sync := func() {
		leading := c.store.IsLeader()
		switch {
		case leading && stop == nil:
			c.log.Info("leadership acquired")
			stop = c.startTerm(ctx)
		case !leading && stop != nil:
			c.log.Info("leadership lost")
			stop()
			stop = nil
		}
	}
	sync()
	// LeaderCh is lossy, so leadership is also polled.
	poll := time.NewTicker(time.Second)
	defer poll.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case _, ok := <-leaderCh:
			if !ok {
				leaderCh = nil
			}
			sync()
		case <-poll.C:
			sync()
		}
	}
}

// startTerm starts a leader term and returns its stop function, which
// cancels it and waits until everything it started has returned.
func (c *Controller) startTerm(parent context.Context) func() {
	ctx, cancel := context.WithCancel(parent)
	t := newTerm(c)
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

// Reconcile converges one Run now, as a worker would. It returns
// apis.ErrNotLeader unless a leader term is running.
func (c *Controller) Reconcile(ctx context.Context, name string) (Result, error) {
	c.mu.Lock()
	t := c.term
	c.mu.Unlock()
	if t == nil || !t.ready() {
		return Result{}, apis.ErrNotLeader
	}
	return t.reconcile(ctx, name)
}

// Result tells the worker when to look at a Run again.
type Result struct {
	// RequeueAfter > 0 reconciles the Run again after this long.
	RequeueAfter time.Duration
}

// terminalError is an error that retrying cannot fix.
type terminalError struct{ err error }

func (e terminalError) Error() string { return e.err.Error() }
func (e terminalError) Unwrap() error { return e.err }

// Terminal marks err as permanent: the worker logs it and does not retry.
func Terminal(err error) error { return terminalError{err} }

func (c *Controller) newTaskID(run string, attempt int32) string {
	c.randMu.Lock()
	n := c.rand.Uint64()
	c.randMu.Unlock()
	return fmt.Sprintf("%s.%d.%06x", run, attempt, n&0xffffff)
}
