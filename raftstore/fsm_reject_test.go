package raftstore

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/raft"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func mustEncode(t testing.TB, typ cmdType, payload any) []byte {
	t.Helper()
	b, err := encodeCommand(typ, payload)
	require.NoError(t, err)
	return b
}

func counterValue(t testing.TB, c prometheus.Counter) float64 {
	t.Helper()
	var m dto.Metric
	require.NoError(t, c.Write(&m))
	return m.GetCounter().GetValue()
}

func cmdLog(index uint64, data []byte) *raft.Log {
	return &raft.Log{Index: index, Term: 1, Type: raft.LogCommand, Data: data}
}

// applyBetween applies bad between two valid creates in one batch, as
// raft hands a follower a batch that a hostile or buggy leader sent.
func applyBetween(t *testing.T, f *fsm, bad []byte) []any {
	t.Helper()
	next := f.applied.Load() + 1
	return f.ApplyBatch([]*raft.Log{
		cmdLog(next, mustEncode(t, cmdCreateRun, createRunCmd{Run: testRun("before")})),
		cmdLog(next+1, bad),
		cmdLog(next+2, mustEncode(t, cmdCreateRun, createRunCmd{Run: testRun("after")})),
	})
}

func TestFSM_RejectsEntriesItCannotDecodeOrApply(t *testing.T) {
	invalidRun := testRun("bad")
	invalidRun.Spec.Cpus = -1
	unnamed := testRun("")
	tests := map[string]struct {
		data       []byte
		setup      func(t *testing.T, f *fsm)
		wantReason string
		wantMsg    string
	}{
		"unknown type":          {data: []byte{42, '{', '}'}, wantReason: RejectUnknownType, wantMsg: "unknown command type 42"},
		"unknown type, no body": {data: []byte{0x7f}, wantReason: RejectUnknownType},
		"empty entry":           {data: []byte{}, wantReason: RejectDecode, wantMsg: "empty command"},
		"truncated JSON":        {data: []byte{byte(cmdCreateRun), '{'}, wantReason: RejectDecode, wantMsg: "decode create_run"},
		"wrong JSON type":       {data: append([]byte{byte(cmdCreateRun)}, `{"run":5}`...), wantReason: RejectDecode},
		"binary garbage":        {data: []byte{byte(cmdBatchUpdateStatus), 0xff, 0x00, 0x13}, wantReason: RejectDecode},
		"invalid run":           {data: mustEncode(t, cmdCreateRun, createRunCmd{Run: invalidRun}), wantReason: RejectInvalid, wantMsg: "spec.cpus"},
		"run without a name":    {data: mustEncode(t, cmdCreateRun, createRunCmd{Run: unnamed}), wantReason: RejectInvalid, wantMsg: "metadata.name"},
		"member without an id":  {data: mustEncode(t, cmdSetMember, setMemberCmd{Member: Member{HTTPAddr: "http://x"}}), wantReason: RejectInvalid},
		"member id over 1 KiB":  {data: mustEncode(t, cmdSetMember, setMemberCmd{Member: Member{ID: strings.Repeat("x", 40000)}}), wantReason: RejectInvalid},
		"remove member, no id":  {data: mustEncode(t, cmdRemoveMember, removeMemberCmd{}), wantReason: RejectInvalid},
		"apply: invalid create": {
			data: mustEncode(t, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{
				{Op: opCreate, Name: "ok", Run: ptr(testRun("ok"))},
				{Op: opCreate, Name: "bad", Run: &invalidRun},
			}}),
			wantReason: RejectInvalid, wantMsg: "spec.cpus",
		},
		"apply: create of another name": {
			data:       mustEncode(t, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opCreate, Name: "x", Run: ptr(testRun("y"))}}}),
			wantReason: RejectInvalid, wantMsg: "no Run of that name",
		},
		"apply: update without a precondition": {
			data:       mustEncode(t, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: opUpdate, Name: "x", Run: ptr(testRun("x"))}}}),
			wantReason: RejectInvalid, wantMsg: "no precondition",
		},
		"apply: unknown op": {
			data:       mustEncode(t, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{{Op: "merge", Name: "x"}}}),
			wantReason: RejectInvalid, wantMsg: "unknown op",
		},
		"apply: update to invalid spec after a create": {
			// "a" is created at index 1: its resourceVersion is "1".
			setup: func(t *testing.T, f *fsm) { mustCreate(t, f, "a") },
			data: func() []byte {
				r := testRun("a")
				r.Spec.Mem = 0
				return mustEncode(t, cmdApplyRuns, applyRunsCmd{Ops: []applyOp{
					{Op: opCreate, Name: "ok", Run: ptr(testRun("ok"))},
					{Op: opUpdate, Name: "a", ExpectRV: "1", Run: &r},
				}})
			}(),
			wantReason: RejectInvalid, wantMsg: "spec.mem",
		},
		"update to invalid spec": {
			setup: func(t *testing.T, f *fsm) { mustCreate(t, f, "a") },
			data: func() []byte {
				r := testRun("a")
				r.Spec.Mem = 0
				return mustEncode(t, cmdUpdateRun, updateRunCmd{Run: r})
			}(),
			wantReason: RejectInvalid, wantMsg: "spec.mem",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newTestFSM(t)
			if tc.setup != nil {
				tc.setup(t, f)
			}
			start := f.applied.Load()
			before, err := f.listRuns(ListOptions{})
			require.NoError(t, err)

			resps := applyBetween(t, f, tc.data)

			require.Len(t, resps, 3)
			require.NoError(t, resps[0].(result).Err)
			require.NoError(t, resps[2].(result).Err, "the entry after a rejected one applies")
			r, ok := resps[1].(result)
			require.True(t, ok, "response %T", resps[1])
			require.ErrorIs(t, r.Err, ErrRejectedEntry)
			var rerr *RejectedError
			require.ErrorAs(t, r.Err, &rerr)
			assert.Equal(t, tc.wantReason, rerr.Entry.Reason)
			assert.Contains(t, rerr.Entry.Message, tc.wantMsg)
			assert.Equal(t, start+2, rerr.Entry.Index)
			assert.Equal(t, start+3, f.applied.Load(), "the applied index moves past the rejected entry")

			after, err := f.listRuns(ListOptions{})
			require.NoError(t, err)
			assert.Len(t, after.Items, len(before.Items)+2, "only before and after were stored")
			for _, run := range after.Items {
				if run.Metadata.Name == "a" {
					assert.Equal(t, float64(64), run.Spec.Mem, "the invalid update wrote nothing")
				}
			}
			count, last, err := f.rejected()
			require.NoError(t, err)
			assert.Equal(t, uint64(1), count)
			require.NotNil(t, last)
			assert.Equal(t, rerr.Entry, *last)
			assert.Equal(t, 1.0, counterValue(t, f.metrics.rejected.WithLabelValues(tc.wantReason)))
		})
	}
}

func TestFSM_IgnorableUnknownCommandIsSkippedNotRejected(t *testing.T) {
	f := newTestFSM(t)
	resps := applyBetween(t, f, []byte{byte(ignorableFlag | 5), '{', '}'})
	assert.Nil(t, resps[1])
	assert.Equal(t, uint64(3), f.applied.Load())
	count, last, err := f.rejected()
	require.NoError(t, err)
	assert.Zero(t, count)
	assert.Nil(t, last)
}

// A handler that panics after writing part of its entry: the batch is
// applied again without it, so nothing of it remains, and the entries
// around it apply.
func TestFSM_HandlerPanicRejectsTheEntryAndKeepsNothingOfIt(t *testing.T) {
	tests := map[string]struct {
		panicWith  func(a *applier)
		wantReason string
		wantMsg    string
	}{
		"runtime panic": {
			panicWith: func(a *applier) {
				var items []result
				_ = items[a.index] // index out of range
			},
			wantReason: RejectPanic, wantMsg: "index out of range",
		},
		"key bbolt refuses": {
			panicWith:  func(a *applier) { a.put(bucketMeta, bytes.Repeat([]byte("k"), 40000), []byte("v")) },
			wantReason: RejectInvalid, wantMsg: "key too large",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f := newTestFSM(t)
			w, err := f.watch(t.Context(), 0, nil)
			require.NoError(t, err)
			f.handle = func(a *applier, cmd any) result {
				if c, ok := cmd.(*setFrameworkIDCmd); ok && c.ID == "poison" {
					run := testRun("partial")
					a.emit(apis.Added, &run, a.putRun(&run))
					tc.panicWith(a)
				}
				return a.dispatch(cmd)
			}
			resps := applyBetween(t, f, mustEncode(t, cmdSetFrameworkID, setFrameworkIDCmd{ID: "poison"}))
			var rerr *RejectedError
			require.ErrorAs(t, resps[1].(result).Err, &rerr)
			assert.Equal(t, tc.wantReason, rerr.Entry.Reason)
			assert.Contains(t, rerr.Entry.Message, tc.wantMsg)
			assert.NoError(t, resps[0].(result).Err)
			assert.NoError(t, resps[2].(result).Err)

			_, err = f.getRun("partial")
			assert.ErrorIs(t, err, apis.ErrNotFound, "the panicking entry's writes were rolled back")
			for _, want := range []string{"before", "after"} {
				_, err := f.getRun(want)
				assert.NoError(t, err, want)
			}
			var seen []string
			for range 2 {
				ev := <-w.Events()
				seen = append(seen, ev.Object.(*apis.Run).Metadata.Name)
			}
			assert.Equal(t, []string{"before", "after"}, seen, "watchers never see the rolled-back write")
			count, _, err := f.rejected()
			require.NoError(t, err)
			assert.Equal(t, uint64(1), count)
			fw, err := f.frameworkID()
			require.NoError(t, err)
			assert.Empty(t, fw)
		})
	}
}

func TestFSM_LocalStorageFailureStillStopsTheNode(t *testing.T) {
	f := newTestFSM(t)
	errDisk := errors.New("disk on fire")
	f.handle = func(a *applier, cmd any) result {
		panic(fatalError{errDisk})
	}
	assert.PanicsWithValue(t, fatalError{errDisk}, func() {
		f.Apply(cmdLog(1, mustEncode(t, cmdSetFrameworkID, setFrameworkIDCmd{ID: "x"})))
	})
}

// The rejection record is state: it survives a reopen and travels in a
// snapshot, so a node restored from one reports what its peers report.
func TestFSM_RejectionsSurviveRestartAndSnapshot(t *testing.T) {
	path := filepath.Join(t.TempDir(), "fsm.db")
	logger := slog.New(slog.DiscardHandler)
	f, err := openFSM(path, true, 0, 10, logger)
	require.NoError(t, err)
	f.Apply(cmdLog(1, []byte{42}))
	f.Apply(cmdLog(2, []byte{byte(cmdCreateRun), 'x'}))
	require.NoError(t, f.close())

	f, err = openFSM(path, true, 0, 10, logger)
	require.NoError(t, err)
	t.Cleanup(func() { _ = f.close() })
	count, last, err := f.rejected()
	require.NoError(t, err)
	assert.Equal(t, uint64(2), count)
	require.NotNil(t, last)
	assert.Equal(t, RejectedEntry{Index: 2, Type: "create_run", Reason: RejectDecode, Message: last.Message}, *last)

	snap, err := f.Snapshot()
	require.NoError(t, err)
	sink := &bufferSink{}
	require.NoError(t, snap.Persist(sink))
	snap.Release()
	dst := newTestFSM(t)
	require.NoError(t, dst.Restore(io.NopCloser(bytes.NewReader(sink.Bytes()))))
	count2, last2, err := dst.rejected()
	require.NoError(t, err)
	assert.Equal(t, count, count2)
	assert.Equal(t, last, last2)
}

func TestClipMessage(t *testing.T) {
	assert.Equal(t, "short", clipMessage("short"))
	long := strings.Repeat("é", maxRejectMessage) // two bytes each
	got := clipMessage(long)
	assert.LessOrEqual(t, len(got), maxRejectMessage+len("…"))
	assert.True(t, strings.HasSuffix(got, "é…"), "cut on a rune boundary")
}

// FuzzFSMApply: no entry, however made, panics the FSM or stops the
// applied index from advancing.
func FuzzFSMApply(f *testing.F) {
	for _, seed := range [][]byte{
		mustEncode(f, cmdCreateRun, createRunCmd{Run: testRun("a")}),
		mustEncode(f, cmdUpdateRun, updateRunCmd{Run: testRun("a")}),
		mustEncode(f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{{Name: "a", Status: apis.RunStatus{Phase: apis.PhaseSucceeded, TaskID: "a.1"}}}}),
		mustEncode(f, cmdRecordAttempt, recordAttemptCmd{Attempt: apis.Attempt{Run: "a", TaskID: "a.1"}}),
		mustEncode(f, cmdAppendEvents, appendEventsCmd{Events: []apis.EventRecord{{Run: "a"}}}),
		mustEncode(f, cmdRequestDelete, requestDeleteCmd{Name: "a"}),
		mustEncode(f, cmdSetMember, setMemberCmd{Member: Member{ID: "n1"}}),
		{}, {0xff}, {42}, {byte(cmdDeleteRun), '{', '"'},
	} {
		f.Add(seed)
	}
	fsm, err := openFSM(filepath.Join(f.TempDir(), "fsm.db"), true, 0, 10, slog.New(slog.DiscardHandler))
	require.NoError(f, err)
	f.Cleanup(func() { _ = fsm.close() })
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return // bounded work per input
		}
		idx := fsm.applied.Load() + 1
		fsm.Apply(cmdLog(idx, data))
		require.Equal(t, idx, fsm.applied.Load())
	})
}

func ptr[T any](v T) *T { return &v }
