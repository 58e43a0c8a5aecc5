package server_test

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
	"github.com/sprint-project/sprint/server/servertest"
)

// seedRun is the request of the Sprint README's curl example.
const seedRun = `{
  "labels": {"name": "testing", "tier": "local"},
  "cpus": 0.1,
  "mem": 100,
  "container": {"type": "DOCKER", "docker": {"image": "hello-world:latest"}}
}`

func TestSprint_SeedExample(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	r := call(t, "POST", srv.URL+"/v1/runs", seedRun)
	require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
	var created apis.SprintRun
	require.NoError(t, json.Unmarshal(r.body, &created))
	_, err := uuid.Parse(created.ID)
	require.NoError(t, err, "id %q is a UUID", created.ID)
	assert.Equal(t, "Created", created.State)
	assert.False(t, created.LastModified.IsZero())
	require.NotNil(t, created.Definition)
	assert.Equal(t, "testing", created.Definition.Labels["name"])

	run, err := srv.Store.GetRun(t.Context(), created.ID)
	require.NoError(t, err, "the id is the Run's name")
	assert.InDelta(t, 0.1, run.Spec.Cpus, 1e-9)
	require.NotNil(t, run.Spec.Container)
	assert.Equal(t, "hello-world:latest", run.Spec.Container.Docker.Image)

	hostname := "agent-7"
	require.NoError(t, srv.Store.SetStatus(created.ID, apis.RunStatus{Phase: apis.PhaseRunning, Hostname: hostname, Ports: []int32{31004}}))
	r = call(t, "GET", srv.URL+"/v1/runs/"+created.ID, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var got apis.SprintRun
	require.NoError(t, json.Unmarshal(r.body, &got))
	assert.Equal(t, "Running", got.State)
	require.NotNil(t, got.Network)
	assert.Equal(t, hostname, got.Network.Host)

	// Kill keeps the record and sets spec.cancel.
	r = call(t, "DELETE", srv.URL+"/v1/runs/"+created.ID, "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	run, err = srv.Store.GetRun(t.Context(), created.ID)
	require.NoError(t, err)
	assert.True(t, run.Spec.Cancel)
	r = call(t, "DELETE", srv.URL+"/v1/runs/"+created.ID, "")
	require.Equal(t, http.StatusOK, r.code, "kill is idempotent: %s", r.body)
}

func TestSprint_Errors(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	tests := map[string]struct {
		method, path, body string
		code               int
		reason             string
	}{
		"unknown field":  {method: "POST", path: "/v1/runs", body: `{"cpus":1,"image":"x"}`, code: 400, reason: "BadRequest"},
		"invalid":        {method: "POST", path: "/v1/runs", body: `{"cpus":-1,"cmd":"true"}`, code: 422, reason: "Invalid"},
		"missing":        {method: "GET", path: "/v1/runs/0e1c-nope", code: 404, reason: "NotFound"},
		"kill missing":   {method: "DELETE", path: "/v1/runs/0e1c-nope", code: 404, reason: "NotFound"},
		"bad labels":     {method: "GET", path: "/v1/runs?labels=novalue", code: 400, reason: "BadRequest"},
		"bad includeFin": {method: "GET", path: "/v1/runs?includeFinished=yes", code: 400, reason: "BadRequest"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, tc.method, srv.URL+tc.path, tc.body)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			assert.Equal(t, tc.reason, r.status(t).Reason)
		})
	}
}

func TestSprint_ListFilters(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	ids := map[string]string{}
	for _, tier := range []string{"local", "prod", "done"} {
		r := call(t, "POST", srv.URL+"/v1/runs", `{"cmd":"true","container":{"type":"DOCKER","docker":{"image":"alpine"}},"labels":{"tier":"`+tier+`","team":"x"}}`)
		require.Equal(t, http.StatusCreated, r.code, "body: %s", r.body)
		var sr apis.SprintRun
		require.NoError(t, json.Unmarshal(r.body, &sr))
		ids[tier] = sr.ID
	}
	require.NoError(t, srv.Store.SetStatus(ids["done"], apis.RunStatus{Phase: apis.PhaseSucceeded}))
	list := func(q string) []string {
		r := call(t, "GET", srv.URL+"/v1/runs"+q, "")
		require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
		var out []apis.SprintRun
		require.NoError(t, json.Unmarshal(r.body, &out))
		var tiers []string
		for _, sr := range out {
			tiers = append(tiers, sr.Definition.Labels["tier"])
		}
		return tiers
	}
	assert.ElementsMatch(t, []string{"local", "prod"}, list(""))
	assert.ElementsMatch(t, []string{"local", "prod", "done"}, list("?includeFinished=true"))
	assert.Equal(t, []string{"prod"}, list("?labels=tier:prod,team:x"))
	assert.Empty(t, list("?labels=tier:prod,team:y"))
}

func TestSprint_Status(t *testing.T) {
	t.Parallel()
	store := servertest.NewStore()
	srv := servertest.Start(t, server.Config{NodeID: "n1", Version: "1.2.3"}, store, nil)

	r := call(t, "GET", srv.URL+"/status/ping", "")
	require.Equal(t, http.StatusOK, r.code)
	assert.Equal(t, "pong", string(r.body))

	r = call(t, "GET", srv.URL+"/status/leading", "")
	assert.Equal(t, http.StatusOK, r.code)
	assert.JSONEq(t, `{"leading":true}`, string(r.body))

	r = call(t, "GET", srv.URL+"/status", "")
	require.Equal(t, http.StatusOK, r.code)
	var st map[string]any
	require.NoError(t, json.Unmarshal(r.body, &st))
	assert.Equal(t, true, st["leading"])
	assert.Equal(t, "1.2.3", st["version"])

	store.SetLeader(false, "n2", "")
	r = call(t, "GET", srv.URL+"/status/leading", "")
	assert.Equal(t, http.StatusServiceUnavailable, r.code)
	assert.JSONEq(t, `{"leading":false}`, string(r.body))
}

// Sprint clients see the same decode messages as native ones, and a 422
// names no object: the UUID the Run would have had is never stored.
func TestSprint_ErrorMessages(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	tests := map[string]struct {
		body, message string
		code          int
	}{
		"wrong type":    {body: `{"cmd":"x","cpus":"1"}`, code: 400, message: "cpus: expected number, got string"},
		"unknown field": {body: `{"cmd":"x","bogus":1}`, code: 400, message: "bogus: unknown field"},
		"typo":          {body: `{"cmd":"x","mme":1}`, code: 400, message: "mme: unknown field; did you mean mem?"},
		"nested":        {body: `{"cmd":"x","container":{"type":"DOCKER","docker":{"image":1}}}`, code: 400, message: "container.docker.image: expected string, got number"},
		"not an object": {body: `[1]`, code: 400, message: "expected an object (a ContainerRunDefinition), got array"},
		"broken JSON":   {body: `{"cmd":`, code: 400, message: "line 1: invalid JSON: unexpected EOF"},
		"duplicate":     {body: `{"cmd":"x","cpus":1,"cpus":2}`, code: 400, message: "line 1: cpus: duplicate field"},
		"trailing data": {body: `{"cmd":"x"} {}`, code: 400, message: "invalid JSON: unexpected data after the definition"},
		"invalid": {body: `{"cmd":"true","cpus":-1,"container":{"type":"DOCKER","docker":{"image":"alpine"}}}`, code: 422,
			message: "ContainerRunDefinition is invalid: cpus: must be greater than 0"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", srv.URL+"/v1/runs", tc.body)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			st := r.status(t)
			assert.Equal(t, tc.message, st.Message)
			if tc.code == 422 {
				require.NotNil(t, st.Details)
				assert.Empty(t, st.Details.Name)
				assert.Equal(t, "ContainerRunDefinition", st.Details.Kind)
				assert.Equal(t, []apis.StatusCause{{Field: "cpus", Message: "must be greater than 0"}}, st.Details.Causes)
			}
		})
	}
}
