package server

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// NotifierStore is what the server needs to serve /api/v1/notifiers. A
// Store that also implements it (internal/wiring's, over raftstore) gets
// the routes; with any other they answer 501.
type NotifierStore interface {
	// CreateNotifier stores a new Notifier (uid, resourceVersion,
	// creationTimestamp set by the store). Errors: apis.ErrAlreadyExists,
	// apis.ErrNotLeader.
	CreateNotifier(ctx context.Context, n *apis.Notifier) (*apis.Notifier, error)
	// UpdateNotifier replaces labels, annotations and spec and keeps the
	// status; metadata uid and resourceVersion, when set, are
	// preconditions. unchanged reports a no-op. Errors: apis.ErrNotFound,
	// apis.ErrConflict, apis.ErrNotLeader.
	UpdateNotifier(ctx context.Context, n *apis.Notifier) (out *apis.Notifier, unchanged bool, err error)
	// DeleteNotifier removes a Notifier and its undelivered
	// notifications. Errors: apis.ErrNotFound, apis.ErrConflict.
	DeleteNotifier(ctx context.Context, name, uid, resourceVersion string) (*apis.Notifier, error)
	// GetNotifier reads from the local applied state.
	GetNotifier(ctx context.Context, name string) (*apis.Notifier, error)
	// ListNotifiers lists from the local applied state in name order.
	ListNotifiers(ctx context.Context, opts NotifierListOptions) (*apis.NotifierList, error)
}

// NotifierListOptions selects and pages a list of Notifiers.
type NotifierListOptions struct {
	Match    func(*apis.Notifier) bool
	Limit    int
	Continue string
}

func (s *Server) notifierStore() (NotifierStore, error) {
	ns, ok := s.store.(NotifierStore)
	if !ok {
		return nil, statusError(http.StatusNotImplemented, "NotImplemented", "this node's store does not serve Notifiers")
	}
	return ns, nil
}

func typedNotifier(n *apis.Notifier) *apis.Notifier {
	c := *n
	c.APIVersion, c.Kind = apis.APIVersion, apis.KindNotifier
	return &c
}

// decodeNotifier reads one Notifier from the body (JSON, or YAML with
// Content-Type: application/yaml), as strictly as Runs are read.
func (s *Server) decodeNotifier(c echo.Context) (*apis.Notifier, error) {
	if _, err := bodyFormat(c, true); err != nil {
		return nil, err
	}
	b, err := s.readBody(c)
	if err != nil {
		return nil, err
	}
	if len(bytes.TrimSpace(b)) == 0 {
		return nil, badRequest("request body is empty: send one Notifier")
	}
	if !apis.IsJSON(b) && int64(len(b)) > s.cfg.MaxYAMLBodyBytes {
		return nil, statusError(http.StatusRequestEntityTooLarge, "RequestEntityTooLarge",
			"YAML request body is larger than %d bytes: send it as JSON", s.cfg.MaxYAMLBodyBytes)
	}
	var m *apis.Manifest
	if err := s.decoding(c, func() (err error) {
		m, err = apis.DecodeManifest(b)
		return err
	}); err != nil {
		return nil, err
	}
	if len(m.Runs) > 0 || len(m.Notifiers) != 1 || len(m.Notifiers[0].Notifiers) != 1 || m.Notifiers[0].Index != 0 {
		return nil, badRequest("request body must hold exactly one object of kind Notifier")
	}
	n := m.Notifiers[0].Notifiers[0]
	return &n, nil
}

// prepareNotifier defaults and validates a Notifier about to be created
// and clears what only the store sets.
func prepareNotifier(n *apis.Notifier) error {
	n.Status = apis.NotifierStatus{}
	n.Metadata.UID, n.Metadata.ResourceVersion, n.Metadata.Generation = "", "", 0
	n.Metadata.CreationTimestamp, n.Metadata.DeletionTimestamp = nil, nil
	if n.Metadata.Name == "" && n.Metadata.GenerateName != "" {
		n.Metadata.Name = n.Metadata.GenerateName + randomSuffix()
	}
	apis.SetNotifierDefaults(n)
	if errs := apis.ValidateNotifier(n); len(errs) > 0 {
		return &apis.InvalidError{Kind: apis.KindNotifier, Name: n.Metadata.Name, Errors: errs}
	}
	return nil
}

// listNotifiers serves GET /api/v1/notifiers from the local applied state.
func (s *Server) listNotifiers(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	for _, p := range []string{"watch", "fieldSelector"} {
		if c.QueryParam(p) != "" {
			return badRequest("query parameter %s: not supported for Notifiers", p)
		}
	}
	opts := NotifierListOptions{}
	labelSel := c.QueryParam("labelSelector")
	if labelSel != "" {
		sel, err := apis.ParseLabelSelector(labelSel)
		if err != nil {
			return asBadRequest("labelSelector", err)
		}
		opts.Match = func(n *apis.Notifier) bool { return sel.MatchesLabels(n.Metadata.Labels) }
	}
	if opts.Limit, err = queryInt(c, "limit"); err != nil {
		return err
	}
	if tok := c.QueryParam("continue"); tok != "" {
		if opts.Continue, err = openContinue(tok, labelSel, ""); err != nil {
			return err
		}
	}
	list, err := ns.ListNotifiers(c.Request().Context(), opts)
	if err != nil {
		return err
	}
	list.Metadata.Continue = sealContinue(list.Metadata.Continue, labelSel, "")
	for i := range list.Items {
		list.Items[i] = *typedNotifier(&list.Items[i])
	}
	list.TypeMeta = apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindNotifierList}
	return c.JSON(http.StatusOK, list)
}

// getNotifier serves GET /api/v1/notifiers/{name}, linearizable as
// GET /api/v1/runs/{name}.
func (s *Server) getNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	ctx := c.Request().Context()
	if err := s.store.LinearizableRead(ctx); err != nil {
		return err
	}
	n, err := ns.GetNotifier(ctx, c.Param("name"))
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, typedNotifier(n))
}

// createNotifier serves POST /api/v1/notifiers.
func (s *Server) createNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	n, err := s.decodeNotifier(c)
	if err != nil {
		return err
	}
	dryRun, err := queryBool(c, "dryRun")
	if err != nil {
		return err
	}
	if err := prepareNotifier(n); err != nil {
		return err
	}
	if err := s.policy.AdmitNotifier(n); err != nil {
		return err
	}
	if dryRun {
		return c.JSON(http.StatusCreated, typedNotifier(n))
	}
	created, err := ns.CreateNotifier(c.Request().Context(), n)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusCreated, typedNotifier(created))
}

// applyNotifier serves PUT /api/v1/notifiers/{name}: create when absent;
// otherwise replace labels, annotations and spec (every spec field may
// change) and keep the delivery counts. metadata.resourceVersion is a
// precondition. The outcome is in HeaderApplyResult.
func (s *Server) applyNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	name := c.Param("name")
	n, err := s.decodeNotifier(c)
	if err != nil {
		return err
	}
	dryRun, err := queryBool(c, "dryRun")
	if err != nil {
		return err
	}
	if n.Metadata.Name == "" {
		n.Metadata.Name = name
	}
	if n.Metadata.Name != name {
		return badRequest("metadata.name %q does not match the name %q in the URL", n.Metadata.Name, name)
	}
	ctx := c.Request().Context()
	rv := n.Metadata.ResourceVersion
	// The leader's local state is current: decide create or update on it;
	// the store's preconditions catch a race.
	cur, err := ns.GetNotifier(ctx, name)
	switch {
	case errors.Is(err, apis.ErrNotFound):
		if rv != "" {
			return statusError(http.StatusConflict, "Conflict", "Notifier %q does not exist, but the request has a resourceVersion precondition", name)
		}
		if err := prepareNotifier(n); err != nil {
			return err
		}
		if err := s.policy.AdmitNotifier(n); err != nil {
			return err
		}
		if dryRun {
			c.Response().Header().Set(HeaderApplyResult, ApplyCreated)
			return c.JSON(http.StatusCreated, typedNotifier(n))
		}
		created, err := ns.CreateNotifier(ctx, n)
		if err != nil {
			return err
		}
		c.Response().Header().Set(HeaderApplyResult, ApplyCreated)
		return c.JSON(http.StatusCreated, typedNotifier(created))
	case err != nil:
		return err
	}
	if rv != "" && rv != cur.Metadata.ResourceVersion {
		return statusError(http.StatusConflict, "Conflict",
			"Notifier %q has resourceVersion %s, not %s: it changed since you read it", name, cur.Metadata.ResourceVersion, rv)
	}
	apis.SetNotifierDefaults(n)
	next := *cur.DeepCopy()
	next.Metadata.Labels, next.Metadata.Annotations, next.Spec = n.Metadata.Labels, n.Metadata.Annotations, n.Spec
	if errs := apis.ValidateNotifierUpdate(&next, cur); len(errs) > 0 {
		return &apis.InvalidError{Kind: apis.KindNotifier, Name: name, Errors: errs}
	}
	if err := s.policy.AdmitNotifier(&next); err != nil {
		return err
	}
	if dryRun {
		result := ApplyConfigured
		if next.Spec.Equal(&cur.Spec) && next.Metadata.Equal(&cur.Metadata) {
			result = ApplyUnchanged
		}
		c.Response().Header().Set(HeaderApplyResult, result)
		return c.JSON(http.StatusOK, typedNotifier(&next))
	}
	next.Metadata.ResourceVersion = rv
	out, unchanged, err := ns.UpdateNotifier(ctx, &next)
	if err != nil {
		return err
	}
	result := ApplyConfigured
	if unchanged {
		result = ApplyUnchanged
	}
	c.Response().Header().Set(HeaderApplyResult, result)
	return c.JSON(http.StatusOK, typedNotifier(out))
}

// deleteNotifier serves DELETE /api/v1/notifiers/{name}[?resourceVersion=N]:
// 200 with the last state. Undelivered notifications go with it.
func (s *Server) deleteNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	rv := c.QueryParam("resourceVersion")
	if strings.TrimSpace(rv) != rv {
		return badRequest("query parameter resourceVersion=%s: want a decimal number", quoteClip(rv))
	}
	n, err := ns.DeleteNotifier(c.Request().Context(), c.Param("name"), "", rv)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, typedNotifier(n))
}

// notifierSchema serves the JSON Schema of a Notifier.
func (s *Server) notifierSchema(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, apis.NotifierSchema())
}
