package sim

import (
	"fmt"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// accept handles ACCEPT (§2.2). Caller holds mu.
func (m *Master) accept(fw *framework, acc *scheduler.Call_Accept) {
	offers, err := m.validateOffers(fw, acc.OfferIDs)
	if err != nil {
		for _, id := range acc.OfferIDs {
			if o := m.offers[id.Value]; o != nil && o.fw == fw {
				m.removeOffer(o) // recovered without a filter
			}
		}
		lost := mesos.TASK_LOST
		if fw.partitionAware() {
			lost = mesos.TASK_DROPPED
		}
		for _, op := range acc.Operations {
			for _, ti := range opTasks(op) {
				m.masterUpdate(fw, ti.TaskID.Value, "", lost, mesos.REASON_INVALID_OFFERS, "Task launched with invalid offers: "+err.Error())
			}
			m.operationError(fw, op)
		}
		return
	}
	a := offers[0].agent
	role := offers[0].role
	remaining := newResVec()
	for _, o := range offers {
		m.takeOffer(o)
		remaining.add(o.res)
	}
	for _, op := range acc.Operations {
		switch op.Type {
		case mesos.Offer_Operation_LAUNCH:
			if op.Launch == nil {
				continue
			}
			for _, ti := range op.Launch.TaskInfos {
				if op.ID != nil {
					m.masterUpdate(fw, ti.TaskID.Value, "", mesos.TASK_ERROR, mesos.REASON_TASK_INVALID, "The 'id' field cannot be set on LAUNCH operations")
					continue
				}
				m.acceptLaunch(fw, a, role, ti, remaining)
			}
		case mesos.Offer_Operation_LAUNCH_GROUP:
			if op.LaunchGroup == nil {
				continue
			}
			m.acceptLaunchGroup(fw, a, role, op, remaining)
		default:
			m.operationError(fw, op)
		}
	}
	a.free.add(remaining)
	m.addFilter(fw, role, a, remaining, acc.Filters)
}

func opTasks(op mesos.Offer_Operation) []mesos.TaskInfo {
	switch {
	case op.Type == mesos.Offer_Operation_LAUNCH && op.Launch != nil:
		return op.Launch.TaskInfos
	case op.Type == mesos.Offer_Operation_LAUNCH_GROUP && op.LaunchGroup != nil:
		return op.LaunchGroup.TaskGroup.Tasks
	}
	return nil
}

// operationError reports OPERATION_ERROR for a non-launch operation with an
// id: the simulated agents have no RESOURCE_PROVIDER capability.
func (m *Master) operationError(fw *framework, op mesos.Offer_Operation) {
	if op.ID == nil || op.Type == mesos.Offer_Operation_LAUNCH || op.Type == mesos.Offer_Operation_LAUNCH_GROUP || fw.stream == nil {
		return
	}
	msg := "Operation not supported by the simulated agent"
	fw.stream.push(&scheduler.Event{Type: scheduler.Event_UPDATE_OPERATION_STATUS, UpdateOperationStatus: &scheduler.Event_UpdateOperationStatus{
		Status: mesos.OperationStatus{OperationID: op.ID, State: mesos.OPERATION_ERROR, Message: &msg},
	}})
}

// validateOffers applies the master's offer validation, in order.
func (m *Master) validateOffers(fw *framework, ids []mesos.OfferID) ([]*offer, error) {
	if len(ids) == 0 {
		return nil, wireErrf("No offers specified")
	}
	seen := map[string]bool{}
	for _, id := range ids {
		if seen[id.Value] {
			return nil, wireErrf("Duplicate offer %s in offer list", id.Value)
		}
		seen[id.Value] = true
	}
	var out []*offer
	for _, id := range ids {
		o := m.offers[id.Value]
		if o == nil {
			return nil, wireErrf("Offer %s is no longer valid", id.Value)
		}
		out = append(out, o)
	}
	for _, o := range out {
		if o.fw != fw {
			return nil, wireErrf("Offer %s has invalid framework %s while framework %s is expected", o.id, o.fw.id, fw.id)
		}
	}
	for _, o := range out[1:] {
		if o.role != out[0].role {
			return nil, wireErrf("Aggregated offers must be allocated to the same role. Offer %s uses role %s but %s uses role %s", o.id, o.role, out[0].id, out[0].role)
		}
		if o.agent != out[0].agent {
			return nil, wireErrf("Aggregated offers must belong to one single agent. Offer %s uses agent %s and offer %s uses agent %s", o.id, o.agent.id, out[0].id, out[0].agent.id)
		}
	}
	return out, nil
}

// acceptLaunch validates and launches one LAUNCH task. Caller holds mu.
func (m *Master) acceptLaunch(fw *framework, a *agent, role string, ti mesos.TaskInfo, remaining resVec) {
	charged := false
	if ti.Executor != nil {
		charged = a.executors[fw.id+"/"+ti.Executor.ExecutorID.Value] != nil
	}
	res, execRes, err := m.validateTask(fw, a, &ti, remaining, charged, false)
	if err != nil {
		m.masterUpdate(fw, ti.TaskID.Value, ti.AgentID.Value, mesos.TASK_ERROR, mesos.REASON_TASK_INVALID, err.Error())
		return
	}
	injectAllocation(&ti, role)
	remaining.sub(res)
	if !charged {
		remaining.sub(execRes)
	}
	m.launchTask(fw, a, ti, res, ti.Executor, execRes, ti.Executor != nil)
}

// acceptLaunchGroup validates a task group all-or-nothing. Caller holds mu.
func (m *Master) acceptLaunchGroup(fw *framework, a *agent, role string, op mesos.Offer_Operation, remaining resVec) {
	lg := op.LaunchGroup
	ei := lg.Executor
	if ei.FrameworkID == nil {
		ei.FrameworkID = &mesos.FrameworkID{Value: fw.id}
	}
	fail := func(msg string) {
		for _, ti := range lg.TaskGroup.Tasks {
			m.masterUpdate(fw, ti.TaskID.Value, ti.AgentID.Value, mesos.TASK_ERROR, mesos.REASON_TASK_GROUP_INVALID, msg)
		}
	}
	if op.ID != nil {
		fail("The 'id' field cannot be set on LAUNCH_GROUP operations")
		return
	}
	if ei.Type != mesos.ExecutorInfo_DEFAULT {
		fail("'ExecutorInfo.type' must be 'DEFAULT'")
		return
	}
	if err := validateID(ei.ExecutorID.Value); err != nil {
		fail(fmt.Sprintf("Executor ID '%s' is invalid: %v", ei.ExecutorID.Value, err))
		return
	}
	if len(lg.TaskGroup.Tasks) == 0 {
		fail("Task group must contain at least one task")
		return
	}
	key := fw.id + "/" + ei.ExecutorID.Value
	charged := a.executors[key] != nil
	execRes := newResVec()
	if len(ei.Resources) > 0 {
		v, _, err := resourcesToVec(ei.Resources)
		if err != nil {
			fail("Executor uses invalid resources: " + err.Error())
			return
		}
		execRes = v
	}
	left := remaining.clone()
	if !charged {
		if !left.contains(execRes) {
			fail("Executor resources are more than available")
			return
		}
		left.sub(execRes)
	}
	seen := map[string]bool{}
	var ress []resVec
	for _, ti := range lg.TaskGroup.Tasks {
		if seen[ti.TaskID.Value] {
			fail("Duplicate task " + ti.TaskID.Value + " in task group")
			return
		}
		seen[ti.TaskID.Value] = true
		if ti.Executor != nil {
			fail(fmt.Sprintf("'TaskInfo.executor' must not be set for task %s", ti.TaskID.Value))
			return
		}
		if ti.Command == nil {
			fail(fmt.Sprintf("Task '%s' in task group must have 'CommandInfo'", ti.TaskID.Value))
			return
		}
		res, _, err := m.validateTask(fw, a, &ti, left, true, true)
		if err != nil {
			fail(err.Error())
			return
		}
		left.sub(res)
		ress = append(ress, res)
	}
	if !charged {
		remaining.sub(execRes)
	}
	var group []*task
	for i, ti := range lg.TaskGroup.Tasks {
		injectAllocation(&ti, role)
		remaining.sub(ress[i])
		t := m.launchTaskDeferred(fw, a, ti, ress[i], &ei, execRes)
		group = append(group, t)
	}
	for _, t := range group {
		t.group = group
	}
	for _, t := range group {
		m.scheduleDelivery(t)
	}
}

// injectAllocation adds the offer's allocation_info to resources lacking it.
func injectAllocation(ti *mesos.TaskInfo, role string) {
	rs := make([]mesos.Resource, len(ti.Resources))
	copy(rs, ti.Resources)
	for i := range rs {
		if rs[i].AllocationInfo == nil {
			r := role
			rs[i].AllocationInfo = &mesos.Resource_AllocationInfo{Role: &r}
		}
	}
	ti.Resources = rs
}

// kill handles KILL (§2.2). Caller holds mu.
func (m *Master) kill(fw *framework, k *scheduler.Call_Kill) {
	t := fw.tasks[k.TaskID.Value]
	if t == nil || t.agent.state == agentRecovering {
		rt := scheduler.Call_Reconcile_Task{TaskID: k.TaskID, AgentID: k.AgentID}
		m.reconcile(fw, []scheduler.Call_Reconcile_Task{rt})
		return
	}
	if k.AgentID != nil && k.AgentID.Value != t.agent.id {
		return
	}
	if isTerminal(t.state) {
		return
	}
	grace := m.cfg.KillGracePeriod
	if kp := t.info.KillPolicy; kp != nil && kp.GracePeriod != nil {
		grace = time.Duration(kp.GracePeriod.Nanoseconds)
	}
	if kp := k.KillPolicy; kp != nil && kp.GracePeriod != nil {
		grace = time.Duration(kp.GracePeriod.Nanoseconds)
	}
	m.killTask(t, grace)
}

// killTask kills t on its agent (pending until the agent is reachable).
// Caller holds mu.
func (m *Master) killTask(t *task, grace time.Duration) {
	if !t.agent.reachable() {
		return
	}
	if !t.delivered {
		ts := []*task{t}
		if len(t.group) > 0 {
			ts = t.group
		}
		for _, x := range ts {
			if !isTerminal(x.state) && !x.delivered {
				if x.launchTimer != nil {
					x.launchTimer.Stop()
					x.launchTimer = nil
				}
				x.delivered = true // never delivered now
				m.agentUpdate(x, mesos.TASK_KILLED, mesos.SOURCE_AGENT, mesos.REASON_TASK_KILLED_DURING_LAUNCH.Enum(), "Killed before delivery to the executor")
			}
		}
		return
	}
	if !t.custom && t.fw.has(mesos.FrameworkInfo_Capability_TASK_KILLING_STATE) && !t.killing {
		m.agentUpdate(t, mesos.TASK_KILLING, mesos.SOURCE_EXECUTOR, nil, "Command killing")
	}
	t.killing = true
	ex, fwID, id := t.executor(), t.fw.id, t.id
	m.after(func() { ex.Kill(fwID, id, grace) })
}

// shutdownExecutor handles SHUTDOWN: the custom executor kills its tasks and
// exits; FAILURE follows. Caller holds mu.
func (m *Master) shutdownExecutor(fw *framework, s *scheduler.Call_Shutdown) {
	a := m.agents[s.AgentID.Value]
	if a == nil || !a.reachable() {
		return
	}
	key := fw.id + "/" + s.ExecutorID.Value
	e := a.executors[key]
	if e == nil {
		return
	}
	ids := make([]string, 0, len(e.tasks))
	for id := range e.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := e.tasks[id]
		if !isTerminal(t.state) {
			t.killing = true
			if t.launchTimer != nil {
				t.launchTimer.Stop()
				t.launchTimer = nil
			}
			ex, fwID, tid := t.executor(), fw.id, t.id
			m.after(func() { ex.Kill(fwID, tid, 0) })
			m.agentUpdate(t, mesos.TASK_KILLED, mesos.SOURCE_EXECUTOR, nil, "Executor shut down")
		}
	}
	status := int32(0)
	m.removeExecutor(a, key, &status)
}

// crashExecutor simulates a custom executor dying: live tasks fail with
// REASON_EXECUTOR_TERMINATED and FAILURE is sent. Caller holds mu.
func (m *Master) crashExecutor(a *agent, key string, status int32) bool {
	e := a.executors[key]
	if e == nil {
		return false
	}
	ids := make([]string, 0, len(e.tasks))
	for id := range e.tasks {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		t := e.tasks[id]
		if !isTerminal(t.state) {
			ex, fwID, tid := t.executor(), t.fw.id, t.id
			m.after(func() { ex.Kill(fwID, tid, 0) })
			m.agentUpdate(t, mesos.TASK_FAILED, mesos.SOURCE_AGENT, mesos.REASON_EXECUTOR_TERMINATED.Enum(), "Executor terminated")
		}
	}
	m.removeExecutor(a, key, &status)
	return true
}

// message forwards MESSAGE to a custom executor; the simulated executor
// echoes the data back as a scheduler MESSAGE event. Caller holds mu.
func (m *Master) message(fw *framework, msg *scheduler.Call_Message) {
	a := m.agents[msg.AgentID.Value]
	if a == nil || !a.reachable() || a.executors[fw.id+"/"+msg.ExecutorID.Value] == nil || fw.stream == nil {
		return
	}
	fw.stream.push(&scheduler.Event{Type: scheduler.Event_MESSAGE, Message: &scheduler.Event_Message{
		AgentID: msg.AgentID, ExecutorID: msg.ExecutorID, Data: append([]byte(nil), msg.Data...),
	}})
}
