package e2e

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// trackTasks starts a taskTracker polling the cluster's mesos-sim until
// the test ends.
func (c *cluster) trackTasks(t *testing.T) *taskTracker {
	tr := newTaskTracker(c.sim.url)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); tr.run(ctx, 500*time.Millisecond) }()
	t.Cleanup(func() { cancel(); wg.Wait() })
	return tr
}

// applyConcurrently applies specs in the background; the returned channel
// closes when every one is acknowledged.
func (c *cluster) applyConcurrently(t *testing.T, specs []*apis.Run) (*applier, <-chan struct{}) {
	ap := newApplier(c, 4)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	done := make(chan struct{})
	go func() { defer close(done); defer cancel(); ap.applyAll(ctx, specs) }()
	t.Cleanup(func() { cancel(); <-done })
	return ap, done
}

// The Mesos master fails over and drops the scheduler's connection (once
// while it answers 503 "not finished recovery" for 3 s) while Runs are
// being launched: every Run still ends Succeeded, never with two live
// tasks.
func TestMesos_MasterFailoverAndDroppedConnectionsMidLaunch(t *testing.T) {
	began := time.Now()
	n := 100
	if longTests() {
		n = 600
	}
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 3}})
	tr := c.trackTasks(t)
	var specs []*apis.Run
	for _, name := range runNames("mf", n) {
		specs = append(specs, simRun(name, "masterfault", 500*time.Millisecond))
	}
	ap, done := c.applyConcurrently(t, specs)

	require.Eventually(t, func() bool { return ap.acked.Load() >= int64(n/4) }, 2*time.Minute, 20*time.Millisecond)
	t.Logf("connections/drop at %d acked", ap.acked.Load())
	c.sim.fault(t, "connections/drop", map[string]any{})
	require.Eventually(t, func() bool { return ap.acked.Load() >= int64(n/2) }, 2*time.Minute, 20*time.Millisecond)
	t.Logf("master/failover at %d acked", ap.acked.Load())
	c.sim.fault(t, "master/failover", map[string]any{})
	require.Eventually(t, func() bool { return ap.acked.Load() >= int64(3*n/4) }, 2*time.Minute, 20*time.Millisecond)
	t.Logf("master/recovering 3s and connections/drop again at %d acked", ap.acked.Load())
	c.sim.fault(t, "master/recovering", map[string]any{"duration": "3s"})
	c.sim.fault(t, "connections/drop", map[string]any{})
	<-done
	require.EqualValues(t, n, ap.acked.Load())

	c.waitAllPhase(t, tr, "suite=masterfault", n, apis.PhaseSucceeded, 3*time.Minute)
	tr.poll(context.Background())
	c.checkNoOverlaps(t, tr)
	c.deleteAll(t, "suite=masterfault")
	c.waitNoActiveTasks(t, time.Minute)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// Agent status updates are dropped and duplicated at high rates: every Run
// still converges to Succeeded (the agent retries un-acknowledged updates,
// the controller reconciles), with one task each.
func TestMesos_DroppedAndDuplicatedStatusUpdatesConverge(t *testing.T) {
	began := time.Now()
	n := 20
	if longTests() {
		n = 400
	}
	// Agents re-send an unacknowledged update after 10 s, 20 s, 40 s, …
	// (Mesos' schedule); capped at 20 s here, so that the chance of a
	// Run's update being dropped until the deadline is negligible rather
	// than ~10 % over 400 Runs at a 20 % drop rate. A Run whose STARTING
	// or RUNNING update is lost meets the staging timeout: its KILL, and
	// the explicit reconciliation sent with the KILL's retry, end it.
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2, extra: []string{"--status-update-retry-max", "20s"}}})
	tr := c.trackTasks(t)
	drop := 0.03 // a dropped update is resent after 10 s, 20 s, …: keep the fast subset fast
	if longTests() {
		drop = 0.2
	}
	c.sim.fault(t, "updates/faults", map[string]any{"drop": drop, "duplicate": 0.3, "delay_rate": 0.1, "delay": "1s"})
	var specs []*apis.Run
	for _, name := range runNames("du", n) {
		specs = append(specs, simRun(name, "updatefaults", 200*time.Millisecond))
	}
	_, done := c.applyConcurrently(t, specs)
	<-done
	runs := c.waitAllPhase(t, tr, "suite=updatefaults", n, apis.PhaseSucceeded, 4*time.Minute)
	for _, r := range runs {
		assert.EqualValues(t, 1, r.Status.Attempts, "%s", r.Metadata.Name)
	}
	c.sim.fault(t, "updates/faults", map[string]any{})
	tr.poll(context.Background())
	c.checkNoOverlaps(t, tr)
	ntasks, _ := tr.count()
	assert.Equal(t, n, ntasks, "one task per Run")
	c.deleteAll(t, "suite=updatefaults")
	c.waitNoActiveTasks(t, time.Minute)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// An agent becomes unreachable (the Run keeps running: unreachable is not
// death), then is marked gone: with backoffLimit 1 the Run is relaunched
// on the other agent, and succeeds there.
func TestMesos_AgentUnreachableThenGoneRelaunchesElsewhere(t *testing.T) {
	if !longTests() {
		t.Skip("SPRINT_E2E=1: waits out the 10 s relaunch back-off")
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	tr := c.trackTasks(t)
	run := simRun("agent-gone", "agentgone", 12*time.Second)
	run.Spec.BackoffLimit = 1
	cl := c.leader().client
	c.retry(func(ctx context.Context) error { _, _, err := cl.Apply(ctx, run, client.ApplyOptions{}); return err })

	first := c.waitRun(t, "agent-gone", func(r *apis.Run) bool { return r.Status.Phase == apis.PhaseRunning }, time.Minute)
	require.NotEmpty(t, first.Status.AgentID)
	t.Logf("running on %s (task %s); partitioning it", first.Status.AgentID, first.Status.TaskID)
	c.sim.fault(t, "agents/partition", map[string]any{"agent_id": first.Status.AgentID})
	unreach := c.waitRun(t, "agent-gone", func(r *apis.Run) bool { return r.Status.MesosState == "TASK_UNREACHABLE" }, 30*time.Second)
	assert.Equal(t, apis.PhaseRunning, unreach.Status.Phase, "unreachable is not death")
	assert.EqualValues(t, 1, unreach.Status.Attempts)

	c.sim.fault(t, "agents/gone", map[string]any{"agent_id": first.Status.AgentID})
	second := c.waitRun(t, "agent-gone", func(r *apis.Run) bool {
		return r.Status.Attempts == 2 && r.Status.Phase == apis.PhaseRunning
	}, time.Minute)
	assert.NotEqual(t, first.Status.AgentID, second.Status.AgentID, "relaunched elsewhere")
	assert.NotEqual(t, first.Status.TaskID, second.Status.TaskID)

	final := c.waitRun(t, "agent-gone", func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, time.Minute)
	if final.Status.Phase != apis.PhaseSucceeded {
		c.failRuns(t, tr, "relaunched Run did not succeed", []string{"agent-gone"})
	}
	tr.poll(context.Background())
	c.checkNoOverlaps(t, tr)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// waitRun polls a Run until cond holds, and fails with its description.
func (c *cluster) waitRun(t *testing.T, name string, cond func(*apis.Run) bool, timeout time.Duration) *apis.Run {
	t.Helper()
	var last *apis.Run
	ok := waitFor(timeout, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		r, err := c.anyClient().Get(ctx, name)
		if err != nil {
			return false
		}
		last = r
		return cond(r)
	})
	if !ok {
		t.Fatalf("Run %s: condition not met within %v\n%s", name, timeout, c.describeRun(name, nil))
	}
	return last
}

// An agent is unreachable past --unreachable-timeout: the attempt counts
// as lost and (backoffLimit 1) the Run is relaunched on the other agent.
// When the first agent re-registers, its old task is back as RUNNING: the
// controller must kill it, so that only the new attempt lives on.
//
// Fails today (reported to the lead): the KILL sent while the agent was
// unreachable cannot be delivered, and the stray RUNNING update after
// re-registration, within KillRetry (30 s) of that KILL, sends none (yet
// records a "killing stray task" event); nothing retries later.
func TestMesos_UnreachableTaskThatComesBackIsKilled(t *testing.T) {
	if !longTests() {
		t.Skip("SPRINT_E2E=1: waits out the 10 s relaunch back-off")
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}, extra: []string{"--unreachable-timeout", "3s"}})
	run := simRun("comes-back", "comesback", 2*time.Minute)
	run.Spec.BackoffLimit = 1
	c.retry(func(ctx context.Context) error {
		_, _, err := c.leader().client.Apply(ctx, run, client.ApplyOptions{})
		return err
	})
	first := c.waitRun(t, "comes-back", func(r *apis.Run) bool { return r.Status.Phase == apis.PhaseRunning }, time.Minute)
	c.sim.fault(t, "agents/partition", map[string]any{"agent_id": first.Status.AgentID})
	second := c.waitRun(t, "comes-back", func(r *apis.Run) bool {
		return r.Status.Attempts == 2 && r.Status.Phase == apis.PhaseRunning
	}, time.Minute)
	require.NotEqual(t, first.Status.AgentID, second.Status.AgentID)
	t.Logf("attempt 2 %s running on %s after %v; restoring %s", second.Status.TaskID, second.Status.AgentID, time.Since(began).Round(time.Millisecond), first.Status.AgentID)

	c.sim.fault(t, "agents/restore", map[string]any{"agent_id": first.Status.AgentID})
	restored := time.Now()
	var old mesosTask
	// 45 s: more than the controller's 30 s KillRetry.
	ok := waitFor(45*time.Second, func() bool {
		for _, task := range c.sim.state(t).allTasks() {
			if task.ID == first.Status.TaskID {
				old = task
				return terminalTaskState(task.State)
			}
		}
		return false
	})
	if !ok {
		c.failRuns(t, nil, "the old attempt's task came back and was not killed (two live tasks: "+old.ID+" "+old.State+")", []string{"comes-back"})
	}
	now, err := c.anyClient().Get(context.Background(), "comes-back")
	require.NoError(t, err)
	require.Equal(t, second.Status.TaskID, now.Status.TaskID, "the Run still follows attempt 2")
	require.Equal(t, apis.PhaseRunning, now.Status.Phase)
	active := 0
	for _, task := range c.sim.state(t).activeTasks() {
		if task.run() == "comes-back" {
			active++
		}
	}
	require.Equal(t, 1, active)
	t.Logf("old task %s ended %s %v after its agent came back; total %v", old.ID, old.State, time.Since(restored).Round(time.Millisecond), time.Since(began).Round(time.Millisecond))
}

// Status updates are held back (every one delayed 10 s) past a short
// --staging-timeout: the controller kills each task as StagingTimeout and
// the Run fails (backoffLimit 0); once the updates flow, no task is left
// active on Mesos and each Run keeps its StagingTimeout verdict.
func TestMesos_StagingTimeoutKillsTheTask(t *testing.T) {
	if !longTests() {
		t.Skip("SPRINT_E2E=1: waits out delayed status updates")
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 1}, extra: []string{"--staging-timeout", "3s"}})
	c.sim.fault(t, "updates/faults", map[string]any{"delay_rate": 1.0, "delay": "10s"})
	var specs []*apis.Run
	for _, name := range runNames("stg", 5) {
		specs = append(specs, simRun(name, "staging", time.Minute))
	}
	_, done := c.applyConcurrently(t, specs)
	<-done
	runs := c.waitAllPhase(t, nil, "suite=staging", 5, apis.PhaseFailed, 2*time.Minute)
	var wrong []string
	for _, r := range runs {
		if r.Status.Reason != apis.ReasonStagingTimeout {
			wrong = append(wrong, r.Metadata.Name)
		}
	}
	c.failRuns(t, nil, "Runs failed for another reason than StagingTimeout", wrong)
	c.sim.fault(t, "updates/faults", map[string]any{})
	c.waitNoActiveTasks(t, time.Minute)
	runs = c.waitAllPhase(t, nil, "suite=staging", 5, apis.PhaseFailed, time.Minute)
	for _, r := range runs {
		if r.Status.Reason != apis.ReasonStagingTimeout {
			wrong = append(wrong, r.Metadata.Name)
		}
	}
	c.failRuns(t, nil, "late updates changed the verdict", wrong)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}
