package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// term is one leader term: everything the controller does while leading,
// with state that lives exactly as long as the leadership.
type term struct {
	c *Controller // only to register the running term (Controller.term)
	// The controller's dependencies, as the term and its reconcile, GC
	// and kill paths use them; the components get theirs explicitly.
	store     Store
	sched     Scheduler
	clock     clock.Clock
	cfg       Config
	m         *metrics
	log       *slog.Logger
	queue     *queue
	attempts  *registry
	deps      *depGraph // who waits for whom (spec.dependsOn)
	writer    *statusWriter
	events    *eventRecorder
	launcher  *launcher
	recon     *mesosReconciler
	schedules *scheduler            // fires Schedules
	acks      chan mesos.TaskStatus // acknowledgements of committed updates
	earlyAcks chan earlyAckReq      // of TASK_STAGING/STARTING on receipt (tryAck); sent first
	started   atomic.Bool
	// reconcileSeq numbers reconcile calls for their logs.
	reconcileSeq atomic.Uint64
}

func newTerm(c *Controller) *term {
	t := &term{
		c:         c,
		store:     c.store,
		sched:     c.sched,
		clock:     c.clock,
		cfg:       c.cfg,
		m:         c.m,
		log:       c.log,
		queue:     newQueue(c.clock, c.cfg.RetryBaseDelay, c.cfg.RetryMaxDelay),
		attempts:  newRegistry(),
		deps:      newDepGraph(),
		acks:      make(chan mesos.TaskStatus, 4096),
		earlyAcks: make(chan earlyAckReq, earlyAckQueue),
	}
	t.events = newEventRecorder(c.store, c.cfg, c.m.eventsDropped, t.log)
	t.writer = newStatusWriter(writerDeps{
		store: c.store, clock: c.clock, cfg: c.cfg, m: c.m, log: t.log,
		attempts: t.attempts, queue: t.queue, events: t.events,
		apply: c.applyTaskStatus, ack: t.ack, tryAck: t.tryAck, kill: t.killNow,
	})
	t.recon = newMesosReconciler(c.sched, c.clock, c.cfg, t.attempts, t.log)
	t.launcher = newLauncher(launcherDeps{
		store: c.store, sched: c.sched, build: c.build, clock: c.clock, cfg: c.cfg, m: c.m, log: t.log,
		attempts: t.attempts, queue: t.queue, writer: t.writer, recon: t.recon, newTaskID: c.newTaskID,
	})
	t.schedules = newScheduler(c.store, c.clock, c.cfg, c.m, t.log, func(name string) bool {
		_, live := t.attempts.get(name)
		return live
	})
	return t
}

func (t *term) ready() bool { return t.started.Load() }

// run is the leader term: barrier, load state, then the workers and the
// Mesos subscription, until ctx ends; it returns after all have stopped.
func (t *term) run(ctx context.Context) {
	c := t.c
	var wg sync.WaitGroup
	defer func() {
		t.queue.ShutDown()
		wg.Wait()
		c.mu.Lock()
		if c.term == t {
			c.term = nil
		}
		c.mu.Unlock()
		t.m.leader.Set(0)
		t.m.mesosConnected.Set(0)
		t.log.Info("leader term stopped")
	}()

	// The barrier makes every write of the previous leader visible here
	// before anything is read.
	// Only names are kept of each Run (and a few fields of those with a
	// live attempt): 100,000 decoded Runs would be a quarter GiB.
	var names []string
	var index uint64
	err := retry(ctx, t.clock, func() error {
		if err := t.store.Barrier(ctx); err != nil {
			return fmt.Errorf("barrier: %w", err)
		}
		live, err := t.store.LiveAttempts(ctx)
		if err != nil {
			return fmt.Errorf("load attempts: %w", err)
		}
		byRun := make(map[string]*liveAttempt, len(live))
		for _, a := range live {
			byRun[a.Run] = &liveAttempt{Attempt: a}
		}
		names = names[:0]
		graph := newDepGraph()
		t.schedules.resetRuns()
		index, err = t.store.EachRun(ctx, func(r *apis.Run) error {
			names = append(names, r.Metadata.Name)
			graph.set(r)
			t.schedules.seedRun(r)
			if la := byRun[r.Metadata.Name]; la != nil {
				la.constraints = r.Spec.Constraints
				if r.Status.TaskID == la.TaskID {
					la.hostname = r.Status.Hostname
					la.ports = r.Status.Ports
				}
			}
			return nil
		})
		if err != nil {
			return fmt.Errorf("list runs: %w", err)
		}
		for _, la := range byRun {
			t.attempts.add(*la)
		}
		t.deps.replace(graph)
		return nil
	}, t.log)
	if err != nil {
		return // ctx ended
	}
	c.mu.Lock()
	c.term = t
	c.mu.Unlock()
	t.m.leader.Set(1)
	t.started.Store(true)
	t.log.Info("leader term started", "runs", len(names), "live_attempts", t.attempts.len(), "index", index)

	goFunc := func(f func(context.Context)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			f(ctx)
		}()
	}
	goFunc(t.writer.run)
	goFunc(t.events.run)
	goFunc(t.launcher.run)
	goFunc(t.recon.run)
	goFunc(t.gcLoop)
	goFunc(func(ctx context.Context) { t.schedules.run(ctx, index) })
	for range ackers {
		goFunc(t.acker)
	}
	for range t.cfg.Workers {
		goFunc(t.worker)
	}
	for _, name := range names {
		t.queue.Add(name)
	}
	names = nil
	goFunc(func(ctx context.Context) { t.watchLoop(ctx, index) })
	goFunc(func(ctx context.Context) {
		for ctx.Err() == nil {
			err := t.sched.Run(ctx, t)
			if ctx.Err() != nil {
				return
			}
			t.log.Warn("mesos scheduler stopped; restarting", "err", err)
			_ = clock.Sleep(ctx, t.clock, time.Second) // Run re-subscribes with its own back-off; this only guards against a tight loop
		}
	})
	<-ctx.Done()
}

// retry calls f until it succeeds or ctx ends, waiting 100ms doubling to 5s.
func retry(ctx context.Context, clk clock.Clock, f func() error, log *slog.Logger) error {
	wait := backoff.Retry{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Max: 5 * time.Second}}
	for {
		err := f()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		log.Warn("leader term setup failed; retrying", "err", err)
		if err := clock.Sleep(ctx, clk, wait.Next()); err != nil {
			return err
		}
	}
}

// watchLoop enqueues every changed Run; when the watch breaks (it fell too
// far behind) it relists and enqueues everything.
func (t *term) watchLoop(ctx context.Context, index uint64) {
	for ctx.Err() == nil {
		w, err := t.store.WatchRuns(ctx, index)
		if err == nil {
			index = t.drainWatch(ctx, w, index)
			w.Stop()
			err = w.Err()
		}
		if ctx.Err() != nil {
			return
		}
		t.log.Warn("run watch ended; relisting", "err", err)
		err = retry(ctx, t.clock, func() error {
			graph := newDepGraph()
			idx, err := t.store.EachRun(ctx, func(r *apis.Run) error {
				graph.set(r)
				t.queue.Add(r.Metadata.Name)
				return nil
			})
			if err != nil {
				return err
			}
			t.deps.replace(graph)
			index = idx
			return nil
		}, t.log)
		if err != nil {
			return
		}
	}
}

func (t *term) drainWatch(ctx context.Context, w RunWatcher, index uint64) uint64 {
	for {
		select {
		case <-ctx.Done():
			return index
		case ev, ok := <-w.Events():
			if !ok {
				return index
			}
			var run *apis.Run
			switch o := ev.Object.(type) {
			case *apis.Run:
				run = o
			case apis.Run:
				run = &o
			default:
				continue
			}
			var rv uint64
			if _, err := fmt.Sscan(run.Metadata.ResourceVersion, &rv); err == nil && rv > index {
				index = rv
			}
			t.queue.Add(run.Metadata.Name)
			for _, name := range t.deps.observe(ev.Type, run) {
				t.queue.Add(name)
			}
		}
	}
}

// worker processes queued Run names, one name at a time per worker and
// one worker at a time per name.
func (t *term) worker(ctx context.Context) {
	for {
		name, ok := t.queue.Get()
		if !ok {
			return
		}
		res, err := t.reconcileSafely(ctx, name)
		switch {
		case err == nil:
			t.queue.Forget(name)
			if res.RequeueAfter > 0 {
				t.queue.AddAfter(name, res.RequeueAfter)
			}
		case errors.As(err, new(terminalError)):
			t.queue.Forget(name)
			t.log.Error("reconcile failed permanently", "run", name, "err", err)
		case ctx.Err() != nil:
		default:
			t.m.reconcileErrors.Inc()
			t.log.Warn("reconcile failed; will retry", "run", name, "err", err)
			t.queue.AddRateLimited(name)
		}
		t.queue.Done(name)
	}
}

// logKey is the context key of the reconcile a context belongs to.
type logKey struct{}

// reconcileLog names a reconcile in its log lines. The logger is built
// only when a line is written: slog's With formats its attributes at
// once, which every reconcile paid for although few of them log
// (5.7 % of the leader's allocated objects under a write load).
type reconcileLog struct {
	run string
	id  uint64
}

// logger returns a logger carrying the Run and reconcile ID of the
// reconcile ctx belongs to, else the term's.
func (t *term) logger(ctx context.Context) *slog.Logger {
	if r, ok := ctx.Value(logKey{}).(reconcileLog); ok {
		return t.log.With("run", r.run, "reconcile_id", r.id)
	}
	return t.log
}

// reconcileSafely is reconcile with a timeout, panic recovery and a logger
// carrying the Run and a reconcile ID.
func (t *term) reconcileSafely(ctx context.Context, name string) (res Result, err error) {
	start := time.Now()
	ctx = context.WithValue(ctx, logKey{}, reconcileLog{run: name, id: t.reconcileSeq.Add(1)})
	ctx, cancel := context.WithTimeout(ctx, t.cfg.ReconcileTimeout)
	defer func() {
		cancel()
		if p := recover(); p != nil {
			err = fmt.Errorf("reconcile %s panicked: %v\n%s", name, p, debug.Stack())
		}
		t.m.reconcileLatency.Observe(time.Since(start).Seconds())
	}()
	return t.reconcile(ctx, name)
}

// ackers is how many ACKNOWLEDGE calls are in flight at most. A task's
// next update waits for the acknowledgement of the one before, so in a
// burst (three updates per Run) the acknowledgements pace the launches:
// 1,000 Runs/s need 3,000 acknowledgements a second, which at a round trip
// of 2–5 ms (a loaded master, a LAN) is 6–15 in flight. With 8, a burst
// of 3,000 Runs on the 2-core benchmark machine left TASK_STARTING
// acknowledgements queued past the early lane's bound, each then written
// alone: 3.4 status writes per Run instead of 3.05 with 32 (five bursts
// each). The mesos client keeps enough idle connections for them
// (mesos.MaxIdleConnsPerMaster).
const ackers = 32

// acker acknowledges status updates: those acknowledged on receipt
// (tryAck) before those whose state is committed. An early one is a
// TASK_STARTING whose task sends TASK_RUNNING only once it is
// acknowledged, the next step of a launch; in a burst the ackers are
// behind by hundreds of acknowledgements of committed updates (three per
// Run), and behind them every launch waited for the whole queue before its
// TASK_RUNNING could come. A committed update's acknowledgement only lets
// its task send a later one (TASK_FINISHED after TASK_RUNNING), and a
// status batch waits only while the queue is full.
func (t *term) acker(ctx context.Context) {
	for {
		var e earlyAckReq
		select {
		case e = <-t.earlyAcks:
		default:
			select {
			case <-ctx.Done():
				return
			case e = <-t.earlyAcks:
			case e.st = <-t.acks:
			}
		}
		if err := t.sched.Acknowledge(ctx, e.st); err != nil && ctx.Err() == nil {
			// Mesos re-sends unacknowledged updates; nothing is lost.
			t.log.Debug("acknowledge failed", "task_id", e.st.TaskID.Value, "err", err)
		}
		if e.sent != nil {
			e.sent.Store(t.clock.Now().UnixNano())
		}
	}
}

// earlyAckReq is an acknowledgement queued on receipt, and where the
// acker stores when it sent it (UnixNano of the clock): the status writer
// holds the update (startingHold) counting from then, since its task's
// next update can only follow the acknowledgement.
type earlyAckReq struct {
	st   mesos.TaskStatus
	sent *atomic.Int64
}

func (t *term) ack(ctx context.Context, st mesos.TaskStatus) {
	if len(st.UUID) == 0 {
		return
	}
	select {
	case t.acks <- st:
	case <-ctx.Done():
	}
}

// earlyAckQueue bounds the acknowledgements queued on receipt (tryAck)
// that the ackers have not sent yet: about one per launch in flight
// (maxRecording). Past it, a TASK_STARTING is acknowledged after its
// write, like any other update. (When early acknowledgements shared the
// committed updates' queue, they were bounded to 64 waiting in all, since
// in front of a committed batch's they held the status writer; in a burst
// that queue was always longer, so no TASK_STARTING was acknowledged early.)
const earlyAckQueue = 512

// tryAck queues st's acknowledgement if the early lane has room, and
// reports whether it did; it never blocks (it runs on the Mesos event
// loop). sent, if not nil, receives the time the acknowledgement was sent
// (at once for an update without UUID: there is nothing to send).
func (t *term) tryAck(st mesos.TaskStatus, sent *atomic.Int64) bool {
	if len(st.UUID) == 0 {
		if sent != nil {
			sent.Store(t.clock.Now().UnixNano())
		}
		return true
	}
	select {
	case t.earlyAcks <- earlyAckReq{st: st, sent: sent}:
		return true
	default:
		return false
	}
}

// kill sends a KILL for a live attempt's task unless one was sent within
// KillRetry. A KILL that is sent again, because the last one brought no
// terminal update, goes with an explicit RECONCILE of the task: the task
// may have ended with its updates lost on the way (the agent re-sends
// them only with a doubling back-off), and the master answers a
// reconciliation at once with the latest state it knows.
func (t *term) kill(ctx context.Context, taskID, agentID, reason string) error {
	due, again := t.attempts.shouldKill(taskID, t.clock.Now(), t.cfg.KillRetry)
	if !due {
		return nil
	}
	if again {
		if err := t.sched.Reconcile(ctx, []ReconcileTask{{TaskID: taskID, AgentID: agentID}}); err != nil && ctx.Err() == nil {
			t.logger(ctx).Warn("reconciling a task that ignored its kill failed", "task_id", taskID, "err", err)
		}
	}
	err := t.killNow(ctx, taskID, agentID, reason)
	if err != nil {
		t.attempts.mu.Lock()
		delete(t.attempts.lastKill, taskID) // not sent: the retry may send it
		t.attempts.mu.Unlock()
	}
	return err
}

// killNow sends a KILL for taskID. Tasks of no live attempt (strays, a
// task back from an unreachable agent) are killed on every update that
// shows them alive: a KILL sent while their agent was away may be lost.
func (t *term) killNow(ctx context.Context, taskID, agentID, reason string) error {
	t.m.kills.WithLabelValues(reason).Inc()
	t.logger(ctx).Info("killing task", "task_id", taskID, "agent_id", agentID, "reason", reason)
	if err := t.sched.Kill(ctx, taskID, agentID); err != nil {
		return fmt.Errorf("kill %s: %w", taskID, err)
	}
	return nil
}

// EventHandler implementation: called from the subscription's goroutine
// with its context.

// Subscribed starts Mesos reconciliation and resets offer state.
func (t *term) Subscribed(ctx context.Context, frameworkID string) {
	t.m.mesosConnected.Set(1)
	t.log.Info("subscribed to mesos", "framework_id", frameworkID)
	t.launcher.send(ctx, launcherMsg{kind: msgReset})
	t.recon.subscribed()
}

// Offers hands offers to the launcher.
func (t *term) Offers(ctx context.Context, offers []mesos.Offer) {
	t.launcher.send(ctx, launcherMsg{kind: msgOffers, offers: offers})
}

// Rescind drops an offer.
func (t *term) Rescind(ctx context.Context, id mesos.OfferID) {
	t.launcher.send(ctx, launcherMsg{kind: msgRescind, offerID: id.Value})
}

// Update queues a status update for the status writer.
func (t *term) Update(ctx context.Context, st mesos.TaskStatus) {
	t.writer.submitUpdate(ctx, st)
}

// Failure logs a lost agent; its tasks' updates arrive separately.
func (t *term) Failure(_ context.Context, agentID string) {
	t.log.Warn("mesos agent failure", "agent_id", agentID)
}

// Disconnected voids offers until the next subscription.
func (t *term) Disconnected(ctx context.Context, err error) {
	t.m.mesosConnected.Set(0)
	t.log.Warn("disconnected from mesos", "err", err)
	t.launcher.send(ctx, launcherMsg{kind: msgDisconnected})
}

var _ EventHandler = (*term)(nil)
