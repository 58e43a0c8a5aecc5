package server

import (
	"crypto/rand"
	"errors"
	"net/http"
	"strconv"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// matcher builds one predicate from the labelSelector and fieldSelector
// query parameters; nil when neither is set.
func matcher(labelSel, fieldSel string) (func(*apis.Run) bool, error) {
	var preds []func(*apis.Run) bool
	if labelSel != "" {
		sel, err := apis.ParseLabelSelector(labelSel)
		if err != nil {
			return nil, asBadRequest("labelSelector", err)
		}
		preds = append(preds, sel.Matches)
	}
	if fieldSel != "" {
		sel, err := apis.ParseFieldSelector(fieldSel)
		if err != nil {
			return nil, asBadRequest("fieldSelector", err)
		}
		preds = append(preds, sel.Matches)
	}
	return allOf(preds), nil
}

func asBadRequest(what string, err error) error {
	if errors.Is(err, apis.ErrBadRequest) {
		return err
	}
	return badRequest("%s: %v", what, err)
}

// queryParam is c.QueryParam(name), without echo's parse of an empty
// query (a new map on every request, where most writes have no query).
func queryParam(c echo.Context, name string) string {
	if c.Request().URL.RawQuery == "" {
		return ""
	}
	return c.QueryParam(name)
}

func queryBool(c echo.Context, name string) (bool, error) {
	v := queryParam(c, name)
	if v == "" {
		return false, nil
	}
	b, err := strconv.ParseBool(v)
	if err != nil {
		return false, badRequest("query parameter %s=%q: want true or false", name, v)
	}
	return b, nil
}

func queryInt(c echo.Context, name string) (int, error) {
	v := queryParam(c, name)
	if v == "" {
		return 0, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return 0, badRequest("query parameter %s=%q: want a non-negative integer", name, v)
	}
	return n, nil
}

// listRuns serves GET /api/v1/runs, or a watch with ?watch=true. Lists are
// served from the local applied state on any node.
func (s *Server) listRuns(c echo.Context) error {
	p, err := parseListParams(c)
	if err != nil {
		return err
	}
	if p.watch {
		return s.watchRuns(c, p)
	}
	if p.limit == 0 {
		release, err := s.limits.acquire(callList, s.clientOf(c))
		if err != nil {
			return err
		}
		defer release()
	}
	list, err := s.store.ListRuns(c.Request().Context(), ListOptions{
		Match: p.match, Limit: p.limit, Continue: p.storeContinue,
	})
	if err != nil {
		return err
	}
	return writeRunList(c, list, p)
}

// writeRunList answers a page of Runs. Apart from listRuns so that its
// frame (a RunList and a Run, copied) is not below every watch's stream.
func writeRunList(c echo.Context, list *apis.RunList, p *listParams) error {
	return writeList(c, runKind, list.Metadata, list.Items, p.labelSel, p.fieldSel)
}

// typed returns a copy of r with its apiVersion and kind set. It never
// writes to r: objects from the store may be shared with watchers.
func typed(r *apis.Run) *apis.Run { return runKind.typed(r) }

// getRun serves GET /api/v1/runs/{name} as a linearizable read (getObject).
func (s *Server) getRun(c echo.Context) error {
	return getObject(s, c, runKind, s.store.GetRun)
}

// prepareNew clears what only the server sets on a Run about to be
// created, completes generateName, defaults and validates it, then checks
// it against the admission policy. As in Kubernetes, where validating
// admission runs after schema validation, an invalid Run gets its 422
// first; a valid one the policy refuses gets 403 with every violation.
func (s *Server) prepareNew(run *apis.Run) error {
	run.Status = apis.RunStatus{}
	clearServerSet(&run.Metadata)
	apis.SetDefaults(run)
	if err := invalid(run.Metadata.Name, apis.ValidateRun(run)); err != nil {
		return err
	}
	if err := invalid(run.Metadata.Name, apis.ValidateCancelReasonWrite(run, nil)); err != nil {
		return err
	}
	return s.policy.AdmitRun(run)
}

// invalid turns validation problems of a Run into the error the Status
// mapping answers 422 for; nil when there are none.
func invalid(name string, errs apis.ErrorList) error {
	return invalidKind(runKind, name, errs)
}

// randomSuffix is 5 characters of [a-z0-9], as Kubernetes's generateName.
func randomSuffix() string {
	const alphabet = "bcdfghjklmnpqrstvwxz2456789"
	b := make([]byte, 5)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = alphabet[int(b[i])%len(alphabet)]
	}
	return string(b)
}

// createRun serves POST /api/v1/runs.
func (s *Server) createRun(c echo.Context) error {
	return createObject(c, runKind, writer[apis.Run]{decode: s.decodeRun, prepareNew: s.prepareNew, create: s.store.CreateRun})
}

// deleteRun serves DELETE /api/v1/runs/{name}[?resourceVersion=N]: 200 with
// the last state when the Run is gone, 202 while its task is being killed.
func (s *Server) deleteRun(c echo.Context) error {
	run, deleted, err := s.store.RequestDelete(c.Request().Context(), c.Param("name"), c.QueryParam("resourceVersion"))
	if err != nil {
		return err
	}
	code := http.StatusAccepted
	if deleted {
		code = http.StatusOK
	}
	return c.JSON(code, typed(run))
}

// RunEventList is the answer of GET /api/v1/runs/{name}/events.
type RunEventList struct {
	apis.TypeMeta `json:",inline"`
	Items         []apis.RunEvent `json:"items"`
}

// runEvents serves a Run's recent events (sprintctl describe) from local state.
func (s *Server) runEvents(c echo.Context) error {
	events, err := s.store.Events(c.Request().Context(), c.Param("name"))
	if err != nil {
		return err
	}
	if events == nil {
		events = []apis.RunEvent{}
	}
	return c.JSON(http.StatusOK, RunEventList{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: "RunEventList"},
		Items:    events,
	})
}
