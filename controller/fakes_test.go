package controller

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// actionLog is the ordered record of side effects of the fake store and
// the fake scheduler together, so tests can assert "recorded before
// launched" and "committed before acknowledged".
type actionLog struct {
	mu  sync.Mutex
	all []string
}

func (l *actionLog) add(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = append(l.all, fmt.Sprintf(format, args...))
}

func (l *actionLog) list() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.all...)
}

// matching returns the actions starting with prefix.
func (l *actionLog) matching(prefix string) []string {
	var out []string
	for _, a := range l.list() {
		if strings.HasPrefix(a, prefix) {
			out = append(out, a)
		}
	}
	return out
}

// lastIndex of the actions starting with prefix, or -1.
func (l *actionLog) lastIndex(prefix string) int {
	all := l.list()
	for i := len(all) - 1; i >= 0; i-- {
		if strings.HasPrefix(all[i], prefix) {
			return i
		}
	}
	return -1
}

// index of the first action starting with prefix, or -1.
func (l *actionLog) index(prefix string) int {
	for i, a := range l.list() {
		if strings.HasPrefix(a, prefix) {
			return i
		}
	}
	return -1
}

// newFakeClock is the tests' manual clock, at a fixed start.
func newFakeClock() *clock.Manual {
	return clock.NewManual(time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
}

// fakeStore is an in-memory Store with the semantics the controller
// relies on: one "Raft entry" per write call, watch events, attempt guard.
type fakeStore struct {
	log *actionLog

	mu             sync.Mutex
	runs           map[string]*apis.Run
	attempts       map[string][]apis.Attempt
	events         map[string][]apis.RunEvent
	index          uint64
	uid            int
	watchers       []*fakeWatcher
	leader         bool
	leaderCh       chan bool
	batches        []int      // size of each UpdateStatuses call
	batchRuns      [][]string // the Runs of each UpdateStatuses call
	barriers       int
	failRecordOnce error
	panicGets      map[string]int // GetRun of these names panics this many times
	scanned        int            // EachRun calls
	// noInitialStatus stores new Runs without a phase, as a store before
	// raftstore's setInitialStatus did; otherwise they are stored Pending.
	noInitialStatus bool
	// statusGate, when set, is called by UpdateStatuses before it writes;
	// a non-nil channel it returns holds the write until it is closed.
	statusGate func(updates []apis.StatusUpdate) <-chan struct{}
	schedules  *fakeSchedules // see fakes_schedule_test.go
}

func newFakeStore(log *actionLog) *fakeStore {
	return &fakeStore{
		log:      log,
		runs:     map[string]*apis.Run{},
		attempts: map[string][]apis.Attempt{},
		events:   map[string][]apis.RunEvent{},
		leader:   true,
		leaderCh: make(chan bool, 16),
	}
}

type fakeWatcher struct {
	ch  chan apis.WatchEvent
	err error
	mu  sync.Mutex
	off bool
}

func (w *fakeWatcher) Events() <-chan apis.WatchEvent { return w.ch }
func (w *fakeWatcher) Err() error                     { w.mu.Lock(); defer w.mu.Unlock(); return w.err }
func (w *fakeWatcher) Stop() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if !w.off {
		w.off = true
		close(w.ch)
	}
}

// caller holds s.mu.
func (s *fakeStore) notify(typ apis.EventType, r *apis.Run) {
	s.index++
	r.Metadata.ResourceVersion = strconv.FormatUint(s.index, 10)
	cp := copyRun(r)
	for _, w := range s.watchers {
		w.mu.Lock()
		if !w.off {
			select {
			case w.ch <- apis.WatchEvent{Type: typ, Object: cp}:
			default:
				w.off, w.err = true, apis.ErrGone
				close(w.ch)
			}
		}
		w.mu.Unlock()
	}
}

func copyRun(r *apis.Run) *apis.Run { return r.DeepCopy() }

// create adds a Run as the API server would.
func (s *fakeStore) create(t *testing.T, r apis.Run, created time.Time) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotContains(t, s.runs, r.Metadata.Name)
	s.add(copyRun(&r), created)
}

// edit changes a Run's spec or metadata as a user would.
func (s *fakeStore) edit(name string, f func(r *apis.Run)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := s.runs[name]
	f(r)
	s.notify(apis.Modified, r)
}

// scans counts EachRun calls.
func (s *fakeStore) scans() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scanned
}

func (s *fakeStore) run(name string) *apis.Run {
	s.mu.Lock()
	defer s.mu.Unlock()
	r, ok := s.runs[name]
	if !ok {
		return nil
	}
	return copyRun(r)
}

func (s *fakeStore) runEvents(name string) []apis.RunEvent {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]apis.RunEvent(nil), s.events[name]...)
}

func (s *fakeStore) setLeader(v bool) {
	s.mu.Lock()
	s.leader = v
	s.mu.Unlock()
	s.leaderCh <- v
}

func (s *fakeStore) GetRun(_ context.Context, name string) (*apis.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.panicGets[name] > 0 {
		s.panicGets[name]--
		panic("fake store: GetRun " + name)
	}
	r, ok := s.runs[name]
	if !ok {
		return nil, fmt.Errorf("run %q: %w", name, apis.ErrNotFound)
	}
	return copyRun(r), nil
}

func (s *fakeStore) EachRun(_ context.Context, fn func(*apis.Run) error) (uint64, error) {
	s.mu.Lock()
	s.scanned++
	runs := make([]*apis.Run, 0, len(s.runs))
	for _, r := range s.runs {
		runs = append(runs, copyRun(r))
	}
	// In name order, as raftstore scans.
	sort.Slice(runs, func(i, j int) bool { return runs[i].Metadata.Name < runs[j].Metadata.Name })
	index := s.index
	s.mu.Unlock()
	for _, r := range runs {
		if err := fn(r); err != nil {
			return 0, err
		}
	}
	return index, nil
}

func (s *fakeStore) WatchRuns(_ context.Context, from uint64) (RunWatcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if from != s.index {
		return nil, apis.ErrGone
	}
	w := &fakeWatcher{ch: make(chan apis.WatchEvent, 100000)}
	s.watchers = append(s.watchers, w)
	return w, nil
}

func (s *fakeStore) checkLeader() error {
	if !s.leader {
		return apis.ErrNotLeader
	}
	return nil
}

func (s *fakeStore) UpdateStatuses(_ context.Context, updates []apis.StatusUpdate) ([]error, error) {
	s.mu.Lock()
	gate := s.statusGate
	s.mu.Unlock()
	if gate != nil {
		if ch := gate(updates); ch != nil {
			<-ch
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, err
	}
	s.batches = append(s.batches, len(updates))
	names := make([]string, len(updates))
	for i, u := range updates {
		names[i] = u.Run.Name
	}
	s.batchRuns = append(s.batchRuns, names)
	errs := make([]error, len(updates))
	for i, u := range updates {
		r, err := s.lookup(u.Run)
		if err != nil {
			errs[i] = err
			continue
		}
		if u.Attempt != nil {
			// As raftstore: the attempt first, under RecordAttempt's
			// rules; refused, the status is not written either.
			if err := s.recordLocked(apis.RunRef{Name: u.Run.Name, UID: u.Run.UID}, *u.Attempt); err != nil {
				errs[i] = err
				continue
			}
		}
		finish := u.FinishTaskID
		if finish == "" && u.Status.Phase.Terminal() {
			finish = u.Status.TaskID
		}
		if finish != "" {
			as := s.attempts[u.Run.Name]
			for j := range as {
				if as[j].TaskID == finish {
					as[j].Terminal = true
				}
			}
		}
		if r.Status.Equal(&u.Status) {
			continue // as raftstore: an unchanged status is no write
		}
		u.Status.DeepCopyInto(&r.Status)
		s.log.add("store.status %s %s %s", u.Run.Name, u.Status.Phase, u.Status.Reason)
		s.notify(apis.Modified, r)
	}
	return errs, nil
}

// lookup applies a RunRef's preconditions as raftstore does: a missing
// Run or another UID is ErrNotFound, another resourceVersion ErrConflict.
// Caller holds s.mu.
func (s *fakeStore) lookup(ref apis.RunRef) (*apis.Run, error) {
	r, ok := s.runs[ref.Name]
	if !ok || ref.UID != "" && r.Metadata.UID != ref.UID {
		return nil, fmt.Errorf("run %q (uid %q): %w", ref.Name, ref.UID, apis.ErrNotFound)
	}
	if ref.ResourceVersion != "" && ref.ResourceVersion != r.Metadata.ResourceVersion {
		return nil, fmt.Errorf("run %q: resourceVersion %s is not %s: %w", ref.Name, ref.ResourceVersion, r.Metadata.ResourceVersion, apis.ErrConflict)
	}
	return r, nil
}

func (s *fakeStore) RecordAttempt(_ context.Context, ref apis.RunRef, a apis.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	return s.recordLocked(ref, a)
}

// recordLocked is RecordAttempt with s.mu held.
func (s *fakeStore) recordLocked(ref apis.RunRef, a apis.Attempt) error {
	if err := s.failRecordOnce; err != nil {
		s.failRecordOnce = nil
		return err
	}
	r, err := s.lookup(apis.RunRef{Name: ref.Name, UID: ref.UID})
	if err != nil {
		return err
	}
	if r.Metadata.DeletionTimestamp != nil {
		return fmt.Errorf("run %s is being deleted: %w", ref.Name, apis.ErrConflict)
	}
	for _, old := range s.attempts[ref.Name] {
		if old.TaskID == a.TaskID {
			return fmt.Errorf("attempt %s: %w", a.TaskID, apis.ErrAlreadyExists)
		}
		if !old.Terminal {
			return fmt.Errorf("run %s: %w: %w", ref.Name, apis.ErrAttemptLive, apis.ErrConflict)
		}
	}
	a.Run = ref.Name
	a.Terminal = false
	s.attempts[ref.Name] = append(s.attempts[ref.Name], a)
	s.log.add("store.attempt %s", a.TaskID)
	return nil
}

func (s *fakeStore) LiveAttempts(context.Context) ([]apis.Attempt, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []apis.Attempt
	for _, as := range s.attempts {
		for _, a := range as {
			if !a.Terminal {
				out = append(out, a)
			}
		}
	}
	return out, nil
}

func (s *fakeStore) recordedAttempts(name string) []apis.Attempt {
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]apis.Attempt(nil), s.attempts[name]...)
}

func (s *fakeStore) AppendEvents(_ context.Context, evs []apis.EventRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	for _, e := range evs {
		if _, ok := s.runs[e.Run]; !ok {
			continue
		}
		ev := e.Event
		if ev.Count < 1 {
			ev.Count = 1
		}
		// A repeat of an earlier event folds into it and moves last, as in
		// raftstore.
		l := slices.DeleteFunc(s.events[e.Run], func(old apis.RunEvent) bool {
			if old.Type == ev.Type && old.Reason == ev.Reason && old.Message == ev.Message {
				ev.Count += old.Count
				return true
			}
			return false
		})
		l = append(l, ev)
		if len(l) > maxEvents {
			l = l[len(l)-maxEvents:]
		}
		s.events[e.Run] = l
	}
	return nil
}

// maxEvents is raftstore's bound on a Run's event history.
const maxEvents = 50

// CreateRun stores a new Run as the API would (storetest.Admin).
func (s *fakeStore) CreateRun(_ context.Context, run *apis.Run) (*apis.Run, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, err
	}
	if _, ok := s.runs[run.Metadata.Name]; ok {
		return nil, fmt.Errorf("run %q: %w", run.Metadata.Name, apis.ErrAlreadyExists)
	}
	r := copyRun(run)
	s.add(r, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
	return copyRun(r), nil
}

// add stores a new Run; caller holds s.mu.
func (s *fakeStore) add(r *apis.Run, created time.Time) {
	s.uid++
	r.APIVersion, r.Kind = apis.APIVersion, apis.KindRun
	r.Metadata.UID = fmt.Sprintf("uid-%d", s.uid)
	r.Metadata.Generation = 1
	r.Metadata.CreationTimestamp = &created
	r.Metadata.DeletionTimestamp = nil
	if r.Status.Phase == "" && !s.noInitialStatus {
		t := created
		r.Status.Phase, r.Status.Message, r.Status.LastTransitionTime = apis.PhasePending, fakeInitialMessage, &t
	}
	delete(s.attempts, r.Metadata.Name)
	delete(s.events, r.Metadata.Name)
	s.runs[r.Metadata.Name] = r
	s.notify(apis.Added, r)
}

// RequestDelete deletes a Run without a live attempt at once and otherwise
// sets its deletionTimestamp, as raftstore does (storetest.Admin).
func (s *fakeStore) RequestDelete(_ context.Context, name, preconditionRV string) (*apis.Run, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, false, err
	}
	r, err := s.lookup(apis.RunRef{Name: name, ResourceVersion: preconditionRV})
	if err != nil {
		return nil, false, err
	}
	live := slices.ContainsFunc(s.attempts[name], func(a apis.Attempt) bool { return !a.Terminal })
	if r.Status.Phase.Terminal() || !live {
		s.remove(r)
		return copyRun(r), true, nil
	}
	if r.Metadata.DeletionTimestamp == nil {
		now := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		r.Metadata.DeletionTimestamp = &now
		s.notify(apis.Modified, r)
	}
	return copyRun(r), false, nil
}

// remove deletes a Run with its attempts and events; caller holds s.mu.
func (s *fakeStore) remove(r *apis.Run) {
	name := r.Metadata.Name
	delete(s.runs, name)
	delete(s.attempts, name)
	delete(s.events, name)
	s.log.add("store.deleted %s", name)
	s.notify(apis.Deleted, r)
}

// Events returns a Run's events (storetest.Admin).
func (s *fakeStore) Events(name string) ([]apis.RunEvent, error) {
	return s.runEvents(name), nil
}

func (s *fakeStore) DeleteRuns(_ context.Context, refs []apis.RunRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	s.log.add("store.delete %d", len(refs))
	for _, ref := range refs {
		if r, err := s.lookup(ref); err == nil {
			s.remove(r)
		}
	}
	return nil
}

func (s *fakeStore) Barrier(context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	s.barriers++
	s.log.add("store.barrier")
	return nil
}

func (s *fakeStore) IsLeader() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.leader
}

func (s *fakeStore) LeaderCh() <-chan bool { return s.leaderCh }

var _ Store = (*fakeStore)(nil)

// fakeScheduler records calls and lets the test play the master.
type fakeScheduler struct {
	log *actionLog

	mu          sync.Mutex
	h           EventHandler
	hctx        context.Context // the context of the running subscription
	runs        int
	launched    map[string]mesos.TaskInfo // task ID → task, by ACCEPT
	acked       []string
	failCalls   bool
	failAccepts int           // the next ACCEPTs fail
	running     chan struct{} // receives on each Run
}

func newFakeScheduler(log *actionLog) *fakeScheduler {
	return &fakeScheduler{log: log, launched: map[string]mesos.TaskInfo{}, running: make(chan struct{}, 16)}
}

func (f *fakeScheduler) Run(ctx context.Context, h EventHandler) error {
	f.mu.Lock()
	f.h, f.hctx = h, ctx
	f.runs++
	f.mu.Unlock()
	f.log.add("sched.run")
	f.running <- struct{}{}
	<-ctx.Done()
	f.mu.Lock()
	f.h, f.hctx = nil, nil
	f.mu.Unlock()
	f.log.add("sched.stopped")
	return ctx.Err()
}

// subscription returns the running subscription's handler and context,
// which every event is delivered with.
func (f *fakeScheduler) subscription() (EventHandler, context.Context) {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.h, f.hctx
}

// The master's events, delivered on the running subscription.

func (f *fakeScheduler) subscribed(frameworkID string) {
	h, ctx := f.subscription()
	h.Subscribed(ctx, frameworkID)
}

func (f *fakeScheduler) offers(offers ...mesos.Offer) {
	h, ctx := f.subscription()
	h.Offers(ctx, offers)
}

func (f *fakeScheduler) statusUpdate(st mesos.TaskStatus) {
	h, ctx := f.subscription()
	h.Update(ctx, st)
}

func (f *fakeScheduler) err() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.failCalls {
		return fmt.Errorf("fake: not subscribed")
	}
	return nil
}

func (f *fakeScheduler) Accept(_ context.Context, offerID mesos.OfferID, tasks []mesos.TaskInfo, _ time.Duration) error {
	if err := f.err(); err != nil {
		return err
	}
	f.mu.Lock()
	if f.failAccepts > 0 {
		f.failAccepts--
		f.mu.Unlock()
		f.log.add("sched.accept-failed %s", offerID.Value)
		return fmt.Errorf("fake: accept %s: connection reset", offerID.Value)
	}
	f.mu.Unlock()
	ids := make([]string, len(tasks))
	f.mu.Lock()
	for i, t := range tasks {
		ids[i] = t.TaskID.Value
		f.launched[t.TaskID.Value] = t
	}
	f.mu.Unlock()
	f.log.add("sched.accept %s %s", offerID.Value, strings.Join(ids, ","))
	return nil
}

func (f *fakeScheduler) Decline(_ context.Context, ids []mesos.OfferID, refuse time.Duration) error {
	if err := f.err(); err != nil {
		return err
	}
	var s []string
	for _, id := range ids {
		s = append(s, id.Value)
	}
	f.log.add("sched.decline %s refuse=%s", strings.Join(s, ","), refuse)
	return nil
}

func (f *fakeScheduler) Revive(context.Context) error {
	if err := f.err(); err != nil {
		return err
	}
	f.log.add("sched.revive")
	return nil
}

func (f *fakeScheduler) Suppress(context.Context) error {
	if err := f.err(); err != nil {
		return err
	}
	f.log.add("sched.suppress")
	return nil
}

func (f *fakeScheduler) Kill(_ context.Context, taskID, agentID string) error {
	if err := f.err(); err != nil {
		return err
	}
	f.log.add("sched.kill %s", taskID)
	return nil
}

func (f *fakeScheduler) Reconcile(_ context.Context, tasks []ReconcileTask) error {
	if err := f.err(); err != nil {
		return err
	}
	ids := make([]string, len(tasks))
	for i, t := range tasks {
		ids[i] = t.TaskID
	}
	sort.Strings(ids)
	f.log.add("sched.reconcile [%s]", strings.Join(ids, ","))
	return nil
}

func (f *fakeScheduler) Acknowledge(_ context.Context, st mesos.TaskStatus) error {
	f.mu.Lock()
	f.acked = append(f.acked, st.TaskID.Value+" "+st.GetState().String())
	f.mu.Unlock()
	f.log.add("sched.ack %s %s", st.TaskID.Value, st.GetState())
	return nil
}

func (f *fakeScheduler) taskIDs() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for id := range f.launched {
		out = append(out, id)
	}
	sort.Strings(out)
	return out
}

var _ Scheduler = (*fakeScheduler)(nil)

// quietly changes a Run as a concurrent writer would, without a watch
// event: the controller only learns of it when it reconciles the Run.
func (s *fakeStore) quietly(name string, f func(r *apis.Run)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	f(s.runs[name])
}

// reset forgets the actions recorded so far.
func (l *actionLog) reset() {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.all = nil
}

// fakeInitialMessage is the message of a Run the fake stores Pending, as
// raftstore.InitialMessage.
const fakeInitialMessage = "waiting for an offer"
