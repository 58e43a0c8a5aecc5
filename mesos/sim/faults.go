package sim

import (
	"fmt"
	"sort"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
	"github.com/mesos/mesos-go/api/v1/lib/scheduler"
)

// faults are the injected misbehaviours. Guarded by Master.mu.
type faults struct {
	heartbeatsStopped bool
	// Rates in [0,1] applied to agent status updates on their way to the
	// scheduler (each delivery, retries included).
	dropRate      float64
	duplicateRate float64
	delayRate     float64
	delay         time.Duration
}

// UpdateFaults configures status update faults: each forwarded agent update
// is dropped with probability Drop, else delivered twice with probability
// Duplicate, else delayed by Delay with probability DelayRate.
type UpdateFaults struct {
	Drop      float64       `json:"drop"`
	Duplicate float64       `json:"duplicate"`
	DelayRate float64       `json:"delay_rate"`
	Delay     time.Duration `json:"delay"`
}

// SetUpdateFaults replaces the status update faults (zero value: none).
func (m *Master) SetUpdateFaults(f UpdateFaults) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults.dropRate, m.faults.duplicateRate = f.Drop, f.Duplicate
	m.faults.delayRate, m.faults.delay = f.DelayRate, f.Delay
}

// SetHeartbeats stops (false) or resumes (true) HEARTBEAT events while
// keeping the streams open, to emulate a silent partition.
func (m *Master) SetHeartbeats(on bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.faults.heartbeatsStopped = !on
}

// injectUpdate delivers an agent UPDATE through the fault injector. Caller holds mu.
func (m *Master) injectUpdate(fw *framework, ev *scheduler.Event) {
	f := m.faults
	if f.dropRate > 0 && m.rng.Float64() < f.dropRate {
		return
	}
	if f.duplicateRate > 0 && m.rng.Float64() < f.duplicateRate {
		fw.stream.push(ev)
		fw.stream.push(ev)
		return
	}
	if f.delayRate > 0 && f.delay > 0 && m.rng.Float64() < f.delayRate {
		s := fw.stream
		m.afterFunc(f.delay, func() {
			if fw.stream == s {
				s.push(ev)
			}
		})
		return
	}
	fw.stream.push(ev)
}

// DropConnections closes every scheduler stream, as if the TCP connections
// broke: frameworks become disconnected (failover timeouts start).
func (m *Master) DropConnections() {
	m.lock()
	defer m.unlock()
	for _, fw := range m.sortedFrameworks() {
		if fw.stream != nil {
			m.disconnect(fw)
		}
	}
}

func (m *Master) sortedFrameworks() []*framework {
	out := make([]*framework, 0, len(m.frameworks))
	for _, fw := range m.frameworks {
		out = append(out, fw)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].id < out[j].id })
	return out
}

func (m *Master) agentByID(id string) (*agent, error) {
	a := m.agents[id]
	if a == nil {
		return nil, fmt.Errorf("%w: %s", ErrUnknownAgent, id)
	}
	return a, nil
}

// agentTasks returns a's tasks sorted by framework and id. Caller holds mu.
func agentTasks(a *agent) []*task {
	ts := make([]*task, 0, len(a.tasks))
	for _, t := range a.tasks {
		ts = append(ts, t)
	}
	sort.Slice(ts, func(i, j int) bool {
		if ts[i].fw.id != ts[j].fw.id {
			return ts[i].fw.id < ts[j].fw.id
		}
		return ts[i].id < ts[j].id
	})
	return ts
}

// PartitionAgent makes an agent unreachable. With afterPingTimeout the agent
// first stays silently disconnected for AgentPingTimeout, as when pings
// fail; otherwise it is marked unreachable at once: offers rescinded,
// tasks TASK_UNREACHABLE (PARTITION_AWARE) or TASK_LOST with
// REASON_AGENT_REMOVED, FAILURE{agent_id} to every connected framework.
func (m *Master) PartitionAgent(id string, afterPingTimeout bool) error {
	m.lock()
	defer m.unlock()
	a, err := m.agentByID(id)
	if err != nil {
		return err
	}
	if a.state != agentActive && a.state != agentDisconnected {
		return fmt.Errorf("agent %s is %s", id, a.state)
	}
	m.rescindAgentOffers(a)
	a.state = agentDisconnected
	if afterPingTimeout {
		a.timer = m.afterFunc(m.cfg.AgentPingTimeout, func() {
			if a.state == agentDisconnected {
				m.markUnreachable(a)
			}
		})
		return nil
	}
	m.markUnreachable(a)
	return nil
}

// markUnreachable is Master::_markUnreachable. Caller holds mu.
func (m *Master) markUnreachable(a *agent) {
	now := m.clk.Now()
	a.state = agentUnreachable
	a.unreachAt = now
	for _, t := range agentTasks(a) {
		if isTerminal(t.state) {
			continue // terminal but un-ACKed: kept until the agent returns
		}
		t.unreachAt = now
		st := mesos.TASK_LOST
		if t.fw.partitionAware() {
			st = mesos.TASK_UNREACHABLE
		}
		delete(t.fw.tasks, t.id)
		t.fw.unreachable[t.id] = t
		t.preUnreach, t.state, t.masked = t.state, st, true
		s := m.masterUpdateStatus(t.id, a.id, st, "Agent "+a.hostname+" is unreachable")
		s.Reason = mesos.REASON_AGENT_REMOVED.Enum()
		s.UnreachableTime = &mesos.TimeInfo{Nanoseconds: now.UnixNano()}
		s.ExecutorID = &mesos.ExecutorID{Value: t.execID}
		t.recordState(st, now)
		m.deliverUpdate(t.fw, s, false)
	}
	for _, fw := range m.sortedFrameworks() {
		if fw.stream != nil {
			fw.stream.push(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: a.id}}})
		}
	}
	m.log.Info("agent unreachable", "agent_id", a.id)
}

// DisconnectAgent breaks an agent's connection (§4.5): offers rescinded;
// tasks of non-checkpointing frameworks → TASK_LOST REASON_AGENT_DISCONNECTED
// and killed; checkpointing frameworks see nothing until ReconnectAgent or
// the ping timeout (then unreachable).
func (m *Master) DisconnectAgent(id string) error {
	m.lock()
	defer m.unlock()
	a, err := m.agentByID(id)
	if err != nil {
		return err
	}
	if a.state != agentActive {
		return fmt.Errorf("agent %s is %s", id, a.state)
	}
	m.rescindAgentOffers(a)
	a.state = agentDisconnected
	for _, t := range agentTasks(a) {
		if t.fw.info.GetCheckpoint() || isTerminal(t.state) {
			continue
		}
		if t.delivered {
			ex, fwID, tid := t.executor(), t.fw.id, t.id
			m.after(func() { ex.Kill(fwID, tid, 0) })
		}
		t.state = mesos.TASK_LOST
		t.recordState(mesos.TASK_LOST, m.clk.Now())
		m.releaseTask(t)
		s := m.masterUpdateStatus(t.id, a.id, mesos.TASK_LOST, "Agent disconnected")
		s.Reason = mesos.REASON_AGENT_DISCONNECTED.Enum()
		m.deliverUpdate(t.fw, s, false)
		m.completeTask(t)
	}
	a.timer = m.afterFunc(m.cfg.AgentPingTimeout, func() {
		if a.state == agentDisconnected {
			m.markUnreachable(a)
		}
	})
	return nil
}

// RestoreAgent re-registers a disconnected, unreachable or recovering agent:
// its surviving tasks are re-added and, if they had been reported
// unreachable, reported in their actual state with REASON_AGENT_REREGISTERED;
// pending status updates are resent; tasks of removed frameworks are killed.
func (m *Master) RestoreAgent(id string) error {
	m.lock()
	defer m.unlock()
	a, err := m.agentByID(id)
	if err != nil {
		return err
	}
	if a.state == agentGone {
		return fmt.Errorf("agent %s is gone", id)
	}
	m.reregister(a)
	return nil
}

// reregister is Master::__reregisterSlave. Caller holds mu.
func (m *Master) reregister(a *agent) {
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	was := a.state
	a.state = agentActive
	for _, t := range agentTasks(a) {
		if m.frameworks[t.fw.id] != t.fw {
			// Framework removed meanwhile: the agent shuts it down.
			if t.delivered && !isTerminal(t.state) {
				ex, fwID, tid := t.executor(), t.fw.id, t.id
				m.after(func() { ex.Kill(fwID, tid, 0) })
			}
			m.releaseTask(t)
			delete(a.tasks, taskKey(t.fw.id, t.id))
			continue
		}
		if t.fw.unreachable[t.id] == t {
			delete(t.fw.unreachable, t.id)
			t.fw.tasks[t.id] = t
			if t.masked {
				t.state, t.masked = t.preUnreach, false
			}
			t.unreachAt = time.Time{}
			if was == agentUnreachable {
				s := m.masterUpdateStatus(t.id, a.id, t.state, "Unreachable agent re-reregistered")
				s.Reason = mesos.REASON_AGENT_REREGISTERED.Enum()
				s.ExecutorID = &mesos.ExecutorID{Value: t.execID}
				m.deliverUpdate(t.fw, s, false)
			}
		}
		if len(t.pending) > 0 {
			t.retries.Reset()
			m.forward(t)
		}
	}
	m.log.Info("agent re-registered", "agent_id", a.id, "was", was.String())
	m.allocate()
}

// MarkAgentGone is the operator's MARK_AGENT_GONE: tasks become
// TASK_GONE_BY_OPERATOR (PARTITION_AWARE, REASON_AGENT_REMOVED_BY_OPERATOR)
// or TASK_LOST (REASON_AGENT_REMOVED), processes are killed, offers
// rescinded, and the agent never comes back.
func (m *Master) MarkAgentGone(id string) error {
	m.lock()
	defer m.unlock()
	a, err := m.agentByID(id)
	if err != nil {
		return err
	}
	if a.state == agentGone {
		return nil
	}
	if a.timer != nil {
		a.timer.Stop()
		a.timer = nil
	}
	m.rescindAgentOffers(a)
	now := m.clk.Now()
	for _, t := range agentTasks(a) {
		if t.delivered && !isTerminal(t.state) {
			ex, fwID, tid := t.executor(), t.fw.id, t.id
			m.after(func() { ex.Kill(fwID, tid, 0) })
		}
		st, reason := mesos.TASK_LOST, mesos.REASON_AGENT_REMOVED
		if t.fw.partitionAware() {
			st, reason = mesos.TASK_GONE_BY_OPERATOR, mesos.REASON_AGENT_REMOVED_BY_OPERATOR
		}
		if isTerminal(t.state) && t.fw.unreachable[t.id] != t {
			m.completeTask(t)
			continue
		}
		t.state = st
		t.recordState(st, now)
		m.releaseTask(t)
		s := m.masterUpdateStatus(t.id, a.id, st, "Agent "+a.hostname+" was marked as gone")
		s.Reason = reason.Enum()
		m.deliverUpdate(t.fw, s, false)
		m.completeTask(t)
	}
	a.state = agentGone
	for k := range a.executors {
		m.removeExecutor(a, k, nil)
	}
	for _, fw := range m.sortedFrameworks() {
		if fw.stream != nil {
			fw.stream.push(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: a.id}}})
		}
	}
	return nil
}

// CrashExecutor makes a custom executor exit with status: its live tasks
// fail (REASON_EXECUTOR_TERMINATED, SOURCE_AGENT) and FAILURE is sent.
func (m *Master) CrashExecutor(agentID, frameworkID, executorID string, status int32) error {
	m.lock()
	defer m.unlock()
	a, err := m.agentByID(agentID)
	if err != nil {
		return err
	}
	if !m.crashExecutor(a, frameworkID+"/"+executorID, status) {
		return fmt.Errorf("no executor %s of framework %s on agent %s", executorID, frameworkID, agentID)
	}
	return nil
}

// Failover simulates a master failover (§4.4): every stream closes, offers
// vanish, the master answers 503 for FailoverDowntime, then serves with a
// new master id; frameworks re-subscribe with their ids (failover timeouts
// are not kept) and agents re-register AgentReregisterDelay later, except
// those listed in stayAway (they stay "recovering" until RestoreAgent).
// Until an agent re-registers its tasks are invisible to reconciliation.
func (m *Master) Failover(stayAway ...string) {
	m.lock()
	defer m.unlock()
	for _, fw := range m.sortedFrameworks() {
		m.discardOffers(fw, false)
		m.closeStream(fw)
		fw.stopTimers()
		fw.filters = map[string][]*offerFilter{}
		fw.recovered = true
		fw.unregisteredAt = m.clk.Now()
	}
	// A new leader numbers frameworks and offers afresh under its own id.
	m.masterID = m.newUUIDString()
	m.nextFwID, m.nextOfferID = 0, 0
	m.leader.recoveringUntil = m.clk.Now().Add(m.cfg.FailoverDowntime)
	away := map[string]bool{}
	for _, id := range stayAway {
		away[id] = true
	}
	for _, a := range m.agentList {
		if a.state == agentGone || a.state == agentUnreachable {
			continue // the registry keeps them as they are
		}
		if a.timer != nil {
			a.timer.Stop()
			a.timer = nil
		}
		a.state = agentRecovering
		if away[a.id] {
			a.timer = m.afterFunc(m.cfg.AgentReregisterTimeout, func() {
				a.timer = nil
				if a.state == agentRecovering {
					m.reregisterTimeout(a)
				}
			})
			continue
		}
		a.timer = m.afterFunc(m.cfg.FailoverDowntime+m.cfg.AgentReregisterDelay, func() {
			a.timer = nil
			if a.state == agentRecovering {
				m.reregister(a)
			}
		})
	}
	m.log.Info("master failover", "master_id", m.masterID)
}

// reregisterTimeout marks a recovering agent unreachable: the new master
// never learnt its tasks, so no task updates are sent, only FAILURE; its
// tasks reappear if it re-registers later. Caller holds mu.
func (m *Master) reregisterTimeout(a *agent) {
	a.state = agentUnreachable
	a.unreachAt = m.clk.Now()
	for _, t := range agentTasks(a) {
		if t.fw.tasks[t.id] == t {
			delete(t.fw.tasks, t.id)
			t.fw.unreachable[t.id] = t
		}
	}
	for _, fw := range m.sortedFrameworks() {
		if fw.stream != nil {
			fw.stream.push(&scheduler.Event{Type: scheduler.Event_FAILURE, Failure: &scheduler.Event_Failure{AgentID: &mesos.AgentID{Value: a.id}}})
		}
	}
	m.log.Info("agent re-registration timeout", "agent_id", a.id)
}

// SetLeadership makes the simulator a standby that redirects to leader
// (host:port), a master with no known leader (noLeader), or the leader again
// (leader "" and noLeader false).
func (m *Master) SetLeadership(leader string, noLeader bool) {
	m.lock()
	defer m.unlock()
	m.leader.standbyOf = leader
	m.leader.noLeader = noLeader
	if leader != "" || noLeader {
		for _, fw := range m.sortedFrameworks() {
			if fw.stream != nil {
				m.discardOffers(fw, false)
				m.closeStream(fw)
			}
		}
	}
}

// SetRecovering makes the master answer 503 "Master has not finished
// recovery" for d.
func (m *Master) SetRecovering(d time.Duration) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.leader.recoveringUntil = m.clk.Now().Add(d)
}
