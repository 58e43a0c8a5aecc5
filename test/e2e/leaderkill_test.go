package e2e

import (
	"context"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
)

// SIGKILL the Raft leader while Runs are applied through random nodes:
// every acknowledged apply is stored, every Run ends Succeeded, no Run
// ever has two live Mesos tasks, and deleting every Run leaves no task
// active. The cluster runs as make cluster starts it: Raft over mutual
// TLS and the HTTPS API with certificates from sprint certs, and bearer
// tokens (followers forward writes to the leader over HTTPS).
// Fast subset: 200 Runs, one kill; SPRINT_E2E=1: 2,000, three.
func TestCluster_LeaderKilledWhileApplying(t *testing.T) {
	runs, kills := 200, 1
	if longTests() {
		runs, kills = 2000, 3
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 4}, secure: true})
	for _, n := range c.nodes {
		c.requireRaftTLS(t, n)
	}
	tr := newTaskTracker(c.sim.url)
	trCtx, trStop := context.WithCancel(context.Background())
	var trDone sync.WaitGroup
	trDone.Add(1)
	go func() { defer trDone.Done(); tr.run(trCtx, 500*time.Millisecond) }()
	defer func() { trStop(); trDone.Wait() }()

	var specs []*apis.Run
	for _, name := range runNames("lk", runs) {
		specs = append(specs, simRun(name, "leaderkill", 300*time.Millisecond))
	}
	ap := newApplier(c, 8)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	applied := make(chan struct{})
	go func() { defer close(applied); ap.applyAll(ctx, specs) }()

	// Kill the leader each time another share of the Runs is acknowledged,
	// and restart it once a new leader is elected.
	for k := 1; k <= kills; k++ {
		threshold := int64(runs * k / (kills + 1))
		require.Eventually(t, func() bool { return ap.acked.Load() >= threshold }, 5*time.Minute, 50*time.Millisecond,
			"acknowledged %d of %d before kill %d", ap.acked.Load(), threshold, k)
		old := c.leader()
		c.kill9(old)
		elected := time.Now()
		nl := c.leader()
		require.NotSame(t, old, nl)
		t.Logf("kill %d: %s → %s elected in %v (acked %d)", k, old.id, nl.id, time.Since(elected).Round(time.Millisecond), ap.acked.Load())
		c.restart(old)
	}
	<-applied
	require.NoError(t, ctx.Err(), "applies did not finish")
	t.Logf("applied %d Runs in %v: %d attempts, %d failed attempts %v", ap.acked.Load(), time.Since(began).Round(time.Millisecond),
		ap.attempts.Load(), ap.failures.Load(), ap.errorSummary())

	// Every acknowledged apply is stored, on the leader and on each node.
	acked := ap.acknowledged()
	require.Len(t, acked, runs)
	leader := c.leader()
	lctx, lcancel := context.WithTimeout(context.Background(), time.Minute)
	stored, _, err := listAll(lctx, leader.client, "suite=leaderkill")
	lcancel()
	require.NoError(t, err)
	have := map[string]bool{}
	for _, r := range stored {
		have[r.Metadata.Name] = true
	}
	var missing []string
	for _, n := range acked {
		if !have[n] {
			missing = append(missing, n)
		}
	}
	require.Empty(t, missing, "acknowledged but not stored")

	c.waitAllPhase(t, tr, "suite=leaderkill", runs, apis.PhaseSucceeded, 5*time.Minute)
	t.Logf("all %d Runs Succeeded after %v", runs, time.Since(began).Round(time.Millisecond))
	tr.poll(context.Background())
	c.checkNoOverlaps(t, tr)
	ntasks, polls := tr.count()
	t.Logf("tracked %d Mesos tasks over %d polls", ntasks, polls)
	require.GreaterOrEqual(t, ntasks, runs, "every Run had a task")

	c.deleteAll(t, "suite=leaderkill")
	c.waitNoActiveTasks(t, time.Minute)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// deleteAll deletes every Run matching selector and waits until none is
// listed.
func (c *cluster) deleteAll(t *testing.T, selector string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	runs, _, err := listAll(ctx, c.anyClient(), selector)
	cancel()
	require.NoError(t, err)
	work := make(chan string)
	errs := make(chan error, len(runs))
	var wg sync.WaitGroup
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for name := range work {
				errs <- retryErr(func(ctx context.Context) error {
					_, err := c.anyClient().Delete(ctx, name, client.DeleteOptions{})
					if client.IsNotFound(err) {
						return nil
					}
					return err
				})
			}
		}()
	}
	for _, r := range runs {
		work <- r.Metadata.Name
	}
	close(work)
	wg.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err, "delete")
	}
	var left []apis.Run
	ok := waitFor(2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		left, _, err = listAll(ctx, c.anyClient(), selector)
		return err == nil && len(left) == 0
	})
	if !ok {
		var names []string
		for _, r := range left {
			names = append(names, r.Metadata.Name)
		}
		c.failRuns(t, nil, "Runs not gone 2 minutes after delete", names)
	}
}

// Deleting running Runs while the leader is SIGKILLed: every Run
// disappears, and its task is killed, not orphaned on Mesos.
func TestCluster_DeleteRunningRunsAcrossLeaderKill(t *testing.T) {
	n := 50
	if longTests() {
		n = 500
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 2}})
	var specs []*apis.Run
	for _, name := range runNames("dl", n) {
		specs = append(specs, simRun(name, "delkill", time.Hour))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	newApplier(c, 8).applyAll(ctx, specs)
	require.NoError(t, ctx.Err())
	require.True(t, waitFor(2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		runs, _, err := listAll(ctx, c.anyClient(), "suite=delkill")
		if err != nil {
			return false
		}
		for _, r := range runs {
			if r.Status.Phase != apis.PhaseRunning {
				return false
			}
		}
		return len(runs) == n
	}), "not all Running")
	st := c.sim.state(t)
	require.Len(t, st.activeTasks(), n)

	// Delete through random nodes; kill the leader halfway.
	var deleted sync.WaitGroup
	errs := make(chan error, n)
	names := runNames("dl", n)
	deleted.Add(1)
	go func() {
		defer deleted.Done()
		for i, name := range names {
			if i == n/2 {
				errs <- nil
			}
			errs <- retryErr(func(ctx context.Context) error {
				live := c.live()
				if len(live) == 0 {
					return context.DeadlineExceeded
				}
				_, err := live[i%len(live)].client.Delete(ctx, name, client.DeleteOptions{})
				if client.IsNotFound(err) {
					return nil
				}
				return err
			})
		}
	}()
	for i := 0; i <= n/2; i++ {
		require.NoError(t, <-errs)
	}
	old := c.leader()
	c.kill9(old)
	c.leader()
	c.restart(old)
	deleted.Wait()
	close(errs)
	for err := range errs {
		require.NoError(t, err)
	}
	var left []apis.Run
	ok := waitFor(2*time.Minute, func() bool {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		var err error
		left, _, err = listAll(ctx, c.anyClient(), "suite=delkill")
		return err == nil && len(left) == 0
	})
	if !ok {
		var names []string
		for _, r := range left {
			names = append(names, r.Metadata.Name)
		}
		c.failRuns(t, nil, "Runs not gone after delete across a leader kill", names)
	}
	c.waitNoActiveTasks(t, time.Minute)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}

// The leader is paused (SIGSTOP) long enough for the others to elect a new
// one, then resumed: the old leader wakes believing it leads, with a Mesos
// subscription that was taken over. Every Run still ends Succeeded with no
// two live tasks.
func TestCluster_PausedLeaderResumesWithoutDoubleLaunch(t *testing.T) {
	n := 150
	if longTests() {
		n = 1000
	}
	began := time.Now()
	c := startCluster(t, clusterOptions{sim: simOptions{agents: 3}})
	tr := c.trackTasks(t)
	var specs []*apis.Run
	for _, name := range runNames("ps", n) {
		specs = append(specs, simRun(name, "pause", 500*time.Millisecond))
	}
	ap, done := c.applyConcurrently(t, specs)
	require.Eventually(t, func() bool { return ap.acked.Load() >= int64(n/3) }, 2*time.Minute, 20*time.Millisecond)
	old := c.leader()
	t.Logf("SIGSTOP %s at %d acked", old.id, ap.acked.Load())
	p := old.current()
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGSTOP))
	stopped := true
	defer func() {
		if stopped {
			_ = p.cmd.Process.Signal(syscall.SIGCONT)
		}
	}()
	var nl *node
	require.True(t, waitFor(time.Minute, func() bool {
		for _, x := range c.nodes {
			if x == old {
				continue
			}
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			info, err := x.client.Cluster(ctx)
			cancel()
			if err == nil && info.Leader != "" && info.Leader != old.id {
				for _, y := range c.nodes {
					if y.id == info.Leader {
						nl = y
					}
				}
				return true
			}
		}
		return false
	}), "no new leader while %s is paused", old.id)
	t.Logf("%s elected; SIGCONT %s after a further 3 s", nl.id, old.id)
	time.Sleep(3 * time.Second) // let the new leader launch under the paused one's feet
	require.NoError(t, p.cmd.Process.Signal(syscall.SIGCONT))
	stopped = false
	<-done
	require.EqualValues(t, n, ap.acked.Load())
	c.waitAllPhase(t, tr, "suite=pause", n, apis.PhaseSucceeded, 3*time.Minute)
	tr.poll(context.Background())
	c.checkNoOverlaps(t, tr)
	c.deleteAll(t, "suite=pause")
	c.waitNoActiveTasks(t, time.Minute)
	t.Logf("total %v", time.Since(began).Round(time.Millisecond))
}
