package server

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"
	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// sprintView renders a Run the way Sprint did.
func sprintView(r *apis.Run) apis.SprintRun { return apis.SprintRunFromRun(r) }

// sprintCreate serves POST /v1/runs: a ContainerRunDefinition becomes a
// Run named by a fresh UUID; 201 with Sprint's {id, lastModified, state,
// definition}.
func (s *Server) sprintCreate(c echo.Context) error {
	if _, err := bodyFormat(c, false); err != nil {
		return err
	}
	b, err := s.readBody(c)
	if err != nil {
		return err
	}
	var def apis.ContainerRunDefinition
	err = s.decoding(c, func() (err error) {
		def, err = apis.DecodeContainerRunDefinition(b)
		return err
	})
	if err != nil {
		return err
	}
	run, err := apis.RunFromDefinition(def, uuid.NewString())
	if err != nil {
		// The name is a fresh UUID that is never stored: name no object.
		var inv *apis.InvalidError
		if errors.As(err, &inv) {
			return invalidStatus(apis.KindContainerRunDefinition, "", inv.Errors)
		}
		return err
	}
	if err := s.policy.AdmitDefinition(run); err != nil {
		return err
	}
	created, err := s.store.CreateRun(c.Request().Context(), run)
	if err != nil {
		return err
	}
	view := sprintView(created)
	// Sprint answers a submission with state Created, whatever the
	// controller may have done in the meantime.
	view.State = "Created"
	return c.JSON(http.StatusCreated, view)
}

// sprintList serves GET /v1/runs?includeFinished=&labels=k:v,k2:v2 from
// local state. Finished runs are left out unless includeFinished=true, as
// in Sprint.
func (s *Server) sprintList(c echo.Context) error {
	includeFinished, err := queryBool(c, "includeFinished")
	if err != nil {
		return err
	}
	want, err := apis.SprintLabelSelector(c.QueryParam("labels"))
	if err != nil {
		return asBadRequest("labels", err)
	}
	release, err := s.limits.acquire(callList, s.clientOf(c))
	if err != nil {
		return err
	}
	defer release()
	list, err := s.store.ListRuns(c.Request().Context(), ListOptions{Match: func(r *apis.Run) bool {
		if !includeFinished && r.Status.Phase.Terminal() {
			return false
		}
		return want.Matches(r)
	}})
	if err != nil {
		return err
	}
	out := make([]apis.SprintRun, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, sprintView(&list.Items[i]))
	}
	return c.JSON(http.StatusOK, out)
}

// sprintGet serves GET /v1/runs/{id} as a linearizable read on the leader.
func (s *Server) sprintGet(c echo.Context) error {
	ctx := c.Request().Context()
	if err := s.store.LinearizableRead(ctx); err != nil {
		return err
	}
	run, err := s.store.GetRun(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sprintView(run))
}

// sprintKill serves DELETE /v1/runs/{id}: Sprint kills the task and keeps
// the record, which is spec.cancel here.
func (s *Server) sprintKill(c echo.Context) error {
	run, err := s.cancelRun(c.Request().Context(), c.Param("id"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, sprintView(run))
}

// cancelRun sets spec.cancel, retrying when a concurrent write (usually the
// controller's status update) moved the resourceVersion. Idempotent.
func (s *Server) cancelRun(ctx context.Context, name string) (*apis.Run, error) {
	const attempts = 5
	var err error
	for range attempts {
		var run *apis.Run
		if run, err = s.store.GetRun(ctx, name); err != nil {
			return nil, err
		}
		if run.Spec.Cancel {
			return run, nil
		}
		next := *run // the store's object is not ours to change
		next.Spec.Cancel = true
		var updated *apis.Run
		updated, err = s.store.UpdateRun(ctx, &next)
		if err == nil {
			return updated, nil
		}
		if !errors.Is(err, apis.ErrConflict) {
			return nil, err
		}
	}
	return nil, err
}

// sprintStatus serves GET /status: this node and whether it leads.
func (s *Server) sprintStatus(c echo.Context) error {
	id, addr := s.store.Leader()
	return c.JSON(http.StatusOK, map[string]any{
		"nodeID":     s.cfg.NodeID,
		"version":    s.cfg.Version,
		"leading":    s.store.IsLeader(),
		"leader":     id,
		"leaderAddr": addr,
		"ready":      s.store.Ready(),
	})
}

// ping serves /status/ping, Marathon's health check in the Sprint seed.
func (s *Server) ping(c echo.Context) error { return c.String(http.StatusOK, "pong") }

// leading serves /status/leading: 200 on the leader and 503 elsewhere, so a
// load balancer health-checking it routes to the leader.
func (s *Server) leading(c echo.Context) error {
	lead := s.store.IsLeader()
	code := http.StatusOK
	if !lead {
		code = http.StatusServiceUnavailable
	}
	return c.JSON(code, map[string]bool{"leading": lead})
}
