package server

import (
	"context"
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// MesosSource reports the Mesos side of the cluster as this node knows it:
// its subscription, the framework and the master's agents. cmd/sprint backs
// it with the Mesos scheduler client and the master's state endpoint.
type MesosSource interface {
	// MesosState never fails for an unreachable master: it reports that
	// in AgentsError. Errors: only ctx's.
	MesosState(ctx context.Context) (*apis.MesosState, error)
}

// getMesos serves GET /api/v1/cluster/mesos on the leader, which holds the
// Mesos subscription (a follower forwards it).
func (s *Server) getMesos(c echo.Context) error {
	if s.cfg.Mesos == nil {
		return statusError(http.StatusServiceUnavailable, "ServiceUnavailable", "this server has no Mesos connection to report")
	}
	st, err := s.cfg.Mesos.MesosState(c.Request().Context())
	if err != nil {
		return err
	}
	if st.NodeID == "" {
		st.NodeID = s.cfg.NodeID
	}
	if st.Masters == nil {
		st.Masters = []string{}
	}
	if st.Agents == nil {
		st.Agents = []apis.MesosAgent{}
	}
	return c.JSON(http.StatusOK, st)
}
