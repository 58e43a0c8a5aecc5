package controller

import (
	"context"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// An edit of a mutable spec field reaches the controller through the
// store watch and is acted on: level-triggered, no special event handling.
func TestReconcile_SpecEditSeenThroughWatch(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("edit")
		f.waitPhase("edit", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("edit", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("edit", apis.PhaseRunning)
		f.settle()
		f.clock.Advance(2 * time.Minute)
		f.settle()
		assert.Negative(t, f.log.index("sched.kill"))
		f.store.edit("edit", func(r *apis.Run) { r.Spec.ActiveDeadlineSeconds = 60 })
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "deadline applied to the running task")
		assert.Equal(t, apis.ReasonDeadlineExceeded, f.store.run("edit").Status.Reason)
	})
}

// A panicking reconcile is recovered and retried with back-off; other Runs
// are not held up.
func TestReconcile_PanicIsRecoveredAndRetried(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{RetryBaseDelay: time.Second})
		f.store.mu.Lock()
		f.store.panicGets = map[string]int{"boom": 2}
		f.store.noInitialStatus = true // processed: marked Pending
		f.store.mu.Unlock()
		f.createRun("boom")
		f.createRun("fine")
		f.waitPhase("fine", apis.PhasePending)
		f.expect(func() bool {
			return metricValue(t, f.reg, "sprint_controller_reconcile_errors_total", "") >= 1
		}, "panic counted as a reconcile error")
		assert.Equal(t, apis.RunPhase(""), f.phase("boom"), "not processed yet")
		f.settle()
		f.clock.Advance(time.Second)
		f.settle()
		f.clock.Advance(2 * time.Second)
		f.waitPhase("boom", apis.PhasePending)
	})
}

func TestReconcile_ExportedNeedsLeadership(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("x")
		f.waitPhase("x", apis.PhasePending)
		res, err := f.c.Reconcile(context.Background(), "x")
		require.NoError(t, err)
		assert.Zero(t, res.RequeueAfter)
		f.store.setLeader(false)
		f.expect(func() bool {
			_, err := f.c.Reconcile(context.Background(), "x")
			return err == apis.ErrNotLeader
		}, "not leader")
	})
}

// A new Run is stored Pending (raftstore's setInitialStatus): the
// controller writes no status for it before its launch, only the Scheduled
// event. A Run stored without a phase (an older store) is marked Pending
// by the controller, with the same event.
func TestReconcile_NewRunNeedsNoPendingWrite(t *testing.T) {
	for _, tc := range []struct {
		name            string
		noInitialStatus bool
		writes          int
	}{
		{"stored Pending", false, 0},
		{"stored without a phase", true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			inBubble(t, func(t *testing.T) {
				f := newFixture(t, Config{})
				f.store.mu.Lock()
				f.store.noInitialStatus = tc.noInitialStatus
				f.store.mu.Unlock()
				f.createRun("new")
				f.expect(func() bool { return len(f.store.runEvents("new")) == 1 }, "the Scheduled event")
				f.settle()
				assert.Equal(t, "Scheduled", f.store.runEvents("new")[0].Reason)
				assert.Equal(t, apis.PhasePending, f.phase("new"))
				assert.Len(t, f.log.matching("store.status new Pending"), tc.writes)
			})
		})
	}
}
