package controller

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
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

// fakeClock is a manual Clock.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	timers []*fakeTimer
}

type fakeTimer struct {
	c       *fakeClock
	at      time.Time
	f       func()
	stopped bool
	fired   bool
}

func newFakeClock() *fakeClock {
	return &fakeClock{now: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) AfterFunc(d time.Duration, f func()) Timer {
	c.mu.Lock()
	defer c.mu.Unlock()
	t := &fakeTimer{c: c, at: c.now.Add(d), f: f}
	c.timers = append(c.timers, t)
	return t
}

func (t *fakeTimer) Stop() bool {
	t.c.mu.Lock()
	defer t.c.mu.Unlock()
	was := !t.stopped && !t.fired
	t.stopped = true
	return was
}

// Advance moves time forward by d, firing due timers in time order.
func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	end := c.now.Add(d)
	c.mu.Unlock()
	for {
		c.mu.Lock()
		sort.SliceStable(c.timers, func(i, j int) bool { return c.timers[i].at.Before(c.timers[j].at) })
		var next *fakeTimer
		for _, t := range c.timers {
			if !t.stopped && !t.fired && !t.at.After(end) {
				next = t
				break
			}
		}
		if next == nil {
			c.now = end
			live := c.timers[:0]
			for _, t := range c.timers {
				if !t.stopped && !t.fired {
					live = append(live, t)
				}
			}
			c.timers = live
			c.mu.Unlock()
			return
		}
		next.fired = true
		if next.at.After(c.now) {
			c.now = next.at
		}
		c.mu.Unlock()
		next.f()
	}
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
	batches        []int // size of each UpdateStatuses call
	barriers       int
	failRecordOnce error
	panicGets      map[string]int // GetRun of these names panics this many times
	scanned        int            // EachRun calls
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

func copyRun(r *apis.Run) *apis.Run {
	cp := *r
	cp.Status.Ports = append([]int32(nil), r.Status.Ports...)
	return &cp
}

// create adds a Run as the API server would.
func (s *fakeStore) create(t *testing.T, r apis.Run, created time.Time) {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	require.NotContains(t, s.runs, r.Metadata.Name)
	s.uid++
	r.Metadata.UID = fmt.Sprintf("uid-%d", s.uid)
	r.Metadata.Generation = 1
	r.Metadata.CreationTimestamp = &created
	s.runs[r.Metadata.Name] = &r
	s.notify(apis.Added, &r)
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
		return ErrNotLeader
	}
	return nil
}

func (s *fakeStore) UpdateStatuses(_ context.Context, updates []StatusUpdate) ([]error, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, err
	}
	s.batches = append(s.batches, len(updates))
	errs := make([]error, len(updates))
	for i, u := range updates {
		r, ok := s.runs[u.Run.Name]
		if !ok || r.Metadata.UID != u.Run.UID {
			errs[i] = apis.ErrNotFound
			continue
		}
		r.Status = u.Status
		if u.FinishTaskID != "" {
			as := s.attempts[u.Run.Name]
			for j := range as {
				if as[j].TaskID == u.FinishTaskID {
					as[j].Terminal = true
				}
			}
		}
		s.log.add("store.status %s %s %s", u.Run.Name, u.Status.Phase, u.Status.Reason)
		s.notify(apis.Modified, r)
	}
	return errs, nil
}

func (s *fakeStore) RecordAttempt(_ context.Context, ref RunRef, a apis.Attempt) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	if err := s.failRecordOnce; err != nil {
		s.failRecordOnce = nil
		return err
	}
	r, ok := s.runs[ref.Name]
	if !ok || r.Metadata.UID != ref.UID {
		return apis.ErrNotFound
	}
	for _, old := range s.attempts[ref.Name] {
		if !old.Terminal {
			return fmt.Errorf("run %s: %w", ref.Name, ErrAttemptLive)
		}
	}
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

func (s *fakeStore) AppendEvents(_ context.Context, evs []EventRecord) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, e := range evs {
		if _, ok := s.runs[e.Run]; !ok {
			continue
		}
		l := s.events[e.Run]
		if n := len(l); n > 0 && l[n-1].Reason == e.Event.Reason && l[n-1].Message == e.Event.Message {
			l[n-1].Count++ // repeats fold, as in raftstore
			continue
		}
		l = append(l, e.Event)
		if len(l) > 20 {
			l = l[len(l)-20:]
		}
		s.events[e.Run] = l
	}
	return nil
}

func (s *fakeStore) DeleteRuns(_ context.Context, refs []RunRef) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	s.log.add("store.delete %d", len(refs))
	for _, ref := range refs {
		r, ok := s.runs[ref.Name]
		if !ok || r.Metadata.UID != ref.UID || ref.ResourceVersion != "" && r.Metadata.ResourceVersion != ref.ResourceVersion {
			continue
		}
		delete(s.runs, ref.Name)
		delete(s.attempts, ref.Name)
		delete(s.events, ref.Name)
		s.log.add("store.deleted %s", ref.Name)
		s.notify(apis.Deleted, r)
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
	f.h = h
	f.runs++
	f.mu.Unlock()
	f.log.add("sched.run")
	f.running <- struct{}{}
	<-ctx.Done()
	f.mu.Lock()
	f.h = nil
	f.mu.Unlock()
	f.log.add("sched.stopped")
	return ctx.Err()
}

func (f *fakeScheduler) handler() EventHandler {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.h
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
