package e2e

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// getSchedule reads a Schedule through any live node, retrying through
// elections.
func (c *cluster) getSchedule(t *testing.T, name string) *apis.Schedule {
	t.Helper()
	var sc *apis.Schedule
	c.retry(func(ctx context.Context) error {
		var err error
		sc, err = c.leader().client.GetSchedule(ctx, name)
		return err
	})
	return sc
}

// waitFiredAfter polls the leader's copy of a Schedule until its
// lastScheduleTime moves past after, and returns it.
func (c *cluster) waitFiredAfter(t *testing.T, name string, after time.Time, within time.Duration) *apis.Schedule {
	t.Helper()
	var sc *apis.Schedule
	require.Eventually(t, func() bool {
		n := c.leaderNow()
		if n == nil {
			return false
		}
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		got, err := n.client.GetSchedule(ctx, name)
		if err != nil || got.Status.LastScheduleTime == nil || !got.Status.LastScheduleTime.After(after) {
			return false
		}
		sc = got
		return true
	}, within, 20*time.Millisecond, "%s fired after %s", name, after)
	return sc
}

// A Schedule "@every 2s" across two SIGKILLs of the leader, one right
// after a firing was committed and one right before the next is due:
// every firing time from the first to the last appears exactly once among
// the Runs' names, or is counted in status.missedFirings (the documented
// catch-up: at most one missed firing fires, the most recent) — none
// twice, none lost.
func TestCluster_ScheduleLeaderKilledAroundFirings(t *testing.T) {
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	sc := &apis.Schedule{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindSchedule},
		Metadata: apis.ObjectMeta{Name: "tick"},
		Spec: apis.ScheduleSpec{
			Schedule:                   "@every 2s",
			SuccessfulRunsHistoryLimit: ptr[int32](1000), // keep every Run to count them
			FailedRunsHistoryLimit:     ptr[int32](1000),
			RunTemplate:                apis.RunTemplate{Spec: simRun("", "", 200*time.Millisecond).Spec},
		},
	}
	c.retry(func(ctx context.Context) error {
		_, err := c.leader().client.CreateSchedule(ctx, sc)
		if client.IsConflict(err) { // created by an earlier attempt whose answer was lost
			return nil
		}
		return err
	})
	created := c.getSchedule(t, "tick")

	// Kill 1: right after a firing is committed.
	fired := c.waitFiredAfter(t, "tick", created.Metadata.CreationTimestamp.Add(2*time.Second), 30*time.Second)
	old := c.leader()
	c.kill9(old)
	t.Logf("killed %s right after the firing at %s", old.id, fired.Status.LastScheduleTime.Format(time.RFC3339))
	c.leader()
	c.restart(old)

	// Kill 2: right before a firing is due.
	sc2 := c.waitFiredAfter(t, "tick", *fired.Status.LastScheduleTime, 60*time.Second)
	due := sc2.Status.LastScheduleTime.Add(2 * time.Second)
	if wait := time.Until(due.Add(-150 * time.Millisecond)); wait > 0 {
		time.Sleep(wait) // the moment of the fault, not synchronisation
	}
	old = c.leader()
	c.kill9(old)
	t.Logf("killed %s 150ms before the firing due at %s", old.id, due.Format(time.RFC3339))
	killed := time.Now()
	c.leader()
	c.restart(old)

	// A few more firings under the new leader.
	c.waitFiredAfter(t, "tick", killed.Add(5*time.Second), 60*time.Second)
	var runs []apis.Run
	c.retry(func(ctx context.Context) error {
		var err error
		runs, _, err = listAll(ctx, c.leader().client, apis.LabelSchedule+"=tick")
		return err
	})
	final := c.getSchedule(t, "tick") // as of the listing or later
	first := created.Metadata.CreationTimestamp.Truncate(time.Second).Add(2 * time.Second).Unix()
	last := final.Status.LastScheduleTime.Unix()
	var times []int64
	for _, r := range runs {
		var unix int64
		var i int
		_, err := fmt.Sscanf(r.Metadata.Name, "tick-%d-%d", &unix, &i)
		require.NoError(t, err, r.Metadata.Name)
		require.Equal(t, 0, i, "parallelism 1: %s", r.Metadata.Name)
		require.Zero(t, (unix-first)%2, "%s is not a firing time of @every 2s from %d", r.Metadata.Name, first)
		if unix <= last {
			times = append(times, unix)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	for i := 1; i < len(times); i++ {
		require.NotEqual(t, times[i-1], times[i], "firing time %d twice", times[i])
	}
	require.NotEmpty(t, times)
	assert.Equal(t, first, times[0], "the first firing has its Run")
	expected := (last-first)/2 + 1
	t.Logf("firings %d..%d: %d expected, %d Runs, %d missed", first, last, expected, len(times), final.Status.MissedFirings)
	assert.Equal(t, expected, int64(len(times))+final.Status.MissedFirings,
		"every firing time is a Run or a counted miss: runs %v, missed %d", times, final.Status.MissedFirings)
	// Two elections cost a few seconds each at most: a miss is a catch-up
	// beyond the one allowed, never a lost firing.
	assert.LessOrEqual(t, final.Status.MissedFirings, int64(10))
	if final.Status.MissedFirings > 0 {
		var evs []apis.RunEvent
		c.retry(func(ctx context.Context) error {
			var err error
			evs, err = c.leader().client.ScheduleEvents(ctx, "tick")
			return err
		})
		var missed bool
		for _, e := range evs {
			missed = missed || e.Reason == "Missed"
		}
		assert.True(t, missed, "a Missed event records the missed firings: %v", evs)
	}
	// The Runs run to completion.
	for _, r := range runs {
		if r.Metadata.Name == fmt.Sprintf("tick-%d-0", first) {
			require.Eventually(t, func() bool {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				defer cancel()
				got, err := c.leader().client.Get(ctx, r.Metadata.Name)
				return err == nil && got.Status.Phase == apis.PhaseSucceeded
			}, 60*time.Second, 100*time.Millisecond, "%s succeeded", r.Metadata.Name)
		}
	}
}

func ptr[T any](v T) *T { return &v }
