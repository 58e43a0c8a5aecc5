package controller

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestRetry_BackoffDoublesThenLimitExceeded(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("flaky", func(r *apis.Run) { r.Spec.BackoffLimit = 2 })
		f.waitPhase("flaky", apis.PhasePending)
		offer := 0
		launch := func(attempt int) string {
			offer++
			f.offer("o"+string(rune('0'+offer)), "a1", 4, 1024)
			return f.launchedTask("flaky", attempt)
		}
		fail := func(task string) {
			f.update(task, mesos.TASK_RUNNING, "")
			f.update(task, mesos.TASK_FAILED, "Command exited with status 1")
		}

		fail(launch(1))
		f.expect(func() bool { return f.store.run("flaky").Status.Reason == apis.ReasonBackoff }, "backoff 1")
		assert.Contains(t, f.store.run("flaky").Status.Message, "retrying in 10s")
		f.settle()
		f.clock.Advance(9 * time.Second)
		f.offer("early", "a1", 4, 1024)
		f.settle()
		assert.Len(t, f.store.recordedAttempts("flaky"), 1, "no relaunch during back-off")
		f.clock.Advance(2 * time.Second)
		fail(launch(2))
		f.expect(func() bool {
			r := f.store.run("flaky")
			return r.Status.Reason == apis.ReasonBackoff && r.Status.Attempts == 2
		}, "backoff 2")
		assert.Contains(t, f.store.run("flaky").Status.Message, "retrying in 20s")
		f.settle()
		f.clock.Advance(21 * time.Second)
		fail(launch(3))
		r := f.waitPhase("flaky", apis.PhaseFailed)
		assert.Equal(t, apis.ReasonBackoffLimitExceeded, r.Status.Reason)
		assert.Equal(t, int32(3), r.Status.Attempts)
		assert.Len(t, f.store.recordedAttempts("flaky"), 3)
	})
}

func TestRetry_LostTaskCountsAndRelaunches(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("lost", func(r *apis.Run) { r.Spec.BackoffLimit = 1 })
		f.waitPhase("lost", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("lost", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("lost", apis.PhaseRunning)
		f.masterUpdate(task, mesos.TASK_LOST, mesos.REASON_AGENT_REMOVED)
		f.expect(func() bool { return f.store.run("lost").Status.Reason == apis.ReasonBackoff }, "backoff")
		assert.Contains(t, f.store.run("lost").Status.Message, "task lost")
		f.settle()
		f.clock.Advance(11 * time.Second)
		f.offer("o2", "a2", 4, 1024)
		f.launchedTask("lost", 2)
	})
}

func TestRetry_UnreachableIsLostOnlyAfterTimeoutAndReturningTaskIsKilled(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{UnreachableTimeout: 15 * time.Minute})
		f.createRun("part", func(r *apis.Run) { r.Spec.BackoffLimit = 1 })
		f.waitPhase("part", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("part", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("part", apis.PhaseRunning)

		f.masterUpdate(task, mesos.TASK_UNREACHABLE, mesos.REASON_AGENT_REMOVED)
		f.expect(func() bool { return f.store.run("part").Status.Reason == apis.ReasonUnreachable }, "unreachable")
		assert.Equal(t, apis.PhaseRunning, f.store.run("part").Status.Phase, "unreachable is not death")
		f.settle()
		f.clock.Advance(14 * time.Minute)
		f.settle()
		assert.Len(t, f.store.recordedAttempts("part"), 1)
		assert.Equal(t, apis.PhaseRunning, f.store.run("part").Status.Phase)

		f.clock.Advance(2 * time.Minute)
		f.expect(func() bool { return f.store.run("part").Status.Reason == apis.ReasonBackoff }, "counted as lost")
		assert.True(t, f.store.recordedAttempts("part")[0].Terminal)
		f.settle()
		f.clock.Advance(11 * time.Second)
		f.offer("o2", "a2", 4, 1024)
		second := f.launchedTask("part", 2)
		f.expect(func() bool { return f.store.run("part").Status.TaskID == second }, "status follows attempt 2")

		// The old task comes back with its agent: it is killed (again: the
		// KILL sent while it was away may have been lost), the new one kept.
		kills := len(f.log.matching("sched.kill " + task))
		require.Equal(t, 1, kills, "killed once when counted as lost")
		f.sched.statusUpdate(mesos.TaskStatus{TaskID: mesos.TaskID{Value: task}, State: mesos.TASK_RUNNING.Enum(),
			Source: mesos.SOURCE_MASTER.Enum(), Reason: mesos.REASON_AGENT_REREGISTERED.Enum()})
		f.expect(func() bool { return len(f.log.matching("sched.kill "+task)) == kills+1 }, "returning task killed")
		assert.Equal(t, second, f.store.run("part").Status.TaskID)
		assert.Negative(t, f.log.index("sched.kill "+second))
	})
}

func TestRelaunchBackoff_CapsAtSixMinutes(t *testing.T) {
	t.Parallel()
	cfg := Config{}.withDefaults()
	want := []time.Duration{0, 10 * time.Second, 20 * time.Second, 40 * time.Second, 80 * time.Second,
		160 * time.Second, 320 * time.Second, 6 * time.Minute, 6 * time.Minute}
	for failures, w := range want {
		assert.Equal(t, w, relaunchBackoff(cfg.BackoffBase, cfg.BackoffMax, int32(failures)), "failures=%d", failures)
	}
	assert.Equal(t, 6*time.Minute, relaunchBackoff(cfg.BackoffBase, cfg.BackoffMax, 1000))
}
