package raftstore

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"testing"
	"time"

	"github.com/hashicorp/raft"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	bolt "go.etcd.io/bbolt"

	"github.com/sprint-project/sprint/apis"
)

func newTestFSM(t *testing.T) *fsm {
	t.Helper()
	f, err := openFSM(filepath.Join(t.TempDir(), "fsm.db"), true, 0, 100, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.close() })
	return f
}

// applyCmd applies one command as raft would, at the next index.
func applyCmd(t *testing.T, f *fsm, typ cmdType, payload any) result {
	t.Helper()
	data, err := encodeCommand(typ, payload)
	require.NoError(t, err)
	resp := f.Apply(&raft.Log{Index: f.applied.Load() + 1, Term: 1, Type: raft.LogCommand, Data: data})
	r, ok := resp.(result)
	require.True(t, ok, "response %T", resp)
	return r
}

func testRun(name string) apis.Run {
	now := time.Date(2026, 11, 22, 1, 2, 3, 0, time.UTC)
	return apis.Run{
		Metadata: apis.ObjectMeta{Name: name, UID: "uid-" + name, Labels: map[string]string{"team": "data"}, CreationTimestamp: &now},
		Spec:     apis.RunSpec{Command: "echo " + name, Cpus: 0.5, Mem: 64},
	}
}

func mustCreate(t *testing.T, f *fsm, name string) *apis.Run {
	t.Helper()
	r := applyCmd(t, f, cmdCreateRun, createRunCmd{Run: testRun(name)})
	require.NoError(t, r.Err)
	return r.Run
}

func TestFSM_CreateRun(t *testing.T) {
	f := newTestFSM(t)
	r := applyCmd(t, f, cmdCreateRun, createRunCmd{Run: testRun("a")})
	require.NoError(t, r.Err)
	assert.Equal(t, "1", r.Run.Metadata.ResourceVersion)
	assert.Equal(t, int64(1), r.Run.Metadata.Generation)
	assert.Equal(t, apis.KindRun, r.Run.Kind)

	got, err := f.getRun("a")
	require.NoError(t, err)
	assert.Equal(t, r.Run, got)

	r = applyCmd(t, f, cmdCreateRun, createRunCmd{Run: testRun("a")})
	assert.ErrorIs(t, r.Err, apis.ErrAlreadyExists)
	r = applyCmd(t, f, cmdCreateRun, createRunCmd{Run: testRun("")})
	assert.ErrorIs(t, r.Err, ErrRejectedEntry, "a Run without a name is invalid")
	assert.Equal(t, uint64(3), f.applied.Load(), "rejected entries still advance the applied index")
}

func TestFSM_UpdateRun(t *testing.T) {
	tests := map[string]struct {
		mutate  func(r *apis.Run)
		wantErr error
		wantGen int64
		wantRV  string // "" = the update's index
	}{
		"spec change bumps generation": {
			mutate:  func(r *apis.Run) { r.Spec.Cancel = true },
			wantGen: 2,
		},
		"label change keeps generation": {
			mutate:  func(r *apis.Run) { r.Metadata.Labels = map[string]string{"team": "ops"} },
			wantGen: 1,
		},
		"unchanged is a no-op": {
			mutate:  func(r *apis.Run) {},
			wantGen: 1,
			wantRV:  "1",
		},
		"stale resourceVersion conflicts": {
			mutate:  func(r *apis.Run) { r.Metadata.ResourceVersion = "99"; r.Spec.Cancel = true },
			wantErr: apis.ErrConflict,
		},
		"other uid conflicts": {
			mutate:  func(r *apis.Run) { r.Metadata.UID = "other" },
			wantErr: apis.ErrConflict,
		},
		"missing run": {
			mutate:  func(r *apis.Run) { r.Metadata.Name = "nope" },
			wantErr: apis.ErrNotFound,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newTestFSM(t)
			created := mustCreate(t, f, "a")
			st := applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}}})
			require.NoError(t, st.Err)
			req := *created
			req.Metadata.ResourceVersion = ""
			tc.mutate(&req)
			r := applyCmd(t, f, cmdUpdateRun, updateRunCmd{Run: req})
			if tc.wantErr != nil {
				require.ErrorIs(t, r.Err, tc.wantErr)
				return
			}
			require.NoError(t, r.Err)
			assert.Equal(t, tc.wantGen, r.Run.Metadata.Generation)
			wantRV := tc.wantRV
			if wantRV == "" {
				wantRV = "3"
			} else {
				wantRV = st.Run.Metadata.ResourceVersion
			}
			assert.Equal(t, wantRV, r.Run.Metadata.ResourceVersion)
			assert.Equal(t, apis.PhaseRunning, r.Run.Status.Phase, "status is preserved")
			assert.Equal(t, created.Metadata.UID, r.Run.Metadata.UID)
		})
	}
}

func TestFSM_UpdateStatus(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	r := applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseStarting}, PreconditionRV: "1"}})
	require.NoError(t, r.Err)
	assert.Equal(t, "2", r.Run.Metadata.ResourceVersion)
	assert.Equal(t, "echo a", r.Run.Spec.Command, "spec is preserved")

	r = applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}, PreconditionRV: "1"}})
	assert.ErrorIs(t, r.Err, apis.ErrConflict)
	r = applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "b"}})
	assert.ErrorIs(t, r.Err, apis.ErrNotFound)
}

func TestFSM_BatchUpdateStatus(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	mustCreate(t, f, "b")
	r := applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{
		{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}},
		{Name: "missing", Status: apis.RunStatus{Phase: apis.PhaseRunning}},
		{Name: "b", Status: apis.RunStatus{Phase: apis.PhaseFailed}, PreconditionRV: "2"},
	}})
	require.NoError(t, r.Err)
	require.Len(t, r.Items, 3)
	assert.NoError(t, r.Items[0].Err)
	assert.ErrorIs(t, r.Items[1].Err, apis.ErrNotFound)
	assert.NoError(t, r.Items[2].Err)
	for _, name := range []string{"a", "b"} {
		got, err := f.getRun(name)
		require.NoError(t, err)
		assert.Equal(t, "3", got.Metadata.ResourceVersion, name)
	}
}

func recordAttempt(t *testing.T, f *fsm, run, taskID string) result {
	t.Helper()
	return applyCmd(t, f, cmdRecordAttempt, recordAttemptCmd{Attempt: apis.Attempt{Run: run, TaskID: taskID, Number: 1}})
}

func TestFSM_RecordAttempt_RefusesSecondLiveAttempt(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	require.NoError(t, recordAttempt(t, f, "a", "a.1").Err)
	r := recordAttempt(t, f, "a", "a.2")
	assert.ErrorIs(t, r.Err, apis.ErrAttemptLive)
	assert.ErrorIs(t, r.Err, apis.ErrConflict)
	assert.ErrorIs(t, recordAttempt(t, f, "nope", "x").Err, apis.ErrNotFound)

	live, err := f.liveAttempts()
	require.NoError(t, err)
	require.Len(t, live, 1)
	assert.Equal(t, "a.1", live[0].TaskID)

	// A terminal status of that task finishes the attempt.
	st := applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseFailed, TaskID: "a.1"}}})
	require.NoError(t, st.Err)
	require.NoError(t, recordAttempt(t, f, "a", "a.2").Err)
	assert.ErrorIs(t, recordAttempt(t, f, "a", "a.2").Err, apis.ErrAlreadyExists)

	// FinishTaskID finishes without a terminal phase (a retry goes back to Pending).
	st = applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhasePending}, FinishTaskID: "a.2"}})
	require.NoError(t, st.Err)
	live, err = f.liveAttempts()
	require.NoError(t, err)
	assert.Empty(t, live)
	all, err := f.attempts("a")
	require.NoError(t, err)
	assert.Len(t, all, 2)
}

func TestFSM_RequestDelete(t *testing.T) {
	tests := map[string]struct {
		setup       func(t *testing.T, f *fsm)
		wantDeleted bool
	}{
		"never launched deletes now": {
			setup:       func(t *testing.T, f *fsm) {},
			wantDeleted: true,
		},
		"live attempt marks for deletion": {
			setup: func(t *testing.T, f *fsm) {
				require.NoError(t, recordAttempt(t, f, "a", "a.1").Err)
			},
		},
		"terminal phase deletes now": {
			setup: func(t *testing.T, f *fsm) {
				require.NoError(t, recordAttempt(t, f, "a", "a.1").Err)
				require.NoError(t, applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseSucceeded}}}).Err)
			},
			wantDeleted: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newTestFSM(t)
			mustCreate(t, f, "a")
			tc.setup(t, f)
			now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			r := applyCmd(t, f, cmdRequestDelete, requestDeleteCmd{Name: "a", Now: now})
			require.NoError(t, r.Err)
			assert.Equal(t, tc.wantDeleted, r.Deleted)
			got, err := f.getRun("a")
			if tc.wantDeleted {
				assert.ErrorIs(t, err, apis.ErrNotFound)
				atts, err := f.attempts("a")
				require.NoError(t, err)
				assert.Empty(t, atts, "attempts go with the run")
				return
			}
			require.NoError(t, err)
			require.NotNil(t, got.Metadata.DeletionTimestamp)
			assert.True(t, now.Equal(*got.Metadata.DeletionTimestamp))
			// Asking again keeps the first timestamp.
			r = applyCmd(t, f, cmdRequestDelete, requestDeleteCmd{Name: "a", Now: now.Add(time.Hour)})
			require.NoError(t, r.Err)
			assert.False(t, r.Deleted)
			assert.True(t, now.Equal(*r.Run.Metadata.DeletionTimestamp))
			assert.ErrorIs(t, recordAttempt(t, f, "a", "a.9").Err, apis.ErrConflict, "no launches while deleting")
		})
	}
}

func TestFSM_DeleteRun_Preconditions(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	assert.ErrorIs(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: "a", UID: "other"}).Err, apis.ErrConflict)
	assert.ErrorIs(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: "a", PreconditionRV: "7"}).Err, apis.ErrConflict)
	r := applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: "a", UID: "uid-a", PreconditionRV: "1"})
	require.NoError(t, r.Err)
	assert.True(t, r.Deleted)
	assert.ErrorIs(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: "a"}).Err, apis.ErrNotFound)
}

func TestFSM_AppendEvents_FoldsAndBounds(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	ev := func(i int, reason string) apis.EventRecord {
		return apis.EventRecord{Run: "a", Event: apis.RunEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: apis.EventNormal, Reason: reason, Message: "m"}}
	}
	applyCmd(t, f, cmdAppendEvents, appendEventsCmd{Events: []apis.EventRecord{ev(0, "Offer"), ev(1, "Launch"), ev(2, "Offer"), {Run: "gone", Event: apis.RunEvent{Reason: "x"}}}})
	got, err := f.events("a")
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "Launch", got[0].Reason)
	assert.Equal(t, "Offer", got[1].Reason)
	assert.Equal(t, int32(2), got[1].Count)
	assert.True(t, t0.Add(2*time.Second).Equal(got[1].Time))

	var many []apis.EventRecord
	for i := range 120 {
		many = append(many, ev(i, fmt.Sprintf("r%d", i)))
	}
	applyCmd(t, f, cmdAppendEvents, appendEventsCmd{Events: many})
	got, err = f.events("a")
	require.NoError(t, err)
	require.Len(t, got, maxEventsPerRun)
	assert.Equal(t, "r119", got[len(got)-1].Reason)
}

// A command's events of one Run are folded into its history once per
// command; the histories come out as applying the events one command each
// makes them: repeats folded across Runs' interleaved events, the bound
// kept, a Run's events after its history fills, events of a missing Run
// dropped.
func TestFSM_AppendEvents_OneCommandAsOneEach(t *testing.T) {
	t0 := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	var evs []apis.EventRecord
	for i := range 3 * maxEventsPerRun {
		run := []string{"a", "b", "gone"}[i%3]
		reason := fmt.Sprintf("r%d", i%(maxEventsPerRun+7)) // repeats, some after they fell off
		if i%5 == 0 {
			reason = "Offer"
		}
		evs = append(evs, apis.EventRecord{Run: run, Event: apis.RunEvent{Time: t0.Add(time.Duration(i) * time.Second), Type: apis.EventNormal, Reason: reason, Message: "m"}})
	}
	one, each := newTestFSM(t), newTestFSM(t)
	for _, f := range []*fsm{one, each} {
		mustCreate(t, f, "a")
		mustCreate(t, f, "b")
	}
	applyCmd(t, one, cmdAppendEvents, appendEventsCmd{Events: evs})
	for _, e := range evs {
		applyCmd(t, each, cmdAppendEvents, appendEventsCmd{Events: []apis.EventRecord{e}})
	}
	for _, run := range []string{"a", "b"} {
		got, err := one.events(run)
		require.NoError(t, err)
		want, err := each.events(run)
		require.NoError(t, err)
		assert.NotEmpty(t, got)
		assert.Equal(t, want, got, run)
	}
}

func TestFSM_FrameworkIDAndMembers(t *testing.T) {
	f := newTestFSM(t)
	applyCmd(t, f, cmdSetFrameworkID, setFrameworkIDCmd{ID: "fw-1"})
	applyCmd(t, f, cmdSetMember, setMemberCmd{Member: Member{ID: "n1", RaftAddr: "r1", HTTPAddr: "h1"}})
	applyCmd(t, f, cmdSetMember, setMemberCmd{Member: Member{ID: "n2", RaftAddr: "r2", HTTPAddr: "h2"}})
	applyCmd(t, f, cmdRemoveMember, removeMemberCmd{ID: "n2"})
	id, err := f.frameworkID()
	require.NoError(t, err)
	assert.Equal(t, "fw-1", id)
	ms, err := f.members()
	require.NoError(t, err)
	assert.Equal(t, map[string]Member{"n1": {ID: "n1", RaftAddr: "r1", HTTPAddr: "h1"}}, ms)
}

func TestFSM_ApplyBatch_SkipsAlreadyAppliedEntries(t *testing.T) {
	f := newTestFSM(t)
	enc := func(run apis.Run) []byte {
		b, err := encodeCommand(cmdCreateRun, createRunCmd{Run: run})
		require.NoError(t, err)
		return b
	}
	logs := []*raft.Log{
		{Index: 1, Term: 1, Type: raft.LogCommand, Data: enc(testRun("a"))},
		{Index: 2, Term: 1, Type: raft.LogConfiguration},
		{Index: 3, Term: 2, Type: raft.LogCommand, Data: enc(testRun("b"))},
	}
	resps := f.ApplyBatch(logs)
	require.Len(t, resps, 3)
	assert.NoError(t, resps[0].(result).Err)
	assert.Nil(t, resps[1])
	assert.Equal(t, uint64(3), f.applied.Load())
	assert.Equal(t, uint64(2), f.appliedTerm.Load())

	// A replay after restart must not fail with "already exists".
	resps = f.ApplyBatch(logs)
	for _, r := range resps {
		assert.Nil(t, r)
	}
	list, err := f.listRuns(ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 2)
	assert.Equal(t, "3", list.Metadata.ResourceVersion)
}

type bufferSink struct {
	bytes.Buffer
	cancelled bool
}

func (s *bufferSink) ID() string    { return "test" }
func (s *bufferSink) Cancel() error { s.cancelled = true; return nil }
func (s *bufferSink) Close() error  { return nil }

func TestFSM_SnapshotRestoreRoundTrip(t *testing.T) {
	src := newTestFSM(t)
	mustCreate(t, src, "a")
	mustCreate(t, src, "b")
	require.NoError(t, recordAttempt(t, src, "a", "a.1").Err)
	applyCmd(t, src, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning, TaskID: "a.1"}}})
	applyCmd(t, src, cmdAppendEvents, appendEventsCmd{Events: []apis.EventRecord{{Run: "a", Event: apis.RunEvent{Reason: "Launched"}}}})
	applyCmd(t, src, cmdSetFrameworkID, setFrameworkIDCmd{ID: "fw"})
	applyCmd(t, src, cmdSetMember, setMemberCmd{Member: Member{ID: "n1", HTTPAddr: "h"}})
	applyCmd(t, src, cmdRequestDelete, requestDeleteCmd{Name: "a", Now: time.Unix(5, 0).UTC()})
	applyCmd(t, src, cmdRequestDelete, requestDeleteCmd{Name: "b"})

	snap, err := src.Snapshot()
	require.NoError(t, err)
	// Writes after Snapshot must not leak into it.
	mustCreate(t, src, "late")
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	assert.False(t, sink.cancelled)

	dst := newTestFSM(t)
	mustCreate(t, dst, "stale")
	w, err := dst.watch(t.Context(), 0, nil)
	require.NoError(t, err)
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	assert.Equal(t, uint64(9), dst.applied.Load())

	_, ok := <-w.Events()
	assert.False(t, ok, "watchers are closed by a restore")
	assert.ErrorIs(t, w.Err(), apis.ErrGone)

	for _, f := range []*fsm{src, dst} {
		f := f
		_, err := f.getRun("b")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}
	_, err = dst.getRun("late")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	_, err = dst.getRun("stale")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	a, err := dst.getRun("a")
	require.NoError(t, err)
	assert.NotNil(t, a.Metadata.DeletionTimestamp)
	assert.Equal(t, apis.PhaseRunning, a.Status.Phase)
	atts, err := dst.attempts("a")
	require.NoError(t, err)
	assert.Len(t, atts, 1)
	evs, err := dst.events("a")
	require.NoError(t, err)
	assert.Len(t, evs, 1)
	fw, err := dst.frameworkID()
	require.NoError(t, err)
	assert.Equal(t, "fw", fw)
	ms, err := dst.members()
	require.NoError(t, err)
	assert.Contains(t, ms, "n1")

	// The restored FSM keeps applying from the snapshot's index.
	r := applyCmd(t, dst, cmdCreateRun, createRunCmd{Run: testRun("c")})
	require.NoError(t, r.Err)
	assert.Equal(t, "10", r.Run.Metadata.ResourceVersion)
}

// A damaged snapshot (from a leader's disk, or this node's) is an error
// for raft to handle — try an older one, or ask again — never a crash, and
// the current state stays.
func TestFSM_RestoreRefusesDamagedSnapshot(t *testing.T) {
	src := newTestFSM(t)
	for i := range 200 {
		mustCreate(t, src, fmt.Sprintf("r%03d", i))
	}
	snap, err := src.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	img := sink.Bytes()
	ps, inUse := pagesInUse(t, img)
	zeroed := bytes.Clone(img)
	last := int(inUse[len(inUse)-1])
	clear(zeroed[last*ps : (last+1)*ps])

	damages := map[string][]byte{
		"truncated":         img[:len(img)/3],
		"meta pages zeroed": append(make([]byte, 2*ps), img[2*ps:]...),
		"a page zeroed":     zeroed,
		"empty":             nil,
	}
	for name, b := range damages {
		t.Run(name, func(t *testing.T) {
			dst := newTestFSM(t)
			mustCreate(t, dst, "kept")
			err := dst.Restore(io.NopCloser(bytes.NewReader(b)))
			require.Error(t, err)
			_, err = dst.getRun("kept")
			assert.NoError(t, err, "the state before the failed restore is intact")
		})
	}
}

func TestFSM_ReopenKeepsStateAndTrust(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	logger := slog.New(slog.DiscardHandler)
	f, err := openFSM(path, true, 0, 10, logger)
	require.NoError(t, err)
	mustCreate(t, f, "a")
	// Simulate a crash: no clean close, just release the file.
	require.NoError(t, f.db.Close())

	f, err = openFSM(path, true, 0, 10, logger)
	require.NoError(t, err)
	assert.True(t, f.trusted, "same boot: the kernel kept every write")
	assert.Equal(t, uint64(1), f.applied.Load())
	_, err = f.getRun("a")
	require.NoError(t, err)
	require.NoError(t, f.wipe())
	_, err = f.getRun("a")
	assert.ErrorIs(t, err, apis.ErrNotFound)
	assert.Equal(t, uint64(0), f.applied.Load())
	require.NoError(t, f.close())
}

func FuzzDecodeCommand(f *testing.F) {
	for _, c := range []struct {
		t cmdType
		v any
	}{
		{cmdCreateRun, createRunCmd{Run: testRun("a")}},
		{cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{{Name: "a"}}}},
		{cmdAppendEvents, appendEventsCmd{Events: []apis.EventRecord{{Run: "a"}}}},
	} {
		b, err := encodeCommand(c.t, c.v)
		require.NoError(f, err)
		f.Add(b)
	}
	f.Add([]byte{})
	f.Add([]byte{0xff})
	f.Fuzz(func(t *testing.T, data []byte) {
		typ, v, err := decodeCommand(data)
		if err != nil {
			return
		}
		// Whatever decodes must re-encode and decode to the same type.
		b, err := encodeCommand(typ, v)
		require.NoError(t, err)
		typ2, _, err := decodeCommand(b)
		require.NoError(t, err)
		assert.Equal(t, typ, typ2)
	})
}

// recreate deletes the Run named name and creates it again with a new UID,
// as a user deleting and re-applying a manifest (or a schedule re-creating
// a Run under a predictable name) does.
func recreate(t *testing.T, f *fsm, name, uid string) *apis.Run {
	t.Helper()
	require.NoError(t, applyCmd(t, f, cmdDeleteRun, deleteRunCmd{Name: name}).Err)
	run := testRun(name)
	run.Metadata.UID = uid
	r := applyCmd(t, f, cmdCreateRun, createRunCmd{Run: run})
	require.NoError(t, r.Err)
	return r.Run
}

func TestFSM_UIDPreconditions(t *testing.T) {
	running := apis.RunStatus{Phase: apis.PhaseRunning, TaskID: "a.1.x"}
	tests := map[string]struct {
		apply         func(t *testing.T, f *fsm, oldUID string) error
		wantErr       error
		wantNoAttempt bool
	}{
		"status with the current uid applies": {
			apply: func(t *testing.T, f *fsm, _ string) error {
				return applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", UID: "uid-new", Status: running}}).Err
			},
		},
		"status for the deleted incarnation is not found": {
			apply: func(t *testing.T, f *fsm, oldUID string) error {
				return applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", UID: oldUID, Status: running}}).Err
			},
			wantErr: apis.ErrNotFound,
		},
		"terminal status for the deleted incarnation finishes nothing": {
			apply: func(t *testing.T, f *fsm, oldUID string) error {
				require.NoError(t, applyCmd(t, f, cmdRecordAttempt, recordAttemptCmd{Attempt: apis.Attempt{Run: "a", TaskID: "a.1.x", Number: 1}}).Err)
				err := applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", UID: oldUID,
					Status: apis.RunStatus{Phase: apis.PhaseFailed, TaskID: "a.1.x"}, FinishTaskID: "a.1.x"}}).Err
				live, lerr := f.liveAttempts()
				require.NoError(t, lerr)
				assert.Len(t, live, 1, "the new Run's attempt stays live")
				return err
			},
			wantErr: apis.ErrNotFound,
		},
		"batch item for the deleted incarnation is not found": {
			apply: func(t *testing.T, f *fsm, oldUID string) error {
				r := applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{{Name: "a", UID: oldUID, Status: running}}})
				require.NoError(t, r.Err)
				require.Len(t, r.Items, 1)
				return r.Items[0].Err
			},
			wantErr: apis.ErrNotFound,
		},
		"attempt with the current uid is recorded": {
			apply: func(t *testing.T, f *fsm, _ string) error {
				return applyCmd(t, f, cmdRecordAttempt, recordAttemptCmd{Attempt: apis.Attempt{Run: "a", TaskID: "a.1.x", Number: 1}, RunUID: "uid-new"}).Err
			},
		},
		"attempt for the deleted incarnation is not found": {
			apply: func(t *testing.T, f *fsm, oldUID string) error {
				return applyCmd(t, f, cmdRecordAttempt, recordAttemptCmd{Attempt: apis.Attempt{Run: "a", TaskID: "a.1.x", Number: 1}, RunUID: oldUID}).Err
			},
			wantErr:       apis.ErrNotFound,
			wantNoAttempt: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newTestFSM(t)
			old := mustCreate(t, f, "a")
			cur := recreate(t, f, "a", "uid-new")
			err := tc.apply(t, f, old.Metadata.UID)
			got, gerr := f.getRun("a")
			require.NoError(t, gerr)
			if tc.wantErr == nil {
				require.NoError(t, err)
				return
			}
			require.ErrorIs(t, err, tc.wantErr)
			assert.Equal(t, cur.Status, got.Status, "the new Run's status is untouched")
			assert.Equal(t, cur.Metadata.ResourceVersion, got.Metadata.ResourceVersion, "no new resourceVersion")
			if tc.wantNoAttempt {
				atts, aerr := f.attempts("a")
				require.NoError(t, aerr)
				assert.Empty(t, atts, "no attempt recorded for the new Run")
			}
		})
	}
}

// Entries written before the UID preconditions existed carry no uid field:
// they must still apply on every replica (rolling upgrade, log replay).
func TestFSM_EntriesWithoutUIDStillApply(t *testing.T) {
	f := newTestFSM(t)
	mustCreate(t, f, "a")
	raw := func(typ cmdType, payload string) result {
		t.Helper()
		resp := f.Apply(&raft.Log{Index: f.applied.Load() + 1, Term: 1, Type: raft.LogCommand, Data: append([]byte{byte(typ)}, payload...)})
		r, ok := resp.(result)
		require.True(t, ok, "response %T", resp)
		return r
	}
	r := raw(cmdRecordAttempt, `{"attempt":{"run":"a","number":1,"taskID":"a.1.x","launchTime":"2026-11-22T01:02:03Z"}}`)
	require.NoError(t, r.Err)
	r = raw(cmdUpdateStatus, `{"update":{"name":"a","status":{"phase":"Running","taskID":"a.1.x"}}}`)
	require.NoError(t, r.Err)
	assert.Equal(t, apis.PhaseRunning, r.Run.Status.Phase)
	r = raw(cmdBatchUpdateStatus, `{"updates":[{"name":"a","status":{"phase":"Succeeded","taskID":"a.1.x"}}]}`)
	require.NoError(t, r.Err)
	require.Len(t, r.Items, 1)
	require.NoError(t, r.Items[0].Err)
	live, err := f.liveAttempts()
	require.NoError(t, err)
	assert.Empty(t, live, "the terminal status finished the attempt")
}

// An update that changes nothing of the stored form is a no-op: no new
// resourceVersion, no watch event. Absent and empty collections, and a
// time read back from the store against the one written, are the same.
func TestFSM_UnchangedWritesAreNoOps(t *testing.T) {
	start := time.Date(2026, 11, 22, 1, 2, 3, 456789012, time.FixedZone("CET", 3600))
	status := apis.RunStatus{Phase: apis.PhaseRunning, TaskID: "a.1.x", Ports: []int32{31000}, StartTime: &start}
	tests := map[string]struct {
		write   func(t *testing.T, f *fsm, cur *apis.Run) result
		changed bool
	}{
		"same status": {
			write: func(t *testing.T, f *fsm, cur *apis.Run) result {
				return applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: cur.Status}})
			},
		},
		"same status with the time in UTC": {
			write: func(t *testing.T, f *fsm, cur *apis.Run) result {
				st := cur.Status
				utc := st.StartTime.UTC()
				st.StartTime = &utc
				return applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: st}})
			},
			changed: true, // another RFC 3339 form: clients would see it
		},
		"status one nanosecond later": {
			write: func(t *testing.T, f *fsm, cur *apis.Run) result {
				st := cur.Status
				later := st.StartTime.Add(time.Nanosecond)
				st.StartTime = &later
				return applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: st}})
			},
			changed: true,
		},
		"same spec with empty collections": {
			write: func(t *testing.T, f *fsm, cur *apis.Run) result {
				req := *cur
				req.Spec.Args, req.Spec.Env, req.Spec.URIs = []string{}, map[string]string{}, []apis.URI{}
				req.Metadata.Annotations = map[string]string{}
				return applyCmd(t, f, cmdUpdateRun, updateRunCmd{Run: req})
			},
		},
		"spec with one more env var": {
			write: func(t *testing.T, f *fsm, cur *apis.Run) result {
				req := *cur
				req.Spec.Env = map[string]string{"X": "1"}
				return applyCmd(t, f, cmdUpdateRun, updateRunCmd{Run: req})
			},
			changed: true,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			f := newTestFSM(t)
			mustCreate(t, f, "a")
			require.NoError(t, applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: status}}).Err)
			cur, err := f.getRun("a")
			require.NoError(t, err)
			feed, err := f.hub.feed(FeedOptions{ResourceVersion: f.applied.Load()}, nil)
			require.NoError(t, err)
			defer feed.Stop()

			r := tc.write(t, f, cur)
			require.NoError(t, r.Err)
			got, err := f.getRun("a")
			require.NoError(t, err)
			ev, event, err := feed.Next()
			require.NoError(t, err)
			if tc.changed {
				assert.NotEqual(t, cur.Metadata.ResourceVersion, got.Metadata.ResourceVersion)
				require.True(t, event, "a watch event")
				assert.Equal(t, apis.Modified, ev.Type)
				return
			}
			assert.Equal(t, cur.Metadata.ResourceVersion, got.Metadata.ResourceVersion, "no new resourceVersion")
			assert.Equal(t, cur.Metadata.ResourceVersion, r.Run.Metadata.ResourceVersion)
			assert.False(t, event, "no watch event")
		})
	}
}

// The leader's FSM applies an entry it proposed as checkProposal decoded
// it (fsm.proposed, keyed by the very bytes raft hands back), and any
// other entry — a follower's, or one read back from the log — from its
// bytes. The test registers a different command for an entry's bytes to
// see which one was applied.
func TestFSM_AppliesTheProposersDecodedCommand(t *testing.T) {
	f := newTestFSM(t)
	data, err := encodeCommand(cmdCreateRun, createRunCmd{Run: testRun("from-bytes")})
	require.NoError(t, err)
	other, err := encodeCommand(cmdCreateRun, createRunCmd{Run: testRun("as-proposed")})
	require.NoError(t, err)
	v, err := checkProposal(other)
	require.NoError(t, err)

	f.proposed.Store(&data[0], v)
	r := f.Apply(&raft.Log{Index: 1, Term: 1, Type: raft.LogCommand, Data: data}).(result)
	require.NoError(t, r.Err)
	assert.Equal(t, "as-proposed", r.Run.Metadata.Name, "the proposer's decoded command")

	copied := bytes.Clone(data) // the same entry, read back from the log
	r = f.Apply(&raft.Log{Index: 2, Term: 1, Type: raft.LogCommand, Data: copied}).(result)
	require.NoError(t, r.Err)
	assert.Equal(t, "from-bytes", r.Run.Metadata.Name, "decoded from the bytes")
}

// batch_status_attempts: an item records its attempt and writes its status,
// or, when any check of either fails, writes neither; items without an
// attempt are plain status writes.
func TestFSM_BatchStatusAttempts(t *testing.T) {
	f := newTestFSM(t)
	a := mustCreate(t, f, "a")
	mustCreate(t, f, "b")
	starting := func(task string) apis.RunStatus {
		return apis.RunStatus{Phase: apis.PhaseStarting, TaskID: task}
	}
	item := func(name, uid, rv, task string) attemptStatusEntry {
		e := attemptStatusEntry{statusEntry: statusEntry{Name: name, UID: uid, PreconditionRV: rv, Status: starting(task)}}
		if task != "" {
			e.Attempt = &apis.Attempt{Run: name, TaskID: task, Number: 1}
		}
		return e
	}
	r := applyCmd(t, f, cmdBatchStatusAttempts, batchStatusAttemptsCmd{Updates: []attemptStatusEntry{
		item("a", a.Metadata.UID, "", "a.1"),
		item("b", "", "", ""),             // a plain status write
		item("a", "", "", "a.2"),          // a second live attempt
		item("b", "other-uid", "", "b.1"), // meant for another Run of that name
		item("b", "", "1", "b.1"),         // a stale resourceVersion
		{statusEntry: statusEntry{Name: "b"}, Attempt: &apis.Attempt{Run: "a", TaskID: "x"}}, // another Run's attempt
	}})
	require.NoError(t, r.Err)
	require.Len(t, r.Items, 6)
	assert.NoError(t, r.Items[0].Err)
	assert.NoError(t, r.Items[1].Err)
	assert.ErrorIs(t, r.Items[2].Err, apis.ErrAttemptLive)
	assert.ErrorIs(t, r.Items[3].Err, apis.ErrNotFound)
	assert.ErrorIs(t, r.Items[4].Err, apis.ErrConflict)
	assert.ErrorIs(t, r.Items[5].Err, apis.ErrBadRequest)

	live, err := f.liveAttempts()
	require.NoError(t, err)
	require.Len(t, live, 1)
	assert.Equal(t, "a.1", live[0].TaskID)
	var runA, runB apis.Run
	require.NoError(t, f.view(func(tx *bolt.Tx) error {
		if err := json.Unmarshal(tx.Bucket(bucketRuns).Get([]byte("a")), &runA); err != nil {
			return err
		}
		return json.Unmarshal(tx.Bucket(bucketRuns).Get([]byte("b")), &runB)
	}))
	assert.Equal(t, "a.1", runA.Status.TaskID, "the refused second attempt wrote no status")
	assert.Equal(t, apis.PhaseStarting, runB.Status.Phase)
	assert.Empty(t, runB.Status.TaskID, "b's refused items wrote no status")
}

// GetRun answers from the cache of written Runs what a read of the file
// answers, after every kind of write, and hands out copies.
func TestFSM_RunCacheAnswersAsTheFile(t *testing.T) {
	f := newTestFSM(t)
	fromFile := func(name string) *apis.Run {
		var run *apis.Run
		require.NoError(t, f.view(func(tx *bolt.Tx) error {
			b := tx.Bucket(bucketRuns).Get([]byte(name))
			if b == nil {
				return nil
			}
			var err error
			run, err = decodeRun(b)
			return err
		}))
		return run
	}
	same := func(step, name string) {
		t.Helper()
		want := fromFile(name)
		got, err := f.getRun(name)
		if want == nil {
			assert.ErrorIs(t, err, apis.ErrNotFound, step)
			return
		}
		require.NoError(t, err, step)
		assert.JSONEq(t, string(mustJSON(want)), string(mustJSON(got)), step)
	}
	mustCreate(t, f, "a")
	same("create", "a")
	got, err := f.getRun("a")
	require.NoError(t, err)
	got.Spec.Command = "changed by a caller"
	same("a caller's copy", "a")
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning}}})
	same("status", "a")
	up := testRun("a")
	up.Spec.Command = "echo again"
	applyCmd(t, f, cmdUpdateRun, updateRunCmd{Run: up})
	same("update", "a")
	applyCmd(t, f, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: "b", Run: ptr(testRun("b"))}}})
	same("apply create", "b")
	applyCmd(t, f, cmdRequestDelete, requestDeleteCmd{Name: "a"})
	same("delete", "a")
	mustCreate(t, f, "a")
	same("re-create", "a")
	f.runs.mu.Lock()
	_, cached := f.runs.runs["a"]
	f.runs.mu.Unlock()
	assert.True(t, cached, "a live Run is cached")
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseSucceeded}}})
	same("finished", "a")
	f.runs.mu.Lock()
	_, cached = f.runs.runs["a"]
	f.runs.mu.Unlock()
	assert.True(t, cached, "a Run that just finished stays cached (the last finishedCacheSize do)")
}

// The run cache changes no outcome: the same entries applied with the
// cache warm and with it emptied before every entry store the same bytes.
func TestFSM_RunCacheStoresWhatDecodingStores(t *testing.T) {
	warm, cold := newTestFSM(t), newTestFSM(t)
	withEnv := testRun("b")
	withEnv.Spec.Env = map[string]string{}
	entries := []struct {
		typ     cmdType
		payload any
	}{
		{cmdCreateRun, createRunCmd{Run: testRun("a")}},
		{cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: "b", Run: &withEnv}}}},
		{cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{
			{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseStarting, TaskID: "a.1"}},
			{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseRunning, TaskID: "a.1"}},
			{Name: "b", Status: apis.RunStatus{Phase: apis.PhasePending, Message: "m"}},
		}}},
		{cmdUpdateRun, updateRunCmd{Run: withEnv}},
		{cmdRequestDelete, requestDeleteCmd{Name: "b", Now: time.Unix(7, 0).UTC()}},
		{cmdUpdateStatus, updateStatusCmd{Update: statusEntry{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseSucceeded, TaskID: "a.1"}}}},
	}
	for _, e := range entries {
		applyCmd(t, warm, e.typ, e.payload)
		cold.runs.reset()
		applyCmd(t, cold, e.typ, e.payload)
	}
	dump := func(f *fsm) map[string]string {
		out := map[string]string{}
		require.NoError(t, f.view(func(tx *bolt.Tx) error {
			return tx.Bucket(bucketRuns).ForEach(func(k, v []byte) error {
				out[string(k)] = string(v)
				return nil
			})
		}))
		return out
	}
	assert.Equal(t, dump(cold), dump(warm))
	assert.Len(t, dump(warm), 1, "b, never launched, was deleted at once")
}
