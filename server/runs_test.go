package server_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

func TestRuns_RequestsAndErrors(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "existing")
	yamlRun := "apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: from-yaml\nspec:\n  command: echo hi\n  cpus: 0.1\n  mem: 32\n"

	tests := map[string]struct {
		method, path, body string
		header             []string
		code               int
		reason             string // of the Status, when the answer is one
		cause              string // a field named in the Status causes
	}{
		"create":                 {method: "POST", path: "/api/v1/runs", body: runJSON("fresh"), code: 201},
		"create yaml":            {method: "POST", path: "/api/v1/runs", body: yamlRun, header: []string{"Content-Type", "application/yaml"}, code: 201},
		"create exists":          {method: "POST", path: "/api/v1/runs", body: runJSON("existing"), code: 409, reason: "AlreadyExists"},
		"create invalid":         {method: "POST", path: "/api/v1/runs", body: runJSON("bad", func(r *apis.Run) { r.Spec.Cpus = 0 }), code: 422, reason: "Invalid", cause: "spec.cpus"},
		"create undecodable":     {method: "POST", path: "/api/v1/runs", body: `{"metadata":`, code: 400, reason: "BadRequest"},
		"create unknown field":   {method: "POST", path: "/api/v1/runs", body: `{"metadata":{"name":"u"},"spec":{"cpu":1}}`, code: 400, reason: "BadRequest"},
		"create duplicate field": {method: "POST", path: "/api/v1/runs", body: `{"metadata":{"name":"d"},"spec":{"command":"x","cpus":1,"mem":32,"cpus":2}}`, code: 400, reason: "BadRequest"},
		"create empty body":      {method: "POST", path: "/api/v1/runs", body: " ", code: 400, reason: "BadRequest"},
		"create two runs":        {method: "POST", path: "/api/v1/runs", body: yamlRun + "---\n" + yamlRun, header: []string{"Content-Type", "application/yaml"}, code: 400, reason: "BadRequest"},
		"create wrong type":      {method: "POST", path: "/api/v1/runs", body: runJSON("t"), header: []string{"Content-Type", "text/plain"}, code: 415, reason: "UnsupportedMediaType"},
		"create too large":       {method: "POST", path: "/api/v1/runs", body: bigBody(1 << 20), code: 413, reason: "RequestEntityTooLarge"},
		"create dry run":         {method: "POST", path: "/api/v1/runs?dryRun=true", body: runJSON("dry"), code: 201},
		"create bad dryRun":      {method: "POST", path: "/api/v1/runs?dryRun=maybe", body: runJSON("dry2"), code: 400, reason: "BadRequest"},
		"get":                    {method: "GET", path: "/api/v1/runs/existing", code: 200},
		"get missing":            {method: "GET", path: "/api/v1/runs/nope", code: 404, reason: "NotFound"},
		"events":                 {method: "GET", path: "/api/v1/runs/existing/events", code: 200},
		"events missing":         {method: "GET", path: "/api/v1/runs/nope/events", code: 404, reason: "NotFound"},
		"method not allowed":     {method: "PATCH", path: "/api/v1/runs/existing", body: "{}", code: 405, reason: "MethodNotAllowed"},
		"unknown path":           {method: "GET", path: "/api/v2/things", code: 404, reason: "NotFound"},
		"list bad limit":         {method: "GET", path: "/api/v1/runs?limit=-1", code: 400, reason: "BadRequest"},
		"list bad field":         {method: "GET", path: "/api/v1/runs?fieldSelector=spec.cpus%3D1", code: 400, reason: "BadRequest"},
		"delete missing":         {method: "DELETE", path: "/api/v1/runs/nope", code: 404, reason: "NotFound"},
		"delete rv conflict":     {method: "DELETE", path: "/api/v1/runs/existing?resourceVersion=999", code: 409, reason: "Conflict"},
		"apply url name differs": {method: "PUT", path: "/api/v1/runs/other", body: runJSON("existing"), code: 400, reason: "BadRequest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, tc.method, srv.URL+tc.path, tc.body, tc.header...)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			if tc.reason == "" {
				return
			}
			assert.Equal(t, "application/json", r.header.Get("Content-Type"))
			st := r.status(t)
			assert.Equal(t, tc.reason, st.Reason)
			assert.NotEmpty(t, st.Message)
			if tc.cause != "" {
				require.NotNil(t, st.Details)
				var fields []string
				for _, c := range st.Details.Causes {
					fields = append(fields, c.Field)
				}
				assert.Contains(t, fields, tc.cause)
			}
		})
	}
	_, err := srv.Store.GetRun(t.Context(), "dry")
	assert.ErrorIs(t, err, apis.ErrNotFound, "a dry run must not be stored")
}

func TestRuns_CreateSetsServerFields(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	body := runJSON("", func(r *apis.Run) {
		r.Metadata.GenerateName = "etl-"
		r.Metadata.UID = "forged"
		r.Status.Phase = apis.PhaseSucceeded
	})
	r := call(t, "POST", srv.URL+"/api/v1/runs", body)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	run := r.run(t)
	assert.Regexp(t, `^etl-[a-z0-9]{5}$`, run.Metadata.Name)
	assert.NotEqual(t, "forged", run.Metadata.UID)
	assert.Empty(t, run.Status.Phase, "status is the controller's, not the client's")
	assert.Equal(t, apis.KindRun, run.Kind)
	assert.NotEmpty(t, run.Metadata.ResourceVersion)
}

func TestRuns_GetIsLinearizable(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "a")
	before := srv.Store.LinearizableReads()
	r := call(t, "GET", srv.URL+"/api/v1/runs/a", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, before+1, srv.Store.LinearizableReads())
}

func TestApply_CreatedConfiguredUnchanged(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	url := srv.URL + "/api/v1/runs/job"

	r := call(t, "PUT", url, runJSON("job"))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyCreated, r.header.Get(server.HeaderApplyResult))
	rv := r.run(t).Metadata.ResourceVersion

	r = call(t, "PUT", url, runJSON("job"))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyUnchanged, r.header.Get(server.HeaderApplyResult))
	assert.Equal(t, rv, r.run(t).Metadata.ResourceVersion, "unchanged must not write")

	relabel := func(r *apis.Run) { r.Metadata.Labels["team"] = "ops" }
	r = call(t, "PUT", url+"?dryRun=true", runJSON("job", relabel))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyConfigured, r.header.Get(server.HeaderApplyResult))
	stored, err := srv.Store.GetRun(t.Context(), "job")
	require.NoError(t, err)
	assert.Equal(t, "data", stored.Metadata.Labels["team"], "dry run must not write")

	r = call(t, "PUT", url, runJSON("job", relabel))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyConfigured, r.header.Get(server.HeaderApplyResult))
	got := r.run(t)
	assert.Equal(t, "ops", got.Metadata.Labels["team"])
	assert.NotEqual(t, rv, got.Metadata.ResourceVersion)

	// Immutable field: 422 naming it.
	r = call(t, "PUT", url, runJSON("job", relabel, func(r *apis.Run) { r.Spec.Command = "echo other" }))
	require.Equal(t, http.StatusUnprocessableEntity, r.code, "body: %s", r.body)
	st := r.status(t)
	require.NotNil(t, st.Details)
	require.NotEmpty(t, st.Details.Causes)
	assert.Contains(t, st.Details.Causes[0].Field, "spec")

	// Stale resourceVersion precondition: 409.
	r = call(t, "PUT", url, runJSON("job", func(r *apis.Run) { r.Metadata.ResourceVersion = rv; r.Spec.Cancel = true }))
	require.Equal(t, http.StatusConflict, r.code, "body: %s", r.body)
	assert.Equal(t, "Conflict", r.status(t).Reason)

	// Matching precondition on a mutable change: 200.
	r = call(t, "PUT", url, runJSON("job", relabel, func(r *apis.Run) { r.Metadata.ResourceVersion = got.Metadata.ResourceVersion; r.Spec.Cancel = true }))
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.True(t, r.run(t).Spec.Cancel)

	// A precondition on a Run that does not exist cannot hold.
	r = call(t, "PUT", srv.URL+"/api/v1/runs/ghost", runJSON("ghost", func(r *apis.Run) { r.Metadata.ResourceVersion = "3" }))
	require.Equal(t, http.StatusConflict, r.code, "body: %s", r.body)

	// A name may come from the URL alone.
	r = call(t, "PUT", srv.URL+"/api/v1/runs/from-url", runJSON(""))
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	assert.Equal(t, "from-url", r.run(t).Metadata.Name)
}

func TestDelete_ImmediateOrGraceful(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "pending")
	mustCreate(t, srv, "running")
	require.NoError(t, srv.Store.SetStatus("running", apis.RunStatus{Phase: apis.PhaseRunning}))

	r := call(t, "DELETE", srv.URL+"/api/v1/runs/pending", "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	_, err := srv.Store.GetRun(t.Context(), "pending")
	require.ErrorIs(t, err, apis.ErrNotFound)

	r = call(t, "DELETE", srv.URL+"/api/v1/runs/running", "")
	require.Equal(t, http.StatusAccepted, r.code, "body: %s", r.body)
	assert.NotNil(t, r.run(t).Metadata.DeletionTimestamp)
	require.NoError(t, srv.Store.SetStatus("running", apis.RunStatus{Phase: apis.PhaseKilled}))
	_, err = srv.Store.GetRun(t.Context(), "running")
	require.ErrorIs(t, err, apis.ErrNotFound)
}

func TestList_SelectorsAndPages(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	for _, n := range []string{"a1", "a2", "a3", "b1"} {
		team := "data"
		if n == "b1" {
			team = "ops"
		}
		mustCreate(t, srv, n, func(r *apis.Run) { r.Metadata.Labels["team"] = team })
	}
	require.NoError(t, srv.Store.SetStatus("a2", apis.RunStatus{Phase: apis.PhaseRunning}))

	list := func(query string) apis.RunList {
		r := call(t, "GET", srv.URL+"/api/v1/runs"+query, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		var l apis.RunList
		require.NoError(t, json.Unmarshal(r.body, &l))
		assert.Equal(t, apis.KindRunList, l.Kind)
		assert.NotEmpty(t, l.Metadata.ResourceVersion)
		return l
	}
	names := func(l apis.RunList) []string {
		var out []string
		for _, r := range l.Items {
			out = append(out, r.Metadata.Name)
		}
		return out
	}
	assert.Equal(t, []string{"a1", "a2", "a3", "b1"}, names(list("")))
	assert.Equal(t, []string{"b1"}, names(list("?labelSelector=team%3Dops")))
	assert.Equal(t, []string{"a2"}, names(list("?fieldSelector=status.phase%3DRunning")))

	page := list("?limit=2")
	assert.Equal(t, []string{"a1", "a2"}, names(page))
	require.NotEmpty(t, page.Metadata.Continue)
	page = list("?limit=2&continue=" + page.Metadata.Continue)
	assert.Equal(t, []string{"a3", "b1"}, names(page))
	assert.Empty(t, page.Metadata.Continue)
}

func TestList_BadQueryParameters(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	for _, n := range []string{"a1", "a2", "a3"} {
		mustCreate(t, srv, n)
	}
	r := call(t, "GET", srv.URL+"/api/v1/runs?limit=1&labelSelector=team%3Ddata", "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var page apis.RunList
	require.NoError(t, json.Unmarshal(r.body, &page))
	tok := page.Metadata.Continue
	require.NotEmpty(t, tok)
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	require.NoError(t, err)
	edited := base64.RawURLEncoding.EncodeToString(bytes.Replace(raw, []byte(`"v":1`), []byte(`"v":2`), 1))

	tests := map[string]struct {
		query, message string
	}{
		"continue garbage":      {"?continue=garbage", "invalid continue token: it is not one this server issued; list again without continue"},
		"continue edited":       {"?labelSelector=team%3Ddata&continue=" + edited, "invalid continue token: it is not one this server issued; list again without continue"},
		"continue, no selector": {"?continue=" + tok, "invalid continue token: it was issued for a list with other labelSelector or fieldSelector values; list again without continue"},
		"continue, other selector": {"?labelSelector=team%3Dops&continue=" + tok,
			"invalid continue token: it was issued for a list with other labelSelector or fieldSelector values; list again without continue"},
		"continue with watch":            {"?watch=true&continue=" + tok, "query parameter continue: not supported with watch=true"},
		"resourceVersion abc":            {"?resourceVersion=abc", `query parameter resourceVersion="abc": want a non-negative decimal number`},
		"resourceVersion -5":             {"?resourceVersion=-5", `query parameter resourceVersion="-5": want a non-negative decimal number`},
		"watch resourceVersion -5":       {"?watch=true&resourceVersion=-5", `query parameter resourceVersion="-5": want a non-negative decimal number`},
		"limit -1":                       {"?limit=-1", `query parameter limit="-1": want a non-negative integer`},
		"limit abc":                      {"?limit=abc", `query parameter limit="abc": want a non-negative integer`},
		"watch with limit abc":           {"?watch=true&limit=abc", `query parameter limit="abc": want a non-negative integer`},
		"watch maybe":                    {"?watch=maybe", `query parameter watch="maybe": want true or false`},
		"SSE Last-Event-ID not a number": {"?watch=true", `header Last-Event-ID="x": want a non-negative decimal number`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var hdr []string
			if strings.HasPrefix(name, "SSE") {
				hdr = []string{"Accept", "text/event-stream", "Last-Event-ID", "x"}
			}
			r := call(t, "GET", srv.URL+"/api/v1/runs"+tc.query, "", hdr...)
			require.Equal(t, http.StatusBadRequest, r.code, "body: %s", r.body)
			st := r.status(t)
			assert.Equal(t, "BadRequest", st.Reason)
			assert.Equal(t, tc.message, st.Message)
		})
	}

	r = call(t, "GET", srv.URL+"/api/v1/runs?limit=1&labelSelector=team%3Ddata&resourceVersion=0&continue="+tok, "")
	require.Equal(t, http.StatusOK, r.code, "the token works with the selector it was issued for: %s", r.body)
	require.NoError(t, json.Unmarshal(r.body, &page))
	require.Len(t, page.Items, 1)
	assert.Equal(t, "a2", page.Items[0].Metadata.Name)
}

// A manifest that spells an absent list as an empty one is the same
// manifest: the store keeps neither, so applying it again changes nothing,
// at any depth of the spec.
func TestApply_EmptyListsAreUnchanged(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	url := srv.URL + "/api/v1/runs/lists"
	body := `{"apiVersion":"sprint/v1","kind":"Run","metadata":{"name":"lists","labels":{}},
	  "spec":{"command":"true","cpus":0.1,"mem":32,"args":[],"env":{},"uris":[],"constraints":[],
	    "container":{"type":"DOCKER","docker":{"image":"busybox","parameters":[]},"volumes":[],"networks":[],"portMappings":[]}}}`
	r := call(t, "PUT", url, body)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	rv := r.run(t).Metadata.ResourceVersion
	r = call(t, "PUT", url, body)
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	assert.Equal(t, server.ApplyUnchanged, r.header.Get(server.HeaderApplyResult))
	assert.Equal(t, rv, r.run(t).Metadata.ResourceVersion)
}
