package controller_test

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	mesosproto "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/controller"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/mesos/sim"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
)

// startSim serves a simulated Mesos master with agents on loopback and
// returns its URL.
func startSim(t testing.TB, agents int, executor, resources string) (*sim.Master, string) {
	t.Helper()
	cfg := sim.Config{
		MasterID:           "m1",
		Seed:               1,
		HeartbeatInterval:  time.Hour,
		AllocationInterval: 20 * time.Millisecond,
		WorkDir:            t.TempDir(),
		KillGracePeriod:    200 * time.Millisecond,
	}
	for i := range agents {
		cfg.Agents = append(cfg.Agents, sim.AgentConfig{Hostname: fmt.Sprintf("agent-%d", i), Executor: executor, Resources: resources})
	}
	m, err := sim.New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, m.Start(ctx))
	l, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- m.Serve(ctx, l) }()
	t.Cleanup(func() {
		cancel()
		_ = m.Close()
		<-done
	})
	return m, "http://" + l.Addr().String()
}

// startSolo starts a one-node raftstore.
func startSolo(t testing.TB) *raftstore.Store {
	t.Helper()
	cfg := raftstore.Config{NodeID: "solo", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://solo", DataDir: t.TempDir()}
	raftstoretest.SoloConfig(&cfg)
	s, err := raftstore.New(cfg, raftstoretest.TestLogger(t))
	require.NoError(t, err)
	require.NoError(t, s.Start(context.Background()))
	t.Cleanup(func() { _ = s.Close() })
	raftstoretest.WaitLeader(t, s, 10*time.Second)
	return s
}

// cluster3 is a three-node raftstore cluster on loopback: n1 bootstraps,
// n2 and n3 join through it.
type cluster3 struct {
	t      *testing.T
	mu     sync.Mutex
	stores map[string]*raftstore.Store
	joined map[string]bool
}

func startCluster3(t *testing.T) *cluster3 {
	t.Helper()
	c := &cluster3{t: t, stores: map[string]*raftstore.Store{}, joined: map[string]bool{"n1": true}}
	start := func(id string, join bool) *raftstore.Store {
		// Raft's default timeouts: the machine running tests is shared
		// and busy, and a spurious election is not what this tests.
		cfg := raftstore.Config{NodeID: id, RaftAddr: "127.0.0.1:0", HTTPAddr: "http://" + id, DataDir: t.TempDir(), JoinExisting: join}
		s, err := raftstore.New(cfg, raftstoretest.TestLogger(t).With("node", id))
		require.NoError(t, err)
		require.NoError(t, s.Start(context.Background()))
		t.Cleanup(func() { _ = s.Close() })
		c.mu.Lock()
		c.stores[id] = s
		c.mu.Unlock()
		return s
	}
	n1 := start("n1", false)
	raftstoretest.WaitLeader(t, n1, 20*time.Second)
	for _, id := range []string{"n2", "n3"} {
		s := start(id, true)
		require.Eventually(t, func() bool {
			_, l := c.leader()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			return l.JoinLevel(ctx, id, s.RaftAddr(), "http://"+id, raftstore.StoreLevel) == nil
		}, 60*time.Second, 100*time.Millisecond, "join %s", id)
		c.mu.Lock()
		c.joined[id] = true
		c.mu.Unlock()
	}
	c.leader()
	return c
}

// leader waits for one running node to lead, known as such by all.
func (c *cluster3) leader() (string, *raftstore.Store) {
	c.t.Helper()
	var id string
	require.Eventually(c.t, func() bool {
		c.mu.Lock()
		defer c.mu.Unlock()
		id = ""
		for n, s := range c.stores {
			if s.IsLeader() {
				id = n
			}
		}
		if id == "" || c.stores[id].LinearizableRead(context.Background()) != nil {
			return false
		}
		for n, s := range c.stores {
			if l, _ := s.Leader(); l != id && c.joined[n] {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "no stable leader")
	c.mu.Lock()
	defer c.mu.Unlock()
	return id, c.stores[id]
}

// shutdown stops a node abruptly.
func (c *cluster3) shutdown(id string) {
	c.mu.Lock()
	s := c.stores[id]
	delete(c.stores, id)
	c.mu.Unlock()
	require.NoError(c.t, s.Close())
}

// countingScheduler counts launched task IDs per Run across controllers
// and can make one controller "die" right after an ACCEPT.
type countingScheduler struct {
	controller.Scheduler
	launches *launchLog
	// afterAccept, if set, runs after every successful ACCEPT.
	afterAccept func(ctx context.Context)
	// beforeAccept, if set, runs before every ACCEPT; a non-nil error
	// skips the call.
	beforeAccept func(ctx context.Context) error
}

type launchLog struct {
	mu  sync.Mutex
	ids map[string][]string // run → task IDs accepted
}

func (l *launchLog) add(taskID string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.ids == nil {
		l.ids = map[string][]string{}
	}
	run := taskID[:strings.IndexByte(taskID, '.')]
	l.ids[run] = append(l.ids[run], taskID)
}

func (l *launchLog) of(run string) []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.ids[run]...)
}

func (c countingScheduler) Accept(ctx context.Context, offerID mesosproto.OfferID, tasks []mesosproto.TaskInfo, refuse time.Duration) error {
	if c.beforeAccept != nil {
		if err := c.beforeAccept(ctx); err != nil {
			return err
		}
	}
	err := c.Scheduler.Accept(ctx, offerID, tasks, refuse)
	if err == nil {
		for _, t := range tasks {
			c.launches.add(t.TaskID.Value)
		}
		if c.afterAccept != nil {
			c.afterAccept(ctx)
		}
	}
	return err
}

// node is one sprint node's controller over a store, against the sim.
type node struct {
	store *raftstore.Store
	ctrl  *controller.Controller
	reg   *prometheus.Registry
	stop  func()
}

func startController(t testing.TB, s *raftstore.Store, simURL string, cfg controller.Config, wrap func(controller.Scheduler) controller.Scheduler) *node {
	t.Helper()
	logger := slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelInfo})).With("node", s.NodeID())
	return startControllerLog(t, s, simURL, cfg, wrap, logger)
}

func startControllerLog(t testing.TB, s *raftstore.Store, simURL string, cfg controller.Config, wrap func(controller.Scheduler) controller.Scheduler, logger *slog.Logger) *node {
	t.Helper()
	mcfg := mesos.Config{
		Masters:       []string{simURL},
		FrameworkName: "sprint-test",
		User:          "tester",
		MinBackoff:    5 * time.Millisecond,
		MaxBackoff:    100 * time.Millisecond,
		Timeout:       5 * time.Second,
	}
	client, err := mesos.New(mcfg, s, logger)
	require.NoError(t, err)
	var sched controller.Scheduler = wiring.MesosScheduler{Client: client}
	if wrap != nil {
		sched = wrap(sched)
	}
	return runController(t, s, wiring.NewControllerStore(s), sched, cfg, logger)
}

// runController starts a controller over store (s's, maybe wrapped) and
// sched, stopped when the test ends.
func runController(t testing.TB, s *raftstore.Store, store controller.Store, sched controller.Scheduler, cfg controller.Config, logger *slog.Logger) *node {
	t.Helper()
	reg := prometheus.NewRegistry()
	c, err := controller.New(cfg, store, sched, wiring.MesosTaskBuilder(mesos.TaskOptions{}), nil, logger, reg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	var once sync.Once
	n := &node{store: s, ctrl: c, reg: reg, stop: func() { once.Do(func() { cancel(); <-done }) }}
	t.Cleanup(n.stop)
	return n
}

type logWriter struct{ t testing.TB }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func simRun(name, duration string, exit int) *apis.Run {
	return &apis.Run{
		Metadata: apis.ObjectMeta{Name: name},
		Spec: apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 32,
			Env: map[string]string{"SIM_DURATION": duration, "SIM_EXIT_CODE": fmt.Sprint(exit)}},
	}
}

// waitRun waits until the named Run satisfies cond in s's local state and
// returns it.
func waitRun(t *testing.T, s *raftstore.Store, name string, cond func(*apis.Run) bool, what string) *apis.Run {
	t.Helper()
	var last *apis.Run
	waitStore(t, s, func() bool {
		r, err := s.GetRun(context.Background(), name)
		if err == nil {
			last = r
		}
		return err == nil && cond(r)
	}, func() string { return fmt.Sprintf("run %s: %s never happened; last status %+v", name, what, last) })
	return last
}

// waitStore waits until check holds on s's local state. It re-checks after
// every change s applies — it waits on the store's watch, not by polling —
// and fails after 30 s with what describe says never happened.
func waitStore(t *testing.T, s *raftstore.Store, check func() bool, describe func() string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	for {
		w, err := s.Watch(ctx, 0, nil) // before the check: no change is missed
		require.NoError(t, err)
		if check() {
			w.Stop()
			return
		}
		for open := true; open; {
			select {
			case _, open = <-w.Events(): // closed: fell behind, watch again
				if open && check() {
					w.Stop()
					return
				}
			case <-ctx.Done():
				w.Stop()
				t.Fatal(describe())
			}
		}
	}
}

func phaseIs(p apis.RunPhase) func(*apis.Run) bool {
	return func(r *apis.Run) bool { return r.Status.Phase == p }
}

func TestIntegration_SimulatedExecutorRunsToCompletion(t *testing.T) {
	t.Parallel() // one node each; the failover tests run alone
	_, url := startSim(t, 3, sim.ExecutorSimulated, "")
	s := startSolo(t)
	startController(t, s, url, controller.Config{}, nil)
	ctx := context.Background()
	const n = 30
	for i := range n {
		exit := 0
		if i%5 == 0 {
			exit = 3
		}
		_, err := s.CreateRun(ctx, simRun(fmt.Sprintf("sim-%02d", i), "20ms", exit))
		require.NoError(t, err)
	}
	for i := range n {
		name := fmt.Sprintf("sim-%02d", i)
		r := waitRun(t, s, name, func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "terminal")
		if i%5 == 0 {
			assert.Equal(t, apis.PhaseFailed, r.Status.Phase, name)
			assert.Equal(t, apis.ReasonTaskFailed, r.Status.Reason, name)
			if assert.NotNil(t, r.Status.ExitCode, name) {
				assert.Equal(t, int32(3), *r.Status.ExitCode, name)
			}
		} else {
			assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, name)
		}
		assert.NotEmpty(t, r.Status.AgentID, name)
		assert.True(t, strings.HasPrefix(r.Status.Hostname, "agent-"), name)
		assert.NotNil(t, r.Status.StartTime, name)
		assert.NotNil(t, r.Status.CompletionTime, name)
	}
	live, err := s.ListLiveAttempts()
	require.NoError(t, err)
	assert.Empty(t, live)
	evs, err := s.Events("sim-01")
	require.NoError(t, err)
	var reasons []string
	for _, e := range evs {
		reasons = append(reasons, e.Reason)
	}
	assert.Subset(t, reasons, []string{"Scheduled", "Launched", "Running", "Completed"})
}

func TestIntegration_ProcessExecutorExitCodeCancelDeleteUnschedulable(t *testing.T) {
	t.Parallel() // one node each; the failover tests run alone
	_, url := startSim(t, 1, sim.ExecutorProcess, "cpus:4;mem:4096;disk:1000;ports:[31000-31010]")
	s := startSolo(t)
	startController(t, s, url, controller.Config{}, nil)
	ctx := context.Background()
	mk := func(name, cmd string, cpus float64) *apis.Run {
		return &apis.Run{Metadata: apis.ObjectMeta{Name: name}, Spec: apis.RunSpec{Command: cmd, Cpus: cpus, Mem: 32}}
	}
	for _, r := range []*apis.Run{
		mk("exit4", "echo hi; exit 4", 0.1),
		mk("ok", "echo done", 0.1),
		mk("sleeper", "sleep 60", 0.1),
		mk("doomed", "sleep 60", 0.1),
		mk("huge", "true", 64),
	} {
		_, err := s.CreateRun(ctx, r)
		require.NoError(t, err)
	}
	r := waitRun(t, s, "exit4", func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "exit4 done")
	assert.Equal(t, apis.PhaseFailed, r.Status.Phase)
	require.NotNil(t, r.Status.ExitCode)
	assert.Equal(t, int32(4), *r.Status.ExitCode)
	waitRun(t, s, "ok", phaseIs(apis.PhaseSucceeded), "ok succeeded")

	// Cancel keeps the record.
	waitRun(t, s, "sleeper", phaseIs(apis.PhaseRunning), "sleeper running")
	sl, err := s.GetRun(ctx, "sleeper")
	require.NoError(t, err)
	sl.Spec.Cancel = true
	_, err = s.UpdateRun(ctx, sl)
	require.NoError(t, err)
	r = waitRun(t, s, "sleeper", phaseIs(apis.PhaseKilled), "sleeper killed")
	assert.Equal(t, apis.ReasonCancelled, r.Status.Reason)

	// Delete kills first, then the object goes.
	waitRun(t, s, "doomed", phaseIs(apis.PhaseRunning), "doomed running")
	_, deleted, err := s.RequestDelete(ctx, "doomed", "")
	require.NoError(t, err)
	assert.False(t, deleted, "a running Run is not deleted at once")
	waitStore(t, s, func() bool {
		_, err := s.GetRun(ctx, "doomed")
		return errors.Is(err, apis.ErrNotFound)
	}, func() string { return "doomed never deleted" })

	// Nothing fits: Pending with a message naming the resource.
	r = waitRun(t, s, "huge", func(r *apis.Run) bool { return r.Status.Reason == apis.ReasonUnschedulable }, "unschedulable")
	assert.Equal(t, apis.PhasePending, r.Status.Phase)
	assert.Regexp(t, `^0/1 agents satisfy: cpus \(need 64, max [0-9.]+ offered\)$`, r.Status.Message)
}

// TestIntegration_LeaderStopsMidLaunch: the leader records an attempt and
// sends the ACCEPT, then its node stops before it sees any status. The new
// leader must adopt the launched task (not lose it) and launch no second.
func TestIntegration_LeaderStopsMidLaunch(t *testing.T) {
	_, url := startSim(t, 2, sim.ExecutorSimulated, "")
	cl := startCluster3(t)
	launches := &launchLog{}
	accepted := make(chan string, 1)
	var first atomic.Bool
	nodes := map[string]*node{}
	for id, st := range cl.stores {
		nodes[id] = startController(t, st, url, controller.Config{}, func(s controller.Scheduler) controller.Scheduler {
			return countingScheduler{Scheduler: s, launches: launches, afterAccept: func(ctx context.Context) {
				if first.CompareAndSwap(false, true) { // the first ACCEPT anywhere: this node dies now
					accepted <- id
					<-ctx.Done()
				}
			}}
		})
	}
	leaderID, leader := cl.leader()
	_, err := leader.CreateRun(context.Background(), simRun("survivor", "1500ms", 0))
	require.NoError(t, err)
	var died string
	select {
	case died = <-accepted:
	case <-time.After(30 * time.Second):
		t.Fatal("no launch")
	}
	require.Equal(t, leaderID, died)
	// The node stops: controller and Raft together, as a dying process.
	go nodes[died].stop()
	cl.shutdown(died)
	newID, newLeader := cl.leader()
	require.NotEqual(t, died, newID)

	r := waitRun(t, newLeader, "survivor", func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "finished")
	assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, r.Status.Message)
	assert.Equal(t, int32(1), r.Status.Attempts)
	assert.Len(t, launches.of("survivor"), 1, "exactly one task ever launched")
	atts, err := newLeader.Attempts("survivor")
	require.NoError(t, err)
	assert.Len(t, atts, 1)
}

// TestIntegration_LeaderStopsBetweenRecordAndAccept: the leader records the
// attempt but dies before the ACCEPT. The new leader learns from
// reconciliation that Mesos never saw the task and launches it once.
func TestIntegration_LeaderStopsBetweenRecordAndAccept(t *testing.T) {
	_, url := startSim(t, 2, sim.ExecutorSimulated, "")
	cl := startCluster3(t)
	launches := &launchLog{}
	recorded := make(chan string, 1)
	var first atomic.Bool
	nodes := map[string]*node{}
	for id, st := range cl.stores {
		nodes[id] = startController(t, st, url, controller.Config{}, func(s controller.Scheduler) controller.Scheduler {
			return countingScheduler{Scheduler: s, launches: launches, beforeAccept: func(ctx context.Context) error {
				if first.CompareAndSwap(false, true) { // the first ACCEPT anywhere never goes out
					recorded <- id
					<-ctx.Done()
					return ctx.Err()
				}
				return nil
			}}
		})
	}
	_, leader := cl.leader()
	_, err := leader.CreateRun(context.Background(), simRun("phoenix", "100ms", 0))
	require.NoError(t, err)
	var died string
	select {
	case died = <-recorded:
	case <-time.After(30 * time.Second):
		t.Fatal("no launch attempt")
	}
	go nodes[died].stop()
	cl.shutdown(died)
	_, newLeader := cl.leader()

	r := waitRun(t, newLeader, "phoenix", func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "finished")
	assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, r.Status.Message)
	assert.Len(t, launches.of("phoenix"), 1, "one task reached Mesos")
	atts, err := newLeader.Attempts("phoenix")
	require.NoError(t, err)
	assert.Len(t, atts, 2, "the unlaunched attempt and the real one")
	assert.Equal(t, int32(1), r.Status.Attempts, "the unlaunched attempt is not counted")
}

// TestIntegration_PartitionAware: an unreachable agent's task is not dead
// until the unreachable timeout; then the attempt counts as lost and the
// Run is relaunched elsewhere; when the agent comes back its old task is
// killed and the new one kept.
func TestIntegration_PartitionAware(t *testing.T) {
	t.Parallel() // one node each; the failover tests run alone
	m, url := startSim(t, 2, sim.ExecutorSimulated, "")
	s := startSolo(t)
	startController(t, s, url, controller.Config{UnreachableTimeout: 500 * time.Millisecond, BackoffBase: 50 * time.Millisecond}, nil)
	ctx := context.Background()
	run := simRun("part", "60s", 0)
	run.Spec.BackoffLimit = 1
	_, err := s.CreateRun(ctx, run)
	require.NoError(t, err)
	r := waitRun(t, s, "part", phaseIs(apis.PhaseRunning), "running")
	oldTask, oldAgent := r.Status.TaskID, r.Status.AgentID

	require.NoError(t, m.PartitionAgent(oldAgent, false))
	r = waitRun(t, s, "part", func(r *apis.Run) bool { return r.Status.Reason == apis.ReasonUnreachable }, "unreachable")
	assert.Equal(t, apis.PhaseRunning, r.Status.Phase, "unreachable is not death")
	assert.Equal(t, "TASK_UNREACHABLE", r.Status.MesosState)

	r = waitRun(t, s, "part", func(r *apis.Run) bool {
		return r.Status.Phase == apis.PhaseRunning && r.Status.TaskID != oldTask
	}, "relaunched after the unreachable timeout")
	assert.Equal(t, int32(2), r.Status.Attempts)
	assert.NotEqual(t, oldAgent, r.Status.AgentID)
	newTask := r.Status.TaskID

	require.NoError(t, m.RestoreAgent(oldAgent))
	require.Eventually(t, func() bool {
		for _, ts := range m.Tasks() {
			if ts.TaskID == oldTask && ts.State == mesosproto.TASK_RUNNING {
				return false
			}
		}
		return true
	}, 30*time.Second, 10*time.Millisecond, "the returning task is killed")
	live := 0
	for _, ts := range m.Tasks() {
		if ts.TaskID == newTask && ts.State == mesosproto.TASK_RUNNING {
			live++
		}
	}
	assert.Equal(t, 1, live, "the new attempt keeps running")
	r, err = s.GetRun(ctx, "part")
	require.NoError(t, err)
	assert.Equal(t, newTask, r.Status.TaskID)
	assert.Equal(t, apis.PhaseRunning, r.Status.Phase)
}

func TestIntegration_GCDeletesFinishedRuns(t *testing.T) {
	t.Parallel() // one node each; the failover tests run alone
	_, url := startSim(t, 1, sim.ExecutorSimulated, "")
	s := startSolo(t)
	startController(t, s, url, controller.Config{GCInterval: 100 * time.Millisecond, GCMaxFinished: 3}, nil)
	ctx := context.Background()
	zero := int64(0)
	for i := range 3 {
		r := simRun(fmt.Sprintf("ttl0-%d", i), "1ms", 0)
		r.Spec.TTLSecondsAfterFinished = &zero
		_, err := s.CreateRun(ctx, r)
		require.NoError(t, err)
	}
	for i := range 6 {
		_, err := s.CreateRun(ctx, simRun(fmt.Sprintf("keep-%d", i), "1ms", 0))
		require.NoError(t, err)
	}
	waitStore(t, s, func() bool {
		list, err := s.ListRuns(ctx, raftstore.ListOptions{})
		require.NoError(t, err)
		return len(list.Items) == 3
	}, func() string { return "TTL-0 Runs and the oldest beyond 3 finished are not deleted" })
	list, err := s.ListRuns(ctx, raftstore.ListOptions{})
	require.NoError(t, err)
	for _, r := range list.Items {
		assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, r.Metadata.Name)
		assert.True(t, strings.HasPrefix(r.Metadata.Name, "keep-"), r.Metadata.Name)
	}
}

// TestIntegration_FailoverUnderLoad: the leader's node dies while it is
// launching a stream of Runs. Every Run still succeeds, and every Run had
// exactly one task sent to Mesos.
func TestIntegration_FailoverUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("3-node failover under load")
	}
	_, url := startSim(t, 3, sim.ExecutorSimulated, "")
	cl := startCluster3(t)
	launches := &launchLog{}
	var accepted atomic.Int64
	killAt := make(chan string, 1)
	nodes := map[string]*node{}
	for id, st := range cl.stores {
		nodes[id] = startController(t, st, url, controller.Config{}, func(s controller.Scheduler) controller.Scheduler {
			return countingScheduler{Scheduler: s, launches: launches, afterAccept: func(context.Context) {
				if accepted.Add(1) == 3 {
					killAt <- id
				}
			}}
		})
	}
	_, leader := cl.leader()
	const n = 40
	created := make(chan error, 1)
	go func() {
		for i := range n {
			if _, err := leader.CreateRun(context.Background(), simRun(fmt.Sprintf("load-%02d", i), "200ms", 0)); err != nil {
				created <- fmt.Errorf("create %d: %w", i, err)
				return
			}
		}
		created <- nil
	}()
	var died string
	select {
	case died = <-killAt:
	case <-time.After(30 * time.Second):
		t.Fatal("no launches")
	}
	go nodes[died].stop()
	cl.shutdown(died)
	_, newLeader := cl.leader()
	// Creates that hit the dying leader fail: re-apply what is missing.
	<-created
	for i := range n {
		name := fmt.Sprintf("load-%02d", i)
		if _, err := newLeader.GetRun(context.Background(), name); errors.Is(err, apis.ErrNotFound) {
			_, err := newLeader.CreateRun(context.Background(), simRun(name, "200ms", 0))
			require.NoError(t, err)
		}
	}
	for i := range n {
		name := fmt.Sprintf("load-%02d", i)
		r := waitRun(t, newLeader, name, func(r *apis.Run) bool { return r.Status.Phase.Terminal() }, "finished")
		assert.Equal(t, apis.PhaseSucceeded, r.Status.Phase, "%s: %s", name, r.Status.Message)
		assert.Len(t, launches.of(name), 1, "%s: one task sent to Mesos", name)
	}
}
