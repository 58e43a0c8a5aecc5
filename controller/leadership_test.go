package controller

import (
	"context"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestLeadership_TermRunsOnlyWhileLeader(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		assert.Less(t, f.log.index("store.barrier"), f.log.index("sched.run"), "barrier before subscribing")
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_controller_leader", ""))

		f.store.setLeader(false)
		f.expect(func() bool { return f.log.index("sched.stopped") >= 0 }, "subscription stopped")
		f.expect(func() bool {
			_, err := f.c.Reconcile(context.Background(), "x")
			return err == apis.ErrNotLeader
		}, "no reconcile while follower")
		assert.Equal(t, 0.0, metricValue(t, f.reg, "sprint_controller_leader", ""))
		assert.Equal(t, 0.0, metricValue(t, f.reg, "sprint_controller_mesos_connected", ""))

		// Writes made while following are picked up on the next term.
		f.createRun("later")
		f.store.setLeader(true)
		f.subscribed()
		f.waitPhase("later", apis.PhasePending)
		f.store.mu.Lock()
		assert.Equal(t, 2, f.store.barriers)
		f.store.mu.Unlock()
	})
}

// withRecordedAttempt seeds the store as a previous leader would leave it
// after recording an attempt (and maybe launching it), before any status.
func withRecordedAttempt(name, taskID string) func(*fixture) {
	return func(f *fixture) {
		f.createRun(name)
		f.store.mu.Lock()
		defer f.store.mu.Unlock()
		f.store.runs[name].Status = apis.RunStatus{Phase: apis.PhasePending}
		f.store.attempts[name] = []apis.Attempt{{Run: name, Number: 1, TaskID: taskID, AgentID: "a1", LaunchTime: f.clock.Now()}}
	}
}

func TestLeadership_NewLeaderWaitsForReconciliationBeforeRelaunch(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const old = "inherit.1.aaaaaa"
		f := newFixture(t, Config{}, withRecordedAttempt("inherit", old))
		f.expect(func() bool { return f.log.index("sched.reconcile ["+old+"]") >= 0 }, "explicit reconcile of the recorded attempt")
		r := f.waitPhase("inherit", apis.PhaseStarting)
		assert.Equal(t, old, r.Status.TaskID, "status points at the recorded attempt")

		// Offers come; no second task while the answer is outstanding.
		f.offer("o1", "a1", 4, 1024)
		f.settle()
		f.settle()
		assert.Empty(t, f.log.matching("sched.accept"))
		// Unanswered: asked again after a back-off.
		f.clock.Advance(time.Second)
		f.expect(func() bool { return len(f.log.matching("sched.reconcile ["+old+"]")) == 2 }, "asked again")

		// Mesos never saw the task: relaunch without counting a failure.
		f.masterUpdate(old, mesos.TASK_UNKNOWN, mesos.REASON_RECONCILIATION)
		f.offer("o2", "a1", 4, 1024)
		task := f.launchedTask("inherit", 1)
		assert.NotEqual(t, old, task)
		f.expect(func() bool { return f.store.run("inherit").Status.TaskID == task }, "status follows new attempt")
		assert.Equal(t, int32(1), f.store.run("inherit").Status.Attempts)
		f.clock.Advance(2 * time.Second)
		f.expect(func() bool { return f.log.index("sched.reconcile []") >= 0 }, "implicit reconciliation after the explicit one")
	})
}

func TestLeadership_NewLeaderAdoptsRunningTask(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		const old = "adopt.1.bbbbbb"
		f := newFixture(t, Config{}, withRecordedAttempt("adopt", old))
		f.expect(func() bool { return f.log.index("sched.reconcile ["+old+"]") >= 0 }, "explicit reconcile")
		f.sched.statusUpdate(mesos.TaskStatus{TaskID: mesos.TaskID{Value: old}, State: mesos.TASK_RUNNING.Enum(),
			Source: mesos.SOURCE_MASTER.Enum(), Reason: mesos.REASON_RECONCILIATION.Enum(), AgentID: &mesos.AgentID{Value: "a1"}})
		f.waitPhase("adopt", apis.PhaseRunning)
		f.offer("o1", "a1", 4, 1024)
		f.settle()
		f.settle()
		assert.Empty(t, f.log.matching("sched.accept"), "the adopted task is the Run's only task")
		f.update(old, mesos.TASK_FINISHED, "Command exited with status 0")
		f.waitPhase("adopt", apis.PhaseSucceeded)
	})
}

func TestMetrics_CountLaunchesOffersAndPhases(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{GCInterval: time.Minute})
		f.createRun("m1")
		f.waitPhase("m1", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("m1", 1)
		f.update(task, mesos.TASK_FINISHED, "Command exited with status 0")
		f.waitPhase("m1", apis.PhaseSucceeded)
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_controller_launches_total", ""))
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_controller_offers_used_total", ""))
		assert.Equal(t, 1.0, metricValue(t, f.reg, "sprint_controller_mesos_connected", ""))
		f.settle()
		f.clock.Advance(time.Minute)
		f.expect(func() bool {
			return metricValue(t, f.reg, "sprint_runs", "Succeeded") == 1
		}, "runs by phase")
		assert.Positive(t, metricValue(t, f.reg, "sprint_controller_reconcile_duration_seconds", ""), "reconcile latency observed")
		assert.Equal(t, 0.0, metricValue(t, f.reg, "sprint_controller_queue_depth", ""))
	})
}

// metricValue reads one series from reg: a gauge's or counter's value, a
// histogram's sample count. label, if set, is the value of the only label.
func metricValue(t *testing.T, reg *prometheus.Registry, name, label string) float64 {
	t.Helper()
	mfs, err := reg.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() != name {
			continue
		}
		for _, m := range mf.GetMetric() {
			if label != "" && (len(m.GetLabel()) == 0 || m.GetLabel()[0].GetValue() != label) {
				continue
			}
			switch {
			case m.Gauge != nil:
				return m.GetGauge().GetValue()
			case m.Counter != nil:
				return m.GetCounter().GetValue()
			case m.Histogram != nil:
				return float64(m.GetHistogram().GetSampleCount())
			}
		}
	}
	t.Fatalf("metric %s{%s} not found", name, label)
	return 0
}
