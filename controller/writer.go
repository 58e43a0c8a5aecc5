package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// mutation is a controller-initiated status change, evaluated by the
// status writer against the freshest copy of the Run so that concurrent
// writers never overwrite each other. It returns nil to write nothing.
type mutation func(run *apis.Run, now time.Time) *statusChange

// statusChange is what a mutation makes of a Run.
type statusChange struct {
	// status replaces the Run's status.
	status apis.RunStatus
	// finishTaskID, when set, ends that attempt in the same write.
	finishTaskID string
	// events are recorded once the change is written.
	events []apis.RunEvent
}

type writeReq struct {
	name   string
	update *mesos.TaskStatus // a Mesos status update, or
	mutate mutation          // a controller change, or
	group  []writeReq        // changes that must share one batch
	// launch, with mutate, is an attempt to record in the same write
	// (StatusUpdate.Attempt); once committed it joins the registry
	// before anything else of the batch happens.
	launch *liveAttempt
	uid    string // with launch: the UID of the Run it was decided for
	acked  bool   // the update was acknowledged on receipt (earlyAck)
	// ackSent, with acked: when that acknowledgement was sent (UnixNano
	// of the clock), 0 until then.
	ackSent *atomic.Int64
	done    chan error // optional; receives the outcome
}

// namedMutation is one Run's change of a mutateAll.
type namedMutation struct {
	name string
	m    mutation
}

// statusWriter is the single owner of Run status writes in a term. It
// takes the requests queued when a batch may start (up to
// StatusBatchSize; with another batch committing, those that arrive
// within StatusBatchWindow too), applies them
// in arrival order to the Runs read at batch time, commits one
// UpdateStatuses entry, and only then acknowledges the Mesos updates.
type statusWriter struct {
	writerDeps
	in chan writeReq
}

// writerDeps are the status writer's collaborators, given at construction.
type writerDeps struct {
	store    Store
	clock    clock.Clock
	cfg      Config // StatusBatchSize, StatusBatchWindow
	m        *metrics
	log      *slog.Logger
	attempts *registry      // live attempts, ended here when their task is
	queue    *queue         // a written Run is reconciled again
	events   *eventRecorder // events of the changes written
	// apply maps a Mesos update of the Run's current attempt to its
	// status; ack acknowledges an update once committed; kill kills a
	// stray task. tryAck queues an acknowledgement without blocking and
	// reports whether it did (nil: none before the write); it stores in
	// sent the time (UnixNano) the acknowledgement went out.
	apply  func(run *apis.Run, st *mesos.TaskStatus, now time.Time) transition
	ack    func(ctx context.Context, st mesos.TaskStatus)
	tryAck func(st mesos.TaskStatus, sent *atomic.Int64) bool
	kill   func(ctx context.Context, taskID, agentID, reason string) error
}

func newStatusWriter(d writerDeps) *statusWriter {
	return &statusWriter{writerDeps: d, in: make(chan writeReq, 8192)}
}

// submitUpdate queues a Mesos status update for writing. A TASK_STAGING
// or TASK_STARTING update is acknowledged at once rather than after its
// write commits (earlyAck): the agent forwards a task's next update only
// once the previous one is acknowledged, so waiting would put a whole
// commit and an ACKNOWLEDGE round trip between TASK_STARTING and
// TASK_RUNNING on every launch; acknowledged early, TASK_RUNNING usually
// joins TASK_STARTING's write.
func (w *statusWriter) submitUpdate(ctx context.Context, st mesos.TaskStatus) {
	name, _ := taskRunName(st.TaskID.Value)
	req := writeReq{name: name, update: &st}
	if earlyAck(st.GetState()) && w.tryAck != nil {
		// With the ackers' queue full, it is acknowledged after its
		// write, as any other.
		sent := new(atomic.Int64)
		if req.acked = w.tryAck(st, sent); req.acked {
			req.ackSent = sent
		}
	}
	select {
	case w.in <- req:
	case <-ctx.Done():
	}
}

// earlyAck reports whether an update of this state may be acknowledged
// before its write commits. Only the states before TASK_RUNNING qualify:
// what they say (the task is on its way) is superseded by the update
// Mesos sends next, which is acknowledged only once committed, and a
// leader that loses the write reconciles every live attempt after it
// subscribes (mesos-api.md §6.3), learning the task's latest state. A
// TASK_RUNNING or terminal update is acknowledged only after its commit:
// Mesos keeps re-sending it until then, so a failed write cannot lose it.
func earlyAck(s mesos.TaskState) bool {
	return s == mesos.TASK_STAGING || s == mesos.TASK_STARTING
}

// mutate submits m for name and, if wait, blocks until it is committed.
func (w *statusWriter) mutate(ctx context.Context, name string, m mutation, wait bool) error {
	req := writeReq{name: name, mutate: m}
	if wait {
		req.done = make(chan error, 1)
	}
	select {
	case w.in <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	if !wait {
		return nil
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// mutateAll submits muts as one request, so that they are committed in
// the same batch (one UpdateStatuses entry), and waits for it. The error
// joins the failures of the single writes.
func (w *statusWriter) mutateAll(ctx context.Context, muts []namedMutation) error {
	if len(muts) == 0 {
		return nil
	}
	req := writeReq{group: make([]writeReq, len(muts))}
	for i, m := range muts {
		req.group[i] = writeReq{name: m.name, mutate: m.m, done: make(chan error, 1)}
	}
	select {
	case w.in <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	var errs []error
	for _, r := range req.group {
		select {
		case err := <-r.done:
			errs = append(errs, err)
		case <-ctx.Done():
			return ctx.Err()
		}
	}
	return errors.Join(errs...)
}

// flatten replaces each group of a batch with its members, in order.
func flatten(batch []writeReq) []writeReq {
	if !slices.ContainsFunc(batch, func(r writeReq) bool { return r.group != nil }) {
		return batch
	}
	out := make([]writeReq, 0, len(batch))
	for _, r := range batch {
		if r.group != nil {
			out = append(out, r.group...)
		} else {
			out = append(out, r)
		}
	}
	return out
}

// launch records a new attempt and points the Run's status at it
// (launchMutation) in one write, and waits until it is committed: then the
// attempt is live in the registry and its task may be launched. Before,
// the attempt was one Raft entry and its Starting status another, in
// sequence on every launch's way to Running.
// uid is the UID of the Run the launch was decided for; the write fails
// when the Run is now another, or has ended, or is cancelled or deleted.
func (w *statusWriter) launch(ctx context.Context, uid string, a liveAttempt) error {
	req := writeReq{name: a.Run, mutate: launchMutation(a.Attempt, a.hostname, a.ports), launch: &a, uid: uid, done: make(chan error, 1)}
	select {
	case w.in <- req:
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.done:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// writerPipeline is how many batches may be committing at once. A batch
// takes a Raft commit (tens of milliseconds on a loaded disk); with one
// at a time, every write that arrived meanwhile waited for it and then for
// its own, so each status step on a Run's way to Running cost about 1.5
// commits. Two batches never write the same Run: a request for a Run of a
// batch in flight waits for the next batch after it, so every batch still
// reads, and writes over, the Run as the previous write of it left it.
const writerPipeline = 2

// startingHold is how long the status writer holds a TASK_STAGING or
// TASK_STARTING update that was acknowledged on receipt, waiting for its
// task's next update, counted from the update's arrival or from the
// sending of its acknowledgement, whichever is later (up to
// startingHoldMax after its arrival). The agent sends
// TASK_RUNNING as soon as the acknowledgement reaches it, a few
// milliseconds later; but in a burst the acknowledgement waits behind
// hundreds of others for an acker, longer than the hold: counted from
// arrival alone, the hold ended first and 0.8 of 3 status writes per Run
// were TASK_STARTING alone (3.8 instead of 3.0 in a burst of 3,000 Runs).
// Written alone,
// TASK_STARTING cost a Raft entry's worth of writes of the whole Run (the
// write, its replication and FSM apply on every member, a watch event, a
// reconcile), and TASK_RUNNING, arriving while it committed, waited for
// that commit and then for its own. Held, the two make one write, one
// commit after TASK_RUNNING arrives. An update still held when the term
// ends is lost like any early-acknowledged one (earlyAck): the next
// leader reconciles. One whose task sends nothing more is written when
// the hold ends, so a task slow to start (an image pull) shows
// TASK_STARTING that much later.
const startingHold = 100 * time.Millisecond

// startingHoldMax bounds how long a starting update is held while its
// acknowledgement waits for an acker: past it, it is written anyway.
const startingHoldMax = time.Second

// heldUpdate is an early-acknowledged starting update the writer holds
// until its task's next request or until.
type heldUpdate struct {
	req   writeReq
	until time.Time
	since time.Time // when it was first held
}

// holdable reports whether r is a starting update that may wait for its
// task's next one: acknowledged already, so the agent is free to send it.
// One acknowledged only after its write must go at once: the agent sends
// nothing more until then.
func holdable(r writeReq) bool {
	return r.update != nil && r.acked && r.group == nil && earlyAck(r.update.GetState())
}

// holdStarting takes the holdable requests of reqs, arrived at at, into
// held (for startingHold) and puts the held update of a Run back in front of that Run's
// next request, so that each Run's writes keep their order. It returns
// the requests to write and what is held now, both in arrival order.
func holdStarting(reqs []writeReq, held []heldUpdate, at time.Time) (out []writeReq, stillHeld []heldUpdate) {
	if len(reqs) == 0 {
		return nil, held
	}
	names := make(map[string]bool, len(held))
	for _, h := range held {
		names[h.req.name] = true
	}
	for _, r := range reqs {
		for _, n := range reqNames(r) {
			if !names[n] {
				continue
			}
			i := slices.IndexFunc(held, func(h heldUpdate) bool { return h.req.name == n })
			out = append(out, held[i].req)
			held = slices.Delete(held, i, i+1)
			delete(names, n)
		}
		if holdable(r) {
			held = append(held, heldUpdate{req: r, until: at.Add(startingHold), since: at})
			names[r.name] = true
			continue
		}
		out = append(out, r)
	}
	return out, held
}

// releaseDue takes out of held the updates whose hold ended by now, in
// arrival order. A hold ends startingHold after the update arrived or
// after its acknowledgement was sent, whichever is later, and at the
// latest startingHoldMax after it arrived; an acknowledgement not sent
// yet is looked at again startingHold from now.
func releaseDue(held []heldUpdate, now time.Time) (due []writeReq, stillHeld []heldUpdate) {
	for _, h := range held {
		if h.until.After(now) {
			stillHeld = append(stillHeld, h)
			continue
		}
		if s := h.req.ackSent; s != nil && now.Before(h.since.Add(startingHoldMax)) {
			sent := s.Load()
			if sent == 0 {
				h.until = now.Add(startingHold)
				stillHeld = append(stillHeld, h)
				continue
			}
			if end := time.Unix(0, sent).Add(startingHold); end.After(now) {
				h.until = end
				stillHeld = append(stillHeld, h)
				continue
			}
		}
		due = append(due, h.req)
	}
	return due, stillHeld
}

// nextHoldEnd is the earliest end of a hold in held, which is not empty.
func nextHoldEnd(held []heldUpdate) time.Time {
	t := held[0].until
	for _, h := range held[1:] {
		if h.until.Before(t) {
			t = h.until
		}
	}
	return t
}

func (w *statusWriter) run(ctx context.Context) {
	cfg := w.cfg
	var (
		wg       sync.WaitGroup
		carried  []writeReq         // requests that wait for a batch in flight, in arrival order
		inflight = map[string]int{} // Run name → batches in flight writing it
		running  int                // batches in flight
		finished = make(chan []string, writerPipeline)
		held     []heldUpdate // starting updates held for their task's next one (startingHold)
		holdC    <-chan struct{}
		stopHold = func() {}
	)
	defer wg.Wait()
	defer func() { stopHold() }()
	release := func(names []string) {
		running--
		for _, n := range names {
			if inflight[n]--; inflight[n] <= 0 {
				delete(inflight, n)
			}
		}
	}
	for {
		if len(held) > 0 && holdC == nil {
			holdC, stopHold = clock.After(w.clock, nextHoldEnd(held).Sub(w.clock.Now()))
		}
		var fresh []writeReq
		if running >= writerPipeline || !anyFree(carried, inflight) {
			// Nothing to commit yet: wait for a request (when a batch
			// may start), for a batch to finish or for a hold to end.
			var in <-chan writeReq
			if running < writerPipeline {
				in = w.in
			}
			select {
			case <-ctx.Done():
				return
			case names := <-finished:
				release(names)
				continue
			case <-holdC:
				holdC = nil
				var due []writeReq
				due, held = releaseDue(held, w.clock.Now())
				carried = append(carried, due...)
				continue
			case r := <-in:
				fresh = append(fresh, r)
			}
		}
		// With nothing committing, what is queued goes at once: on a
		// quiet system a batching window only delays every write. While
		// a batch commits, the second one gathers for StatusBatchWindow,
		// so that under load a Run costs few Raft entries (each is a
		// commit on every member).
		if running == 0 {
			fresh = drainQueued(w.in, fresh, cfg.StatusBatchSize)
		} else {
			var ok bool
			if fresh, ok = collectBatch(ctx, w.in, fresh, cfg.StatusBatchSize, cfg.StatusBatchWindow); !ok {
				return
			}
		}
		// Finished batches free their Runs before this one is split.
	drain:
		for {
			select {
			case names := <-finished:
				release(names)
			default:
				break drain
			}
		}
		// Updates whose hold ended go first (they arrived before
		// anything fresh); fresh starting updates are held, and a held
		// one goes with its Run's next request.
		at := w.clock.Now()
		var due []writeReq
		due, held = releaseDue(held, at)
		fresh, held = holdStarting(fresh, held, at)
		fresh = append(due, fresh...)
		var now []writeReq
		now, carried = splitBatch(append(carried, fresh...), inflight, cfg.StatusBatchSize)
		if len(now) == 0 {
			continue
		}
		var names []string
		seen := map[string]bool{}
		for _, r := range now {
			for _, n := range reqNames(r) {
				if !seen[n] {
					seen[n] = true
					names = append(names, n)
					inflight[n]++
				}
			}
		}
		running++
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.commit(ctx, now)
			finished <- names // buffered for every batch in flight
		}()
	}
}

// reqNames is the Runs a request writes: its own, or its group's.
func reqNames(r writeReq) []string {
	if r.group == nil {
		return []string{r.name}
	}
	names := make([]string, len(r.group))
	for i, g := range r.group {
		names[i] = g.name
	}
	return names
}

// splitBatch divides reqs, in arrival order, into those a batch may
// commit now (at most max) and those that wait, both in order. A request
// waits while any of its Runs is written by a batch in flight or by an
// earlier request that waits, so the writes of one Run keep their order
// and a group stays whole.
func splitBatch(reqs []writeReq, inflight map[string]int, max int) (now, wait []writeReq) {
	blocked := map[string]bool{}
	for _, r := range reqs {
		names := reqNames(r)
		hold := len(now) >= max
		for _, n := range names {
			if inflight[n] > 0 || blocked[n] {
				hold = true
			}
		}
		if hold {
			wait = append(wait, r)
			for _, n := range names {
				blocked[n] = true
			}
			continue
		}
		now = append(now, r)
	}
	return now, wait
}

// anyFree reports whether a carried request may go now.
func anyFree(carried []writeReq, inflight map[string]int) bool {
	now, _ := splitBatch(carried, inflight, 1)
	return len(now) > 0
}

// pendingWrite is one Run's accumulated change within a batch.
type pendingWrite struct {
	run      *apis.Run
	orig     apis.RunStatus
	finished []string // task IDs whose attempt ends with this write
	acks     []mesos.TaskStatus
	done     []chan error
	retry    bool
	launch   *liveAttempt // recorded with this write
}

func (w *statusWriter) commit(ctx context.Context, batch []writeReq) {
	batch = flatten(batch)
	now := w.clock.Now()
	byName := map[string]*pendingWrite{}
	var order []string
	var events []apis.EventRecord
	var strays []mesos.TaskStatus
	var acksNow []mesos.TaskStatus

	for _, r := range batch {
		if r.update != nil {
			w.attempts.updated(r.update.TaskID.Value, now)
		}
		p, ok := byName[r.name]
		if !ok {
			run, err := w.store.GetRun(ctx, r.name)
			if err != nil && !errors.Is(err, apis.ErrNotFound) {
				reply(r.done, fmt.Errorf("read run %s: %w", r.name, err))
				continue // an update stays unacknowledged; Mesos re-sends it
			}
			p = &pendingWrite{run: run}
			if run != nil {
				p.orig = run.Status
			}
			byName[r.name] = p
			order = append(order, r.name)
		}
		if r.update != nil {
			st := *r.update
			taskID := st.TaskID.Value
			if p.run == nil || !w.attempts.current(taskID) || containsStr(p.finished, taskID) {
				// No live attempt owns this task: kill it if it is alive.
				if !isTerminal(st.GetState()) {
					strays = append(strays, st)
				}
				if !r.acked {
					acksNow = append(acksNow, st)
				}
				continue
			}
			if p.run.Status.TaskID != taskID {
				// The status does not point at its attempt yet (a new
				// leader adopting a task): point it there first.
				if att, ok := w.attempts.get(r.name); ok && att.TaskID == taskID {
					if ch := launchMutation(att.Attempt, att.hostname, att.ports)(p.run, now); ch != nil {
						p.run.Status = ch.status
						for _, e := range ch.events {
							events = append(events, apis.EventRecord{Run: r.name, Event: e})
						}
					}
				}
			}
			tr := w.apply(p.run, &st, now)
			p.run.Status = tr.status
			if tr.finish {
				p.finished = append(p.finished, taskID)
			}
			if tr.retry {
				p.retry = true
			}
			for _, e := range tr.events {
				events = append(events, apis.EventRecord{Run: r.name, Event: e})
			}
			if !r.acked {
				p.acks = append(p.acks, st)
			}
			continue
		}
		if p.run == nil {
			reply(r.done, fmt.Errorf("run %s: %w", r.name, apis.ErrNotFound))
			continue
		}
		if r.launch != nil {
			if _, live := w.attempts.get(r.name); live || p.launch != nil {
				reply(r.done, fmt.Errorf("launch %s of %s: %w: %w", r.launch.TaskID, r.name, apis.ErrAttemptLive, apis.ErrConflict))
				continue
			}
			if cur := p.run; cur.Metadata.UID != r.uid || cur.Metadata.DeletionTimestamp != nil || cur.Spec.Cancel || cur.Status.Phase.Terminal() {
				reply(r.done, fmt.Errorf("launch %s of %s: the run changed since the launch was planned: %w", r.launch.TaskID, r.name, apis.ErrConflict))
				continue
			}
			p.launch = r.launch
		}
		if ch := r.mutate(p.run, now); ch != nil {
			p.run.Status = ch.status
			if ch.finishTaskID != "" {
				p.finished = append(p.finished, ch.finishTaskID)
			}
			for _, e := range ch.events {
				events = append(events, apis.EventRecord{Run: r.name, Event: e})
			}
		}
		if r.done != nil {
			p.done = append(p.done, r.done)
		}
	}

	var updates []apis.StatusUpdate
	var owners []*pendingWrite
	for _, name := range order {
		p := byName[name]
		if p.run == nil {
			continue
		}
		if len(p.finished) == 0 && p.launch == nil && p.orig.Equal(&p.run.Status) {
			continue
		}
		u := apis.StatusUpdate{Run: apis.RunRef{Name: name, UID: p.run.Metadata.UID}, Status: p.run.Status}
		if p.launch != nil {
			a := p.launch.Attempt
			u.Attempt = &a
		}
		if n := len(p.finished); n > 0 {
			u.FinishTaskID = p.finished[n-1]
		}
		updates = append(updates, u)
		owners = append(owners, p)
	}

	var batchErr error
	itemErrs := make([]error, len(updates))
	if len(updates) > 0 {
		w.m.statusBatch.Observe(float64(len(updates)))
		var errs []error
		began := time.Now()
		errs, batchErr = w.store.UpdateStatuses(ctx, updates)
		w.m.statusWrite.Observe(time.Since(began).Seconds())
		if batchErr == nil {
			copy(itemErrs, errs)
		}
	}
	for i, p := range owners {
		err := batchErr
		if err == nil {
			err = itemErrs[i]
		}
		if err != nil {
			if ctx.Err() == nil {
				w.log.Warn("status write failed", "run", p.run.Metadata.Name, "err", err)
			}
			for _, d := range p.done {
				reply(d, fmt.Errorf("write status of %s: %w", p.run.Metadata.Name, err))
			}
			p.done = nil
			if !errors.Is(err, apis.ErrNotFound) {
				p.acks = nil // unacknowledged: Mesos re-sends
			}
			continue
		}
		for _, id := range p.finished {
			w.attempts.finish(p.run.Metadata.Name, id)
		}
		if p.launch != nil {
			w.attempts.add(*p.launch)
		}
		if p.retry {
			w.m.retries.Inc()
		}
	}
	for _, name := range order {
		p := byName[name]
		for _, d := range p.done {
			reply(d, nil)
		}
		for _, st := range p.acks {
			w.ack(ctx, st)
		}
		if p.run != nil {
			w.queue.Add(name)
		}
	}
	for _, st := range acksNow {
		w.ack(ctx, st)
	}
	w.events.record(events...)
	for _, st := range strays {
		agent := ""
		if st.AgentID != nil {
			agent = st.AgentID.Value
		}
		w.m.strayKills.Inc()
		if err := w.kill(ctx, st.TaskID.Value, agent, "Stray"); err != nil && ctx.Err() == nil {
			w.log.Warn("kill stray task failed", "task_id", st.TaskID.Value, "err", err)
		}
		if name, ok := taskRunName(st.TaskID.Value); ok {
			w.events.record(apis.EventRecord{Run: name, Event: event(now, apis.EventWarning, "Killing",
				"killing stray task %s (%s): it is not the Run's live attempt", st.TaskID.Value, st.GetState())})
		}
	}
}

func reply(ch chan error, err error) {
	if ch != nil {
		ch <- err
	}
}

func containsStr(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// eventRecorder batches Run events into AppendEvents calls. Events are
// best effort: when the buffer is full they are dropped and counted.
type eventRecorder struct {
	store   Store
	cfg     Config // StatusBatchSize, StatusBatchWindow
	dropped prometheus.Counter
	log     *slog.Logger
	in      chan apis.EventRecord
}

func newEventRecorder(store Store, cfg Config, dropped prometheus.Counter, log *slog.Logger) *eventRecorder {
	return &eventRecorder{store: store, cfg: cfg, dropped: dropped, log: log, in: make(chan apis.EventRecord, 8192)}
}

func (r *eventRecorder) record(evs ...apis.EventRecord) {
	for _, e := range evs {
		select {
		case r.in <- e:
		default:
			r.dropped.Inc()
		}
	}
}

func (r *eventRecorder) run(ctx context.Context) {
	cfg := r.cfg
	for {
		var batch []apis.EventRecord
		select {
		case <-ctx.Done():
			return
		case e := <-r.in:
			batch = append(batch, e)
		}
		batch, ok := collectBatch(ctx, r.in, batch, cfg.StatusBatchSize, 10*cfg.StatusBatchWindow)
		if !ok {
			return
		}
		if err := r.store.AppendEvents(ctx, batch); err != nil && ctx.Err() == nil {
			r.log.Warn("append run events failed", "events", len(batch), "err", err)
		}
	}
}

// drainQueued adds to batch what is queued on in now, up to max items,
// without waiting for more.
func drainQueued[T any](in <-chan T, batch []T, max int) []T {
	for len(batch) < max {
		select {
		case item := <-in:
			batch = append(batch, item)
		default:
			return batch
		}
	}
	return batch
}

// collectBatch adds to batch what arrives on in within window, up to max
// items. The window is plain wall time: it bounds latency, not behaviour.
// It reports false when ctx ended first.
func collectBatch[T any](ctx context.Context, in <-chan T, batch []T, max int, window time.Duration) ([]T, bool) {
	timer := time.NewTimer(window)
	defer timer.Stop()
	done := timer.C
	for len(batch) < max {
		select {
		case item := <-in:
			batch = append(batch, item)
		case <-done:
			return batch, true
		case <-ctx.Done():
			return batch, false
		}
	}
	return batch, true
}
