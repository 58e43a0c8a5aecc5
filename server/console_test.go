package server_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/sprint-project/sprint/server"
)

// The console's assets are open, like /docs; nothing else becomes open
// through them, however the path is spelled.
func TestConsole_AssetsOpenAPIStillNeedsToken(t *testing.T) {
	srv := start(t, server.Config{Tokens: []string{"s3cret"}})
	h := srv.Handler()
	cases := map[string]struct {
		path     string
		code     int
		location string
	}{
		"page":                     {"/ui/", http.StatusOK, ""},
		"module":                   {"/ui/js/main.js", http.StatusOK, ""},
		"no slash":                 {"/ui", http.StatusMovedPermanently, "/ui/"},
		"root":                     {"/", http.StatusFound, "/ui/"},
		"favicon":                  {"/favicon.ico", http.StatusMovedPermanently, "/ui/favicon.svg"},
		"missing asset":            {"/ui/nope.js", http.StatusNotFound, ""},
		"api":                      {"/api/v1/runs", http.StatusUnauthorized, ""},
		"dot segments to the api":  {"/ui/../api/v1/runs", http.StatusNotFound, ""},
		"encoded dots to the api":  {"/ui/%2e%2e/api/v1/runs", http.StatusNotFound, ""},
		"mesos report":             {"/api/v1/cluster/mesos", http.StatusUnauthorized, ""},
		"unknown path still asks":  {"/uix", http.StatusUnauthorized, ""},
		"prefix lookalike":         {"/ui-admin/x", http.StatusUnauthorized, ""},
		"query does not open path": {"/api/v1/runs?x=/ui/", http.StatusUnauthorized, ""},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			r := callHandler(t, h, http.MethodGet, tc.path, "")
			assert.Equal(t, tc.code, r.code, "body: %s", r.body)
			assert.Equal(t, tc.location, r.header.Get("Location"))
		})
	}
	r := callHandler(t, h, http.MethodGet, "/ui/", "")
	assert.Contains(t, r.header.Get("Content-Security-Policy"), "default-src 'none'")
	// Errors are Statuses, as everywhere else.
	r = callHandler(t, h, http.MethodGet, "/ui/nope.js", "")
	assert.Equal(t, "NotFound", r.status(t).Reason)
	r = callHandler(t, h, http.MethodPost, "/ui/", "")
	assert.Equal(t, http.StatusMethodNotAllowed, r.code)
	assert.Equal(t, "MethodNotAllowed", r.status(t).Reason)
	r = callHandler(t, h, http.MethodGet, "/api/v1/runs", "", "Authorization", "Bearer s3cret")
	assert.Equal(t, http.StatusOK, r.code)
}
