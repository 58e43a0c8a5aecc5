package server

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"unicode"

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
	if problems := validateJoin(&req); len(problems.list) > 0 {
		name := req.ID
		if problems.has("id") {
			name = "" // a bad id is named by its cause, not echoed twice
		}
		return invalidStatus("Member", name, problems.list)
	}
	if req.StoreLevel > 0 {
		lj, ok := s.store.(LevelJoiner)
		if !ok {
			return invalidStatus("Member", req.ID, apis.ErrorList{{Field: "storeLevel", Message: "this server cannot record store levels"}})
		}
		if err := lj.JoinLevel(c.Request().Context(), req.ID, req.RaftAddr, req.HTTPAddr, req.StoreLevel); err != nil {
			return err
		}
	} else if err := s.store.Join(c.Request().Context(), req.ID, req.RaftAddr, req.HTTPAddr); err != nil {
		return err
	}
	s.log.Info("member joined", "node", req.ID, "raft_addr", req.RaftAddr, "http_addr", req.HTTPAddr, "store_level", req.StoreLevel)
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

// maxMemberID bounds a member id: it is stored in every Raft configuration
// and shown in every cluster status.
const maxMemberID = 128

// joinProblems are the field problems of a join request.
type joinProblems struct{ list apis.ErrorList }

func (p *joinProblems) add(field, format string, args ...any) {
	p.list = append(p.list, &apis.FieldError{Field: field, Message: fmt.Sprintf(format, args...)})
}

func (p *joinProblems) has(field string) bool {
	for _, e := range p.list {
		if e.Field == field {
			return true
		}
	}
	return false
}

// validateJoin checks a join request before it reaches Raft: a voter with
// an address no peer can dial counts towards the quorum yet never votes,
// so a typo there can stall the cluster for good.
// maxStoreLevel bounds a reported store level: far above any real one.
const maxStoreLevel = 1000

func validateJoin(req *JoinRequest) *joinProblems {
	p := &joinProblems{}
	switch {
	case req.ID == "":
		p.add("id", "required value")
	case len(req.ID) > maxMemberID:
		p.add("id", "must be no more than %d characters", maxMemberID)
	case !printableNoSpace(req.ID):
		p.add("id", "must be printable characters without spaces, got %s", quoteClip(req.ID))
	}
	if req.StoreLevel < 0 || req.StoreLevel > maxStoreLevel {
		p.add("storeLevel", "must be from 0 to %d", maxStoreLevel)
	}
	if req.RaftAddr == "" {
		p.add("raftAddr", "required value")
	} else if msg := checkHostPort(req.RaftAddr); msg != "" {
		p.add("raftAddr", "%s", msg)
	}
	if req.HTTPAddr != "" {
		u, err := url.Parse(req.HTTPAddr)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Hostname() == "" {
			p.add("httpAddr", "must be an http or https URL with a host, e.g. http://10.0.0.7:9090")
		} else if port := u.Port(); port != "" && !validPort(port) {
			p.add("httpAddr", "port %s must be a number from 1 to 65535", quoteClip(port))
		}
	}
	return p
}

func printableNoSpace(s string) bool {
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) {
			return false
		}
	}
	return true
}

// checkHostPort returns what is wrong with a Raft address, or "".
func checkHostPort(addr string) string {
	const want = "must be host:port, e.g. 10.0.0.7:9091"
	host, port, err := net.SplitHostPort(addr)
	if err != nil || host == "" || !printableNoSpace(host) {
		return want
	}
	if !validPort(port) {
		return "port " + quoteClip(port) + " must be a number from 1 to 65535"
	}
	return ""
}

func validPort(s string) bool {
	n, err := strconv.Atoi(s)
	return err == nil && n >= 1 && n <= 65535
}
