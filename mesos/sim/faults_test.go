package sim

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"runtime"
	"sync"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/extras/scheduler/controller"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/calls"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler/events"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func control(t *testing.T, base, path string, body any) (int, map[string]any) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post(base+"/sim/v1/"+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var out map[string]any
	_ = json.NewDecoder(resp.Body).Decode(&out)
	return resp.StatusCode, out
}

func TestFaults_UpdateDropDuplicateDelay(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("faults"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]

	code, _ := control(t, tm.url, "updates/faults", map[string]any{"drop": 1.0})
	require.Equal(t, 200, code)
	s.mustCall(launch(o, commandTask("d", o, "true")))
	assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE), "dropped")
	tm.SetUpdateFaults(UpdateFaults{Duplicate: 1})
	clk.Advance(10 * time.Second) // the retry gets through, twice
	ups := ofType(s.drain(), scheduler.Event_UPDATE)
	require.Len(t, ups, 2)
	assert.Equal(t, ups[0].Update.Status.UUID, ups[1].Update.Status.UUID)

	code, _ = control(t, tm.url, "updates/faults", map[string]any{"delay_rate": 1.0, "delay": "3s"})
	require.Equal(t, 200, code)
	s.ack(ups[0].Update.Status) // releases RUNNING, which is delayed
	assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE))
	clk.Advance(3 * time.Second)
	ups = ofType(s.drain(), scheduler.Event_UPDATE)
	require.Len(t, ups, 1)
	assert.Equal(t, mesos.TASK_RUNNING, ups[0].Update.Status.GetState())
}

func TestFaults_HTTPControls(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaJSON, withFailover(frameworkInfo("ctl"), 3600))
	s.subscribed()
	o := runningTask(t, s, "t")

	code, out := control(t, tm.url, "agents/add", map[string]any{"resources": "cpus:1;mem:128", "attributes": "rack:r9"})
	require.Equal(t, 200, code)
	newAgent := out["agent_id"].(string)
	assert.Equal(t, "m1-S1", newAgent)
	code, _ = control(t, tm.url, "agents/partition", map[string]any{"agent_id": "nope"})
	assert.Equal(t, 404, code)
	code, _ = control(t, tm.url, "agents/partition", map[string]any{"agent_id": o.AgentID.Value})
	require.Equal(t, 200, code)
	assert.Equal(t, mesos.TASK_LOST, stateOf(s.update(5*time.Second, "t")))
	code, _ = control(t, tm.url, "agents/restore", map[string]any{"agent_id": o.AgentID.Value})
	require.Equal(t, 200, code)
	assert.Equal(t, mesos.TASK_RUNNING, stateOf(s.update(5*time.Second, "t")))
	code, _ = control(t, tm.url, "heartbeats", map[string]any{"on": false})
	require.Equal(t, 200, code)
	code, _ = control(t, tm.url, "nope", map[string]any{})
	assert.Equal(t, 404, code)

	code, _ = control(t, tm.url, "connections/drop", map[string]any{})
	require.Equal(t, 200, code)
	assert.True(t, s.ended(5*time.Second), "stream dropped")
	c, _ := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
	assert.Equal(t, 403, c, "disconnected, not removed (failover timeout 1h)")

	code, _ = control(t, tm.url, "master/leadership", map[string]any{"no_leader": true})
	require.Equal(t, 200, code)
	resp := post(t, tm.url, nil, nil)
	assert.Equal(t, 503, resp.StatusCode)
	readBody(t, resp)
	control(t, tm.url, "master/leadership", map[string]any{})
	code, _ = control(t, tm.url, "master/failover", map[string]any{})
	require.Equal(t, 200, code)
	resp = post(t, tm.url, nil, nil)
	assert.Equal(t, "Master has not finished recovery", readBody(t, resp))
}

func TestCaller_InProcessWithMesosGoController(t *testing.T) {
	cfg := fastConfig()
	m, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	require.NoError(t, m.Start(context.Background()))
	defer m.Close()
	caller := m.Caller()
	var fwID string
	finished := 0
	handler := events.HandlerFuncs{
		scheduler.Event_SUBSCRIBED: func(_ context.Context, e *scheduler.Event) error {
			fwID = e.Subscribed.FrameworkID.Value
			return nil
		},
		scheduler.Event_OFFERS: func(ctx context.Context, e *scheduler.Event) error {
			o := e.Offers.Offers[0]
			if finished > 0 {
				return calls.CallNoData(ctx, caller, calls.Decline(o.ID).With(calls.Framework(fwID)))
			}
			acc := calls.Accept(calls.OfferOperations{calls.OpLaunch(commandTask("in-proc", o, "true"))}.WithOffers(o.ID))
			return calls.CallNoData(ctx, caller, acc.With(calls.Framework(fwID)))
		},
		scheduler.Event_UPDATE: func(ctx context.Context, e *scheduler.Event) error {
			st := e.Update.Status
			if err := calls.CallNoData(ctx, caller, calls.Acknowledge(st.AgentID.Value, st.TaskID.Value, st.UUID).With(calls.Framework(fwID))); err != nil {
				return err
			}
			if st.GetState() == mesos.TASK_FINISHED {
				finished++
				cancel()
			}
			return nil
		},
	}
	_ = controller.Run(ctx, frameworkInfo("in-proc"), caller, controller.WithEventHandler(handler.Otherwise(func(context.Context, *scheduler.Event) error { return nil })))
	assert.Equal(t, 1, finished)

	// Errors come back as *CallError with the HTTP status.
	_, err = caller.Call(context.Background(), &scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: &mesos.FrameworkID{Value: "nope"}})
	var ce *CallError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, 400, ce.Code)
}

func TestHostConfig(t *testing.T) {
	cfg, err := HostConfig(t.TempDir())
	require.NoError(t, err)
	require.Len(t, cfg.Agents, 1)
	assert.Equal(t, ExecutorProcess, cfg.Agents[0].Executor)
	r, err := parseResources(cfg.Agents[0].Resources)
	require.NoError(t, err)
	assert.Equal(t, float64(runtime.NumCPU()), r.scalar("cpus"))
	assert.Greater(t, r.scalar("mem"), 0.0)
	assert.Equal(t, []mesos.Value_Range{{Begin: 31000, End: 32000}}, r.ranges["ports"])
	m, err := NewHost(t.TempDir())
	require.NoError(t, err)
	require.NoError(t, m.Close())
}

// TestDeterministicUnderSeed: the same seed and calls give the same ids and uuids.
func TestDeterministicUnderSeed(t *testing.T) {
	run := func() []string {
		tm, _ := manualMaster(t, Config{Seed: 7, HeartbeatInterval: time.Hour, Agents: []AgentConfig{{}, {}}})
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("det"))
		s.subscribed()
		out := []string{tm.MasterID(), s.streamID}
		var offers []mesos.Offer
		for len(offers) < 2 {
			offers = append(offers, s.offers(5*time.Second)...)
		}
		for _, o := range offers {
			out = append(out, o.ID.Value+"@"+o.AgentID.Value)
		}
		s.mustCall(launch(offers[0], commandTask("x", offers[0], "true")))
		out = append(out, string(s.update(5*time.Second, "x").UUID))
		return out
	}
	assert.Equal(t, run(), run())
}

func TestObserverAndTasks(t *testing.T) {
	var mu sync.Mutex
	var seen []scheduler.Call_Type
	tm := startMaster(t, fastConfig(), WithCallObserver(func(c *scheduler.Call) {
		mu.Lock()
		seen = append(seen, c.Type)
		mu.Unlock()
	}))
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("obs"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, longTask("t", o)))
	s.ack(s.update(5*time.Second, "t"))
	mu.Lock()
	assert.Equal(t, []scheduler.Call_Type{scheduler.Call_SUBSCRIBE, scheduler.Call_ACCEPT, scheduler.Call_ACKNOWLEDGE}, seen)
	mu.Unlock()
	require.Eventually(t, func() bool {
		ts := tm.Tasks()
		return len(ts) == 1 && ts[0].State == mesos.TASK_RUNNING
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, TaskSnapshot{FrameworkID: s.fwID, TaskID: "t", AgentID: o.AgentID.Value, State: mesos.TASK_RUNNING}, tm.Tasks()[0])
}
