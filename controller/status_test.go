package controller

import (
	"fmt"
	"testing"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

func TestApplyTaskStatus_MapsStatesToPhasesAndReasons(t *testing.T) {
	c := &Controller{cfg: Config{}.withDefaults()}
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	running := apis.RunStatus{Phase: apis.PhaseRunning, Attempts: 1, TaskID: "r.1.x", MesosState: "TASK_RUNNING"}
	starting := apis.RunStatus{Phase: apis.PhaseStarting, Attempts: 1, TaskID: "r.1.x"}
	tests := map[string]struct {
		prior   apis.RunStatus
		limit   int32
		state   mesos.TaskState
		source  mesos.TaskStatus_Source
		reason  mesos.TaskStatus_Reason
		msg     string
		phase   apis.RunPhase
		rsn     string
		code    *int32
		finish  bool
		retry   bool
		attempt int32
	}{
		"running":                         {prior: starting, state: mesos.TASK_RUNNING, phase: apis.PhaseRunning, attempt: 1},
		"finished":                        {prior: running, state: mesos.TASK_FINISHED, msg: "Command exited with status 0", phase: apis.PhaseSucceeded, rsn: apis.ReasonCompleted, code: ptr(int32(0)), finish: true, attempt: 1},
		"failed with code":                {prior: running, state: mesos.TASK_FAILED, msg: "Command exited with status 3", phase: apis.PhaseFailed, rsn: apis.ReasonTaskFailed, code: ptr(int32(3)), finish: true, attempt: 1},
		"failed, retries left":            {prior: running, limit: 2, state: mesos.TASK_FAILED, msg: "Command exited with status 3", phase: apis.PhasePending, rsn: apis.ReasonBackoff, code: ptr(int32(3)), finish: true, retry: true, attempt: 1},
		"failed, limit spent":             {prior: apis.RunStatus{Phase: apis.PhaseRunning, Attempts: 3, TaskID: "r.3.x", MesosState: "TASK_RUNNING"}, limit: 2, state: mesos.TASK_FAILED, phase: apis.PhaseFailed, rsn: apis.ReasonBackoffLimitExceeded, finish: true, attempt: 3},
		"lost":                            {prior: running, state: mesos.TASK_LOST, source: mesos.SOURCE_MASTER, reason: mesos.REASON_AGENT_REMOVED, phase: apis.PhaseFailed, rsn: apis.ReasonTaskLost, finish: true, attempt: 1},
		"gone":                            {prior: running, state: mesos.TASK_GONE, phase: apis.PhaseFailed, rsn: apis.ReasonTaskLost, finish: true, attempt: 1},
		"dropped, retries left":           {prior: running, limit: 1, state: mesos.TASK_DROPPED, phase: apis.PhasePending, rsn: apis.ReasonBackoff, finish: true, retry: true, attempt: 1},
		"gone by operator":                {prior: running, state: mesos.TASK_GONE_BY_OPERATOR, phase: apis.PhaseFailed, rsn: apis.ReasonAgentGone, finish: true, attempt: 1},
		"error is not retried":            {prior: starting, limit: 5, state: mesos.TASK_ERROR, source: mesos.SOURCE_MASTER, reason: mesos.REASON_TASK_INVALID, phase: apis.PhaseFailed, rsn: apis.ReasonTaskError, finish: true, attempt: 1},
		"killed unasked":                  {prior: running, limit: 5, state: mesos.TASK_KILLED, phase: apis.PhaseKilled, rsn: apis.ReasonTaskKilled, finish: true, attempt: 1},
		"killed for cancel":               {prior: withReason(running, apis.ReasonCancelled), state: mesos.TASK_KILLED, phase: apis.PhaseKilled, rsn: apis.ReasonCancelled, finish: true, attempt: 1},
		"killed for deadline":             {prior: withReason(running, apis.ReasonDeadlineExceeded), limit: 3, state: mesos.TASK_KILLED, phase: apis.PhaseFailed, rsn: apis.ReasonDeadlineExceeded, finish: true, attempt: 1},
		"killed for staging":              {prior: withReason(starting, apis.ReasonStagingTimeout), state: mesos.TASK_KILLED, phase: apis.PhaseFailed, rsn: apis.ReasonStagingTimeout, finish: true, attempt: 1},
		"staging timeout retried":         {prior: withReason(starting, apis.ReasonStagingTimeout), limit: 1, state: mesos.TASK_KILLED, phase: apis.PhasePending, rsn: apis.ReasonBackoff, finish: true, retry: true, attempt: 1},
		"unreachable is not death":        {prior: running, state: mesos.TASK_UNREACHABLE, source: mesos.SOURCE_MASTER, reason: mesos.REASON_AGENT_REMOVED, phase: apis.PhaseRunning, rsn: apis.ReasonUnreachable, attempt: 1},
		"back from unreachable":           {prior: apis.RunStatus{Phase: apis.PhaseRunning, Attempts: 1, TaskID: "r.1.x", MesosState: "TASK_UNREACHABLE", Reason: apis.ReasonUnreachable}, state: mesos.TASK_RUNNING, source: mesos.SOURCE_MASTER, reason: mesos.REASON_AGENT_REREGISTERED, phase: apis.PhaseRunning, attempt: 1},
		"never launched (reconciliation)": {prior: starting, state: mesos.TASK_UNKNOWN, source: mesos.SOURCE_MASTER, reason: mesos.REASON_RECONCILIATION, phase: apis.PhasePending, finish: true, retry: true, attempt: 0},
		"never launched (stale offer)":    {prior: starting, state: mesos.TASK_DROPPED, source: mesos.SOURCE_MASTER, reason: mesos.REASON_INVALID_OFFERS, phase: apis.PhasePending, finish: true, retry: true, attempt: 0},
		"late duplicate starting":         {prior: running, state: mesos.TASK_STARTING, phase: apis.PhaseRunning, attempt: 1},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			run := &apis.Run{Metadata: apis.ObjectMeta{Name: "r"}, Spec: apis.RunSpec{BackoffLimit: tc.limit, ActiveDeadlineSeconds: 60}, Status: tc.prior}
			ts := &mesos.TaskStatus{TaskID: mesos.TaskID{Value: tc.prior.TaskID}, State: tc.state.Enum(), Source: tc.source.Enum()}
			if tc.reason != 0 || tc.source == mesos.SOURCE_MASTER {
				ts.Reason = tc.reason.Enum()
			}
			if tc.msg != "" {
				ts.Message = &tc.msg
			}
			tr := c.applyTaskStatus(run, ts, now)
			assert.Equal(t, tc.phase, tr.status.Phase, tr.status.Message)
			assert.Equal(t, tc.rsn, tr.status.Reason, tr.status.Message)
			assert.Equal(t, tc.code, tr.status.ExitCode)
			assert.Equal(t, tc.finish, tr.finish)
			assert.Equal(t, tc.retry, tr.retry)
			assert.Equal(t, tc.attempt, tr.status.Attempts)
			if tc.phase.Terminal() {
				assert.NotNil(t, tr.status.CompletionTime)
			}
			assert.Contains(t, reasonsSet, tr.status.Reason, "reasons come from the closed set")
		})
	}
}

var reasonsSet = []string{"", apis.ReasonCompleted, apis.ReasonTaskFailed, apis.ReasonTaskLost, apis.ReasonTaskError,
	apis.ReasonTaskKilled, apis.ReasonDeadlineExceeded, apis.ReasonBackoffLimitExceeded, apis.ReasonCancelled,
	apis.ReasonAgentGone, apis.ReasonStagingTimeout, apis.ReasonUnreachable, apis.ReasonUnschedulable,
	apis.ReasonBackoff, apis.ReasonDeleted}

func withReason(s apis.RunStatus, r string) apis.RunStatus { s.Reason = r; return s }

func ptr[T any](v T) *T { return &v }

func TestExitCode_FromMessageOrData(t *testing.T) {
	tests := map[string]struct {
		msg  string
		data string
		want *int32
	}{
		"command executor": {msg: "Command exited with status 3", want: ptr(int32(3))},
		"zero":             {msg: "Command exited with status 0", want: ptr(int32(0))},
		"signal":           {msg: "Command terminated with signal Killed"},
		"json data":        {data: `{"exitCode": 7}`, want: ptr(int32(7))},
		"snake json data":  {data: `{"exit_code": 9}`, want: ptr(int32(9))},
		"nothing":          {},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			ts := &mesos.TaskStatus{Data: []byte(tc.data)}
			if tc.msg != "" {
				ts.Message = &tc.msg
			}
			assert.Equal(t, tc.want, exitCode(ts))
		})
	}
}

func TestStatus_UpdatesAreBatchedAndAckedAfterCommit(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		const n = 40
		var offers []mesos.Offer
		for i := range n {
			f.createRun(fmt.Sprintf("b%02d", i))
			offers = append(offers, makeOffer(fmt.Sprintf("o%d", i), fmt.Sprintf("a%d", i), 1, 1024))
		}
		for i := range n {
			f.waitPhase(fmt.Sprintf("b%02d", i), apis.PhasePending)
		}
		f.sendOffers(offers...)
		f.expect(func() bool { return len(f.sched.taskIDs()) == n }, "all launched")
		f.store.mu.Lock()
		before := len(f.store.batches)
		f.store.mu.Unlock()
		for _, id := range f.sched.taskIDs() {
			f.update(id, mesos.TASK_RUNNING, "")
		}
		for i := range n {
			f.waitPhase(fmt.Sprintf("b%02d", i), apis.PhaseRunning)
		}
		f.expect(func() bool { return len(f.log.matching("sched.ack")) == n }, "all acked")
		f.store.mu.Lock()
		writes := len(f.store.batches) - before
		f.store.mu.Unlock()
		assert.Less(t, writes, n, "status updates share Raft entries")
		for _, id := range f.sched.taskIDs() {
			name, _ := taskRunName(id)
			assert.Less(t, f.log.index("store.status "+name+" Running"), f.log.index("sched.ack "+id+" TASK_RUNNING"))
		}
	})
}

func TestStatus_StrayTaskIsKilledAndAcked(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.update("ghost.1.abcdef", mesos.TASK_RUNNING, "")
		f.expect(func() bool { return f.log.index("sched.kill ghost.1.abcdef") >= 0 }, "stray killed")
		f.expect(func() bool { return f.log.index("sched.ack ghost.1.abcdef") >= 0 }, "stray acked")
		// A terminal update of an unknown task is only acknowledged.
		f.update("ghost.2.abcdef", mesos.TASK_FINISHED, "")
		f.expect(func() bool { return f.log.index("sched.ack ghost.2.abcdef") >= 0 }, "acked")
		assert.Negative(t, f.log.index("sched.kill ghost.2"))
	})
}

func TestStatus_StaleAttemptUpdateDoesNotTouchRun(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("s", func(r *apis.Run) { r.Spec.BackoffLimit = 1 })
		f.waitPhase("s", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		first := f.launchedTask("s", 1)
		f.update(first, mesos.TASK_FAILED, "Command exited with status 1")
		f.expect(func() bool { return f.store.run("s").Status.Reason == apis.ReasonBackoff }, "backoff")
		// A late duplicate RUNNING of the failed attempt is a stray: killed.
		f.update(first, mesos.TASK_RUNNING, "")
		f.expect(func() bool { return f.log.index("sched.kill "+first) >= 0 }, "stale task killed")
		r := f.store.run("s")
		assert.Equal(t, apis.PhasePending, r.Status.Phase)
		require.Equal(t, first, r.Status.TaskID)
	})
}

func TestEvents_RecordedPerRun(t *testing.T) {
	inBubble(t, func(t *testing.T) {
		f := newFixture(t, Config{})
		f.createRun("ev")
		f.waitPhase("ev", apis.PhasePending)
		f.offer("o1", "a1", 4, 1024)
		task := f.launchedTask("ev", 1)
		f.update(task, mesos.TASK_RUNNING, "")
		f.update(task, mesos.TASK_FAILED, "Command exited with status 2")
		f.waitPhase("ev", apis.PhaseFailed)
		f.expect(func() bool { return len(f.store.runEvents("ev")) >= 4 }, "events")
		var reasons, msgs []string
		for _, e := range f.store.runEvents("ev") {
			reasons = append(reasons, e.Reason)
			msgs = append(msgs, e.Message)
		}
		assert.Equal(t, []string{"Scheduled", "Launched", "Running", apis.ReasonTaskFailed}, reasons)
		assert.Contains(t, msgs[1], "launched on a1.example")
		assert.Contains(t, msgs[3], "exited with code 2")
	})
}

func TestStatusWords_ReadAsText(t *testing.T) {
	t.Parallel()
	assert.Equal(t, "killed", stateWord(mesos.TASK_KILLED))
	assert.Equal(t, "gone by operator", stateWord(mesos.TASK_GONE_BY_OPERATOR))
	assert.Equal(t, "task lost", reasonWords(apis.ReasonTaskLost))
	assert.Equal(t, "staging timeout", reasonWords(apis.ReasonStagingTimeout))
}
