package server

import (
	"context"
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

// decodeNotifier reads one Notifier from the body (JSON, or YAML with
// Content-Type: application/yaml), as strictly as Runs are read.
func (s *Server) decodeNotifier(c echo.Context) (*apis.Notifier, error) {
	b, err := readOneBody(s, c, notifierKind)
	if err != nil {
		return nil, err
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
	clearServerSet(&n.Metadata)
	apis.SetNotifierDefaults(n)
	return invalidKind(notifierKind, n.Metadata.Name, apis.ValidateNotifier(n))
}

// prepareNewNotifier prepares a Notifier about to be created, then
// applies the admission policy to it (422 first, then 403, as for Runs).
func (s *Server) prepareNewNotifier(n *apis.Notifier) error {
	if err := prepareNotifier(n); err != nil {
		return err
	}
	return s.policy.AdmitNotifier(n)
}

// notifierWriter reads, prepares and creates Notifiers in ns.
func (s *Server) notifierWriter(ns NotifierStore) writer[apis.Notifier] {
	return writer[apis.Notifier]{decode: s.decodeNotifier, prepareNew: s.prepareNewNotifier, create: ns.CreateNotifier}
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
	labelSel := c.QueryParam("labelSelector")
	match, err := labelAndNameMatcher(notifierKind, labelSel, "")
	if err != nil {
		return err
	}
	limit, err := queryInt(c, "limit")
	if err != nil {
		return err
	}
	return servePage(c, notifierKind, labelSel, "", limit, func(ctx context.Context, limit int, cont string) ([]apis.Notifier, apis.ListMeta, error) {
		list, err := ns.ListNotifiers(ctx, NotifierListOptions{Match: match, Limit: limit, Continue: cont})
		if err != nil {
			return nil, apis.ListMeta{}, err
		}
		return list.Items, list.Metadata, nil
	})
}

// getNotifier serves GET /api/v1/notifiers/{name}, linearizable as
// GET /api/v1/runs/{name}.
func (s *Server) getNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	return getObject(s, c, notifierKind, ns.GetNotifier)
}

// createNotifier serves POST /api/v1/notifiers.
func (s *Server) createNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	return createObject(c, notifierKind, s.notifierWriter(ns))
}

// applyNotifier serves PUT /api/v1/notifiers/{name}: create when absent;
// otherwise replace labels, annotations and spec (every spec field may
// change) and keep the delivery counts. metadata.resourceVersion is a
// precondition. The outcome is in HeaderApplyResult. The leader's local
// state is current: create or update is decided on it, and the store's
// preconditions catch a race; the store tells whether an update changed
// anything.
func (s *Server) applyNotifier(c echo.Context) error {
	ns, err := s.notifierStore()
	if err != nil {
		return err
	}
	return applyObject(s, c, notifierKind, applier[apis.Notifier]{
		writer:  s.notifierWriter(ns),
		get:     ns.GetNotifier,
		setSpec: func(next, n *apis.Notifier) { apis.SetNotifierDefaults(n); next.Spec = n.Spec },
		check: func(next, cur *apis.Notifier) error {
			if err := invalidKind(notifierKind, cur.Metadata.Name, apis.ValidateNotifierUpdate(next, cur)); err != nil {
				return err
			}
			return s.policy.AdmitNotifier(next)
		},
		equal: func(next, cur *apis.Notifier) bool {
			return next.Spec.Equal(&cur.Spec) && next.Metadata.Equal(&cur.Metadata)
		},
		update:       ns.UpdateNotifier,
		storeDecides: true,
	})
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
	return c.JSON(http.StatusOK, notifierKind.typed(n))
}

// notifierSchema serves the JSON Schema of a Notifier.
func (s *Server) notifierSchema(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, apis.NotifierSchema())
}
