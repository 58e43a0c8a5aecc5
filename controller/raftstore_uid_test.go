package controller_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
)

// A status or attempt meant for a Run that was deleted and re-created under
// the same name must not land on the new Run: through the production store,
// not only the fake.
func TestRaftStore_WritesForARecreatedRunAreNotFound(t *testing.T) {
	s := startSolo(t)
	store := controller.NewRaftStore(s)
	ctx := t.Context()
	newRun := func() *apis.Run {
		return &apis.Run{Metadata: apis.ObjectMeta{Name: "nightly"}, Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16}}
	}
	old, err := s.CreateRun(ctx, newRun())
	require.NoError(t, err)
	require.NoError(t, s.DeleteRun(ctx, "nightly", old.Metadata.UID))
	cur, err := s.CreateRun(ctx, newRun())
	require.NoError(t, err)
	require.NotEqual(t, old.Metadata.UID, cur.Metadata.UID)
	stale := controller.RunRef{Name: "nightly", UID: old.Metadata.UID}

	errs, err := store.UpdateStatuses(ctx, []controller.StatusUpdate{{
		Run:    stale,
		Status: apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, TaskID: "nightly.1.abcde"},
	}})
	require.NoError(t, err)
	require.Len(t, errs, 1)
	assert.ErrorIs(t, errs[0], apis.ErrNotFound)

	err = store.RecordAttempt(ctx, stale, apis.Attempt{Run: "nightly", Number: 1, TaskID: "nightly.1.abcde"})
	assert.ErrorIs(t, err, apis.ErrNotFound)

	got, err := store.GetRun(ctx, "nightly")
	require.NoError(t, err)
	assert.Equal(t, cur.Metadata.ResourceVersion, got.Metadata.ResourceVersion, "the new Run is untouched")
	assert.Equal(t, apis.RunStatus{}, got.Status)
	live, err := store.LiveAttempts(ctx)
	require.NoError(t, err)
	assert.Empty(t, live)

	// The current incarnation is written as before.
	ref := controller.RunRef{Name: "nightly", UID: cur.Metadata.UID}
	require.NoError(t, store.RecordAttempt(ctx, ref, apis.Attempt{Run: "nightly", Number: 1, TaskID: "nightly.1.fghij"}))
	errs, err = store.UpdateStatuses(ctx, []controller.StatusUpdate{{Run: ref, Status: apis.RunStatus{Phase: apis.PhaseStarting, TaskID: "nightly.1.fghij"}}})
	require.NoError(t, err)
	require.NoError(t, errs[0])
}
