package main

import (
	"context"
	"net/url"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/mesos"
	"github.com/sprint-project/sprint/server"
)

// mesosAgentsTimeout bounds the request to the master behind one
// GET /api/v1/cluster/mesos.
const mesosAgentsTimeout = 5 * time.Second

// mesosState answers GET /api/v1/cluster/mesos from what this node knows:
// the scheduler's subscription, the framework ID (the scheduler's, else the
// replicated one) and the agents the master lists.
type mesosState struct {
	sched    *mesos.Scheduler
	files    *mesos.Files
	masters  []string
	name     string
	role     string
	embedded bool
	storedID func(context.Context) (string, error)
}

var _ server.MesosSource = (*mesosState)(nil)

// MesosState implements server.MesosSource.
func (m *mesosState) MesosState(ctx context.Context) (*apis.MesosState, error) {
	st := &apis.MesosState{
		Connected:     m.sched.Connected(),
		FrameworkID:   m.sched.FrameworkID(),
		FrameworkName: m.name,
		Role:          m.role,
		Embedded:      m.embedded,
		Masters:       make([]string, 0, len(m.masters)),
	}
	if st.Role == "" {
		st.Role = mesos.DefaultRole
	}
	if st.FrameworkID == "" && m.storedID != nil {
		st.FrameworkID, _ = m.storedID(ctx) // best effort: "" says none is known
	}
	for _, u := range m.masters {
		st.Masters = append(st.Masters, redactURL(u))
	}
	actx, cancel := context.WithTimeout(ctx, mesosAgentsTimeout)
	defer cancel()
	agents, err := m.files.Agents(actx, m.masters)
	if err != nil {
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		st.AgentsError = err.Error()
	}
	st.Agents = agents
	return st, nil
}

// redactURL hides a password in a master URL.
func redactURL(s string) string {
	u, err := url.Parse(s)
	if err != nil {
		return "<unparsable URL>"
	}
	return u.Redacted()
}
