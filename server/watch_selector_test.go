package server_test

import (
	"net/url"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// seen is what a selector test looks at in a watch event.
type seen struct {
	Type   apis.EventType
	Name   string
	Labels map[string]string
	Phase  apis.RunPhase
}

// nextSeen reads the next event that is not a BOOKMARK.
func nextSeen(t *testing.T, events <-chan wireEvent) seen {
	t.Helper()
	for {
		ev := next(t, events)
		if ev.Type == apis.Bookmark {
			continue
		}
		r := ev.run(t)
		return seen{ev.Type, r.Metadata.Name, r.Metadata.Labels, r.Status.Phase}
	}
}

// A watch with a label or field selector, over HTTP on the real store,
// sees a Run that starts to match as ADDED, one that stops matching as
// DELETED (in its state after the change), one that matches before and
// after as MODIFIED, and nothing of a Run that matches neither before nor
// after, nor of its deletion: whether it listed first or resumed from a
// resourceVersion.
func TestRaftstore_WatchWithSelectorSeesRunsEnterAndLeave(t *testing.T) {
	rs := servertest.StartRaft(t, server.Config{})
	store, base := rs.Store, rs.URL
	ctx := t.Context()
	data := map[string]string{"team": "data"}
	ml := map[string]string{"team": "ml"}
	create := func(name string, labels map[string]string) *apis.Run {
		r, err := store.CreateRun(ctx, &apis.Run{
			Metadata: apis.ObjectMeta{Name: name, Labels: labels},
			Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32},
		})
		require.NoError(t, err)
		return r
	}
	relabel := func(name string, labels map[string]string) {
		r, err := store.GetRun(ctx, name)
		require.NoError(t, err)
		r.Metadata.Labels = labels
		_, err = store.UpdateRun(ctx, r)
		require.NoError(t, err)
	}
	phase := func(name string, p apis.RunPhase) {
		_, err := store.UpdateStatus(ctx, name, apis.RunStatus{Phase: p})
		require.NoError(t, err)
	}
	x := create("x", ml)
	watch := func(q url.Values) <-chan wireEvent {
		q.Set("watch", "true")
		resp, events, cancel := openWatch(t, base+"/api/v1/runs?"+q.Encode())
		t.Cleanup(cancel)
		require.Equal(t, 200, resp.StatusCode)
		return events
	}
	byLabel := watch(url.Values{"labelSelector": {"team=data"}}) // lists first
	ev := next(t, byLabel)
	require.Equal(t, apis.Bookmark, ev.Type, "x does not match: the listing is empty")
	byPhase := watch(url.Values{"fieldSelector": {"status.phase=Running"}, "resourceVersion": {x.Metadata.ResourceVersion}})

	relabel("x", data)                                   // enters byLabel
	phase("x", apis.PhaseRunning)                        // enters byPhase, stays in byLabel
	relabel("x", ml)                                     // leaves byLabel, stays in byPhase
	phase("x", apis.PhaseSucceeded)                      // leaves byPhase, never in byLabel
	_, deleted, err := store.RequestDelete(ctx, "x", "") // in neither
	require.NoError(t, err)
	require.True(t, deleted)
	create("y", data)             // enters byLabel
	phase("y", apis.PhaseRunning) // enters byPhase

	for _, want := range []seen{
		{apis.Added, "x", data, apis.PhasePending},
		{apis.Modified, "x", data, apis.PhaseRunning},
		{apis.Deleted, "x", ml, apis.PhaseRunning},
		{apis.Added, "y", data, apis.PhasePending},
		{apis.Modified, "y", data, apis.PhaseRunning},
	} {
		assert.Equal(t, want, nextSeen(t, byLabel), "labelSelector=team=data")
	}
	for _, want := range []seen{
		{apis.Added, "x", data, apis.PhaseRunning},
		{apis.Modified, "x", ml, apis.PhaseRunning},
		{apis.Deleted, "x", ml, apis.PhaseSucceeded},
		{apis.Added, "y", data, apis.PhaseRunning},
	} {
		assert.Equal(t, want, nextSeen(t, byPhase), "fieldSelector=status.phase=Running")
	}
}

// The Schedules' watch follows the same rule for its labels.
func TestRaftstore_ScheduleWatchWithSelectorSeesEnterAndLeave(t *testing.T) {
	rs := servertest.StartRaft(t, server.Config{})
	store, base := rs.Store, rs.URL
	ctx := t.Context()
	data := map[string]string{"team": "data"}
	gold := map[string]string{"team": "data", "tier": "gold"}
	ml := map[string]string{"team": "ml"}
	create := func(name string, labels map[string]string) *apis.Schedule {
		s := &apis.Schedule{
			Metadata: apis.ObjectMeta{Name: name, Labels: labels},
			Spec: apis.ScheduleSpec{Schedule: "@every 1h", Suspend: true,
				RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32}}},
		}
		apis.SetScheduleDefaults(s)
		s, err := store.CreateSchedule(ctx, s)
		require.NoError(t, err)
		return s
	}
	relabel := func(name string, labels map[string]string) {
		s, err := store.GetSchedule(ctx, name)
		require.NoError(t, err)
		s.Metadata.Labels = labels
		_, err = store.UpdateSchedule(ctx, s)
		require.NoError(t, err)
	}
	s := create("nightly", ml)
	q := url.Values{"watch": {"true"}, "labelSelector": {"team=data"}, "resourceVersion": {s.Metadata.ResourceVersion}}
	resp, events, cancel := openWatch(t, base+"/api/v1/schedules?"+q.Encode())
	defer cancel()
	require.Equal(t, 200, resp.StatusCode)

	relabel("nightly", data)                                          // enters
	relabel("nightly", gold)                                          // stays
	relabel("nightly", ml)                                            // leaves
	_, err := store.DeleteSchedule(ctx, apis.RunRef{Name: "nightly"}) // did not match
	require.NoError(t, err)
	create("hourly", data) // enters

	for _, want := range []seen{
		{apis.Added, "nightly", data, ""},
		{apis.Modified, "nightly", gold, ""},
		{apis.Deleted, "nightly", ml, ""},
		{apis.Added, "hourly", data, ""},
	} {
		assert.Equal(t, want, nextSeen(t, events))
	}
}
