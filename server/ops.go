package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/apis"
)

// healthz answers 200 while the process serves HTTP: a liveness probe.
func (s *Server) healthz(c echo.Context) error { return c.String(http.StatusOK, "ok") }

// readyz answers 200 once the node knows a leader and has applied the
// committed log, 503 before: a readiness probe. The 503 is the answer, not
// a failure: it is written here rather than returned as an error, which
// handleError would log at ERROR on every probe while a node starts.
func (s *Server) readyz(c echo.Context) error {
	if !s.store.Ready() {
		st := statusError(http.StatusServiceUnavailable, "ServiceUnavailable",
			"not ready: no leader known yet, or the committed log is not applied")
		if c.Request().Method == http.MethodHead {
			c.Response().Header().Set(echo.HeaderContentType, echo.MIMEApplicationJSON)
			return c.NoContent(st.Code)
		}
		return c.JSON(st.Code, st)
	}
	return c.String(http.StatusOK, "ok")
}

// VersionInfo is the answer of GET /version.
type VersionInfo struct {
	Version string `json:"version"`
	NodeID  string `json:"nodeID,omitempty"`
}

func (s *Server) version(c echo.Context) error {
	return c.JSON(http.StatusOK, VersionInfo{Version: s.cfg.Version, NodeID: s.cfg.NodeID})
}

func (s *Server) runSchema(c echo.Context) error {
	return c.Blob(http.StatusOK, echo.MIMEApplicationJSON, apis.RunSchema())
}
