package controller

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
	"github.com/sprint-project/sprint/internal/cron"
)

// The scheduler fires Schedules on the leader: one goroutine per leader
// term owns every piece of Schedule state (the Schedules as last seen, the
// Runs each owns, a heap of due times) and keeps one timer, for the
// earliest due firing. Store commits run in goroutines of their own,
// bounded in number, and report back to the loop, which alone decides.
//
// Exactly once: a firing is computed from status.lastScheduleTime (or the
// creation time), committed with that time as a precondition
// (apis.Firing.PreviousScheduleTime), together with its Runs and the new
// lastScheduleTime in one Raft entry. A commit refused with ErrConflict
// means another leader committed this or a later firing: the Schedule is
// read again and the plan recomputed, never retried as it was.

const (
	// maxFiringsPerBatch bounds the firings of one FireSchedules call:
	// the firings due together share a Raft entry (the store's commit
	// rate, not the firing logic, bounds how many Schedules can fire in
	// the same second).
	maxFiringsPerBatch = 256
	// maxBatchesInFlight bounds concurrent FireSchedules calls: a firing
	// due while they are all in flight goes in the next batch, with
	// whatever else became due meanwhile; a lone firing goes at once.
	maxBatchesInFlight = 4
	// maxStatusInFlight bounds concurrent UpdateScheduleStatus commits.
	maxStatusInFlight = 64
	// statusWindow batches status work: changes within it (a firing and
	// the Runs it created turning Pending) become one write per Schedule.
	statusWindow = 100 * time.Millisecond
	// blockedRetry is how soon a Schedule that cannot fire (its template
	// is refused) is looked at again, besides on every change of it.
	blockedRetry = time.Minute
	// maxActiveNames bounds status.active: a Schedule whose Runs never
	// end must not grow its status without limit.
	maxActiveNames = 256
	// maxStatusDeferrals bounds how many status windows in a row wait
	// for firings in flight.
	maxStatusDeferrals = 10
	// historyBatch bounds the Runs deleted per DeleteRuns entry.
	historyBatch = 100
)

// scheduledRun is what the scheduler keeps of a Run a Schedule fired.
type scheduledRun struct {
	name, uid, rv string
	ownerUID      string
	phase         apis.RunPhase
	// firing is the firing time in Unix seconds, from the name; ok is
	// false for a Run not named by a firing.
	firing   int64
	fromName bool
	created  time.Time
	finished time.Time
	// deleting: a history deletion was sent; do not send it again.
	deleting bool
}

// schedEntry is one Schedule as the scheduler tracks it.
type schedEntry struct {
	obj *apis.Schedule
	// cron is the parsed spec.schedule (nil for interval mode or when it
	// does not parse); cronKey is what it was parsed from.
	cron    *cron.Schedule
	cronKey string
	// interval is the parsed spec.interval.
	interval time.Duration
	// parents are spec.dependsOn's Schedules when the Schedule fires on
	// them alone (neither spec.schedule nor spec.interval).
	parents []string
	// waiting says which parent Schedule does not exist, if one.
	waiting string
	// message says why the spec cannot fire ("" when it can); refused
	// says why the last firing was refused (its template), until one is
	// committed.
	message, refused string
	// due is when the next firing is to be committed (zero: none
	// planned); next is status.nextScheduleTime.
	due, next time.Time
	heapIdx   int
	// firing: a commit is in flight; the entry is out of the heap.
	firing bool
	// taken is a firing time whose Run name another Run holds: it is
	// committed as missed.
	taken time.Time
	// retry backs off failed commits; blockedUntil delays the next
	// attempt after a refusal.
	retry        backoff.Retry
	blockedUntil time.Time
	// written is the status last written (or, before the first write,
	// read) for the fields the scheduler owns; a write happens only when
	// they change. The scheduler is their only writer while it leads.
	written apis.ScheduleStatus
	writing bool
}

// scheduler is the per-term Schedule firing loop.
type scheduler struct {
	store  Store
	clock  clock.Clock
	cfg    Config
	policy apis.Policy
	m      *metrics
	log    *slog.Logger
	// liveAttempt tells whether a Run has a live attempt (the term's
	// registry): such a Run is never deleted for history.
	liveAttempt func(name string) bool

	// Everything below is owned by the loop goroutine.
	entries  map[string]*schedEntry
	due      dueHeap
	owned    map[string]map[string]*scheduledRun // schedule name → Run name → Run
	ownerOf  map[string]string                   // Run name → schedule name, of every Run in owned
	children map[string]map[string]struct{}      // parent Schedule → the Schedules that fire on it
	dirty    map[string]struct{}                 // statuses to recompute
	trim     map[string]struct{}                 // histories to check
	inflight int                                 // firings in flight
	batches  int                                 // FireSchedules calls in flight
	statusN  int
	// statusDeferred counts status windows deferred in a row for firings.
	statusDeferred int
	deleting       bool
	wake           chan struct{}
	timer          clock.Timer // for the earliest planned firing, at timerAt
	timerAt        time.Time
	flush          *time.Timer
	flushArmd      bool
	results        chan func()
	wg             sync.WaitGroup
}

func newScheduler(store Store, clk clock.Clock, cfg Config, m *metrics, log *slog.Logger, liveAttempt func(string) bool) *scheduler {
	return &scheduler{
		store: store, clock: clk, cfg: cfg, policy: cfg.policy(), m: m, log: log.With("component", "scheduler"),
		liveAttempt: liveAttempt,
		entries:     map[string]*schedEntry{},
		owned:       map[string]map[string]*scheduledRun{},
		ownerOf:     map[string]string{},
		children:    map[string]map[string]struct{}{},
		dirty:       map[string]struct{}{},
		trim:        map[string]struct{}{},
		wake:        make(chan struct{}, 1),
		results:     make(chan func(), maxBatchesInFlight+maxStatusInFlight+2),
	}
}

// scheduleOwner returns the Schedule that controls r, if any.
func scheduleOwner(r *apis.Run) (name, uid string, ok bool) {
	if o := apis.ControllerOf(&r.Metadata); o != nil && o.Kind == apis.KindSchedule && o.Name != "" {
		return o.Name, o.UID, true
	}
	return "", "", false
}

// resetRuns forgets every Run, before a (re)listing.
func (s *scheduler) resetRuns() {
	s.owned = map[string]map[string]*scheduledRun{}
	s.ownerOf = map[string]string{}
}

// seedRun records a Run read by the term's initial scan; it is called
// before run starts, from the term's goroutine.
func (s *scheduler) seedRun(r *apis.Run) { s.observeRun(apis.Added, r) }

// observeRun follows one Run change. Runs of every Schedule are kept,
// known or not yet: the Schedule's own event may come later. A Run that
// is deleted, or released from its Schedule (deleted with
// propagationPolicy=Orphan), is forgotten.
func (s *scheduler) observeRun(typ apis.EventType, r *apis.Run) {
	name := r.Metadata.Name
	owner, ownerUID, ok := scheduleOwner(r)
	if prev, known := s.ownerOf[name]; known && (typ == apis.Deleted || !ok || prev != owner) {
		runs := s.owned[prev]
		delete(runs, name)
		if len(runs) == 0 {
			delete(s.owned, prev)
		}
		delete(s.ownerOf, name)
		s.touch(prev, true)
	}
	if !ok || typ == apis.Deleted {
		return
	}
	runs := s.owned[owner]
	if runs == nil {
		runs = map[string]*scheduledRun{}
		s.owned[owner] = runs
	}
	s.ownerOf[name] = owner
	old := runs[name]
	sr := &scheduledRun{name: name, uid: r.Metadata.UID, rv: r.Metadata.ResourceVersion, ownerUID: ownerUID, phase: r.Status.Phase}
	if r.Metadata.CreationTimestamp != nil {
		sr.created = *r.Metadata.CreationTimestamp
	}
	sr.firing, sr.fromName = firingOf(owner, name)
	if sr.phase.Terminal() {
		sr.finished = finishedAt(r)
	}
	if old != nil && old.uid == sr.uid {
		sr.deleting = old.deleting
		if old.phase == sr.phase {
			runs[name] = sr
			return
		}
	}
	runs[name] = sr
	s.touch(owner, sr.phase.Terminal())
}

// addOwned records a Run this loop just fired, live until the watch says
// otherwise.
func (s *scheduler) addOwned(schedule string, sr *scheduledRun) {
	runs := s.owned[schedule]
	if runs == nil {
		runs = map[string]*scheduledRun{}
		s.owned[schedule] = runs
	}
	if runs[sr.name] == nil {
		runs[sr.name] = sr
		s.ownerOf[sr.name] = schedule
	}
}

// touch marks a Schedule's status for recomputation and, when a Run of it
// ended or went, its history for trimming and its plan (interval mode
// waits for the batch) for recomputation.
func (s *scheduler) touch(schedule string, ended bool) {
	e := s.entries[schedule]
	if e == nil {
		return
	}
	s.dirty[schedule] = struct{}{}
	if ended {
		s.trim[schedule] = struct{}{}
		if e.interval > 0 {
			s.plan(e)
		}
		s.planChildren(schedule)
	}
	s.armFlush()
}

// planChildren replans the Schedules that fire on parent.
func (s *scheduler) planChildren(parent string) {
	for c := range s.children[parent] {
		if ce := s.entries[c]; ce != nil {
			s.plan(ce)
			s.dirty[c] = struct{}{}
			s.armFlush()
		}
	}
}

// link records e's parents in s.children, replacing what it had.
func (s *scheduler) link(name string, old, parents []string) {
	for _, p := range old {
		delete(s.children[p], name)
		if len(s.children[p]) == 0 {
			delete(s.children, p)
		}
	}
	for _, p := range parents {
		if s.children[p] == nil {
			s.children[p] = map[string]struct{}{}
		}
		s.children[p][name] = struct{}{}
	}
}

// runsOf returns the Runs the entry's Schedule (this incarnation) owns.
func (s *scheduler) runsOf(e *schedEntry) []*scheduledRun {
	var out []*scheduledRun
	for _, r := range s.owned[e.obj.Metadata.Name] {
		if r.ownerUID == "" || r.ownerUID == e.obj.Metadata.UID {
			out = append(out, r)
		}
	}
	return out
}

// run is the scheduler loop; it returns when ctx ends, after every commit
// it started has returned.
func (s *scheduler) run(ctx context.Context, runIndex uint64) {
	s.flush = time.NewTimer(time.Hour)
	s.flush.Stop()
	defer func() {
		s.flush.Stop()
		if s.timer != nil {
			s.timer.Stop()
		}
		s.wg.Wait()
	}()

	var schedW ScheduleWatcher
	var schedIndex uint64
	if err := retry(ctx, s.clock, func() error {
		idx, err := s.loadSchedules(ctx)
		if err == nil {
			schedIndex = idx
		}
		return err
	}, s.log); err != nil {
		return
	}
	runW, err := s.store.WatchRuns(ctx, runIndex)
	if err != nil {
		runW = nil // relisted below
	}
	s.log.Info("scheduler started", "schedules", len(s.entries))
	for ctx.Err() == nil {
		if schedW == nil {
			if schedW = s.watchSchedules(ctx, &schedIndex); schedW == nil {
				return
			}
		}
		if runW == nil {
			if runW = s.watchRuns(ctx); runW == nil {
				return
			}
		}
		s.fireDue(ctx)
		select {
		case <-ctx.Done():
		case ev, ok := <-schedW.Events():
			if !ok {
				s.log.Warn("schedule watch ended; relisting", "err", schedW.Err())
				schedW.Stop()
				schedW = nil
				continue
			}
			s.observeSchedule(ev)
		case ev, ok := <-runW.Events():
			if !ok {
				s.log.Warn("run watch of the scheduler ended; relisting", "err", runW.Err())
				runW.Stop()
				runW = nil
				continue
			}
			if r := watchedRun(ev); r != nil {
				s.observeRun(ev.Type, r)
			}
		case <-s.wake:
		case <-s.flush.C:
			s.flushArmd = false
			s.flushStatus(ctx)
		case f := <-s.results:
			f()
		}
	}
	if schedW != nil {
		schedW.Stop()
	}
	if runW != nil {
		runW.Stop()
	}
}

func watchedRun(ev apis.WatchEvent) *apis.Run {
	switch o := ev.Object.(type) {
	case *apis.Run:
		return o
	case apis.Run:
		return &o
	}
	return nil
}

func watchedSchedule(ev apis.WatchEvent) *apis.Schedule {
	switch o := ev.Object.(type) {
	case *apis.Schedule:
		return o
	case apis.Schedule:
		return &o
	}
	return nil
}

// loadSchedules (re)reads every Schedule: entries of Schedules gone are
// dropped, the others replaced, and every plan recomputed.
func (s *scheduler) loadSchedules(ctx context.Context) (uint64, error) {
	seen := map[string]bool{}
	idx, err := s.store.EachSchedule(ctx, func(sc *apis.Schedule) error {
		seen[sc.Metadata.Name] = true
		s.upsert(sc)
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("list schedules: %w", err)
	}
	for name := range s.entries {
		if !seen[name] {
			s.remove(name)
		}
	}
	return idx, nil
}

func (s *scheduler) watchSchedules(ctx context.Context, index *uint64) ScheduleWatcher {
	var w ScheduleWatcher
	err := retry(ctx, s.clock, func() error {
		var err error
		if w, err = s.store.WatchSchedules(ctx, *index); err == nil {
			return nil
		}
		idx, lerr := s.loadSchedules(ctx)
		if lerr != nil {
			return lerr
		}
		*index = idx
		return err
	}, s.log)
	if err != nil {
		return nil
	}
	return w
}

// watchRuns relists the Runs of Schedules and watches from there.
func (s *scheduler) watchRuns(ctx context.Context) RunWatcher {
	var w RunWatcher
	err := retry(ctx, s.clock, func() error {
		owned, ownerOf := s.owned, s.ownerOf
		s.resetRuns()
		idx, err := s.store.EachRun(ctx, func(r *apis.Run) error {
			if _, _, ok := scheduleOwner(r); ok {
				s.observeRun(apis.Added, r)
			}
			return nil
		})
		if err != nil {
			s.owned, s.ownerOf = owned, ownerOf
			return fmt.Errorf("list runs: %w", err)
		}
		// Runs gone while the watch was down: their Schedules need a look.
		for name, runs := range owned {
			for rn := range runs {
				if s.owned[name][rn] == nil {
					s.touch(name, true)
					break
				}
			}
		}
		w, err = s.store.WatchRuns(ctx, idx)
		return err
	}, s.log)
	if err != nil {
		return nil
	}
	return w
}

// observeSchedule follows one Schedule change.
func (s *scheduler) observeSchedule(ev apis.WatchEvent) {
	sc := watchedSchedule(ev)
	if sc == nil {
		return
	}
	if ev.Type == apis.Deleted {
		if e := s.entries[sc.Metadata.Name]; e != nil && e.obj.Metadata.UID == sc.Metadata.UID {
			s.remove(sc.Metadata.Name)
		}
		return
	}
	s.upsert(sc)
}

// upsert takes a Schedule as read from the store and replans it.
func (s *scheduler) upsert(sc *apis.Schedule) {
	// A shallow copy: the loop replaces the status fields it tracks,
	// never writes through the watch's (shared) object.
	cp := *sc
	sc = &cp
	name := sc.Metadata.Name
	e := s.entries[name]
	if e == nil || e.obj.Metadata.UID != sc.Metadata.UID {
		if e != nil {
			s.remove(name)
		}
		e = &schedEntry{heapIdx: -1, retry: backoff.Retry{Policy: backoff.Policy{Initial: 100 * time.Millisecond, Max: 30 * time.Second}}}
		e.written = ownedStatus(sc.Status)
		s.entries[name] = e
		s.trim[name] = struct{}{}
	} else if older(sc.Status.LastScheduleTime, e.obj.Status.LastScheduleTime) {
		// A watch event from before a firing this loop committed: the
		// firing stands (the store has it; its own event follows).
		sc.Status.LastScheduleTime = e.obj.Status.LastScheduleTime
		sc.Status.MissedFirings = e.obj.Status.MissedFirings
	}
	if e.obj != nil && e.obj.Metadata.Generation != sc.Metadata.Generation {
		// A changed spec is judged afresh, not held back by a refusal
		// of the old one.
		e.blockedUntil, e.refused = time.Time{}, ""
		e.retry.Reset()
	}
	e.obj = sc
	old := e.parents
	s.parse(e)
	s.link(name, old, e.parents)
	s.plan(e)
	s.planChildren(name)
	s.dirty[name] = struct{}{}
	s.armFlush()
}

func older(a, b *time.Time) bool { return b != nil && (a == nil || a.Before(*b)) }

// remove forgets a Schedule that is gone.
func (s *scheduler) remove(name string) {
	e := s.entries[name]
	if e == nil {
		return
	}
	if e.heapIdx >= 0 {
		heap.Remove(&s.due, e.heapIdx)
	}
	s.link(name, e.parents, nil)
	delete(s.entries, name)
	delete(s.dirty, name)
	delete(s.trim, name)
	s.planChildren(name)
}

// parse parses spec.schedule (when it changed) or spec.interval and sets
// the entry's message when it cannot be used.
func (s *scheduler) parse(e *schedEntry) {
	spec := &e.obj.Spec
	e.message, e.interval, e.parents = "", 0, nil
	switch {
	case spec.Schedule != "":
		key := spec.TimeZone + "\x00" + spec.Schedule
		if e.cron == nil || e.cronKey != key {
			cs, err := cron.Parse(spec.Schedule, spec.TimeZone)
			if err != nil {
				e.cron, e.cronKey = nil, ""
				e.message = fmt.Sprintf("cannot fire: spec.schedule %q in time zone %q: %v", spec.Schedule, spec.TimeZone, err)
				return
			}
			e.cron, e.cronKey = cs, key
		}
	case spec.Interval != "":
		e.cron, e.cronKey = nil, ""
		d, err := time.ParseDuration(spec.Interval)
		if err != nil || d <= 0 {
			e.message = fmt.Sprintf("cannot fire: spec.interval %q is not a positive duration", spec.Interval)
			return
		}
		e.interval = d
	case len(spec.DependsOn) > 0:
		e.cron, e.cronKey = nil, ""
		for _, d := range spec.DependsOn {
			e.parents = append(e.parents, d.Schedule)
		}
	default:
		e.cron, e.cronKey = nil, ""
		e.message = "cannot fire: neither spec.schedule nor spec.interval is set"
	}
}

// base is the time a cron Schedule's next firing is computed from.
func (e *schedEntry) base() time.Time {
	if t := e.obj.Status.LastScheduleTime; t != nil {
		return *t
	}
	if t := e.obj.Metadata.CreationTimestamp; t != nil {
		return *t
	}
	return time.Time{}
}

// plan recomputes when the entry fires next and puts it in the heap.
func (s *scheduler) plan(e *schedEntry) {
	if e.firing {
		return // replanned when the commit returns
	}
	due, next := s.dueTime(e)
	if !due.IsZero() && e.blockedUntil.After(due) {
		due = e.blockedUntil
	}
	if !next.Equal(e.next) {
		s.dirty[e.obj.Metadata.Name] = struct{}{}
		s.armFlush()
	}
	e.due, e.next = due, next
	switch {
	case due.IsZero() && e.heapIdx >= 0:
		heap.Remove(&s.due, e.heapIdx)
	case !due.IsZero() && e.heapIdx >= 0:
		heap.Fix(&s.due, e.heapIdx)
	case !due.IsZero():
		heap.Push(&s.due, e)
	}
	// The loop fires what is due and re-arms its timer after every event.
}

// dueTime is when the entry's next firing is due and what
// status.nextScheduleTime says (both zero when nothing will fire).
func (s *scheduler) dueTime(e *schedEntry) (due, next time.Time) {
	sc := e.obj
	if sc.Spec.Suspend || sc.Metadata.DeletionTimestamp != nil || e.message != "" {
		return time.Time{}, time.Time{}
	}
	switch {
	case e.cron != nil:
		t := e.cron.Next(e.base())
		return t, t
	case e.interval > 0:
		t, ok := s.intervalDue(e)
		if !ok {
			return time.Time{}, time.Time{}
		}
		return t, t
	case len(e.parents) > 0:
		t, ok := s.parentsDue(e)
		if !ok {
			return time.Time{}, time.Time{}
		}
		return t, t
	}
	return time.Time{}, time.Time{}
}

// parentsDue is when a Schedule that fires on its parents (Chronos'
// dependent jobs) is due: once every parent has had a successful firing —
// every Run of it Succeeded — that finished after this Schedule last fired
// (or was created), at the latest of those finishing times, rounded up to
// the second. Computed from the Runs the store holds, it is the same on
// every leader. ok is false while a parent has not.
func (s *scheduler) parentsDue(e *schedEntry) (time.Time, bool) {
	since := e.base()
	e.waiting = ""
	for _, p := range e.parents {
		if s.entries[p] == nil {
			e.waiting = fmt.Sprintf("waiting for parent schedule %q, which does not exist", p)
			return time.Time{}, false
		}
	}
	var due time.Time
	for _, p := range e.parents {
		done, ok := s.lastSuccess(s.entries[p])
		if !ok || !done.After(since) {
			return time.Time{}, false
		}
		if done.After(due) {
			due = done
		}
	}
	due = ceilSecond(due)
	if last := e.obj.Status.LastScheduleTime; last != nil && !due.After(*last) {
		due = last.Add(time.Second)
	}
	return due, true
}

// lastSuccess is when the newest successful firing of pe finished: of the
// firings whose Runs (those the store still holds) all Succeeded, the
// latest completion.
func (s *scheduler) lastSuccess(pe *schedEntry) (time.Time, bool) {
	type firing struct {
		ok  bool
		end time.Time
	}
	firings := map[int64]*firing{}
	for _, r := range s.runsOf(pe) {
		if !r.fromName {
			continue
		}
		f := firings[r.firing]
		if f == nil {
			f = &firing{ok: true}
			firings[r.firing] = f
		}
		if r.phase != apis.PhaseSucceeded {
			f.ok = false
		}
		if r.finished.After(f.end) {
			f.end = r.finished
		}
	}
	var last time.Time
	for _, f := range firings {
		if f.ok && f.end.After(last) {
			last = f.end
		}
	}
	return last, !last.IsZero()
}

// intervalDue is when an interval Schedule's next batch is due: at
// creation for the first; then interval after the last Run of the
// previous batch finished. ok is false while a Run of that batch is live.
// A batch whose Runs are all gone (deleted for history) is taken as
// finished at status.nextScheduleTime's basis: nextScheduleTime if it was
// written, else when it fired.
func (s *scheduler) intervalDue(e *schedEntry) (time.Time, bool) {
	st := &e.obj.Status
	if st.LastScheduleTime == nil {
		return e.base(), true
	}
	last := *st.LastScheduleTime
	end := last
	found := 0
	for _, r := range s.runsOf(e) {
		if !r.fromName || r.firing != last.Unix() {
			continue
		}
		found++
		if !r.phase.Terminal() {
			return time.Time{}, false
		}
		if r.finished.After(end) {
			end = r.finished
		}
	}
	if found == 0 && st.NextScheduleTime != nil && st.NextScheduleTime.After(last) {
		return *st.NextScheduleTime, true
	}
	due := ceilSecond(end.Add(e.interval))
	if !due.After(last) {
		due = last.Add(time.Second)
	}
	return due, true
}

// fireDue starts the commit of the firings due now, in batches of up to
// maxFiringsPerBatch while fewer than maxBatchesInFlight are in flight (a
// returning batch wakes the loop, and the next batch takes everything
// due by then), and sets the timer for the earliest planned one.
func (s *scheduler) fireDue(ctx context.Context) {
	now := s.clock.Now()
	for s.batches < maxBatchesInFlight && len(s.due) > 0 && !s.due[0].due.After(now) {
		var batch []pendingFiring
		for len(batch) < maxFiringsPerBatch && len(s.due) > 0 && !s.due[0].due.After(now) {
			e := heap.Pop(&s.due).(*schedEntry)
			if p, ok := s.prepare(ctx, e, now); ok {
				batch = append(batch, p)
			}
		}
		if len(batch) > 0 {
			s.send(ctx, batch)
		}
	}
	var at time.Time
	if len(s.due) > 0 && s.due[0].due.After(now) {
		at = s.due[0].due
	}
	if s.timer != nil && !at.Equal(s.timerAt) {
		s.timer.Stop()
		s.timer = nil
	}
	if s.timer == nil && !at.IsZero() {
		s.timerAt = at
		s.timer = s.clock.AfterFunc(at.Sub(now), func() {
			select {
			case s.wake <- struct{}{}:
			default:
			}
		})
	}
}

// firingKind says what a committed firing did.
type firingKind int

const (
	firedRuns   firingKind = iota // Runs created
	skippedBusy                   // Forbid: a Run of the Schedule is live
	missedLate                    // past startingDeadlineSeconds
	missedTaken                   // a Run not of this Schedule has the firing's name
)

// pendingFiring is a firing decided and on its way to the store.
type pendingFiring struct {
	name string
	f    apis.Firing
	kind firingKind
}

// prepare decides one due firing; ok is false when there is nothing to
// commit (not due after all, or its template is refused: replanned).
func (s *scheduler) prepare(ctx context.Context, e *schedEntry, now time.Time) (pendingFiring, bool) {
	sc := e.obj
	name := sc.Metadata.Name
	f := apis.Firing{
		Schedule:             apis.RunRef{Name: name, UID: sc.Metadata.UID},
		PreviousScheduleTime: copyTime(sc.Status.LastScheduleTime),
	}
	kind := firedRuns
	switch {
	case e.cron != nil:
		p := planCron(e.cron, e.base(), now, sc.Spec.StartingDeadlineSeconds)
		if p.Due.IsZero() {
			s.plan(e)
			return pendingFiring{}, false
		}
		f.ScheduleTime, f.MissedFirings = p.Due, p.Missed
		if p.Late {
			kind = missedLate
		}
	case e.interval > 0:
		f.ScheduleTime = ceilSecond(e.due)
		if dl := sc.Spec.StartingDeadlineSeconds; dl != nil {
			// Lateness is judged from when the batch became due, not
			// from a retry's back-off.
			due, ok := s.intervalDue(e)
			if !ok {
				s.plan(e)
				return pendingFiring{}, false
			}
			p := planInterval(ceilSecond(due), e.interval, now, dl)
			f.ScheduleTime, f.MissedFirings = ceilSecond(p.Due), p.Missed
			if p.Late {
				kind = missedLate
			}
		}
	case len(e.parents) > 0:
		f.ScheduleTime = ceilSecond(e.due)
	default:
		return pendingFiring{}, false
	}
	if kind == firedRuns && !e.taken.IsZero() && e.taken.Equal(f.ScheduleTime) {
		kind = missedTaken
		f.MissedFirings++
	}
	var replaced []string
	if kind == firedRuns && e.interval == 0 {
		switch sc.Spec.ConcurrencyPolicy {
		case apis.ConcurrencyForbid:
			if live := s.liveRuns(ctx, e); len(live) > 0 {
				kind = skippedBusy
			}
		case apis.ConcurrencyReplace:
			f.Replace = s.liveRuns(ctx, e)
			for _, r := range f.Replace {
				replaced = append(replaced, r.Name)
			}
		}
	}
	if kind == firedRuns {
		runs, err := s.firingRuns(sc, f.ScheduleTime)
		if err != nil {
			// The template is refused now (the admission policy of this
			// leader, or a rule that changed): say so and look again.
			s.refuse(e, err, now)
			s.plan(e)
			return pendingFiring{}, false
		}
		f.Runs = runs
	}
	f.Events = firingEvents(e.obj, f, kind, replaced, now)
	e.firing = true
	return pendingFiring{name: name, f: f, kind: kind}, true
}

// send starts the commit of a batch of firings; their outcomes come back
// to the loop, each handled as its own (fired).
func (s *scheduler) send(ctx context.Context, batch []pendingFiring) {
	s.batches++
	s.inflight += len(batch)
	firings := make([]apis.Firing, len(batch))
	for i := range batch {
		firings[i] = batch[i].f
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		errs := s.store.FireSchedules(ctx, firings)
		at := s.clock.Now()
		select {
		case s.results <- func() { s.batchDone(ctx, batch, errs, at) }:
		case <-ctx.Done():
		}
	}()
}

// errNoOutcome is the outcome of a firing its batch did not report: not
// known to be committed, so it is retried with its precondition.
var errNoOutcome = errors.New("the store reported no outcome for the firing")

// batchDone hands each firing of a returned batch its own outcome.
func (s *scheduler) batchDone(ctx context.Context, batch []pendingFiring, errs []error, at time.Time) {
	s.batches--
	for i := range batch {
		err := errNoOutcome
		if i < len(errs) {
			err = errs[i]
		}
		s.fired(ctx, batch[i].name, batch[i].f, batch[i].kind, err, at)
	}
}

func copyTime(t *time.Time) *time.Time {
	if t == nil {
		return nil
	}
	c := *t
	return &c
}

// refuse records that e's firing was refused (its template) and holds
// its firings back for blockedRetry, or until the Schedule changes.
func (s *scheduler) refuse(e *schedEntry, err error, now time.Time) {
	e.refused = "cannot fire: " + err.Error()
	e.blockedUntil = now.Add(blockedRetry)
	s.dirty[e.obj.Metadata.Name] = struct{}{}
	s.armFlush()
}

// liveRuns returns the entry's fired Runs that are not terminal, each
// checked against the store's latest state (the watch may lag behind it),
// in name order. Runs fired by hand (create run --from) are not among
// them: as CronJob's Forbid and Replace look only at the Jobs it created
// (status.active), concurrencyPolicy neither waits for them nor cancels
// them.
func (s *scheduler) liveRuns(ctx context.Context, e *schedEntry) []apis.RunRef {
	var live []apis.RunRef
	for _, r := range s.runsOf(e) {
		if r.phase.Terminal() || !r.fromName {
			continue
		}
		ref := apis.RunRef{Name: r.name, UID: r.uid}
		cur, err := s.store.GetRun(ctx, r.name)
		if errors.Is(err, apis.ErrNotFound) {
			continue
		}
		if err == nil {
			if r.uid != "" && cur.Metadata.UID != r.uid || cur.Status.Phase.Terminal() {
				continue
			}
			ref.UID = cur.Metadata.UID
		}
		live = append(live, ref)
	}
	sort.Slice(live, func(i, j int) bool { return live[i].Name < live[j].Name })
	return live
}

// firingRuns builds the Runs of sc's firing at t from its template,
// validated and admitted as a create of them would be.
func (s *scheduler) firingRuns(sc *apis.Schedule, t time.Time) ([]apis.Run, error) {
	n := int(sc.Spec.Parallelism)
	if n <= 0 {
		n = 1
	}
	tmpl := &sc.Spec.RunTemplate
	owner := apis.OwnerReference{APIVersion: apis.APIVersion, Kind: apis.KindSchedule, Name: sc.Metadata.Name, UID: sc.Metadata.UID, Controller: true}
	runs := make([]apis.Run, n)
	for i := range runs {
		r := &runs[i]
		r.APIVersion, r.Kind = apis.APIVersion, apis.KindRun
		r.Metadata.Name = firingName(sc.Metadata.Name, t, i)
		r.Metadata.Labels = make(map[string]string, len(tmpl.Metadata.Labels)+1)
		for k, v := range tmpl.Metadata.Labels {
			r.Metadata.Labels[k] = v
		}
		r.Metadata.Labels[apis.LabelSchedule] = sc.Metadata.Name
		if len(tmpl.Metadata.Annotations) > 0 {
			r.Metadata.Annotations = make(map[string]string, len(tmpl.Metadata.Annotations))
			for k, v := range tmpl.Metadata.Annotations {
				r.Metadata.Annotations[k] = v
			}
		}
		r.Metadata.OwnerReferences = []apis.OwnerReference{owner}
		tmpl.Spec.DeepCopyInto(&r.Spec)
		apis.SetDefaults(r)
		if i > 0 {
			continue // the same template: judged once
		}
		if errs := apis.ValidateRun(r); len(errs) > 0 {
			return nil, fmt.Errorf("the run template is invalid: %w", errs)
		}
		if err := s.policy.AdmitRun(r); err != nil {
			return nil, fmt.Errorf("the run template is refused by the admission policy: %w", err)
		}
	}
	return runs, nil
}

// fired handles the outcome of a firing's commit, in the loop.
func (s *scheduler) fired(ctx context.Context, name string, f apis.Firing, kind firingKind, err error, at time.Time) {
	s.inflight--
	e := s.entries[name]
	if e == nil || e.obj.Metadata.UID != f.Schedule.UID {
		return // deleted meanwhile
	}
	e.firing = false
	now := s.clock.Now()
	switch {
	case err == nil:
		e.retry.Reset()
		e.blockedUntil, e.refused, e.taken = time.Time{}, "", time.Time{}
		st := &e.obj.Status
		st.LastScheduleTime = &f.ScheduleTime
		st.MissedFirings += f.MissedFirings
		s.committed(e, f, kind, at)
	case errors.Is(err, apis.ErrConflict), errors.Is(err, apis.ErrAlreadyExists):
		// Another leader committed this firing or a later one: read the
		// Schedule again and replan. A Run of the firing's name that
		// another leader did not create (one left by an earlier Schedule
		// of this name) takes the name for good: the firing is missed.
		s.m.scheduleConflicts.Inc()
		s.log.Info("firing not committed: the schedule changed; replanning", "schedule", name, "firing", f.ScheduleTime, "err", err)
		if !s.reread(ctx, e, f) && errors.Is(err, apis.ErrAlreadyExists) {
			e.taken = f.ScheduleTime
			e.retry.Reset()
			e.blockedUntil = time.Time{}
			s.plan(e)
		}
		return
	case errors.Is(err, apis.ErrNotFound):
		// Deleted, or re-created under the same name: the watch says
		// which; the store's copy decides now.
		s.reread(ctx, e, f)
		return
	case errors.Is(err, apis.ErrInvalid), errors.Is(err, apis.ErrForbidden):
		s.refuse(e, err, now)
	default:
		if ctx.Err() != nil {
			return
		}
		// Not committed, or not known to be (the leader changed): retry
		// with the same precondition, which makes a repeat harmless.
		d := e.retry.Next()
		s.log.Warn("firing commit failed; retrying", "schedule", name, "firing", f.ScheduleTime, "in", d, "err", err)
		e.blockedUntil = now.Add(d)
	}
	s.plan(e)
}

// reread replaces the entry with the store's copy of its Schedule after a
// refused firing, and replans it. The same lastScheduleTime as before
// means the refusal was not another firing: back off before trying again.
// It reports whether another firing was committed meanwhile (or the
// Schedule is gone or another), and false when the Schedule is as the
// refused firing expected it.
func (s *scheduler) reread(ctx context.Context, e *schedEntry, f apis.Firing) bool {
	name := e.obj.Metadata.Name
	sc, err := s.store.GetSchedule(ctx, name)
	switch {
	case errors.Is(err, apis.ErrNotFound):
		s.remove(name)
		return true
	case err != nil:
		e.blockedUntil = s.clock.Now().Add(e.retry.Next())
		s.plan(e)
		return true
	}
	if sc.Metadata.UID != e.obj.Metadata.UID {
		s.upsert(sc)
		return true
	}
	e.obj = sc
	moved := older(f.PreviousScheduleTime, sc.Status.LastScheduleTime)
	if moved {
		e.retry.Reset()
		e.blockedUntil = time.Time{}
	} else {
		e.blockedUntil = s.clock.Now().Add(e.retry.Next())
	}
	s.parse(e)
	s.plan(e)
	s.dirty[name] = struct{}{}
	s.armFlush()
	return moved
}

// committed records what a committed firing did: its Runs (live until the
// watch says otherwise) and metrics.
func (s *scheduler) committed(e *schedEntry, f apis.Firing, kind firingKind, at time.Time) {
	name := e.obj.Metadata.Name
	for i := range f.Runs {
		s.addOwned(name, &scheduledRun{name: f.Runs[i].Metadata.Name, ownerUID: e.obj.Metadata.UID, firing: f.ScheduleTime.Unix(), fromName: true, created: at})
	}
	s.m.scheduleMissed.Add(float64(f.MissedFirings))
	switch kind {
	case firedRuns:
		s.m.scheduleFirings.Inc()
		s.m.scheduleLag.Observe(at.Sub(f.ScheduleTime).Seconds())
	case skippedBusy:
		s.m.scheduleSkipped.Inc()
	}
	s.dirty[name] = struct{}{}
	s.armFlush()
}

// firingEvents are the Schedule's events of a firing, committed in its
// entry: Missed, Replaced, Fired or Skipped.
func firingEvents(sc *apis.Schedule, f apis.Firing, kind firingKind, replaced []string, now time.Time) []apis.RunEvent {
	var evs []apis.RunEvent
	add := func(typ, reason, msg string) {
		evs = append(evs, apis.RunEvent{Time: now, Type: typ, Reason: reason, Message: msg, Count: 1})
	}
	when := f.ScheduleTime.UTC().Format(time.RFC3339)
	switch {
	case kind == missedTaken:
		add(apis.EventWarning, "Missed", fmt.Sprintf("missed the firing at %s: a run named %s exists and is not this schedule's",
			when, firingName(sc.Metadata.Name, f.ScheduleTime, 0)))
	case kind == missedLate:
		add(apis.EventWarning, "Missed", fmt.Sprintf("missed %d firing(s), the most recent at %s more than startingDeadlineSeconds %d ago",
			f.MissedFirings, when, deref(sc.Spec.StartingDeadlineSeconds)))
	case f.MissedFirings > 0:
		add(apis.EventWarning, "Missed", fmt.Sprintf("missed %d firing(s) while none could fire; firing the most recent, %s", f.MissedFirings, when))
	}
	switch kind {
	case firedRuns:
		if len(replaced) > 0 {
			add(apis.EventNormal, "Replaced", fmt.Sprintf("cancelled %s for the firing at %s", listNames(replaced), when))
		}
		add(apis.EventNormal, "Fired", fmt.Sprintf("created %s for the firing at %s", listNames(runNames(f.Runs)), when))
	case skippedBusy:
		add(apis.EventNormal, "Skipped", fmt.Sprintf("skipped the firing at %s: concurrencyPolicy Forbid and a run is still live", when))
	}
	return evs
}

func deref(p *int64) int64 {
	if p == nil {
		return 0
	}
	return *p
}

func runNames(runs []apis.Run) []string {
	out := make([]string, len(runs))
	for i := range runs {
		out[i] = runs[i].Metadata.Name
	}
	return out
}

// listNames renders names for an event message, the first few of many.
func listNames(names []string) string {
	const show = 5
	if len(names) <= show {
		return fmt.Sprintf("%v", names)
	}
	return fmt.Sprintf("%v and %d more", names[:show], len(names)-show)
}

// dueHeap orders entries by due time (then name, for determinism).
type dueHeap []*schedEntry

func (h dueHeap) Len() int { return len(h) }
func (h dueHeap) Less(i, j int) bool {
	if !h[i].due.Equal(h[j].due) {
		return h[i].due.Before(h[j].due)
	}
	return h[i].obj.Metadata.Name < h[j].obj.Metadata.Name
}
func (h dueHeap) Swap(i, j int) {
	h[i], h[j] = h[j], h[i]
	h[i].heapIdx, h[j].heapIdx = i, j
}
func (h *dueHeap) Push(x any) {
	e := x.(*schedEntry)
	e.heapIdx = len(*h)
	*h = append(*h, e)
}
func (h *dueHeap) Pop() any {
	old := *h
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*h = old[:len(old)-1]
	e.heapIdx = -1
	return e
}
