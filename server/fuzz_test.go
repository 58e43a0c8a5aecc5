package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// FuzzWriteBodies sends arbitrary bodies and content types to every write
// endpoint: the server must answer a 2xx or a 4xx Status, never panic or
// fail with a 5xx.
func FuzzWriteBodies(f *testing.F) {
	f.Add(0, "application/json", runJSON("a"))
	f.Add(1, "application/yaml", "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: b}\nspec: {command: x, cpus: 1, mem: 1}\n")
	f.Add(2, "application/json", seedRun)
	f.Add(3, "application/json", `{"id":"n2","raftAddr":"127.0.0.1:1"}`)
	f.Add(0, "text/plain", "hello")
	f.Add(1, "", `{"metadata":{"name":"a"},"spec":{"cpus":1e400}}`)
	f.Add(0, "application/yaml", "- a\n- b\n---\n{")
	store := servertest.NewStore()
	srv, err := server.New(server.Config{}, store, servertest.NewLogs(), nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	targets := []struct{ method, path string }{
		{"POST", "/api/v1/runs?dryRun=true"},
		{"PUT", "/api/v1/runs/a"},
		{"POST", "/v1/runs"},
		{"POST", "/api/v1/cluster/members"},
	}
	f.Fuzz(func(t *testing.T, target int, contentType, body string) {
		if target < 0 {
			target = -target
		}
		tg := targets[target%len(targets)]
		var hdr []string
		if contentType != "" {
			hdr = []string{"Content-Type", contentType}
		}
		r := callHandler(t, srv.Handler(), tg.method, tg.path, body, hdr...)
		if r.code >= 500 {
			t.Fatalf("%s %s answered %d: %s", tg.method, tg.path, r.code, r.body)
		}
		if r.code >= 400 {
			var st apis.Status
			if err := json.Unmarshal(r.body, &st); err != nil || st.Kind != apis.KindStatus || st.Code != r.code || st.Message == "" {
				t.Fatalf("%d answer is not a Status: %s", r.code, r.body)
			}
		}
		if r.code == http.StatusOK || r.code == http.StatusCreated {
			var v any
			if err := json.Unmarshal(r.body, &v); err != nil {
				t.Fatalf("%d answer is not JSON: %s", r.code, r.body)
			}
		}
	})
}
