package sim

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"
)

// faultRequest is the JSON body of every /sim/v1/ control.
type faultRequest struct {
	AgentID     string   `json:"agent_id"`
	FrameworkID string   `json:"framework_id"`
	ExecutorID  string   `json:"executor_id"`
	Status      int32    `json:"status"`
	Timeout     bool     `json:"after_ping_timeout"`
	Leader      string   `json:"leader"`
	NoLeader    bool     `json:"no_leader"`
	Duration    string   `json:"duration"`
	StayAway    []string `json:"stay_away"`
	On          *bool    `json:"on"`
	Resources   string   `json:"resources"`
	Attributes  string   `json:"attributes"`
	Hostname    string   `json:"hostname"`
	Executor    string   `json:"executor"`
	UpdateFaults
	Delay string `json:"delay"` // Go duration, overrides UpdateFaults.Delay
}

// serveFaults serves the fault controls (JSON POST bodies, 200 with a JSON
// answer, 400/404 with a plain-text error):
//
//	/sim/v1/agents/add            {resources, attributes, hostname, executor} → {"agent_id"}
//	/sim/v1/agents/partition      {agent_id, after_ping_timeout}
//	/sim/v1/agents/disconnect     {agent_id}
//	/sim/v1/agents/restore        {agent_id}
//	/sim/v1/agents/gone           {agent_id}
//	/sim/v1/executors/crash       {agent_id, framework_id, executor_id, status}
//	/sim/v1/connections/drop      {}
//	/sim/v1/master/failover       {stay_away: [agent ids]}
//	/sim/v1/master/leadership     {leader: "host:port", no_leader}
//	/sim/v1/master/recovering     {duration}
//	/sim/v1/updates/faults        {drop, duplicate, delay_rate, delay}
//	/sim/v1/heartbeats            {on}
func (m *Master) serveFaults(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", "POST")
		plainError(w, http.StatusMethodNotAllowed, "Expecting one of { 'POST' }, but received '"+r.Method+"'")
		return
	}
	var req faultRequest
	body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
	if err == nil && len(strings.TrimSpace(string(body))) > 0 {
		err = json.Unmarshal(body, &req)
	}
	if err != nil {
		plainError(w, http.StatusBadRequest, "bad JSON body: "+err.Error())
		return
	}
	dur := func(s string) (time.Duration, error) {
		if s == "" {
			return 0, nil
		}
		return time.ParseDuration(s)
	}
	answer := map[string]any{}
	switch strings.TrimPrefix(r.URL.Path, "/sim/v1/") {
	case "agents/add":
		var id string
		id, err = m.AddAgent(AgentConfig{Hostname: req.Hostname, Resources: req.Resources, Attributes: req.Attributes, Executor: req.Executor})
		answer["agent_id"] = id
	case "agents/partition":
		err = m.PartitionAgent(req.AgentID, req.Timeout)
	case "agents/disconnect":
		err = m.DisconnectAgent(req.AgentID)
	case "agents/restore":
		err = m.RestoreAgent(req.AgentID)
	case "agents/gone":
		err = m.MarkAgentGone(req.AgentID)
	case "executors/crash":
		err = m.CrashExecutor(req.AgentID, req.FrameworkID, req.ExecutorID, req.Status)
	case "connections/drop":
		m.DropConnections()
	case "master/failover":
		m.Failover(req.StayAway...)
	case "master/leadership":
		m.SetLeadership(req.Leader, req.NoLeader)
	case "master/recovering":
		var d time.Duration
		if d, err = dur(req.Duration); err == nil {
			m.SetRecovering(d)
		}
	case "updates/faults":
		f := req.UpdateFaults
		var d time.Duration
		if d, err = dur(req.Delay); err == nil {
			if req.Delay != "" {
				f.Delay = d
			}
			m.SetUpdateFaults(f)
		}
	case "heartbeats":
		m.SetHeartbeats(req.On == nil || *req.On)
	default:
		plainError(w, http.StatusNotFound, "unknown control "+r.URL.Path)
		return
	}
	if err != nil {
		status := http.StatusBadRequest
		if errors.Is(err, ErrUnknownAgent) {
			status = http.StatusNotFound
		}
		plainError(w, status, err.Error())
		return
	}
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(answer)
}
