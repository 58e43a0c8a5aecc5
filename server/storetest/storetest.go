// Package storetest is the contract of server.Store: one suite, run
// against the raftstore-backed store the program uses (internal/wiring)
// and against servertest's fake, so that the API's tests over the fake
// exercise what production does.
package storetest

import (
	"context"
	"encoding/json"
	"errors"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

// Harness is one store under test.
type Harness struct {
	// Store is the store on the leader.
	Store server.Store
	// Launch makes the named Run's task live, as the controller does when
	// it launches one: RequestDelete then only marks the Run.
	Launch func(t *testing.T, name string)
	// AddEvent appends to a Run's event history, as the controller does.
	AddEvent func(t *testing.T, name string, ev apis.RunEvent)
	// History is how many changes the store keeps for watches to resume
	// from; 0 skips the "too old" case.
	History int
	// Follower is the same kind of store on a node that is not the
	// leader; nil skips the not-leader cases.
	Follower server.Store
}

// Wait bounds how long the suite waits for a watch event.
const Wait = 10 * time.Second

// Run runs the contract against the store newHarness returns. The cases
// share that store and use Run names of their own.
func Run(t *testing.T, newHarness func(t *testing.T) Harness) {
	h := newHarness(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) { c.run(t, h) })
	}
}

type testCase struct {
	name string
	run  func(t *testing.T, h Harness)
}

func newRun(name string) *apis.Run {
	return &apis.Run{
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"suite": "contract"}, Annotations: map[string]string{"note": "x"}},
		Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16, Env: map[string]string{"A": "1"}},
	}
}

func create(t *testing.T, h Harness, name string) *apis.Run {
	t.Helper()
	r, err := h.Store.CreateRun(t.Context(), newRun(name))
	require.NoError(t, err, "create %s", name)
	return r
}

func get(t *testing.T, h Harness, name string) *apis.Run {
	t.Helper()
	r, err := h.Store.GetRun(t.Context(), name)
	require.NoError(t, err, "get %s", name)
	return r
}

func rv(t *testing.T, r *apis.Run) uint64 {
	t.Helper()
	n, err := strconv.ParseUint(r.Metadata.ResourceVersion, 10, 64)
	require.NoError(t, err, "resourceVersion %q", r.Metadata.ResourceVersion)
	return n
}

// next pulls the next watch event, waiting on the watcher's Ready for one;
// it fails after Wait.
func next(t *testing.T, w server.Watcher) (server.WatchEvent, *apis.Run) {
	t.Helper()
	timeout := time.NewTimer(Wait)
	defer timeout.Stop()
	for {
		ready := w.Ready() // before a Next that may find nothing
		ev, ok, err := w.Next()
		require.NoError(t, err, "watch ended")
		if ok {
			var run apis.Run
			require.NoError(t, json.Unmarshal(ev.Object, &run), "event object %s", ev.Object)
			return ev, &run
		}
		select {
		case <-ready:
		case <-timeout.C:
			t.Fatalf("no watch event within %s", Wait)
		}
	}
}

// apply is the Decide of kubectl apply with want: want whole when there is
// no Run, else the current Run with want's labels, annotations and spec.
func apply(want *apis.Run) func(cur *apis.Run) (*apis.Run, error) {
	return func(cur *apis.Run) (*apis.Run, error) {
		if cur == nil {
			next := *want
			return &next, nil
		}
		next := *cur
		next.Metadata.Labels = want.Metadata.Labels
		next.Metadata.Annotations = want.Metadata.Annotations
		next.Spec = want.Spec
		return &next, nil
	}
}

func decodeRun(t *testing.T, b []byte) *apis.Run {
	t.Helper()
	var r apis.Run
	require.NoError(t, json.Unmarshal(b, &r), "%s", b)
	return &r
}

func prefixed(p string) func(*apis.Run) bool {
	return func(r *apis.Run) bool { return len(r.Metadata.Name) >= len(p) && r.Metadata.Name[:len(p)] == p }
}

var cases = []testCase{
	{"CreateRun stores a new Run with the server-set metadata", func(t *testing.T, h Harness) {
		before := time.Now().Add(-time.Minute)
		r := create(t, h, "create-a")
		assert.Equal(t, "create-a", r.Metadata.Name)
		assert.NotEmpty(t, r.Metadata.UID)
		assert.Equal(t, int64(1), r.Metadata.Generation)
		require.NotNil(t, r.Metadata.CreationTimestamp)
		assert.True(t, r.Metadata.CreationTimestamp.After(before), "creationTimestamp is now: %s", r.Metadata.CreationTimestamp)
		assert.Nil(t, r.Metadata.DeletionTimestamp)
		assert.Greater(t, rv(t, r), uint64(0))
		assert.Equal(t, map[string]string{"suite": "contract"}, r.Metadata.Labels)
		assert.Equal(t, newRun("x").Spec, r.Spec)
		got := get(t, h, "create-a")
		assert.Equal(t, r.Metadata, got.Metadata)
		other := create(t, h, "create-b")
		assert.NotEqual(t, r.Metadata.UID, other.Metadata.UID)
		assert.Greater(t, rv(t, other), rv(t, r))
		_, err := h.Store.CreateRun(t.Context(), newRun("create-a"))
		assert.ErrorIs(t, err, apis.ErrAlreadyExists)
	}},
	{"CreateRun completes generateName", func(t *testing.T, h Harness) {
		r := newRun("")
		r.Metadata.GenerateName = "gen-"
		got, err := h.Store.CreateRun(t.Context(), r)
		require.NoError(t, err)
		assert.Regexp(t, `^gen-[a-z0-9]{5}$`, got.Metadata.Name)
	}},
	{"GetRun returns a copy, or ErrNotFound", func(t *testing.T, h Harness) {
		create(t, h, "get-a")
		r := get(t, h, "get-a")
		r.Metadata.Labels["suite"] = "changed"
		r.Spec.Env["A"] = "changed"
		again := get(t, h, "get-a")
		assert.Equal(t, "contract", again.Metadata.Labels["suite"])
		assert.Equal(t, "1", again.Spec.Env["A"])
		_, err := h.Store.GetRun(t.Context(), "get-missing")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"UpdateRun replaces labels, annotations and spec; generation follows the spec", func(t *testing.T, h Harness) {
		r := create(t, h, "update-a")
		h.Launch(t, "update-a")
		launched := get(t, h, "update-a")

		relabel := *launched
		relabel.Metadata.Labels = map[string]string{"suite": "relabelled"}
		got, err := h.Store.UpdateRun(t.Context(), &relabel)
		require.NoError(t, err)
		assert.Equal(t, int64(1), got.Metadata.Generation, "labels are not spec")
		assert.Greater(t, rv(t, got), rv(t, launched))
		assert.Equal(t, launched.Status, got.Status, "status is kept")
		assert.Equal(t, r.Metadata.UID, got.Metadata.UID)
		assert.Equal(t, r.Metadata.CreationTimestamp, got.Metadata.CreationTimestamp)

		respec := *got
		respec.Spec.ActiveDeadlineSeconds = 60
		got, err = h.Store.UpdateRun(t.Context(), &respec)
		require.NoError(t, err)
		assert.Equal(t, int64(2), got.Metadata.Generation)
		assert.Equal(t, int64(60), got.Spec.ActiveDeadlineSeconds)
		assert.Equal(t, got, get(t, h, "update-a"))
	}},
	{"UpdateRun of an unchanged Run is a no-op", func(t *testing.T, h Harness) {
		r := create(t, h, "same-a")
		same := *r
		same.Metadata.ResourceVersion = ""
		got, err := h.Store.UpdateRun(t.Context(), &same)
		require.NoError(t, err)
		assert.Equal(t, r.Metadata.ResourceVersion, got.Metadata.ResourceVersion, "no new resourceVersion")
		assert.Equal(t, int64(1), got.Metadata.Generation)
	}},
	{"UpdateRun preconditions: resourceVersion and uid conflict, a missing Run is not found", func(t *testing.T, h Harness) {
		r := create(t, h, "pre-a")
		changed := *r
		changed.Spec.Cancel = true
		_, err := h.Store.UpdateRun(t.Context(), &changed)
		require.NoError(t, err)
		stale := *r // r's resourceVersion is stale now
		stale.Spec.ActiveDeadlineSeconds = 5
		_, err = h.Store.UpdateRun(t.Context(), &stale)
		assert.ErrorIs(t, err, apis.ErrConflict)
		otherUID := *get(t, h, "pre-a")
		otherUID.Metadata.UID = "someone-else"
		otherUID.Spec.ActiveDeadlineSeconds = 5
		_, err = h.Store.UpdateRun(t.Context(), &otherUID)
		assert.ErrorIs(t, err, apis.ErrConflict)
		_, err = h.Store.UpdateRun(t.Context(), newRun("pre-missing"))
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"ApplyRuns creates, configures or leaves each Run, as its Decide says", func(t *testing.T, h Harness) {
		create(t, h, "apply-b")
		h.Launch(t, "apply-b")
		before := get(t, h, "apply-b")
		changed := newRun("apply-b")
		changed.Spec.ActiveDeadlineSeconds = 60
		refused := errors.New("refused by Decide")
		items := []server.ApplyItem{
			{Name: "apply-a", Decide: apply(newRun("apply-a"))},
			{Name: "apply-b", Decide: apply(changed)},
			{Name: "apply-c", Decide: func(*apis.Run) (*apis.Run, error) { return nil, refused }},
		}
		res, err := h.Store.ApplyRuns(t.Context(), items, false)
		require.NoError(t, err)
		require.Len(t, res, 3)
		assert.Equal(t, server.ApplyCreated, res[0].Result)
		a := get(t, h, "apply-a")
		assert.NotEmpty(t, a.Metadata.UID)
		assert.Equal(t, int64(1), a.Metadata.Generation)
		assert.Equal(t, a.Metadata, decodeRun(t, res[0].Object).Metadata, "the result is the Run as stored")
		assert.Equal(t, server.ApplyConfigured, res[1].Result)
		b := get(t, h, "apply-b")
		assert.Equal(t, int64(2), b.Metadata.Generation)
		assert.Equal(t, int64(60), b.Spec.ActiveDeadlineSeconds)
		assert.Equal(t, before.Status, b.Status, "status is kept")
		assert.ErrorIs(t, res[2].Err, refused)
		_, err = h.Store.GetRun(t.Context(), "apply-c")
		assert.ErrorIs(t, err, apis.ErrNotFound)

		again, err := h.Store.ApplyRuns(t.Context(), items[:2], false)
		require.NoError(t, err)
		assert.Equal(t, server.ApplyUnchanged, again[0].Result)
		assert.Equal(t, server.ApplyUnchanged, again[1].Result)
		assert.Equal(t, b.Metadata.ResourceVersion, get(t, h, "apply-b").Metadata.ResourceVersion, "unchanged: no new resourceVersion")
	}},
	{"ApplyRuns with dryRun writes nothing", func(t *testing.T, h Harness) {
		res, err := h.Store.ApplyRuns(t.Context(), []server.ApplyItem{{Name: "dry-a", Decide: apply(newRun("dry-a"))}}, true)
		require.NoError(t, err)
		require.Len(t, res, 1)
		assert.Equal(t, server.ApplyCreated, res[0].Result)
		assert.Equal(t, "dry-a", decodeRun(t, res[0].Object).Metadata.Name)
		_, err = h.Store.GetRun(t.Context(), "dry-a")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"RequestDelete deletes a Run that never launched at once", func(t *testing.T, h Harness) {
		r := create(t, h, "del-a")
		last, deleted, err := h.Store.RequestDelete(t.Context(), "del-a", "")
		require.NoError(t, err)
		assert.True(t, deleted)
		assert.Equal(t, r.Metadata.UID, last.Metadata.UID, "the last state comes back")
		_, err = h.Store.GetRun(t.Context(), "del-a")
		assert.ErrorIs(t, err, apis.ErrNotFound)
		_, _, err = h.Store.RequestDelete(t.Context(), "del-a", "")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"RequestDelete of a launched Run marks it once", func(t *testing.T, h Harness) {
		create(t, h, "mark-a")
		h.Launch(t, "mark-a")
		first, deleted, err := h.Store.RequestDelete(t.Context(), "mark-a", "")
		require.NoError(t, err)
		assert.False(t, deleted)
		require.NotNil(t, first.Metadata.DeletionTimestamp)
		again, deleted, err := h.Store.RequestDelete(t.Context(), "mark-a", "")
		require.NoError(t, err)
		assert.False(t, deleted)
		assert.True(t, first.Metadata.DeletionTimestamp.Equal(*again.Metadata.DeletionTimestamp), "the first timestamp stays")
		assert.Equal(t, first.Metadata.ResourceVersion, again.Metadata.ResourceVersion, "asking again changes nothing")
		assert.Equal(t, first.Metadata.ResourceVersion, get(t, h, "mark-a").Metadata.ResourceVersion)
	}},
	{"RequestDelete with a stale resourceVersion conflicts", func(t *testing.T, h Harness) {
		r := create(t, h, "delrv-a")
		relabel := *r
		relabel.Metadata.Labels = map[string]string{"x": "y"}
		_, err := h.Store.UpdateRun(t.Context(), &relabel)
		require.NoError(t, err)
		_, _, err = h.Store.RequestDelete(t.Context(), "delrv-a", r.Metadata.ResourceVersion)
		assert.ErrorIs(t, err, apis.ErrConflict)
		get(t, h, "delrv-a")
	}},
	{"ListRuns pages in name order with Match, Limit and Continue", func(t *testing.T, h Harness) {
		for _, n := range []string{"list-c", "list-a", "list-e", "list-b", "list-d"} {
			create(t, h, n)
		}
		match := prefixed("list-")
		all, err := h.Store.ListRuns(t.Context(), server.ListOptions{Match: match})
		require.NoError(t, err)
		var names []string
		for _, r := range all.Items {
			names = append(names, r.Metadata.Name)
		}
		assert.Equal(t, []string{"list-a", "list-b", "list-c", "list-d", "list-e"}, names)
		assert.Empty(t, all.Metadata.Continue)
		assert.Nil(t, all.Metadata.RemainingItemCount, "the store does not count what follows")
		listRV, err := strconv.ParseUint(all.Metadata.ResourceVersion, 10, 64)
		require.NoError(t, err)
		assert.GreaterOrEqual(t, listRV, rv(t, &all.Items[4]), "the list's resourceVersion covers its items")

		var paged []string
		cont := ""
		for range 10 {
			page, err := h.Store.ListRuns(t.Context(), server.ListOptions{Match: match, Limit: 2, Continue: cont})
			require.NoError(t, err)
			assert.LessOrEqual(t, len(page.Items), 2)
			for _, r := range page.Items {
				paged = append(paged, r.Metadata.Name)
			}
			if cont = page.Metadata.Continue; cont == "" {
				break
			}
		}
		assert.Equal(t, names, paged)
		exact, err := h.Store.ListRuns(t.Context(), server.ListOptions{Match: match, Limit: 5})
		require.NoError(t, err)
		assert.Len(t, exact.Items, 5)
		assert.Empty(t, exact.Metadata.Continue, "no next page when the page holds the rest")

		_, err = h.Store.ListRuns(t.Context(), server.ListOptions{Continue: "%%% not a token"})
		assert.ErrorIs(t, err, apis.ErrBadRequest)
	}},
	{"Watch from a list's resourceVersion delivers every later change of matching Runs", func(t *testing.T, h Harness) {
		create(t, h, "watch-a")
		list, err := h.Store.ListRuns(t.Context(), server.ListOptions{Match: prefixed("watch-")})
		require.NoError(t, err)
		from, err := strconv.ParseUint(list.Metadata.ResourceVersion, 10, 64)
		require.NoError(t, err)
		w, err := h.Store.Watch(t.Context(), server.WatchOptions{ResourceVersion: from, Match: prefixed("watch-")})
		require.NoError(t, err)
		defer w.Stop()

		create(t, h, "other-x") // not matched
		b := create(t, h, "watch-b")
		relabel := *b
		relabel.Metadata.Labels = map[string]string{"v": "2"}
		upd, err := h.Store.UpdateRun(t.Context(), &relabel)
		require.NoError(t, err)
		_, deleted, err := h.Store.RequestDelete(t.Context(), "watch-b", "")
		require.NoError(t, err)
		require.True(t, deleted)

		ev, run := next(t, w)
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, b.Metadata.ResourceVersion, run.Metadata.ResourceVersion)
		assert.Equal(t, rv(t, b), ev.ResourceVersion)
		ev, run = next(t, w)
		assert.Equal(t, apis.Modified, ev.Type)
		assert.Equal(t, upd.Metadata.ResourceVersion, run.Metadata.ResourceVersion)
		ev, gone := next(t, w)
		assert.Equal(t, apis.Deleted, ev.Type)
		assert.Equal(t, "watch-b", gone.Metadata.Name)
		assert.Greater(t, rv(t, gone), rv(t, upd), "DELETED carries the delete's resourceVersion")
		assert.Equal(t, map[string]string{"v": "2"}, gone.Metadata.Labels, "and the last state")
		assert.Equal(t, apis.KindRun, gone.Kind, "objects carry their kind")
	}},
	{"Watch with a selector sees a Run that starts to match as ADDED and one that stops as DELETED", func(t *testing.T, h Harness) {
		in := func(r *apis.Run) bool { return prefixed("selw-")(r) && r.Metadata.Labels["sel"] == "in" }
		relabel := func(name string, labels map[string]string) *apis.Run {
			r := get(t, h, name)
			r.Metadata.Labels = labels
			r, err := h.Store.UpdateRun(t.Context(), r)
			require.NoError(t, err)
			return r
		}
		a := create(t, h, "selw-a") // labels suite=contract: not selected
		w, err := h.Store.Watch(t.Context(), server.WatchOptions{ResourceVersion: rv(t, a), Match: in})
		require.NoError(t, err)
		defer w.Stop()
		relabel("selw-a", map[string]string{"sel": "in"})                   // enters
		relabel("selw-a", map[string]string{"sel": "in", "x": "1"})         // stays
		left := relabel("selw-a", map[string]string{"sel": "out"})          // leaves
		relabel("selw-a", map[string]string{"sel": "other"})                // matches neither before nor after
		_, deleted, err := h.Store.RequestDelete(t.Context(), "selw-a", "") // did not match
		require.NoError(t, err)
		require.True(t, deleted)
		z := newRun("selw-z")
		z.Metadata.Labels = map[string]string{"sel": "in"}
		_, err = h.Store.CreateRun(t.Context(), z)
		require.NoError(t, err)

		for _, want := range []struct {
			typ    apis.EventType
			name   string
			labels map[string]string
		}{
			{apis.Added, "selw-a", map[string]string{"sel": "in"}},
			{apis.Modified, "selw-a", map[string]string{"sel": "in", "x": "1"}},
			{apis.Deleted, "selw-a", map[string]string{"sel": "out"}},
			{apis.Added, "selw-z", map[string]string{"sel": "in"}},
		} {
			ev, run := next(t, w)
			assert.Equal(t, want.typ, ev.Type, "%s", want.name)
			assert.Equal(t, want.name, run.Metadata.Name)
			assert.Equal(t, want.labels, run.Metadata.Labels)
			if want.typ == apis.Deleted {
				assert.Equal(t, left.Metadata.ResourceVersion, run.Metadata.ResourceVersion, "DELETED carries the change's version")
				assert.Equal(t, rv(t, left), ev.ResourceVersion)
			}
		}
	}},
	{"Watch with List starts with the matching Runs, then a bookmark, then the changes", func(t *testing.T, h Harness) {
		create(t, h, "listw-b")
		create(t, h, "listw-a")
		w, err := h.Store.Watch(t.Context(), server.WatchOptions{List: true, Match: prefixed("listw-")})
		require.NoError(t, err)
		defer w.Stop()
		var names []string
		for range 2 {
			ev, run := next(t, w)
			require.Equal(t, apis.Added, ev.Type)
			names = append(names, run.Metadata.Name)
		}
		assert.Equal(t, []string{"listw-a", "listw-b"}, names, "in name order")
		ev, mark := next(t, w)
		require.Equal(t, apis.Bookmark, ev.Type)
		assert.Equal(t, "true", mark.Metadata.Annotations[apis.InitialEventsEndAnnotation])
		assert.Equal(t, ev.ResourceVersion, rv(t, mark), "the bookmark names the listing's version")
		c := create(t, h, "listw-c")
		ev, run := next(t, w)
		assert.Equal(t, apis.Added, ev.Type)
		assert.Equal(t, "listw-c", run.Metadata.Name)
		assert.Greater(t, rv(t, c), rv(t, mark), "changes after the listing follow it")
	}},
	{"Watch from a resourceVersion older than the history is ErrGone", func(t *testing.T, h Harness) {
		if h.History == 0 {
			t.Skip("history size unknown")
		}
		for i := range h.History + 2 {
			create(t, h, "gone-"+strconv.Itoa(i))
		}
		_, err := h.Store.Watch(t.Context(), server.WatchOptions{ResourceVersion: 1})
		assert.ErrorIs(t, err, apis.ErrGone)
	}},
	{"Events lists a Run's events in order; a missing Run is not found", func(t *testing.T, h Harness) {
		create(t, h, "ev-a")
		t0 := time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)
		h.AddEvent(t, "ev-a", apis.RunEvent{Time: t0, Type: apis.EventNormal, Reason: "Scheduled", Message: "one", Count: 1})
		h.AddEvent(t, "ev-a", apis.RunEvent{Time: t0.Add(time.Second), Type: apis.EventWarning, Reason: "Unreachable", Message: "two", Count: 1})
		evs, err := h.Store.Events(t.Context(), "ev-a")
		require.NoError(t, err)
		var reasons []string
		for _, e := range evs {
			reasons = append(reasons, e.Reason)
		}
		assert.Equal(t, []string{"Scheduled", "Unreachable"}, reasons)
		_, err = h.Store.Events(t.Context(), "ev-missing")
		assert.ErrorIs(t, err, apis.ErrNotFound)
	}},
	{"a create whose dependsOn closes a cycle is invalid; Dependents lists who waits", func(t *testing.T, h Harness) {
		withDeps := func(name string, deps ...string) *apis.Run {
			r := newRun(name)
			for _, d := range deps {
				r.Spec.DependsOn = append(r.Spec.DependsOn, apis.RunDependency{Name: d, Condition: apis.ConditionSucceeded})
			}
			return r
		}
		for _, r := range []*apis.Run{withDeps("cy-transform", "cy-extract"), withDeps("cy-extract", "cy-load"), withDeps("cy-audit", "cy-extract")} {
			_, err := h.Store.CreateRun(t.Context(), r)
			require.NoError(t, err)
		}
		_, err := h.Store.CreateRun(t.Context(), withDeps("cy-load", "cy-transform"))
		require.ErrorIs(t, err, apis.ErrInvalid)
		assert.Contains(t, err.Error(), "spec.dependsOn: a cycle: cy-load → cy-transform → cy-extract → cy-load")
		res, err := h.Store.ApplyRuns(t.Context(), []server.ApplyItem{{Name: "cy-load", Decide: func(*apis.Run) (*apis.Run, error) {
			return withDeps("cy-load", "cy-transform"), nil
		}}}, false)
		require.NoError(t, err)
		require.ErrorIs(t, res[0].Err, apis.ErrInvalid)
		_, err = h.Store.GetRun(t.Context(), "cy-load")
		require.ErrorIs(t, err, apis.ErrNotFound)

		deps, err := h.Store.Dependents(t.Context(), "cy-extract")
		require.NoError(t, err)
		assert.Equal(t, []string{"cy-audit", "cy-transform"}, deps)
		deps, err = h.Store.Dependents(t.Context(), "cy-load") // not there, but waited for
		require.NoError(t, err)
		assert.Equal(t, []string{"cy-extract"}, deps)
		_, _, err = h.Store.RequestDelete(t.Context(), "cy-audit", "")
		require.NoError(t, err)
		require.Eventually(t, func() bool {
			deps, err := h.Store.Dependents(t.Context(), "cy-extract")
			return err == nil && len(deps) == 1 && deps[0] == "cy-transform"
		}, Wait, time.Millisecond, "a deleted Run waits for nothing")
	}},
	{"the leader reads linearizably and knows itself", func(t *testing.T, h Harness) {
		r := create(t, h, "leader-a")
		require.NoError(t, h.Store.LinearizableRead(t.Context()))
		assert.True(t, h.Store.IsLeader())
		assert.True(t, h.Store.Ready())
		id, _ := h.Store.Leader()
		assert.NotEmpty(t, id)
		assert.GreaterOrEqual(t, h.Store.AppliedIndex(), rv(t, r))
		assert.GreaterOrEqual(t, h.Store.CommitIndex(), h.Store.AppliedIndex())
		c, err := h.Store.Cluster(t.Context())
		require.NoError(t, err)
		assert.Equal(t, id, c.Leader)
		assert.Equal(t, "Leader", c.State)
		assert.True(t, slices.ContainsFunc(c.Members, func(m server.Member) bool { return m.ID == id && m.Leader }), "members: %+v", c.Members)
		assert.ErrorIs(t, h.Store.Remove(t.Context(), "no-such-member"), apis.ErrNotFound)
	}},
	{"a node that is not the leader refuses writes and linearizable reads with ErrNotLeader", func(t *testing.T, h Harness) {
		if h.Follower == nil {
			t.Skip("no follower in this harness")
		}
		f := h.Follower
		ctx, cancel := context.WithTimeout(t.Context(), Wait)
		defer cancel()
		assert.False(t, f.IsLeader())
		_, err := f.CreateRun(ctx, newRun("follower-a"))
		assert.ErrorIs(t, err, apis.ErrNotLeader)
		_, err = f.UpdateRun(ctx, newRun("follower-a"))
		assert.ErrorIs(t, err, apis.ErrNotLeader)
		_, _, err = f.RequestDelete(ctx, "follower-a", "")
		assert.ErrorIs(t, err, apis.ErrNotLeader)
		assert.ErrorIs(t, f.LinearizableRead(ctx), apis.ErrNotLeader)
		assert.ErrorIs(t, f.Join(ctx, "n9", "127.0.0.1:1", "http://127.0.0.1:2"), apis.ErrNotLeader)
	}},
}
