package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// reply is a finished HTTP exchange.
type reply struct {
	code   int
	header http.Header
	body   []byte
}

func (r reply) status(t *testing.T) *apis.Status {
	t.Helper()
	var st apis.Status
	require.NoError(t, json.Unmarshal(r.body, &st), "body: %s", r.body)
	require.Equal(t, "Status", st.Kind, "body: %s", r.body)
	require.Equal(t, r.code, st.Code, "body: %s", r.body)
	return &st
}

func (r reply) run(t *testing.T) *apis.Run {
	t.Helper()
	var run apis.Run
	require.NoError(t, json.Unmarshal(r.body, &run), "body: %s", r.body)
	return &run
}

// call sends one request; header pairs follow the body ("Content-Type",
// "application/yaml", ...).
func call(t *testing.T, method, url, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequestWithContext(t.Context(), method, url, rd)
	require.NoError(t, err)
	if body != "" && !strings.HasPrefix(strings.TrimSpace(body), "apiVersion") {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return reply{code: resp.StatusCode, header: resp.Header, body: b}
}

func runJSON(name string, mutate ...func(*apis.Run)) string {
	r := apis.Run{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
		Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"team": "data"}},
		Spec:     apis.RunSpec{Command: "echo hello", Cpus: 0.5, Mem: 64},
	}
	for _, m := range mutate {
		m(&r)
	}
	b, err := json.Marshal(r)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func start(t *testing.T, cfg server.Config) *servertest.Server {
	t.Helper()
	return servertest.Start(t, cfg, nil, nil)
}

func mustCreate(t *testing.T, srv *servertest.Server, name string, mutate ...func(*apis.Run)) *apis.Run {
	t.Helper()
	r := call(t, "POST", srv.URL+"/api/v1/runs", runJSON(name, mutate...))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	return r.run(t)
}

func bigBody(n int) string {
	return `{"metadata":{"name":"x"},"pad":"` + string(bytes.Repeat([]byte("a"), n)) + `"}`
}

// callHandler serves one request in-process, without a listener.
func callHandler(t testing.TB, h http.Handler, method, target, body string, header ...string) reply {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req := httptest.NewRequestWithContext(t.Context(), method, target, rd)
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return reply{code: rec.Code, header: rec.Header(), body: rec.Body.Bytes()}
}

// waitCtx bounds a wait on a notification: the test's context, cut off
// after 10 s so that a missing notification fails rather than hangs.
func waitCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	t.Cleanup(cancel)
	return ctx
}
