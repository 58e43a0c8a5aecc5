package controller_test

import (
	"context"
	"fmt"
	"sort"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/mesos/sim"
	"github.com/sprint-project/sprint/raftstore"
)

// firingTimes returns the firing times (Unix seconds) of a Schedule's
// Runs in s, from their names, sorted, and fails on a name that is not
// <schedule>-<unix>-0 (parallelism 1).
func firingTimes(t *testing.T, s *raftstore.Store, schedule string) []int64 {
	t.Helper()
	list, err := s.ListRuns(context.Background(), raftstore.ListOptions{Match: func(r *apis.Run) bool {
		return r.Metadata.Labels[apis.LabelSchedule] == schedule
	}})
	require.NoError(t, err)
	var out []int64
	for _, r := range list.Items {
		var unix int64
		var i int
		_, err := fmt.Sscanf(r.Metadata.Name, schedule+"-%d-%d", &unix, &i)
		require.NoError(t, err, r.Metadata.Name)
		require.Equal(t, 0, i, r.Metadata.Name)
		out = append(out, unix)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// A three-node cluster whose leader dies right after committing a firing
// of an "@every 1s" Schedule: the new leader goes on from the stored
// lastScheduleTime, and every firing time from the first to the last is
// either a Run (exactly one) or counted in missedFirings — none twice,
// none lost.
func TestIntegration_ScheduleFailoverFiresEachTimeOnce(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node schedule failover")
	}
	_, url := startSim(t, 3, sim.ExecutorSimulated, "")
	cl := startCluster3(t)
	nodes := map[string]*node{}
	for id, st := range cl.stores {
		nodes[id] = startController(t, st, url, controller.Config{}, nil)
	}
	leaderID, leader := cl.leader()
	sc := &apis.Schedule{
		Metadata: apis.ObjectMeta{Name: "tick"},
		Spec: apis.ScheduleSpec{
			Schedule:                   "@every 1s",
			SuccessfulRunsHistoryLimit: ptr[int32](1000),
			FailedRunsHistoryLimit:     ptr[int32](1000),
			RunTemplate:                apis.RunTemplate{Spec: simRun("", "100ms", 0).Spec},
		},
	}
	apis.SetScheduleDefaults(sc)
	_, err := leader.CreateSchedule(context.Background(), sc)
	require.NoError(t, err)

	schedule := func(s *raftstore.Store) *apis.Schedule {
		got, err := s.GetSchedule(context.Background(), "tick")
		require.NoError(t, err)
		return got
	}
	fired := func(s *raftstore.Store, n int) func() bool {
		return func() bool { return len(firingTimes(t, s, "tick")) >= n }
	}
	waitStore(t, leader, fired(leader, 3), func() string { return "three firings" })
	// Right after the third firing was committed (the check runs on the
	// watch event of its Runs).
	go nodes[leaderID].stop()
	cl.shutdown(leaderID)
	killed := time.Now()

	_, newLeader := cl.leader()
	waitStore(t, newLeader, func() bool {
		st := schedule(newLeader).Status
		return st.LastScheduleTime != nil && st.LastScheduleTime.After(killed.Add(3*time.Second))
	}, func() string { return "firings after the failover" })

	st := schedule(newLeader).Status
	times := firingTimes(t, newLeader, "tick")
	first, last := times[0], st.LastScheduleTime.Unix()
	assert.Equal(t, last, times[len(times)-1], "the last firing has its Run")
	for i := 1; i < len(times); i++ {
		assert.NotEqual(t, times[i-1], times[i], "a firing time twice")
	}
	assert.Equal(t, last-first+1, int64(len(times))+st.MissedFirings,
		"every second from %d to %d is a Run or a missed firing: %d runs %v, %d missed", first, last, len(times), times, st.MissedFirings)
	evs, err := newLeader.ScheduleEvents("tick")
	require.NoError(t, err)
	var reasons []string
	for _, e := range evs {
		reasons = append(reasons, e.Reason)
	}
	assert.Contains(t, reasons, "Fired")
	if st.MissedFirings > 0 {
		assert.Contains(t, reasons, "Missed")
	}
	// The Runs ran.
	r := waitRun(t, newLeader, fmt.Sprintf("tick-%d-0", first), func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "finished")
	assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, r.Status.Message)
}

func ptr[T any](v T) *T { return &v }
