package server_test

import (
	"net/http"
	"strconv"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// TestCommonMiddleware: what every request passes through (metrics, panic
// recovery, authentication), in its order: authentication before any
// handler, matched or not; a panic answered with a 500 Status; every
// request counted with the route and the code its client saw.
func TestCommonMiddleware(t *testing.T) {
	reg := prometheus.NewRegistry()
	srv := servertest.Start(t, server.Config{Tokens: []string{"tok"}, Registry: reg}, nil, nil)
	server.EchoForTest(srv.Server).(*echo.Echo).GET("/test/panic", func(echo.Context) error { panic("boom") })
	for _, tc := range []struct {
		name, path, token string
		code              int
		route             string
	}{
		{name: "a panic is a 500", path: "/test/panic", token: "tok", code: http.StatusInternalServerError, route: "/test/panic"},
		{name: "no token, matched route", path: "/test/panic", code: http.StatusUnauthorized, route: "/test/panic"},
		{name: "no token, unmatched", path: "/nowhere", code: http.StatusUnauthorized, route: "unmatched"},
		{name: "a token, unmatched", path: "/nowhere", token: "tok", code: http.StatusNotFound, route: "unmatched"},
		{name: "an open path needs no token", path: "/readyz", code: http.StatusOK, route: "/readyz"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := gathered(t, reg, tc.route, tc.code)
			failures := gathered(t, reg, "", 0)
			var header []string
			if tc.token != "" {
				header = []string{"Authorization", "Bearer " + tc.token}
			}
			r := call(t, http.MethodGet, srv.URL+tc.path, "", header...)
			assert.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.code != http.StatusOK {
				r.status(t)
			}
			assert.Equal(t, before+1, gathered(t, reg, tc.route, tc.code), "counted as GET %s %d", tc.route, tc.code)
			if tc.code == http.StatusUnauthorized {
				failures++
			}
			assert.Equal(t, failures, gathered(t, reg, "", 0), "authentication failures")
		})
	}
}

// gathered is the count of GET requests to route answered with code, or
// with route "" the count of authentication failures.
func gathered(t *testing.T, reg *prometheus.Registry, route string, code int) float64 {
	t.Helper()
	families, err := reg.Gather()
	require.NoError(t, err)
	for _, f := range families {
		if route == "" && f.GetName() == "sprint_http_auth_failures_total" {
			return f.GetMetric()[0].GetCounter().GetValue()
		}
		if route == "" || f.GetName() != "sprint_http_requests_total" {
			continue
		}
	metrics:
		for _, m := range f.GetMetric() {
			want := map[string]string{"method": "GET", "route": route, "code": strconv.Itoa(code)}
			for _, l := range m.GetLabel() {
				if want[l.GetName()] != l.GetValue() {
					continue metrics
				}
			}
			return m.GetCounter().GetValue()
		}
	}
	return 0
}
