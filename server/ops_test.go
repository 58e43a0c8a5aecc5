package server_test

import (
	"bytes"
	"encoding/json"
	"log/slog"
	"net/http"
	"os"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

func TestOps_Endpoints(t *testing.T) {
	t.Parallel()
	reg := prometheus.NewRegistry()
	other := prometheus.NewCounter(prometheus.CounterOpts{Name: "sprint_controller_reconciles_total", Help: "x"})
	reg.MustRegister(other)
	other.Inc()
	srv := start(t, server.Config{Registry: reg, Version: "v0.1.0", NodeID: "n1"})
	mustCreate(t, srv, "a")

	tests := map[string]struct {
		path, contentType string
		contains          []string
	}{
		"healthz": {path: "/healthz", contains: []string{"ok"}},
		"readyz":  {path: "/readyz", contains: []string{"ok"}},
		"version": {path: "/version", contentType: "application/json", contains: []string{`"version":"v0.1.0"`}},
		"metrics": {path: "/metrics", contentType: "text/plain", contains: []string{`sprint_http_requests_total{code="201",method="POST",route="/api/v1/runs"} 1`, "sprint_controller_reconciles_total 1"}},
		"docs":    {path: "/docs", contentType: "text/html", contains: []string{"<h1>", "/api/v1/runs"}},
		"openapi": {path: "/openapi.json", contentType: "application/json", contains: []string{`"openapi": "3.0.3"`}},
		"schema":  {path: "/schemas/run.json", contentType: "application/json", contains: []string{"Run"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, "GET", srv.URL+tc.path, "")
			require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
			if tc.contentType != "" {
				assert.Contains(t, r.header.Get("Content-Type"), tc.contentType)
			}
			for _, want := range tc.contains {
				assert.Contains(t, string(r.body), want)
			}
		})
	}
}

func TestOps_ReadyzNotReady(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	store.SetReady(false)
	srv := servertest.Start(t, server.Config{}, store, nil)
	r := call(t, "GET", srv.URL+"/readyz", "")
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Equal(t, "ServiceUnavailable", r.status(t).Reason)
}

// TestOpenAPI_MatchesRoutes checks that /openapi.json and the router name
// the same routes, both ways.
func TestOpenAPI_MatchesRoutes(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	r := call(t, "GET", srv.URL+"/openapi.json", "")
	require.Equal(t, http.StatusOK, r.code)
	var doc struct {
		OpenAPI string                                `json:"openapi"`
		Paths   map[string]map[string]json.RawMessage `json:"paths"`
	}
	require.NoError(t, json.Unmarshal(r.body, &doc))
	require.True(t, strings.HasPrefix(doc.OpenAPI, "3."))
	var documented []string
	for path, ops := range doc.Paths {
		for method := range ops {
			documented = append(documented, strings.ToUpper(method)+" "+path)
		}
	}

	e, ok := server.EchoForTest(srv.Server).(*echo.Echo)
	require.True(t, ok)
	param := regexp.MustCompile(`(^|[^\\]):([a-zA-Z]+)`) // \: is a literal colon
	var routed []string
	for _, rt := range e.Routes() {
		if strings.HasPrefix(rt.Method, "echo_") || rt.Method == http.MethodHead {
			continue
		}
		p := param.ReplaceAllString(rt.Path, "$1{$2}")
		p = strings.Replace(p, "/*", "/{path}", 1) // echo's wildcard
		routed = append(routed, rt.Method+" "+strings.ReplaceAll(p, `\:`, ":"))
	}
	sort.Strings(documented)
	sort.Strings(routed)
	assert.Equal(t, routed, documented)
}

func TestDocs_InSync(t *testing.T) {
	t.Parallel()
	canonical, err := os.ReadFile("../docs/api.md")
	require.NoError(t, err)
	embedded, err := os.ReadFile("api.md")
	require.NoError(t, err)
	assert.Equal(t, string(canonical), string(embedded), "server/api.md is stale: run go generate ./server")
}

func TestRenderMarkdown(t *testing.T) {
	t.Parallel()
	md := "# Title\n\nsome `code` and **bold** and [a link](/x).\n\n- one\n  continued\n- two\n\n| a | b |\n|---|---|\n| `x<y` | 2 |\n\n```\n<raw>\n```\n"
	html := server.RenderMarkdownForTest(md)
	for _, want := range []string{
		"<h1>Title</h1>",
		"<p>some <code>code</code> and <strong>bold</strong> and <a href=\"/x\">a link</a>.</p>",
		"<li>one continued</li>\n<li>two</li>",
		"<tr><th>a</th><th>b</th></tr>\n<tr><td><code>x&lt;y</code></td><td>2</td></tr>",
		"<pre><code>&lt;raw&gt;\n</code></pre>",
	} {
		assert.Contains(t, html, want)
	}
}

func TestHTTP_Details(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{NodeID: "n1"})
	mustCreate(t, srv, "hello")

	t.Run("HEAD answers like GET without a body", func(t *testing.T) {
		for _, path := range []string{"/api/v1/runs", "/api/v1/runs/hello", "/healthz", "/status/ping", "/api/v1/runs?watch=true"} {
			r := call(t, "HEAD", srv.URL+path, "")
			assert.Equal(t, http.StatusOK, r.code, path)
			assert.Empty(t, r.body, path)
			assert.NotEmpty(t, r.header.Get("Content-Type"), path)
		}
		require.NoError(t, srv.Store.WaitWatchers(waitCtx(t), 0), "a HEAD watch holds no watcher")
		r := call(t, "HEAD", srv.URL+"/api/v1/runs/nosuch", "")
		assert.Equal(t, http.StatusNotFound, r.code)
		assert.Empty(t, r.body)
	})

	t.Run("huge selector is not echoed whole", func(t *testing.T) {
		sel := strings.Repeat("a", 40<<10) + "=="
		r := call(t, "GET", srv.URL+"/api/v1/runs?labelSelector="+sel, "")
		require.Equal(t, http.StatusBadRequest, r.code)
		st := r.status(t)
		assert.LessOrEqual(t, len(st.Message), 1100, st.Message)
		assert.Contains(t, st.Message, "bytes left out")
		assert.True(t, strings.HasPrefix(st.Message, "label selector \"aaa"), st.Message)
		assert.True(t, strings.HasSuffix(st.Message, "name part must be no more than 63 characters"), st.Message)
	})

	t.Run("escaped names are quoted", func(t *testing.T) {
		r := call(t, "GET", srv.URL+"/api/v1/runs/a%0Ab%1B", "")
		require.Equal(t, http.StatusNotFound, r.code)
		msg := r.status(t).Message
		assert.NotContains(t, msg, "\n")
		assert.NotContains(t, msg, "\x1b")
		assert.Contains(t, msg, `"a\nb\x1b"`)
		r = call(t, "GET", srv.URL+"/no/such%0Apath", "")
		require.Equal(t, http.StatusNotFound, r.code)
		assert.Equal(t, `the sprint API has no path "/no/such\npath"`, r.status(t).Message)
	})

	t.Run("a client's Via naming the leader is no loop", func(t *testing.T) {
		r := call(t, "GET", srv.URL+"/api/v1/runs/hello", "", "Via", "1.1 sprint-n1")
		assert.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		r = call(t, "POST", srv.URL+"/api/v1/runs", runJSON("via"), "Via", "1.1 sprint-n1")
		assert.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	})
}

// TestRoutes_HeadWhereverGet: every route that answers GET answers HEAD.
func TestRoutes_HeadWhereverGet(t *testing.T) {
	srv := start(t, server.Config{})
	e, ok := server.EchoForTest(srv.Server).(*echo.Echo)
	require.True(t, ok)
	methods := map[string]map[string]bool{}
	for _, rt := range e.Routes() {
		if methods[rt.Path] == nil {
			methods[rt.Path] = map[string]bool{}
		}
		methods[rt.Path][rt.Method] = true
	}
	for path, m := range methods {
		if m[http.MethodGet] {
			assert.True(t, m[http.MethodHead], "GET %s has no HEAD", path)
		}
	}
}

// TestLog_Head answers HEAD on a log as GET would, without a body and
// without following.
func TestLog_Head(t *testing.T) {
	srv := start(t, server.Config{})
	mustCreate(t, srv, "a")
	mustCreate(t, srv, "quiet")
	srv.Logs.Append("a", "stdout", "hello\n")
	for _, tc := range []struct {
		path string
		code int
	}{
		{"/api/v1/runs/a/log", http.StatusOK},
		{"/api/v1/runs/a/log?follow=true", http.StatusOK}, // does not wait for more
		{"/api/v1/runs/nosuch/log", http.StatusNotFound},
		{"/api/v1/runs/quiet/log", http.StatusNotFound}, // no output yet
		{"/api/v1/runs/a/log?stream=both", http.StatusBadRequest},
	} {
		get := call(t, "GET", srv.URL+strings.Replace(tc.path, "follow=true", "", 1), "")
		head := call(t, "HEAD", srv.URL+tc.path, "")
		assert.Equal(t, tc.code, head.code, tc.path)
		assert.Equal(t, get.code, head.code, "HEAD and GET differ on %s", tc.path)
		assert.Empty(t, head.body, tc.path)
		assert.Equal(t, get.header.Get("Content-Type"), head.header.Get("Content-Type"), tc.path)
	}
}

// TestReadyz_NotReadyIsNotAnError: /readyz answering 503 while a node
// starts is the probe's answer, not a failure to log at ERROR.
func TestReadyz_NotReadyIsNotAnError(t *testing.T) {
	store := servertest.NewStore()
	store.SetReady(false)
	var logs bytes.Buffer
	srv, err := server.New(server.Config{}, store, nil, slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug})))
	require.NoError(t, err)
	t.Cleanup(func() { _ = srv.Close() })
	for _, method := range []string{"GET", "HEAD"} {
		r := callHandler(t, srv.Handler(), method, "/readyz", "")
		require.Equal(t, http.StatusServiceUnavailable, r.code)
		if method == "GET" {
			st := r.status(t)
			assert.Equal(t, "ServiceUnavailable", st.Reason)
		}
	}
	assert.NotContains(t, logs.String(), "level=ERROR", "%s", logs.String())
	r := callHandler(t, srv.Handler(), "GET", "/api/v1/runs/x/log", "") // no LogSource: a real 503
	require.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.Contains(t, logs.String(), "level=ERROR", "other 503s are still logged")
}
