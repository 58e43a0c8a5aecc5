package server

import (
	"net/http"

	"github.com/labstack/echo/v4"
)

// newEcho registers every route. Keep it in step with openapi.go: a test
// checks that both name the same routes.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.observe, s.recoverPanic, s.authenticate)

	// Native API.
	e.GET("/api/v1/runs", s.listRuns)
	e.POST("/api/v1/runs", s.leaderOnly(s.createRun))
	e.GET("/api/v1/runs/:name", s.leaderOnly(s.getRun))
	e.PUT("/api/v1/runs/:name", s.leaderOnly(s.applyRun))
	e.DELETE("/api/v1/runs/:name", s.leaderOnly(s.deleteRun))
	e.GET("/api/v1/runs/:name/log", s.leaderOnly(s.runLog))
	e.GET("/api/v1/runs/:name/events", s.runEvents)
	e.GET("/api/v1/cluster", s.getCluster)
	e.POST("/api/v1/cluster/members", s.leaderOnly(s.joinMember))
	e.DELETE("/api/v1/cluster/members/:id", s.leaderOnly(s.removeMember))

	// Sprint-compatible API.
	e.POST("/v1/runs", s.leaderOnly(s.sprintCreate))
	e.GET("/v1/runs", s.sprintList)
	e.GET("/v1/runs/:id", s.leaderOnly(s.sprintGet))
	e.DELETE("/v1/runs/:id", s.leaderOnly(s.sprintKill))
	e.GET("/status", s.sprintStatus)
	e.GET("/status/ping", s.ping)
	e.GET("/status/leading", s.leading)

	// Operations.
	e.GET("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/version", s.version)
	e.GET("/metrics", s.serveMetrics)
	e.GET("/docs", s.docs)
	e.GET("/openapi.json", s.openAPI)
	e.GET("/schemas/run.json", s.runSchema)
	return e
}

// openPaths are served without a bearer token: liveness and readiness
// probes (Marathon's health check uses /status/ping) and the static API
// description, which holds nothing secret.
var openPaths = map[string]bool{
	"/healthz":          true,
	"/readyz":           true,
	"/status/ping":      true,
	"/docs":             true,
	"/openapi.json":     true,
	"/schemas/run.json": true,
}

func isOpenPath(r *http.Request) bool { return openPaths[r.URL.Path] }
