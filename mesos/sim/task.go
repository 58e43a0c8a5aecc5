package sim

import (
	"path/filepath"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"

	"github.com/sprint-project/sprint/internal/backoff"
	"github.com/sprint-project/sprint/internal/clock"
)

// task is a launched task: the master's view (state, statuses) and the
// agent's status update stream (pending, ACK-gated). Guarded by Master.mu.
type task struct {
	id       string
	fw       *framework
	agent    *agent
	info     mesos.TaskInfo
	res      resVec
	execID   string  // ExecutorID in updates (= task id for command tasks)
	execKey  string  // key in agent.executors for custom/default executors
	custom   bool    // runs under a custom executor
	group    []*task // LAUNCH_GROUP siblings, including itself
	sandbox  string  // sandbox directory
	state    mesos.TaskState
	statuses []stateStamp
	last     *mesos.TaskStatus // latest status (for reconciliation extras)

	pending []*mesos.TaskStatus // agent update stream; [0] is in flight
	retry   clock.Timer
	retries backoff.Retry // of the update in flight: StatusUpdateRetry doubling to StatusUpdateRetryMax

	delivered   bool        // handed to the executor
	launchTimer clock.Timer // pending delivery
	killing     bool
	released    bool // resources returned to the agent
	unreachAt   time.Time
	masked      bool            // state is the master's TASK_UNREACHABLE/LOST, not the agent's
	preUnreach  mesos.TaskState // the agent's state when masked was set
}

type stateStamp struct {
	state mesos.TaskState
	at    time.Time
}

func (t *task) recordState(st mesos.TaskState, at time.Time) {
	t.statuses = append(t.statuses, stateStamp{st, at})
}

func (t *task) stopTimers() {
	if t.retry != nil {
		t.retry.Stop()
		t.retry = nil
	}
	if t.launchTimer != nil {
		t.launchTimer.Stop()
		t.launchTimer = nil
	}
}

func (t *task) executor() Executor {
	if t.custom {
		return t.agent.custom
	}
	return t.agent.exec
}

// updateState is the state reconciliation reports: the update in flight if
// any (status_update_state), else the latest state.
func (t *task) updateState() mesos.TaskState {
	if len(t.pending) > 0 {
		return t.pending[0].GetState()
	}
	return t.state
}

func isTerminal(s mesos.TaskState) bool {
	switch s {
	case mesos.TASK_FINISHED, mesos.TASK_FAILED, mesos.TASK_KILLED, mesos.TASK_ERROR,
		mesos.TASK_LOST, mesos.TASK_DROPPED, mesos.TASK_GONE, mesos.TASK_GONE_BY_OPERATOR:
		return true
	}
	return false
}

// launchTask adds a validated task in TASK_STAGING and sends it towards the
// agent's executor. Caller holds mu.
func (m *Master) launchTask(fw *framework, a *agent, ti mesos.TaskInfo, res resVec, ei *mesos.ExecutorInfo, execRes resVec, custom bool) *task {
	t := m.launchTaskDeferred(fw, a, ti, res, ei, execRes)
	t.custom = custom
	m.scheduleDelivery(t)
	return t
}

// launchTaskDeferred adds a task in TASK_STAGING without delivering it.
// Caller holds mu.
func (m *Master) launchTaskDeferred(fw *framework, a *agent, ti mesos.TaskInfo, res resVec, ei *mesos.ExecutorInfo, execRes resVec) *task {
	t := &task{
		id:      ti.TaskID.Value,
		fw:      fw,
		agent:   a,
		info:    ti,
		res:     res,
		execID:  ti.TaskID.Value,
		state:   mesos.TASK_STAGING,
		retries: backoff.Retry{Policy: backoff.Policy{Initial: m.cfg.StatusUpdateRetry, Max: m.cfg.StatusUpdateRetryMax}},
	}
	if ei != nil {
		t.execID = ei.ExecutorID.Value
		t.execKey = fw.id + "/" + ei.ExecutorID.Value
		e := a.executors[t.execKey]
		if e == nil {
			info := *ei
			if info.FrameworkID == nil {
				info.FrameworkID = &mesos.FrameworkID{Value: fw.id}
			}
			e = &executorInfo{fwID: fw.id, id: ei.ExecutorID.Value, info: info, res: execRes, tasks: map[string]*task{}}
			a.executors[t.execKey] = e
			fw.allocated.add(execRes)
		}
		e.tasks[t.id] = t
	}
	container := m.newUUIDString()
	t.sandbox = filepath.Join(m.cfg.WorkDir, "slaves", a.id, "frameworks", fw.id, "executors", t.execID, "runs", container)
	fw.tasks[t.id] = t
	a.tasks[taskKey(fw.id, t.id)] = t
	fw.allocated.add(res)
	return t
}

// scheduleDelivery sends t to its executor after LaunchDelay. Caller holds mu.
func (m *Master) scheduleDelivery(t *task) {
	if m.cfg.LaunchDelay > 0 {
		t.launchTimer = m.afterFunc(m.cfg.LaunchDelay, func() { m.deliver(t) })
	} else {
		m.deliver(t)
	}
}

// deliver hands t to its executor (after unlock). Caller holds mu.
func (m *Master) deliver(t *task) {
	t.launchTimer = nil
	if t.delivered || isTerminal(t.state) || t.agent.state == agentGone || m.frameworks[t.fw.id] != t.fw {
		return
	}
	t.delivered = true
	fwID, agentID, taskID := t.fw.id, t.agent.id, t.id
	user := t.fw.info.User
	if c := t.info.Command; c != nil && c.User != nil {
		user = *c.User
	}
	l := Launch{
		FrameworkID:   fwID,
		AgentID:       agentID,
		ExecutorID:    t.execID,
		Task:          t.info,
		Sandbox:       t.sandbox,
		User:          user,
		Checkpoint:    t.fw.info.GetCheckpoint(),
		AgentEndpoint: m.agentEndpoint(t.agent),
		AgentPID:      m.agentPID(t.agent),
		Custom:        t.custom,
		Report:        func(u Update) { m.executorReport(fwID, agentID, taskID, u) },
	}
	ex := t.executor()
	m.after(func() { ex.Launch(l) })
}

// executorReport turns an executor's report into an agent status update.
func (m *Master) executorReport(fwID, agentID, taskID string, u Update) {
	m.lock()
	defer m.unlock()
	a := m.agents[agentID]
	if m.closed || a == nil || a.state == agentGone {
		return
	}
	t := a.tasks[taskKey(fwID, taskID)]
	if t == nil || isTerminal(t.state) && !t.masked {
		return
	}
	src := mesos.SOURCE_EXECUTOR
	if u.Source != nil {
		src = *u.Source
	}
	m.agentUpdate(t, u.State, src, u.Reason, u.Message)
}

// agentUpdate creates an agent/executor status update (with a uuid) and
// queues it on the task's ACK-gated stream. Caller holds mu.
func (m *Master) agentUpdate(t *task, st mesos.TaskState, src mesos.TaskStatus_Source, reason *mesos.TaskStatus_Reason, msg string) {
	now := m.clk.Now()
	ts := float64(now.UnixNano()) / 1e9
	s := &mesos.TaskStatus{
		TaskID:     mesos.TaskID{Value: t.id},
		State:      st.Enum(),
		Source:     src.Enum(),
		Reason:     reason,
		AgentID:    &mesos.AgentID{Value: t.agent.id},
		ExecutorID: &mesos.ExecutorID{Value: t.execID},
		Timestamp:  &ts,
		UUID:       m.newUUID(),
	}
	if msg != "" {
		s.Message = &msg
	}
	if t.state == mesos.TASK_KILLING && st == mesos.TASK_KILLING {
		return
	}
	t.state, t.masked = st, false
	t.last = s
	t.recordState(st, now)
	if isTerminal(st) {
		m.releaseTask(t)
		m.groupFailed(t)
	}
	t.pending = append(t.pending, s)
	if len(t.pending) == 1 {
		m.forward(t)
	}
}

// releaseTask returns a terminal task's resources to its agent. Caller holds mu.
func (m *Master) releaseTask(t *task) {
	if t.released {
		return
	}
	t.released = true
	if t.launchTimer != nil {
		t.launchTimer.Stop()
		t.launchTimer = nil
	}
	t.agent.free.add(t.res)
	t.fw.allocated.sub(t.res)
	if e := t.agent.executors[t.execKey]; e != nil && t.execKey != "" {
		delete(e.tasks, t.id)
		if len(e.tasks) == 0 && e.info.Type == mesos.ExecutorInfo_DEFAULT {
			// The default executor exits with its last task group.
			m.removeExecutor(t.agent, t.execKey, nil)
		}
	}
}

// groupFailed kills the other tasks of a task group once one fails or is
// killed, as the default executor does. Caller holds mu.
func (m *Master) groupFailed(t *task) {
	if len(t.group) < 2 || t.state == mesos.TASK_FINISHED {
		return
	}
	for _, o := range t.group {
		if o != t && !isTerminal(o.state) && o.delivered && !o.killing {
			o.killing = true
			ex, fwID, id := o.executor(), o.fw.id, o.id
			grace := m.cfg.KillGracePeriod
			m.after(func() { ex.Kill(fwID, id, grace) })
		}
	}
}

// forward sends the in-flight update of t to its framework (subject to the
// drop/duplicate/delay faults) and arms the retry. Caller holds mu.
func (m *Master) forward(t *task) {
	if len(t.pending) == 0 || !t.agent.reachable() {
		return
	}
	head := t.pending[0]
	m.deliverUpdate(t.fw, head, true)
	if t.retry != nil {
		t.retry.Stop()
	}
	t.retry = m.afterFunc(t.retries.Next(), func() {
		t.retry = nil
		if len(t.pending) == 0 || t.pending[0] != head {
			return
		}
		m.forward(t)
	})
}

// deliverUpdate pushes an UPDATE event if fw is connected; agent updates go
// through the fault injector. Caller holds mu.
func (m *Master) deliverUpdate(fw *framework, s *mesos.TaskStatus, fromAgent bool) {
	if fw.stream == nil {
		return
	}
	ev := &scheduler.Event{Type: scheduler.Event_UPDATE, Update: &scheduler.Event_Update{Status: *s}}
	if !fromAgent {
		fw.stream.push(ev)
		return
	}
	m.injectUpdate(fw, ev)
}

// masterUpdate sends a master-generated update (no uuid, never retried).
// Caller holds mu.
func (m *Master) masterUpdate(fw *framework, taskID string, agentID string, st mesos.TaskState, reason mesos.TaskStatus_Reason, msg string) *mesos.TaskStatus {
	ts := float64(m.clk.Now().UnixNano()) / 1e9
	s := &mesos.TaskStatus{
		TaskID:    mesos.TaskID{Value: taskID},
		State:     st.Enum(),
		Source:    mesos.SOURCE_MASTER.Enum(),
		Reason:    reason.Enum(),
		Timestamp: &ts,
	}
	if msg != "" {
		s.Message = &msg
	}
	if agentID != "" {
		s.AgentID = &mesos.AgentID{Value: agentID}
	}
	m.deliverUpdate(fw, s, false)
	return s
}

// resendPending resends the in-flight update of every task of fw right
// away (framework re-subscribed). Caller holds mu.
func (m *Master) resendPending(fw *framework) {
	ts := make([]*task, 0, len(fw.tasks))
	for _, t := range fw.tasks {
		if len(t.pending) > 0 {
			ts = append(ts, t)
		}
	}
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	for _, t := range ts {
		t.retries.Reset()
		m.forward(t)
	}
}

// acknowledge handles ACKNOWLEDGE. Caller holds mu.
func (m *Master) acknowledge(fw *framework, ack *scheduler.Call_Acknowledge) {
	a := m.agents[ack.AgentID.Value]
	if a == nil || !a.reachable() {
		return
	}
	t := a.tasks[taskKey(fw.id, ack.TaskID.Value)]
	if t == nil || len(t.pending) == 0 || string(t.pending[0].UUID) != string(ack.UUID) {
		return // stale or duplicate
	}
	head := t.pending[0]
	t.pending = t.pending[1:]
	if t.retry != nil {
		t.retry.Stop()
		t.retry = nil
	}
	t.retries.Reset()
	if isTerminal(head.GetState()) {
		t.pending = nil
		m.completeTask(t)
		return
	}
	if len(t.pending) > 0 {
		m.forward(t)
	}
}

// completeTask removes t from the live sets and keeps it in the framework's
// bounded completed list. Caller holds mu.
func (m *Master) completeTask(t *task) {
	t.stopTimers()
	if t.fw.tasks[t.id] == t {
		delete(t.fw.tasks, t.id)
	}
	if t.fw.unreachable[t.id] == t {
		delete(t.fw.unreachable, t.id)
	}
	if t.agent.tasks[taskKey(t.fw.id, t.id)] == t {
		delete(t.agent.tasks, taskKey(t.fw.id, t.id))
	}
	t.fw.completed = append(t.fw.completed, t)
	if n := len(t.fw.completed) - m.cfg.MaxCompletedTasks; n > 0 {
		t.fw.completed = t.fw.completed[n:]
	}
}

// removeExecutor terminates an executor record and frees its resources; a
// non-nil status sends FAILURE{agent_id, executor_id, status}. Caller holds mu.
func (m *Master) removeExecutor(a *agent, key string, status *int32) {
	e := a.executors[key]
	if e == nil {
		return
	}
	delete(a.executors, key)
	a.free.add(e.res)
	if fw := m.frameworks[e.fwID]; fw != nil {
		fw.allocated.sub(e.res)
		if status != nil && fw.stream != nil {
			fw.stream.push(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{
				AgentID: &mesos.AgentID{Value: a.id}, ExecutorID: &mesos.ExecutorID{Value: e.id}, Status: status,
			}})
		}
	}
}
