package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/clock"
)

// testBuild is a minimal TaskBuilder: the real one lives in the mesos
// package; the controller only needs the IDs and resources through.
func testBuild(run *apis.Run, taskID string, offer *mesos.Offer, ports []uint32) (mesos.TaskInfo, error) {
	return mesos.TaskInfo{
		Name:    run.Metadata.Name,
		TaskID:  mesos.TaskID{Value: taskID},
		AgentID: offer.AgentID,
		Command: &mesos.CommandInfo{Value: &run.Spec.Command},
	}, nil
}

// fixture is a controller with fakes, leading and subscribed. It lives in
// a testing/synctest bubble (newFixture must be called inside one, see
// inBubble): the controller's own timers run on a manual clock that only
// Advance moves, the latency windows it takes from the time package (status
// and event batches) on the bubble's fake time, and settle waits until every
// goroutine of the controller is blocked — no polling, no wall-clock waits.
type fixture struct {
	t     *testing.T
	log   *actionLog
	store *fakeStore
	sched *fakeScheduler
	clock *clock.Manual
	c     *Controller
	reg   *prometheus.Registry
	build TaskBuilder
	stop  func()
	seq   int
}

func newFixture(t *testing.T, cfg Config, setup ...func(*fixture)) *fixture {
	t.Helper()
	log := &actionLog{}
	f := &fixture{t: t, log: log, store: newFakeStore(log), sched: newFakeScheduler(log), clock: newFakeClock(), reg: prometheus.NewRegistry(), build: testBuild}
	for _, s := range setup {
		s(f)
	}
	logger := slog.New(slog.NewTextHandler(testWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	c, err := New(cfg, f.store, f.sched, f.build, f.clock, logger, f.reg)
	require.NoError(t, err)
	f.c = c
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = c.Start(ctx)
	}()
	f.stop = func() { cancel(); <-done }
	t.Cleanup(f.stop)
	f.subscribed()
	return f
}

// inBubble runs a controller test in its own testing/synctest bubble, in
// parallel with the others: each has its own fake time and goroutines.
func inBubble(t *testing.T, test func(t *testing.T)) {
	t.Helper()
	t.Parallel()
	synctest.Test(t, test)
}

// settleWindow is how much fake time settle lets pass: far more than the
// status and event batch windows (a few milliseconds each) that a chain of
// writes may open one after the other.
const settleWindow = time.Second

// settle lets the controller run until it has nothing left to do: the
// bubble's fake time passes every batch window, then every goroutine of the
// bubble is blocked. The manual clock does not move.
func (f *fixture) settle() {
	time.Sleep(settleWindow)
	synctest.Wait()
}

// subscribed waits for the controller to start a subscription and plays
// SUBSCRIBED on it.
func (f *fixture) subscribed() {
	f.t.Helper()
	f.settle()
	select {
	case <-f.sched.running:
	default:
		f.t.Fatalf("no subscription started\nactions:\n%s", strings.Join(f.log.list(), "\n"))
	}
	f.sched.subscribed("fw-1")
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// expect settles the controller and then checks cond.
func (f *fixture) expect(cond func() bool, msg string, args ...any) {
	f.t.Helper()
	f.settle()
	if !cond() {
		f.t.Fatalf("%s\nactions:\n%s", fmt.Sprintf(msg, args...), strings.Join(f.log.list(), "\n"))
	}
}

// createRun adds a Run with defaults for the fields tests do not care about.
func (f *fixture) createRun(name string, mutate ...func(*apis.Run)) {
	f.t.Helper()
	r := apis.Run{Metadata: apis.ObjectMeta{Name: name}, Spec: apis.RunSpec{Command: "true", Cpus: 1, Mem: 128}}
	for _, m := range mutate {
		m(&r)
	}
	f.seq++
	f.store.create(f.t, r, f.clock.Now().Add(time.Duration(f.seq)*time.Millisecond))
}

func (f *fixture) phase(name string) apis.RunPhase {
	r := f.store.run(name)
	if r == nil {
		return ""
	}
	return r.Status.Phase
}

func (f *fixture) waitPhase(name string, p apis.RunPhase) *apis.Run {
	f.t.Helper()
	f.expect(func() bool { return f.phase(name) == p }, "run %s never reached %s (now %q)", name, p, f.phase(name))
	return f.store.run(name)
}

// offer sends one offer for agent with cpus and mem and ports 31000-31009.
func (f *fixture) offer(id, agent string, cpus, mem float64, attrs ...mesos.Attribute) {
	f.sendOffers(makeOffer(id, agent, cpus, mem, attrs...))
}

// sendOffers plays an OFFERS event once the controller has settled, so
// that every Run reconciled so far is pending in the launcher (the fake
// master, unlike a real one, sends no more offers after a REVIVE).
func (f *fixture) sendOffers(offers ...mesos.Offer) {
	f.t.Helper()
	f.settle()
	f.sched.offers(offers...)
}

func makeOffer(id, agent string, cpus, mem float64, attrs ...mesos.Attribute) mesos.Offer {
	scalar := func(name string, v float64) mesos.Resource {
		return mesos.Resource{Name: name, Type: mesos.SCALAR.Enum(), Scalar: &mesos.Value_Scalar{Value: v}}
	}
	return mesos.Offer{
		ID:          mesos.OfferID{Value: id},
		FrameworkID: mesos.FrameworkID{Value: "fw-1"},
		AgentID:     mesos.AgentID{Value: agent},
		Hostname:    agent + ".example",
		Resources: []mesos.Resource{
			scalar("cpus", cpus), scalar("mem", mem), scalar("disk", 1000),
			{Name: "ports", Type: mesos.RANGES.Enum(), Ranges: &mesos.Value_Ranges{Range: []mesos.Value_Range{{Begin: 31000, End: 31009}}}},
		},
		Attributes: attrs,
	}
}

func textAttr(name, v string) mesos.Attribute {
	return mesos.Attribute{Name: name, Type: mesos.TEXT, Text: &mesos.Value_Text{Value: v}}
}

// update plays a status update from an executor (with a UUID).
func (f *fixture) update(taskID string, state mesos.TaskState, msg string) {
	st := mesos.TaskStatus{
		TaskID:  mesos.TaskID{Value: taskID},
		State:   state.Enum(),
		Source:  mesos.SOURCE_EXECUTOR.Enum(),
		AgentID: &mesos.AgentID{Value: "a1"},
		UUID:    []byte("0123456789abcdef"),
	}
	if msg != "" {
		st.Message = &msg
	}
	f.sched.statusUpdate(st)
}

// masterUpdate plays an update generated by the master (no UUID).
func (f *fixture) masterUpdate(taskID string, state mesos.TaskState, reason mesos.TaskStatus_Reason) {
	f.sched.statusUpdate(mesos.TaskStatus{
		TaskID: mesos.TaskID{Value: taskID},
		State:  state.Enum(),
		Source: mesos.SOURCE_MASTER.Enum(),
		Reason: reason.Enum(),
	})
}

// launchedTask waits for the Run's current attempt to be accepted and
// returns its task ID.
func (f *fixture) launchedTask(name string, attempt int) string {
	f.t.Helper()
	prefix := fmt.Sprintf("%s.%d.", name, attempt)
	var id string
	f.expect(func() bool {
		for _, t := range f.sched.taskIDs() {
			if strings.HasPrefix(t, prefix) {
				id = t
				return true
			}
		}
		return false
	}, "no task %s* launched", prefix)
	return id
}
