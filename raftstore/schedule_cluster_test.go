package raftstore_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// Exactly once per firing across a leader change: several would-be
// controllers race to commit the firings of one Schedule (each decides
// the next firing from the lastScheduleTime it read, as a new leader
// does), while the leader is shut down in the middle. Every firing from
// the first to the last committed has exactly its Runs — none lost, none
// twice — and the replicas agree.
func TestCluster_FiringsExactlyOnceAcrossLeaderChange(t *testing.T) {
	c := raftstoretest.New(t, 3, nil)
	ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
	defer cancel()
	var sc *apis.Schedule
	require.NoError(t, c.Do(func(s *raftstore.Store) error {
		var err error
		sc, err = s.CreateSchedule(ctx, newSchedule("etl"))
		if errors.Is(err, apis.ErrAlreadyExists) {
			sc, err = s.GetScheduleConsistent(ctx, "etl")
		}
		return err
	}))
	const parallelism, firings, period = 2, 24, 60
	t0 := time.Unix(1_800_000_000, 0).UTC()

	// fireNext commits the firing after the one s's state shows, if it
	// is not the last; a conflict or a lost leadership is a reason to
	// read again, as a controller would.
	fireNext := func(s *raftstore.Store) (done bool, err error) {
		cur, err := s.GetScheduleConsistent(ctx, "etl")
		if err != nil {
			return false, err
		}
		next := t0
		if last := cur.Status.LastScheduleTime; last != nil {
			next = last.Add(period * time.Second)
		}
		if !next.Before(t0.Add(firings * period * time.Second)) {
			return true, nil
		}
		runs := make([]apis.Run, parallelism)
		for i := range runs {
			runs[i] = apis.RunFromTemplate(sc, apis.FiredRunName("etl", next, i))
		}
		return false, s.FireSchedule(ctx, apis.Firing{
			Schedule: apis.RunRef{Name: "etl", UID: sc.Metadata.UID}, PreviousScheduleTime: cur.Status.LastScheduleTime,
			ScheduleTime: next, Runs: runs,
		})
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var s *raftstore.Store
				for _, n := range c.Running() {
					if n.Store.IsLeader() {
						s = n.Store
					}
				}
				if s == nil {
					time.Sleep(5 * time.Millisecond) // poll for a leader
					continue
				}
				done, err := fireNext(s)
				if done {
					return
				}
				if err == nil {
					mu.Lock()
					committed++
					mu.Unlock()
				}
			}
		}()
	}
	// Shut the leader down once a third of the firings are in.
	for {
		mu.Lock()
		n := committed
		mu.Unlock()
		if n >= firings/3 {
			break
		}
		time.Sleep(5 * time.Millisecond) // poll for progress
	}
	c.Shutdown(c.Leader().ID)
	wg.Wait()
	require.NoError(t, ctx.Err())

	leader := c.Leader().Store
	list, err := leader.ListRuns(ctx, raftstore.ListOptions{Match: func(r *apis.Run) bool { return r.Metadata.Labels[apis.LabelSchedule] == "etl" }})
	require.NoError(t, err)
	assert.Len(t, list.Items, firings*parallelism, "every firing's Runs, once")
	names := map[string]bool{}
	for _, r := range list.Items {
		names[r.Metadata.Name] = true
	}
	for k := range firings {
		for i := range parallelism {
			assert.True(t, names[apis.FiredRunName("etl", t0.Add(time.Duration(k*period)*time.Second), i)], "firing %d run %d", k, i)
		}
	}
	got, err := leader.GetScheduleConsistent(ctx, "etl")
	require.NoError(t, err)
	assert.True(t, got.Status.LastScheduleTime.Equal(t0.Add((firings-1)*period*time.Second)))
	c.WaitConverged()
	for _, n := range c.Running() {
		s, err := n.Store.GetSchedule(ctx, "etl")
		require.NoError(t, err)
		assert.Equal(t, got.Metadata.ResourceVersion, s.Metadata.ResourceVersion, "node %s", n.ID)
	}
}
