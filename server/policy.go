package server

import (
	"net/http"
	"net/netip"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// getPolicy serves GET /api/v1/policy: the admission policy in force, which
// is the leader's (each node has its own, from its flags, and writes are
// served by the leader), so the request is forwarded like a write. With
// ?local=true the answering node reports its own, also without a leader.
func (s *Server) getPolicy(c echo.Context) error {
	local, err := queryBool(c, "local")
	if err != nil {
		return err
	}
	if local {
		return s.servePolicy(c)
	}
	return s.leaderOnly(s.servePolicy)(c)
}

func (s *Server) servePolicy(c echo.Context) error {
	p := s.policy
	// Lists are [] rather than null: "none allowed" reads the same in
	// every client.
	p.AllowedHostPaths = append([]apis.AllowedHostPath{}, p.AllowedHostPaths...)
	p.AllowedURISchemes = append([]string{}, p.AllowedURISchemes...)
	p.NotifierDenyCIDRs = append([]netip.Prefix{}, p.NotifierDenyCIDRs...)
	return c.JSON(http.StatusOK, apis.AdmissionPolicy{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindAdmissionPolicy},
		NodeID:   s.cfg.NodeID,
		Leader:   s.store.IsLeader(),
		Policy:   p,
	})
}
