package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// getCluster serves GET /api/v1/cluster: members, leader, term and indexes
// as this node sees them.
func (s *Server) getCluster(c echo.Context) error {
	info, err := s.store.Cluster(c.Request().Context())
	if err != nil {
		return err
	}
	if info.NodeID == "" {
		info.NodeID = s.cfg.NodeID
	}
	if info.Members == nil {
		info.Members = []Member{}
	}
	return c.JSON(http.StatusOK, info)
}

// joinMember serves POST /api/v1/cluster/members on the leader.
func (s *Server) joinMember(c echo.Context) error {
	if _, err := bodyFormat(c, false); err != nil {
		return err
	}
	b, err := s.readBody(c)
	if err != nil {
		return err
	}
	var req JoinRequest
	if err := strictJSON(b, &req); err != nil {
		return badRequest("join request: %v", err)
	}
	var problems apis.ErrorList
	if req.ID == "" {
		problems = append(problems, &apis.FieldError{Field: "id", Message: "required value"})
	}
	if req.RaftAddr == "" {
		problems = append(problems, &apis.FieldError{Field: "raftAddr", Message: "required value"})
	}
	if len(problems) > 0 {
		return &apis.InvalidError{Kind: "Member", Name: req.ID, Errors: problems}
	}
	if err := s.store.Join(c.Request().Context(), req.ID, req.RaftAddr, req.HTTPAddr); err != nil {
		return err
	}
	s.log.Info("member joined", "node", req.ID, "raft_addr", req.RaftAddr, "http_addr", req.HTTPAddr)
	return c.JSON(http.StatusCreated, Member{ID: req.ID, RaftAddr: req.RaftAddr, HTTPAddr: req.HTTPAddr, Suffrage: "Voter"})
}

// removeMember serves DELETE /api/v1/cluster/members/{id} on the leader.
func (s *Server) removeMember(c echo.Context) error {
	id := c.Param("id")
	if err := s.store.Remove(c.Request().Context(), id); err != nil {
		return err
	}
	s.log.Info("member removed", "node", id)
	return c.JSON(http.StatusOK, successStatus(http.StatusOK, "Member", id))
}

func successStatus(code int, kind, name string) *apis.Status {
	return &apis.Status{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindStatus},
		Status:   "Success",
		Code:     code,
		Details:  &apis.StatusDetails{Kind: kind, Name: name},
	}
}
