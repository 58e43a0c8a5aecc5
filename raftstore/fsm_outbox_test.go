package raftstore

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func testNotifier(name, selector string, on ...string) apis.Notifier {
	n := apis.Notifier{
		Metadata: apis.ObjectMeta{Name: name, UID: "nuid-" + name},
		Spec: apis.NotifierSpec{Selector: selector, On: on,
			Webhook: &apis.Webhook{URL: "https://hooks.example.com/" + name}},
	}
	apis.SetNotifierDefaults(&n)
	return n
}

func mustCreateNotifier(t *testing.T, f *fsm, n apis.Notifier) {
	t.Helper()
	r := applyCmd(t, f, cmdCreateNotifier, createNotifierCmd{Notifier: n})
	require.NoError(t, r.Err)
}

func finish(name, uid string, phase apis.RunPhase, reason string) statusEntry {
	done := time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC)
	return statusEntry{Name: name, UID: uid, Status: apis.RunStatus{Phase: phase, Reason: reason, Attempts: 1, CompletionTime: &done}}
}

func outboxOf(t *testing.T, f *fsm) []apis.Notification {
	t.Helper()
	recs, err := f.outbox("", 0)
	require.NoError(t, err)
	return recs
}

func TestFSM_OutboxRecordedInTheStatusEntry(t *testing.T) {
	f := newTestFSM(t)
	mustCreateNotifier(t, f, testNotifier("fail", "team=data", apis.NotifyFailed, apis.NotifyDependencyFailed))
	mustCreateNotifier(t, f, testNotifier("ok", "", apis.NotifySucceeded))
	mustCreateNotifier(t, f, testNotifier("other-team", "team=web", apis.NotifyFailed))
	a := mustCreate(t, f, "a")
	b := mustCreate(t, f, "b")
	mustCreate(t, f, "c")
	optOut := testRun("quiet")
	optOut.Metadata.Labels[apis.LabelNotify] = "false"
	require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: optOut}).Err)

	before := f.applied.Load()
	r := applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{
		finish("a", a.Metadata.UID, apis.PhaseFailed, apis.ReasonTaskFailed),
		finish("b", b.Metadata.UID, apis.PhaseSucceeded, apis.ReasonCompleted),
		finish("c", "", apis.PhaseFailed, apis.ReasonDependencyFailed),
		finish("quiet", "", apis.PhaseFailed, apis.ReasonTaskFailed),
	}})
	for _, it := range r.Items {
		require.NoError(t, it.Err)
	}
	entry := before + 1
	recs := outboxOf(t, f)
	var got []string
	for _, rec := range recs {
		got = append(got, rec.Notifier+" "+rec.Event+" "+rec.Run.Metadata.Name)
		assert.Equal(t, fmt.Sprintf("%s/%016x/%s", rec.Notifier, entry, rec.Run.Metadata.Name), rec.ID, "the record is keyed by the status entry's index")
		assert.Equal(t, time.Date(2026, 12, 4, 10, 0, 0, 0, time.UTC), rec.Time)
		assert.Equal(t, fmt.Sprintf("%s/1/%s/%s", rec.Run.Metadata.UID, rec.Event, rec.NotifierUID), rec.IdempotencyKey)
	}
	assert.Equal(t, []string{
		"fail Failed a",
		"fail DependencyFailed c",
		"ok Succeeded b",
	}, got, "the opted-out Run and the other team's notifier are left out")

	n, err := f.getNotifier("fail")
	require.NoError(t, err)
	assert.Equal(t, int64(2), n.Status.Pending)

	// The same status again is no change: no second record.
	r = applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: finish("a", "", apis.PhaseFailed, apis.ReasonTaskFailed)})
	require.NoError(t, r.Err)
	assert.Len(t, outboxOf(t, f), 3)

	// Completing: delivered, failed, and a repeat that is skipped.
	at := time.Date(2026, 12, 4, 11, 0, 0, 0, time.UTC)
	done := []apis.NotificationResult{
		{ID: recs[0].ID, NotifierUID: recs[0].NotifierUID, Delivered: true, Time: at},
		{ID: recs[1].ID, NotifierUID: recs[1].NotifierUID, Error: "HTTP 410 Gone", Time: at},
		{ID: recs[0].ID, NotifierUID: recs[0].NotifierUID, Delivered: true, Time: at},
	}
	require.NoError(t, applyCmd(t, f, cmdOutboxDone, outboxDoneCmd{Results: done}).Err)
	n, err = f.getNotifier("fail")
	require.NoError(t, err)
	assert.Equal(t, apis.NotifierStatus{Delivered: 1, Failed: 1, LastError: "HTTP 410 Gone", LastErrorTime: &at}, n.Status)
	assert.Len(t, outboxOf(t, f), 1)

	// Deleting a notifier drops its records.
	require.NoError(t, applyCmd(t, f, cmdDeleteNotifier, deleteNotifierCmd{Name: "ok"}).Err)
	assert.Empty(t, outboxOf(t, f))
}

func TestFSM_OutboxIsBoundedPerNotifier(t *testing.T) {
	f := newTestFSM(t)
	mustCreateNotifier(t, f, testNotifier("all", "", apis.NotifyFailed))
	var updates []statusEntry
	for i := range MaxOutboxPerNotifier + 5 {
		name := fmt.Sprintf("r%04d", i)
		mustCreate(t, f, name)
		updates = append(updates, finish(name, "", apis.PhaseFailed, apis.ReasonTaskFailed))
	}
	applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: updates})
	recs := outboxOf(t, f)
	require.Len(t, recs, MaxOutboxPerNotifier)
	assert.Equal(t, "r0005", recs[0].Run.Metadata.Name, "the oldest were dropped")
	n, err := f.getNotifier("all")
	require.NoError(t, err)
	assert.Equal(t, int64(MaxOutboxPerNotifier), n.Status.Pending)
	assert.Equal(t, int64(5), n.Status.Failed)
	assert.Contains(t, n.Status.LastError, "outbox full")
}

func TestFSM_PagerDutyResolvesOnlyOpenIncidents(t *testing.T) {
	f := newTestFSM(t)
	pd := testNotifier("pd", "", apis.NotifyFailed)
	pd.Spec.Webhook.Format, pd.Spec.Webhook.SecretFile = apis.FormatPagerDuty, "/etc/pd.key"
	mustCreateNotifier(t, f, pd)
	for _, name := range []string{"x1", "x2", "y"} {
		run := testRun(name)
		if name != "y" {
			run.Metadata.Labels[apis.LabelSchedule] = "x"
		}
		require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: run}).Err)
	}
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: finish("y", "", apis.PhaseSucceeded, "")})
	assert.Empty(t, outboxOf(t, f), "a success with no open incident sends nothing")
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: finish("x1", "", apis.PhaseFailed, apis.ReasonTaskFailed)})
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: finish("x2", "", apis.PhaseSucceeded, "")})
	var got []string
	for _, rec := range outboxOf(t, f) {
		got = append(got, rec.Event+" "+rec.Run.Metadata.Name)
	}
	assert.Equal(t, []string{"Failed x1", "Succeeded x2"}, got, "the next success of the same Schedule resolves")
}

func TestFSM_NotifierUpdateKeepsStatus(t *testing.T) {
	f := newTestFSM(t)
	mustCreateNotifier(t, f, testNotifier("n", "", apis.NotifyFailed))
	mustCreate(t, f, "a")
	applyCmd(t, f, cmdUpdateStatus, updateStatusCmd{Update: finish("a", "", apis.PhaseFailed, "")})
	upd := testNotifier("n", "team=data", apis.NotifyFailed)
	r := applyCmd(t, f, cmdUpdateNotifier, updateNotifierCmd{Notifier: upd})
	require.NoError(t, r.Err)
	assert.Equal(t, ApplyConfigured, r.Outcome)
	assert.Equal(t, int64(2), r.Notifier.Metadata.Generation)
	assert.Equal(t, int64(1), r.Notifier.Status.Pending)
	r = applyCmd(t, f, cmdUpdateNotifier, updateNotifierCmd{Notifier: upd})
	assert.Equal(t, ApplyUnchanged, r.Outcome)
	r = applyCmd(t, f, cmdUpdateNotifier, updateNotifierCmd{Notifier: upd, ExpectRV: "1"})
	assert.ErrorIs(t, r.Err, apis.ErrConflict)
	bad := upd
	bad.Spec.Webhook = nil
	r = applyCmd(t, f, cmdUpdateNotifier, updateNotifierCmd{Notifier: bad})
	assert.ErrorIs(t, r.Err, ErrRejectedEntry, "an update that would make an invalid Notifier is rejected")
	r = applyCmd(t, f, cmdCreateNotifier, createNotifierCmd{Notifier: bad})
	assert.ErrorIs(t, r.Err, ErrRejectedEntry)
}

func TestFSM_OutboxKeepsLargeRunsSmall(t *testing.T) {
	f := newTestFSM(t)
	mustCreateNotifier(t, f, testNotifier("n", "", apis.NotifyFailed))
	run := testRun("big")
	run.Metadata.Annotations = map[string]string{apis.AnnotationOwner: "ops@example.com", "notes": strings.Repeat("x", 100<<10)}
	run.Spec.Env = map[string]string{"BLOB": strings.Repeat("y", 50<<10)}
	require.NoError(t, applyCmd(t, f, cmdCreateRun, createRunCmd{Run: run}).Err)
	mustCreate(t, f, "small")
	applyCmd(t, f, cmdBatchUpdateStatus, batchUpdateStatusCmd{Updates: []statusEntry{
		finish("big", "", apis.PhaseFailed, ""), finish("small", "", apis.PhaseFailed, ""),
	}})
	recs := outboxOf(t, f)
	require.Len(t, recs, 2)
	big := recs[0]
	assert.True(t, big.RunTrimmed)
	assert.Equal(t, map[string]string{apis.AnnotationOwner: "ops@example.com"}, big.Run.Metadata.Annotations, "the owner is kept")
	assert.Nil(t, big.Run.Spec.Env)
	assert.Equal(t, apis.PhaseFailed, big.Run.Status.Phase)
	b, err := json.Marshal(big)
	require.NoError(t, err)
	assert.Less(t, len(b), 20<<10)
	assert.False(t, recs[1].RunTrimmed, "a small Run is kept whole")
	assert.Equal(t, "echo small", recs[1].Run.Spec.Command)
}

func TestFSM_NotifierCountIsBounded(t *testing.T) {
	f := newTestFSM(t)
	for i := range MaxNotifiers {
		mustCreateNotifier(t, f, testNotifier(fmt.Sprintf("n%04d", i), "", apis.NotifyFailed))
	}
	r := applyCmd(t, f, cmdCreateNotifier, createNotifierCmd{Notifier: testNotifier("one-more", "", apis.NotifyFailed)})
	assert.ErrorIs(t, r.Err, apis.ErrConflict)
}
