package clock_test

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/internal/clock"
)

func TestManual_FiresDueTimersInOrder(t *testing.T) {
	t.Parallel()
	c := clock.NewManual(time.Unix(0, 0))
	var fired []int
	c.AfterFunc(2*time.Second, func() { fired = append(fired, 2) })
	c.AfterFunc(time.Second, func() {
		fired = append(fired, 1)
		assert.Equal(t, time.Unix(1, 0), c.Now(), "a callback reads its own deadline")
		c.AfterFunc(500*time.Millisecond, func() { fired = append(fired, 15) })
	})
	stop := c.AfterFunc(1500*time.Millisecond, func() { fired = append(fired, 99) })
	assert.True(t, stop.Stop())
	assert.False(t, stop.Stop(), "a stopped timer is not pending")
	c.Advance(1900 * time.Millisecond)
	assert.Equal(t, []int{1, 15}, fired)
	assert.Equal(t, time.Unix(0, 0).Add(1900*time.Millisecond), c.Now())
	c.Advance(time.Second)
	assert.Equal(t, []int{1, 15, 2}, fired)
	assert.Zero(t, c.Pending())
}

func TestManual_TiesFireInTheOrderSet(t *testing.T) {
	t.Parallel()
	c := clock.NewManual(time.Unix(0, 0))
	var fired []string
	for _, name := range []string{"a", "b", "c"} {
		c.AfterFunc(time.Second, func() { fired = append(fired, name) })
	}
	c.AfterFunc(0, func() { fired = append(fired, "now") })
	c.Advance(0)
	assert.Equal(t, []string{"now"}, fired, "a non-positive delay fires at the next Advance")
	c.Advance(time.Second)
	assert.Equal(t, []string{"now", "a", "b", "c"}, fired)
}

func TestAfter_ClosesOnceElapsed(t *testing.T) {
	t.Parallel()
	c := clock.NewManual(time.Unix(0, 0))
	ch, stop := clock.After(c, time.Minute)
	defer stop()
	c.Advance(59 * time.Second)
	select {
	case <-ch:
		t.Fatal("closed early")
	default:
	}
	c.Advance(time.Second)
	<-ch // closed: does not block
	_, stop2 := clock.After(c, time.Minute)
	stop2()
	assert.Zero(t, c.Pending(), "stop cancels the timer")
}

func TestReal_AfterFuncRuns(t *testing.T) {
	t.Parallel()
	var wg sync.WaitGroup
	wg.Add(1)
	clock.Real{}.AfterFunc(time.Millisecond, wg.Done)
	wg.Wait()
	assert.WithinDuration(t, time.Now(), clock.Real{}.Now(), time.Second)
}

func TestSleep_EndsWithTheContext(t *testing.T) {
	t.Parallel()
	synctest.Test(t, func(t *testing.T) {
		start := time.Now()
		assert.NoError(t, clock.Sleep(t.Context(), clock.Real{}, time.Minute))
		assert.Equal(t, time.Minute, time.Since(start), "real time is fake in the bubble")

		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		start = time.Now()
		assert.ErrorIs(t, clock.Sleep(ctx, clock.Real{}, time.Hour), context.DeadlineExceeded)
		assert.Equal(t, time.Second, time.Since(start))
	})
}
