package controller

import (
	"context"
	"fmt"
	"log/slog"
	"strings"
	"testing"
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

// fixture is a controller with fakes, leading and subscribed.
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
	select {
	case <-f.sched.running:
	case <-time.After(10 * time.Second):
		t.Fatal("scheduler never started")
	}
	f.sched.handler().Subscribed("fw-1")
	return f
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func (f *fixture) eventually(cond func() bool, msg string, args ...any) {
	f.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			f.t.Fatalf("%s\nactions:\n%s", fmt.Sprintf(msg, args...), strings.Join(f.log.list(), "\n"))
		}
		time.Sleep(time.Millisecond)
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
	f.eventually(func() bool { return f.phase(name) == p }, "run %s never reached %s (now %q)", name, p, f.phase(name))
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
	f.waitQueueIdle()
	f.sched.handler().Offers(offers)
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
	f.sched.handler().Update(st)
}

// masterUpdate plays an update generated by the master (no UUID).
func (f *fixture) masterUpdate(taskID string, state mesos.TaskState, reason mesos.TaskStatus_Reason) {
	f.sched.handler().Update(mesos.TaskStatus{
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
	f.eventually(func() bool {
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

// waitLauncherIdle waits until the launcher has handled everything sent
// to it so far.
func (f *fixture) waitLauncherIdle() {
	f.t.Helper()
	f.eventually(func() bool {
		f.c.mu.Lock()
		tm := f.c.term
		f.c.mu.Unlock()
		return tm != nil && tm.launcher.sent.Load() == tm.launcher.handled.Load()
	}, "launcher busy")
}

// waitQueueIdle waits until no Run is queued or being reconciled and the
// status writer and launcher have nothing pending, so that the next clock
// step sees every timer those set.
func (f *fixture) waitQueueIdle() {
	f.t.Helper()
	f.eventually(func() bool {
		f.c.mu.Lock()
		tm := f.c.term
		f.c.mu.Unlock()
		if tm == nil {
			return false
		}
		tm.queue.mu.Lock()
		busy := len(tm.queue.items) + len(tm.queue.processing)
		tm.queue.mu.Unlock()
		return busy == 0 && len(tm.writer.in) == 0 && tm.writer.busy.Load() == 0 &&
			tm.launcher.sent.Load() == tm.launcher.handled.Load()
	}, "controller busy")
}
