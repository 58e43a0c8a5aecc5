package raftstore_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// setCommand is the Decide of an apply that wants spec.command = cmd: a
// new Run when there is none, else cur with that command. calls counts
// its calls.
func setCommand(name, cmd string, calls *int) func(cur *apis.Run) (*apis.Run, error) {
	return func(cur *apis.Run) (*apis.Run, error) {
		*calls++
		if cur == nil {
			r := newRun(name)
			r.Spec.Command = cmd
			return r, nil
		}
		next := *cur
		next.Spec.Command = cmd
		return &next, nil
	}
}

// startQuiet is startSingle once the new leader recorded its member
// address, so that every later entry is the test's own.
func startQuiet(t *testing.T) *raftstore.Store {
	t.Helper()
	s := startSingle(t, t.TempDir(), nil)
	require.Eventually(t, func() bool {
		m, err := s.Members()
		return err == nil && m[s.NodeID()].HTTPAddr != ""
	}, 10*time.Second, 5*time.Millisecond)
	// The record is readable as soon as its transaction commits, a moment
	// before the FSM's applied index says so: a test that counts entries
	// by that index must start after it.
	require.NoError(t, s.WaitApplied(t.Context(), s.CommitIndex()))
	return s
}

func decodeObject(t *testing.T, b []byte) *apis.Run {
	t.Helper()
	var r apis.Run
	require.NoError(t, json.Unmarshal(b, &r))
	return &r
}

func TestStore_ApplyRuns_CreatedConfiguredUnchanged(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	var calls int
	apply := func(cmd string, dryRun bool) raftstore.ApplyResult {
		t.Helper()
		res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: setCommand("a", cmd, &calls)}}, dryRun)
		require.NoError(t, err)
		require.Len(t, res, 1)
		require.NoError(t, res[0].Err)
		return res[0]
	}

	dry := apply("one", true)
	assert.Equal(t, raftstore.ApplyCreated, dry.Outcome)
	_, err := s.GetRun(ctx, "a")
	require.ErrorIs(t, err, apis.ErrNotFound, "a dry run stores nothing")

	created := apply("one", false)
	assert.Equal(t, raftstore.ApplyCreated, created.Outcome)
	c := decodeObject(t, created.Object)
	assert.Equal(t, apis.KindRun, c.Kind)
	assert.NotEmpty(t, c.Metadata.UID)
	assert.NotNil(t, c.Metadata.CreationTimestamp)
	assert.Equal(t, int64(1), c.Metadata.Generation)
	stored, err := s.GetRun(ctx, "a")
	require.NoError(t, err)
	assert.Equal(t, c.Metadata.ResourceVersion, stored.Metadata.ResourceVersion, "the answer is the Run as committed")

	applied := s.AppliedIndex()
	unchanged := apply("one", false)
	assert.Equal(t, raftstore.ApplyUnchanged, unchanged.Outcome)
	assert.Equal(t, c.Metadata.ResourceVersion, decodeObject(t, unchanged.Object).Metadata.ResourceVersion)
	assert.Equal(t, applied, s.AppliedIndex(), "an unchanged apply commits no entry")

	configured := apply("two", false)
	assert.Equal(t, raftstore.ApplyConfigured, configured.Outcome)
	u := decodeObject(t, configured.Object)
	assert.Equal(t, "two", u.Spec.Command)
	assert.Equal(t, int64(2), u.Metadata.Generation)
	assert.Equal(t, c.Metadata.UID, u.Metadata.UID)
	assert.NotEqual(t, c.Metadata.ResourceVersion, u.Metadata.ResourceVersion)
}

// A Run that changes between the decision and its commit fails the
// entry's precondition; the store decides it again on the new state.
func TestStore_ApplyRuns_DecidesAgainWhenTheRunChangedMeanwhile(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()

	// Absent when decided, created by someone else before the commit.
	var seen []bool
	res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: func(cur *apis.Run) (*apis.Run, error) {
		seen = append(seen, cur != nil)
		if cur == nil {
			other := newRun("a")
			other.Spec.Command = "theirs"
			_, err := s.CreateRun(ctx, other)
			require.NoError(t, err)
			r := newRun("a")
			r.Spec.Command = "mine"
			return r, nil
		}
		next := *cur
		next.Spec.Command = "mine"
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, []bool{false, true}, seen, "decided again on the Run the other create made")
	assert.Equal(t, raftstore.ApplyConfigured, res[0].Outcome)
	got := decodeObject(t, res[0].Object)
	assert.Equal(t, "mine", got.Spec.Command)
	assert.Equal(t, int64(2), got.Metadata.Generation)

	// Present when decided, its spec changed by someone else before the
	// commit: the decision (validated against the old spec) is redone.
	calls := 0
	res, err = s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: func(cur *apis.Run) (*apis.Run, error) {
		calls++
		if calls == 1 {
			other := *cur
			other.Spec.ActiveDeadlineSeconds = 60
			_, err := s.UpdateRun(ctx, &other)
			require.NoError(t, err)
		}
		next := *cur
		next.Spec.Command = "third"
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, 2, calls)
	got = decodeObject(t, res[0].Object)
	assert.Equal(t, "third", got.Spec.Command)
	assert.Equal(t, int64(60), got.Spec.ActiveDeadlineSeconds, "decided again on the concurrent change, which it keeps")

	// A status write in between changes neither the Run's uid nor its
	// spec: the update applies as decided, in one round, and keeps the
	// status.
	calls = 0
	res, err = s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: func(cur *apis.Run) (*apis.Run, error) {
		calls++
		if calls == 1 {
			_, err := s.UpdateStatus(ctx, "a", apis.RunStatus{Phase: apis.PhasePending, Message: "meanwhile"})
			require.NoError(t, err)
		}
		next := *cur
		next.Metadata.Labels = map[string]string{"app": "relabelled"}
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, 1, calls)
	got = decodeObject(t, res[0].Object)
	assert.Equal(t, "relabelled", got.Metadata.Labels["app"])
	assert.Equal(t, "meanwhile", got.Status.Message)

	// With the caller's resourceVersion precondition, any write in between
	// makes it decide again; the caller's Decide then refuses, which a read
	// barrier confirms (a third call).
	calls = 0
	cur, err := s.GetRun(ctx, "a")
	require.NoError(t, err)
	res, err = s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Precondition: cur.Metadata.ResourceVersion, Decide: func(c *apis.Run) (*apis.Run, error) {
		calls++
		if c.Metadata.ResourceVersion != cur.Metadata.ResourceVersion {
			return nil, fmt.Errorf("resourceVersion %s, not %s: %w", c.Metadata.ResourceVersion, cur.Metadata.ResourceVersion, apis.ErrConflict)
		}
		if calls == 1 {
			_, err := s.UpdateStatus(ctx, "a", apis.RunStatus{Phase: apis.PhasePending, Message: "again"})
			require.NoError(t, err)
		}
		next := *c
		next.Metadata.Labels = map[string]string{"app": "precondition"}
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	assert.Equal(t, 3, calls)
	assert.ErrorIs(t, res[0].Err, apis.ErrConflict)

	// Unchanged when decided, changed before the confirmation.
	calls = 0
	res, err = s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: func(cur *apis.Run) (*apis.Run, error) {
		calls++
		if calls == 1 {
			other := *cur
			other.Spec.Command = "fourth"
			_, err := s.UpdateRun(ctx, &other)
			require.NoError(t, err)
		}
		next := *cur
		next.Spec.Command = "third"
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	assert.Equal(t, 2, calls)
	assert.Equal(t, raftstore.ApplyConfigured, res[0].Outcome, "not unchanged: the Run had changed by the time the apply took effect")
	assert.Equal(t, "third", decodeObject(t, res[0].Object).Spec.Command)
}

// A Run that keeps changing under the apply ends in a conflict instead of
// looping.
func TestStore_ApplyRuns_GivesUpAfterRepeatedChanges(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	_, err := s.CreateRun(ctx, newRun("a"))
	require.NoError(t, err)
	calls := 0
	res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "a", Decide: func(cur *apis.Run) (*apis.Run, error) {
		calls++
		other := *cur
		other.Spec.ActiveDeadlineSeconds = int64(calls)
		_, err := s.UpdateRun(ctx, &other)
		require.NoError(t, err)
		next := *cur
		next.Spec.Command = "mine"
		return &next, nil
	}}}, false)
	require.NoError(t, err)
	assert.ErrorIs(t, res[0].Err, apis.ErrConflict)
	assert.Equal(t, 8, calls)
}

// Many Runs go in one entry; each succeeds or is refused on its own, and
// a refusal is confirmed without an entry of its own.
func TestStore_ApplyRuns_ManyInOneEntry(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	refused := errors.New("refused by the caller")
	var reqs []raftstore.ApplyRequest
	var calls int
	for i := range 100 {
		name := fmt.Sprintf("r%03d", i)
		reqs = append(reqs, raftstore.ApplyRequest{Name: name, Decide: setCommand(name, "x", &calls)})
	}
	reqs = append(reqs, raftstore.ApplyRequest{Name: "bad", Decide: func(*apis.Run) (*apis.Run, error) { return nil, refused }})
	before := s.AppliedIndex()
	res, err := s.ApplyRuns(ctx, reqs, false)
	require.NoError(t, err)
	// One entry for 100 Runs and the refused one's check: every Run has
	// its index, the last the FSM applied. (Counting indexes from before
	// also counted, now and then, an entry raft does not hand to the FSM,
	// a barrier or a no-op, committed in between: 2 runs in 30 with -race.)
	entry := strconv.FormatUint(s.AppliedIndex(), 10)
	assert.Greater(t, s.AppliedIndex(), before)
	for i, r := range res[:100] {
		require.NoError(t, r.Err, i)
		assert.Equal(t, raftstore.ApplyCreated, r.Outcome)
		assert.Equal(t, entry, decodeObject(t, r.Object).Metadata.ResourceVersion, i)
	}
	assert.ErrorIs(t, res[100].Err, refused)
	_, err = s.GetRun(ctx, "bad")
	assert.ErrorIs(t, err, apis.ErrNotFound)

	// Only a refusal: confirmed by a read barrier, no entry.
	before = s.AppliedIndex()
	res, err = s.ApplyRuns(ctx, reqs[100:], false)
	require.NoError(t, err)
	assert.ErrorIs(t, res[0].Err, refused)
	assert.Equal(t, before, s.AppliedIndex())

	// The same name twice: applied one after the other.
	calls = 0
	res, err = s.ApplyRuns(ctx, []raftstore.ApplyRequest{
		{Name: "dup", Decide: setCommand("dup", "first", &calls)},
		{Name: "dup", Decide: setCommand("dup", "second", &calls)},
	}, false)
	require.NoError(t, err)
	assert.Equal(t, raftstore.ApplyCreated, res[0].Outcome)
	assert.Equal(t, raftstore.ApplyConfigured, res[1].Outcome)
	got, err := s.GetRun(ctx, "dup")
	require.NoError(t, err)
	assert.Equal(t, "second", got.Spec.Command)
}

func TestStore_ApplyRuns_OnAFollowerIsNotLeader(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	c.Leader()
	f := c.Followers()[0]
	calls := 0
	_, err := f.Store.ApplyRuns(t.Context(), []raftstore.ApplyRequest{{Name: "a", Decide: setCommand("a", "x", &calls)}}, false)
	assert.ErrorIs(t, err, apis.ErrNotLeader)
}

// A Run created without a phase is stored Pending since its creation, in
// its create entry, by both create paths; a phase given is kept.
func TestStore_CreatedRunsArePending(t *testing.T) {
	s := startQuiet(t)
	ctx := t.Context()
	var calls int
	res, err := s.ApplyRuns(ctx, []raftstore.ApplyRequest{{Name: "applied", Decide: setCommand("applied", "true", &calls)}}, false)
	require.NoError(t, err)
	require.NoError(t, res[0].Err)
	applied := decodeObject(t, res[0].Object)
	created, err := s.CreateRun(ctx, newRun("created"))
	require.NoError(t, err)
	given := newRun("given")
	given.Status = apis.RunStatus{Phase: apis.PhaseSucceeded, Message: "imported"}
	kept, err := s.CreateRun(ctx, given)
	require.NoError(t, err)

	for _, r := range []*apis.Run{applied, created} {
		stored, err := s.GetRun(ctx, r.Metadata.Name)
		require.NoError(t, err)
		for _, got := range []*apis.Run{r, stored} {
			assert.Equal(t, apis.PhasePending, got.Status.Phase, got.Metadata.Name)
			assert.Equal(t, raftstore.InitialMessage, got.Status.Message, got.Metadata.Name)
			require.NotNil(t, got.Status.LastTransitionTime, got.Metadata.Name)
			assert.True(t, got.Status.LastTransitionTime.Equal(*got.Metadata.CreationTimestamp), got.Metadata.Name)
			assert.Zero(t, got.Status.ObservedGeneration, "no controller has seen it")
		}
	}
	assert.Equal(t, apis.RunStatus{Phase: apis.PhaseSucceeded, Message: "imported"}, kept.Status)
}
