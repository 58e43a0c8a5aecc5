// Package storetest is the contract of controller.Store: one suite, run
// against the raftstore-backed store the program uses (internal/wiring)
// and against every fake the controller's tests use, so a fake cannot
// promise what production does not do, nor the other way round.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
)

// Admin does to a store what users do through the API, which
// controller.Store cannot: create Runs, ask for their deletion, and read
// their events. *raftstore.Store is one.
type Admin interface {
	// CreateRun stores a new Run; the store sets uid, resourceVersion and
	// creationTimestamp.
	CreateRun(ctx context.Context, run *apis.Run) (*apis.Run, error)
	// RequestDelete deletes a Run without a live attempt at once and
	// otherwise sets its deletionTimestamp.
	RequestDelete(ctx context.Context, name, preconditionRV string) (*apis.Run, bool, error)
	// Events returns a Run's event history, oldest first.
	Events(name string) ([]apis.RunEvent, error)
}

// Harness is one store under test.
type Harness struct {
	// Store is the store as the controller sees it, on the leader.
	Store controller.Store
	// Admin acts on the same store as a user would.
	Admin Admin
	// Follower is the same kind of store on a node that is not the
	// leader; nil skips the not-leader cases.
	Follower controller.Store
	// Schedules acts on the same store's Schedules as a user would.
	Schedules ScheduleAdmin
}

// Wait bounds how long the suite waits for a watch event.
const Wait = 10 * time.Second

// Run runs the contract against the store newHarness returns. The cases
// share that store and use Run names of their own.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := newHarness(t)
	for _, c := range append(cases, scheduleCases...) {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

func newRun(name string) *apis.Run {
	return &apis.Run{
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"suite": "contract"}},
		Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16, Env: map[string]string{"A": "1"}},
	}
}

func create(t *testing.T, h Harness, name string) *apis.Run {
	t.Helper()
	r, err := h.Admin.CreateRun(t.Context(), newRun(name))
	require.NoError(t, err, "create %s", name)
	require.NotEmpty(t, r.Metadata.UID)
	require.NotEmpty(t, r.Metadata.ResourceVersion)
	return r
}

// recreate deletes a Run that has no live attempt and creates it again:
// same name, new UID.
func recreate(t *testing.T, h Harness, name string) *apis.Run {
	t.Helper()
	_, deleted, err := h.Admin.RequestDelete(t.Context(), name, "")
	require.NoError(t, err)
	require.True(t, deleted, "a Run without a live attempt is deleted at once")
	return create(t, h, name)
}

func ref(r *apis.Run) apis.RunRef {
	return apis.RunRef{Name: r.Metadata.Name, UID: r.Metadata.UID}
}

func get(t *testing.T, h Harness, name string) *apis.Run {
	t.Helper()
	r, err := h.Store.GetRun(t.Context(), name)
	require.NoError(t, err, "get %s", name)
	return r
}

func updateOne(t *testing.T, h Harness, u apis.StatusUpdate) error {
	t.Helper()
	errs, err := h.Store.UpdateStatuses(t.Context(), []apis.StatusUpdate{u})
	require.NoError(t, err, "the batch commits")
	require.Len(t, errs, 1)
	return errs[0]
}

func attempt(number int32, taskID string) apis.Attempt {
	return apis.Attempt{Number: number, TaskID: taskID, AgentID: "agent-1", LaunchTime: time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)}
}

func liveTasks(t *testing.T, h Harness, run string) []string {
	t.Helper()
	live, err := h.Store.LiveAttempts(t.Context())
	require.NoError(t, err)
	var ids []string
	for _, a := range live {
		if a.Run == run {
			ids = append(ids, a.TaskID)
		}
	}
	slices.Sort(ids)
	return ids
}

// next receives the next watch event of a Run named name, skipping others.
func next(t *testing.T, w controller.RunWatcher, name string) apis.WatchEvent {
	t.Helper()
	timeout := time.NewTimer(Wait)
	defer timeout.Stop()
	for {
		select {
		case ev, ok := <-w.Events():
			require.True(t, ok, "watch ended: %v", w.Err())
			if r, _ := ev.Object.(*apis.Run); r != nil && r.Metadata.Name == name {
				return ev
			}
		case <-timeout.C:
			t.Fatalf("no watch event for %s within %s", name, Wait)
		}
	}
}

var running = apis.RunStatus{Phase: apis.PhaseRunning, Message: "running", Attempts: 1, TaskID: "t.1.x", Ports: []int32{31000}}

var cases = []testCase{
	{"GetRun returns a copy, or ErrNotFound", func(t *testing.T, h Harness) {
		create(t, h, "get-a")
		r := get(t, h, "get-a")
		r.Metadata.Labels["suite"] = "changed"
		r.Spec.Env["A"] = "changed"
		again := get(t, h, "get-a")
		assert.Equal(t, "contract", again.Metadata.Labels["suite"], "a caller's change does not reach the store")
		assert.Equal(t, "1", again.Spec.Env["A"])
		_, err := h.Store.GetRun(t.Context(), "get-missing")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"EachRun visits every Run in name order, and a watch from its index misses nothing", func(t *testing.T, h Harness) {
		for _, n := range []string{"each-c", "each-a", "each-b"} {
			create(t, h, n)
		}
		var names []string
		idx, err := h.Store.EachRun(t.Context(), func(r *apis.Run) error {
			names = append(names, r.Metadata.Name)
			return nil
		})
		require.NoError(t, err)
		assert.True(t, slices.IsSorted(names), "name order: %v", names)
		for _, n := range []string{"each-a", "each-b", "each-c"} {
			assert.Contains(t, names, n)
		}
		w, err := h.Store.WatchRuns(t.Context(), idx)
		require.NoError(t, err)
		defer w.Stop()
		create(t, h, "each-d")
		ev := next(t, w, "each-d")
		assert.Equal(t, apis.Added, ev.Type)
	}},
	{"EachRun stops at fn's error and returns it", func(t *testing.T, h Harness) {
		create(t, h, "stop-a")
		create(t, h, "stop-b")
		stop := errors.New("stop here")
		calls := 0
		_, err := h.Store.EachRun(t.Context(), func(*apis.Run) error { calls++; return stop })
		assert.ErrorIs(t, err, stop)
		assert.Equal(t, 1, calls)
	}},
	{"WatchRuns delivers a status change as MODIFIED with the new resourceVersion", func(t *testing.T, h Harness) {
		r := create(t, h, "watch-a")
		idx, err := h.Store.EachRun(t.Context(), func(*apis.Run) error { return nil })
		require.NoError(t, err)
		w, err := h.Store.WatchRuns(t.Context(), idx)
		require.NoError(t, err)
		defer w.Stop()
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: running}))
		ev := next(t, w, "watch-a")
		assert.Equal(t, apis.Modified, ev.Type)
		got := ev.Object.(*apis.Run)
		assert.Equal(t, apis.PhaseRunning, got.Status.Phase)
		assert.Equal(t, get(t, h, "watch-a").Metadata.ResourceVersion, got.Metadata.ResourceVersion)
		w.Stop()
		for range w.Events() {
			// drain what was queued; the store closes the channel on Stop
		}
		assert.NoError(t, w.Err(), "no error after Stop")
	}},
	{"UpdateStatuses replaces the status and nothing else", func(t *testing.T, h Harness) {
		r := create(t, h, "status-a")
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: running}))
		got := get(t, h, "status-a")
		assert.Equal(t, running, got.Status)
		assert.Equal(t, r.Spec, got.Spec)
		assert.Equal(t, r.Metadata.Labels, got.Metadata.Labels)
		assert.Equal(t, r.Metadata.Generation, got.Metadata.Generation)
		assert.NotEqual(t, r.Metadata.ResourceVersion, got.Metadata.ResourceVersion)
		// A smaller status replaces it as a whole.
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: apis.RunStatus{Phase: apis.PhasePending}}))
		got = get(t, h, "status-a")
		assert.Equal(t, apis.RunStatus{Phase: apis.PhasePending}, got.Status)
	}},
	{"UpdateStatuses with an unchanged status writes nothing", func(t *testing.T, h Harness) {
		r := create(t, h, "same-a")
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: running}))
		before := get(t, h, "same-a")
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: running}))
		assert.Equal(t, before.Metadata.ResourceVersion, get(t, h, "same-a").Metadata.ResourceVersion, "no new resourceVersion")
	}},
	{"UpdateStatuses answers per item; a missing Run does not stop the others", func(t *testing.T, h Harness) {
		a := create(t, h, "batch-a")
		b := create(t, h, "batch-b")
		errs, err := h.Store.UpdateStatuses(t.Context(), []apis.StatusUpdate{
			{Run: ref(a), Status: running},
			{Run: apis.RunRef{Name: "batch-missing", UID: "nope"}, Status: running},
			{Run: ref(b), Status: apis.RunStatus{Phase: apis.PhaseStarting}},
		})
		require.NoError(t, err)
		require.Len(t, errs, 3)
		assert.NoError(t, errs[0])
		assert.ErrorIs(t, errs[1], apis.ErrNotFound)
		assert.NoError(t, errs[2])
		assert.Equal(t, apis.PhaseRunning, get(t, h, "batch-a").Status.Phase)
		assert.Equal(t, apis.PhaseStarting, get(t, h, "batch-b").Status.Phase)
	}},
	{"UpdateStatuses for a deleted and re-created Run is ErrNotFound and leaves the new Run alone", func(t *testing.T, h Harness) {
		old := create(t, h, "uid-a")
		cur := recreate(t, h, "uid-a")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(cur), attempt(1, "uid-a.1.new")))
		err := updateOne(t, h, apis.StatusUpdate{Run: ref(old), FinishTaskID: "uid-a.1.new",
			Status: apis.RunStatus{Phase: apis.PhaseFailed, TaskID: "uid-a.1.new"}})
		assert.ErrorIs(t, err, apis.ErrNotFound)
		got := get(t, h, "uid-a")
		assert.Equal(t, cur.Metadata.ResourceVersion, got.Metadata.ResourceVersion)
		assert.True(t, cur.Status.Equal(&got.Status), "the new Run's status is as created: %+v", got.Status)
		assert.Equal(t, []string{"uid-a.1.new"}, liveTasks(t, h, "uid-a"), "the new Run's attempt stays live")
	}},
	{"UpdateStatuses with a stale resourceVersion is ErrConflict", func(t *testing.T, h Harness) {
		r := create(t, h, "rv-a")
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: running}))
		stale := ref(r)
		stale.ResourceVersion = r.Metadata.ResourceVersion
		err := updateOne(t, h, apis.StatusUpdate{Run: stale, Status: apis.RunStatus{Phase: apis.PhaseSucceeded}})
		assert.ErrorIs(t, err, apis.ErrConflict)
		cur := get(t, h, "rv-a")
		assert.Equal(t, apis.PhaseRunning, cur.Status.Phase)
		fresh := ref(cur)
		fresh.ResourceVersion = cur.Metadata.ResourceVersion
		assert.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: fresh, Status: apis.RunStatus{Phase: apis.PhaseSucceeded}}))
	}},
	{"FinishTaskID, or a terminal phase naming the task, ends the attempt", func(t *testing.T, h Harness) {
		r := create(t, h, "finish-a")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(r), attempt(1, "finish-a.1.x")))
		assert.Equal(t, []string{"finish-a.1.x"}, liveTasks(t, h, "finish-a"))
		// A retry goes back to Pending and ends the attempt in the same write.
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: apis.RunStatus{Phase: apis.PhasePending, Reason: apis.ReasonBackoff}, FinishTaskID: "finish-a.1.x"}))
		assert.Empty(t, liveTasks(t, h, "finish-a"))
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(r), attempt(2, "finish-a.2.y")))
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: apis.RunStatus{Phase: apis.PhaseSucceeded, TaskID: "finish-a.2.y"}}))
		assert.Empty(t, liveTasks(t, h, "finish-a"))
	}},
	{"RecordAttempt refuses a second live attempt, and attempts of Runs that are gone", func(t *testing.T, h Harness) {
		r := create(t, h, "rec-a")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(r), attempt(1, "rec-a.1.x")))
		err := h.Store.RecordAttempt(t.Context(), ref(r), attempt(2, "rec-a.2.y"))
		assert.ErrorIs(t, err, apis.ErrAttemptLive)
		assert.ErrorIs(t, err, apis.ErrConflict)
		err = h.Store.RecordAttempt(t.Context(), apis.RunRef{Name: "rec-missing"}, attempt(1, "rec-missing.1.x"))
		assert.ErrorIs(t, err, apis.ErrNotFound)
		assert.Equal(t, []string{"rec-a.1.x"}, liveTasks(t, h, "rec-a"))
		for _, a := range mustLive(t, h) {
			if a.Run == "rec-a" {
				assert.Equal(t, int32(1), a.Number)
				assert.Equal(t, "agent-1", a.AgentID)
			}
		}
	}},
	{"UpdateStatuses with an Attempt records it with the status, or neither", func(t *testing.T, h Harness) {
		r := create(t, h, "launch-a")
		other := create(t, h, "launch-b")
		starting := apis.RunStatus{Phase: apis.PhaseStarting, Attempts: 1, TaskID: "launch-a.1.x"}
		a1, a2 := attempt(1, "launch-a.1.x"), attempt(2, "launch-a.2.y")
		errs, err := h.Store.UpdateStatuses(t.Context(), []apis.StatusUpdate{
			{Run: ref(r), Status: starting, Attempt: &a1},
			{Run: ref(other), Status: running}, // no attempt: a plain status write in the same batch
		})
		require.NoError(t, err)
		require.Equal(t, []error{nil, nil}, errs)
		assert.Equal(t, []string{"launch-a.1.x"}, liveTasks(t, h, "launch-a"))
		assert.Equal(t, apis.PhaseStarting, get(t, h, "launch-a").Status.Phase)
		assert.Equal(t, apis.PhaseRunning, get(t, h, "launch-b").Status.Phase)

		// A second live attempt is refused, and its status is not written.
		err = updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: apis.RunStatus{Phase: apis.PhaseStarting, Attempts: 2, TaskID: "launch-a.2.y"}, Attempt: &a2})
		assert.ErrorIs(t, err, apis.ErrAttemptLive)
		assert.Equal(t, "launch-a.1.x", get(t, h, "launch-a").Status.TaskID)
		assert.Equal(t, []string{"launch-a.1.x"}, liveTasks(t, h, "launch-a"))

		// Meant for a Run since deleted and re-created: neither lands on the new one.
		cur := recreate(t, h, "launch-b")
		err = updateOne(t, h, apis.StatusUpdate{Run: ref(other), Status: starting, Attempt: &a2})
		assert.ErrorIs(t, err, apis.ErrNotFound)
		assert.Empty(t, liveTasks(t, h, "launch-b"))
		assert.True(t, cur.Status.Equal(&get(t, h, "launch-b").Status))
	}},
	{"RecordAttempt for a deleted and re-created Run is ErrNotFound", func(t *testing.T, h Harness) {
		old := create(t, h, "recuid-a")
		recreate(t, h, "recuid-a")
		err := h.Store.RecordAttempt(t.Context(), ref(old), attempt(1, "recuid-a.1.x"))
		assert.ErrorIs(t, err, apis.ErrNotFound)
		assert.Empty(t, liveTasks(t, h, "recuid-a"))
	}},
	{"RecordAttempt while the Run is being deleted is ErrConflict", func(t *testing.T, h Harness) {
		r := create(t, h, "recdel-a")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(r), attempt(1, "recdel-a.1.x")))
		got, deleted, err := h.Admin.RequestDelete(t.Context(), "recdel-a", "")
		require.NoError(t, err)
		require.False(t, deleted, "a live attempt keeps the Run")
		require.NotNil(t, got.Metadata.DeletionTimestamp)
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(r), Status: apis.RunStatus{Phase: apis.PhasePending}, FinishTaskID: "recdel-a.1.x"}))
		err = h.Store.RecordAttempt(t.Context(), ref(r), attempt(2, "recdel-a.2.y"))
		assert.ErrorIs(t, err, apis.ErrConflict)
		assert.NotErrorIs(t, err, apis.ErrAttemptLive)
	}},
	{"AppendEvents appends in order, folds repeats and drops events of Runs that are gone", func(t *testing.T, h Harness) {
		create(t, h, "ev-a")
		t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		ev := func(i int, reason string) apis.EventRecord {
			return apis.EventRecord{Run: "ev-a", Event: apis.RunEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: apis.EventNormal, Reason: reason, Message: "m"}}
		}
		require.NoError(t, h.Store.AppendEvents(t.Context(), []apis.EventRecord{
			ev(0, "Scheduled"), ev(1, "Launched"), ev(2, "Scheduled"),
			{Run: "ev-missing", Event: apis.RunEvent{Type: apis.EventNormal, Reason: "x"}},
		}))
		got, err := h.Admin.Events("ev-a")
		require.NoError(t, err)
		var summary []string
		for _, e := range got {
			summary = append(summary, fmt.Sprintf("%s×%d@%d", e.Reason, e.Count, e.Time.Sub(t0)/time.Second))
		}
		assert.Equal(t, []string{"Launched×1@1", "Scheduled×2@2"}, summary, "a repeat folds into the earlier one and moves last")
		missing, err := h.Admin.Events("ev-missing")
		require.NoError(t, err)
		assert.Empty(t, missing)
	}},
	{"DeleteRuns deletes with attempts and events, and skips Runs gone, re-created or changed", func(t *testing.T, h Harness) {
		a := create(t, h, "del-a")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(a), attempt(1, "del-a.1.x")))
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(a), Status: apis.RunStatus{Phase: apis.PhaseSucceeded, TaskID: "del-a.1.x"}}))
		require.NoError(t, h.Store.AppendEvents(t.Context(), []apis.EventRecord{{Run: "del-a", Event: apis.RunEvent{Type: apis.EventNormal, Reason: "Completed"}}}))
		oldB := create(t, h, "del-b")
		recreate(t, h, "del-b")
		c := create(t, h, "del-c")
		changedC := apis.RunRef{Name: "del-c", UID: c.Metadata.UID, ResourceVersion: c.Metadata.ResourceVersion}
		require.NoError(t, updateOne(t, h, apis.StatusUpdate{Run: ref(c), Status: running}))

		require.NoError(t, h.Store.DeleteRuns(t.Context(), []apis.RunRef{
			{Name: "del-a", UID: a.Metadata.UID, ResourceVersion: get(t, h, "del-a").Metadata.ResourceVersion},
			ref(oldB), changedC, {Name: "del-missing", UID: "x"},
		}))
		_, err := h.Store.GetRun(t.Context(), "del-a")
		assert.ErrorIs(t, err, apis.ErrNotFound)
		get(t, h, "del-b")
		get(t, h, "del-c")

		again := create(t, h, "del-a")
		assert.NotEqual(t, a.Metadata.UID, again.Metadata.UID)
		evs, err := h.Admin.Events("del-a")
		require.NoError(t, err)
		assert.Empty(t, evs, "a new Run of the same name starts without the old one's events")
		require.NoError(t, h.Store.RecordAttempt(t.Context(), ref(again), attempt(1, "del-a.1.x")), "nor its attempts")
	}},
	{"Barrier and IsLeader on the leader", func(t *testing.T, h Harness) {
		assert.True(t, h.Store.IsLeader())
		assert.NoError(t, h.Store.Barrier(t.Context()))
		assert.NotNil(t, h.Store.LeaderCh())
	}},
	{"writes on a node that is not the leader fail with ErrNotLeader", func(t *testing.T, h Harness) {
		if h.Follower == nil {
			t.Skip("no follower in this harness")
		}
		f := h.Follower
		assert.False(t, f.IsLeader())
		_, err := f.UpdateStatuses(t.Context(), []apis.StatusUpdate{{Run: apis.RunRef{Name: "x"}, Status: running}})
		assert.ErrorIs(t, err, apis.ErrNotLeader)
		assert.ErrorIs(t, f.RecordAttempt(t.Context(), apis.RunRef{Name: "x"}, attempt(1, "x.1.x")), apis.ErrNotLeader)
		assert.ErrorIs(t, f.DeleteRuns(t.Context(), []apis.RunRef{{Name: "x"}}), apis.ErrNotLeader)
		assert.ErrorIs(t, f.Barrier(t.Context()), apis.ErrNotLeader)
	}},
}

func mustLive(t *testing.T, h Harness) []apis.Attempt {
	t.Helper()
	live, err := h.Store.LiveAttempts(t.Context())
	require.NoError(t, err)
	return live
}
