package controller

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sort"
	"sync"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

type launcherMsgKind int

const (
	msgOffers launcherMsgKind = iota
	msgRescind
	msgPending    // run is ready to launch
	msgNotPending // name is not (or no longer) to be launched
	msgReset      // new subscription: offers void, not suppressed
	msgDisconnected
	msgWake
	msgLaunched // an offer's launches are over (recorded and accepted, or not)
)

type launcherMsg struct {
	kind    launcherMsgKind
	offers  []mesos.Offer
	offerID string
	run     *apis.Run
	name    string
	names   []string // msgLaunched: the Runs planned on the offer
	used    bool     // msgLaunched: the offer was accepted with tasks
}

type heldOffer struct {
	offer    mesos.Offer
	received time.Time
}

// launcher owns the outstanding offers and the set of Runs ready to launch
// (one goroutine, no locks: the Mesos event-loop ownership of mesos-go's
// examples). Each round packs pending Runs onto offers in creation order
// and hands each used offer to a goroutine that records its attempts
// through Raft and only then sends the ACCEPT; the loop goes on with the
// next round meanwhile, so a Run that arrives during a commit is planned
// at once instead of after it.
type launcher struct {
	launcherDeps
	in chan launcherMsg
	// wg counts the offers' launch goroutines; run waits for them.
	wg sync.WaitGroup

	// Owned by the run goroutine.
	offers       map[string]*heldOffer
	offerOrder   []string
	pending      map[string]*apis.Run
	launching    map[string]inFlight          // Runs planned on an offer whose launch is in flight
	recording    int                          // attempts planned whose launch is not over
	throttled    bool                         // the last round left Runs pending for maxRecording alone
	agentAttrs   map[string]map[string]string // agent ID → attributes, learnt from offers
	connected    bool
	suppressed   bool
	lastRevive   time.Time
	revives      int // revives since the last launch or new Run
	lastUnsched  map[string]time.Time
	wakeAt       time.Time
	wakeTimer    clock.Timer
	re           regexCache
	offerHoldFor time.Duration
	reviveEvery  time.Duration
}

// inFlight is a Run planned on an offer whose launch goroutine has not
// finished: its constraints and the offer's agent fields, for placements.
// The goroutine changes neither.
type inFlight struct {
	constraints [][]string
	field       func(string) (string, bool)
}

// launcherDeps are the launcher's collaborators, given at construction.
type launcherDeps struct {
	store    Store
	sched    Scheduler
	build    TaskBuilder
	clock    clock.Clock
	cfg      Config
	m        *metrics
	log      *slog.Logger
	attempts *registry     // live attempts, shared with the status writer
	queue    *queue        // Runs to reconcile
	writer   *statusWriter // every status change goes through it
	recon    *mesosReconciler
	// newTaskID makes the task ID of an attempt.
	newTaskID func(run string, attempt int32) string
}

func newLauncher(d launcherDeps) *launcher {
	return &launcher{
		launcherDeps: d,
		in:           make(chan launcherMsg, 4096),
		offers:       map[string]*heldOffer{},
		pending:      map[string]*apis.Run{},
		launching:    map[string]inFlight{},
		agentAttrs:   map[string]map[string]string{},
		lastUnsched:  map[string]time.Time{},
		offerHoldFor: d.cfg.OfferHold,
		reviveEvery:  d.cfg.ReviveEvery,
	}
}

func (l *launcher) send(ctx context.Context, m launcherMsg) {
	select {
	case l.in <- m:
	case <-ctx.Done():
	}
}

// maxRecording bounds the attempts being recorded at once, counted when
// they are planned: enough to fill both batches of the status writer's
// pipeline in a burst. Runs beyond it stay pending until launches end,
// in creation order. (A semaphore taken per attempt inside the launch
// goroutines let an offer's last attempts wait behind later offers' first
// ones, and its ACCEPT, which waits for all of them, with them; one
// taken per offer throttled a steady stream of one-Run offers.)
const maxRecording = 512

// maxPerOffer bounds the Runs a round puts on one offer. An offer is
// ACCEPTed once all its Runs' attempts are committed, so a burst packed
// onto one large offer (1,600 small Runs fit an agent of 16 cpus) waited
// for every batch of it before the first task went out; spread over
// offers of at most a status batch's worth each, every offer goes out as
// soon as its batch commits.
const maxPerOffer = 128

func (l *launcher) run(ctx context.Context) {
	defer func() {
		if l.wakeTimer != nil {
			l.wakeTimer.Stop()
		}
		l.wg.Wait()
	}()
	for {
		select {
		case <-ctx.Done():
			return
		case m := <-l.in:
			l.handle(m)
		}
		// Drain what else is queued, then do one round.
	drain:
		for {
			select {
			case m := <-l.in:
				l.handle(m)
			default:
				break drain
			}
		}
		l.round(ctx)
	}
}

func (l *launcher) handle(m launcherMsg) {
	now := l.clock.Now()
	switch m.kind {
	case msgOffers:
		l.m.offersReceived.Add(float64(len(m.offers)))
		for _, o := range m.offers {
			if _, ok := l.offers[o.ID.Value]; ok {
				continue
			}
			l.offers[o.ID.Value] = &heldOffer{offer: o, received: now}
			l.offerOrder = append(l.offerOrder, o.ID.Value)
			l.agentAttrs[o.AgentID.Value] = offerAttributes(o)
		}
	case msgRescind:
		delete(l.offers, m.offerID)
	case msgPending:
		if _, ok := l.launching[m.run.Metadata.Name]; ok {
			// Its launch is in flight: that decides. One that is not
			// recorded queues a reconcile after msgLaunched, which
			// sends it here again.
			break
		}
		if _, ok := l.pending[m.run.Metadata.Name]; !ok {
			l.revives = 0
		}
		l.pending[m.run.Metadata.Name] = m.run
	case msgNotPending:
		delete(l.pending, m.name)
		delete(l.lastUnsched, m.name)
	case msgReset:
		l.offers = map[string]*heldOffer{}
		l.offerOrder = nil
		l.connected = true
		l.suppressed = false
		l.lastRevive = time.Time{}
	case msgDisconnected:
		l.offers = map[string]*heldOffer{}
		l.offerOrder = nil
		l.connected = false
	case msgLaunched:
		for _, n := range m.names {
			delete(l.launching, n)
		}
		l.recording -= len(m.names)
		if m.used {
			l.revives = 0
		}
	case msgWake:
	}
}

// wake asks for a round at or after at.
func (l *launcher) wakeAfter(d time.Duration) {
	at := l.clock.Now().Add(d)
	if l.wakeTimer != nil && !l.wakeAt.IsZero() && !l.wakeAt.After(at) {
		return
	}
	if l.wakeTimer != nil {
		l.wakeTimer.Stop()
	}
	l.wakeAt = at
	l.wakeTimer = l.clock.AfterFunc(d, func() {
		select {
		case l.in <- launcherMsg{kind: msgWake}:
		default: // a round is coming anyway
		}
	})
}

// liveOffers returns the held offers in arrival order, compacting the order.
func (l *launcher) liveOffers() []*heldOffer {
	out := make([]*heldOffer, 0, len(l.offers))
	order := l.offerOrder[:0]
	for _, id := range l.offerOrder {
		if o, ok := l.offers[id]; ok {
			out = append(out, o)
			order = append(order, id)
		}
	}
	l.offerOrder = order
	return out
}

// round matches pending Runs to held offers, launches what fits, declines
// offers held too long, and suppresses or revives offers.
func (l *launcher) round(ctx context.Context) {
	if !l.connected || ctx.Err() != nil {
		return
	}
	now := l.clock.Now()
	l.wakeAt = time.Time{}
	held := l.liveOffers()

	if len(l.pending) > 0 && len(held) > 0 {
		l.launch(ctx, held, now)
		held = l.liveOffers()
	}

	// Decline offers held past OfferHold; keep the rest for Runs that
	// arrive soon (no REVIVE round trip needed for them).
	var decline []mesos.OfferID
	var oldest time.Time
	for _, h := range held {
		// Pending Runs that fit no held offer make them worth little;
		// Runs held back by maxRecording alone do not.
		if now.Sub(h.received) >= l.offerHoldFor || len(l.pending) > 0 && !l.throttled {
			decline = append(decline, h.offer.ID)
			delete(l.offers, h.offer.ID.Value)
			continue
		}
		if oldest.IsZero() || h.received.Before(oldest) {
			oldest = h.received
		}
	}
	if len(decline) > 0 {
		refuse := l.cfg.IdleRefuse
		if len(l.pending) > 0 {
			refuse = l.cfg.DeclineRefuse
		}
		if err := l.sched.Decline(ctx, decline, refuse); err != nil && ctx.Err() == nil {
			l.log.Warn("decline offers failed", "offers", len(decline), "err", err)
		} else {
			l.m.offersDeclined.Add(float64(len(decline)))
		}
	}
	if !oldest.IsZero() {
		l.wakeAfter(oldest.Add(l.offerHoldFor).Sub(now))
	}

	switch {
	case len(l.pending) == 0 && len(l.offers) == 0 && !l.suppressed:
		if err := l.sched.Suppress(ctx); err == nil {
			l.suppressed = true
		}
	case len(l.pending) > 0 && len(l.offers) == 0:
		gap := l.revivePolicy().Delay(l.revives)
		if wait := l.lastRevive.Add(gap).Sub(now); !l.suppressed && wait > 0 {
			l.wakeAfter(wait)
			break
		}
		if err := l.sched.Revive(ctx); err == nil {
			l.m.revives.Inc()
			l.suppressed = false
			l.lastRevive = now
			l.revives++
			l.wakeAfter(l.revivePolicy().Delay(l.revives))
		}
	}
}

// revivePolicy spaces REVIVE calls that bring no offers: from reviveEvery
// doubling to 30 s.
func (l *launcher) revivePolicy() backoff.Policy {
	return backoff.Policy{Initial: l.reviveEvery, Max: 30 * time.Second}
}

// pendingInOrder is the pending Runs, oldest first: launching is fair in
// creation order.
func (l *launcher) pendingInOrder() []*apis.Run {
	runs := make([]*apis.Run, 0, len(l.pending))
	for _, r := range l.pending {
		runs = append(runs, r)
	}
	sort.Slice(runs, func(i, j int) bool {
		a, b := runs[i].Metadata.CreationTimestamp, runs[j].Metadata.CreationTimestamp
		if a != nil && b != nil && !a.Equal(*b) {
			return a.Before(*b)
		}
		return runs[i].Metadata.Name < runs[j].Metadata.Name
	})
	return runs
}

// placements counts where live and just-planned Runs with group
// constraints are, for UNIQUE, CLUSTER and MAX_PER: the registry's live
// attempts and the Runs whose launch is in flight (not in the registry
// until their attempt commits; counted once, by their offer, until their
// launch is over).
func (l *launcher) placements(runs []*apis.Run) placements {
	need := false
	for _, r := range runs {
		for _, c := range r.Spec.Constraints {
			if len(c) >= 2 && (c[1] == opUnique || c[1] == opCluster || c[1] == opMaxPer) {
				need = true
			}
		}
	}
	p := placements{}
	if !need {
		return p
	}
	for _, f := range l.launching {
		if len(f.constraints) > 0 {
			p.add(&apis.Run{Spec: apis.RunSpec{Constraints: f.constraints}}, f.field)
		}
	}
	for _, a := range l.attempts.snapshot() {
		if _, ok := l.launching[a.Run]; ok || len(a.constraints) == 0 {
			continue
		}
		attrs := l.agentAttrs[a.AgentID]
		host := a.hostname
		p.add(&apis.Run{Spec: apis.RunSpec{Constraints: a.constraints}}, func(f string) (string, bool) {
			if f == "hostname" {
				return host, host != ""
			}
			v, ok := attrs[f]
			return v, ok
		})
	}
	return p
}

func (l *launcher) launch(ctx context.Context, held []*heldOffer, now time.Time) {
	runs := l.pendingInOrder()
	spaces := make([]*offerSpace, len(held))
	for i, h := range held {
		spaces[i] = newOfferSpace(h.offer)
	}
	placed := l.placements(runs)
	unsched := map[string]string{}
	var fresh []*offerSpace // the offers as offered, built on first need
	planned := 0
	l.throttled = false
	for _, run := range runs {
		if l.recording+planned >= maxRecording {
			l.throttled = true
			break
		}
		var why []*unfit
		fitted := false
		for _, s := range spaces {
			if len(s.planned) >= maxPerOffer {
				continue
			}
			ports, u := s.fit(run, placed, &l.re)
			if u != nil {
				why = append(why, u)
				continue
			}
			s.consume(run, ports)
			placed.add(run, s.field)
			s.planned = append(s.planned, plannedLaunch{run: *run, ports: ports})
			planned++
			fitted = true
			break
		}
		if !fitted && fresh == nil {
			fresh = make([]*offerSpace, len(held))
			for i, h := range held {
				fresh[i] = newOfferSpace(h.offer)
			}
		}
		if !fitted && !l.fitsSome(fresh, run, placed) {
			// Only a Run that no offer could hold even before this
			// round's packing is reported; the others just wait.
			unsched[run.Metadata.Name] = unschedulableMessage(len(spaces), why)
		}
	}

	// Each used offer leaves the held set now; a goroutine records its
	// attempts and then ACCEPTs it, while this loop goes on.
	for _, s := range spaces {
		if len(s.planned) == 0 {
			continue
		}
		delete(l.offers, s.offer.ID.Value)
		names := make([]string, len(s.planned))
		l.recording += len(names)
		for i := range s.planned {
			names[i] = s.planned[i].run.Metadata.Name
			delete(l.pending, names[i])
			l.launching[names[i]] = inFlight{constraints: s.planned[i].run.Spec.Constraints, field: s.field}
		}
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			used, failed := l.launchOffer(ctx, s, now)
			l.send(ctx, launcherMsg{kind: msgLaunched, names: names, used: used})
			// Out of the pending set: let a reconcile decide whether
			// each Run not recorded still waits for an offer. Queued
			// after msgLaunched, so that its msgPending finds the Run
			// no longer launching.
			for _, n := range failed {
				l.queue.Add(n)
			}
		}()
	}

	for name, msg := range unsched {
		if t, ok := l.lastUnsched[name]; ok && now.Sub(t) < l.cfg.UnschedulableEvery {
			continue
		}
		l.lastUnsched[name] = now
		_ = l.writer.mutate(ctx, name, func(run *apis.Run, now time.Time) *statusChange {
			s := run.Status
			if s.Phase != apis.PhasePending || s.Reason == apis.ReasonBackoff || s.Message == msg {
				return nil
			}
			s.Reason = apis.ReasonUnschedulable
			s.Message = msg
			return &statusChange{status: s, events: []apis.RunEvent{event(now, apis.EventWarning, apis.ReasonUnschedulable, "%s", msg)}}
		}, false)
	}
}

// launchOffer records the attempts planned on one offer (concurrently:
// the status writer commits them in one batch), then ACCEPTs the offer
// with the recorded ones' tasks, or DECLINEs it when none was recorded.
// It reports whether the offer was accepted and the Runs not recorded.
func (l *launcher) launchOffer(ctx context.Context, s *offerSpace, now time.Time) (used bool, failed []string) {
	var wg sync.WaitGroup
	for i := range s.planned {
		pl := &s.planned[i]
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !l.record(ctx, s, pl, now) {
				pl.taskID = ""
			}
		}()
	}
	wg.Wait()

	var tasks []mesos.TaskInfo
	var recorded []plannedLaunch
	for _, pl := range s.planned {
		if pl.taskID != "" {
			tasks = append(tasks, pl.task)
			recorded = append(recorded, pl)
		} else {
			failed = append(failed, pl.run.Metadata.Name)
		}
	}
	if len(tasks) == 0 {
		if err := l.sched.Decline(ctx, []mesos.OfferID{s.offer.ID}, l.cfg.DeclineRefuse); err == nil {
			l.m.offersDeclined.Inc()
		}
		return false, failed
	}
	if err := l.sched.Accept(ctx, s.offer.ID, tasks, l.cfg.AcceptRefuse); err != nil {
		// Whether the master saw the ACCEPT is unknown: ask it.
		l.log.Warn("accept failed; reconciling its tasks", "offer_id", s.offer.ID.Value, "tasks", len(tasks), "err", err)
		for _, pl := range recorded {
			l.recon.explicit(ReconcileTask{TaskID: pl.taskID, AgentID: s.offer.AgentID.Value})
		}
		return false, failed
	}
	l.m.offersUsed.Inc()
	l.m.launches.Add(float64(len(tasks)))
	for _, pl := range recorded {
		l.log.Debug("launched", "run", pl.run.Metadata.Name, "task_id", pl.taskID, "agent_id", s.offer.AgentID.Value)
	}
	return true, failed
}

// fitsSome reports whether run fits one of spaces (fit does not change
// them).
func (l *launcher) fitsSome(spaces []*offerSpace, run *apis.Run, placed placements) bool {
	for _, s := range spaces {
		if _, u := s.fit(run, placed, &l.re); u == nil {
			return true
		}
	}
	return false
}

// record re-reads the Run, commits its attempt and submits its Starting
// status. It reports whether the attempt may be launched.
func (l *launcher) record(ctx context.Context, s *offerSpace, pl *plannedLaunch, now time.Time) bool {
	name := pl.run.Metadata.Name
	run, err := l.store.GetRun(ctx, name)
	if err != nil || run.Metadata.UID != pl.run.Metadata.UID {
		return false
	}
	if ok, _ := launchable(run, l.cfg, now); !ok {
		return false
	}
	if _, live := l.attempts.get(name); live {
		return false
	}
	number := run.Status.Attempts + 1
	a := apis.Attempt{
		Run:        name,
		Number:     number,
		TaskID:     l.newTaskID(name, number),
		AgentID:    s.offer.AgentID.Value,
		LaunchTime: now,
	}
	// The TaskInfo is built before anything is recorded: a Run Mesos
	// cannot express fails here, for good, instead of looping through
	// attempts that are never launched.
	task, err := l.build(run, a.TaskID, &s.offer, pl.ports)
	if err != nil {
		l.log.Error("build task info failed", "run", name, "err", err)
		msg := fmt.Sprintf("cannot build the Mesos task: %v", err)
		_ = l.writer.mutate(ctx, name, func(r *apis.Run, now time.Time) *statusChange {
			if _, live := l.attempts.get(name); live || r.Status.Phase.Terminal() {
				return nil
			}
			st := r.Status
			setPhase(&st, apis.PhaseFailed, now)
			st.Reason = apis.ReasonTaskError
			st.Message = msg
			tm := now
			st.CompletionTime = &tm
			return &statusChange{status: st, events: []apis.RunEvent{event(now, apis.EventWarning, apis.ReasonTaskError, "%s", msg)}}
		}, false)
		return false
	}
	host := s.offer.Hostname
	ports := make([]int32, len(pl.ports))
	for i, p := range pl.ports {
		ports[i] = int32(p)
	}
	// The attempt and the Starting status commit in one entry, with the
	// Run's UID as their precondition; the attempt is live in the
	// registry once it returns.
	live := liveAttempt{Attempt: a, hostname: host, ports: ports, constraints: run.Spec.Constraints}
	if err := l.writer.launch(ctx, run.Metadata.UID, live); err != nil {
		if ctx.Err() == nil {
			if errors.Is(err, apis.ErrAttemptLive) {
				l.log.Info("attempt already recorded; not launching", "run", name)
			} else {
				l.log.Warn("record attempt failed", "run", name, "err", err)
			}
		}
		return false
	}
	pl.taskID = a.TaskID
	pl.number = number
	pl.task = task
	pl.run = *run
	return true
}

// launchMutation points a Run's status at a newly recorded attempt.
func launchMutation(a apis.Attempt, host string, ports []int32) mutation {
	return func(run *apis.Run, now time.Time) *statusChange {
		s := run.Status
		if s.TaskID == a.TaskID {
			return nil
		}
		setPhase(&s, apis.PhaseStarting, now)
		where := host
		if where == "" {
			// A new leader adopting a task whose launch status its
			// predecessor never wrote knows only the agent.
			where = "agent " + a.AgentID
		}
		s.Reason = ""
		s.Message = "launched on " + where
		s.Attempts = a.Number
		s.TaskID = a.TaskID
		s.AgentID = a.AgentID
		s.Hostname = host
		s.Ports = ports
		s.ExitCode = nil
		s.MesosState = ""
		s.StartTime = nil
		s.CompletionTime = nil
		s.ObservedGeneration = run.Metadata.Generation
		evs := []apis.RunEvent{event(now, apis.EventNormal, "Launched", "attempt %d: task %s launched on %s", a.Number, a.TaskID, where)}
		return &statusChange{status: s, events: evs}
	}
}
