package server_test

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/internal/hostile"
	"github.com/sprint-project/sprint/server"
)

// The budget of one request with a hostile body, server and client in
// this process: at most requestHeapBudget of heap held and
// requestCPUBudget of CPU (more under the race detector).
const (
	requestHeapBudget = 64 << 20
	requestCPUBudget  = time.Second * hostile.CPUFactor
)

// send makes one request with body and measures its cost. undo, when
// not nil, undoes what the request stored, so that it can be made again.
func send(t *testing.T, method, url string, body []byte, contentType string, undo func(reply)) (reply, hostile.Cost) {
	t.Helper()
	var r reply
	var err error
	do := func() {
		var req *http.Request
		req, err = http.NewRequestWithContext(t.Context(), method, url, bytes.NewReader(body))
		if err != nil {
			return
		}
		req.Header.Set("Content-Type", contentType)
		var resp *http.Response
		if resp, err = http.DefaultClient.Do(req); err != nil {
			return
		}
		defer resp.Body.Close()
		r = reply{code: resp.StatusCode, header: resp.Header}
		r.body, err = io.ReadAll(resp.Body)
	}
	c := hostile.Measure(requestHeapBudget, do)
	require.NoError(t, err)
	if c.CPU > requestCPUBudget {
		// Held near the heap budget, the collector ran far more than it
		// would by default: measure the CPU again at its defaults.
		if undo != nil {
			undo(r)
		}
		c.CPU = hostile.CPU(do)
		require.NoError(t, err)
	}
	return r, c
}

// TestHostileBodies_AnsweredWithinBudget sends every hostile shape, as
// large as the server takes, to each endpoint that decodes a body,
// through the real HTTP server on loopback: each is answered with a 4xx,
// or stored when it is a valid Run, within the heap and CPU budget, and a
// refused body stores nothing. Before, a 200 KB body of nested "[" got no
// answer in 60 s and 600 KB of objects nested under metadata.labels drove
// the node to 24 GB.
func TestHostileBodies_AnsweredWithinBudget(t *testing.T) {
	srv := start(t, server.Config{})
	sprintShapes := []hostile.Shape{
		{Name: "sprint-deep-arrays", Body: hostile.DeepJSONArrays(100_000)},
		{Name: "sprint-deep-labels", Body: []byte(`{"cmd":"x","labels":` + strings.Repeat(`{"a":`, 100_000) + `1` + strings.Repeat("}", 100_001))},
		{Name: "sprint-100k-keys", Body: sprintManyKeys(100_000)},
		{Name: "sprint-long-cmd", Valid: true, Body: []byte(`{"cmd":"` + strings.Repeat("x", hostile.MaxJSON-200) + `","container":{"type":"DOCKER","docker":{"image":"alpine"}}}`)},
		{Name: "sprint-many-objects", Body: []byte(`{"cmd":"x","args":[` + strings.Repeat(`{"a":1},`, hostile.MaxJSON/8-10) + `{}]}`)},
	}
	// PUT decodes as POST does: a few shapes show it.
	putToo := map[string]bool{"json-deep-arrays": true, "json-deep-labels": true, "yaml-billion-laughs": true, "json-many-objects": true}
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		for _, ep := range []struct{ method, path string }{
			{"POST", "/api/v1/runs"},
			{"PUT", "/api/v1/runs/hostile"},
		} {
			if ep.method == "PUT" && !putToo[sh.Name] {
				continue
			}
			t.Run(sh.Name+"/"+ep.method, func(t *testing.T) {
				ct := "application/json"
				if sh.YAML {
					ct = "application/yaml"
				}
				before := srv.Store.ResourceVersion()
				undo := func(r reply) {
					if r.code == http.StatusCreated || r.code == http.StatusOK {
						_, _, err := srv.Store.RequestDelete(t.Context(), r.run(t).Metadata.Name, "")
						require.NoError(t, err)
					}
				}
				r, c := send(t, ep.method, srv.URL+ep.path, sh.Body, ct, undo)
				checkCost(t, c)
				switch {
				case r.code == http.StatusCreated || r.code == http.StatusOK:
					require.True(t, sh.Valid, "hostile shape accepted: %.200s", r.body)
					undo(r)
				case sh.Valid:
					// A valid manifest may still be one the endpoint
					// refuses: several Runs, or one that fails validation.
					require.Contains(t, []int{400, 422}, r.code, "%.300s", r.body)
				default:
					require.Equal(t, http.StatusBadRequest, r.code, "%.300s", r.body)
					assert.Equal(t, before, srv.Store.ResourceVersion(), "a refused body stored something")
				}
				if r.code >= 400 {
					st := r.status(t)
					assert.LessOrEqual(t, len(st.Message), 1100, "messages are clipped")
				}
			})
		}
	}
	for _, sh := range sprintShapes {
		t.Run(sh.Name, func(t *testing.T) {
			r, c := send(t, "POST", srv.URL+"/v1/runs", sh.Body, "application/json", nil)
			checkCost(t, c)
			if sh.Valid {
				require.Equal(t, http.StatusCreated, r.code, "%.300s", r.body)
				return
			}
			require.Equal(t, http.StatusBadRequest, r.code, "%.300s", r.body)
		})
	}
}

// sprintManyKeys is a Sprint definition with n unknown fields.
func sprintManyKeys(n int) []byte {
	var b bytes.Buffer
	b.WriteString(`{"cmd":"x"`)
	for i := range n {
		b.WriteString(`,"` + strconv.FormatInt(int64(i), 36) + `":1`)
	}
	b.WriteString("}")
	return b.Bytes()
}

func checkCost(t *testing.T, c hostile.Cost) {
	t.Helper()
	assert.LessOrEqual(t, c.PeakHeap, uint64(requestHeapBudget), "heap held: %d MiB", c.PeakHeap>>20)
	assert.LessOrEqual(t, c.CPU, requestCPUBudget, "CPU used (wall %v)", c.Wall)
}

// TestHostileBodies_ThroughAFollower sends hostile bodies to a follower,
// which forwards them to the leader: the follower holds at most the
// request's body (never more than MaxBodyBytes) and the leader refuses
// them within the budget.
func TestHostileBodies_ThroughAFollower(t *testing.T) {
	leader := start(t, server.Config{NodeID: "n1"})
	f := follower(t, server.Config{}, leader.URL)
	forwarded := map[string]bool{"json-deep-arrays": true, "json-deep-labels-max": true, "json-many-objects": true, "yaml-alias-fanout": true, "yaml-many-objects": true}
	for _, sh := range hostile.Shapes(hostile.MaxJSON, hostile.MaxYAML) {
		if !forwarded[sh.Name] {
			continue
		}
		t.Run(sh.Name, func(t *testing.T) {
			ct := "application/json"
			if sh.YAML {
				ct = "application/yaml"
			}
			r, c := send(t, "POST", f.URL+"/api/v1/runs", sh.Body, ct, nil)
			checkCost(t, c)
			require.Equal(t, http.StatusBadRequest, r.code, "%.300s", r.body)
		})
	}
}

// TestForward_BodyOverTheLimitIsNotForwarded: a follower answers a body
// over MaxBodyBytes itself, having read no more than the limit, and the
// leader never sees it.
func TestForward_BodyOverTheLimitIsNotForwarded(t *testing.T) {
	var mu sync.Mutex
	contacted := 0
	leader := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		contacted++
		mu.Unlock()
		w.WriteHeader(http.StatusCreated)
	}))
	defer leader.Close()
	f := follower(t, server.Config{}, leader.URL)
	for name, chunked := range map[string]bool{"with a Content-Length": false, "chunked": true} {
		t.Run(name, func(t *testing.T) {
			var body io.Reader = bytes.NewReader(hostile.LongJSONString(2 << 20))
			if chunked {
				body = io.MultiReader(body) // hides the length: sent chunked
			}
			req, err := http.NewRequestWithContext(t.Context(), "POST", f.URL+"/api/v1/runs", body)
			require.NoError(t, err)
			req.Header.Set("Content-Type", "application/json")
			resp, err := http.DefaultClient.Do(req)
			require.NoError(t, err)
			defer resp.Body.Close()
			assert.Equal(t, http.StatusRequestEntityTooLarge, resp.StatusCode)
		})
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Zero(t, contacted, "the leader was sent a body over the limit")
}

// TestDecode_RefusesWhatCannotBeStoredFaithfully: a Run without apiVersion
// or kind, of another kind, with invalid UTF-8 or a lone surrogate escape
// is refused with a 400 naming the field or the byte, and nothing is
// stored.
func TestDecode_RefusesWhatCannotBeStoredFaithfully(t *testing.T) {
	srv := start(t, server.Config{})
	run := func(mutate func(map[string]any)) string {
		m := map[string]any{"apiVersion": "sprint/v1", "kind": "Run", "metadata": map[string]any{"name": "x"}, "spec": map[string]any{"command": "true", "cpus": 1, "mem": 1}}
		mutate(m)
		b, err := json.Marshal(m)
		require.NoError(t, err)
		return string(b)
	}
	tests := map[string]struct {
		method, path, body, contentType string
		code                            int
		field, message                  string
	}{
		"no kind":                {body: run(func(m map[string]any) { delete(m, "kind") }), field: "kind", message: `kind: Object 'Kind' is missing in '{"apiVersion":"sprint/v1","metadata":{"name":"x"},"spec":{"command":"true","cpus":1,"mem":1}}'`},
		"no apiVersion":          {body: run(func(m map[string]any) { delete(m, "apiVersion") }), field: "apiVersion", message: `apiVersion: Object 'apiVersion' is missing in '{"kind":"Run","metadata":{"name":"x"},"spec":{"command":"true","cpus":1,"mem":1}}'`},
		"other kind":             {body: run(func(m map[string]any) { m["kind"] = "Pod" }), field: "kind", message: `kind: unsupported value "Pod": must be Run or RunList`},
		"other version":          {body: run(func(m map[string]any) { m["apiVersion"] = "v1" }), field: "apiVersion", message: `apiVersion: unsupported value "v1": must be sprint/v1`},
		"yaml without kind":      {body: "apiVersion: sprint/v1\nmetadata: {name: x}\nspec: {command: 'true', cpus: 1, mem: 1}\n", contentType: "application/yaml", field: "kind", message: "kind: Object 'Kind' is missing in 'apiVersion: sprint/v1 metadata: {name: x} spec: {command: 'true', cpus: 1, mem: 1}'"},
		"a RunList":              {body: `{"apiVersion":"sprint/v1","kind":"RunList","items":[` + run(func(map[string]any) {}) + `]}`, message: "kind RunList: this endpoint takes one Run; apply the items of a list one by one"},
		"put without kind":       {method: "PUT", path: "/api/v1/runs/x", body: run(func(m map[string]any) { delete(m, "kind") }), field: "kind"},
		"invalid utf-8":          {body: strings.Replace(run(func(map[string]any) {}), "true", "tr\xffe", 1), message: "line 1: invalid UTF-8 at byte 84"},
		"invalid utf-8 in a key": {body: "apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: x\n  labels: {\xe9t\xe9: x}\n", contentType: "application/yaml", message: "line 5: invalid UTF-8 at byte 63"},
		"lone surrogate":         {body: strings.Replace(run(func(map[string]any) {}), "true", `tr\udc00e`, 1), message: `line 1: invalid JSON: \udc00 at byte 84 is half of a UTF-16 surrogate pair, which stands for no character`},
		"sprint invalid utf-8":   {path: "/v1/runs", body: "{\"cmd\":\"echo \xc3\"}", message: "line 1: invalid UTF-8 at byte 13"},
		"yaml over its limit": {body: "apiVersion: sprint/v1\nkind: Run\nmetadata: {name: x}\nspec:\n  command: " + strings.Repeat("x", 600<<10) + "\n", contentType: "application/yaml", code: 413,
			message: "YAML request body is larger than 524288 bytes: send it as JSON (up to 1048576 bytes), which costs the server far less to decode"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			method, path, ct, code := tc.method, tc.path, tc.contentType, tc.code
			if method == "" {
				method = "POST"
			}
			if path == "" {
				path = "/api/v1/runs"
			}
			if ct == "" {
				ct = "application/json"
			}
			if code == 0 {
				code = http.StatusBadRequest
			}
			before := srv.Store.ResourceVersion()
			r := call(t, method, srv.URL+path, tc.body, "Content-Type", ct)
			require.Equal(t, code, r.code, "%s", r.body)
			st := r.status(t)
			if tc.message != "" {
				assert.Equal(t, tc.message, st.Message)
			}
			if tc.field != "" {
				require.NotNil(t, st.Details)
				var fields []string
				for _, c := range st.Details.Causes {
					fields = append(fields, c.Field)
				}
				assert.Contains(t, fields, tc.field)
			}
			assert.Equal(t, before, srv.Store.ResourceVersion(), "nothing is stored")
		})
	}
}
