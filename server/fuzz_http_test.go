package server_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/internal/wiring"
	"github.com/sprint-project/sprint/raftstore"
	"github.com/sprint-project/sprint/raftstore/raftstoretest"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// httpFuzzTargets are the endpoints FuzzHTTPRequests aims at; {} is
// replaced by a fuzzed name. Cluster membership writes are left out: a
// "successful" join of a made-up member would cost the single node its
// quorum, which is Raft working, not a server bug.
var httpFuzzTargets = []struct{ method, path string }{
	{http.MethodGet, "/api/v1/runs"},
	{http.MethodPost, "/api/v1/runs"},
	{http.MethodPut, "/api/v1/runs/{}"},
	{http.MethodGet, "/api/v1/runs/{}"},
	{http.MethodDelete, "/api/v1/runs/{}"},
	{http.MethodGet, "/api/v1/runs/{}/log"},
	{http.MethodGet, "/api/v1/runs/{}/events"},
	{http.MethodPatch, "/api/v1/runs/{}"},
	{http.MethodPost, "/v1/runs"},
	{http.MethodGet, "/v1/runs"},
	{http.MethodGet, "/v1/runs/{}"},
	{http.MethodDelete, "/v1/runs/{}"},
	{http.MethodGet, "/api/v1/cluster"},
	{http.MethodGet, "/status"},
}

// FuzzHTTPRequests sends fuzzed method/path, name, query string, content
// type and body over real loopback HTTP to a server backed by a real
// single-node raftstore: the answer is never a 5xx and never breaks the
// connection (a panic would), every error is a JSON Status, and a refused
// request leaves the stored data exactly as it was.
func FuzzHTTPRequests(f *testing.F) {
	seedRun := `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"seed","labels":{"a":"b"}},"spec":{"command":"echo hi","cpus":0.5,"mem":64}}`
	f.Add(1, "", "", "application/json", seedRun)
	f.Add(2, "seed", "dryRun=true", "application/json", seedRun)
	f.Add(2, "seed", "", "application/json", strings.Replace(seedRun, `"echo hi"`, `"echo changed"`, 1))
	f.Add(2, "x", "", "application/yaml", "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: x}\nspec: {command: x, cpus: 1, mem: 1}\n")
	f.Add(0, "", "labelSelector=a%3Db&limit=1", "", "")
	f.Add(0, "", "labelSelector=a+in+(b,c),!d&fieldSelector=status.phase%3DRunning", "", "")
	f.Add(0, "", "limit=-1&continue=garbage", "", "")
	f.Add(0, "", "watch=true&resourceVersion=1", "", "")
	f.Add(0, "", "watch=true&resourceVersion=99999999999999999999", "", "")
	f.Add(0, "", "fieldSelector=metadata.name%3D%3D%3D", "", "")
	f.Add(3, "seed", "", "", "")
	f.Add(4, "seed", "resourceVersion=1", "", "")
	f.Add(4, "keep", "resourceVersion=abc", "", "")
	f.Add(5, "keep", "stream=stderr&tail=-5&follow=maybe", "", "")
	f.Add(6, "..%2f..", "", "", "")
	f.Add(7, "keep", "", "application/merge-patch+json", `{"spec":{"cancel":true}}`)
	f.Add(8, "", "", "application/json", `{"cpus":0.1,"mem":100,"container":{"type":"DOCKER","docker":{"image":"alpine"}},"constraints":[["a","LIKE"]]}`)
	f.Add(8, "", "", "application/json", `{"cpus":-1,"container":{"type":"MESOS","networks":[{"mode":"weird"}]}}`)
	f.Add(9, "", "includeFinished=maybe&labels=a:b,c", "", "")
	f.Add(10, "keep", "", "", "")
	f.Add(11, "nope", "", "", "")
	f.Add(1, "", "", "application/json", `{"metadata":{"name":"a"},"spec":{"cpus":1e400}}`)
	f.Add(1, "", "", "application/yaml", "- a\n- b\n---\n{")
	f.Add(1, "", "", "text/plain", "hello")
	f.Add(2, "keep", "", "application/json", `{"metadata":{"name":"keep","resourceVersion":"1"},"spec":{"command":"true","cpus":1,"mem":1}}`)

	base, store := startFuzzServer(f)
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}

	f.Fuzz(func(t *testing.T, target int, name, query, contentType, body string) {
		if target < 0 {
			target = -target
		}
		tg := httpFuzzTargets[target%len(httpFuzzTargets)]
		path := strings.ReplaceAll(tg.path, "{}", url.PathEscape(name))
		before := storeDigest(t, store)

		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		req, err := http.NewRequestWithContext(ctx, tg.method, base+path+"?"+escapeQuery(query), strings.NewReader(body))
		if err != nil {
			t.Skip("not an HTTP request:", err)
		}
		if contentType != "" {
			if strings.IndexFunc(contentType, func(r rune) bool { return (r < ' ' && r != '\t') || r == 0x7f }) >= 0 {
				t.Skip("Go's client refuses to send this header")
			}
			req.Header.Set("Content-Type", contentType)
		}
		resp, err := hc.Do(req)
		if err != nil {
			t.Fatalf("%s %s?%s: %v (a panic closes the connection)", tg.method, path, query, err)
		}
		defer resp.Body.Close()
		if resp.StatusCode >= 500 {
			b, _ := io.ReadAll(resp.Body)
			t.Fatalf("%s %s?%s answered %d: %s", tg.method, path, query, resp.StatusCode, b)
		}
		ct := resp.Header.Get("Content-Type")
		if resp.StatusCode == http.StatusOK && (strings.Contains(ct, "ndjson") || strings.Contains(ct, "event-stream") || strings.HasSuffix(path, "/log")) {
			return // a watch or (perhaps followed) log: it may stream until the context ends
		}
		b, err := io.ReadAll(resp.Body)
		if err != nil && !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("%s %s?%s: reading the answer: %v", tg.method, path, query, err)
		}
		if resp.StatusCode >= 400 {
			var st apis.Status
			if err := json.Unmarshal(b, &st); err != nil || st.Kind != apis.KindStatus || st.Code != resp.StatusCode || st.Message == "" {
				t.Fatalf("%s %s?%s: %d answer is not a Status: %s", tg.method, path, query, resp.StatusCode, b)
			}
			if after := storeDigest(t, store); !bytes.Equal(before, after) {
				t.Fatalf("%s %s?%s refused with %d but the store changed:\nbefore %s\nafter  %s", tg.method, path, query, resp.StatusCode, before, after)
			}
		}
	})
}

// startFuzzServer starts a single-node raftstore in a temp dir, seeds two
// Runs, and serves the API on a loopback port.
func startFuzzServer(f *testing.F) (string, *raftstore.Store) {
	f.Helper()
	cfg := raftstore.Config{NodeID: "n1", RaftAddr: "127.0.0.1:0", HTTPAddr: "http://n1.test", DataDir: filepath.Join(f.TempDir(), "raft")}
	raftstoretest.SoloConfig(&cfg)
	store, err := raftstore.New(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	if err := store.Start(ctx); err != nil {
		f.Fatal(err)
	}
	raftstoretest.WaitLeader(f, store, 30*time.Second)
	if !store.Ready() {
		f.Fatal("the single-node leader is not ready")
	}
	for _, name := range []string{"keep", "other"} {
		r := &apis.Run{
			TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRun},
			Metadata: apis.ObjectMeta{Name: name, Labels: map[string]string{"a": "b"}},
			Spec:     apis.RunSpec{Command: "true", Cpus: 1, Mem: 1},
		}
		apis.SetDefaults(r)
		if _, err := store.CreateRun(ctx, r); err != nil {
			f.Fatal(err)
		}
	}
	srv, err := server.New(server.Config{NodeID: "n1"}, wiring.NewServerStore(store), servertest.NewLogs(), slog.New(slog.DiscardHandler))
	if err != nil {
		f.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		f.Fatal(err)
	}
	done := make(chan struct{})
	go func() { defer close(done); _ = srv.Serve(ctx, ln) }()
	f.Cleanup(func() {
		cancel()
		_ = srv.Close()
		<-done
		_ = store.Close()
	})
	return "http://" + ln.Addr().String(), store
}

// storeDigest is the stored data: every Run as JSON, resourceVersions
// included. Not the list's own resourceVersion (the applied index): a
// precondition checked inside the state machine (DELETE ?resourceVersion=)
// commits a Raft entry even when it refuses, which changes no Run.
func storeDigest(t *testing.T, s *raftstore.Store) []byte {
	t.Helper()
	list, err := s.ListRuns(context.Background(), raftstore.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(list.Items)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// escapeQuery percent-encodes the bytes a request target cannot carry
// (spaces, controls, '#', non-ASCII), so that the fuzzed query reaches the
// handler instead of being refused by net/http's request-line parser.
func escapeQuery(q string) string {
	const hex = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(q); i++ {
		c := q[i]
		if c > ' ' && c < 0x7f && c != '#' && c != '"' && c != '<' && c != '>' && c != '\\' && c != '^' && c != '`' && c != '{' && c != '|' && c != '}' {
			b.WriteByte(c)
			continue
		}
		b.WriteByte('%')
		b.WriteByte(hex[c>>4])
		b.WriteByte(hex[c&15])
	}
	return b.String()
}
