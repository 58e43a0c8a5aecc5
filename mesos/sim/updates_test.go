package sim

import (
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func assertMasterError(t *testing.T, st mesos.TaskStatus, reason mesos.TaskStatus_Reason, msg string) {
	t.Helper()
	assert.Equal(t, mesos.TASK_ERROR, st.GetState(), st.GetMessage())
	assert.Equal(t, reason, st.GetReason())
	assert.Equal(t, mesos.SOURCE_MASTER, st.GetSource())
	assert.Empty(t, st.UUID)
	assert.Contains(t, st.GetMessage(), msg)
}

func TestT3_InvalidTasksGetTaskError(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t3"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	c := launch(o, longTask("dup", o))
	c.Accept.Filters = &mesos.Filters{RefuseSeconds: f64(0)}
	s.mustCall(c)
	o = s.offers(5 * time.Second)[0]

	wrongAgent := longTask("wrong-agent", o)
	wrongAgent.AgentID = mesos.AgentID{Value: "elsewhere"}
	noRes := longTask("no-res", o)
	noRes.Resources = nil
	both := longTask("both", o)
	both.Executor = &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: "e"}, Command: &mesos.CommandInfo{Value: ptr("x")}}
	neither := longTask("neither", o)
	neither.Command = nil
	tooBig := commandTask("too-big", o, "true", scalar("cpus", 100))
	badID := longTask("bad/id", o)
	cases := []struct {
		ti  mesos.TaskInfo
		msg string
	}{
		{longTask("dup", o), "Task has duplicate ID: dup"},
		{wrongAgent, "Task uses invalid agent elsewhere while agent " + o.AgentID.Value + " is expected"},
		{noRes, "Task uses no resources"},
		{both, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"},
		{neither, "Task should have at least one (but not both) of CommandInfo or ExecutorInfo present"},
		{tooBig, "is more than available"},
		{badID, "is invalid"},
	}
	tasks := []mesos.TaskInfo{longTask("ok-1", o)}
	for _, c := range cases {
		tasks = append(tasks, c.ti)
	}
	tasks = append(tasks, longTask("ok-2", o))
	s.mustCall(launch(o, tasks...))
	got := map[string]mesos.TaskStatus{}
	for len(got) < len(tasks) {
		e := s.waitFor(5*time.Second, isType(scheduler.Event_UPDATE))
		if _, seen := got[e.Update.Status.TaskID.Value]; !seen {
			got[e.Update.Status.TaskID.Value] = e.Update.Status
		}
	}
	for _, c := range cases {
		assertMasterError(t, got[c.ti.TaskID.Value], mesos.REASON_TASK_INVALID, c.msg)
	}
	assert.Equal(t, mesos.TASK_STARTING, stateOf(got["ok-1"]))
	assert.Equal(t, mesos.TASK_STARTING, stateOf(got["ok-2"]))
}

func groupOp(exec mesos.ExecutorInfo, tasks ...mesos.TaskInfo) mesos.Offer_Operation {
	return mesos.Offer_Operation{Type: mesos.Offer_Operation_LAUNCH_GROUP, LaunchGroup: &mesos.Offer_Operation_LaunchGroup{
		Executor: exec, TaskGroup: mesos.TaskGroupInfo{Tasks: tasks}}}
}

func TestT4_LaunchGroup(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t4"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	exec := mesos.ExecutorInfo{Type: mesos.ExecutorInfo_DEFAULT, ExecutorID: mesos.ExecutorID{Value: "group-ex"},
		Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}}
	bad := commandTask("g-bad", o, "true")
	bad.Resources = nil
	c := &scheduler.Call{Type: scheduler.Call_ACCEPT, Accept: &scheduler.Call_Accept{OfferIDs: []mesos.OfferID{o.ID},
		Operations: []mesos.Offer_Operation{groupOp(exec, commandTask("g-ok", o, "true"), bad)},
		Filters:    &mesos.Filters{RefuseSeconds: f64(0)}}}
	s.mustCall(c)
	assertMasterError(t, s.update(5*time.Second, "g-ok"), mesos.REASON_TASK_GROUP_INVALID, "Task uses no resources")
	assertMasterError(t, s.update(5*time.Second, "g-bad"), mesos.REASON_TASK_GROUP_INVALID, "Task uses no resources")

	// A valid group runs; a failing member takes its siblings down.
	o = s.offers(5 * time.Second)[0]
	fail := commandTask("g-fail", o, "false")
	fail.Labels = simLabels("SIM_EXIT_CODE", "1", "SIM_DURATION", "0s")
	sib := longTask("g-sib", o)
	c.Accept.OfferIDs = []mesos.OfferID{o.ID}
	c.Accept.Operations = []mesos.Offer_Operation{groupOp(exec, sib, fail)}
	s.mustCall(c)
	final := map[string]mesos.TaskState{}
	for len(final) < 2 {
		e := s.waitFor(5*time.Second, isType(scheduler.Event_UPDATE))
		st := e.Update.Status
		s.ack(st)
		assert.Equal(t, "group-ex", st.GetExecutorID().GetValue())
		if isTerminal(st.GetState()) {
			final[st.TaskID.Value] = st.GetState()
		}
	}
	assert.Equal(t, mesos.TASK_FAILED, final["g-fail"])
	assert.Equal(t, mesos.TASK_KILLED, final["g-sib"])
}

func TestT5_Kill(t *testing.T) {
	t.Run("running process, TASK_KILLING_STATE", func(t *testing.T) {
		tm := startMaster(t, processConfig(t))
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t5", mesos.FrameworkInfo_Capability_TASK_KILLING_STATE))
		s.subscribed()
		o := s.offers(5 * time.Second)[0]
		s.mustCall(launch(o, commandTask("k", o, "sleep 30")))
		for st := s.update(5*time.Second, "k"); st.GetState() != mesos.TASK_RUNNING; st = s.update(5*time.Second, "k") {
			s.ack(st)
		}
		s.ack(tmLast(t, tm, s.fwID, "k"))
		s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "k"}}})
		st := s.update(5*time.Second, "k")
		assert.Equal(t, mesos.TASK_KILLING, st.GetState())
		s.ack(st)
		st = s.update(5*time.Second, "k")
		assert.Equal(t, mesos.TASK_KILLED, st.GetState())
		assert.Equal(t, mesos.SOURCE_EXECUTOR, st.GetSource())
		assert.Equal(t, "Command terminated with signal Terminated", st.GetMessage())
	})
	t.Run("process ignoring SIGTERM gets SIGKILL after the grace period", func(t *testing.T) {
		tm := startMaster(t, processConfig(t))
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t5"))
		s.subscribed()
		o := s.offers(5 * time.Second)[0]
		ti := commandTask("stubborn", o, "trap '' TERM; echo ready; while true; do sleep 0.05; done")
		ti.KillPolicy = &mesos.KillPolicy{GracePeriod: &mesos.DurationInfo{Nanoseconds: int64(200 * time.Millisecond)}}
		s.mustCall(launch(o, ti))
		for st := s.update(5*time.Second, "stubborn"); ; st = s.update(5*time.Second, "stubborn") {
			s.ack(st)
			if st.GetState() == mesos.TASK_RUNNING {
				break
			}
		}
		require.Eventually(t, func() bool {
			return filesRead(t, tm.url, "/frameworks/"+s.fwID+"/executors/stubborn/runs/latest/stdout", "0", "").Data == "ready\n"
		}, 5*time.Second, 10*time.Millisecond, "trap installed")
		start := time.Now()
		s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "stubborn"}}})
		st := s.update(10*time.Second, "stubborn")
		assert.Equal(t, mesos.TASK_KILLED, st.GetState())
		assert.Equal(t, "Command terminated with signal Killed", st.GetMessage())
		assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	})
	t.Run("during launch", func(t *testing.T) {
		cfg := fastConfig()
		cfg.LaunchDelay = time.Hour
		tm := startMaster(t, cfg)
		s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t5"))
		s.subscribed()
		o := s.offers(5 * time.Second)[0]
		s.mustCall(launch(o, longTask("early", o)))
		s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "early"}}})
		st := s.update(5*time.Second, "early")
		assert.Equal(t, mesos.TASK_KILLED, st.GetState())
		assert.Equal(t, mesos.REASON_TASK_KILLED_DURING_LAUNCH, st.GetReason())
		assert.Equal(t, mesos.SOURCE_AGENT, st.GetSource())
		assert.Len(t, st.UUID, 16)
	})
	t.Run("unknown task and wrong agent", func(t *testing.T) {
		for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
			t.Run(name, func(t *testing.T) {
				tm := startMaster(t, fastConfig())
				fi := frameworkInfo("t5")
				want := mesos.TASK_LOST
				if pa {
					fi = frameworkInfo("t5", mesos.FrameworkInfo_Capability_PARTITION_AWARE)
					want = mesos.TASK_UNKNOWN
				}
				s := subscribe(t, tm.url, mediaProtobuf, fi)
				s.subscribed()
				o := s.offers(5 * time.Second)[0]
				s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "ghost"}}})
				st := s.update(5*time.Second, "ghost")
				assert.Equal(t, want, st.GetState())
				assert.Equal(t, mesos.REASON_RECONCILIATION, st.GetReason())
				assert.Equal(t, mesos.SOURCE_MASTER, st.GetSource())

				s.mustCall(launch(o, longTask("live", o)))
				s.update(5*time.Second, "live")
				s.mustCall(&scheduler.Call{Type: scheduler.Call_KILL, Kill: &scheduler.Call_Kill{TaskID: mesos.TaskID{Value: "live"}, AgentID: &mesos.AgentID{Value: "other"}}})
				for _, e := range ofType(s.drain(), scheduler.Event_UPDATE) {
					assert.NotEqual(t, mesos.TASK_KILLED, e.Update.Status.GetState())
				}
				assert.Equal(t, 1, runningTasks(tm))
			})
		}
	})
}

// tmLast returns the task's in-flight update (for ACKing what the test skipped).
func tmLast(t *testing.T, tm *testMaster, fwID, taskID string) mesos.TaskStatus {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	tk := tm.frameworks[fwID].tasks[taskID]
	require.NotEmpty(t, tk.pending)
	return *tk.pending[0]
}

func TestT6_AckGatingAndRetries(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t6"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, commandTask("g", o, "true")))
	first := s.update(5*time.Second, "g")
	require.Equal(t, mesos.TASK_STARTING, first.GetState())
	assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE), "RUNNING and FINISHED wait for the ACK")

	clk.Advance(9 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE))
	clk.Advance(time.Second) // 10 s
	ups := ofType(s.drain(), scheduler.Event_UPDATE)
	require.Len(t, ups, 1)
	assert.Equal(t, first.UUID, ups[0].Update.Status.UUID, "retry of the same update")
	clk.Advance(19 * time.Second) // 29 s: next retry at 30 s
	assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE))
	clk.Advance(time.Second)
	require.Len(t, ofType(s.drain(), scheduler.Event_UPDATE), 1)

	s.ack(first)
	running := s.update(5*time.Second, "g")
	assert.Equal(t, mesos.TASK_RUNNING, running.GetState())
	s.ack(running)
	finished := s.update(5*time.Second, "g")
	assert.Equal(t, mesos.TASK_FINISHED, finished.GetState())
	s.ack(finished)
}

func TestT7_RedeliveryOnResubscribe(t *testing.T) {
	tm := startMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("t7"), 60)
	s := subscribe(t, tm.url, mediaJSON, fi)
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, commandTask("r", o, "true")))
	first := s.update(5*time.Second, "r")

	s2 := subscribeWithID(t, tm.url, mediaJSON, fi, s.fwID)
	s2.subscribed()
	again := s2.update(5*time.Second, "r")
	assert.Equal(t, first.UUID, again.UUID)
	assert.Equal(t, first.GetState(), again.GetState())
	s2.ack(again)
	s2.ack(again) // duplicate: harmless
	running := s2.update(5*time.Second, "r")
	assert.Equal(t, mesos.TASK_RUNNING, running.GetState())
	s2.ack(running)
	assert.Equal(t, mesos.TASK_FINISHED, stateOf(s2.update(5*time.Second, "r")))
}

func TestT8_AckValidation(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t8"))
	s.subscribed()
	code, body := s.call(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: mesos.AgentID{Value: "a"}, TaskID: mesos.TaskID{Value: "t"}, UUID: []byte("short")}})
	assert.Equal(t, 400, code)
	assert.Contains(t, body, "Failed to validate scheduler::Call")
	code, _ = s.call(&scheduler.Call{Type: scheduler.Call_ACKNOWLEDGE, Acknowledge: &scheduler.Call_Acknowledge{
		AgentID: mesos.AgentID{Value: "nowhere"}, TaskID: mesos.TaskID{Value: "t"}, UUID: make([]byte, 16)}})
	assert.Equal(t, 202, code)
}

func TestT9_AckedTerminalTaskIsForgotten(t *testing.T) {
	for name, pa := range map[string]bool{"non-PA": false, "PA": true} {
		t.Run(name, func(t *testing.T) {
			tm := startMaster(t, fastConfig())
			fi := frameworkInfo("t9")
			want := mesos.TASK_LOST
			if pa {
				fi = frameworkInfo("t9", mesos.FrameworkInfo_Capability_PARTITION_AWARE)
				want = mesos.TASK_GONE
			}
			s := subscribe(t, tm.url, mediaProtobuf, fi)
			s.subscribed()
			o := s.offers(5 * time.Second)[0]
			s.mustCall(launch(o, commandTask("done", o, "true")))
			for {
				st := s.update(5*time.Second, "done")
				s.ack(st)
				if isTerminal(st.GetState()) {
					break
				}
			}
			s.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
			assert.Empty(t, ofType(s.drain(), scheduler.Event_UPDATE), "implicit reconciliation no longer knows it")
			s.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{
				Tasks: []scheduler.Call_Reconcile_Task{{TaskID: mesos.TaskID{Value: "done"}, AgentID: &o.AgentID}}}})
			st := s.update(5*time.Second, "done")
			assert.Equal(t, want, st.GetState())
			assert.Equal(t, "Reconciliation: Task is unknown to the agent", st.GetMessage())
		})
	}
}

func customTask(id string, o mesos.Offer, execID string) mesos.TaskInfo {
	return mesos.TaskInfo{Name: id, TaskID: mesos.TaskID{Value: id}, AgentID: o.AgentID,
		Resources: []mesos.Resource{scalar("cpus", 0.1), scalar("mem", 32)}, Labels: simLabels("SIM_DURATION", "1h"),
		Executor: &mesos.ExecutorInfo{ExecutorID: mesos.ExecutorID{Value: execID}, Command: &mesos.CommandInfo{Value: ptr("./my-executor")}}}
}

func TestT10_ShutdownExecutor(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t10"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, customTask("c1", o, "ex"), customTask("c2", o, "ex")))
	st := s.update(5*time.Second, "c1")
	assert.Equal(t, mesos.TASK_RUNNING, st.GetState(), "custom executors send no TASK_STARTING")
	s.ack(st)
	s.ack(s.update(5*time.Second, "c2"))
	s.mustCall(&scheduler.Call{Type: scheduler.Call_SHUTDOWN, Shutdown: &scheduler.Call_Shutdown{ExecutorID: mesos.ExecutorID{Value: "ex"}, AgentID: o.AgentID}})
	assert.Equal(t, mesos.TASK_KILLED, stateOf(s.update(5*time.Second, "c1")))
	assert.Equal(t, mesos.TASK_KILLED, stateOf(s.update(5*time.Second, "c2")))
	f := s.waitFor(5*time.Second, isType(scheduler.Event_FAILURE)).Failure
	assert.Equal(t, o.AgentID.Value, f.GetAgentID().GetValue())
	assert.Equal(t, "ex", f.GetExecutorID().GetValue())
	require.NotNil(t, f.Status)
}

func TestT11_MessageRoundTrip(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t11"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, customTask("m", o, "ex")))
	s.update(5*time.Second, "m")
	s.mustCall(&scheduler.Call{Type: scheduler.Call_MESSAGE, Message: &scheduler.Call_Message{AgentID: o.AgentID, ExecutorID: mesos.ExecutorID{Value: "ex"}, Data: []byte("ping")}})
	m := s.waitFor(5*time.Second, isType(scheduler.Event_MESSAGE)).Message
	assert.Equal(t, []byte("ping"), m.Data)
	assert.Equal(t, "ex", m.ExecutorID.Value)
	// To an unknown executor: dropped.
	s.mustCall(&scheduler.Call{Type: scheduler.Call_MESSAGE, Message: &scheduler.Call_Message{AgentID: o.AgentID, ExecutorID: mesos.ExecutorID{Value: "nope"}, Data: []byte("x")}})
	assert.Empty(t, ofType(s.drain(), scheduler.Event_MESSAGE))
}

func TestT12_CustomExecutorCrash(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("t12"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, customTask("x", o, "ex")))
	s.ack(s.update(5*time.Second, "x"))
	require.NoError(t, tm.CrashExecutor(o.AgentID.Value, s.fwID, "ex", 9))
	st := s.update(5*time.Second, "x")
	assert.Equal(t, mesos.TASK_FAILED, st.GetState())
	assert.Equal(t, mesos.REASON_EXECUTOR_TERMINATED, st.GetReason())
	assert.Equal(t, mesos.SOURCE_AGENT, st.GetSource())
	f := s.waitFor(5*time.Second, isType(scheduler.Event_FAILURE)).Failure
	assert.Equal(t, int32(9), f.GetStatus())
	assert.Equal(t, "ex", f.GetExecutorID().GetValue())
}
