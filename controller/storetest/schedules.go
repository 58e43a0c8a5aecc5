package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
)

// The Schedule half of the contract: what the scheduler relies on of
// FireSchedule, UpdateScheduleStatus and the Schedule reads and watch.

// ScheduleAdmin does to a store's Schedules what users do through the
// API. *raftstore.Store is one.
type ScheduleAdmin interface {
	// CreateSchedule stores a new Schedule; the store sets uid,
	// resourceVersion and creationTimestamp.
	CreateSchedule(ctx context.Context, sc *apis.Schedule) (*apis.Schedule, error)
	// DeleteSchedule deletes a Schedule (not its Runs).
	DeleteSchedule(ctx context.Context, ref apis.RunRef) (*apis.Schedule, error)
	// ScheduleEvents returns a Schedule's event history, oldest first.
	ScheduleEvents(name string) ([]apis.RunEvent, error)
}

func newSchedule(name string) *apis.Schedule {
	sc := &apis.Schedule{
		Metadata: apis.ObjectMeta{Name: name},
		Spec: apis.ScheduleSpec{
			Schedule:    "@every 1m",
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16}},
		},
	}
	apis.SetScheduleDefaults(sc)
	return sc
}

func createSchedule(t *testing.T, h Harness, name string) *apis.Schedule {
	t.Helper()
	sc, err := h.Schedules.CreateSchedule(t.Context(), newSchedule(name))
	require.NoError(t, err, "create schedule %s", name)
	require.NotEmpty(t, sc.Metadata.UID)
	require.NotNil(t, sc.Metadata.CreationTimestamp)
	return sc
}

func getSchedule(t *testing.T, h Harness, name string) *apis.Schedule {
	t.Helper()
	sc, err := h.Store.GetSchedule(t.Context(), name)
	require.NoError(t, err, "get schedule %s", name)
	return sc
}

// firedRuns are the n Runs of sc's firing at at, as the scheduler makes
// them: named by the firing, labelled, owned by the Schedule.
func firedRuns(sc *apis.Schedule, at time.Time, n int) []apis.Run {
	runs := make([]apis.Run, n)
	for i := range runs {
		r := &runs[i]
		r.APIVersion, r.Kind = apis.APIVersion, apis.KindRun
		r.Metadata.Name = fmt.Sprintf("%s-%d-%d", sc.Metadata.Name, at.Unix(), i)
		r.Metadata.Labels = map[string]string{apis.LabelSchedule: sc.Metadata.Name}
		r.Metadata.OwnerReferences = []apis.OwnerReference{{APIVersion: apis.APIVersion, Kind: apis.KindSchedule, Name: sc.Metadata.Name, UID: sc.Metadata.UID, Controller: true}}
		sc.Spec.RunTemplate.Spec.DeepCopyInto(&r.Spec)
		apis.SetDefaults(r)
	}
	return runs
}

func scheduleRef(sc *apis.Schedule) apis.RunRef {
	return apis.RunRef{Name: sc.Metadata.Name, UID: sc.Metadata.UID}
}

// nextSchedule receives the next watch event of the Schedule named name.
func nextSchedule(t *testing.T, w controller.ScheduleWatcher, name string) apis.WatchEvent {
	t.Helper()
	timeout := time.NewTimer(Wait)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			require.True(t, ok, "watch ended: %v", w.Err())
			if sc, _ := ev.Object.(*apis.Schedule); sc != nil && sc.Metadata.Name == name {
				return ev
			}
		case <-timeout.C:
			t.Fatalf("no watch event for schedule %s within %s", name, Wait)
		}
	}
}

func scheduleIndex(t *testing.T, h Harness) uint64 {
	t.Helper()
	idx, err := h.Store.EachSchedule(t.Context(), func(*apis.Schedule) error { return nil })
	require.NoError(t, err)
	return idx
}

// fireOne commits one firing with FireSchedules and returns its outcome.
func fireOne(t *testing.T, st controller.Store, f apis.Firing) error {
	t.Helper()
	errs := st.FireSchedules(t.Context(), []apis.Firing{f})
	require.Len(t, errs, 1, "one outcome per firing")
	return errs[0]
}

var firingTime = time.Date(2026, 11, 21, 12, 1, 0, 0, time.UTC)

var scheduleCases = []testCase{
	{"FireSchedule commits the Runs, lastScheduleTime, missedFirings and events together", func(t *testing.T, h Harness) {
		sc := createSchedule(t, h, "fire-a")
		w, err := h.Store.WatchSchedules(t.Context(), scheduleIndex(t, h))
		require.NoError(t, err)
		defer w.Stop()
		runs := firedRuns(sc, firingTime, 2)
		fired := apis.RunEvent{Time: firingTime, Type: apis.EventNormal, Reason: "Fired", Message: "created 2 runs", Count: 1}
		require.NoError(t, fireOne(t, h.Store, apis.Firing{
			Schedule: scheduleRef(sc), ScheduleTime: firingTime, MissedFirings: 2, Runs: runs, Events: []apis.RunEvent{fired},
		}))
		for _, want := range runs {
			r := get(t, h, want.Metadata.Name)
			assert.NotEmpty(t, r.Metadata.UID, "the store sets the uid")
			assert.NotNil(t, r.Metadata.CreationTimestamp)
			assert.Equal(t, want.Metadata.Labels, r.Metadata.Labels)
			assert.Equal(t, want.Metadata.OwnerReferences, r.Metadata.OwnerReferences)
		}
		got := getSchedule(t, h, "fire-a")
		require.NotNil(t, got.Status.LastScheduleTime)
		assert.True(t, got.Status.LastScheduleTime.Equal(firingTime))
		assert.Equal(t, int64(2), got.Status.MissedFirings)
		evs, err := h.Schedules.ScheduleEvents("fire-a")
		require.NoError(t, err)
		require.Len(t, evs, 1)
		assert.Equal(t, "Fired", evs[0].Reason)

		ev := nextSchedule(t, w, "fire-a")
		assert.Equal(t, apis.Modified, ev.Type)
		seen := ev.Object.(*apis.Schedule)
		require.NotNil(t, seen.Status.LastScheduleTime)
		assert.True(t, seen.Status.LastScheduleTime.Equal(firingTime), "the watch shows the firing")
	}},
	{"FireSchedule's preconditions refuse the whole firing", func(t *testing.T, h Harness) {
		sc := createSchedule(t, h, "fire-b")
		first := firedRuns(sc, firingTime, 1)
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), ScheduleTime: firingTime, Runs: first}))
		later := firingTime.Add(time.Minute)

		err := fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), ScheduleTime: later, Runs: firedRuns(sc, later, 1)})
		assert.ErrorIs(t, err, apis.ErrConflict, "another leader fired: PreviousScheduleTime is not the stored one")

		prev := firingTime
		wrong := scheduleRef(sc)
		wrong.UID = "another-uid"
		err = fireOne(t, h.Store, apis.Firing{Schedule: wrong, PreviousScheduleTime: &prev, ScheduleTime: later})
		assert.ErrorIs(t, err, apis.ErrNotFound, "a re-created Schedule of the same name is another")

		dup := append(firedRuns(sc, later, 1), first[0])
		err = fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), PreviousScheduleTime: &prev, ScheduleTime: later, Runs: dup})
		assert.ErrorIs(t, err, apis.ErrAlreadyExists)

		got := getSchedule(t, h, "fire-b")
		assert.True(t, got.Status.LastScheduleTime.Equal(firingTime), "nothing of a refused firing is written")
		_, err = h.Store.GetRun(t.Context(), dup[0].Metadata.Name)
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"FireSchedules gives each firing its own outcome; a refused one leaves the others", func(t *testing.T, h Harness) {
		a, b, c := createSchedule(t, h, "batch-a"), createSchedule(t, h, "batch-b"), createSchedule(t, h, "batch-c")
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(b), ScheduleTime: firingTime, Runs: firedRuns(b, firingTime, 1)}))
		later := firingTime.Add(time.Minute)
		prev := firingTime
		gone := scheduleRef(c)
		gone.UID = "another-uid"
		taken := firedRuns(c, later, 1)
		taken[0].Metadata.Name = firedRuns(b, firingTime, 1)[0].Metadata.Name
		firings := []apis.Firing{
			{Schedule: scheduleRef(a), ScheduleTime: firingTime, Runs: firedRuns(a, firingTime, 2)},                    // fired
			{Schedule: scheduleRef(a), ScheduleTime: later, Runs: firedRuns(a, later, 1)},                              // a fired just before: conflict
			{Schedule: scheduleRef(b), PreviousScheduleTime: &prev, ScheduleTime: later, Runs: firedRuns(b, later, 1)}, // fired
			{Schedule: gone, ScheduleTime: later},                                                                      // another incarnation
			{Schedule: scheduleRef(c), ScheduleTime: later, Runs: taken},                                               // a Run of the name exists
			{Schedule: scheduleRef(c), ScheduleTime: later, MissedFirings: 2, Runs: firedRuns(c, later, 1)},            // fired
		}
		errs := h.Store.FireSchedules(t.Context(), firings)
		require.Len(t, errs, len(firings), "one outcome per firing")
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], apis.ErrConflict)
		assert.NoError(t, errs[2])
		assert.ErrorIs(t, errs[3], apis.ErrNotFound)
		assert.ErrorIs(t, errs[4], apis.ErrAlreadyExists)
		assert.NoError(t, errs[5])

		assert.True(t, getSchedule(t, h, "batch-a").Status.LastScheduleTime.Equal(firingTime), "a's refused second firing wrote nothing")
		_, err := h.Store.GetRun(t.Context(), firedRuns(a, later, 1)[0].Metadata.Name)
		assert.ErrorIs(t, err, apis.ErrNotFound)
		get(t, h, firedRuns(a, firingTime, 2)[1].Metadata.Name)
		assert.True(t, getSchedule(t, h, "batch-b").Status.LastScheduleTime.Equal(later))
		get(t, h, firedRuns(b, later, 1)[0].Metadata.Name)
		gotC := getSchedule(t, h, "batch-c")
		assert.True(t, gotC.Status.LastScheduleTime.Equal(later))
		assert.Equal(t, int64(2), gotC.Status.MissedFirings)
		get(t, h, firedRuns(c, later, 1)[0].Metadata.Name)
	}},
	{"a firing without Runs advances lastScheduleTime (skipped or missed)", func(t *testing.T, h Harness) {
		sc := createSchedule(t, h, "fire-c")
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), ScheduleTime: firingTime, MissedFirings: 7}))
		got := getSchedule(t, h, "fire-c")
		assert.True(t, got.Status.LastScheduleTime.Equal(firingTime))
		assert.Equal(t, int64(7), got.Status.MissedFirings)
		prev := firingTime
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), PreviousScheduleTime: &prev, ScheduleTime: firingTime.Add(time.Minute), MissedFirings: 1}))
		assert.Equal(t, int64(8), getSchedule(t, h, "fire-c").Status.MissedFirings, "added up")
	}},
	{"Replace cancels the live Runs named in the firing's entry, and only those", func(t *testing.T, h Harness) {
		sc := createSchedule(t, h, "fire-d")
		first := firedRuns(sc, firingTime, 3)
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), ScheduleTime: firingTime, Runs: first}))
		live, done, other := get(t, h, first[0].Metadata.Name), get(t, h, first[1].Metadata.Name), get(t, h, first[2].Metadata.Name)
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(done), Status: apis.RunStatus{Phase: apis.PhaseSucceeded}}))
		prev := firingTime
		later := firingTime.Add(time.Minute)
		require.NoError(t, fireOne(t, h.Store, apis.Firing{
			Schedule: scheduleRef(sc), PreviousScheduleTime: &prev, ScheduleTime: later, Runs: firedRuns(sc, later, 1),
			Replace: []apis.RunRef{ref(live), ref(done), {Name: other.Metadata.Name, UID: "not-its-uid"}},
		}))
		assert.True(t, get(t, h, live.Metadata.Name).Spec.Cancel, "the live Run is cancelled")
		assert.Equal(t, apis.ReasonReplaced, get(t, h, live.Metadata.Name).Metadata.Annotations[apis.AnnotationCancelReason], "and marked as replaced, in the same entry")
		assert.NotContains(t, get(t, h, done.Metadata.Name).Metadata.Annotations, apis.AnnotationCancelReason)
		assert.False(t, get(t, h, done.Metadata.Name).Spec.Cancel, "a finished Run is left alone")
		assert.False(t, get(t, h, other.Metadata.Name).Spec.Cancel, "a Run of another UID is left alone")
	}},
	{"UpdateScheduleStatus writes the controller's fields only; an unchanged status is no write", func(t *testing.T, h Harness) {
		sc := createSchedule(t, h, "status-a")
		require.NoError(t, fireOne(t, h.Store, apis.Firing{Schedule: scheduleRef(sc), ScheduleTime: firingTime, MissedFirings: 1}))
		next := firingTime.Add(time.Minute)
		bogus := firingTime.Add(time.Hour)
		st := apis.ScheduleStatus{NextScheduleTime: &next, LastSuccessfulTime: &firingTime, Active: []string{"status-a-1-0"}, Message: "ok",
			LastScheduleTime: &bogus, MissedFirings: 99}
		require.NoError(t, h.Store.UpdateScheduleStatus(t.Context(), scheduleRef(sc), st))
		got := getSchedule(t, h, "status-a")
		assert.True(t, got.Status.NextScheduleTime.Equal(next))
		assert.True(t, got.Status.LastSuccessfulTime.Equal(firingTime))
		assert.Equal(t, []string{"status-a-1-0"}, got.Status.Active)
		assert.Equal(t, "ok", got.Status.Message)
		assert.True(t, got.Status.LastScheduleTime.Equal(firingTime), "lastScheduleTime is FireSchedule's alone")
		assert.Equal(t, int64(1), got.Status.MissedFirings, "missedFirings is FireSchedule's alone")

		require.NoError(t, h.Store.UpdateScheduleStatus(t.Context(), scheduleRef(sc), st))
		assert.Equal(t, got.Metadata.ResourceVersion, getSchedule(t, h, "status-a").Metadata.ResourceVersion, "unchanged: no new resourceVersion")

		wrong := scheduleRef(sc)
		wrong.UID = "another-uid"
		assert.ErrorIs(t, h.Store.UpdateScheduleStatus(t.Context(), wrong, st), apis.ErrNotFound)
		assert.ErrorIs(t, h.Store.UpdateScheduleStatus(t.Context(), apis.RunRef{Name: "status-missing"}, st), apis.ErrNotFound)
	}},
	{"EachSchedule visits every Schedule in name order; a watch from its index misses nothing", func(t *testing.T, h Harness) {
		for _, n := range []string{"each-sc-c", "each-sc-a", "each-sc-b"} {
			createSchedule(t, h, n)
		}
		var names []string
		idx, err := h.Store.EachSchedule(t.Context(), func(sc *apis.Schedule) error {
			names = append(names, sc.Metadata.Name)
			return nil
		})
		require.NoError(t, err)
		assert.IsIncreasing(t, names)
		assert.Subset(t, names, []string{"each-sc-a", "each-sc-b", "each-sc-c"})
		w, err := h.Store.WatchSchedules(t.Context(), idx)
		require.NoError(t, err)
		defer w.Stop()
		d := createSchedule(t, h, "each-sc-d")
		assert.Equal(t, apis.Added, nextSchedule(t, w, "each-sc-d").Type)
		_, err = h.Schedules.DeleteSchedule(t.Context(), scheduleRef(d))
		require.NoError(t, err)
		assert.Equal(t, apis.Deleted, nextSchedule(t, w, "each-sc-d").Type)
		_, err = h.Store.GetSchedule(t.Context(), "each-sc-d")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"Schedule writes on a node that is not the leader fail with ErrNotLeader", func(t *testing.T, h Harness) {
		if h.Follower == nil {
			t.Skip("no follower in this harness")
		}
		assert.ErrorIs(t, fireOne(t, h.Follower, apis.Firing{Schedule: apis.RunRef{Name: "x"}, ScheduleTime: firingTime}), apis.ErrNotLeader)
		assert.ErrorIs(t, h.Follower.UpdateScheduleStatus(t.Context(), apis.RunRef{Name: "x"}, apis.ScheduleStatus{}), apis.ErrNotLeader)
	}},
}
