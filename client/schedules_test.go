package client_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func newSchedule(name string) *apis.Schedule {
	return &apis.Schedule{
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"team": "data"}},
		Spec: apis.ScheduleSpec{Interval: "60s", Parallelism: 2,
			RunTemplate: apis.RunTemplate{Spec: apis.RunSpec{Command: "etl", Cpus: 0.1, Mem: 16}}},
	}
}

func nextScheduleEvent(t *testing.T, w *client.ScheduleWatcher) client.ScheduleEvent {
	t.Helper()
	select {
	case ev, ok := <-w.Events():
		require.True(t, ok, "watch ended: %v", w.Err())
		return ev
	case <-time.After(20 * time.Second):
		t.Fatal("no schedule event")
		return client.ScheduleEvent{}
	}
}

func TestClient_Schedules(t *testing.T) {
	t.Parallel()
	srv := servertest.StartRaft(t, server.Config{})
	c, err := client.New(srv.URL, "")
	require.NoError(t, err)
	ctx := t.Context()

	w, err := c.WatchSchedules(ctx, client.WatchOptions{LabelSelector: "team=data", Synced: true})
	require.NoError(t, err)
	defer w.Stop()
	assert.Equal(t, client.Synced, nextScheduleEvent(t, w).Type)

	s, result, err := c.ApplySchedule(ctx, newSchedule("etl"), client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Created, result)
	_, result, err = c.ApplySchedule(ctx, newSchedule("etl"), client.ApplyOptions{})
	require.NoError(t, err)
	assert.Equal(t, client.Unchanged, result)
	_, err = c.CreateSchedule(ctx, newSchedule("etl"))
	assert.True(t, client.IsConflict(err))
	ev := nextScheduleEvent(t, w)
	assert.Equal(t, apis.Added, ev.Type)
	assert.Equal(t, s.Metadata.UID, ev.Schedule.Metadata.UID)

	sus, err := c.SuspendSchedule(ctx, "etl", true)
	require.NoError(t, err)
	assert.True(t, sus.Spec.Suspend)
	ev = nextScheduleEvent(t, w)
	assert.Equal(t, apis.Modified, ev.Type)
	assert.True(t, ev.Schedule.Spec.Suspend)

	runs, err := c.FireSchedule(ctx, "etl", false)
	require.NoError(t, err)
	require.Len(t, runs.Items, 2)
	mine, err := c.List(ctx, client.ListOptions{LabelSelector: apis.LabelSchedule + "=etl"})
	require.NoError(t, err)
	assert.Len(t, mine.Items, 2, "get runs -l sprint/schedule=NAME")
	evs, err := c.ScheduleEvents(ctx, "etl")
	require.NoError(t, err)
	require.Len(t, evs, 1)
	assert.Equal(t, apis.ReasonFired, evs[0].Reason)

	list, err := c.ListSchedules(ctx, client.ListOptions{})
	require.NoError(t, err)
	assert.Len(t, list.Items, 1)
	_, err = c.GetSchedule(ctx, "nope")
	assert.True(t, client.IsNotFound(err))

	_, err = c.DeleteSchedule(ctx, "etl", client.ScheduleDeleteOptions{Orphan: true})
	require.NoError(t, err)
	assert.Equal(t, apis.Deleted, nextScheduleEvent(t, w).Type)
	left, err := c.List(ctx, client.ListOptions{LabelSelector: apis.LabelSchedule + "=etl"})
	require.NoError(t, err)
	assert.Len(t, left.Items, 2, "orphaned Runs stay")
}

// Firing a Schedule by hand twice in the same second creates two sets of
// Runs (names with a random part, as generateName), not a 409.
func TestClient_FireScheduleTwiceInOneSecond(t *testing.T) {
	t.Parallel()
	frozen := time.Date(2026, 12, 4, 19, 30, 0, 0, time.UTC)
	srv := servertest.StartRaft(t, server.Config{Now: func() time.Time { return frozen }})
	c, err := client.New(srv.URL, "")
	require.NoError(t, err)
	ctx := t.Context()
	_, err = c.CreateSchedule(ctx, newSchedule("etl"))
	require.NoError(t, err)

	first, err := c.FireSchedule(ctx, "etl", false)
	require.NoError(t, err)
	second, err := c.FireSchedule(ctx, "etl", false)
	require.NoError(t, err, "a second manual firing in the same second")
	names := map[string]bool{}
	for _, r := range append(first.Items, second.Items...) {
		names[r.Metadata.Name] = true
		assert.Regexp(t, `^etl-m0tpjcu0[bcdfghjklmnpqrstvwxz2456789]{4}-[01]$`, r.Metadata.Name)
	}
	assert.Len(t, names, 4, "two firings of parallelism 2")
	mine, err := c.List(ctx, client.ListOptions{LabelSelector: apis.LabelSchedule + "=etl"})
	require.NoError(t, err)
	assert.Len(t, mine.Items, 4)
}
