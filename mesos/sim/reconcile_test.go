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

func reconcileCall(tasks ...scheduler.Call_Reconcile_Task) *scheduler.Call {
	return &scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{Tasks: tasks}}
}

func rtask(id string, agent string) scheduler.Call_Reconcile_Task {
	rt := scheduler.Call_Reconcile_Task{TaskID: mesos.TaskID{Value: id}}
	if agent != "" {
		rt.AgentID = &mesos.AgentID{Value: agent}
	}
	return rt
}

// drainVia is drain with a barrier that names an unknown agent, which is
// answered even while other agents are recovering.
func (s *sub) drainVia(agent string) []*scheduler.Event {
	s.t.Helper()
	barrierSeq++
	id := "barrier-" + itoa(barrierSeq)
	s.mustCall(reconcileCall(rtask(id, agent)))
	var out []*scheduler.Event
	for {
		e := s.next(5 * time.Second)
		if e.Type == scheduler.Event_UPDATE && e.Update.Status.TaskID.Value == id {
			return out
		}
		if e.Type != scheduler.Event_HEARTBEAT {
			out = append(out, e)
		}
	}
}

func assertReconciled(t *testing.T, st mesos.TaskStatus, want mesos.TaskState, msg string) {
	t.Helper()
	assert.Equal(t, want, st.GetState(), st.GetMessage())
	assert.Equal(t, mesos.REASON_RECONCILIATION, st.GetReason())
	assert.Equal(t, mesos.SOURCE_MASTER, st.GetSource())
	assert.Empty(t, st.UUID)
	assert.Equal(t, msg, st.GetMessage())
}

func TestR1_ImplicitReconciliation(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("r1"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, commandTask("a", o, "true"), longTask("b", o)))
	first := map[string]mesos.TaskStatus{}
	for len(first) < 2 {
		e := s.waitFor(5*time.Second, isType(scheduler.Event_UPDATE))
		first[e.Update.Status.TaskID.Value] = e.Update.Status
	}
	s.ack(first["b"]) // a's STARTING is not ACKed: RUNNING and FINISHED stay queued
	s.drain()
	s.mustCall(reconcileCall())
	ups := ofType(s.drain(), scheduler.Event_UPDATE)
	require.Len(t, ups, 2, "one update per known task")
	got := map[string]mesos.TaskStatus{}
	for _, e := range ups {
		got[e.Update.Status.TaskID.Value] = e.Update.Status
	}
	assertReconciled(t, got["a"], mesos.TASK_STARTING, "Reconciliation: Latest task state")
	assertReconciled(t, got["b"], mesos.TASK_RUNNING, "Reconciliation: Latest task state")
	ga := got["a"]
	assert.Equal(t, "a", ga.GetExecutorID().GetValue())
	assert.Equal(t, o.AgentID.Value, ga.GetAgentID().GetValue())
}

func TestR2_ExplicitReconciliation(t *testing.T) {
	for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
		t.Run(name, func(t *testing.T) {
			cfg := fastConfig()
			cfg.Agents = []AgentConfig{{}, {}, {}, {}}
			tm, clk := manualMaster(t, cfg)
			ids := tm.AgentIDs()
			fi := withFailover(frameworkInfo("r2"), 3600)
			pick := func(paState mesos.TaskState) mesos.TaskState { return mesos.TASK_LOST }
			if pa {
				fi = withFailover(frameworkInfo("r2", mesos.FrameworkInfo_Capability_PARTITION_AWARE), 3600)
				pick = func(paState mesos.TaskState) mesos.TaskState { return paState }
			}
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			offers := map[string]mesos.Offer{}
			for len(offers) < 4 {
				for _, o := range s.offers(5 * time.Second) {
					offers[o.AgentID.Value] = o
				}
			}
			o := offers[ids[0]]
			s.mustCall(launch(o, longTask("known", o)))
			s.ack(s.update(5*time.Second, "known"))
			require.NoError(t, tm.PartitionAgent(ids[1], false))
			require.NoError(t, tm.MarkAgentGone(ids[2]))
			s.drain()

			s.mustCall(reconcileCall(rtask("known", ids[0])))
			assertReconciled(t, s.update(5*time.Second, "known"), mesos.TASK_RUNNING, "Reconciliation: Latest task state")
			s.mustCall(reconcileCall(rtask("x3", ids[0])))
			assertReconciled(t, s.update(5*time.Second, "x3"), pick(mesos.TASK_GONE), "Reconciliation: Task is unknown to the agent")
			s.mustCall(reconcileCall(rtask("x4", ids[1])))
			st := s.update(5*time.Second, "x4")
			assertReconciled(t, st, pick(mesos.TASK_UNREACHABLE), "Reconciliation: Task is unreachable")
			require.NotNil(t, st.UnreachableTime)
			assert.Equal(t, clk.Now().UnixNano(), st.UnreachableTime.Nanoseconds)
			s.mustCall(reconcileCall(rtask("x5", ids[2])))
			assertReconciled(t, s.update(5*time.Second, "x5"), pick(mesos.TASK_GONE_BY_OPERATOR), "Reconciliation: Task is gone")
			s.mustCall(reconcileCall(rtask("x6", "no-such-agent")))
			assertReconciled(t, s.update(5*time.Second, "x6"), pick(mesos.TASK_UNKNOWN), "Reconciliation: Task is unknown")
			s.mustCall(reconcileCall(rtask("x6b", "")))
			st = s.update(5*time.Second, "x6b")
			assertReconciled(t, st, pick(mesos.TASK_UNKNOWN), "Reconciliation: Task is unknown")
			assert.Nil(t, st.AgentID, "agent_id only if supplied")

			// Case 2: while an agent recovers after master failover, no reply.
			tm.Failover(ids[3])
			clk.Advance(4 * time.Second) // FailoverDowntime (2 s) + AgentReregisterDelay (1 s)
			s2 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
			s2.subscribed()
			s2.mustCall(reconcileCall(rtask("x2", ids[3]), rtask("x2b", "")))
			for _, e := range ofType(s2.drainVia("no-such-agent"), scheduler.Event_UPDATE) {
				assert.NotContains(t, []string{"x2", "x2b"}, e.Update.Status.TaskID.Value, "no reply while recovering")
			}
		})
	}
}

func TestR3_ReconcileStagingTask(t *testing.T) {
	cfg := fastConfig()
	cfg.LaunchDelay = time.Hour
	tm := startMaster(t, cfg)
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("r3"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, longTask("staged", o)))
	s.mustCall(reconcileCall(rtask("staged", "")))
	assertReconciled(t, s.update(5*time.Second, "staged"), mesos.TASK_STAGING, "Reconciliation: Latest task state")
	st := masterState(t, tm.url)
	require.Len(t, st.Frameworks[0].Tasks, 1)
	assert.Equal(t, "TASK_STAGING", st.Frameworks[0].Tasks[0].State)
}

var _ = http.StatusOK
