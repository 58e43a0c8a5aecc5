package sim

import (
	"sort"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// reconcile answers RECONCILE (§6.2): implicit with no tasks, explicit
// otherwise. Replies are master updates (no uuid). Caller holds mu.
func (m *Master) reconcile(fw *framework, tasks []scheduler.Call_Reconcile_Task) {
	if len(tasks) == 0 {
		ts := make([]*task, 0, len(fw.tasks))
		for _, t := range fw.tasks {
			if t.agent.state != agentRecovering {
				ts = append(ts, t)
			}
		}
		sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
		for _, t := range ts {
			m.reconcileKnown(fw, t)
		}
		return
	}
	pa := fw.partitionAware()
	pick := func(paState mesos.TaskState) mesos.TaskState {
		if pa {
			return paState
		}
		return mesos.TASK_LOST
	}
	for _, rt := range tasks {
		if t := fw.tasks[rt.TaskID.Value]; t != nil && t.agent.state != agentRecovering {
			m.reconcileKnown(fw, t)
			continue
		}
		id := rt.TaskID.Value
		if rt.AgentID == nil {
			if m.anyAgentRecovering() {
				continue // no reply: the scheduler must retry
			}
			m.masterUpdate(fw, id, "", pick(mesos.TASK_UNKNOWN), mesos.REASON_RECONCILIATION, "Reconciliation: Task is unknown")
			continue
		}
		aid := rt.AgentID.Value
		a := m.agents[aid]
		switch {
		case a == nil:
			m.masterUpdate(fw, id, aid, pick(mesos.TASK_UNKNOWN), mesos.REASON_RECONCILIATION, "Reconciliation: Task is unknown")
		case a.state == agentRecovering:
			// no reply until the agent re-registers
		case a.state == agentUnreachable:
			s := m.masterUpdateStatus(id, aid, pick(mesos.TASK_UNREACHABLE), "Reconciliation: Task is unreachable")
			s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: a.unreachAt.UnixNano()}
			m.deliverUpdate(fw, s, false)
		case a.state == agentGone:
			m.masterUpdate(fw, id, aid, pick(mesos.TASK_GONE_BY_OPERATOR), mesos.REASON_RECONCILIATION, "Reconciliation: Task is gone")
		default:
			m.masterUpdate(fw, id, aid, pick(mesos.TASK_GONE), mesos.REASON_RECONCILIATION, "Reconciliation: Task is unknown to the agent")
		}
	}
}

// masterUpdateStatus builds (without sending) a reconciliation update.
func (m *Master) masterUpdateStatus(taskID, agentID string, st mesos.TaskState, msg string) *mesos.TaskStatus {
	ts := float64(m.clk.Now().UnixNano()) / 1e9
	return &mesos.TaskStatus{
		TaskID:    mesos.TaskID{Value: taskID},
		State:     st.Enum(),
		Source:    mesos.SOURCE_MASTER.Enum(),
		Reason:    mesos.REASON_RECONCILIATION.Enum(),
		Message:   &msg,
		AgentID:   &mesos.AgentID{Value: agentID},
		Timestamp: &ts,
	}
}

// reconcileKnown reports a known task's status_update_state. Caller holds mu.
func (m *Master) reconcileKnown(fw *framework, t *task) {
	s := m.masterUpdateStatus(t.id, t.agent.id, t.updateState(), "Reconciliation: Latest task state")
	s.ExecutorID = &mesos.ExecutorID{Value: t.execID}
	if t.last != nil {
		s.Healthy = t.last.Healthy
		s.CheckStatus = t.last.CheckStatus
		s.ContainerStatus = t.last.ContainerStatus
	}
	if t.state == mesos.TASK_UNREACHABLE || !t.unreachAt.IsZero() && t.updateState() == mesos.TASK_UNREACHABLE {
		s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: t.unreachAt.UnixNano()}
	}
	m.deliverUpdate(fw, s, false)
}

func (m *Master) anyAgentRecovering() bool {
	for _, a := range m.agentList {
		if a.state == agentRecovering {
			return true
		}
	}
	return false
}
