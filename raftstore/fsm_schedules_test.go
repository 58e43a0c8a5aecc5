package raftstore

import (
	"bytes"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

func testSchedule(name string) apis.Schedule {
	now := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	s := apis.Schedule{
		Metadata: apis.ObjectMeta{Name: name, UID: "suid-" + name, CreationTimestamp: &now},
		Spec: apis.ScheduleSpec{
			Schedule:    "@every 1m",
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "etl", Cpus: 0.5, Mem: 64}},
		},
	}
	apis.SetScheduleDefaults(&s)
	return s
}

func mustCreateSchedule(t *testing.T, f *fsm, name string) *apis.Schedule {
	t.Helper()
	r := applyCmd(t, f, cmdCreateSchedule, createScheduleCmd{Schedule: testSchedule(name)})
	require.NoError(t, r.Err)
	return r.Schedule
}

// firing builds a firing of s at unix second sec with n Runs.
func firing(s *apis.Schedule, prev *time.Time, sec int64, n int) fireScheduleCmd {
	at := time.Unix(sec, 0).UTC()
	c := fireScheduleCmd{Schedule: s.Metadata.Name, UID: s.Metadata.UID, PreviousScheduleTime: prev, ScheduleTime: at}
	for i := range n {
		r := apis.RunFromTemplate(s, apis.FiredRunName(s.Metadata.Name, at, i))
		r.Metadata.UID = "ruid-" + r.Metadata.Name
		r.Metadata.CreationTimestamp = &at
		c.Runs = append(c.Runs, r)
	}
	return c
}

func TestFSM_FireSchedule_Preconditions(t *testing.T) {
	f := newTestFSM(t)
	s := mustCreateSchedule(t, f, "etl")
	t100 := time.Unix(100, 0).UTC()

	// The first firing: no previous time.
	c := firing(s, nil, 100, 2)
	c.Events = []apis.RunEvent{{Type: apis.EventNormal, Reason: apis.ReasonFired, Message: "fired 2 runs"}}
	r := applyCmd(t, f, cmdFireSchedule, c)
	require.NoError(t, r.Err)
	require.NotNil(t, r.Schedule.Status.LastScheduleTime)
	assert.True(t, r.Schedule.Status.LastScheduleTime.Equal(t100))
	for i := range 2 {
		run, err := f.getRun("etl-100-" + strconv.Itoa(i))
		require.NoError(t, err)
		assert.Equal(t, "etl", run.Metadata.Labels[apis.LabelSchedule])
		assert.Equal(t, s.Metadata.UID, apis.ControllerOf(&run.Metadata).UID)
		assert.Equal(t, int64(1), run.Metadata.Generation)
	}
	firstRV := r.Schedule.Metadata.ResourceVersion
	evs, err := f.scheduleEvents("etl")
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, apis.ReasonFired, evs[0].Reason)

	tests := []struct {
		name string
		cmd  func() fireScheduleCmd
		want error
	}{
		{"the same firing again: previous time is stale", func() fireScheduleCmd { return firing(s, nil, 100, 2) }, apis.ErrConflict},
		{"a later firing from a stale previous time", func() fireScheduleCmd {
			old := time.Unix(40, 0).UTC()
			return firing(s, &old, 160, 1)
		}, apis.ErrConflict},
		{"another incarnation's uid", func() fireScheduleCmd {
			c := firing(s, &t100, 160, 1)
			c.UID = "other"
			return c
		}, apis.ErrNotFound},
		{"a name collision aborts the whole firing", func() fireScheduleCmd {
			c := firing(s, &t100, 160, 2)
			c.Runs[1].Metadata.Name = "etl-100-0" // exists
			return c
		}, apis.ErrAlreadyExists},
		{"a run owned by another uid", func() fireScheduleCmd {
			c := firing(s, &t100, 160, 1)
			c.Runs[0].Metadata.OwnerReferences[0].UID = "other"
			return c
		}, apis.ErrConflict},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := applyCmd(t, f, cmdFireSchedule, tt.cmd())
			require.ErrorIs(t, r.Err, tt.want)
			_, err := f.getRun("etl-160-0")
			assert.ErrorIs(t, err, apis.ErrNotFound, "nothing of a refused firing is written")
			got, err := f.getSchedule("etl")
			require.NoError(t, err)
			assert.True(t, got.Status.LastScheduleTime.Equal(t100))
			assert.Equal(t, firstRV, got.Metadata.ResourceVersion)
		})
	}

	// The next firing from the right previous time, with missed firings and
	// Replace of a live Run.
	c = firing(s, &t100, 160, 1)
	c.MissedFirings = 3
	c.Replace = []runRefEntry{{Name: "etl-100-0"}, {Name: "gone"}}
	r = applyCmd(t, f, cmdFireSchedule, c)
	require.NoError(t, r.Err)
	assert.Equal(t, int64(3), r.Schedule.Status.MissedFirings)
	replaced, err := f.getRun("etl-100-0")
	require.NoError(t, err)
	assert.True(t, replaced.Spec.Cancel, "Replace cancels the live run")
	assert.NotContains(t, replaced.Metadata.Annotations, apis.AnnotationCancelReason, "fire_schedule writes what level-2 binaries write")
	assert.Equal(t, int64(2), replaced.Metadata.Generation)
	kept, err := f.getRun("etl-100-1")
	require.NoError(t, err)
	assert.False(t, kept.Spec.Cancel)
}

func TestFSM_ScheduleCRUDAndStatus(t *testing.T) {
	f := newTestFSM(t)
	s := mustCreateSchedule(t, f, "etl")
	assert.Equal(t, int64(1), s.Metadata.Generation)
	r := applyCmd(t, f, cmdCreateSchedule, createScheduleCmd{Schedule: testSchedule("etl")})
	assert.ErrorIs(t, r.Err, apis.ErrAlreadyExists)

	upd := s.DeepCopy()
	upd.Spec.Suspend = true
	r = applyCmd(t, f, cmdUpdateSchedule, updateScheduleCmd{Schedule: *upd})
	require.NoError(t, r.Err)
	assert.Equal(t, int64(2), r.Schedule.Metadata.Generation)
	r = applyCmd(t, f, cmdUpdateSchedule, updateScheduleCmd{Schedule: *upd})
	assert.ErrorIs(t, r.Err, apis.ErrConflict, "the resourceVersion is a precondition")

	next := time.Unix(500, 0).UTC()
	last := time.Unix(9, 0).UTC()
	r = applyCmd(t, f, cmdUpdateScheduleStatus, updateScheduleStatusCmd{Name: "etl", UID: s.Metadata.UID, Status: apis.ScheduleStatus{
		NextScheduleTime: &next, Active: []string{"etl-1-0"}, Message: "ok",
		LastScheduleTime: &last, MissedFirings: 7, // not this command's to write
	}})
	require.NoError(t, r.Err)
	assert.True(t, r.Schedule.Status.NextScheduleTime.Equal(next))
	assert.Nil(t, r.Schedule.Status.LastScheduleTime)
	assert.Zero(t, r.Schedule.Status.MissedFirings)
	rv := r.Schedule.Metadata.ResourceVersion
	r = applyCmd(t, f, cmdUpdateScheduleStatus, updateScheduleStatusCmd{Name: "etl", Status: r.Schedule.Status})
	require.NoError(t, r.Err)
	assert.Equal(t, rv, r.Schedule.Metadata.ResourceVersion, "an unchanged status writes nothing")
	r = applyCmd(t, f, cmdUpdateScheduleStatus, updateScheduleStatusCmd{Name: "etl", UID: "other", Status: apis.ScheduleStatus{}})
	assert.ErrorIs(t, r.Err, apis.ErrNotFound)

	r = applyCmd(t, f, cmdDeleteSchedule, deleteScheduleCmd{Name: "etl", UID: "other"})
	assert.ErrorIs(t, r.Err, apis.ErrConflict)
	r = applyCmd(t, f, cmdDeleteSchedule, deleteScheduleCmd{Name: "etl", UID: s.Metadata.UID})
	require.NoError(t, r.Err)
	_, err := f.getSchedule("etl")
	assert.ErrorIs(t, err, apis.ErrNotFound)
}

func TestFSM_ReleaseRuns_RemovesOnlyThatOwner(t *testing.T) {
	f := newTestFSM(t)
	s := mustCreateSchedule(t, f, "etl")
	require.NoError(t, applyCmd(t, f, cmdFireSchedule, firing(s, nil, 100, 1)).Err)
	mustCreate(t, f, "plain")
	r := applyCmd(t, f, cmdReleaseRuns, releaseRunsCmd{OwnerUID: s.Metadata.UID, Names: []string{"etl-100-0", "plain", "gone"}})
	require.NoError(t, r.Err)
	run, err := f.getRun("etl-100-0")
	require.NoError(t, err)
	assert.Empty(t, run.Metadata.OwnerReferences)
	assert.Equal(t, "etl", run.Metadata.Labels[apis.LabelSchedule], "an orphan keeps its labels")
}

// A firing's Runs must carry the label and the controller reference: an
// entry without them is rejected on every replica.
func TestFSM_FireSchedule_RejectsRunsWithoutOwnerOrLabel(t *testing.T) {
	f := newTestFSM(t)
	s := mustCreateSchedule(t, f, "etl")
	for name, mut := range map[string]func(*apis.Run){
		"no label": func(r *apis.Run) { delete(r.Metadata.Labels, apis.LabelSchedule) },
		"no owner": func(r *apis.Run) { r.Metadata.OwnerReferences = nil },
		"invalid":  func(r *apis.Run) { r.Spec.Cpus = -1 },
	} {
		t.Run(name, func(t *testing.T) {
			c := firing(s, nil, 100, 1)
			mut(&c.Runs[0])
			r := applyCmd(t, f, cmdFireSchedule, c)
			require.ErrorIs(t, r.Err, ErrRejectedEntry)
			_, err := f.getRun("etl-100-0")
			assert.ErrorIs(t, err, apis.ErrNotFound)
		})
	}
}

func TestFSM_SnapshotCarriesSchedulesAndFormat(t *testing.T) {
	src := newTestFSM(t)
	s := mustCreateSchedule(t, src, "etl")
	require.NoError(t, applyCmd(t, src, cmdFireSchedule, firing(s, nil, 100, 1)).Err)
	applyCmd(t, src, cmdAppendScheduleEvents, appendScheduleEventsCmd{Events: []apis.ScheduleEventRecord{{Schedule: "etl", Event: apis.RunEvent{Reason: apis.ReasonMissed}}}})
	snap := snapshotBytes(t, src)

	dst := newTestFSM(t)
	sw, err := dst.schedHub.feed(dst, ScheduleFeedOptions{})
	require.NoError(t, err)
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(snap))))
	_, _, err = sw.Next()
	assert.ErrorIs(t, err, apis.ErrGone, "schedule watches end at a restore")
	got, err := dst.getSchedule("etl")
	require.NoError(t, err)
	assert.True(t, got.Status.LastScheduleTime.Equal(time.Unix(100, 0)))
	evs, err := dst.scheduleEvents("etl")
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	require.NoError(t, dst.view(func(tx *bolt.Tx) error {
		assert.Equal(t, strconv.Itoa(fsmFormat), string(tx.Bucket(bucketMeta).Get(keyFormat)))
		return nil
	}))
}

func snapshotBytes(t *testing.T, f *fsm) []byte {
	t.Helper()
	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	return sink.Bytes()
}

// rewriteSnapshot changes a snapshot's file with fn and returns it.
func rewriteSnapshot(t *testing.T, snap []byte, fn func(tx *bolt.Tx) error) []byte {
	t.Helper()
	path := filepath.Join(t.TempDir(), "snap.db")
	require.NoError(t, writeFileSync(path, bytes.NewReader(snap)))
	db, err := bolt.Open(path, 0o600, nil)
	require.NoError(t, err)
	require.NoError(t, db.Update(fn))
	var out bytes.Buffer
	require.NoError(t, db.View(func(tx *bolt.Tx) error { _, err := tx.WriteTo(&out); return err }))
	require.NoError(t, db.Close())
	return out.Bytes()
}

func TestFSM_RestoreRefusesANewerFormatAndUpgradesAnOlderOne(t *testing.T) {
	src := newTestFSM(t)
	mustCreate(t, src, "a")
	snap := snapshotBytes(t, src)

	newer := rewriteSnapshot(t, snap, func(tx *bolt.Tx) error {
		return tx.Bucket(bucketMeta).Put(keyFormat, []byte(strconv.Itoa(fsmFormat+1)))
	})
	dst := newTestFSM(t)
	mustCreate(t, dst, "kept")
	err := dst.Restore(io.NopCloser(bytes.NewReader(newer)))
	require.ErrorIs(t, err, ErrNewerFormat)
	assert.Contains(t, err.Error(), "newer than this binary knows")
	_, err = dst.getRun("kept")
	assert.NoError(t, err, "a refused snapshot leaves the state alone")

	// A snapshot of format 1 (before Schedules): no format key, no
	// schedule buckets. It restores, and Schedules work after it.
	older := rewriteSnapshot(t, snap, func(tx *bolt.Tx) error {
		for _, b := range [][]byte{bucketSchedules, bucketScheduleEvents} {
			if err := tx.DeleteBucket(b); err != nil {
				return err
			}
		}
		return tx.Bucket(bucketMeta).Delete(keyFormat)
	})
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(older))))
	_, err = dst.getRun("a")
	require.NoError(t, err)
	mustCreateSchedule(t, dst, "after")
}

// An entry of a Schedule command type applied by an FSM that predates it
// is rejected as unknown_type — a no-op, not a crash: what today's binary
// does with types 13–19. Simulated by a type the FSM does not know.
func TestFSM_UnknownCommandTypeIsRejectedNotFatal(t *testing.T) {
	f := newTestFSM(t)
	resp := f.Apply(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: []byte{100, '{', '}'}})
	r, ok := resp.(result)
	require.True(t, ok)
	var rej *RejectedError
	require.ErrorAs(t, r.Err, &rej)
	assert.Equal(t, RejectUnknownType, rej.Entry.Reason)
	assert.Equal(t, uint64(1), f.applied.Load())
}

func TestLevelGate(t *testing.T) {
	servers := []raft.Server{{ID: "n1"}, {ID: "n2"}, {ID: "n3"}}
	tests := []struct {
		name    string
		members map[string]Member
		blocker string
	}{
		{"every member upgraded", map[string]Member{"n1": {StoreLevel: 2}, "n2": {StoreLevel: 2}, "n3": {StoreLevel: 3}}, ""},
		{"a record of an old binary (no level)", map[string]Member{"n1": {StoreLevel: 2}, "n2": {ID: "n2"}, "n3": {StoreLevel: 2}}, "n2"},
		{"no record at all", map[string]Member{"n1": {StoreLevel: 2}, "n3": {StoreLevel: 2}}, "n2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := levelGate(servers, tt.members, levelSchedules, "Schedules")
			if tt.blocker == "" {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, ErrNotUpgraded)
			require.ErrorIs(t, err, apis.ErrUnavailable)
			assert.Contains(t, err.Error(), "cluster not fully upgraded: node "+tt.blocker+" runs a binary without Schedules")
		})
	}
}

// A firing whose template's dependsOn would close a cycle with existing
// Runs is refused as a create of the same Run would be, and writes nothing.
func TestFSM_FireSchedule_RefusesDependencyCycles(t *testing.T) {
	f := newTestFSM(t)
	waiting := testRun("b")
	waiting.Spec.DependsOn = []apis.RunDependency{{Name: "etl-100-0", Condition: "Succeeded"}}
	require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: waiting}).Err)
	sc := testSchedule("etl")
	sc.Spec.RunTemplate.Spec.DependsOn = []apis.RunDependency{{Name: "b", Condition: "Succeeded"}}
	apis.SetScheduleDefaults(&sc)
	r := applyCmd(t, f, cmdCreateSchedule, createScheduleCmd{Schedule: sc})
	require.NoError(t, r.Err)
	r = applyCmd(t, f, cmdFireSchedule, firing(r.Schedule, nil, 100, 1))
	require.ErrorIs(t, r.Err, apis.ErrInvalid)
	assert.Contains(t, r.Err.Error(), "a cycle: etl-100-0 → b → etl-100-0")
	_, err := f.getRun("etl-100-0")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	got, err := f.getSchedule("etl")
	require.NoError(t, err)
	assert.Nil(t, got.Status.LastScheduleTime, "a refused firing moves nothing")
}

// One fire_schedules entry: every firing keeps its own preconditions and
// outcome, and one refused firing neither fails nor half-writes another.
func TestFSM_FireSchedules_MixedOutcomes(t *testing.T) {
	f := newTestFSM(t)
	a := mustCreateSchedule(t, f, "a")
	b := mustCreateSchedule(t, f, "b")
	c := mustCreateSchedule(t, f, "c")
	d := mustCreateSchedule(t, f, "d")
	e := mustCreateSchedule(t, f, "e")
	t100 := time.Unix(100, 0).UTC()
	require.NoError(t, applyCmd(t, f, cmdFireSchedule, firing(b, nil, 100, 1)).Err)
	require.NoError(t, applyCmd(t, f, cmdFireSchedule, firing(e, nil, 100, 1)).Err)
	mustCreate(t, f, "d-160-0") // a Run not of d holds d's next firing's name

	otherUID := firing(c, nil, 160, 1)
	otherUID.UID = "other"
	invalid := firing(e, &t100, 160, 1)
	invalid.Runs[0].Spec.Cpus = -1
	replace := firing(b, &t100, 160, 1)
	replace.Replace = []runRefEntry{{Name: "b-100-0"}}
	replace.MissedFirings = 2
	tests := []struct {
		name    string
		item    fireScheduleCmd
		want    error // nil: fired
		created string
	}{
		{"fired", firing(a, nil, 160, 2), nil, "a-160-1"},
		{"fired with Replace and missed firings", replace, nil, "b-160-0"},
		{"the same schedule again in the same entry: conflict", firing(a, nil, 220, 1), apis.ErrConflict, ""},
		{"stale previous time", firing(b, nil, 220, 1), apis.ErrConflict, ""},
		{"another incarnation", otherUID, apis.ErrNotFound, ""},
		{"a run of the name exists", firing(d, nil, 160, 1), apis.ErrAlreadyExists, ""},
		{"refused as invalid, alone", invalid, apis.ErrInvalid, ""},
		{"a schedule that is gone", fireScheduleCmd{Schedule: "gone", ScheduleTime: t100}, apis.ErrNotFound, ""},
		{"fired after the refusals", firing(c, nil, 160, 1), nil, "c-160-0"},
	}
	cmd := fireSchedulesCmd{}
	for _, tt := range tests {
		cmd.Firings = append(cmd.Firings, tt.item)
	}
	r := applyCmd(t, f, cmdFireSchedules, cmd)
	require.NoError(t, r.Err, "the entry as a whole is applied")
	require.Len(t, r.Items, len(tests))
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.want == nil {
				require.NoError(t, r.Items[i].Err)
				_, err := f.getRun(tt.created)
				require.NoError(t, err)
				got, err := f.getSchedule(tt.item.Schedule)
				require.NoError(t, err)
				assert.True(t, got.Status.LastScheduleTime.Equal(tt.item.ScheduleTime))
				return
			}
			assert.ErrorIs(t, r.Items[i].Err, tt.want)
		})
	}
	gotB, err := f.getSchedule("b")
	require.NoError(t, err)
	assert.Equal(t, int64(2), gotB.Status.MissedFirings)
	old, err := f.getRun("b-100-0")
	require.NoError(t, err)
	assert.True(t, old.Spec.Cancel, "Replace cancels the live run of b")
	assert.Equal(t, apis.ReasonReplaced, old.Metadata.Annotations[apis.AnnotationCancelReason], "the entry records why it cancelled")
	gotA, err := f.getSchedule("a")
	require.NoError(t, err)
	assert.True(t, gotA.Status.LastScheduleTime.Equal(time.Unix(160, 0)), "a's second firing wrote nothing")
	for _, name := range []string{"a-220-0", "b-220-0", "e-160-0"} {
		_, err := f.getRun(name)
		assert.ErrorIs(t, err, apis.ErrNotFound, "%s is of a refused firing", name)
	}
	gotE, err := f.getSchedule("e")
	require.NoError(t, err)
	assert.True(t, gotE.Status.LastScheduleTime.Equal(t100), "the invalid firing of e wrote nothing")
}

// A fire_schedules entry with no firing, or more than the bound, is
// rejected on every replica.
func TestFSM_FireSchedules_RejectsEmptyAndOversized(t *testing.T) {
	f := newTestFSM(t)
	s := mustCreateSchedule(t, f, "etl")
	require.ErrorIs(t, applyCmd(t, f, cmdFireSchedules, fireSchedulesCmd{}).Err, ErrRejectedEntry)
	many := fireSchedulesCmd{Firings: make([]fireScheduleCmd, maxBatchFirings+1)}
	for i := range many.Firings {
		many.Firings[i] = firing(s, nil, int64(100+60*i), 0)
	}
	require.ErrorIs(t, applyCmd(t, f, cmdFireSchedules, many).Err, ErrRejectedEntry)
	got, err := f.getSchedule("etl")
	require.NoError(t, err)
	assert.Nil(t, got.Status.LastScheduleTime)
}
