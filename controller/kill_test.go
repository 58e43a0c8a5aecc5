package controller

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/apis"
)

func TestKill_DeleteBeforeLaunchRemovesAtOnce(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("gone")
		f.waitPhase("gone", apis.PhasePending)
		now := f.clock.Now()
		f.store.edit("gone", func(r *apis.Run) { r.Metadata.DeletionTimestamp = &now })
		f.expect(func() bool { return f.store.run("gone") == nil }, "deleted")
		assert.Empty(t, f.log.matching("sched.kill"))
		// An offer afterwards launches nothing.
		f.offer("o1", "a1", 4, 1024)
		f.settle()
		f.clock.Advance(2 * time.Second)
		f.expect(func() bool { return f.log.index("sched.decline o1") >= 0 }, "declined")
		assert.Empty(t, f.log.matching("sched.accept"))
	})
}

func TestKill_DeleteWhileRunningKillsThenDeletes(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("del")
		f.waitPhase("del", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("del", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("del", apis.PhaseRunning)
		now := f.clock.Now()
		f.store.edit("del", func(r *apis.Run) { r.Metadata.DeletionTimestamp = &now })
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "killed")
		assert.NotNil(t, f.store.run("del"), "kept until the task is terminal")
		assert.Equal(t, apis.ReasonDeleted, f.store.run("del").Status.Reason)
		f.update(task, mesos.TASK_KILLED, "")
		f.expect(func() bool { return f.store.run("del") == nil }, "deleted after terminal")
		assert.Less(t, f.log.index("sched.kill "+task), f.log.index("store.deleted del"))
	})
}

func TestKill_CancelKeepsRecord(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("c1")
		f.createRun("c2")
		f.waitPhase("c1", apis.PhasePending)
		f.waitPhase("c2", apis.PhasePending)
		// c2 is cancelled before it launches.
		f.store.edit("c2", func(r *apis.Run) { r.Spec.Cancel = true })
		r := f.waitPhase("c2", apis.PhaseKilled)
		assert.Equal(t, apis.ReasonCancelled, r.Status.Reason)

		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("c1", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("c1", apis.PhaseRunning)
		f.store.edit("c1", func(r *apis.Run) { r.Spec.Cancel = true })
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "killed")
		f.update(task, mesos.TASK_KILLED, "")
		r = f.waitPhase("c1", apis.PhaseKilled)
		assert.Equal(t, apis.ReasonCancelled, r.Status.Reason)
		assert.Empty(t, f.log.matching("sched.accept o1 c2"), "the cancelled Run never launched")
	})
}

func TestKill_ActiveDeadlineExceeded(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("slow", func(r *apis.Run) { r.Spec.ActiveDeadlineSeconds = 60; r.Spec.BackoffLimit = 3 })
		f.waitPhase("slow", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("slow", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.waitPhase("slow", apis.PhaseRunning)
		f.settle()
		f.clock.Advance(59 * time.Second)
		f.settle()
		assert.Negative(t, f.log.index("sched.kill"), "not before the deadline")
		f.clock.Advance(2 * time.Second)
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "killed at deadline")
		f.update(task, mesos.TASK_KILLED, "")
		r := f.waitPhase("slow", apis.PhaseFailed)
		assert.Equal(t, apis.ReasonDeadlineExceeded, r.Status.Reason)
		assert.Len(t, f.store.recordedAttempts("slow"), 1, "a deadline is not retried")
	})
}

func TestKill_StagingTimeoutCountsAsFailedAttempt(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{StagingTimeout: time.Minute})
		f.createRun("stuck", func(r *apis.Run) { r.Spec.BackoffLimit = 1 })
		f.waitPhase("stuck", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("stuck", 1)
		f.waitPhase("stuck", apis.PhaseStarting)
		f.settle()
		f.clock.Advance(61 * time.Second)
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "killed after staging timeout")
		f.update(task, mesos.TASK_KILLED, "")
		f.expect(func() bool { return f.store.run("stuck").Status.Reason == apis.ReasonBackoff }, "retry")
		assert.Contains(t, f.store.run("stuck").Status.Message, "attempt 1 staging timeout")
		f.settle()
		f.clock.Advance(11 * time.Second)
		f.offer("o2", "a1", 4, 1024)
		second := f.launchedTask("stuck", 2)
		f.waitPhase("stuck", apis.PhaseStarting)
		f.settle()
		f.clock.Advance(61 * time.Second)
		f.expect(func() bool { return f.log.index("sched.kill "+second) >= 0 }, "second killed")
		f.update(second, mesos.TASK_KILLED, "")
		r := f.waitPhase("stuck", apis.PhaseFailed)
		assert.Equal(t, apis.ReasonBackoffLimitExceeded, r.Status.Reason)
	})
}

// A KILL that brings no terminal update (the task ended and its updates
// were lost on the way) is sent again with an explicit RECONCILE, whose
// answer — the master's latest state — ends the attempt.
func TestKill_UnansweredKillIsResentWithReconcile(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{StagingTimeout: time.Minute, KillRetry: 30 * time.Second})
		f.createRun("quiet")
		f.waitPhase("quiet", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("quiet", 1)
		f.waitPhase("quiet", apis.PhaseStarting)
		f.settle()
		f.clock.Advance(61 * time.Second)
		f.expect(func() bool { return f.log.index("sched.kill "+task) >= 0 }, "killed after staging timeout")
		assert.Empty(t, f.log.matching("sched.reconcile ["+task+"]"), "the first KILL goes alone")

		f.settle()
		f.clock.Advance(31 * time.Second)
		f.expect(func() bool { return len(f.log.matching("sched.kill "+task)) == 2 }, "kill re-sent")
		reconciled := f.log.index("sched.reconcile [" + task + "]")
		assert.GreaterOrEqual(t, reconciled, 0, "the re-sent KILL goes with a RECONCILE")

		f.masterUpdate(task, mesos.TASK_FINISHED, mesos.REASON_RECONCILIATION)
		r := f.waitPhase("quiet", apis.PhaseSucceeded)
		assert.Len(t, f.store.recordedAttempts("quiet"), 1, "the task had finished: no relaunch")
		assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase)
	})
}
