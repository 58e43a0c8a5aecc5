package main

import (
	"bytes"
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/sprint-project/sprint/apis"
)

// TestKindViews_ListObjects checks that -o json of a list names each
// kind's list kind, with an empty items array rather than null, and that
// a single object asked for by name is printed on its own.
func TestKindViews_ListObjects(t *testing.T) {
	t.Parallel()
	render := func(t *testing.T, do func(a *app) error) map[string]any {
		t.Helper()
		var out, errOut bytes.Buffer
		require.NoError(t, do(&app{stdout: &out, stderr: &errOut}))
		var m map[string]any
		require.NoError(t, json.Unmarshal(out.Bytes(), &m), "output: %s", out.String())
		return m
	}
	tests := []struct {
		kind string
		list func(a *app, asList bool) error
	}{
		{"Run", func(a *app, asList bool) error {
			return printObjects(a, a.stdout, runView, []apis.Run{{Metadata: apis.ObjectMeta{Name: "x"}}}, "json", asList)
		}},
		{"Schedule", func(a *app, asList bool) error {
			return printObjects(a, a.stdout, scheduleView, []apis.Schedule{{Metadata: apis.ObjectMeta{Name: "x"}}}, "json", asList)
		}},
		{"Notifier", func(a *app, asList bool) error {
			return printObjects(a, a.stdout, notifierView, []apis.Notifier{{Metadata: apis.ObjectMeta{Name: "x"}}}, "json", asList)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.kind, func(t *testing.T) {
			list := render(t, func(a *app) error { return tt.list(a, true) })
			assert.Equal(t, tt.kind+"List", list["kind"])
			assert.Equal(t, apis.APIVersion, list["apiVersion"])
			assert.Len(t, list["items"], 1)
			one := render(t, func(a *app) error { return tt.list(a, false) })
			assert.Equal(t, "x", one["metadata"].(map[string]any)["name"])
		})
	}
	empty := render(t, func(a *app) error { return printObjects(a, a.stdout, notifierView, nil, "json", true) })
	assert.Equal(t, []any{}, empty["items"])
}
