package sim

import (
	"encoding/json"
	"net/http"
	"sort"
	"strconv"

	mesos "github.com/mesos/mesos-go/api/v1/lib"
)

// The /master/state document, in the shape of Mesos' master state endpoint
// (the subset clients read).
type (
	stateJSON struct {
		Version             string          `json:"version"`
		ID                  string          `json:"id"`
		PID                 string          `json:"pid"`
		Hostname            string          `json:"hostname"`
		ActivatedSlaves     int             `json:"activated_slaves"`
		DeactivatedSlaves   int             `json:"deactivated_slaves"`
		UnreachableSlaves   int             `json:"unreachable_slaves"`
		Leader              string          `json:"leader"`
		LeaderInfo          *leaderInfoJSON `json:"leader_info,omitempty"`
		Slaves              []slaveJSON     `json:"slaves"`
		Frameworks          []frameworkJSON `json:"frameworks"`
		CompletedFrameworks []frameworkJSON `json:"completed_frameworks"`
	}
	leaderInfoJSON struct {
		ID       string `json:"id"`
		Hostname string `json:"hostname"`
		Port     int    `json:"port"`
		PID      string `json:"pid"`
	}
	slaveJSON struct {
		ID            string         `json:"id"`
		Hostname      string         `json:"hostname"`
		Port          int            `json:"port"`
		PID           string         `json:"pid"`
		Active        bool           `json:"active"`
		Resources     map[string]any `json:"resources"`
		UsedResources map[string]any `json:"used_resources"`
		OfferedRes    map[string]any `json:"offered_resources"`
		Unreserved    map[string]any `json:"unreserved_resources"`
		Attributes    map[string]any `json:"attributes"`
		Capabilities  []string       `json:"capabilities"`
		Version       string         `json:"version"`
		Simulated     map[string]any `json:"sim,omitempty"`
	}
	frameworkJSON struct {
		ID               string         `json:"id"`
		Name             string         `json:"name"`
		PID              string         `json:"pid,omitempty"`
		User             string         `json:"user"`
		Role             string         `json:"role,omitempty"`
		Roles            []string       `json:"roles"`
		Principal        string         `json:"principal,omitempty"`
		Active           bool           `json:"active"`
		Connected        bool           `json:"connected"`
		Recovered        bool           `json:"recovered"`
		FailoverTimeout  float64        `json:"failover_timeout"`
		Checkpoint       bool           `json:"checkpoint"`
		Capabilities     []string       `json:"capabilities"`
		RegisteredTime   float64        `json:"registered_time"`
		UnregisteredTime float64        `json:"unregistered_time"`
		Resources        map[string]any `json:"resources"`
		UsedResources    map[string]any `json:"used_resources"`
		OfferedResources map[string]any `json:"offered_resources"`
		Tasks            []taskJSON     `json:"tasks"`
		UnreachableTasks []taskJSON     `json:"unreachable_tasks"`
		CompletedTasks   []taskJSON     `json:"completed_tasks"`
		Offers           []offerJSON    `json:"offers"`
		Executors        []any          `json:"executors"`
	}
	taskJSON struct {
		ID          string         `json:"id"`
		Name        string         `json:"name"`
		FrameworkID string         `json:"framework_id"`
		ExecutorID  string         `json:"executor_id"`
		SlaveID     string         `json:"slave_id"`
		AgentID     string         `json:"agent_id"`
		State       string         `json:"state"`
		Resources   map[string]any `json:"resources"`
		Role        string         `json:"role"`
		Statuses    []statusJSON   `json:"statuses"`
		Labels      []labelJSON    `json:"labels,omitempty"`
		Sandbox     string         `json:"sandbox,omitempty"`
	}
	statusJSON struct {
		State     string  `json:"state"`
		Timestamp float64 `json:"timestamp"`
	}
	labelJSON struct {
		Key   string `json:"key"`
		Value string `json:"value,omitempty"`
	}
	offerJSON struct {
		ID          string         `json:"id"`
		FrameworkID string         `json:"framework_id"`
		SlaveID     string         `json:"slave_id"`
		Resources   map[string]any `json:"resources"`
	}
)

// resJSON renders resources as Mesos' state endpoints do: scalars as
// numbers, ranges as "[a-b, c-d]".
func resJSON(r resVec) map[string]any {
	out := map[string]any{}
	for _, k := range []string{"cpus", "mem", "disk", "gpus"} {
		out[k] = r.scalar(k)
	}
	for k := range r.scalars {
		out[k] = r.scalar(k)
	}
	for k, rs := range r.ranges {
		s := "["
		for i, x := range rs {
			if i > 0 {
				s += ", "
			}
			s += jsonItoa(x.Begin) + "-" + jsonItoa(x.End)
		}
		out[k] = s + "]"
	}
	return out
}

func jsonItoa(u uint64) string { return strconv.FormatUint(u, 10) }

func attrsJSON(as []mesos.Attribute) map[string]any {
	out := map[string]any{}
	for _, a := range as {
		switch {
		case a.Text != nil:
			out[a.Name] = a.Text.Value
		case a.Scalar != nil:
			out[a.Name] = a.Scalar.Value
		case a.Ranges != nil:
			out[a.Name] = resJSON(resVec{ranges: map[string][]mesos.Value_Range{"r": a.Ranges.Range}, scalars: map[string]int64{}})["r"]
		case a.Set != nil:
			out[a.Name] = "{" + joinStrings(a.Set.Item) + "}"
		}
	}
	return out
}

func joinStrings(ss []string) string {
	out := ""
	for i, s := range ss {
		if i > 0 {
			out += ","
		}
		out += s
	}
	return out
}

func secs(t interface{ UnixNano() int64 }) float64 { return float64(t.UnixNano()) / 1e9 }

func (m *Master) taskJSON(t *task) taskJSON {
	role := "*"
	if len(t.info.Resources) > 0 && t.info.Resources[0].AllocationInfo != nil {
		role = t.info.Resources[0].AllocationInfo.GetRole()
	}
	tj := taskJSON{
		ID: t.id, Name: t.info.Name, FrameworkID: t.fw.id, ExecutorID: "", SlaveID: t.agent.id, AgentID: t.agent.id,
		State: t.state.String(), Resources: resJSON(t.res), Role: role, Statuses: []statusJSON{}, Sandbox: t.sandbox,
	}
	if t.custom || t.execKey != "" {
		tj.ExecutorID = t.execID
	}
	for _, s := range t.statuses {
		tj.Statuses = append(tj.Statuses, statusJSON{State: s.state.String(), Timestamp: secs(s.at)})
	}
	if t.info.Labels != nil {
		for _, l := range t.info.Labels.Labels {
			tj.Labels = append(tj.Labels, labelJSON{Key: l.Key, Value: l.GetValue()})
		}
	}
	return tj
}

func sortTasks(ts []*task) []*task {
	sort.Slice(ts, func(i, j int) bool { return ts[i].id < ts[j].id })
	return ts
}

func (m *Master) frameworkJSON(fw *framework, active bool) frameworkJSON {
	fj := frameworkJSON{
		ID: fw.id, Name: fw.info.Name, User: fw.info.User, Roles: fw.roles, Principal: fw.info.GetPrincipal(),
		Active: active && fw.stream != nil, Connected: active && fw.stream != nil, Recovered: fw.recovered,
		FailoverTimeout: fw.info.GetFailoverTimeout(), Checkpoint: fw.info.GetCheckpoint(),
		RegisteredTime: secs(fw.registeredAt), Tasks: []taskJSON{}, UnreachableTasks: []taskJSON{},
		CompletedTasks: []taskJSON{}, Offers: []offerJSON{}, Executors: []any{}, Capabilities: []string{},
		UsedResources: resJSON(fw.allocated),
	}
	if !fw.unregisteredAt.IsZero() {
		fj.UnregisteredTime = secs(fw.unregisteredAt)
	}
	if !fw.multiRole() {
		fj.Role = fw.roles[0]
	}
	for _, c := range fw.info.Capabilities {
		fj.Capabilities = append(fj.Capabilities, c.Type.String())
	}
	var live, unreach []*task
	for _, t := range fw.tasks {
		live = append(live, t)
	}
	for _, t := range fw.unreachable {
		unreach = append(unreach, t)
	}
	for _, t := range sortTasks(live) {
		fj.Tasks = append(fj.Tasks, m.taskJSON(t))
	}
	for _, t := range sortTasks(unreach) {
		fj.UnreachableTasks = append(fj.UnreachableTasks, m.taskJSON(t))
	}
	for _, t := range fw.completed {
		fj.CompletedTasks = append(fj.CompletedTasks, m.taskJSON(t))
	}
	offered := newResVec()
	for _, o := range sortedOffers(fw.offers) {
		offered.add(o.res)
		fj.Offers = append(fj.Offers, offerJSON{ID: o.id, FrameworkID: fw.id, SlaveID: o.agent.id, Resources: resJSON(o.res)})
	}
	fj.OfferedResources = resJSON(offered)
	total := fw.allocated.clone()
	total.add(offered)
	fj.Resources = resJSON(total)
	return fj
}

// State returns the /master/state document as JSON bytes.
func (m *Master) State() ([]byte, error) {
	m.mu.Lock()
	host, port := m.hostPort()
	pid := "master@" + host + ":" + jsonItoa(uint64(port))
	st := stateJSON{
		Version: "1.10.0", ID: m.masterID, PID: pid, Hostname: host, Leader: pid,
		LeaderInfo: &leaderInfoJSON{ID: m.masterID, Hostname: host, Port: port, PID: pid},
		Slaves:     []slaveJSON{}, Frameworks: []frameworkJSON{}, CompletedFrameworks: []frameworkJSON{},
	}
	for _, a := range m.agentList {
		switch a.state {
		case agentActive:
			st.ActivatedSlaves++
		case agentUnreachable:
			st.UnreachableSlaves++
			continue
		case agentGone:
			continue
		default:
			st.DeactivatedSlaves++
		}
		offered := newResVec()
		for _, o := range m.offers {
			if o.agent == a {
				offered.add(o.res)
			}
		}
		used := a.total.clone()
		used.sub(a.free)
		used.sub(offered)
		st.Slaves = append(st.Slaves, slaveJSON{
			ID: a.id, Hostname: a.hostname, Port: port, PID: m.agentPID(a), Active: a.state == agentActive,
			Resources: resJSON(a.total), UsedResources: resJSON(used), OfferedRes: resJSON(offered),
			Unreserved: resJSON(a.total), Attributes: attrsJSON(a.attrs),
			Capabilities: []string{"MULTI_ROLE", "HIERARCHICAL_ROLE", "RESERVATION_REFINEMENT"},
			Version:      "1.10.0", Simulated: map[string]any{"state": a.state.String()},
		})
	}
	for _, fw := range m.sortedFrameworks() {
		st.Frameworks = append(st.Frameworks, m.frameworkJSON(fw, true))
	}
	for _, fw := range m.completedFws {
		st.CompletedFrameworks = append(st.CompletedFrameworks, m.frameworkJSON(fw, false))
	}
	m.mu.Unlock()
	return json.Marshal(st)
}

func (m *Master) serveState(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET")
		plainError(w, http.StatusMethodNotAllowed, "Expecting one of { 'GET' }, but received '"+r.Method+"'")
		return
	}
	b, err := m.State()
	if err != nil {
		plainError(w, http.StatusInternalServerError, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write(b)
}
