package sim

import (
	"net/http"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runningTask launches a long task on the first offer and ACKs it to RUNNING.
func runningTask(t *testing.T, s *sub, id string) mesos.Offer {
	t.Helper()
	o := s.offers(5 * time.Second)[0]
	c := launch(o, longTask(id, o))
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
	s.mustCall(c)
	for {
		st := s.update(5*time.Second, id)
		s.ack(st)
		if st.GetState() == mesos.TASK_RUNNING {
			return o
		}
	}
}

func paInfo(pa bool, name string) (*mesos.FrameworkInfo, func(mesos.TaskState) mesos.TaskState) {
	if pa {
		return withFailover(frameworkInfo(name, mesos.FrameworkInfo_Capability_PARTITION_AWARE), 3600),
			func(s mesos.TaskState) mesos.TaskState { return s }
	}
	return withFailover(frameworkInfo(name), 3600), func(mesos.TaskState) mesos.TaskState { return mesos.TASK_LOST }
}

func TestP1_AgentPartition(t *testing.T) { partitionScenario(t, false) }

func TestP2_PartitionedAgentReregisters(t *testing.T) { partitionScenario(t, true) }

// partitionScenario partitions an agent through the ping timeout (P1) and,
// with reregister, brings it back (P2), for PA and non-PA frameworks.
func partitionScenario(t *testing.T, reregister bool) {
	for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
		t.Run(name, func(t *testing.T) {
			tm, clk := manualMaster(t, fastConfig())
			fi, pick := paInfo(pa, "p1")
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			o := runningTask(t, s, "t")
			clk.Advance(time.Second) // the rest is offered again
			held := ofType(s.drain(), scheduler.Event_OFFERS)
			require.NotEmpty(t, held)

			require.NoError(t, tm.PartitionAgent(o.AgentID.Value, true))
			clk.Advance(74 * time.Second)
			evs := s.drain()
			assert.Empty(t, ofType(evs, scheduler.Event_UPDATE), "nothing before the ping timeout")
			assert.NotEmpty(t, ofType(evs, scheduler.Event_RESCIND), "offers rescinded at disconnect")
			clk.Advance(time.Second)
			evs = s.drain()
			ups := ofType(evs, scheduler.Event_UPDATE)
			require.Len(t, ups, 1)
			st := ups[0].Update.Status
			assert.Equal(t, pick(mesos.TASK_UNREACHABLE), st.GetState())
			assert.Equal(t, mesos.REASON_AGENT_REMOVED, st.GetReason())
			assert.Equal(t, mesos.SOURCE_MASTER, st.GetSource())
			require.NotNil(t, st.UnreachableTime)
			assert.Empty(t, st.UUID)
			f := ofType(evs, scheduler.Event_FAILURE)
			require.Len(t, f, 1)
			assert.Equal(t, o.AgentID.Value, f[0].Failure.GetAgentID().GetValue())
			clk.Advance(2 * time.Second)
			assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS), "no offers from an unreachable agent")
			// KILL of an unreachable task is an explicit reconciliation.
			s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "t"}, AgentID: &o.AgentID}})
			killed := s.update(5*time.Second, "t")
			assert.Equal(t, pick(mesos.TASK_UNREACHABLE), killed.GetState())
			assert.Equal(t, mesos.REASON_RECONCILIATION, killed.GetReason())
			s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "t"}}})
			assert.Equal(t, pick(mesos.TASK_UNKNOWN), stateOf(s.update(5*time.Second, "t")), "without agent_id: unknown")
			if !reregister {
				return
			}

			// P2: the agent comes back with the task still running.
			require.NoError(t, tm.RestoreAgent(o.AgentID.Value))
			back := s.update(5*time.Second, "t")
			assert.Equal(t, mesos.TASK_RUNNING, back.GetState())
			assert.Equal(t, mesos.REASON_AGENT_REREGISTERED, back.GetReason())
			assert.Equal(t, mesos.SOURCE_MASTER, back.GetSource())
			assert.Empty(t, back.UUID)
			s.mustCall(reconcileCall())
			evs = s.drain()
			rec := ofType(evs, scheduler.Event_UPDATE)
			require.Len(t, rec, 1)
			assert.Equal(t, mesos.TASK_RUNNING, rec[0].Update.Status.GetState())
			assert.NotEmpty(t, ofType(evs, scheduler.Event_OFFERS), "offered again after re-registration")
		})
	}
}

func TestP3_MarkAgentGone(t *testing.T) {
	for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
		t.Run(name, func(t *testing.T) {
			tm := startMaster(t, fastConfig())
			fi, _ := paInfo(pa, "p3")
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			o := runningTask(t, s, "t")
			require.NoError(t, tm.MarkAgentGone(o.AgentID.Value))
			st := s.update(5*time.Second, "t")
			if pa {
				assert.Equal(t, mesos.TASK_GONE_BY_OPERATOR, st.GetState())
				assert.Equal(t, mesos.REASON_AGENT_REMOVED_BY_OPERATOR, st.GetReason())
			} else {
				assert.Equal(t, mesos.TASK_LOST, st.GetState())
				assert.Equal(t, mesos.REASON_AGENT_REMOVED, st.GetReason())
			}
			assert.Equal(t, 0, runningTasks(tm))
			assert.Error(t, tm.RestoreAgent(o.AgentID.Value), "gone agents never come back")
		})
	}
}

func TestP4_AgentDisconnectAndCheckpointing(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	plain := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("no-checkpoint", mesos.FrameworkInfo_Capability_PARTITION_AWARE))
	plain.subscribed()
	o := runningTask(t, plain, "p")
	cfi := withFailover(frameworkInfo("checkpoint", mesos.FrameworkInfo_Capability_PARTITION_AWARE), 3600)
	yes := true
	cfi.Checkpoint = &yes
	ck := subscribe(t, tm.url, mediaProtobuf, cfi)
	ck.subscribed()
	clk.Advance(time.Second)
	runningTask(t, ck, "c")

	require.NoError(t, tm.DisconnectAgent(o.AgentID.Value))
	st := plain.update(5*time.Second, "p")
	assert.Equal(t, mesos.TASK_LOST, st.GetState(), "always LOST, even for PA")
	assert.Equal(t, mesos.REASON_AGENT_DISCONNECTED, st.GetReason())
	assert.Empty(t, ofType(ck.drain(), scheduler.Event_UPDATE), "checkpointing framework: nothing yet")
	clk.Advance(75 * time.Second)
	st = ck.update(5*time.Second, "c")
	assert.Equal(t, mesos.TASK_UNREACHABLE, st.GetState())
}

func TestP5_MasterFailover(t *testing.T) {
	cfg := fastConfig()
	cfg.Agents = []AgentConfig{{}, {}}
	tm, clk := manualMaster(t, cfg)
	ids := tm.AgentIDs()
	fi := withFailover(frameworkInfo("p5"), 3600)
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()
	var o mesos.Offer
	for _, off := range s.offers(5 * time.Second) {
		if off.AgentID.Value == ids[0] {
			o = off
		}
	}
	for o.AgentID.Value == "" {
		for _, off := range s.offers(5 * time.Second) {
			if off.AgentID.Value == ids[0] {
				o = off
			}
		}
	}
	s.mustCall(launch(o, commandTask("t", o, "true")))
	first := s.update(5*time.Second, "t") // STARTING, left un-ACKed
	oldMaster := tm.MasterID()

	tm.Failover(ids[1])
	assert.True(t, s.ended(5*time.Second), "streams closed")
	resp := post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf}, subscribeCall(t, mediaProtobuf))
	assert.Equal(t, http.StatusServiceUnavailable, resp.StatusCode)
	assert.Equal(t, "Master has not finished recovery", readBody(t, resp))

	clk.Advance(2*time.Second + time.Millisecond) // default FailoverDowntime
	s2 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	e := s2.subscribed()
	assert.Equal(t, s.fwID, e.Subscribed.FrameworkID.Value)
	assert.NotEqual(t, oldMaster, e.Subscribed.MasterInfo.ID)
	s2.mustCall(reconcileCall(rtask("t", ids[0])))
	for _, ev := range ofType(s2.drainVia("no-such-agent"), scheduler.Event_UPDATE) {
		assert.NotEqual(t, "t", ev.Update.Status.TaskID.Value, "silent until the agent re-registers")
	}

	clk.Advance(time.Second) // agent 0 re-registers and resends its pending update
	again := s2.update(5*time.Second, "t")
	assert.Equal(t, first.UUID, again.UUID)
	s2.mustCall(reconcileCall(rtask("t", ids[0])))
	assert.Equal(t, mesos.TASK_STARTING, stateOf(s2.update(5*time.Second, "t")))

	clk.Advance(10 * time.Minute) // agent 1 never returns
	f := s2.waitFor(5*time.Second, isType(scheduler.Event_FAILURE))
	assert.Equal(t, ids[1], f.Failure.GetAgentID().GetValue())
}

func TestP6_HeartbeatSuppressionAndWatchdog(t *testing.T) {
	cfg := fastConfig()
	cfg.HeartbeatInterval = 40 * time.Millisecond
	tm := startMaster(t, cfg)
	fi := withFailover(frameworkInfo("p6"), 3600)
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	sub := s.subscribed()
	interval := time.Duration(sub.Subscribed.GetHeartbeatIntervalSeconds() * float64(time.Second))
	s.waitFor(time.Second, isType(scheduler.Event_HEARTBEAT))
	tm.SetHeartbeats(false)

	// A watchdog scheduler: no event for 5 intervals → close and re-subscribe.
	watchdog := 5 * interval
	start := time.Now()
	deadline := time.After(5 * time.Second)
	timer := time.NewTimer(watchdog)
wait:
	for {
		select {
		case e := <-s.events:
			if e.Type == scheduler.Event_HEARTBEAT {
				timer.Reset(watchdog)
			}
		case <-timer.C:
			break wait
		case <-deadline:
			t.Fatal("heartbeats never stopped")
		}
	}
	assert.GreaterOrEqual(t, time.Since(start), watchdog)
	select {
	case <-s.done:
		t.Fatal("the TCP stream must stay open")
	default:
	}
	s.close()
	tm.SetHeartbeats(true)
	s2 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	assert.Equal(t, s.fwID, s2.subscribed().Subscribed.FrameworkID.Value)
	s2.waitFor(time.Second, isType(scheduler.Event_HEARTBEAT))
}
