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

func TestF2_SynchronousCallValidation(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("f2"))
	s.subscribed()
	hdr := map[string]string{"Content-Type": mediaProtobuf, "Mesos-Stream-Id": s.streamID}
	fid := &mesos.FrameworkID{Value: s.fwID}

	fi := frameworkInfo("x")
	fi.ID = &mesos.FrameworkID{Value: "a"}
	mismatch := &scheduler.Call{Type: scheduler.Call_SUBSCRIBE, FrameworkID: &mesos.FrameworkID{Value: "b"}, Subscribe: &scheduler.Call_Subscribe{FrameworkInfo: fi}}
	resp := post(t, tm.url, map[string]string{"Content-Type": mediaProtobuf}, marshalCall(t, mediaProtobuf, mismatch))
	assert.Equal(t, 400, resp.StatusCode)
	assert.Contains(t, readBody(t, resp), "'framework_id' differs from 'subscribe.framework_info.id'")

	cases := map[string]struct {
		call   *scheduler.Call
		status int
		msg    string
	}{
		"no framework_id":   {&scheduler.Call{Type: scheduler.Call_REVIVE}, 400, "Expecting 'framework_id' to be present"},
		"accept w/o accept": {&scheduler.Call{Type: scheduler.Call_ACCEPT, FrameworkID: fid}, 400, "Expecting 'accept' to be present"},
		"kill w/o kill":     {&scheduler.Call{Type: scheduler.Call_KILL, FrameworkID: fid}, 400, "Expecting 'kill' to be present"},
		"reconcile w/o":     {&scheduler.Call{Type: scheduler.Call_RECONCILE, FrameworkID: fid}, 400, "Expecting 'reconcile' to be present"},
		"revive bare":       {&scheduler.Call{Type: scheduler.Call_REVIVE, FrameworkID: fid}, 202, ""},
		"suppress bare":     {&scheduler.Call{Type: scheduler.Call_SUPPRESS, FrameworkID: fid}, 202, ""},
		"teardown bare":     {&scheduler.Call{Type: scheduler.Call_TEARDOWN, FrameworkID: fid}, 202, ""},
	}
	for _, name := range []string{"no framework_id", "accept w/o accept", "kill w/o kill", "reconcile w/o", "revive bare", "suppress bare", "teardown bare"} {
		c := cases[name]
		t.Run(name, func(t *testing.T) {
			resp := post(t, tm.url, hdr, marshalCall(t, mediaProtobuf, c.call))
			body := readBody(t, resp)
			assert.Equal(t, c.status, resp.StatusCode, body)
			if c.msg != "" {
				assert.Equal(t, "Failed to validate scheduler::Call: "+c.msg, body)
			}
		})
	}
}

func TestF3_InvalidSubscriptionIsAnInStreamError(t *testing.T) {
	tm := startMaster(t, fastConfig())
	removed := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("gone"))
	removed.subscribed()
	removed.mustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})

	badRole := frameworkInfo("r")
	role := "-bad"
	badRole.Role = &role
	rolesNoMulti := frameworkInfo("r")
	rolesNoMulti.Roles = []string{"a"}
	multi := frameworkInfo("m", mesos.FrameworkInfo_Capability_MULTI_ROLE)
	multi.Roles = []string{"a"}
	cases := map[string]struct {
		fi         *mesos.FrameworkInfo
		suppressed []string
		msg        string
	}{
		"bad role":              {badRole, nil, "Role '-bad' is invalid"},
		"roles w/o MULTI_ROLE":  {rolesNoMulti, nil, "'FrameworkInfo.roles' must not be set"},
		"suppressed not a role": {multi, []string{"b"}, "Suppressed role 'b' is not contained in the list of roles"},
		"removed framework":     {withID(frameworkInfo("gone"), removed.fwID), nil, "Framework has been removed"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			s := subscribe(t, tm.url, mediaJSON, c.fi, c.suppressed...)
			e := s.next(5 * time.Second)
			require.Equal(t, scheduler.Event_ERROR, e.Type)
			assert.Contains(t, e.Error.Message, c.msg)
			assert.True(t, s.ended(5*time.Second), "stream closed after ERROR")
		})
	}
}

func withID(fi *mesos.FrameworkInfo, id string) *mesos.FrameworkInfo {
	fi.ID = &mesos.FrameworkID{Value: id}
	return fi
}

func TestF4_ResubscribeFailsOverOldStream(t *testing.T) {
	tm := startMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("f4"), 3600)
	old := subscribe(t, tm.url, mediaProtobuf, fi)
	old.subscribed()
	oldOffer := old.offers(5 * time.Second)[0]

	neu := subscribeWithID(t, tm.url, mediaProtobuf, fi, old.fwID)
	e := neu.subscribed()
	assert.Equal(t, old.fwID, e.Subscribed.FrameworkID.Value)
	assert.NotEqual(t, old.streamID, neu.streamID)

	errEv := old.waitFor(5*time.Second, isType(scheduler.Event_ERROR))
	assert.Equal(t, "Framework failed over", errEv.Error.Message)
	assert.True(t, old.ended(5*time.Second))

	// Calls with the old stream id → 400.
	code, body := old.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "didn't match the stream ID")

	// The old offer is gone without a RESCIND: using it loses the task.
	neu.fwID = old.fwID
	neu.mustCall(launch(oldOffer, commandTask("t", oldOffer, "true")))
	st := neu.update(5*time.Second, "t")
	assert.Equal(t, mesos.TASK_LOST, st.GetState())
	assert.Equal(t, mesos.REASON_INVALID_OFFERS, st.GetReason())
	assert.Empty(t, ofType(neu.drain(), scheduler.Event_RESCIND))
}

func longTask(id string, o mesos.Offer) mesos.TaskInfo {
	ti := commandTask(id, o, "sleep 3600")
	ti.Labels = simLabels("SIM_DURATION", "1h")
	return ti
}

func runningTasks(tm *testMaster) int {
	tm.mu.Lock()
	defer tm.mu.Unlock()
	n := 0
	for _, a := range tm.agentList {
		if se, ok := a.exec.(*SimulatedExecutor); ok {
			n += se.Running()
		}
		n += a.custom.Running()
	}
	return n
}

func TestF5_FailoverTimeout(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("f5"), 60)
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, longTask("t", o)))
	s.ack(s.update(5*time.Second, "t"))
	s.close()
	require.Eventually(t, func() bool { c, _ := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE}); return c == 403 }, 5*time.Second, 5*time.Millisecond)

	// Back before the timeout: the task is still there.
	clk.Advance(30 * time.Second)
	s2 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	s2.subscribed()
	s2.mustCall(&scheduler.Call{Type: scheduler.Call_RECONCILE, Reconcile: &scheduler.Call_Reconcile{}})
	st0 := s2.update(5*time.Second, "t")
	assert.Equal(t, mesos.TASK_RUNNING, st0.GetState())
	assert.Equal(t, 1, runningTasks(tm))

	// Gone past the timeout: removed, task killed.
	s2.close()
	require.Eventually(t, func() bool { c, _ := s2.call(&scheduler.Call{Type: scheduler.Call_REVIVE}); return c == 403 }, 5*time.Second, 5*time.Millisecond)
	clk.Advance(61 * time.Second)
	require.Eventually(t, func() bool { return runningTasks(tm) == 0 }, 5*time.Second, 5*time.Millisecond)
	code, body := s2.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
	assert.Equal(t, 400, code)
	assert.Equal(t, "Framework cannot be found", body)
	s3 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	e := s3.next(5 * time.Second)
	require.Equal(t, scheduler.Event_ERROR, e.Type)
	assert.Equal(t, "Framework has been removed", e.Error.Message)
	st := masterState(t, tm.url)
	require.Len(t, st.CompletedFrameworks, 1)
	require.Len(t, st.CompletedFrameworks[0].CompletedTasks, 1)
	assert.Equal(t, "TASK_KILLED", st.CompletedFrameworks[0].CompletedTasks[0].State)
}

func TestF6_ZeroFailoverTimeoutRemovesAtOnce(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribe(t, tm.url, mediaProtobuf, frameworkInfo("f6"))
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, longTask("t", o)))
	s.update(5*time.Second, "t")
	s.close()
	require.Eventually(t, func() bool {
		c, b := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
		return c == 400 && b == "Framework cannot be found"
	}, 5*time.Second, 5*time.Millisecond)
	assert.Equal(t, 0, runningTasks(tm))
}

func TestF7_Teardown(t *testing.T) {
	tm := startMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("f7"), 3600)
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()
	o := s.offers(5 * time.Second)[0]
	s.mustCall(launch(o, longTask("t", o)))
	s.update(5*time.Second, "t")
	s.mustCall(&scheduler.Call{Type: scheduler.Call_TEARDOWN})
	assert.True(t, s.ended(5*time.Second))
	assert.Equal(t, 0, runningTasks(tm))
	code, body := s.call(&scheduler.Call{Type: scheduler.Call_REVIVE})
	assert.Equal(t, 400, code)
	assert.Equal(t, "Framework cannot be found", body)
	again := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	assert.Equal(t, "Framework has been removed", again.next(5*time.Second).Error.GetMessage())
}

func TestF8_ResubscribeUnknownIDIsAccepted(t *testing.T) {
	tm := startMaster(t, fastConfig())
	s := subscribeWithID(t, tm.url, mediaJSON, withFailover(frameworkInfo("f8"), 60), "from-another-master-0007")
	e := s.subscribed()
	assert.Equal(t, "from-another-master-0007", e.Subscribed.FrameworkID.Value)
	assert.NotEmpty(t, s.offers(5*time.Second))
}

func TestF9_ResubscribeIgnoresUserAndCheckpoint(t *testing.T) {
	tm := startMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("f9"), 60)
	p := "alice"
	fi.Principal = &p
	s := subscribe(t, tm.url, mediaProtobuf, fi)
	s.subscribed()

	changed := *fi
	changed.User = "mallory"
	yes := true
	changed.Checkpoint = &yes
	s2 := subscribeWithID(t, tm.url, mediaProtobuf, &changed, s.fwID)
	s2.subscribed()
	tm.mu.Lock()
	fw := tm.frameworks[s.fwID]
	assert.Equal(t, "tester", fw.info.User)
	assert.False(t, fw.info.GetCheckpoint())
	tm.mu.Unlock()

	other := "bob"
	changed.Principal = &other
	s3 := subscribeWithID(t, tm.url, mediaProtobuf, &changed, s.fwID)
	e := s3.next(5 * time.Second)
	require.Equal(t, scheduler.Event_ERROR, e.Type)
	assert.Equal(t, "Changing framework's principal is not allowed.", e.Error.Message)
}

func TestF10_SuppressedRolesOnSubscribe(t *testing.T) {
	tm, clk := manualMaster(t, fastConfig())
	fi := withFailover(frameworkInfo("f10", mesos.FrameworkInfo_Capability_MULTI_ROLE), 60)
	fi.Roles = []string{"a"}
	s := subscribe(t, tm.url, mediaProtobuf, fi, "a")
	s.subscribed()
	clk.Advance(3 * time.Second)
	assert.Empty(t, ofType(s.drain(), scheduler.Event_OFFERS), "suppressed role gets no offers")

	s2 := subscribeWithID(t, tm.url, mediaProtobuf, fi, s.fwID)
	s2.subscribed()
	offers := s2.offers(5 * time.Second)
	require.Len(t, offers, 1)
	assert.Equal(t, "a", offers[0].AllocationInfo.GetRole())
}
