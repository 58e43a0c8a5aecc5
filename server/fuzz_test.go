package server_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
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

// FuzzQueries sends arbitrary query strings to the read endpoints: no 5xx,
// no panic, and nothing stored changes.
func FuzzQueries(f *testing.F) {
	f.Add(0, "labelSelector=team%3Ddata&limit=2")
	f.Add(0, "fieldSelector=status.phase%3DRunning&continue=zz")
	f.Add(0, "labelSelector=a+in+(b,c),!d")
	f.Add(1, "includeFinished=true&labels=tier:prod,team:x")
	f.Add(2, "stream=stderr&tail=3&follow=true")
	f.Add(3, "")
	f.Add(0, "limit=99999999999999999999")
	store := servertest.NewStore()
	logs := servertest.NewLogs()
	srv, err := server.New(server.Config{}, store, logs, nil)
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { _ = srv.Close() })
	for _, name := range []string{"a", "b"} {
		if r := callHandler(f, srv.Handler(), "POST", "/api/v1/runs", runJSON(name), "Content-Type", "application/json"); r.code != http.StatusCreated {
			f.Fatalf("seed %s: %d %s", name, r.code, r.body)
		}
		for _, stream := range []string{"stdout", "stderr"} {
			logs.Append(name, stream, "one\ntwo\n")
			logs.End(name, stream)
		}
	}
	rv := store.ResourceVersion()
	paths := []string{"/api/v1/runs", "/v1/runs", "/api/v1/runs/a/log", "/api/v1/runs/b"}
	f.Fuzz(func(t *testing.T, target int, query string) {
		if target < 0 {
			target = -target
		}
		if strings.IndexFunc(query, func(r rune) bool { return r <= ' ' || r == 0x7f }) >= 0 {
			t.Skip() // cannot appear in a request line
		}
		u, err := url.Parse(paths[target%len(paths)] + "?" + query)
		if err != nil {
			t.Skip()
		}
		if q, err := url.ParseQuery(u.RawQuery); err != nil || q.Has("watch") {
			t.Skip() // watches stream until the client goes; FuzzWatch is elsewhere
		}
		r := callHandler(t, srv.Handler(), "GET", u.String(), "")
		if r.code >= 500 {
			t.Fatalf("GET %s answered %d: %s", u, r.code, r.body)
		}
		if got := store.ResourceVersion(); got != rv {
			t.Fatalf("GET %s changed the store: rv %d → %d", u, rv, got)
		}
	})
}
