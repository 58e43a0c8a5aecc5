package sim

import (
	"fmt"
	"net"
	"sort"
	"strconv"
	"strings"
	"time"

	mesos "github.com/mesos/mesos-go/api/v1/lib"

	"github.com/sprint-project/sprint/internal/clock"
)

// agentState is the master's view of an agent.
type agentState int

const (
	agentActive       agentState = iota // registered and connected
	agentDisconnected                   // TCP broken, not yet unreachable
	agentUnreachable                    // partitioned: tasks reported unreachable/lost
	agentRecovering                     // known from the registry after master failover, not re-registered
	agentGone                           // marked gone by the operator, never back
)

func (s agentState) String() string {
	return [...]string{"active", "disconnected", "unreachable", "recovering", "gone"}[s]
}

// agent is a simulated agent: the master's record of it and the agent-side
// state (tasks, status update streams, executors) in one place.
type agent struct {
	id        string
	index     int
	hostname  string
	total     resVec
	free      resVec // neither used by tasks/executors nor offered
	attrs     []mesos.Attribute
	state     agentState
	unreachAt time.Time
	exec      Executor
	custom    *SimulatedExecutor       // runs custom executors' tasks (scripted)
	tasks     map[string]*task         // by taskKey(fw, task id), incl. unreachable ones
	executors map[string]*executorInfo // by fw + "/" + executor id
	timer     clock.Timer              // pending ping-timeout / re-registration
}

// executorInfo is a custom or default (task group) executor on an agent; its
// resources are charged once per (framework, executor id, agent).
type executorInfo struct {
	fwID  string
	id    string
	info  mesos.ExecutorInfo
	res   resVec
	tasks map[string]*task
}

func taskKey(fwID, taskID string) string { return fwID + "\x00" + taskID }

// addAgentLocked registers an agent. Caller holds mu.
func (m *Master) addAgentLocked(ac AgentConfig) (*agent, error) {
	res, err := parseResources(ac.Resources)
	if err != nil {
		return nil, err
	}
	attrs, err := parseAttributes(ac.Attributes)
	if err != nil {
		return nil, err
	}
	id := fmt.Sprintf("%s-S%d", m.masterID, m.nextAgentID)
	host, _ := m.hostPort()
	if ac.Hostname != "" {
		host = ac.Hostname
	}
	env := ExecutorEnv{AgentID: id, Clock: m.clk, Logger: m.log.With("agent_id", id), KillGrace: m.cfg.KillGracePeriod,
		Environment: m.cfg.ExecutorEnvironment, SwitchUser: m.cfg.SwitchUser}
	ex, err := m.exec(ac.Executor, env)
	if err != nil {
		return nil, fmt.Errorf("agent %s: %w", id, err)
	}
	a := &agent{
		id:        id,
		index:     m.nextAgentID,
		hostname:  host,
		total:     res,
		free:      res.clone(),
		attrs:     attrs,
		exec:      ex,
		custom:    NewSimulatedExecutor(m.clk),
		tasks:     map[string]*task{},
		executors: map[string]*executorInfo{},
	}
	m.nextAgentID++
	m.agents[id] = a
	m.agentList = append(m.agentList, a)
	m.log.Info("agent registered", "agent_id", id, "resources", res.String())
	return a, nil
}

// AddAgent registers another agent at run time and triggers an allocation.
func (m *Master) AddAgent(ac AgentConfig) (string, error) {
	if ac.Resources == "" {
		ac.Resources = DefaultAgentResources
	}
	m.lock()
	defer m.unlock()
	if m.closed {
		return "", ErrClosed
	}
	a, err := m.addAgentLocked(ac)
	if err != nil {
		return "", err
	}
	m.allocate()
	return a.id, nil
}

// AgentIDs lists the agents' ids in registration order.
func (m *Master) AgentIDs() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	ids := make([]string, 0, len(m.agentList))
	for _, a := range m.agentList {
		ids = append(ids, a.id)
	}
	return ids
}

// url is the agent's libprocess URL as Offer.url carries it. All agents are
// served by the simulator's own listener.
func (m *Master) agentURL(a *agent) *mesos.URL {
	_, port := m.hostPort()
	host := a.hostname
	path := fmt.Sprintf("/slave(%d)", a.index+1)
	return &mesos.URL{Scheme: "http", Address: mesos.Address{Hostname: &host, IP: &host, Port: int32(port)}, Path: &path}
}

func (m *Master) agentPID(a *agent) string {
	return fmt.Sprintf("slave(%d)@%s", a.index+1, m.agentEndpoint(a))
}

// agentEndpoint is the host:port the agent serves on. Caller holds mu.
func (m *Master) agentEndpoint(a *agent) string {
	_, port := m.hostPort()
	return net.JoinHostPort(a.hostname, strconv.Itoa(port))
}

// parseAttributes parses mesos-agent --attributes: "rack:r1;cores:8;ports:[1-2];tags:{a,b}".
func parseAttributes(s string) ([]mesos.Attribute, error) {
	var out []mesos.Attribute
	for _, part := range strings.Split(s, ";") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, val, ok := strings.Cut(part, ":")
		if !ok || name == "" {
			return nil, fmt.Errorf("parse attribute %q: want name:value", part)
		}
		at := mesos.Attribute{Name: name}
		switch {
		case strings.HasPrefix(val, "["):
			rs, err := parseRanges(val)
			if err != nil {
				return nil, fmt.Errorf("parse attribute %q: %w", part, err)
			}
			at.Type = mesos.RANGES
			at.Ranges = &mesos.Value_Ranges{Range: rs}
		case strings.HasPrefix(val, "{"):
			at.Type = mesos.SET
			items := strings.Split(strings.Trim(val, "{}"), ",")
			at.Set = &mesos.Value_Set{Item: items}
		default:
			if f, err := strconv.ParseFloat(val, 64); err == nil {
				at.Type = mesos.SCALAR
				at.Scalar = &mesos.Value_Scalar{Value: f}
			} else {
				at.Type = mesos.TEXT
				at.Text = &mesos.Value_Text{Value: val}
			}
		}
		out = append(out, at)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// executorIDsFor lists fw's executors on a (Offer.executor_ids). Caller holds mu.
func (a *agent) executorIDsFor(fwID string) []mesos.ExecutorID {
	var ids []mesos.ExecutorID
	for _, e := range a.executors {
		if e.fwID == fwID {
			ids = append(ids, mesos.ExecutorID{Value: e.id})
		}
	}
	sort.Slice(ids, func(i, j int) bool { return ids[i].Value < ids[j].Value })
	return ids
}

func (a *agent) reachable() bool { return a.state == agentActive }
