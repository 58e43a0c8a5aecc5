package server

import (
	"net/http"

	"github.com/labstack/echo/v4"

	"github.com/sprint-project/sprint/ui"
)

// newEcho registers every route. Keep it in step with openapi.go: a test
// checks that both name the same routes.
func (s *Server) newEcho() *echo.Echo {
	e := echo.New()
	e.HideBanner = true
	e.HidePort = true
	e.HTTPErrorHandler = s.handleError
	e.Use(s.common) // observe, recoverPanic, authenticate
	// get serves GET and HEAD: HEAD answers GET's status and headers, and
	// net/http drops the body.
	get := func(path string, h echo.HandlerFunc) {
		e.GET(path, h)
		e.HEAD(path, h)
	}

	// Native API.
	get("/api/v1/runs", s.listRuns)
	e.POST("/api/v1/runs", s.leaderOnly(s.createRun))
	get("/api/v1/runs/:name", s.leaderOnly(s.getRun))
	e.PUT("/api/v1/runs/:name", s.leaderOnly(s.applyRun))
	e.POST(`/api/v1/runs\:apply`, s.leaderOnly(s.applyList))
	e.DELETE("/api/v1/runs/:name", s.leaderOnly(s.deleteRun))
	get("/api/v1/runs/:name/log", s.leaderOnly(s.runLog))
	get("/api/v1/runs/:name/events", s.runEvents)
	get("/api/v1/runs/:name/dependents", s.runDependents)
	get("/api/v1/schedules", s.listSchedules)
	e.POST("/api/v1/schedules", s.scheduleWrites(s.leaderOnly(s.createSchedule)))
	get("/api/v1/schedules/:name", s.leaderOnly(s.getSchedule))
	e.PUT("/api/v1/schedules/:name", s.scheduleWrites(s.leaderOnly(s.applySchedule)))
	e.DELETE("/api/v1/schedules/:name", s.scheduleWrites(s.leaderOnly(s.deleteSchedule)))
	e.POST("/api/v1/schedules/:name/runs", s.scheduleWrites(s.leaderOnly(s.fireSchedule)))
	get("/api/v1/schedules/:name/events", s.scheduleEvents)
	get("/api/v1/notifiers", s.listNotifiers)
	e.POST("/api/v1/notifiers", s.leaderOnly(s.createNotifier))
	get("/api/v1/notifiers/:name", s.leaderOnly(s.getNotifier))
	e.PUT("/api/v1/notifiers/:name", s.leaderOnly(s.applyNotifier))
	e.DELETE("/api/v1/notifiers/:name", s.leaderOnly(s.deleteNotifier))
	get("/api/v1/cluster", s.getCluster)
	get("/api/v1/policy", s.getPolicy)
	get("/api/v1/cluster/mesos", s.leaderOnly(s.getMesos))
	e.POST("/api/v1/cluster/members", s.leaderOnly(s.joinMember))
	e.DELETE("/api/v1/cluster/members/:id", s.leaderOnly(s.removeMember))

	// Sprint-compatible API.
	e.POST("/v1/runs", s.leaderOnly(s.sprintCreate))
	get("/v1/runs", s.sprintList)
	get("/v1/runs/:id", s.leaderOnly(s.sprintGet))
	e.DELETE("/v1/runs/:id", s.leaderOnly(s.sprintKill))
	get("/status", s.sprintStatus)
	get("/status/ping", s.ping)
	get("/status/leading", s.leading)

	// Operations.
	get("/healthz", s.healthz)
	get("/readyz", s.readyz)
	get("/version", s.version)
	get("/metrics", s.serveMetrics)
	get("/docs", s.docs)
	get("/openapi.json", s.openAPI)
	get("/schemas/run.json", s.runSchema)
	get("/schemas/schedule.json", s.scheduleSchema)
	get("/schemas/notifier.json", s.notifierSchema)

	// The web console: static assets (package ui), open like /docs; its
	// API calls carry the token.
	get("/", s.toConsole)
	get("/favicon.ico", s.favicon)
	get("/ui", s.serveConsole)
	get("/ui/*", s.serveConsole)
	return e
}

// openPaths are served without a bearer token: liveness and readiness
// probes (Marathon's health check uses /status/ping) and the static API
// description, which holds nothing secret.
var openPaths = map[string]bool{
	"/healthz":               true,
	"/readyz":                true,
	"/status/ping":           true,
	"/docs":                  true,
	"/openapi.json":          true,
	"/schemas/run.json":      true,
	"/schemas/schedule.json": true,
	"/schemas/notifier.json": true,
}

// openRoutes are the routes (as registered, matched by the router before
// authenticate runs) served without a token: the console's static assets
// and the redirect to them. Matching the route rather than a path prefix
// means no spelling of a path can reach an API handler through them.
var openRoutes = map[string]bool{
	"/":            true,
	"/favicon.ico": true,
	"/ui":          true,
	"/ui/*":        true,
}

func isOpenPath(c echo.Context) bool { return openPaths[c.Request().URL.Path] || openRoutes[c.Path()] }

// serveConsole serves the console's files; a path that is none of them
// gets a Status like every other error of this server.
func (s *Server) serveConsole(c echo.Context) error {
	if !s.console.Serves(c.Request().URL.Path) {
		return statusError(http.StatusNotFound, "NotFound", "the web console has no file %s", quoteClip(c.Request().URL.Path))
	}
	s.console.ServeHTTP(c.Response(), c.Request())
	return nil
}

// favicon answers the request browsers make on every page of the node
// (/docs, /metrics) with the console's icon.
func (s *Server) favicon(c echo.Context) error {
	return c.Redirect(http.StatusMovedPermanently, ui.Prefix+"favicon.svg")
}

// toConsole sends a browser that opens the node's root to the console.
func (s *Server) toConsole(c echo.Context) error {
	return c.Redirect(http.StatusFound, ui.Prefix)
}
