package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/server"
)

func needs(deps ...apis.RunDependency) func(*apis.Run) {
	return func(r *apis.Run) { r.Spec.DependsOn = deps }
}

func TestDependents_TreeWithPhasesAndRepeatedNodes(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "extract")
	mustCreate(t, srv, "transform", needs(apis.RunDependency{Name: "extract"}))
	mustCreate(t, srv, "audit", needs(apis.RunDependency{Name: "extract", Condition: apis.ConditionCompleted}))
	mustCreate(t, srv, "load", needs(apis.RunDependency{Name: "transform"}, apis.RunDependency{Name: "audit"}))
	require.NoError(t, srv.Store.SetStatus("extract", apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed}))
	require.NoError(t, srv.Store.SetStatus("transform", apis.RunStatus{Phase: apis.PhaseFailed, Reason: apis.ReasonDependencyFailed}))

	r := call(t, "GET", srv.URL+"/api/v1/runs/extract/dependents", "")
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var got apis.RunDependents
	require.NoError(t, json.Unmarshal(r.body, &got))
	want := apis.RunDependents{
		TypeMeta: apis.TypeMeta{APIVersion: apis.APIVersion, Kind: apis.KindRunDependents},
		DependentNode: apis.DependentNode{Name: "extract", Phase: apis.PhaseFailed, Reason: apis.ReasonTaskFailed, Dependents: []apis.DependentNode{
			{Name: "audit", Condition: apis.ConditionCompleted, Dependents: []apis.DependentNode{
				{Name: "load", Condition: apis.ConditionSucceeded},
			}},
			{Name: "transform", Condition: apis.ConditionSucceeded, Phase: apis.PhaseFailed, Reason: apis.ReasonDependencyFailed, Dependents: []apis.DependentNode{
				{Name: "load", Condition: apis.ConditionSucceeded, Repeated: true},
			}},
		}},
	}
	assert.Equal(t, want, got)

	leaf := call(t, "GET", srv.URL+"/api/v1/runs/load/dependents", "")
	require.Equal(t, http.StatusOK, leaf.code)
	assert.JSONEq(t, `{"apiVersion":"sprint/v1","kind":"RunDependents","name":"load"}`, string(leaf.body))

	missing := call(t, "GET", srv.URL+"/api/v1/runs/nope/dependents", "")
	require.Equal(t, http.StatusNotFound, missing.code)
	assert.Equal(t, "NotFound", missing.status(t).Reason)
}

func TestDependents_LargeFanOutIsTruncated(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "root")
	for i := range apis.MaxDependentsNodes + 5 {
		_, err := srv.Store.CreateRun(t.Context(), &apis.Run{
			Metadata: apis.ObjectMeta{Name: fmt.Sprintf("d%04d", i)},
			Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 16, DependsOn: []apis.RunDependency{{Name: "root", Condition: apis.ConditionSucceeded}}},
		})
		require.NoError(t, err)
	}
	r := call(t, "GET", srv.URL+"/api/v1/runs/root/dependents", "")
	require.Equal(t, http.StatusOK, r.code)
	var got apis.RunDependents
	require.NoError(t, json.Unmarshal(r.body, &got))
	assert.True(t, got.Truncated)
	assert.Len(t, got.Dependents, apis.MaxDependentsNodes-1)
}

func TestRuns_CreateClosingACycleIs422(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mustCreate(t, srv, "transform", needs(apis.RunDependency{Name: "extract"}))
	mustCreate(t, srv, "extract", needs(apis.RunDependency{Name: "load"}))
	for _, path := range []string{"/api/v1/runs", "/api/v1/runs/load"} {
		method := "POST"
		if path != "/api/v1/runs" {
			method = "PUT"
		}
		r := call(t, method, srv.URL+path, runJSON("load", needs(apis.RunDependency{Name: "transform"})))
		require.Equal(t, http.StatusUnprocessableEntity, r.code, "%s: %s", method, r.body)
		st := r.status(t)
		assert.Equal(t, "Invalid", st.Reason)
		require.NotNil(t, st.Details)
		require.Len(t, st.Details.Causes, 1)
		assert.Equal(t, "spec.dependsOn", st.Details.Causes[0].Field)
		assert.Contains(t, st.Details.Causes[0].Message, "a cycle: load → transform → extract → load")
	}
	bad := call(t, "POST", srv.URL+"/api/v1/runs", runJSON("x", needs(apis.RunDependency{Name: "a"}, apis.RunDependency{Name: "b", Condition: "Done"})))
	require.Equal(t, http.StatusUnprocessableEntity, bad.code)
	assert.Equal(t, "spec.dependsOn[1].condition", bad.status(t).Details.Causes[0].Field)
}
