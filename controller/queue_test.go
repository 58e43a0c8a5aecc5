package controller

import (
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/clock"
)

func TestQueue_DeduplicatesAndNeverHandsOutANameTwice(t *testing.T) {
	q := newQueue(newFakeClock(), time.Millisecond, time.Second)
	q.Add("a")
	q.Add("a")
	q.Add("b")
	assert.Equal(t, 2, q.Len())
	name, ok := q.Get()
	require.True(t, ok)
	assert.Equal(t, "a", name)
	q.Add("a") // while processing: marked dirty, not handed out
	next, _ := q.Get()
	assert.Equal(t, "b", next)
	assert.Equal(t, 0, q.Len())
	q.Done("a") // re-queued now
	assert.Equal(t, 1, q.Len())
	again, _ := q.Get()
	assert.Equal(t, "a", again)
	q.Done("a")
	q.Done("b")
	assert.Equal(t, 0, q.Len())
}

func TestQueue_AddAfterUsesClockAndEarliestWins(t *testing.T) {
	clk := newFakeClock()
	q := newQueue(clk, time.Millisecond, time.Second)
	q.AddAfter("x", 10*time.Second)
	q.AddAfter("x", 5*time.Second)
	q.AddAfter("x", 20*time.Second) // later: ignored
	clk.Advance(4 * time.Second)
	assert.Equal(t, 0, q.Len())
	clk.Advance(time.Second)
	assert.Equal(t, 1, q.Len())
	clk.Advance(time.Minute)
	assert.Equal(t, 1, q.Len(), "superseded timers do not add again")
}

func TestQueue_RateLimitedBacksOffPerName(t *testing.T) {
	clk := newFakeClock()
	q := newQueue(clk, 100*time.Millisecond, time.Second)
	for _, want := range []time.Duration{100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond, time.Second} {
		q.AddRateLimited("r")
		clk.Advance(want - time.Millisecond)
		require.Equal(t, 0, q.Len(), "not before %s", want)
		clk.Advance(time.Millisecond)
		require.Equal(t, 1, q.Len(), "at %s", want)
		name, _ := q.Get()
		q.Done(name)
	}
	q.Forget("r")
	q.AddRateLimited("r")
	clk.Advance(100 * time.Millisecond)
	assert.Equal(t, 1, q.Len(), "Forget resets the back-off")
}

func TestQueue_ShutDownReleasesWorkers(t *testing.T) {
	q := newQueue(newFakeClock(), time.Millisecond, time.Second)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			_, ok := q.Get()
			assert.False(t, ok)
		}()
	}
	q.ShutDown()
	wg.Wait()
}

// The wall clock path, with time faked by testing/synctest.
func TestQueue_RealClockDelaysUnderSynctest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := newQueue(clock.Real{}, time.Millisecond, time.Second)
		defer q.ShutDown()
		q.AddAfter("x", time.Hour)
		time.Sleep(time.Hour - time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 0, q.Len())
		time.Sleep(time.Nanosecond)
		synctest.Wait()
		assert.Equal(t, 1, q.Len())
	})
}
