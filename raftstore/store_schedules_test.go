package raftstore_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
)

func newSchedule(name string) *apis.Schedule {
	s := &apis.Schedule{
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"team": "data"}},
		Spec: apis.ScheduleSpec{
			Schedule:    "*/5 * * * *",
			TimeZone:    "Europe/Berlin",
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "etl", Cpus: 0.1, Mem: 32}},
		},
	}
	apis.SetScheduleDefaults(s)
	return s
}

// startScheduling starts a one-node store and waits until it recorded
// its own store level (right after its election, before that, Schedule
// writes are refused as they would be during an upgrade).
func startScheduling(t *testing.T) *raftstore.Store {
	t.Helper()
	s := startSingle(t, t.TempDir(), nil)
	require.Eventually(t, func() bool {
		ms, err := s.Members()
		return err == nil && ms["solo"].StoreLevel == raftstore.StoreLevel
	}, 10*time.Second, 5*time.Millisecond, "the leader records its own level")
	return s
}

// setMemberRaw writes a member record as a binary of another version
// would: raw JSON, so that a record without storeLevel is what a binary
// that predates levels writes.
func setMemberRaw(t *testing.T, s *raftstore.Store, member string) {
	t.Helper()
	data := append([]byte{raftstore.CmdSetMemberForTest}, []byte(`{"member":`+member+`}`)...)
	applyErr, err := s.ApplyRawForTest(t.Context(), data)
	require.NoError(t, err)
	require.NoError(t, applyErr)
}

// The rolling-upgrade gate: a member whose record reports no store level
// (a binary without Schedules) holds back every Schedule write with a
// 503-class error naming it; once it reports the level, writes go through.
func TestStore_ScheduleWritesWaitForEveryMembersStoreLevel(t *testing.T) {
	s := startScheduling(t)
	ctx := t.Context()

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo"}`)
	_, err := s.CreateSchedule(ctx, newSchedule("etl"))
	require.ErrorIs(t, err, raftstore.ErrNotUpgraded)
	require.ErrorIs(t, err, apis.ErrUnavailable)
	assert.Contains(t, err.Error(), "cluster not fully upgraded: node solo runs a binary without Schedules")
	_, err = s.GetSchedule(ctx, "etl")
	assert.ErrorIs(t, err, apis.ErrNotFound, "nothing was proposed")
	_, err = s.CreateRun(ctx, newRun("runs-still-work"))
	require.NoError(t, err, "Run writes are not gated")

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo","storeLevel":2}`)
	_, err = s.CreateSchedule(ctx, newSchedule("etl"))
	require.NoError(t, err)
}

func TestStore_ScheduleLifecycle(t *testing.T) {
	s := startScheduling(t)
	ctx := t.Context()
	feed, err := s.WatchSchedules(raftstore.ScheduleFeedOptions{List: true})
	require.NoError(t, err)
	ev, ok, err := feed.Next()
	require.NoError(t, err)
	require.True(t, ok)
	assert.Equal(t, apis.Bookmark, ev.Type, "an empty listing is just its bookmark")

	sc, err := s.CreateSchedule(ctx, newSchedule("etl"))
	require.NoError(t, err)
	assert.NotEmpty(t, sc.Metadata.UID)
	_, err = s.CreateSchedule(ctx, newSchedule("etl"))
	assert.ErrorIs(t, err, apis.ErrAlreadyExists)
	bad := newSchedule("bad")
	bad.Spec.TimeZone = "Mars/Olympus"
	_, err = s.CreateSchedule(ctx, bad)
	var inv *apis.InvalidError
	require.ErrorAs(t, err, &inv)
	assert.Equal(t, "spec.timeZone", inv.Errors[0].Field)

	at := time.Unix(1_800_000_000, 0).UTC()
	runs := []apis.Run{apis.RunFromTemplate(sc, apis.FiredRunName("etl", at, 0)), apis.RunFromTemplate(sc, apis.FiredRunName("etl", at, 1))}
	fire := apis.Firing{Schedule: apis.RunRef{Name: "etl", UID: sc.Metadata.UID}, ScheduleTime: at, Runs: runs,
		Events: []apis.RunEvent{{Type: apis.EventNormal, Reason: apis.ReasonFired, Message: "2 runs"}}}
	require.NoError(t, s.FireSchedule(ctx, fire))
	assert.ErrorIs(t, s.FireSchedule(ctx, fire), apis.ErrConflict, "a firing committed twice is refused")
	run, err := s.GetRun(ctx, "etl-1800000000-1")
	require.NoError(t, err)
	assert.NotEmpty(t, run.Metadata.UID)
	assert.Equal(t, apis.PhasePending, run.Status.Phase, "stored Pending, as a created Run is")
	list, err := s.ListRuns(ctx, raftstore.ListOptions{Match: func(r *apis.Run) bool { return r.Metadata.Labels[apis.LabelSchedule] == "etl" }})
	require.NoError(t, err)
	assert.Len(t, list.Items, 2)

	manual, err := s.FireScheduleNow(ctx, apis.RunRef{Name: "etl", UID: sc.Metadata.UID}, []apis.Run{apis.RunFromTemplate(sc, apis.ManualRunName("etl", apis.NewManualFiringID(at), 0))}, nil)
	require.NoError(t, err)
	require.Len(t, manual, 1)
	got, err := s.GetScheduleConsistent(ctx, "etl")
	require.NoError(t, err)
	assert.True(t, got.Status.LastScheduleTime.Equal(at), "a manual firing leaves lastScheduleTime")

	next := at.Add(5 * time.Minute)
	require.NoError(t, s.UpdateScheduleStatus(ctx, apis.RunRef{Name: "etl", UID: sc.Metadata.UID}, apis.ScheduleStatus{NextScheduleTime: &next, Active: []string{"etl-1800000000-0"}}))
	evs, err := s.ScheduleEvents("etl")
	require.NoError(t, err)
	require.Len(t, evs, 1)

	// The watch saw the create, the firing and the status write.
	var types []apis.EventType
	for {
		ev, ok, err := feed.Next()
		require.NoError(t, err)
		if !ok {
			break
		}
		var obj apis.Schedule
		require.NoError(t, json.Unmarshal(ev.Object, &obj))
		assert.Equal(t, apis.KindSchedule, obj.Kind)
		types = append(types, ev.Type)
	}
	assert.Equal(t, []apis.EventType{apis.Added, apis.Modified, apis.Modified}, types)

	sl, err := s.ListSchedules(ctx, raftstore.ScheduleListOptions{Limit: 1})
	require.NoError(t, err)
	assert.Len(t, sl.Items, 1)

	deleted, err := s.DeleteSchedule(ctx, apis.RunRef{Name: "etl", UID: sc.Metadata.UID})
	require.NoError(t, err)
	require.NoError(t, s.ReleaseRuns(ctx, deleted.Metadata.UID, []string{"etl-1800000000-0"}))
	run, err = s.GetRun(ctx, "etl-1800000000-0")
	require.NoError(t, err)
	assert.Empty(t, run.Metadata.OwnerReferences)
	assert.ErrorIs(t, s.FireSchedule(ctx, apis.Firing{Schedule: apis.RunRef{Name: "etl"}, ScheduleTime: next}), apis.ErrNotFound)
}

// During a rolling upgrade the leader proposes no entry type an older
// member would reject: a status with its attempt goes as two entries (the
// attempt, then the status), as the older binary writes them, and in one
// once every member reports the level. Notifier writes wait like Schedule
// writes.
func TestStore_LevelTwoEntriesWaitForEveryMember(t *testing.T) {
	s := startScheduling(t)
	ctx := t.Context()
	launch := func(name string) (entries uint64, run *apis.Run) {
		t.Helper()
		r, err := s.CreateRun(ctx, newRun(name))
		require.NoError(t, err)
		before := s.AppliedIndex()
		st := r.Status
		st.Phase, st.Attempts, st.TaskID = apis.PhaseStarting, 1, name+".1.x"
		res, err := s.BatchUpdateStatus(ctx, []apis.StatusUpdate{{
			Run:     apis.RunRef{Name: name, UID: r.Metadata.UID},
			Status:  st,
			Attempt: &apis.Attempt{Number: 1, TaskID: name + ".1.x", AgentID: "a1"},
		}})
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.NoError(t, res[0].Err)
		got, err := s.GetRun(ctx, name)
		require.NoError(t, err)
		live, err := s.ListLiveAttempts()
		require.NoError(t, err)
		assert.Condition(t, func() bool {
			for _, a := range live {
				if a.TaskID == name+".1.x" {
					return true
				}
			}
			return false
		}, "the attempt of %s is recorded", name)
		return s.AppliedIndex() - before, got
	}

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo"}`)
	n, run := launch("during-upgrade")
	assert.Equal(t, uint64(2), n, "attempt and status in separate entries while a member predates level 2")
	assert.Equal(t, apis.PhaseStarting, run.Status.Phase)
	_, err := s.CreateNotifier(ctx, &apis.Notifier{Metadata: apis.ObjectMeta{Name: "n"},
		Spec: apis.NotifierSpec{On: []string{apis.NotifyFailed}, Webhook: &apis.Webhook{URL: "http://example.org/hook"}}})
	require.ErrorIs(t, err, raftstore.ErrNotUpgraded)
	assert.Contains(t, err.Error(), "node solo runs a binary without Notifiers")

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo","storeLevel":2}`)
	n, run = launch("after-upgrade")
	assert.Equal(t, uint64(1), n, "one entry once every member knows it")
	assert.Equal(t, apis.PhaseStarting, run.Status.Phase)
}

// FireSchedules is gated at store level 3: while a member reports level 2
// (a binary without fire_schedules) every firing goes in a fire_schedule
// entry of its own; once every member reports 3, the firings share one
// entry. Either way each firing has its own outcome.
func TestStore_FiringBatchWaitsForEveryMember(t *testing.T) {
	s := startScheduling(t)
	ctx := t.Context()
	var scs []*apis.Schedule
	for _, name := range []string{"a", "b", "c"} {
		sc, err := s.CreateSchedule(ctx, newSchedule(name))
		require.NoError(t, err)
		scs = append(scs, sc)
	}
	fire := func(at time.Time, prev *time.Time) (entries uint64, errs []error) {
		t.Helper()
		var fs []apis.Firing
		for _, sc := range scs {
			fs = append(fs, apis.Firing{Schedule: apis.RunRef{Name: sc.Metadata.Name, UID: sc.Metadata.UID}, PreviousScheduleTime: prev,
				ScheduleTime: at, Runs: []apis.Run{apis.RunFromTemplate(sc, apis.FiredRunName(sc.Metadata.Name, at, 0))}})
		}
		fs[1].PreviousScheduleTime = &at // stale: b was never fired at at
		before := s.AppliedIndex()
		errs = s.FireSchedules(ctx, fs)
		require.Len(t, errs, len(fs))
		return s.AppliedIndex() - before, errs
	}

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo","storeLevel":2}`)
	t1 := time.Unix(1_800_000_000, 0).UTC()
	n, errs := fire(t1, nil)
	assert.Equal(t, uint64(3), n, "one fire_schedule entry per firing while a member predates level 3")
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], apis.ErrConflict)
	assert.NoError(t, errs[2])

	setMemberRaw(t, s, `{"id":"solo","raftAddr":"`+s.RaftAddr()+`","httpAddr":"http://solo","storeLevel":3}`)
	t2 := t1.Add(5 * time.Minute)
	n, errs = fire(t2, &t1)
	assert.Equal(t, uint64(1), n, "one fire_schedules entry once every member knows it")
	assert.NoError(t, errs[0])
	assert.ErrorIs(t, errs[1], apis.ErrConflict)
	assert.NoError(t, errs[2])
	for _, name := range []string{"a", "c"} {
		got, err := s.GetSchedule(ctx, name)
		require.NoError(t, err)
		assert.True(t, got.Status.LastScheduleTime.Equal(t2), "%s fired at t2", name)
		_, err = s.GetRun(ctx, apis.FiredRunName(name, t2, 0))
		assert.NoError(t, err)
	}
	b, err := s.GetSchedule(ctx, "b")
	require.NoError(t, err)
	assert.Nil(t, b.Status.LastScheduleTime, "b's stale firings wrote nothing")
}
