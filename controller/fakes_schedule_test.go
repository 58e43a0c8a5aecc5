package controller

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// The fake store's Schedules: the semantics of raftstore's Schedule
// commands that the scheduler relies on (storetest checks both).

type fakeSchedules struct {
	byName  map[string]*apis.Schedule
	events  map[string][]apis.RunEvent
	history []indexedEvent // every Schedule change, for watches from an index
	watches []*fakeWatcher
	fires   []apis.Firing // committed firings, in order
	// batches is the size of every FireSchedules call, in order.
	batches []int
	// gate, when set, holds every FireSchedules call until it is closed:
	// the calls are in flight.
	gate chan struct{}
	// calls counts FireSchedules calls as they start (held or not).
	calls int
	// beforeFire, when set, runs inside FireSchedules before each
	// firing's checks, with the store locked: a test plays another
	// leader's commit there.
	beforeFire func(f apis.Firing)
	// failFire fails the next firings without committing them.
	failFire     []error
	statusWrites int
}

type indexedEvent struct {
	index uint64
	ev    apis.WatchEvent
}

func (s *fakeStore) scheds() *fakeSchedules {
	if s.schedules == nil {
		s.schedules = &fakeSchedules{byName: map[string]*apis.Schedule{}, events: map[string][]apis.RunEvent{}}
	}
	return s.schedules
}

// notifySchedule records a Schedule change; caller holds s.mu.
func (s *fakeStore) notifySchedule(typ apis.EventType, sc *apis.Schedule) {
	s.index++
	sc.Metadata.ResourceVersion = strconv.FormatUint(s.index, 10)
	cp := copySchedule(sc)
	fs := s.scheds()
	ev := apis.WatchEvent{Type: typ, Object: cp}
	fs.history = append(fs.history, indexedEvent{s.index, ev})
	for _, w := range fs.watches {
		w.mu.Lock()
		if !w.off {
			select {
			case w.ch <- ev:
			default:
				w.off, w.err = true, apis.ErrGone
				close(w.ch)
			}
		}
		w.mu.Unlock()
	}
}

// copySchedule copies a Schedule as the store hands them out: nothing of
// it is shared with the stored one.
func copySchedule(sc *apis.Schedule) *apis.Schedule {
	cp := *sc
	cp.Metadata = apis.ObjectMeta{}
	sc.Metadata.DeepCopyInto(&cp.Metadata)
	cp.Spec.RunTemplate.Spec = apis.RunSpec{}
	sc.Spec.RunTemplate.Spec.DeepCopyInto(&cp.Spec.RunTemplate.Spec)
	cp.Spec.RunTemplate.Metadata.Labels = cloneMap(sc.Spec.RunTemplate.Metadata.Labels)
	cp.Spec.RunTemplate.Metadata.Annotations = cloneMap(sc.Spec.RunTemplate.Metadata.Annotations)
	cp.Spec.DependsOn = slices.Clone(sc.Spec.DependsOn)
	cp.Spec.StartingDeadlineSeconds = copyPtr(sc.Spec.StartingDeadlineSeconds)
	cp.Spec.SuccessfulRunsHistoryLimit = copyPtr(sc.Spec.SuccessfulRunsHistoryLimit)
	cp.Spec.FailedRunsHistoryLimit = copyPtr(sc.Spec.FailedRunsHistoryLimit)
	cp.Status.LastScheduleTime = copyTime(sc.Status.LastScheduleTime)
	cp.Status.LastSuccessfulTime = copyTime(sc.Status.LastSuccessfulTime)
	cp.Status.NextScheduleTime = copyTime(sc.Status.NextScheduleTime)
	cp.Status.Active = slices.Clone(sc.Status.Active)
	return &cp
}

func copyPtr[T any](p *T) *T {
	if p == nil {
		return nil
	}
	c := *p
	return &c
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// CreateSchedule stores a new Schedule as the API would (storetest).
func (s *fakeStore) CreateSchedule(_ context.Context, sc *apis.Schedule) (*apis.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, err
	}
	return s.addSchedule(sc, time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC))
}

// addSchedule stores a new Schedule created at created; caller holds s.mu.
func (s *fakeStore) addSchedule(sc *apis.Schedule, created time.Time) (*apis.Schedule, error) {
	fs := s.scheds()
	if _, ok := fs.byName[sc.Metadata.Name]; ok {
		return nil, fmt.Errorf("schedule %q: %w", sc.Metadata.Name, apis.ErrAlreadyExists)
	}
	cp := copySchedule(sc)
	s.uid++
	cp.APIVersion, cp.Kind = apis.APIVersion, apis.KindSchedule
	cp.Metadata.UID = fmt.Sprintf("uid-%d", s.uid)
	cp.Metadata.Generation = 1
	cp.Metadata.CreationTimestamp = &created
	cp.Status = apis.ScheduleStatus{}
	fs.byName[cp.Metadata.Name] = cp
	delete(fs.events, cp.Metadata.Name)
	s.notifySchedule(apis.Added, cp)
	return copySchedule(cp), nil
}

// createSchedule adds a Schedule created at created (tests).
func (s *fakeStore) createSchedule(t *testing.T, sc apis.Schedule, created time.Time) *apis.Schedule {
	t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	out, err := s.addSchedule(&sc, created)
	require.NoError(t, err)
	return out
}

// editSchedule changes a Schedule's spec as a user would.
func (s *fakeStore) editSchedule(name string, f func(sc *apis.Schedule)) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scheds().byName[name]
	f(sc)
	sc.Metadata.Generation++
	s.notifySchedule(apis.Modified, sc)
}

// DeleteSchedule removes a Schedule (its Runs stay: the API's cascade is
// not the scheduler's business), with ref's UID as a precondition.
func (s *fakeStore) DeleteSchedule(_ context.Context, ref apis.RunRef) (*apis.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return nil, err
	}
	sc, err := s.lookupSchedule(ref)
	if err != nil {
		return nil, err
	}
	fs := s.scheds()
	delete(fs.byName, ref.Name)
	delete(fs.events, ref.Name)
	s.notifySchedule(apis.Deleted, sc)
	return copySchedule(sc), nil
}

func (s *fakeStore) schedule(name string) *apis.Schedule {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc := s.scheds().byName[name]
	if sc == nil {
		return nil
	}
	return copySchedule(sc)
}

func (s *fakeStore) firings() []apis.Firing {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scheds().fires)
}

// ScheduleEvents returns a Schedule's events (storetest).
func (s *fakeStore) ScheduleEvents(name string) ([]apis.RunEvent, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scheds().events[name]), nil
}

func (s *fakeStore) GetSchedule(_ context.Context, name string) (*apis.Schedule, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sc, ok := s.scheds().byName[name]
	if !ok {
		return nil, fmt.Errorf("schedule %q: %w", name, apis.ErrNotFound)
	}
	return copySchedule(sc), nil
}

func (s *fakeStore) EachSchedule(_ context.Context, fn func(*apis.Schedule) error) (uint64, error) {
	s.mu.Lock()
	fs := s.scheds()
	all := make([]*apis.Schedule, 0, len(fs.byName))
	for _, sc := range fs.byName {
		all = append(all, copySchedule(sc))
	}
	slices.SortFunc(all, func(a, b *apis.Schedule) int { return compareStrings(a.Metadata.Name, b.Metadata.Name) })
	index := s.index
	s.mu.Unlock()
	for _, sc := range all {
		if err := fn(sc); err != nil {
			return 0, err
		}
	}
	return index, nil
}

func compareStrings(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

func (s *fakeStore) WatchSchedules(_ context.Context, from uint64) (ScheduleWatcher, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	fs := s.scheds()
	w := &fakeWatcher{ch: make(chan apis.WatchEvent, 100000)}
	for _, h := range fs.history {
		if h.index > from {
			w.ch <- h.ev
		}
	}
	fs.watches = append(fs.watches, w)
	return w, nil
}

// lookupSchedule applies a ref's UID precondition; caller holds s.mu.
func (s *fakeStore) lookupSchedule(ref apis.RunRef) (*apis.Schedule, error) {
	sc, ok := s.scheds().byName[ref.Name]
	if !ok || ref.UID != "" && sc.Metadata.UID != ref.UID {
		return nil, fmt.Errorf("schedule %q (uid %q): %w", ref.Name, ref.UID, apis.ErrNotFound)
	}
	return sc, nil
}

// FireSchedules applies each firing in order with its own outcome, as
// raftstore's fire_schedules entry does, and records the batch's size
// (one call stands for one entry).
func (s *fakeStore) FireSchedules(ctx context.Context, firings []apis.Firing) []error {
	s.mu.Lock()
	gate := s.scheds().gate
	s.scheds().calls++
	s.mu.Unlock()
	if gate != nil {
		select {
		case <-gate:
		case <-ctx.Done():
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	errs := make([]error, len(firings))
	if err := s.checkLeader(); err != nil {
		for i := range errs {
			errs[i] = err
		}
		return errs
	}
	fs := s.scheds()
	fs.batches = append(fs.batches, len(firings))
	for i, f := range firings {
		errs[i] = s.fireLocked(f)
	}
	return errs
}

// fireBatches returns the size of every FireSchedules call so far.
func (s *fakeStore) fireBatches() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.scheds().batches)
}

// fireCalls returns how many FireSchedules calls started.
func (s *fakeStore) fireCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.scheds().calls
}

// fireLocked applies one firing; caller holds s.mu.
func (s *fakeStore) fireLocked(f apis.Firing) error {
	fs := s.scheds()
	if fs.beforeFire != nil {
		fs.beforeFire(f)
	}
	if len(fs.failFire) > 0 {
		err := fs.failFire[0]
		fs.failFire = fs.failFire[1:]
		return err
	}
	sc, err := s.lookupSchedule(f.Schedule)
	if err != nil {
		return err
	}
	if !timePtrEq(f.PreviousScheduleTime, sc.Status.LastScheduleTime) {
		return fmt.Errorf("schedule %s: lastScheduleTime is %v, not %v: %w", sc.Metadata.Name, sc.Status.LastScheduleTime, f.PreviousScheduleTime, apis.ErrConflict)
	}
	for _, r := range f.Runs {
		if o := apis.ControllerOf(&r.Metadata); o == nil || o.UID != sc.Metadata.UID {
			return fmt.Errorf("run %q is not owned by schedule uid %s: %w", r.Metadata.Name, sc.Metadata.UID, apis.ErrConflict)
		}
		if _, ok := s.runs[r.Metadata.Name]; ok {
			return fmt.Errorf("run %q: %w", r.Metadata.Name, apis.ErrAlreadyExists)
		}
	}
	s.commitFiring(sc, f)
	return nil
}

// commitFiring applies a firing; caller holds s.mu and checked it.
func (s *fakeStore) commitFiring(sc *apis.Schedule, f apis.Firing) {
	fs := s.scheds()
	for _, ref := range f.Replace {
		if r, err := s.lookup(ref); err == nil && !r.Status.Phase.Terminal() && !r.Spec.Cancel {
			r.Spec.Cancel = true
			r.Metadata.Annotations = maps.Clone(r.Metadata.Annotations)
			if r.Metadata.Annotations == nil {
				r.Metadata.Annotations = map[string]string{}
			}
			r.Metadata.Annotations[apis.AnnotationCancelReason] = apis.ReasonReplaced
			r.Metadata.Generation++
			s.notify(apis.Modified, r)
		}
	}
	for i := range f.Runs {
		s.add(copyRun(&f.Runs[i]), f.ScheduleTime)
	}
	s.appendScheduleEvents(sc.Metadata.Name, f.Events)
	t := f.ScheduleTime
	sc.Status.LastScheduleTime = &t
	sc.Status.MissedFirings += f.MissedFirings
	s.notifySchedule(apis.Modified, sc)
	fs.fires = append(fs.fires, f)
	s.log.add("store.fire %s %d runs=%d missed=%d replace=%d", sc.Metadata.Name, f.ScheduleTime.Unix(), len(f.Runs), f.MissedFirings, len(f.Replace))
}

// fireAsOtherLeader commits a firing as another leader would have
// (tests); caller holds s.mu (from beforeFire) or not (locked=false).
func (s *fakeStore) fireAsOtherLeader(f apis.Firing) {
	sc := s.scheds().byName[f.Schedule.Name]
	s.commitFiring(sc, f)
}

func (s *fakeStore) UpdateScheduleStatus(_ context.Context, ref apis.RunRef, st apis.ScheduleStatus) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if err := s.checkLeader(); err != nil {
		return err
	}
	sc, err := s.lookupSchedule(ref)
	if err != nil {
		return err
	}
	cur := ownedStatus(sc.Status)
	want := ownedStatus(st)
	if ownedEqual(cur, want) {
		return nil
	}
	sc.Status.NextScheduleTime = want.NextScheduleTime
	sc.Status.LastSuccessfulTime = want.LastSuccessfulTime
	sc.Status.Active = want.Active
	sc.Status.Message = want.Message
	s.scheds().statusWrites++
	s.notifySchedule(apis.Modified, sc)
	return nil
}

// appendScheduleEvents adds to a Schedule's bounded history, folding
// repeats as raftstore does; caller holds s.mu.
func (s *fakeStore) appendScheduleEvents(name string, evs []apis.RunEvent) {
	fs := s.scheds()
	for _, ev := range evs {
		if ev.Count < 1 {
			ev.Count = 1
		}
		l := slices.DeleteFunc(fs.events[name], func(old apis.RunEvent) bool {
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
		fs.events[name] = l
	}
}

var _ ScheduleStore = (*fakeStore)(nil)
