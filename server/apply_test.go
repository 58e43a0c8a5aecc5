package server_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
	"github.com/sprint-project/sprint/client"
	"github.com/sprint-project/sprint/server"
)

// runList is a RunList of the given Run JSON documents.
func runList(items ...string) string {
	return `{"apiVersion":"sprint/v1","kind":"RunList","items":[` + strings.Join(items, ",") + `]}`
}

func applyList(t *testing.T, url, body string, header ...string) apis.RunApplyList {
	t.Helper()
	r := call(t, "POST", url, body, header...)
	require.Equal(t, http.StatusOK, r.code, "body: %s", r.body)
	var out apis.RunApplyList
	require.NoError(t, json.Unmarshal(r.body, &out))
	assert.Equal(t, apis.KindRunApplyList, out.Kind)
	return out
}

func TestApplyList_EachRunOnItsOwn(t *testing.T) {
	srv := start(t, server.Config{})
	mustCreate(t, srv, "same")
	mustCreate(t, srv, "relabel")
	url := srv.URL + "/api/v1/runs:apply"

	out := applyList(t, url, runList(
		runJSON("fresh"),
		runJSON("same"),
		runJSON("relabel", func(r *apis.Run) { r.Metadata.Labels["team"] = "ops" }),
		runJSON("invalid", func(r *apis.Run) { r.Spec.Cpus = 0 }),
		runJSON("relabel", func(r *apis.Run) { r.Spec.Command = "echo immutable" }),
		runJSON("forbidden", withVolume("/etc", "RO")),
		runJSON("", func(r *apis.Run) { r.Metadata.GenerateName = "gen-" }),
		runJSON(""),
	))
	require.Len(t, out.Items, 8)
	want := []struct{ name, result, reason, cause string }{
		{"fresh", "created", "", ""},
		{"same", "unchanged", "", ""},
		{"relabel", "configured", "", ""},
		{"invalid", "", "Invalid", "spec.cpus"},
		{"relabel", "", "Invalid", "spec"},
		{"forbidden", "", "Forbidden", "spec.container.volumes[0].hostPath"},
		{"", "created", "", ""},
		{"", "", "Invalid", "metadata.name"},
	}
	for i, w := range want {
		it := out.Items[i]
		if w.name != "" {
			assert.Equal(t, w.name, it.Name, "item %d", i)
		}
		assert.Equal(t, w.result, it.Result, "item %d: %+v", i, it.Error)
		if w.reason == "" {
			require.Nil(t, it.Error, "item %d", i)
			var run apis.Run
			require.NoError(t, json.Unmarshal(it.Object, &run), "item %d", i)
			assert.Equal(t, it.Name, run.Metadata.Name)
			assert.Equal(t, apis.KindRun, run.Kind)
			continue
		}
		require.NotNil(t, it.Error, "item %d", i)
		assert.Empty(t, it.Object, "item %d", i)
		assert.Equal(t, w.reason, it.Error.Reason, "item %d", i)
		require.NotNil(t, it.Error.Details, "item %d", i)
		require.NotEmpty(t, it.Error.Details.Causes, "item %d", i)
		assert.Contains(t, it.Error.Details.Causes[0].Field, w.cause, "item %d", i)
	}
	assert.Regexp(t, `^gen-[a-z0-9]{5}$`, out.Items[6].Name)
	got, err := srv.Store.GetRun(t.Context(), "relabel")
	require.NoError(t, err)
	assert.Equal(t, "ops", got.Metadata.Labels["team"], "the refused second item did not undo the first")
	_, err = srv.Store.GetRun(t.Context(), "invalid")
	assert.ErrorIs(t, err, apis.ErrNotFound)
}

func TestApplyList_DryRunAndFormats(t *testing.T) {
	srv := start(t, server.Config{})
	url := srv.URL + "/api/v1/runs:apply"
	out := applyList(t, url+"?dryRun=true", runList(runJSON("a"), runJSON("b")))
	require.Len(t, out.Items, 2)
	assert.Equal(t, "created", out.Items[0].Result)
	_, err := srv.Store.GetRun(t.Context(), "a")
	assert.ErrorIs(t, err, apis.ErrNotFound, "a dry run stores nothing")

	yaml := "apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: y1\nspec:\n  command: echo\n  cpus: 0.1\n  mem: 8\n---\n" +
		"apiVersion: sprint/v1\nkind: Run\nmetadata:\n  name: y2\nspec:\n  command: echo\n  cpus: 0.1\n  mem: 8\n"
	out = applyList(t, url, yaml, "Content-Type", "application/yaml")
	require.Len(t, out.Items, 2)
	assert.Equal(t, "y2", out.Items[1].Name)
	assert.Equal(t, "created", out.Items[1].Result)
}

func TestApplyList_RefusesTheRequest(t *testing.T) {
	srv := start(t, server.Config{})
	url := srv.URL + "/api/v1/runs:apply"
	many := make([]string, apis.MaxApplyItems+1)
	for i := range many {
		many[i] = fmt.Sprintf(`{"metadata":{"name":"r%d"},"spec":{"command":"x","cpus":0.1,"mem":1}}`, i)
	}
	tests := map[string]struct {
		body   string
		header []string
		code   int
		reason string
	}{
		"empty":            {body: " ", code: 400, reason: "BadRequest"},
		"empty list":       {body: runList(), code: 400, reason: "BadRequest"},
		"undecodable item": {body: runList(`{"metadata":{"name":"u"},"spec":{"cpu":1}}`), code: 400, reason: "BadRequest"},
		"too many":         {body: runList(many...), code: 413, reason: "RequestEntityTooLarge"},
		"too large":        {body: bigBody(1 << 20), code: 413, reason: "RequestEntityTooLarge"},
		"wrong type":       {body: runList(runJSON("t")), header: []string{"Content-Type", "text/plain"}, code: 415, reason: "UnsupportedMediaType"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := call(t, "POST", url, tc.body, tc.header...)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			assert.Equal(t, tc.reason, r.status(t).Reason)
		})
	}
	list, err := srv.Store.ListRuns(t.Context(), server.ListOptions{})
	require.NoError(t, err)
	assert.Empty(t, list.Items, "a refused request stores nothing")
}

// Over a real raftstore, through a follower: a list is one Raft entry, and
// the client's ApplyList reports each Run.
func TestRaftstore_ApplyListIsOneEntry(t *testing.T) {
	store, url := startRaftNode(t)
	f := follower(t, server.Config{}, url)
	c, err := client.New(f.URL, "")
	require.NoError(t, err)
	var runs []apis.Run
	for i := range 200 {
		r := apis.Run{
			Metadata: apis.ObjectMeta{Name: fmt.Sprintf("bulk-%03d", i)},
			Spec:     apis.RunSpec{Command: "true", Cpus: 0.1, Mem: 8},
		}
		runs = append(runs, r)
	}
	runs = append(runs, apis.Run{Metadata: apis.ObjectMeta{Name: "bad"}, Spec: apis.RunSpec{Command: "true", Mem: 8}})
	res, err := c.ApplyList(t.Context(), runs, client.ApplyOptions{})
	require.NoError(t, err)
	require.Len(t, res, 201)
	rv := res[0].Run.Metadata.ResourceVersion
	for _, r := range res[:200] {
		require.NoError(t, r.Err)
		assert.Equal(t, client.Created, r.Result)
		assert.NotEmpty(t, r.Run.Metadata.UID)
		assert.Equal(t, rv, r.Run.Metadata.ResourceVersion, "200 Runs in one entry")
	}
	assert.True(t, client.IsInvalid(res[200].Err), "%v", res[200].Err)
	stored, err := store.GetRun(t.Context(), "bulk-199")
	require.NoError(t, err)
	assert.Equal(t, rv, stored.Metadata.ResourceVersion)

	res, err = c.ApplyList(t.Context(), runs[:200], client.ApplyOptions{})
	require.NoError(t, err)
	for _, r := range res {
		require.NoError(t, r.Err)
		assert.Equal(t, client.Unchanged, r.Result)
	}
}

// TestApply_CancelReasonIsTheServers: sprint/cancel-reason is set by the
// store on the Runs a Replace firing cancels; a user may not set it, nor
// change or drop it, but may apply a marked Run again as it was read.
func TestApply_CancelReasonIsTheServers(t *testing.T) {
	t.Parallel()
	srv := start(t, server.Config{})
	mark := func(v string) func(*apis.Run) {
		return func(r *apis.Run) {
			r.Metadata.Annotations = map[string]string{apis.AnnotationCancelReason: v, "note": "x"}
		}
	}
	marked := &apis.Run{Metadata: apis.ObjectMeta{Name: "marked", Labels: map[string]string{"team": "data"}}, Spec: apis.RunSpec{Command: "echo hello", Cpus: 0.5, Mem: 64}}
	mark(apis.ReasonReplaced)(marked)
	apis.SetDefaults(marked)
	_, err := srv.Store.CreateRun(t.Context(), marked) // as the store's Replace firing leaves it
	require.NoError(t, err)
	mustCreate(t, srv, "plain")

	field := "metadata.annotations[" + apis.AnnotationCancelReason + "]"
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
	}{
		{"create with it", "POST", "/api/v1/runs", runJSON("new", mark(apis.ReasonReplaced)), http.StatusUnprocessableEntity},
		{"apply a new Run with it", "PUT", "/api/v1/runs/new2", runJSON("new2", mark(apis.ReasonReplaced)), http.StatusUnprocessableEntity},
		{"add it to a stored Run", "PUT", "/api/v1/runs/plain", runJSON("plain", mark(apis.ReasonReplaced)), http.StatusUnprocessableEntity},
		{"change it", "PUT", "/api/v1/runs/marked", runJSON("marked", mark("Cancelled")), http.StatusUnprocessableEntity},
		{"apply again as read", "PUT", "/api/v1/runs/marked", runJSON("marked", mark(apis.ReasonReplaced), func(r *apis.Run) { r.Metadata.Labels["tier"] = "1" }), http.StatusOK},
		{"leave it out", "PUT", "/api/v1/runs/marked", runJSON("marked", func(r *apis.Run) { r.Metadata.Labels["tier"] = "2" }), http.StatusOK},
		{"in a RunList", "POST", "/api/v1/runs:apply", runList(runJSON("plain", mark(apis.ReasonReplaced))), http.StatusOK},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := call(t, tc.method, srv.URL+tc.path, tc.body)
			require.Equal(t, tc.code, r.code, "body: %s", r.body)
			switch {
			case tc.code == http.StatusUnprocessableEntity:
				st := r.status(t)
				require.NotNil(t, st.Details)
				require.NotEmpty(t, st.Details.Causes)
				assert.Equal(t, field, st.Details.Causes[0].Field)
			case tc.path == "/api/v1/runs:apply":
				var out apis.RunApplyList
				require.NoError(t, json.Unmarshal(r.body, &out))
				require.Len(t, out.Items, 1)
				require.NotNil(t, out.Items[0].Error)
				assert.Contains(t, out.Items[0].Error.Message, field)
			}
			for _, name := range []string{"marked", "plain"} {
				got := call(t, "GET", srv.URL+"/api/v1/runs/"+name, "")
				require.Equal(t, http.StatusOK, got.code)
				want := map[string]string{"marked": apis.ReasonReplaced}[name]
				assert.Equal(t, want, got.run(t).Metadata.Annotations[apis.AnnotationCancelReason], "%s keeps its mark, or has none", name)
			}
		})
	}
}
